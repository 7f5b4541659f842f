package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleSyncGroup(ctx context.Context, r *kmsg.SyncGroupRequest) kmsg.Response {
	shard, kerrCode := b.coord.shardFor(r.Group)
	if kerrCode != nil {
		resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
		resp.ErrorCode = kerrCode.Code
		return resp
	}
	return shard.SyncGroup(ctx, r)
}
