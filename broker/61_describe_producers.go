package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDescribeProducers lists, for each partition this broker leads, the
// idempotent producers its log holds batches of: id, epoch, the sequence
// of the last record and the max timestamp of the last batch, as Kafka's
// kafka-transactions describe-producers shows them. No producer is
// transactional here, so the coordinator epoch and the open transaction's
// start offset are -1, as Kafka gives for plain idempotent producers.
// Partitions of unknown topics are UNKNOWN_TOPIC_OR_PARTITION, those led
// elsewhere NOT_LEADER_OR_FOLLOWER.
func (b *Broker) handleDescribeProducers(r *kmsg.DescribeProducersRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeProducersResponse)
	st := b.node.Controller().State()
	for _, rt := range r.Topics {
		ot := kmsg.NewDescribeProducersResponseTopic()
		ot.Topic = rt.Topic
		for _, part := range rt.Partitions {
			op := kmsg.NewDescribeProducersResponseTopicPartition()
			op.Partition = part
			p, code := b.leaderReplica(st, rt.Topic, part, -1)
			op.ErrorCode = code
			op.ActiveProducers = []kmsg.DescribeProducersResponseTopicPartitionActiveProducer{}
			if p != nil {
				for _, pi := range p.Producers() {
					ap := kmsg.NewDescribeProducersResponseTopicPartitionActiveProducer()
					ap.ProducerID, ap.ProducerEpoch = pi.ID, int32(pi.Epoch)
					ap.LastSequence, ap.LastTimestamp = pi.LastSequence, pi.LastTimestamp
					ap.CoordinatorEpoch, ap.CurrentTxnStartOffset = -1, -1
					op.ActiveProducers = append(op.ActiveProducers, ap)
				}
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return resp
}
