package broker

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/gokafka/gokafka/replication"
)

// handleAlterPartitionReassignments checks each partition's target replica
// set as Kafka's controller does. A target equal to the current replicas
// completes at once, as in Kafka; none is ever in progress, so a
// cancellation (null replicas) is NO_REASSIGNMENT_IN_PROGRESS. Moving
// replicas to other brokers comes with multi-node clusters: until then a
// valid target that differs from the current set is refused with
// INVALID_REPLICA_ASSIGNMENT and a message saying so. (On one node no such
// target exists: its only broker holds every replica.)
func (b *Broker) handleAlterPartitionReassignments(r *kmsg.AlterPartitionAssignmentsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)
	st := b.node.Controller().State()
	// v0 has no flag: replication factor changes are allowed.
	allowRF := r.Version < 1 || r.AllowReplicationFactorChange
	// v1's response says whether the request allowed replication factor
	// changes (KIP-860), as Kafka's controller echoes it; left at its
	// default it would tell a client that asked for false that it was
	// ignored.
	resp.AllowReplicationFactorChange = allowRF
	for _, rt := range r.Topics {
		t := st.Topics[rt.Topic]
		ot := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		ot.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			op := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			op.Partition = rp.Partition
			if err := checkReassignment(st, rt.Topic, t, rp, allowRF); err != nil {
				op.ErrorCode, op.ErrorMessage = errCodeMsg(err)
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return resp
}

func checkReassignment(st *replication.State, name string, t *replication.Topic, rp kmsg.AlterPartitionAssignmentsRequestTopicPartition, allowRF bool) error {
	// Kafka's controller words these (alterPartitionReassignment), and
	// sends NO_REASSIGNMENT_IN_PROGRESS with no message: it is thrown
	// with the error's own text, which ApiError.fromThrowable drops.
	if t == nil {
		return kafkaErrorf(kerr.UnknownTopicOrPartition, "Unable to find a topic named %s.", name)
	}
	if rp.Partition < 0 || int(rp.Partition) >= len(t.Replicas) {
		return kafkaErrorf(kerr.UnknownTopicOrPartition, "Unable to find partition %s:%d.", name, rp.Partition)
	}
	if rp.Replicas == nil {
		return kerr.NoReassignmentInProgress
	}
	if err := checkManualAssignment(st, rp.Replicas); err != nil {
		return err
	}
	cur := t.Replicas[rp.Partition]
	if !allowRF && len(rp.Replicas) != len(cur) {
		return kafkaErrorf(kerr.InvalidReplicationFactor, "The replication factor is changed from %d to %d but AllowReplicationFactorChange is false.", len(cur), len(rp.Replicas))
	}
	if !slices.Equal(rp.Replicas, cur) {
		return kafkaErrorf(kerr.InvalidReplicaAssignment, "Moving partition %d from replicas %v to %v is not supported yet: replicas are placed when partitions are created.", rp.Partition, cur, rp.Replicas)
	}
	return nil
}

// checkManualAssignment makes Kafka's checks of a replica list given by a
// client, in its order and words (validateManualPartitionAssignment): not
// empty, then by broker id, each registered and none twice.
func checkManualAssignment(st *replication.State, replicas []int32) error {
	if len(replicas) == 0 {
		return kafkaErrorf(kerr.InvalidReplicaAssignment, "The manual partition assignment includes an empty replica list.")
	}
	sorted := slices.Sorted(slices.Values(replicas))
	for i, id := range sorted {
		if _, ok := st.Brokers[id]; !ok {
			return kafkaErrorf(kerr.InvalidReplicaAssignment, "The manual partition assignment includes broker %d, but no such broker is registered.", id)
		}
		if i > 0 && sorted[i-1] == id {
			return kafkaErrorf(kerr.InvalidReplicaAssignment, "The manual partition assignment includes the broker %d more than once.", id)
		}
	}
	return nil
}
