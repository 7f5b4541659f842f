package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleDeleteRecords(ctx context.Context, r *kmsg.DeleteRecordsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DeleteRecordsResponse)
	st := b.node.Controller().State()
	// As Kafka's map of the request: a partition named twice is deleted
	// from and answered once, to the last offset given, in the place of
	// its first naming; a topic named twice is answered once.
	type tp struct {
		topic string
		part  int32
	}
	var order []tp
	offsets := map[tp]int64{}
	for _, rt := range r.Topics {
		for _, rp := range rt.Partitions {
			k := tp{rt.Topic, rp.Partition}
			if _, ok := offsets[k]; !ok {
				order = append(order, k)
			}
			offsets[k] = rp.Offset
		}
	}
	topicAt := map[string]int{}
	for _, k := range order {
		op := kmsg.NewDeleteRecordsResponseTopicPartition()
		op.Partition = k.part
		op.LowWatermark = -1
		t := st.Topics[k.topic]
		if t == nil || k.part < 0 || int(k.part) >= len(t.Replicas) {
			op.ErrorCode = kerr.UnknownTopicOrPartition.Code
		} else if t.Internal {
			// As Kafka: the group coordinator's log is not the user's
			// to truncate (its offsets would go at the next load).
			op.ErrorCode = kerr.InvalidTopicException.Code
		} else if !listHas(b.topicValueIn(st, t, "cleanup.policy"), "delete") {
			// As Kafka: only a topic whose policy deletes may lose its
			// head; compaction alone keeps every key's latest record.
			op.ErrorCode = kerr.PolicyViolation.Code
		} else if p := b.node.Partition(k.topic, k.part); p == nil {
			op.ErrorCode = kerr.NotLeaderForPartition.Code
		} else if lw, err := p.DeleteRecords(ctx, offsets[k]); err != nil {
			op.ErrorCode, _ = errCodeMsg(err)
		} else {
			op.LowWatermark = lw
		}
		i, ok := topicAt[k.topic]
		if !ok {
			ot := kmsg.NewDeleteRecordsResponseTopic()
			ot.Topic = k.topic
			i = len(resp.Topics)
			topicAt[k.topic] = i
			resp.Topics = append(resp.Topics, ot)
		}
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, op)
	}
	return resp
}
