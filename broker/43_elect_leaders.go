package broker

import (
	"errors"

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
func (b *Broker) handleElectLeaders(r *kmsg.ElectLeadersRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ElectLeadersResponse)
	if r.Version >= 1 && r.ElectionType != electPreferred && r.ElectionType != electUnclean {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	st := b.node.Controller().State()
	elect := func(topic string, idx int32) error {
		if !st.HasPartition(topic, idx) {
			return kerr.UnknownTopicOrPartition
		}
		t := st.Topics[topic]
		leader, _ := b.leaderOf(topic, idx)
		switch {
		case r.ElectionType == electUnclean && leader >= 0:
			return kafkaErrorf(kerr.ElectionNotNeeded, "%s-%d has a leader", topic, idx)
		case r.ElectionType == electPreferred && len(t.Replicas[idx]) > 0 && leader == t.Replicas[idx][0]:
			return kafkaErrorf(kerr.ElectionNotNeeded, "%s-%d is led by its preferred replica", topic, idx)
		case r.ElectionType == electPreferred && len(t.Replicas[idx]) > 0:
			return kafkaErrorf(kerr.PreferredLeaderNotAvailable, "%s-%d: the preferred replica %d cannot take over from %d", topic, idx, t.Replicas[idx][0], leader)
		case r.ElectionType == electPreferred:
			return kafkaErrorf(kerr.PreferredLeaderNotAvailable, "%s-%d has no replicas", topic, idx)
		default:
			return kafkaErrorf(kerr.EligibleLeadersNotAvailable, "%s-%d has no live replica to elect", topic, idx)
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
