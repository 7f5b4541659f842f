package broker

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/gokafka/gokafka/groups"
	"github.com/gokafka/gokafka/logstore"
	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
)

// offsetsTopic holds the consumer groups' committed offsets and metadata, in
// Kafka's own record formats; each of its partitions is one coordinator
// shard, led (and so coordinated) by that partition's raft leader.
const offsetsTopic = "__consumer_offsets"

// coordinator runs a groups.Shard for every __consumer_offsets partition this
// broker leads. A new leader replays its partition into a fresh shard before
// serving (COORDINATOR_LOAD_IN_PROGRESS meanwhile); a lost leadership closes
// the shard (NOT_COORDINATOR).
type coordinator struct {
	b *Broker

	mu     sync.Mutex
	shards map[int32]*shardState
	// failed holds, per shard whose last load failed, when the next may
	// start and how long the wait after it fails again is.
	failed map[int32]loadRetry

	stop chan struct{}
	wg   sync.WaitGroup

	rfCapped sync.Once // the capped replication factor is said once, not at each retry
}

type shardState struct {
	part   *replication.Partition
	epoch  int32
	shard  *groups.Shard // nil while loading
	cancel chan struct{}
}

type loadRetry struct {
	at      time.Time
	backoff time.Duration
}

func newCoordinator(b *Broker) *coordinator {
	return &coordinator{b: b, shards: map[int32]*shardState{}, failed: map[int32]loadRetry{}, stop: make(chan struct{})}
}

// offsetsTopicReady creates __consumer_offsets unless it exists, and
// returns once its partitions lead (or after offsetsTopicWait). As in
// Kafka, the topic is made on the first group coordinator lookup, not at
// startup: a cluster that never uses groups holds none of its partitions,
// and one that does has its brokers by then (the replication factor is
// capped at those present).
func (c *coordinator) offsetsTopicReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, offsetsTopicWait)
	defer cancel()
	if err := c.ensureOffsetsTopic(ctx); err != nil {
		return err
	}
	if err := c.b.node.WaitTopicReady(ctx, offsetsTopic); err != nil {
		return err
	}
	// And, within the same bound, until the shards of the partitions led
	// here are loaded, so that the group requests the lookup's answer
	// sends here find their coordinator (after it, they are answered
	// COORDINATOR_LOAD_IN_PROGRESS, which clients retry).
	for !c.localShardsLoaded() {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// localShardsLoaded says whether every offsets partition this broker leads
// has its coordinator shard loaded.
func (c *coordinator) localShardsLoaded() bool {
	n := c.numShards()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := int32(0); i < n; i++ {
		if p := c.b.node.Partition(offsetsTopic, i); p == nil || !p.Ready() {
			continue
		}
		if st := c.shards[i]; st == nil || st.shard == nil {
			return false
		}
	}
	return true
}

// offsetsTopicWait bounds how long a coordinator lookup waits for the
// offsets topic it made: well under clients' request timeouts.
const offsetsTopicWait = 10 * time.Second

// ensureOffsetsTopic creates __consumer_offsets, and returns once its
// partitions lead, unless it exists.
func (c *coordinator) ensureOffsetsTopic(ctx context.Context) error {
	b := c.b
	if b.node.Controller().State().Topics[offsetsTopic] != nil {
		return nil
	}
	rf := b.cfg.OffsetsTopicReplicationFactor
	if n := int16(len(b.node.Controller().State().Brokers)); rf > n {
		c.rfCapped.Do(func() {
			b.logger.Info("offsets topic replication factor capped at the brokers present", "wanted", rf, "brokers", n)
		})
		rf = n
	}
	compact := "compact"
	seg := strconv.Itoa(int(b.cfg.OffsetsTopicSegmentBytes))
	t, err := b.buildTopic(topicSpec{
		name:       offsetsTopic,
		partitions: b.cfg.OffsetsTopicNumPartitions,
		rf:         rf,
		configs:    map[string]*string{"cleanup.policy": &compact, "segment.bytes": &seg},
	})
	if errors.Is(err, kerr.TopicAlreadyExists) {
		return nil // made meanwhile by a concurrent lookup
	}
	if err != nil {
		return err
	}
	if err := b.createTopic(ctx, t); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return err // its callers say what failed to be created
	}
	return nil
}

func (c *coordinator) start() {
	c.wg.Add(3)
	go c.watch()
	go c.expireLoop()
	go c.deletedTopicsLoop()
}

