package broker

import (
	"context"
	"errors"
	"time"

	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleCreatePartitions(ctx context.Context, req *kmsg.CreatePartitionsRequest, mq *mutationQuota) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	// As in CreateTopics, the partitions the whole request would add are
	// capped, and a request past the cap is refused whole.
	st := b.node.Controller().State()
	var add int64
	for _, rt := range req.Topics {
		if t := st.Topics[rt.Topic]; t != nil && seen[rt.Topic] == 1 && int(rt.Count) > len(t.Replicas) {
			add += int64(int(rt.Count) - len(t.Replicas))
		}
	}
	for _, rt := range req.Topics {
		r := kmsg.NewCreatePartitionsResponseTopic()
		r.Topic = rt.Topic
		var err error
		switch {
		case seen[rt.Topic] < 0:
			continue // answered already, once, as in Kafka
		case seen[rt.Topic] > 1:
			seen[rt.Topic] = -1
			err = kafkaErrorf(kerr.InvalidRequest, "Duplicate topic name.")
		case add > maxPartitionsPerRequest:
			err = kafkaErrorf(kerr.PolicyViolation, "Unable to perform excessively large batch operation.")
		default:
			err = b.createPartitions(ctx, rt, req.ValidateOnly, req.TimeoutMillis, mq)
		}
		r.ErrorCode, r.ErrorMessage = errCodeMsg(err)
		resp.Topics = append(resp.Topics, r)
	}
	return resp
}

func (b *Broker) createPartitions(ctx context.Context, rt kmsg.CreatePartitionsRequestTopic, validateOnly bool, timeoutMs int32, mq *mutationQuota) error {
	st := b.node.Controller().State()
	t := st.Topics[rt.Topic]
	if t == nil {
		return kafkaErrorf(kerr.UnknownTopicOrPartition, "topic %q does not exist", rt.Topic)
	}
	if t.Internal {
		// Its partition count decides which shard coordinates each group.
		return kafkaErrorf(kerr.InvalidRequest, "the partitions of internal topic %s cannot be changed", t.Name)
	}
	cur := int32(len(t.Replicas))
	if rt.Count <= cur {
		return notMorePartitions(t.Name, cur, rt.Count)
	}
	replicas := append([][]int32(nil), t.Replicas...)
	add := int(rt.Count - cur)
	if rt.Assignment != nil {
		if len(rt.Assignment) != add {
			return kafkaErrorf(kerr.InvalidReplicaAssignment, "Attempted to add %d additional partition(s), but only %d assignment(s) were specified.", add, len(rt.Assignment))
		}
		for _, a := range rt.Assignment {
			if err := checkManualAssignment(st, a.Replicas); err != nil {
				return err
			}
			if rf := len(t.Replicas[0]); len(a.Replicas) != rf {
				return kafkaErrorf(kerr.InvalidReplicaAssignment,
					"The manual partition assignment includes a partition with %d replica(s), but this is not consistent with previous partitions, which have %d replica(s).", len(a.Replicas), rf)
			}
			replicas = append(replicas, a.Replicas)
		}
	} else {
		rf := len(t.Replicas[0])
		brokers := st.SortedBrokers()
		if rf > len(brokers) {
			return kafkaErrorf(kerr.InvalidReplicationFactor, "replication factor %d larger than available brokers %d", rf, len(brokers))
		}
		more := assignReplicas(brokers, len(st.Topics)+int(cur), add, rf)
		replicas = append(replicas, more...)
	}
	n := b.replicasHere(replicas[cur:])
	if err := b.checkRoom(n, !validateOnly); err != nil {
		return err
	}
	if validateOnly {
		return nil
	}
	defer filesStarted(n)
	if err := mq.take(add); err != nil {
		return err
	}
	if _, err := b.node.Controller().Propose(ctx, replication.Command{Op: replication.OpCreatePartitions, Name: t.Name, Replicas: replicas}); err != nil {
		// Another request grew or deleted the topic since it was looked
		// up: answered as Kafka's controller, which takes them one at a
		// time, answers the later one.
		now := b.node.Controller().State().Topics[t.Name]
		switch {
		case errors.Is(err, replication.ErrPartitionsLower) && now != nil:
			return notMorePartitions(t.Name, int32(len(now.Replicas)), rt.Count)
		case errors.Is(err, replication.ErrUnknownTopic):
			return kafkaErrorf(kerr.UnknownTopicOrPartition, "topic %q does not exist", rt.Topic)
		}
		return kafkaErrorf(kerr.RequestTimedOut, "%v", err)
	}
	// Bounded, as a new topic's wait: a partition that cannot start held
	// the request, and its connection, until the client went away.
	wait := 30 * time.Second
	if timeoutMs > 0 {
		wait = min(wait, time.Duration(timeoutMs)*time.Millisecond)
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := b.node.WaitTopicReady(wctx, t.Name); err != nil {
		b.logger.Warn("new partitions not ready", "topic", t.Name, "err", err)
		return kafkaErrorf(kerr.RequestTimedOut, "the partitions of %s were created but not every one leads yet: %v", t.Name, err)
	}
	return nil
}

// notMorePartitions is Kafka's answer to a count not above the topic's
// cur partitions (ReplicationControlManager.createPartitions).
func notMorePartitions(topic string, cur, count int32) error {
	if count < cur {
		return kafkaErrorf(kerr.InvalidPartitions, "The topic %s currently has %d partition(s); %d would not be an increase.", topic, cur, count)
	}
	return kafkaErrorf(kerr.InvalidPartitions, "Topic already has %d partition(s).", cur)
}
