package groups

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Config holds the coordinator settings, named after Kafka's broker keys. A
// zero field takes Kafka's default.
type Config struct {
	// InitialRebalanceDelay is group.initial.rebalance.delay.ms (default
	// 3s): how long the first join of an empty group waits for more
	// members. Set it negative for no delay.
	InitialRebalanceDelay time.Duration
	// MinSessionTimeout is group.min.session.timeout.ms (default 6s).
	MinSessionTimeout time.Duration
	// MaxSessionTimeout is group.max.session.timeout.ms (default 30 min).
	MaxSessionTimeout time.Duration
	// MaxGroupSize is group.max.size (default 0: unlimited).
	MaxGroupSize int
	// OffsetsRetention is offsets.retention.minutes (default 7 days).
	OffsetsRetention time.Duration
	// OffsetMetadataMaxBytes is offset.metadata.max.bytes (default 4096).
	OffsetMetadataMaxBytes int
	// CheckpointBytes is how much the log must have grown since its last
	// checkpoint, at least, before the shard writes the next (see
	// Checkpointer). Default 16 MiB.
	CheckpointBytes int64
	// MaxBatchBytes is the offsets topic's max.message.bytes, read at each
	// write (nil, or 0 and below: no bound). As Kafka's log refuses them,
	// a write whose records make a larger batch fails MESSAGE_TOO_LARGE
	// unless all are tombstones: a group's metadata record holds every
	// member's protocol metadata and assignment, and each rebalance, or
	// static member's restart, wrote it whole again.
	MaxBatchBytes func() int64

	Clock  Clock
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.InitialRebalanceDelay == 0 {
		c.InitialRebalanceDelay = 3 * time.Second
	}
	if c.InitialRebalanceDelay < 0 {
		c.InitialRebalanceDelay = 0
	}
	if c.MinSessionTimeout == 0 {
		c.MinSessionTimeout = 6 * time.Second
	}
	if c.MaxSessionTimeout == 0 {
		c.MaxSessionTimeout = 30 * time.Minute
	}
	if c.OffsetsRetention == 0 {
		c.OffsetsRetention = 7 * 24 * time.Hour
	}
	if c.OffsetMetadataMaxBytes == 0 {
		c.OffsetMetadataMaxBytes = 4096
	}
	if c.CheckpointBytes == 0 {
		c.CheckpointBytes = defaultCheckpointBytes
	}
	if c.Clock == nil {
		c.Clock = RealClock()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Shard is the coordinator of the groups of one __consumer_offsets
// partition.
type Shard struct {
	partition int32
	cfg       Config
	clock     Clock
	log       *slog.Logger
	store     Store

	mu     sync.Mutex
	closed bool
	groups map[string]*group
	seq    uint64 // source of timer identities

	// writes are appended to the store and not yet applied, in append
	// order; outbox holds those whose wait nobody has called yet.
	writes []*write
	outbox []*write

	// The latest record of each key appended or loaded, and the bytes of
	// those and of the log since the last checkpoint (checkpoint.go).
	latest        map[string][]byte
	liveBytes     int64
	logBytes      int64
	checkpointing bool  // a checkpoint is appended and not yet applied
	retryAt       int64 // after a failed checkpoint: the logBytes the next waits for

	wg sync.WaitGroup // running timer callbacks
}

// write is one Store append whose effect on memory is applied, in append
// order, once it is committed (or with the error if it failed).
type write struct {
	wait    func() error
	apply   func(err error) // runs under Shard.mu exactly once
	err     error
	done    bool
	applied chan struct{}
}

// NewShard returns the coordinator for partition of __consumer_offsets. Call
// Load with the partition's records before serving requests.
func NewShard(partition int32, cfg Config, store Store) *Shard {
	cfg = cfg.withDefaults()
	return &Shard{
		partition: partition,
		cfg:       cfg,
		clock:     cfg.Clock,
		log:       cfg.Logger.With("partition", partition),
		store:     store,
		groups:    make(map[string]*group),
	}
}

// GroupInfo is a summary of one group for metrics and tools.
type GroupInfo struct {
	Group        string
	State        string
	ProtocolType string
	Protocol     string
	Members      int
	Generation   int32
	Offsets      int
	Rebalances   uint64 // join phases completed with members since the shard loaded the group
}

// Groups returns a snapshot of every group of the shard, sorted by id.
func (s *Shard) Groups() []GroupInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]GroupInfo, 0, len(s.groups))
	for _, g := range s.groups {
		out = append(out, GroupInfo{
			Group:        g.id,
			State:        g.state.String(),
			ProtocolType: g.protocolType,
			Protocol:     g.protocol,
			Members:      len(g.members),
			Generation:   g.generation,
			Offsets:      len(g.offsets),
			Rebalances:   g.rebalances,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}

// Close stops every timer and answers every blocked JoinGroup and SyncGroup
// (and every request waiting for the store) with NOT_COORDINATOR. Later
// requests get NOT_COORDINATOR too. Close waits for running timer callbacks.
func (s *Shard) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	// Writes not yet applied fail; their requests are answered with
	// NOT_COORDINATOR. Applies may touch group state, so release the
	// members only afterwards.
	for _, w := range s.writes {
		if !isClosed(w.applied) {
			w.apply(kerr.NotCoordinator)
			close(w.applied)
		}
	}
	s.writes = nil
	for _, g := range s.groups {
		stopTimer(g.rebalanceTimer)
		stopTimer(g.syncTimer)
		for _, t := range g.pending {
			stopTimer(t)
		}
		for _, m := range g.members {
			stopTimer(m.session)
			if m.joinCh != nil {
				sendJoin(m, errJoin(kerr.NotCoordinator.Code, m.id))
			}
			if m.syncCh != nil {
				sendSync(m, errSync(kerr.NotCoordinator.Code))
			}
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func stopTimer(t Timer) {
	if t != nil {
		t.Stop()
	}
}

// afterFunc schedules f under the shard lock, as a tracked timer callback.
// f runs with s.mu held; writes it makes are flushed after it returns.
func (s *Shard) afterFunc(d time.Duration, f func()) Timer {
	if s.closed {
		return nil
	}
	return s.clock.AfterFunc(d, func() {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		s.wg.Add(1) // under mu and not closed: Close has not reached Wait
		defer s.wg.Done()
		f()
		s.unlockAndFlush()
	})
}

func (s *Shard) nextSeq() uint64 {
	s.seq++
	return s.seq
}

// appendLocked hands recs to the store and queues apply to run, in append
// order, once they are committed. The caller must later release the lock
// with unlockAndFlush, which waits for the store.
func (s *Shard) appendLocked(recs []Record, apply func(err error)) *write {
	w := &write{apply: apply, applied: make(chan struct{})}
	if s.closed {
		w.done = true
		apply(kerr.NotCoordinator)
		close(w.applied)
		return w
	}
	if s.tooLarge(recs) {
		// Failed in its turn, after the writes before it, as the store
		// would fail it; not noted as the latest of its keys.
		w.err, w.done = kerr.MessageTooLarge, true
		s.writes = append(s.writes, w)
		s.applyDoneLocked()
		return w
	}
	w.wait = s.store.Append(recs)
	s.writes = append(s.writes, w)
	s.outbox = append(s.outbox, w)
	s.noteRecords(recs)
	s.maybeCheckpointLocked()
	return w
}

// tooLarge says whether recs, unless all are tombstones, make a batch
// larger than Config.MaxBatchBytes: the size of Kafka's v2 batch of them,
// which is how the store writes them.
func (s *Shard) tooLarge(recs []Record) bool {
	if s.cfg.MaxBatchBytes == nil || !slices.ContainsFunc(recs, func(r Record) bool { return r.Value != nil }) {
		return false
	}
	limit := s.cfg.MaxBatchBytes()
	if limit <= 0 {
		return false
	}
	varint := func(v int64) int64 { return int64(len(binary.AppendVarint(nil, v))) }
	size := int64(61) // the batch header
	for i, r := range recs {
		// attributes, timestamp delta (0), offset delta, key, value
		// (null: length -1), header count (0)
		body := 1 + 1 + varint(int64(i)) + varint(int64(len(r.Key))) + int64(len(r.Key)) + 1
		if r.Value == nil {
			body += varint(-1)
		} else {
			body += varint(int64(len(r.Value))) + int64(len(r.Value))
		}
		if size += varint(body) + body; size > limit {
			return true
		}
	}
	return false
}

// unlockAndFlush releases s.mu after waiting, without the lock, for every
// write appended so far, applying each in order as it completes.
func (s *Shard) unlockAndFlush() {
	for len(s.outbox) > 0 {
		ws := s.outbox
		s.outbox = nil
		s.mu.Unlock()
		for _, w := range ws {
			err := w.wait()
			s.mu.Lock()
			w.err, w.done = err, true
			s.applyDoneLocked()
			s.mu.Unlock()
		}
		s.mu.Lock()
	}
	s.mu.Unlock()
}

func (s *Shard) applyDoneLocked() {
	for len(s.writes) > 0 && s.writes[0].done {
		w := s.writes[0]
		s.writes[0] = nil
		s.writes = s.writes[1:]
		w.apply(w.err)
		close(w.applied)
	}
}

// awaitApplied waits until w has been applied to memory (writes before it
// may still be in flight when our own store wait returned).
func awaitApplied(ctx context.Context, w *write) bool {
	select {
	case <-w.applied:
		return true
	case <-ctx.Done():
		return false
	}
}

// storeErrCode turns a Store failure into the Kafka error for the client.
func storeErrCode(err error) int16 {
	var ke *kerr.Error
	switch {
	case errors.As(err, &ke):
		// As Kafka's coordinators: a storage error (a full disk) is
		// NOT_COORDINATOR too, which clients retry; KAFKA_STORAGE_ERROR
		// itself is no error of the group APIs, and the Java consumer
		// fails the commit on it.
		if ke == kerr.NotLeaderForPartition || ke == kerr.FencedLeaderEpoch || ke == kerr.KafkaStorageError {
			return kerr.NotCoordinator.Code
		}
		if ke == kerr.MessageTooLarge || ke == kerr.RecordListTooLarge {
			// As Kafka's group coordinator: records past the offsets
			// topic's max.message.bytes are UNKNOWN_SERVER_ERROR (an
			// offset commit's are INVALID_COMMIT_OFFSET_SIZE).
			return kerr.UnknownServerError.Code
		}
		return ke.Code
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return kerr.RequestTimedOut.Code
	default:
		// Retriable: the client rediscovers the coordinator and retries.
		return kerr.CoordinatorNotAvailable.Code
	}
}
