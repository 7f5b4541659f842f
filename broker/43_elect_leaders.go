package broker

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ElectLeaders election types.
const (
	electPreferred = 0
	electUnclean   = 1
)

// handleElectLeaders answers ElectLeaders as Kafka's controller does for
// partitions that already have the leader asked for: a partition led by
// its preferred replica (the first one) needs no preferred election, and
// one with a leader needs no unclean election. Every partition here has a
// single replica, so that is every partition that exists; a partition
// with more replicas and another leader would need raft to hand over
// leadership, which comes with replication across brokers. A request for
// all partitions (null topics) lists only those an election was held for.
// Errors carry the messages of Kafka's controller
// (ReplicationControlManager.electLeader): "No such topic as t" and "No
// such partition as t-9" for unknown ones, and the error's own text for
// the others, which Kafka gives as new ApiError(error).
func (b *Broker) handleElectLeaders(r *kmsg.ElectLeadersRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ElectLeadersResponse)
	if r.Version >= 1 && r.ElectionType != electPreferred && r.ElectionType != electUnclean {
		// Kafka's controller throws, and the answer is the request's
		// error response (ElectLeadersRequest.getErrorResponse): the
		// error at the top and on every partition asked for.
		resp.ErrorCode = kerr.InvalidRequest.Code
		msg := fmt.Sprintf("Unknown election type %d", r.ElectionType)
		for _, rt := range r.Topics {
			ot := kmsg.NewElectLeadersResponseTopic()
			ot.Topic = rt.Topic
			for _, idx := range rt.Partitions {
				op := kmsg.NewElectLeadersResponseTopicPartition()
				op.Partition = idx
				op.ErrorCode, op.ErrorMessage = kerr.InvalidRequest.Code, kmsg.StringPtr(msg)
				ot.Partitions = append(ot.Partitions, op)
			}
			resp.Topics = append(resp.Topics, ot)
		}
		return resp
	}
	st := b.node.Controller().State()
	elect := func(topic string, idx int32) error {
		t := st.Topics[topic]
		if t == nil {
			return kafkaErrorf(kerr.UnknownTopicOrPartition, "No such topic as %s", topic)
		}
		if !st.HasPartition(topic, idx) {
			return kafkaErrorf(kerr.UnknownTopicOrPartition, "No such partition as %s-%d", topic, idx)
		}
		leader, _ := b.leaderOf(topic, idx)
		switch {
		case r.ElectionType == electUnclean && leader >= 0,
			r.ElectionType == electPreferred && len(t.Replicas[idx]) > 0 && leader == t.Replicas[idx][0]:
			return kafkaErrorf(kerr.ElectionNotNeeded, "Leader election not needed for topic partition.")
		case r.ElectionType == electPreferred:
			return kafkaErrorf(kerr.PreferredLeaderNotAvailable, "The preferred leader was not available.")
		default:
			return kafkaErrorf(kerr.EligibleLeadersNotAvailable, "Eligible topic partition leaders are not available.")
		}
	}
	add := func(topic string, idx int32, err error) {
		if len(resp.Topics) == 0 || resp.Topics[len(resp.Topics)-1].Topic != topic {
			rt := kmsg.NewElectLeadersResponseTopic()
			rt.Topic = topic
			resp.Topics = append(resp.Topics, rt)
		}
		rp := kmsg.NewElectLeadersResponseTopicPartition()
		rp.Partition = idx
		rp.ErrorCode, rp.ErrorMessage = errCodeMsg(err)
		rt := &resp.Topics[len(resp.Topics)-1]
		rt.Partitions = append(rt.Partitions, rp)
	}
	if r.Topics == nil {
		for _, name := range st.SortedTopics() {
			for i := range st.Topics[name].Replicas {
				if err := elect(name, int32(i)); !errors.Is(err, kerr.ElectionNotNeeded) {
					add(name, int32(i), err)
				}
			}
		}
		return resp
	}
	for _, rt := range r.Topics {
		for _, idx := range rt.Partitions {
			add(rt.Topic, idx, elect(rt.Topic, idx))
		}
	}
	return resp
}
