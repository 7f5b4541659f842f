package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleOffsetForLeaderEpoch(r *kmsg.OffsetForLeaderEpochRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	st := b.node.Controller().State()
	for _, rt := range r.Topics {
		ot := kmsg.NewOffsetForLeaderEpochResponseTopic()
		ot.Topic = rt.Topic
		t := st.Topics[rt.Topic]
		for _, rp := range rt.Partitions {
			op := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			op.Partition = rp.Partition
			op.LeaderEpoch, op.EndOffset = -1, -1
			switch {
			case t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.Replicas):
				op.ErrorCode = kerr.UnknownTopicOrPartition.Code
			default:
				p := b.node.Partition(rt.Topic, rp.Partition)
				if p == nil || !p.Ready() {
					op.ErrorCode = kerr.NotLeaderForPartition.Code
					break
				}
				cur := p.LeaderEpoch()
				if rp.CurrentLeaderEpoch >= 0 && rp.CurrentLeaderEpoch < cur {
					op.ErrorCode = kerr.FencedLeaderEpoch.Code
					break
				}
				if rp.CurrentLeaderEpoch > cur {
					op.ErrorCode = kerr.UnknownLeaderEpoch.Code
					break
				}
				hw := p.HighWatermark()
				if rp.LeaderEpoch > cur {
					break // undefined, as Kafka answers
				}
				if rp.LeaderEpoch == cur {
					// The current epoch ends at the log end; consumers only
					// see up to the high watermark.
					op.LeaderEpoch, op.EndOffset = cur, hw
					break
				}
				e, end := p.Log().EpochEndOffset(rp.LeaderEpoch)
				if end > hw {
					end = hw
				}
				op.LeaderEpoch, op.EndOffset = e, end
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return resp
}
