package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleDeleteRecords(ctx context.Context, r *kmsg.DeleteRecordsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DeleteRecordsResponse)
	st := b.node.Controller().State()
	for _, rt := range r.Topics {
		ot := kmsg.NewDeleteRecordsResponseTopic()
		ot.Topic = rt.Topic
		t := st.Topics[rt.Topic]
		for _, rp := range rt.Partitions {
			op := kmsg.NewDeleteRecordsResponseTopicPartition()
			op.Partition = rp.Partition
			op.LowWatermark = -1
			if t == nil || rp.Partition < 0 || int(rp.Partition) >= len(t.Replicas) {
				op.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else if t.Internal {
				// As Kafka: the group coordinator's log is not the user's
				// to truncate (its offsets would go at the next load).
				op.ErrorCode = kerr.InvalidTopicException.Code
			} else if !listHas(b.topicValueIn(st, t, "cleanup.policy"), "delete") {
				// As Kafka: only a topic whose policy deletes may lose its
				// head; compaction alone keeps every key's latest record.
				op.ErrorCode = kerr.PolicyViolation.Code
			} else if p := b.node.Partition(rt.Topic, rp.Partition); p == nil {
				op.ErrorCode = kerr.NotLeaderForPartition.Code
			} else if lw, err := p.DeleteRecords(ctx, rp.Offset); err != nil {
				op.ErrorCode, _ = errCodeMsg(err)
			} else {
				op.LowWatermark = lw
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return resp
}
