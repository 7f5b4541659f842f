package broker

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// autoCreateParallel bounds the topics one Metadata request creates at once.
const autoCreateParallel = 16

// autoCreateAll creates the topics among names that do not exist, several
// at once rather than one after another (each waits for its partitions'
// leaders), and returns the error code for each name whose creation was
// refused. Names that collide once '.' and '_' are one are created in
// request order, so the first wins, as it would one at a time. The
// partitions of the ordinary topics are taken from the client's
// controller_mutation_rate quota mq first, in request order: as in Kafka, a
// topic refused by it is not created, and is answered as unknown.
func (b *Broker) autoCreateAll(ctx context.Context, names []string, mq *mutationQuota) map[string]int16 {
	st := b.node.Controller().State()
	var (
		mu      sync.Mutex
		refused map[string]int16
		wg      sync.WaitGroup
		slots   = make(chan struct{}, autoCreateParallel)
		started = make(map[string]bool) // by colliding form
		later   []string
		failed  []autoCreateFailure
	)
	create := func(name string) {
		err := b.autoCreate(ctx, name)
		if err == nil || errors.Is(err, kerr.TopicAlreadyExists) {
			return
		}
		var ke *kafkaErr
		if errors.As(err, &ke) && ke.code == kerr.InvalidTopicException {
			// A name that collides with an existing topic: the client asked
			// for it, so no warning, and it is told why, as Kafka's
			// auto-creation answers.
			b.logger.Debug("auto-create topic refused", "topic", name, "err", err)
			mu.Lock()
			if refused == nil {
				refused = make(map[string]int16)
			}
			refused[name] = ke.code.Code
			mu.Unlock()
			return
		}
		if errors.As(err, &ke) && ke.code == kerr.InvalidRequest {
			// A name the client may not have made (an internal topic's):
			// its mistake, not the broker's trouble.
			b.logger.Debug("auto-create topic refused", "topic", name, "err", err)
			return
		}
		if ctx.Err() != nil {
			// The client went away (or the broker is closing) before the
			// topic was ready: no trouble of the broker's either.
			b.logger.Debug("auto-create topic: the request ended first", "topic", name, "err", err)
			return
		}
		mu.Lock()
		failed = append(failed, autoCreateFailure{name, err})
		mu.Unlock()
	}
	defer func() { b.autoCreateWarn.log(b.logger, failed) }()
	// As Kafka's controller refuses a CreateTopics of more than 10,000
	// partitions, the topics one request would auto-create are refused
	// together past that: nothing is created, and they are unknown.
	var wanted []string
	seen := make(map[string]bool)
	parts := 0
	for _, name := range names {
		if _, ok := st.Topics[name]; ok || !validTopicName(name) || seen[name] {
			continue
		}
		seen[name] = true
		wanted = append(wanted, name)
		if name == offsetsTopic {
			parts += int(b.cfg.OffsetsTopicNumPartitions)
		} else {
			parts += int(b.cfg.NumPartitions)
		}
	}
	if parts > maxPartitionsPerRequest {
		// Answered as Kafka answers topics its controller did not
		// create: UNKNOWN_TOPIC_OR_PARTITION.
		b.logger.Warn("auto-create refused: too many partitions for one request", "topics", len(wanted), "partitions", parts, "max", maxPartitionsPerRequest)
		return nil
	}
	// Charged before any is created, in request order, as Kafka's
	// controller charges a CreateTopics. __consumer_offsets is the group
	// coordinator's to make, and the other internal topics are not made.
	allowed := wanted[:0]
	for _, name := range wanted {
		if name != offsetsTopic && !internalTopics[name] {
			if err := mq.take(int(b.cfg.NumPartitions)); err != nil {
				b.logger.Debug("auto-create topic refused", "topic", name, "err", err)
				continue
			}
		}
		allowed = append(allowed, name)
	}
	wanted = allowed
	// A client gone, or the broker closing, stops what has not begun.
loop:
	for _, name := range wanted {
		if form := strings.ReplaceAll(name, ".", "_"); started[form] {
			later = append(later, name)
			continue
		} else {
			started[form] = true
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			create(name)
		}()
	}
	wg.Wait()
	for _, name := range later {
		if ctx.Err() != nil {
			break
		}
		create(name)
	}
	return refused
}