// deletedTopicsLoop removes, as Kafka does, the committed offsets of the
// partitions of every topic that leaves the metadata (deleted, or deleted
// and created again under its name: another topic id), from the shards
// this broker leads.
func (c *coordinator) deletedTopicsLoop() {
	defer c.wg.Done()
	ctl := c.b.node.Controller()
	prev := ctl.State()
	for {
		ch := ctl.Changed()
		cur := ctl.State()
		if gone := deletedPartitions(prev, cur); gone != nil {
			for _, s := range c.localShards() {
				s.DeleteOffsets(gone)
			}
		}
		prev = cur
		select {
		case <-c.stop:
			return
		case <-ch:
		}
	}
}

// deletedPartitions reports the partitions of the topics of prev that cur
// no longer holds, or nil if there are none.
func deletedPartitions(prev, cur *replication.State) func(topic string, part int32) bool {
	gone := map[string]bool{}
	for name, t := range prev.Topics {
		if now := cur.Topics[name]; now == nil || now.ID != t.ID {
			gone[name] = true
		}
	}
	if len(gone) == 0 {
		return nil
	}
	return func(topic string, _ int32) bool { return gone[topic] }
}

func (c *coordinator) close() {
	close(c.stop)
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for p, s := range c.shards {
		close(s.cancel)
		if s.shard != nil {
			s.shard.Close()
		}
		delete(c.shards, p)
	}
}

// watch follows the leadership of the offsets topic's partitions.
func (c *coordinator) watch() {
	defer c.wg.Done()
	for {
		ch := c.b.node.ReadyChanged()
		c.reconcile()
		select {
		case <-c.stop:
			return
		case <-ch:
		case <-time.After(time.Second):
		}
	}
}

func (c *coordinator) numShards() int32 {
	t := c.b.node.Controller().State().Topics[offsetsTopic]
	if t == nil {
		return 0
	}
	return int32(len(t.Replicas))
}

func (c *coordinator) reconcile() {
	n := c.numShards()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := int32(0); i < n; i++ {
		p := c.b.node.Partition(offsetsTopic, i)
		cur := c.shards[i]
		leading := p != nil && p.Ready()
		if cur != nil && (!leading || cur.part != p || cur.epoch != p.LeaderEpoch()) {
			close(cur.cancel)
			if cur.shard != nil {
				cur.shard.Close()
			}
			delete(c.shards, i)
			cur = nil
		}
		if cur == nil && leading && time.Now().After(c.failed[i].at) {
			st := &shardState{part: p, epoch: p.LeaderEpoch(), cancel: make(chan struct{})}
			c.shards[i] = st
			c.wg.Add(1)
			go c.load(i, st)
		}
	}
}

// load replays a shard's partition into a new groups.Shard.
func (c *coordinator) load(idx int32, st *shardState) {
	defer c.wg.Done()
	start := time.Now()
	// Topics deleted while the shard loads are not seen by deletedTopicsLoop
	// (the shard is not yet local): their offsets go once it is.
	before := c.b.node.Controller().State()
	shard := groups.NewShard(idx, c.groupsConfig(), &offsetsStore{part: st.part, closed: st.cancel})
	n, err := loadRecords(st.part, shard.Load)
	if err != nil {
		// Loaded again from the start by a later reconcile (a second
		// later, then less often), not left loading until the leadership
		// changes: the log start offset may have moved under the read (a
		// checkpoint of the shard this one replaces).
		shard.Close()
		c.mu.Lock()
		r := c.failed[idx]
		r.backoff = min(max(2*r.backoff, time.Second), time.Minute)
		r.at = time.Now().Add(r.backoff)
		c.failed[idx] = r
		if c.shards[idx] == st {
			close(st.cancel)
			delete(c.shards, idx)
		}
		c.mu.Unlock()
		c.b.logger.Warn("loading coordinator shard failed; loading it again", "partition", idx, "err", err, "in", r.backoff)
		return
	}
	shard.Loaded()
	c.mu.Lock()
	select {
	case <-st.cancel:
		c.mu.Unlock()
		shard.Close()
		return
	default:
	}
	st.shard = shard
	delete(c.failed, idx)
	c.mu.Unlock()
	c.b.logger.Debug("coordinator shard loaded", "partition", idx, "records", n, "took", time.Since(start))
	shard.MaybeCheckpoint() // a long log replayed now need not be at the next start
	if gone := deletedPartitions(before, c.b.node.Controller().State()); gone != nil {
		shard.DeleteOffsets(gone)
	}
	// Offsets of topics deleted before the load began (the broker stopped
	// before their cleanup, or another broker led the shard then) go too,
	// once the metadata is known to hold every committed change: commits
	// are refused for topics it does not hold, so no offset of a topic
	// missing from it is anyone's.
	// The state is read as each offset is looked at, so a topic created
	// meanwhile and committed to keeps its offsets.
	if c.b.node.ControllerCaughtUp(10 * time.Second) {
		ctl := c.b.node.Controller()
		shard.DeleteOffsets(func(topic string, _ int32) bool { return ctl.State().Topics[topic] == nil })
	}
}

