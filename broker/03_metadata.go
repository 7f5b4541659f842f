package broker

import (
	"context"
	"errors"

	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleMetadata(ctx context.Context, req *kmsg.MetadataRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	autoCreate := b.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)

	var names []string
	var byID []replication.TopicID
	if req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0) {
		// null (v1+) or empty (v0) means all topics.
		names = b.node.Controller().State().SortedTopics()
	} else {
		for _, t := range req.Topics {
			if t.Topic != nil {
				names = append(names, *t.Topic)
			} else if t.TopicID != ([16]byte{}) {
				byID = append(byID, t.TopicID)
			}
		}
	}

	for _, name := range names {
		st := b.node.Controller().State()
		var refused int16 // the client's error when auto-creation refuses the name
		if _, ok := st.Topics[name]; !ok && autoCreate && validTopicName(name) {
			if err := b.autoCreate(ctx, name); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
				var ke *kafkaErr
				if errors.As(err, &ke) && ke.code == kerr.InvalidTopicException {
					// A name that collides with an existing topic: the
					// client asked for it, so no warning, and it is told
					// why, as Kafka's auto-creation answers.
					b.logger.Debug("auto-create topic refused", "topic", name, "err", err)
					refused = ke.code.Code
				} else {
					b.logger.Warn("auto-create topic failed", "topic", name, "err", err)
				}
			}
		}
		mt := b.topicMetadata(req, name)
		if refused != 0 && mt.ErrorCode == kerr.UnknownTopicOrPartition.Code {
			mt.ErrorCode = refused
		}
		resp.Topics = append(resp.Topics, mt)
	}
	for _, id := range byID {
		st := b.node.Controller().State()
		t, ok := st.ByID[id]
		if !ok {
			mt := kmsg.NewMetadataResponseTopic()
			mt.TopicID = id
			mt.ErrorCode = kerr.UnknownTopicID.Code
			resp.Topics = append(resp.Topics, mt)
			continue
		}
		resp.Topics = append(resp.Topics, b.topicMetadata(req, t.Name))
	}

	st := b.node.Controller().State()
	for _, br := range st.SortedBrokers() {
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID = br.ID
		mb.Host = br.Host
		mb.Port = br.Port
		if br.Rack != "" {
			r := br.Rack
			mb.Rack = &r
		}
		resp.Brokers = append(resp.Brokers, mb)
	}
	cid := st.ClusterID
	resp.ClusterID = &cid
	resp.ControllerID = b.node.ID()
	if !req.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = -2147483648
	}
	return resp
}

func (b *Broker) topicMetadata(req *kmsg.MetadataRequest, name string) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	n := name
	mt.Topic = &n
	if !req.IncludeTopicAuthorizedOperations {
		mt.AuthorizedOperations = -2147483648
	}
	if !validTopicName(name) {
		mt.ErrorCode = kerr.InvalidTopicException.Code
		return mt
	}
	t, ok := b.node.Controller().State().Topics[name]
	if !ok {
		mt.ErrorCode = kerr.UnknownTopicOrPartition.Code
		return mt
	}
	mt.TopicID = t.ID
	mt.IsInternal = t.Internal
	for i, reps := range t.Replicas {
		mp := kmsg.NewMetadataResponseTopicPartition()
		mp.Partition = int32(i)
		mp.Replicas = append([]int32(nil), reps...)
		mp.ISR = append([]int32(nil), reps...)
		mp.Leader, mp.LeaderEpoch = b.leaderOf(name, int32(i))
		if mp.Leader < 0 {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

// leaderOf returns the partition's leader and epoch as this broker knows it.
func (b *Broker) leaderOf(topic string, idx int32) (int32, int32) {
	p := b.node.Partition(topic, idx)
	if p == nil || !p.Ready() {
		return -1, -1
	}
	return b.node.ID(), p.LeaderEpoch()
}
