package broker

import (
	"math"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleDescribeGroups(r *kmsg.DescribeGroupsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeGroupsResponse)
	for _, g := range r.Groups {
		shard, kerrCode := b.coord.shardFor(g)
		if kerrCode != nil {
			dg := kmsg.NewDescribeGroupsResponseGroup()
			dg.Group = g
			dg.ErrorCode = kerrCode.Code
			dg.AuthorizedOperations = math.MinInt32
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		dg := shard.DescribeGroup(g)
		dg.AuthorizedOperations = authorizedOps(r.IncludeAuthorizedOperations && dg.ErrorCode == 0, groupOps)
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}
