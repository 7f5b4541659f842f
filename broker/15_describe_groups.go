package broker

import (
	"fmt"
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
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
		if r.Version >= 6 && dg.ErrorCode == 0 && dg.State == "Dead" {
			// As Kafka from v6 (KIP-1043): a group that does not exist is
			// an error, not a dead group that looks like an empty one,
			// with Kafka's message (its DescribeGroupsRequestTest).
			dg.ErrorCode = kerr.GroupIDNotFound.Code
			dg.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("Group %s not found.", g))
		}
		dg.AuthorizedOperations = authorizedOps(r.IncludeAuthorizedOperations && dg.ErrorCode == 0, groupOps)
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}