type autoCreateFailure struct {
	topic string
	err   error
}

// warnLimiter keeps warnings about what clients retry readable: a key
// (a topic, a transactional id) is warned about again only after rewarn.
// With most set, at most that many keys are warned about in a rewarn: a
// request naming thousands of keys, each a line, must not make a log a
// hundred times its size.
type warnLimiter struct {
	most int

	mu       sync.Mutex
	warned   map[string]time.Time // key: when last warned about
	window   time.Time            // when the current rewarn began
	inWindow int                  // keys allowed since window
}

const rewarn = time.Minute

// allow says whether key may be warned about now, and if so counts it.
func (w *warnLimiter) allow(key string) bool {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.warned == nil || len(w.warned) > 10_000 {
		w.warned = map[string]time.Time{}
	}
	if at, ok := w.warned[key]; ok && now.Sub(at) < rewarn {
		return false
	}
	if now.Sub(w.window) >= rewarn {
		w.window, w.inWindow = now, 0
	}
	if w.most > 0 && w.inWindow >= w.most {
		return false
	}
	w.inWindow++
	w.warned[key] = now
	return true
}

// autoCreateWarnings keeps the log of failed auto-creations readable:
// a client asks for its topic again every second or so, and one Metadata
// request may name thousands. Each request's failures make one line, and
// a topic that failed is warned about again only after a minute.
type autoCreateWarnings struct{ warnLimiter }

func (w *autoCreateWarnings) log(logger *slog.Logger, failed []autoCreateFailure) {
	if len(failed) == 0 {
		return
	}
	var fresh []autoCreateFailure
	for _, f := range failed {
		if w.allow(f.topic) {
			fresh = append(fresh, f)
		}
	}
	for _, f := range failed {
		logger.Debug("auto-create topic failed", "topic", f.topic, "err", f.err)
	}
	switch {
	case len(fresh) == 1:
		logger.Warn("auto-create topic failed", "topic", fresh[0].topic, "err", fresh[0].err)
	case len(fresh) > 1:
		names := make([]string, 0, 10)
		for _, f := range fresh[:min(len(fresh), 10)] {
			names = append(names, f.topic)
		}
		logger.Warn("auto-create failed for several topics", "count", len(fresh), "first_topics", names, "first_err", fresh[0].err)
	}
}

func (b *Broker) handleMetadata(ctx context.Context, req *kmsg.MetadataRequest, listener string, mq *mutationQuota) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	autoCreate := b.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)

	if req.Version >= 10 && req.Version < 12 && req.Topics != nil {
		// v10 and v11 carry topic ids but do not take them: as Kafka, a
		// null name or an id fails the request, every topic answered
		// INVALID_REQUEST.
		if slices.ContainsFunc(req.Topics, func(t kmsg.MetadataRequestTopic) bool {
			return t.Topic == nil || t.TopicID != [16]byte{}
		}) {
			for _, t := range req.Topics {
				mt := kmsg.NewMetadataResponseTopic()
				mt.Topic = kmsg.StringPtr("")
				if t.Topic != nil {
					mt.Topic = kmsg.StringPtr(*t.Topic)
				}
				mt.TopicID, mt.ErrorCode = t.TopicID, kerr.InvalidRequest.Code
				resp.Topics = append(resp.Topics, mt)
			}
			return resp
		}
	}
	var names []string
	var byID []replication.TopicID
	if req.Topics == nil || (req.Version == 0 && len(req.Topics) == 0) {
		// null (v1+) or empty (v0) means all topics.
		names = b.node.Controller().State().SortedTopics()
	} else {
		// As Kafka, from v12 a request giving any topic id is answered by
		// its ids alone: its names are neither looked up nor auto-created.
		useIDs := slices.ContainsFunc(req.Topics, func(t kmsg.MetadataRequestTopic) bool {
			return t.TopicID != [16]byte{}
		})
		seen := make(map[string]bool)
		seenID := make(map[[16]byte]bool)
		for _, t := range req.Topics {
			switch {
			case useIDs:
				// An id asked twice is answered once, as a name is.
				if t.TopicID != ([16]byte{}) && !seenID[t.TopicID] {
					seenID[t.TopicID] = true
					byID = append(byID, t.TopicID)
				}
			case t.Topic != nil:
				// A name asked twice is answered once, as in Kafka.
				if !seen[*t.Topic] {
					seen[*t.Topic] = true
					names = append(names, *t.Topic)
				}
			}
		}
	}

	var refused map[string]int16 // the client's error where auto-creation refused the name
	if autoCreate {
		refused = b.autoCreateAll(ctx, names, mq)
	}
	for _, name := range names {
		mt := b.topicMetadata(req, name)
		if code := refused[name]; code != 0 && mt.ErrorCode == kerr.UnknownTopicOrPartition.Code {
			mt.ErrorCode = code
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
		host, port, ok := br.Endpoint(listener)
		if !ok {
			continue // as Kafka lists only the brokers with the client's listener
		}
		mb := kmsg.NewMetadataResponseBroker()
		mb.NodeID = br.ID
		mb.Host = host
		mb.Port = port
		if br.Rack != "" {
			r := br.Rack
			mb.Rack = &r
		}
		resp.Brokers = append(resp.Brokers, mb)
	}
	cid := st.ClusterID
	resp.ClusterID = &cid
	resp.ControllerID = b.node.ID()
	resp.AuthorizedOperations = authorizedOps(req.IncludeClusterAuthorizedOperations, clusterOps)
	return resp
}

