package broker

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleCreateTopics(ctx context.Context, req *kmsg.CreateTopicsRequest, mq *mutationQuota) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	// Kafka's controller answers REQUEST_TIMED_OUT to a request whose
	// timeout_ms passes before it is done. Topics are created here some
	// at a time, ten milliseconds or more each: those whose turn comes
	// after the deadline are answered so and not created, and the client
	// hears back before it gives up on the request itself and retries it,
	// to find the topics its first try went on creating already there. A
	// topic begun in time is still waited for, as before.
	var late func() bool
	if req.TimeoutMillis > 0 {
		deadline := time.Now().Add(time.Duration(req.TimeoutMillis) * time.Millisecond)
		late = func() bool { return time.Now().After(deadline) }
	}
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	// Kafka counts the partitions of the whole request (the duplicates
	// aside) before it looks at any topic, and refuses all of it past the
	// cap: a client cannot make the broker build millions of partitions.
	var total int64
	for _, rt := range req.Topics {
		switch {
		case seen[rt.Topic] > 1:
		case len(rt.ReplicaAssignment) > 0:
			total += int64(len(rt.ReplicaAssignment))
		case rt.NumPartitions == -1:
			total += int64(b.cfg.NumPartitions)
		case rt.NumPartitions > 0:
			total += int64(rt.NumPartitions)
		}
	}
	type creation struct {
		at int // index in resp.Topics
		t  *replication.Topic
	}
	var todo []creation
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		var err error
		switch {
		case seen[rt.Topic] < 0:
			continue // answered already
		case seen[rt.Topic] > 1:
			// Kafka rejects a name given twice in one request, and
			// answers it once: clients (librdkafka) refuse an answer
			// that names a topic twice.
			seen[rt.Topic] = -1
			err = kafkaErrorf(kerr.InvalidRequest, "Duplicate topic name.")
		case total > maxPartitionsPerRequest:
			err = kafkaErrorf(kerr.PolicyViolation, "Excessively large number of partitions per request.")
		}
		if err != nil {
			st.ErrorCode, st.ErrorMessage = errCodeMsg(err)
			resp.Topics = append(resp.Topics, st)
			continue
		}
		// The name, the topic's existence, the configs and then the
		// assignment, in the order Kafka's controller checks them
		// (buildTopic): a topic that exists is answered so whatever
		// else the request gets wrong.
		spec := topicSpec{name: rt.Topic, partitions: rt.NumPartitions, rf: rt.ReplicationFactor, configs: map[string]*string{}, manual: rt.ReplicaAssignment}
		for _, c := range rt.Configs {
			if c.Value == nil {
				spec.nullConfigs = append(spec.nullConfigs, c.Name)
				continue
			}
			spec.configs[c.Name] = c.Value
		}
		t, err := b.buildTopic(spec)
		if err == nil && !req.ValidateOnly {
			// Charged in request order, as Kafka's controller charges
			// them: which topics a strict quota refuses does not hang
			// on the order the workers below start in.
			err = mq.take(len(t.Replicas))
		}
		if err != nil {
			st.ErrorCode, st.ErrorMessage = errCodeMsg(err)
			resp.Topics = append(resp.Topics, st)
			continue
		}
		todo = append(todo, creation{len(resp.Topics), t})
		resp.Topics = append(resp.Topics, st)
	}
	// The valid topics are created several at a time: the controller
	// commits their records together and the node starts their partitions
	// side by side, where one after another each waited for its own
	// commits and elections. Names that collide once '.' and '_' are one
	// come after the rest, in request order, so the first wins as it would
	// one at a time. The answer keeps the request's order.
	var first, later []creation
	started := make(map[string]bool) // by colliding form
	for _, c := range todo {
		form := strings.ReplaceAll(c.t.Name, ".", "_")
		if started[form] {
			later = append(later, c)
			continue
		}
		started[form] = true
		first = append(first, c)
	}
	inParallel(len(first), topicsAtOnce, func(i int) {
		c := first[i]
		b.finishCreateTopic(ctx, req, &resp.Topics[c.at], c.t, late)
	})
	for _, c := range later {
		b.finishCreateTopic(ctx, req, &resp.Topics[c.at], c.t, late)
	}
	return resp
}

