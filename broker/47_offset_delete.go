package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleOffsetDelete(ctx context.Context, r *kmsg.OffsetDeleteRequest) kmsg.Response {
	shard, kerrCode := b.coord.shardFor(r.Group)
	if kerrCode != nil {
		resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
		resp.ErrorCode = kerrCode.Code
		return resp
	}
	return shard.OffsetDelete(ctx, r)
}
