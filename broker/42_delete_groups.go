package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleDeleteGroups(ctx context.Context, r *kmsg.DeleteGroupsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DeleteGroupsResponse)
	for _, g := range r.Groups {
		dg := kmsg.NewDeleteGroupsResponseGroup()
		dg.Group = g
		if shard, kerrCode := b.coord.shardFor(g); kerrCode != nil {
			dg.ErrorCode = kerrCode.Code
		} else {
			dg.ErrorCode = shard.DeleteGroup(ctx, g)
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}