// topicsAtOnce bounds the topics of one CreateTopics or DeleteTopics
// request that are created or deleted at the same time.
const topicsAtOnce = 16

// inParallel calls fn(0), ..., fn(n-1), at most k at a time, and returns
// when every call has.
func inParallel(n, k int, fn func(i int)) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, k) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// finishCreateTopic creates t, or checks it can be for validate_only, and
// fills in its answer st, as Kafka answers it.
func (b *Broker) finishCreateTopic(ctx context.Context, req *kmsg.CreateTopicsRequest, st *kmsg.CreateTopicsResponseTopic, t *replication.Topic, late func() bool) {
	var err error
	switch {
	case req.ValidateOnly:
		err = b.checkRoom(b.replicasHere(t.Replicas), false)
	case late != nil && late():
		err = kafkaErrorf(kerr.RequestTimedOut, "not created: the request's timeout of %d ms passed before its turn", req.TimeoutMillis)
	default:
		err = b.createTopic(ctx, t)
	}
	if err != nil {
		st.ErrorCode, st.ErrorMessage = errCodeMsg(err)
		return
	}
	st.TopicID = t.ID
	st.NumPartitions = int32(len(t.Replicas))
	st.ReplicationFactor = int16(len(t.Replicas[0]))
	for _, d := range topicConfigs {
		if d.internal {
			continue
		}
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name = d.name
		v, set := t.Configs[d.name]
		if !set {
			var src kmsg.ConfigSource
			v, src = b.topicDefault(b.node.Controller().State(), &d)
			c.Source = int8(kmsg.ConfigSourceDefaultConfig)
			if d.brokerKey != "" {
				c.Source = int8(src)
			}
		} else {
			c.Source = int8(kmsg.ConfigSourceDynamicTopicConfig)
		}
		c.Value = &v
		st.Configs = append(st.Configs, c)
	}
}

// maxPartitionsPerRequest is Kafka's cap on the partitions one CreateTopics
// or CreatePartitions request may add (its controller's limit per batch).
const maxPartitionsPerRequest = 10_000

// manualAssignment turns CreateTopics' replica assignment into a replica
// list per partition with the checks of Kafka's controller, in its order:
// for each entry as given, a partition given twice, then its replicas (none,
// a broker not registered or given twice, a count unlike the entries'
// before); then indexes other than 0..n-1. Its size is that of the request,
// never that of an index the client wrote.
func manualAssignment(st *replication.State, as []kmsg.CreateTopicsRequestTopicReplicaAssignment) ([][]int32, error) {
	given := make(map[int32]bool, len(as))
	rf := -1
	for _, a := range as {
		if given[a.Partition] {
			return nil, kafkaErrorf(kerr.InvalidReplicaAssignment, "Found multiple manual partition assignments for partition %d", a.Partition)
		}
		given[a.Partition] = true
		if len(a.Replicas) == 0 {
			return nil, kafkaErrorf(kerr.InvalidReplicaAssignment, "The manual partition assignment includes an empty replica list.")
		}
		sorted := slices.Sorted(slices.Values(a.Replicas))
		for i, id := range sorted {
			if _, ok := st.Brokers[id]; !ok {
				return nil, kafkaErrorf(kerr.InvalidReplicaAssignment, "The manual partition assignment includes broker %d, but no such broker is registered.", id)
			}
			if i > 0 && sorted[i-1] == id {
				return nil, kafkaErrorf(kerr.InvalidReplicaAssignment, "The manual partition assignment includes the broker %d more than once.", id)
			}
		}
		if rf >= 0 && len(a.Replicas) != rf {
			return nil, kafkaErrorf(kerr.InvalidReplicaAssignment,
				"The manual partition assignment includes a partition with %d replica(s), but this is not consistent with previous partitions, which have %d replica(s).", len(a.Replicas), rf)
		}
		rf = len(a.Replicas)
	}
	out := make([][]int32, len(as))
	for _, a := range as {
		if a.Partition < 0 || int(a.Partition) >= len(as) {
			return nil, kafkaErrorf(kerr.InvalidReplicaAssignment, "partitions should be a consecutive 0-based integer sequence")
		}
		out[a.Partition] = append([]int32(nil), a.Replicas...)
	}
	return out, nil
}