func (c *coordinator) groupsConfig() groups.Config {
	cfg := c.b.cfg
	delay := time.Duration(cfg.GroupInitialRebalanceDelayMs) * time.Millisecond
	if delay == 0 {
		delay = -1 // groups.Config: zero means its default, negative means none
	}
	return groups.Config{
		InitialRebalanceDelay:  delay,
		MinSessionTimeout:      time.Duration(cfg.GroupMinSessionTimeoutMs) * time.Millisecond,
		MaxSessionTimeout:      time.Duration(cfg.GroupMaxSessionTimeoutMs) * time.Millisecond,
		MaxGroupSize:           int(cfg.GroupMaxSize),
		OffsetsRetention:       durationOf(cfg.OffsetsRetentionMinutes, time.Minute),
		OffsetMetadataMaxBytes: int(cfg.OffsetMetadataMaxBytes),
		CheckpointBytes:        cfg.offsetsCheckpointBytes,
		MaxBatchBytes:          c.offsetsMaxBytes,
		Clock:                  groups.RealClock(),
		Logger:                 c.b.logger.With("component", "groups"),
	}
}

// loadRecords replays a partition from its log start to its high watermark
// into load, a chunk at a time (the records of about 1 MiB of log), and
// returns how many records it replayed. The shard checkpoints its log
// (groups.Checkpointer), but what lies past the last checkpoint can be
// large: read whole, 800,000 commits of ten offsets took a restart to
// 1.6 GB; a chunk at a time, memory holds the chunk and the state it
// builds.
func loadRecords(p *replication.Partition, load func([]groups.Record)) (int, error) {
	var out []groups.Record
	total := 0
	off := p.LogStartOffset()
	hw := p.HighWatermark()
	for off < hw {
		chunk, err := p.Log().Read(off, 1<<20, hw)
		if err != nil {
			return total, err
		}
		if len(chunk) == 0 {
			break
		}
		next := off
		err = logstore.ReadRecords(chunk, func(h logstore.BatchHeader, recs []logstore.Record) error {
			next = h.LastOffset() + 1
			if h.IsControl() {
				return nil
			}
			for _, r := range recs {
				if r.Offset < off || r.Key == nil {
					continue
				}
				rec := groups.Record{Key: append([]byte(nil), r.Key...)}
				if r.Value != nil {
					rec.Value = append([]byte(nil), r.Value...)
				}
				out = append(out, rec)
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		if len(out) > 0 {
			load(out)
			total += len(out)
			out = out[:0:0] // the shard may keep what it was given
		}
		if next <= off {
			break
		}
		off = next
	}
	return total, nil
}

// offsetsStore is a shard's groups.Store: records become one batch appended
// to the shard's partition through raft.
type offsetsStore struct {
	part   *replication.Partition
	closed <-chan struct{} // closed once the shard is closed or replaced
}

// appendBatch hands recs, as one batch, to the partition.
func (s *offsetsStore) appendBatch(recs []groups.Record) (replication.AppendResult, error) {
	rs := make([]logstore.Record, len(recs))
	for i, r := range recs {
		rs[i] = logstore.Record{Key: r.Key, Value: r.Value}
	}
	batch := logstore.AppendBatch(nil, logstore.BatchOptions{FirstTimestamp: time.Now().UnixMilli(), ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1}, rs)
	h, err := logstore.ParseBatchHeader(batch)
	if err != nil {
		return replication.AppendResult{}, kerr.UnknownServerError
	}
	return s.part.Append(batch, h), nil
}

func (s *offsetsStore) Append(recs []groups.Record) func() error {
	res, err := s.appendBatch(recs)
	if err != nil {
		return func() error { return err }
	}
	return func() error {
		if _, err := res.Wait(); err != nil {
			if errors.Is(err, kerr.NotLeaderForPartition) {
				return kerr.NotCoordinator
			}
			return err
		}
		return nil
	}
}

// checkpointBatchBytes bounds the batches a checkpoint is appended in.
const checkpointBatchBytes = 1 << 20

// AppendCheckpoint appends recs in batches of about a MiB, and once they
// are stored moves the partition's log start offset to the first of them,
// through raft as DeleteRecords does, so that the segments wholly before it
// go and a load replays only from there.
func (s *offsetsStore) AppendCheckpoint(recs []groups.Record) func() error {
	var results []replication.AppendResult
	for len(recs) > 0 {
		n, size := 0, 0
		for n < len(recs) && (n == 0 || size+len(recs[n].Key)+len(recs[n].Value) <= checkpointBatchBytes) {
			size += len(recs[n].Key) + len(recs[n].Value)
			n++
		}
		res, err := s.appendBatch(recs[:n])
		if err != nil {
			return func() error { return err }
		}
		results = append(results, res)
		recs = recs[n:]
	}
	return func() error {
		first := int64(-1)
		for i, res := range results {
			base, err := res.Wait()
			if err != nil {
				if errors.Is(err, kerr.NotLeaderForPartition) {
					return kerr.NotCoordinator
				}
				return err
			}
			if i == 0 {
				first = base
			}
		}
		if first < 0 {
			return nil // nothing to restate: nothing to keep either
		}
		select {
		case <-s.closed:
			// A shard that replaces this one may be reading the log
			// from its start offset now; moving it would cut the read.
			return kerr.NotCoordinator
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := s.part.DeleteRecords(ctx, first)
		return err
	}
}

// offsetsMaxBytes is the offsets topic's max.message.bytes (0 before the
// topic exists).
func (c *coordinator) offsetsMaxBytes() int64 {
	st := c.b.node.Controller().State()
	t := st.Topics[offsetsTopic]
	if t == nil {
		return 0
	}
	return c.b.topicInt64In(st, t, "max.message.bytes")
}

// shardFor returns the shard coordinating group, or the Kafka error to answer.
func (c *coordinator) shardFor(group string) (*groups.Shard, *kerr.Error) {
	n := c.numShards()
	if n == 0 {
		// No __consumer_offsets yet (only FindCoordinator makes it): no
		// shard of it is led here, so this broker is not the group's
		// coordinator, which Kafka answers NOT_COORDINATOR (its group
		// coordinator owns no offsets partition), and the client looks
		// the coordinator up, which creates the topic.
		return nil, kerr.NotCoordinator
	}
	idx := shardIndex(group, n)
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.shards[idx] // and st.shard, which load sets, under c.mu
	switch {
	case st == nil:
		if p := c.b.node.Partition(offsetsTopic, idx); p != nil && p.Ready() {
			// Led here, its load not begun yet (reconcile follows the
			// leadership, or a failed load waits to be tried again):
			// loading, which clients retry, as Kafka answers until a
			// shard it leads is loaded.
			return nil, kerr.CoordinatorLoadInProgress
		}
		return nil, kerr.NotCoordinator
	case st.shard == nil:
		return nil, kerr.CoordinatorLoadInProgress
	}
	return st.shard, nil
}

// localShards returns the loaded shards (for ListGroups and metrics).
func (c *coordinator) localShards() []*groups.Shard {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*groups.Shard
	for _, st := range c.shards {
		if st.shard != nil {
			out = append(out, st.shard)
		}
	}
	return out
}

// loading says whether some local shard is still loading.
func (c *coordinator) loading() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.shards {
		if st.shard == nil {
			return true
		}
	}
	return false
}

// shardIndex is Kafka's choice of partition for a group, so the same group
// lands on the same __consumer_offsets partition as in Kafka: the Java hash
// code of the id (over its UTF-16 code units), made non-negative the way
// Kafka's Utils.abs does (absolute value, MinInt32 to 0), modulo the
// partition count.
func shardIndex(group string, n int32) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(group)) {
		h = 31*h + int32(u)
	}
	switch {
	case h == math.MinInt32:
		h = 0
	case h < 0:
		h = -h
	}
	return h % n
}

func (c *coordinator) expireLoop() {
	defer c.wg.Done()
	t := time.NewTicker(durationOf(c.b.cfg.OffsetsRetentionCheckMs, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			for _, s := range c.localShards() {
				s.ExpireOffsets()
			}
		}
	}
}

// durationOf is n units, or the longest Duration where that is longer:
// Kafka takes these settings as longs of milliseconds, and a value set to
// mean "for good" (offsets.retention.minutes=2147483647) overflowed into
// a negative Duration, which expired every offset, or panicked a ticker.
func durationOf(n int64, unit time.Duration) time.Duration {
	if n > int64(math.MaxInt64/unit) {
		return math.MaxInt64
	}
	return time.Duration(n) * unit
}
