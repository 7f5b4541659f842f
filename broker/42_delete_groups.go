package broker

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
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
		switch dg.ErrorCode { // v3 carries a message (KIP-1043)
		case kerr.GroupIDNotFound.Code:
			dg.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("group %s does not exist", g))
		case kerr.NonEmptyGroup.Code:
			dg.ErrorMessage = kmsg.StringPtr(fmt.Sprintf("group %s has members; only an empty group can be deleted", g))
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}
