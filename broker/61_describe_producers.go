package broker

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDescribeProducers lists, for each partition this broker leads, the
// idempotent producers its log holds batches of: id, epoch, the sequence
// of the last record and the max timestamp of the last batch, as Kafka's
// kafka-transactions describe-producers shows them. No producer is
// transactional here, so the coordinator epoch and the open transaction's
// start offset are -1, as Kafka gives for plain idempotent producers.
// Partitions of unknown topics are UNKNOWN_TOPIC_OR_PARTITION, those led
// elsewhere NOT_LEADER_OR_FOLLOWER, those of a name no topic can have
// INVALID_TOPIC_EXCEPTION.
func (b *Broker) handleDescribeProducers(r *kmsg.DescribeProducersRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeProducersResponse)
	st := b.node.Controller().State()
	for _, rt := range r.Topics {
		ot := kmsg.NewDescribeProducersResponseTopic()
		ot.Topic = rt.Topic
		invalid := invalidTopicReason(rt.Topic)
		for _, part := range rt.Partitions {
			op := kmsg.NewDescribeProducersResponseTopicPartition()
			op.Partition = part
			if invalid != "" {
				// As Kafka, which checks the name before the metadata.
				op.ErrorCode = kerr.InvalidTopicException.Code
				op.ErrorMessage = kmsg.StringPtr("Topic name is invalid: " + invalid)
				op.ActiveProducers = []kmsg.DescribeProducersResponseTopicPartitionActiveProducer{}
				ot.Partitions = append(ot.Partitions, op)
				continue
			}
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

// invalidTopicReason says, in Kafka's words, why name cannot be a topic's,
// or "" if it can.
func invalidTopicReason(name string) string {
	switch {
	case validTopicName(name):
		return ""
	case name == "":
		return "the empty string is not allowed"
	case name == "." || name == "..":
		return fmt.Sprintf("'%s' is not allowed", name)
	case len(name) > 249:
		return fmt.Sprintf("the length of '%s' is longer than the max allowed length 249", name)
	default:
		return fmt.Sprintf("'%s' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'", name)
	}
}
