package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleHeartbeat(r *kmsg.HeartbeatRequest) kmsg.Response {
	shard, kerrCode := b.coord.shardFor(r.Group)
	if kerrCode != nil {
		resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
		// As Kafka, a heartbeat to a coordinator still loading the group
		// is answered blindly with no error: the member keeps its session
		// (its timer starts when the group is loaded), where some clients
		// (sarama) end their session on any unexpected heartbeat error.
		if kerrCode != kerr.CoordinatorLoadInProgress {
			resp.ErrorCode = kerrCode.Code
		}
		return resp
	}
	return shard.Heartbeat(r)
}
