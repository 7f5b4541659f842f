package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleLeaveGroup(ctx context.Context, r *kmsg.LeaveGroupRequest) kmsg.Response {
	shard, kerrCode := b.coord.shardFor(r.Group)
	if kerrCode != nil {
		resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
		resp.ErrorCode = kerrCode.Code
		return resp
	}
	return shard.LeaveGroup(ctx, r)
}