// Authorized operations (KIP-430): with no authorizer, as here, Kafka
// answers every operation a resource type supports, as a bit field of
// ACL operation codes; a request that does not ask gets math.MinInt32.
const (
	aclRead            = 3
	aclWrite           = 4
	aclCreate          = 5
	aclDelete          = 6
	aclAlter           = 7
	aclDescribe        = 8
	aclClusterAction   = 9
	aclDescribeConfigs = 10
	aclAlterConfigs    = 11
	aclIdempotentWrite = 12

	topicOps   = 1<<aclRead | 1<<aclWrite | 1<<aclCreate | 1<<aclDelete | 1<<aclAlter | 1<<aclDescribe | 1<<aclDescribeConfigs | 1<<aclAlterConfigs
	groupOps   = 1<<aclRead | 1<<aclDescribe | 1<<aclDelete
	clusterOps = 1<<aclCreate | 1<<aclClusterAction | 1<<aclDescribeConfigs | 1<<aclAlterConfigs | 1<<aclIdempotentWrite | 1<<aclAlter | 1<<aclDescribe
)

func authorizedOps(asked bool, ops int32) int32 {
	if !asked {
		return math.MinInt32
	}
	return ops
}

func (b *Broker) topicMetadata(req *kmsg.MetadataRequest, name string) kmsg.MetadataResponseTopic {
	mt := kmsg.NewMetadataResponseTopic()
	n := name
	mt.Topic = &n
	// As Kafka: every entry by name gets them, unknown and invalid ones too.
	mt.AuthorizedOperations = authorizedOps(req.IncludeTopicAuthorizedOperations, topicOps)
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
		mp.ISR = b.isr(t, int32(i))
		mp.Leader, mp.LeaderEpoch = b.leaderOf(name, int32(i))
		if mp.Leader < 0 {
			mp.ErrorCode = kerr.LeaderNotAvailable.Code
		}
		mt.Partitions = append(mt.Partitions, mp)
	}
	return mt
}

// isr is the partition's in-sync replicas: on one node, its replicas (this
// node's, which takes every write itself).
func (b *Broker) isr(t *replication.Topic, idx int32) []int32 {
	return append([]int32(nil), t.Replicas[idx]...)
}

// leaderOf returns the partition's leader and epoch as this broker knows it.
func (b *Broker) leaderOf(topic string, idx int32) (int32, int32) {
	p := b.node.Partition(topic, idx)
	if p == nil || !p.Ready() {
		return -1, -1
	}
	return b.node.ID(), p.LeaderEpoch()
}
