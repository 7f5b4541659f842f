package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleHeartbeat(r *kmsg.HeartbeatRequest) kmsg.Response {
	shard, kerrCode := b.coord.shardFor(r.Group)
	if kerrCode != nil {
		resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
		resp.ErrorCode = kerrCode.Code
		return resp
	}
	return shard.Heartbeat(r)
}
