package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleListPartitionReassignments lists the partitions being moved to
// other replicas, as Kafka's controller does (unknown topics and partitions
// that are not moving are left out): none here, where replica sets change
// only when partitions are created, so the list is always empty.
func (b *Broker) handleListPartitionReassignments(r *kmsg.ListPartitionReassignmentsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)
	resp.Topics = []kmsg.ListPartitionReassignmentsResponseTopic{}
	return resp
}
