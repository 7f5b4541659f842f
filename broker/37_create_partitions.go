package broker

import (
	"context"

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
			err = kafkaErrorf(kerr.InvalidRequest, "Duplicate topic in request.")
		case add > maxPartitionsPerRequest:
			err = kafkaErrorf(kerr.PolicyViolation, "Unable to perform excessively large batch operation.")
		default:
			err = b.createPartitions(ctx, rt, req.ValidateOnly, mq)
		}
		r.ErrorCode, r.ErrorMessage = errCodeMsg(err)
		resp.Topics = append(resp.Topics, r)
	}
	return resp
}

func (b *Broker) createPartitions(ctx context.Context, rt kmsg.CreatePartitionsRequestTopic, validateOnly bool, mq *mutationQuota) error {
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
	if rt.Count < cur {
		return kafkaErrorf(kerr.InvalidPartitions, "topic currently has %d partitions, which is higher than the requested %d", cur, rt.Count)
	}
	if rt.Count == cur {
		return kafkaErrorf(kerr.InvalidPartitions, "topic already has %d partitions", cur)
	}
	replicas := append([][]int32(nil), t.Replicas...)
	add := int(rt.Count - cur)
	if rt.Assignment != nil {
		if len(rt.Assignment) != add {
			return kafkaErrorf(kerr.InvalidReplicaAssignment, "%d assignments given for %d new partitions", len(rt.Assignment), add)
		}
		for _, a := range rt.Assignment {
			if err := checkManualAssignment(st, a.Replicas); err != nil {
				return err
			}
			if len(a.Replicas) != len(t.Replicas[0]) {
				return kafkaErrorf(kerr.InvalidReplicaAssignment, "inconsistent replication factor")
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
		return kafkaErrorf(kerr.RequestTimedOut, "%v", err)
	}
	if err := b.node.WaitTopicReady(ctx, t.Name); err != nil {
		b.logger.Warn("new partitions not ready", "topic", t.Name, "err", err)
		return kafkaErrorf(kerr.RequestTimedOut, "the partitions of %s were created but not every one leads yet: %v", t.Name, err)
	}
	return nil
}
