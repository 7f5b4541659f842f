package replication

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/gokafka/gokafka/logstore"
	"github.com/hashicorp/raft"
	"github.com/twmb/franz-go/pkg/kerr"
)

// RaftTimings are one raft group's timers. Each group carries its own, so the
// controller can run fast while thousands of partition groups run slow.
type RaftTimings struct {
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	CommitTimeout      time.Duration
}

// soloTimings are used by a group with a single voter. Such a leader sends
// no heartbeats, but hashicorp/raft wakes every leader once per
// LeaderLeaseTimeout to check its lease, so the timers are long: a thousand
// idle groups then cost about a hundred cheap wakeups a second. The first
// election does not wait for the heartbeat timeout: see kickElection. The
// lease stays below the kicked heartbeat timeout, as raft requires.
var soloTimings = RaftTimings{
	HeartbeatTimeout:   10 * time.Second,
	ElectionTimeout:    10 * time.Second,
	LeaderLeaseTimeout: 9 * time.Second,
	CommitTimeout:      50 * time.Millisecond,
}

// kickElection makes a freshly started single-voter group campaign now
// instead of after its heartbeat timeout. Lowering the heartbeat timeout
// through ReloadConfig wakes a follower's heartbeat timer at once; having
// never heard from a leader, the follower becomes a candidate and, being the
// only voter, wins as soon as its vote is stored.
func kickElection(r *raft.Raft) error {
	rc := r.ReloadableConfig()
	rc.HeartbeatTimeout -= rc.HeartbeatTimeout / 20
	return r.ReloadConfig(rc)
}

// Partition command extensions. A raft LogCommand entry with no extension
// is a record batch (logstore.IsBatch); every other partition command carries
// one of these tags and goes to the log's side file.
var extDeleteRecords = []byte("delete-records")

// Partition is this node's replica of one Kafka partition: a raft group whose
// log is the partition's logstore.Log.
//
// Locks: appendMu serialises the leader's append path (idempotence checks and
// handing entries to raft, in order) and guards pending/ready/epoch. mu guards
// the applied state and the fetch waiters; the raft FSM goroutine takes only
// mu, so it never waits for an appender that is itself waiting for raft.
type Partition struct {
	Topic   string
	Index   int32
	TopicID TopicID

	node   *Node
	dir    string
	logger *slog.Logger
	log    *logstore.Log
	raft   *raft.Raft
	trans  *raft.NetworkTransport
	stable *stableStore
	notify chan bool
	limits logstore.Limits // the log's, as last set; the node's reconcile goroutine
	// epochBase is the topic's Topic.EpochBase: the raft term of leader
	// epoch 0.
	epochBase uint64

	appendMu sync.Mutex
	ready    bool        // leader and caught up with its log: accepts appends
	epoch    int32       // Kafka leader epoch at which it became ready (its raft term less epochBase)
	pending  producerMap // the applied producers plus the leader's in-flight batches
	// lastStamp is the last LogAppendTime stamped (Unix ms): stamps never
	// go back while the process runs, whatever the clock does.
	lastStamp int64

	mu         sync.Mutex
	nextOffset int64       // applied: offset after the last applied batch
	producers  producerMap // applied

	waitMu  sync.Mutex
	waiters map[chan struct{}]struct{}

	// A group with one voter commits an entry the moment its log has stored
	// it, so its appends are acknowledged then (see onStored) rather than
	// after raft's leader loop gets round to processing the commit, which
	// under load can be one whole further write and fsync later. storing
	// maps each such in-flight batch, by the address of its first byte, to
	// its call.
	solo     bool
	storedMu sync.Mutex
	storing  map[*byte]*appendCall

	hw           atomic.Int64
	readyFlag    atomic.Bool
	lostFlag     atomic.Bool // its only replica's log is gone (see Lost)
	epochFlag    atomic.Int32
	lastSnapshot atomic.Uint64 // raft index of the newest persisted snapshot
	// Batch bytes applied since the partition opened (its replay included),
	// and that count as of the newest persisted snapshot: their difference
	// is what the next start would replay.
	appliedBytes, snapBytes atomic.Int64

	stop chan struct{}
	// raftDown is closed once the partition is closed: raft shut down,
	// the log closed, and every append stored answered (onStored) or
	// failed (failUnstored). What raft has not answered by then, it
	// never will, and no answer it gave can be lost to the close.
	raftDown chan struct{}
	wg       sync.WaitGroup
}

// appendCall is one batch handed to raft by the leader.
type appendCall struct {
	done     chan struct{} // closed once base and err are final
	once     sync.Once
	base     int64
	err      error
	released chan struct{} // closed once raft's future has completed
	reusable atomic.Bool   // set before released closes: raft is done with the batch
}

func newAppendCall() *appendCall {
	return &appendCall{done: make(chan struct{}), released: make(chan struct{})}
}

// finish settles the call; only the first settlement counts.
func (c *appendCall) finish(base int64, err error) bool {
	first := false
	c.once.Do(func() {
		c.base, c.err, first = base, err, true
		close(c.done)
	})
	return first
}

// AppendResult is one batch handed to Partition.Append.
type AppendResult struct {
	call *appendCall // the result to wait for; nil: settled already, with base and err
	base int64
	err  error
	own  *appendCall // the call that handed this batch to raft; nil: it never was
	// dupTs is, for a retried duplicate, the max timestamp of the batch
	// stored (0 if a state saved before it was kept does not know it).
	dupTs int64
	dup   bool
	// stamp is the LogAppendTime the batch was stamped with (AppendStamped),
	// or -1.
	stamp int64
}

// AppendTime is the LogAppendTime AppendStamped gave the batch, -1 if it
// gave none (a duplicate keeps the stored batch's: Duplicate).
func (r AppendResult) AppendTime() int64 { return r.stamp }

// Duplicate reports whether the batch was a retry of one already taken,
// and that batch's max timestamp as stored (its append time, on a topic
// with LogAppendTime), 0 if not known.
func (r AppendResult) Duplicate() (storedMaxTimestamp int64, ok bool) { return r.dupTs, r.dup }

// Wait returns the batch's base offset once it is committed, or why it was
// not.
func (r AppendResult) Wait() (int64, error) {
	if r.call == nil {
		return r.base, r.err
	}
	<-r.call.done
	return r.call.base, r.call.err
}

// Done is closed once Wait would return at once.
func (r AppendResult) Done() <-chan struct{} {
	if r.call == nil {
		return settledCh
	}
	return r.call.done
}

var settledCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Released is closed once raft has finished with the batch given to Append
// or given up on it, which may be after Wait has returned. Then Reusable
// says whether the batch's memory may be reused.
func (r AppendResult) Released() <-chan struct{} {
	if r.own == nil {
		return closedChan
	}
	return r.own.released
}

// Reusable, once Released is closed, says whether the caller may reuse the
// batch's memory. It is false when raft failed the append: a future fails
// as soon as raft starts shutting down, while its leader loop may still be
// writing the batch out, so such memory is left to the garbage collector.
func (r AppendResult) Reusable() bool { return r.own == nil || r.own.reusable.Load() }

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func partitionGroup(id TopicID, p int32) string {
	return fmt.Sprintf("%s/%d", id, p)
}

func openPartition(n *Node, t *Topic, idx int32, dir string, lc logstore.Config) (*Partition, error) {
	p := &Partition{
		Topic:     t.Name,
		Index:     idx,
		TopicID:   t.ID,
		epochBase: t.EpochBase,
		node:      n,
		dir:       dir,
		logger:    n.logger.With("topic", t.Name, "partition", idx),
		producers: producerMap{},
		waiters:   map[chan struct{}]struct{}{},
		storing:   map[*byte]*appendCall{},
		notify:    make(chan bool, 8),
		stop:      make(chan struct{}),
		raftDown:  make(chan struct{}),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := writePartitionMeta(dir, t.ID); err != nil {
		return nil, err
	}
	lc.Logger = p.logger
	lc.OnStored = p.onStored
	// A single voter commits what it stores, so its log may fsync behind
	// raft: acknowledgements and the high watermark wait for DurableEnd.
	lc.DeferSync = len(t.Replicas[idx]) == 1
	lc.OnStoreFailed = p.onStoreFailed
	lc.EpochBase = t.EpochBase
	p.limits = lc.Limits()
	lg, err := logstore.Open(dir, lc)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", dir, err)
	}
	p.log = lg
	if err := p.startRaft(t); err != nil {
		lg.Close()
		return nil, err
	}
	p.wg.Add(1)
	go p.watchLeadership()
	return p, nil
}

func (p *Partition) startRaft(t *Topic) error {
	n := p.node
	group := partitionGroup(t.ID, p.Index)
	replicas := t.Replicas[p.Index]
	// A single voter's group takes no streams from peers (SoloLayer); one
	// that gains voters must be opened with Layer (the multi-node work).
	newLayer := n.mux.Layer
	if len(replicas) == 1 {
		newLayer = n.mux.SoloLayer
	}
	layer, err := newLayer(group)
	if err != nil {
		return err
	}
	p.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  layer,
		MaxPool: 2,
		Timeout: 10 * time.Second,
		Logger:  n.raftLogger,
	})
	p.stable = newStableStore(n.db, n.commits, n.reserve, group)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(p.dir, "snapshots"), 2, n.raftLogger)
	if err != nil {
		p.trans.Close()
		return err
	}
	timings := n.cfg.PartitionTimings
	if len(replicas) == 1 {
		timings = soloTimings
		// Set before raft runs; a group that gains voters must clear it
		// first (the multi-node work).
		p.solo = true
	}
	conf := n.raftConfig(timings)
	conf.NotifyCh = p.notify
	// Snapshots hold only producer state and offsets: they bound the replay
	// on restart and let retention delete old segments. Taking one costs a
	// few fsyncs that compete with the log's, so not too often.
	conf.SnapshotThreshold = 16384
	conf.SnapshotInterval = 2 * time.Minute

	if err := p.checkSnapshots(snaps, replicas); err != nil {
		p.trans.Close()
		return err
	}
	if list, err := snaps.List(); err == nil && len(list) > 0 {
		p.lastSnapshot.Store(list[0].Index)
		p.log.SetSnapshotIndex(list[0].Index)
	}
	voters := func() (raft.Configuration, error) {
		var servers []raft.Server
		for _, id := range replicas {
			b, ok := n.controller.State().Brokers[id]
			if !ok {
				return raft.Configuration{}, fmt.Errorf("replica broker %d unknown", id)
			}
			servers = append(servers, raft.Server{ID: brokerIDString(id), Address: raft.ServerAddress(b.RaftAddr)})
		}
		return raft.Configuration{Servers: servers}, nil
	}
	lost, err := bootstrapGroup(p.logger, conf, p.log, p.stable, snaps, p.trans, voters)
	if err != nil {
		p.trans.Close()
		return fmt.Errorf("bootstrap %s: %w", group, err)
	}
	if lost && len(replicas) == 1 {
		// Its only replica's files are gone: no leader can come. The node
		// serves every other partition; this one answers
		// LEADER_NOT_AVAILABLE until its files are restored or its topic
		// deleted. (With other replicas, one of them leads and this one
		// catches up from it.)
		p.lostFlag.Store(true)
		p.logger.Error("partition lost: its log is gone, so it has no leader; restore its files, or delete the topic")
	}
	r, err := raft.NewRaft(conf, (*partitionFSM)(p), p.log, p.stable, snaps, p.trans)
	if err != nil {
		p.trans.Close()
		return fmt.Errorf("raft %s: %w", group, err)
	}
	p.raft = r
	if len(replicas) == 1 && !p.lostFlag.Load() && len(r.GetConfiguration().Configuration().Servers) == 0 {
		// Its log and snapshots hold no raft configuration: disk damage
		// took the entry that had it (and the snapshots past the damage),
		// so no leader can come. Lost, as above: the node serves the rest.
		p.lostFlag.Store(true)
		p.logger.Error("partition lost: its raft log holds no configuration (damaged; see the recovery lines above), so it has no leader; restore its files, or delete the topic")
	}
	if len(replicas) == 1 {
		if err := kickElection(r); err != nil {
			p.logger.Warn("cannot hasten the first election; it comes after the heartbeat timeout", "err", err)
		}
	}
	return nil
}

// checkSnapshots keeps raft's snapshots consistent with a log that lost its
// tail after they were taken (disk damage found by recovery): a snapshot
// past the log's last entry describes records that are gone, so it is
// dropped and the state machine is rebuilt by replaying the log; a log that
// retention emptied keeps the newest snapshot ending at its end offset, and
// one that recovery emptied at its start offset gets such a snapshot. When
// the log no longer starts at raft index 1 (retention), replay needs a starting
// point: a snapshot just before the first entry, with the first batch's
// offset and no producer state (as if that state had expired).
func (p *Partition) checkSnapshots(snaps *raft.FileSnapshotStore, replicas []int32) error {
	if err := p.dropDamagedSnapshots(snaps); err != nil {
		return err
	}
	// No snapshot at all (its meta.json unreadable, or dropped above) still
	// needs one when the log does not start at index 1.
	list, err := snaps.List()
	if err != nil {
		return err
	}
	last, err := p.log.LastIndex()
	if err != nil {
		return err
	}
	usable := 0
	var newest uint64 // index of the newest usable snapshot
	for _, m := range list {
		if m.Index <= last {
			usable++
			newest = max(newest, m.Index)
			continue
		}
		if last == 0 {
			// An empty log (retention took every segment) keeps only its
			// end offset; the newest snapshot that ends there is its state,
			// and raft ignores the older ones.
			if usable > 0 {
				continue
			}
			if next, err := snapshotNextOffset(snaps, m.ID); err == nil && next == p.log.EndOffset() {
				usable++
				continue
			}
		}
		p.logger.Warn("dropping raft snapshot past the end of the recovered log",
			"snapshot_index", m.Index, "log_last_index", last, "log_end_offset", p.log.EndOffset())
		if err := os.RemoveAll(filepath.Join(p.dir, "snapshots", "snapshots", m.ID)); err != nil {
			return fmt.Errorf("dropping snapshot %s: %w", m.ID, err)
		}
	}
	if index, term := p.log.EmptiedBelowStart(); last == 0 && usable == 0 && index > 0 {
		// Recovery emptied the log at its start offset (the data left was
		// all below it): raft starts from a snapshot ending there, at the
		// last entry it had, with no producer state, as Kafka's LogLoader
		// starts its producer state afresh there. Without it the group
		// would be lost.
		return p.writeStartSnapshot(snaps, replicas, index, term, p.log.EndOffset())
	}
	first, err := p.log.FirstIndex()
	if err != nil || first <= 1 || last == 0 {
		return err
	}
	if usable > 0 && newest+1 >= first {
		return nil
	}
	// No snapshot, or only ones ending before the log starts (the newer
	// one that covered the deleted segments was past the recovered end):
	// raft would find no entry after it to replay, and panic.
	var e raft.Log
	if err := p.log.GetLog(first, &e); err != nil {
		return err
	}
	return p.writeStartSnapshot(snaps, replicas, first-1, e.Term, p.log.FirstOffset())
}

// writeStartSnapshot stores a snapshot at raft index and term whose state
// is next and no producer state, for raft to start from.
func (p *Partition) writeStartSnapshot(snaps *raft.FileSnapshotStore, replicas []int32, index, term uint64, next int64) error {
	var servers []raft.Server
	for _, id := range replicas {
		if b, ok := p.node.controller.State().Brokers[id]; ok {
			servers = append(servers, raft.Server{ID: brokerIDString(id), Address: raft.ServerAddress(b.RaftAddr)})
		}
	}
	sink, err := snaps.Create(raft.SnapshotVersionMax, index, term, raft.Configuration{Servers: servers}, 1, p.trans)
	if err != nil {
		return err
	}
	state := partitionSnapshot{Index: index, NextOffset: next, Producers: producerMap{}}
	if err := json.NewEncoder(sink).Encode(&state); err != nil {
		sink.Cancel()
		return err
	}
	p.logger.Warn("rebuilt a starting snapshot for replay", "index", index, "next_offset", state.NextOffset)
	return sink.Close()
}

// dropDamagedSnapshots removes the snapshots whose state fails its CRC or
// does not decode (the disk changed it): raft would skip them for an older
// one, which may end before the log's first entry, or, finding none it can
// read, refuse to start the group forever. Without them the state machine
// is rebuilt from the log (below), losing at worst the producer state of
// deleted segments, as Kafka rebuilds it when its producer snapshot is
// corrupt. A state file that is gone or cannot be read (EIO) is damage
// too: it never comes back, and raft would have passed over it. Other
// errors (out of files, say) leave the snapshot alone, and the start is
// retried.
func (p *Partition) dropDamagedSnapshots(snaps *raft.FileSnapshotStore) error {
	list, err := snaps.List()
	if err != nil {
		return err
	}
	for _, m := range list {
		_, err := snapshotNextOffset(snaps, m.ID)
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		// FileSnapshotStore.Open says only this of a state whose CRC fails.
		damaged := err != nil && (err.Error() == "CRC mismatch" || errors.As(err, &syntax) || errors.As(err, &typ) ||
			errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.EIO))
		if err != nil && !damaged {
			return fmt.Errorf("reading snapshot %s: %w", m.ID, err)
		}
		if !damaged {
			continue
		}
		p.logger.Error("dropping damaged raft snapshot; the partition's state is rebuilt from its log",
			"snapshot_index", m.Index, "err", err)
		if err := os.RemoveAll(filepath.Join(p.dir, "snapshots", "snapshots", m.ID)); err != nil {
			return fmt.Errorf("dropping snapshot %s: %w", m.ID, err)
		}
	}
	return nil
}

// snapshotNextOffset reads the next offset recorded in a stored snapshot.
func snapshotNextOffset(snaps *raft.FileSnapshotStore, id string) (int64, error) {
	_, rc, err := snaps.Open(id)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	var s partitionSnapshot
	if err := json.NewDecoder(rc).Decode(&s); err != nil {
		return 0, err
	}
	return s.NextOffset, nil
}

// watchLeadership turns raft leadership into append readiness: a new leader
// first waits for every entry already in its log to be applied (a barrier),
// then takes the applied producer state as the base for its checks.
func (p *Partition) watchLeadership() {
	defer p.wg.Done()
	for {
		select {
		case <-p.stop:
			return
		case leader := <-p.notify:
			p.setReady(false)
			if leader {
				p.becomeReady()
			}
		}
	}
}

func (p *Partition) becomeReady() {
	for {
		if err := p.awaitFuture(p.raft.Barrier(30 * time.Second)); err != nil {
			if p.raft.State() != raft.Leader || errors.Is(err, raft.ErrRaftShutdown) {
				return
			}
			p.logger.Warn("leader barrier failed, retrying", "err", err)
			select {
			case <-p.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		break
	}
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.raft.State() != raft.Leader {
		return
	}
	exp := p.node.producerIDExpiration(p.node.controller.State())
	p.mu.Lock()
	if exp > 0 {
		// As Kafka loads producer state: the producers that expired
		// while the partition had no leader (a stopped broker) are not
		// brought back from its snapshot and log until the next check.
		p.producers.expire(time.Now().Add(-exp).UnixMilli())
	}
	p.pending = p.producers.clone()
	p.mu.Unlock()
	p.epoch = int32(p.raft.CurrentTerm() - p.epochBase)
	p.ready = true
	p.epochFlag.Store(p.epoch)
	p.readyFlag.Store(true)
	p.logger.Debug("partition leader ready", "epoch", p.epoch, "hw", p.hw.Load())
	p.node.readinessChanged()
}

func (p *Partition) setReady(ready bool) {
	p.appendMu.Lock()
	p.ready = ready
	p.readyFlag.Store(ready)
	p.appendMu.Unlock()
	p.node.readinessChanged()
	if !ready {
		p.wakeWaiters()
	}
}

// Ready says whether this replica leads the partition and accepts appends.
func (p *Partition) Ready() bool { return p.readyFlag.Load() }

// Lost reports whether the partition's only replica started with saved raft
// state but no log and no snapshot (its files were removed), or with no raft
// configuration in them (disk damage): it cannot elect a leader, and the
// node does not wait for it.
func (p *Partition) Lost() bool { return p.lostFlag.Load() }

// LeaderEpoch is the Kafka leader epoch of the current leadership: its raft
// term less the topic's EpochBase.
func (p *Partition) LeaderEpoch() int32 { return p.epochFlag.Load() }

// HighWatermark is the offset after the last committed and applied batch.
func (p *Partition) HighWatermark() int64 { return p.hw.Load() }

// LogStartOffset is the first offset still readable.
func (p *Partition) LogStartOffset() int64 { return p.log.StartOffset() }

// Log gives read access to the partition's log (fetch, list offsets).
func (p *Partition) Log() *logstore.Log { return p.log }

// Append hands one validated batch to raft. It must be called in the order
// batches arrived (the broker calls it on the connection's reader goroutine).
// batch must stay untouched until the result is Released.
func (p *Partition) Append(batch []byte, h logstore.BatchHeader) AppendResult {
	p.Announce()
	return p.AppendAnnounced(batch, h)
}

// Announce tells the partition's log that a batch is on its way, so that
// the sync round it would start waits for the other partitions announced
// by then (logstore.SyncMember.Expect): a produce request announces all its
// batches before it appends the first. Every Announce must be followed by
// an AppendAnnounced.
func (p *Partition) Announce() {
	if p.solo {
		p.log.ExpectStore()
	}
}

// retract takes back an Announce whose batch will not be stored.
func (p *Partition) retract() {
	if p.solo {
		p.log.RetractStore()
	}
}

// AppendAnnounced is Append for a batch already announced.
func (p *Partition) AppendAnnounced(batch []byte, h logstore.BatchHeader) AppendResult {
	return p.appendAnnounced(batch, h, false)
}

// AppendStamped is AppendAnnounced for a batch of a LogAppendTime topic: it
// stamps the batch with the append time (logstore.SetMaxTimestampLogAppend)
// under the append lock, as Kafka stamps under its log's lock, so that
// append times never go back along the log. A retried duplicate is not
// stamped: it is answered with the stored batch's time.
func (p *Partition) AppendStamped(batch []byte, h logstore.BatchHeader) AppendResult {
	return p.appendAnnounced(batch, h, true)
}

func (p *Partition) appendAnnounced(batch []byte, h logstore.BatchHeader, stamp bool) AppendResult {
	p.appendMu.Lock()
	if !p.ready {
		p.appendMu.Unlock()
		p.retract()
		return failed(kerr.NotLeaderForPartition)
	}
	var meta batchMeta
	idempotent := h.ProducerID >= 0
	if idempotent {
		last := lastSeqOf(h.BaseSequence, h.LastOffsetDelta)
		dup, err := p.pending.check(h.ProducerID, h.ProducerEpoch, h.BaseSequence, last)
		if err != nil {
			p.appendMu.Unlock()
			p.retract()
			return failed(err)
		}
		if dup != nil {
			// A retry: answered like the original, and never stored.
			d := *dup
			p.appendMu.Unlock()
			p.retract()
			if d.pending == nil {
				return AppendResult{base: d.BaseOffset, dup: true, dupTs: d.MaxTimestamp, stamp: -1}
			}
			return AppendResult{call: d.pending, dup: true, dupTs: d.MaxTimestamp, stamp: -1}
		}
	}
	stamped := int64(-1)
	if stamp {
		stamped = max(time.Now().UnixMilli(), p.lastStamp)
		p.lastStamp = stamped
		logstore.SetMaxTimestampLogAppend(batch, stamped)
		h.MaxTimestamp = stamped
	}
	if idempotent {
		meta = batchMeta{FirstSeq: h.BaseSequence, LastSeq: lastSeqOf(h.BaseSequence, h.LastOffsetDelta), BaseOffset: -1, MaxTimestamp: h.MaxTimestamp}
	}
	call := newAppendCall()
	key := unsafe.SliceData(batch)
	if p.solo {
		p.storedMu.Lock()
		p.storing[key] = call
		p.storedMu.Unlock()
	}
	// No enqueue timeout: a batch raft did not take would be failed only
	// after it is recorded below, so that the producer's next batch, its
	// request already waiting for the lock, would pass the sequence check
	// and be stored behind a gap. Raft answers at once when it shuts down,
	// and a follower's loop refuses what is queued, so this waits only for
	// a leader that is slow to take it, as Kafka's append waits for its log.
	f := p.raft.ApplyLog(raft.Log{Data: batch}, 0)
	// One raft drops at shutdown fails once the partition is closed (see
	// awaitFuture), and the goroutine below ends. Its call was answered
	// by then (onStored or failUnstored), so that failure, which a
	// future raft did answer may also give (a select between ready
	// channels), reaches no client.
	stopsWith(f, p.raftDown)
	if idempotent {
		meta.pending = call
		p.pending.record(h.ProducerID, h.ProducerEpoch, meta)
	}
	p.appendMu.Unlock()

	go func() {
		defer close(call.released)
		err := f.Error()
		base := int64(-1)
		if err == nil {
			switch r := f.Response().(type) {
			case int64:
				base = r
			case error:
				err = r
			}
		}
		if err == nil && p.solo {
			// Committed; acknowledged once the log has synced it
			// (onStored), or failed (onStoreFailed). Raft is done with the
			// batch only then.
			<-call.done
		}
		if p.solo {
			p.storedMu.Lock()
			delete(p.storing, key)
			p.storedMu.Unlock()
		}
		if err == nil {
			call.reusable.Store(true)
			call.finish(base, nil) // unless onStored did already
			return
		}
		if !call.finish(-1, raftErr(err)) {
			// Stored, hence committed and acknowledged, before raft
			// reported this (a shutdown, say): it is applied on restart.
			p.logger.Debug("acknowledged batch then raft failed", "err", err)
		}
		// The leader's view of producer sequences may hold a batch that
		// will never be stored: rebuild it from the applied state.
		p.resync()
	}()
	return AppendResult{call: call, own: call, stamp: stamped}
}

// expireProducers forgets the producers idle since before cutoff (Unix
// ms), in the applied state and in the leader's view of it, and returns
// how many the applied state held.
func (p *Partition) expireProducers(cutoff int64) int {
	p.mu.Lock()
	n := p.producers.expire(cutoff)
	p.mu.Unlock()
	p.appendMu.Lock()
	p.pending.expire(cutoff)
	p.appendMu.Unlock()
	return n
}

// Producers lists the idempotent producers whose batches the partition
// has stored (DescribeProducers), by id. The leader answers from its own
// view, as Kafka updates producer state when it appends: a single voter
// acknowledges a batch once it is stored, before raft applies it, so a
// client describing its producer right after an acknowledgement would
// otherwise find the applied state a batch behind.
func (p *Partition) Producers() []ProducerInfo {
	p.appendMu.Lock()
	if p.ready {
		m := p.pending.stored()
		p.appendMu.Unlock()
		return m.infos()
	}
	p.appendMu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.producers.infos()
}

// onStored is the log's OnStored hook. In a single-voter group an entry is
// committed once stored, so the batches Append handed to raft are
// acknowledged here: the high watermark moves past them first, so a client
// that reads its acknowledgement then lists offsets sees its records.
func (p *Partition) onStored(logs []*raft.Log) {
	if !p.solo {
		return
	}
	p.storedMu.Lock()
	defer p.storedMu.Unlock()
	// Everything up to DurableEnd is on disk, these batches included.
	p.raiseHW(p.log.DurableEnd())
	for _, l := range logs {
		c := p.takeStoring(l)
		if c == nil {
			continue
		}
		h, err := logstore.ParseBatchHeader(l.Data)
		if err != nil {
			c.finish(-1, kerr.CorruptMessage) // cannot happen: the leader validated it
			continue
		}
		c.finish(h.BaseOffset, nil)
	}
}

// onStoreFailed is the log's OnStoreFailed hook: a deferred fsync failed,
// so the batches Append handed to raft are answered with a storage error
// (the log refuses further writes, and raft steps down when it tries).
func (p *Partition) onStoreFailed(logs []*raft.Log, err error) {
	p.logger.Error("log sync failed", "err", err)
	p.storedMu.Lock()
	defer p.storedMu.Unlock()
	for _, l := range logs {
		if c := p.takeStoring(l); c != nil {
			c.finish(-1, kerr.KafkaStorageError)
		}
	}
}

// takeStoring removes and returns the append waiting for batch entry l, if
// any. storedMu must be held.
func (p *Partition) takeStoring(l *raft.Log) *appendCall {
	if !logstore.IsBatch(l) || len(l.Data) == 0 {
		return nil
	}
	key := unsafe.SliceData(l.Data)
	c := p.storing[key]
	delete(p.storing, key)
	return c
}

// raiseHW moves the high watermark up to hw (never down) and wakes the
// fetches waiting for it.
func (p *Partition) raiseHW(hw int64) {
	for {
		cur := p.hw.Load()
		if hw <= cur {
			return
		}
		if p.hw.CompareAndSwap(cur, hw) {
			break
		}
	}
	p.wakeWaiters()
}

// wakeWaiters wakes the fetches waiting on the partition: its high
// watermark moved, or it stopped leading or is closing (deleted), which
// Kafka's delayed fetches see at once too.
func (p *Partition) wakeWaiters() {
	p.waitMu.Lock()
	for ch := range p.waiters {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	p.waitMu.Unlock()
}

// Stopped reports whether the partition is closing or closed (its topic
// deleted, its replica moved away, or the node stopping).
func (p *Partition) Stopped() bool {
	select {
	case <-p.stop:
		return true
	default:
		return false
	}
}

func failed(err error) AppendResult { return AppendResult{base: -1, err: err, stamp: -1} }

// raftErr maps a raft failure to what a Kafka client should do about it.
func raftErr(err error) error {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return err
	}
	switch {
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress), errors.Is(err, raft.ErrRaftShutdown):
		return kerr.NotLeaderForPartition
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return kerr.RequestTimedOut
	}
	return kerr.KafkaStorageError
}

// resync drops readiness and, if still leader, rebuilds it.
func (p *Partition) resync() {
	p.setReady(false)
	select {
	case p.notify <- p.raft.State() == raft.Leader:
	default:
	}
}

// DeleteRecords moves the log start offset to off (-1: the high watermark)
// through raft and returns the new log start offset.
func (p *Partition) DeleteRecords(ctx context.Context, off int64) (int64, error) {
	if !p.Ready() {
		return -1, kerr.NotLeaderForPartition
	}
	hw := p.HighWatermark()
	if off == -1 {
		off = hw
	}
	if off < 0 || off > hw {
		return -1, kerr.OffsetOutOfRange
	}
	data := binary.BigEndian.AppendUint64(nil, uint64(off))
	f := p.raft.ApplyLog(raft.Log{Data: data, Extensions: extDeleteRecords}, 10*time.Second)
	// Through awaitFuture: raft never answers an entry still in its queue
	// when the partition closes, and the request would wait for good.
	if err := p.awaitFuture(f); err != nil {
		return -1, raftErr(err)
	}
	if err, ok := f.Response().(error); ok {
		return -1, err
	}
	return p.log.StartOffset(), nil
}

// Wait registers ch to receive a value (non-blocking send) when the high
// watermark advances. The returned function unregisters it.
func (p *Partition) Wait(ch chan struct{}) func() {
	p.waitMu.Lock()
	p.waiters[ch] = struct{}{}
	p.waitMu.Unlock()
	return func() {
		p.waitMu.Lock()
		delete(p.waiters, ch)
		p.waitMu.Unlock()
	}
}

// replayBound and replayBytes are how many entries, or batch bytes,
// applied since the last snapshot make a retention check take one anyway,
// to bound the replay at the next start (which reads every entry whole: a
// few microseconds each, a millisecond a MiB).
const (
	replayBound = 1024
	replayBytes = 1 << 20
)

// enforceRetention deletes whole segments past the retention limits,
// snapshotting first if raft still needs their entries; snapped says a
// snapshot was taken. It also closes the index files of old segments that
// reads opened.
func (p *Partition) enforceRetention(now time.Time, retentionMs, retentionBytes int64) (snapped bool) {
	// Old segments read since the last check let go of their index files.
	p.log.CloseIdleFiles(now, time.Minute)
	// A snapshot is taken when retention needs raft past the entries it
	// deletes, or when enough entries were applied since the last one
	// that replaying them at the next start would cost (raft's own
	// threshold is higher), whatever the topic's limits: not for every
	// partition written a little since the last check, each a few
	// fsyncs, all at once. Without limits, only segments wholly below the
	// start offset (the offsets topic's checkpoints move it) are due.
	due := p.log.RetentionDue(now, retentionMs, retentionBytes)
	if last := p.lastSnapshot.Load(); due > last || p.raft.AppliedIndex() >= last+replayBound ||
		p.appliedBytes.Load()-p.snapBytes.Load() >= replayBytes {
		snapped = p.snapshotIfNew("before retention")
	}
	if due == 0 {
		return snapped
	}
	n, err := p.log.ApplyRetention(now, retentionMs, retentionBytes, p.lastSnapshot.Load())
	if err != nil {
		if errors.Is(err, logstore.ErrClosed) && p.Stopped() {
			// Closed during the check (its topic deleted, or the node
			// stopping): nothing is left to retain, and nothing failed.
			return
		}
		p.logger.Warn("retention failed", "err", err)
		return
	}
	if n > 0 {
		p.logger.Info("retention deleted segments", "segments", n, "log_start_offset", p.log.StartOffset())
	}
	return snapped
}

// snapshotIfNew takes a raft snapshot if entries were applied since the
// last one. hashicorp/raft takes one whenever asked once anything was ever
// applied: an idle partition rewrote and synced the same snapshot at every
// retention check (thousands of fsyncs every five minutes on a broker with
// thousands of idle partitions) and at every stop.
func (p *Partition) snapshotIfNew(why string) (taken bool) {
	if p.raft.AppliedIndex() <= p.lastSnapshot.Load() {
		return false
	}
	if err := p.raft.Snapshot().Error(); err != nil {
		if !errors.Is(err, raft.ErrNothingNewToSnapshot) {
			p.logger.Debug("snapshot "+why, "err", err)
		}
		return false
	}
	return true
}

// awaitFuture waits for f, or for the partition to stop. hashicorp/raft
// never answers a future still in its apply queue (buffered, BatchApplyCh)
// or on its way to the FSM when it shuts down (hashicorp/raft#498): a
// barrier asked for just as the partition stops would hold watchLeadership,
// and with it close (which waits for it) and the node's reconcile loop,
// forever. raft's own futures wait on their ShutdownCh too, a field only
// their Error reads, which raft sets for a few kinds of future and leaves
// nil for the rest: given the partition's stop channel, f's Error returns
// once the partition stops, and nothing is left waiting.
func (p *Partition) awaitFuture(f raft.Future) error {
	if stopsWith(f, p.stop) {
		return f.Error()
	}
	// A future of a kind that has no such field: a goroutine waits on it
	// (for good, if raft never answers it).
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-p.stop:
		return raft.ErrRaftShutdown
	}
}

// stopsWith sets the ShutdownCh of f, one of hashicorp/raft's futures, to
// stop, where f has that field and no other goroutine waits on f: its Error
// then returns raft.ErrRaftShutdown once stop closes, if raft has not
// answered by then. It reports whether it did.
func stopsWith(f raft.Future, stop chan struct{}) bool {
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return false // raft's errorFuture, say: answered already
	}
	ch := v.Elem().FieldByName("ShutdownCh")
	if !ch.IsValid() || !ch.CanSet() || ch.Type() != reflect.TypeOf(stop) || !ch.IsNil() {
		return false
	}
	ch.Set(reflect.ValueOf(stop))
	return true
}

// close stops the raft group and closes the log. A clean stop snapshots
// first so the next start replays little; a partition being deleted
// (snapshot false) has no next start.
func (p *Partition) close(snapshot bool) error {
	close(p.stop)
	p.wakeWaiters()
	if snapshot && p.Ready() {
		p.snapshotIfNew("at close")
	}
	err := p.raft.Shutdown().Error()
	p.trans.Close()
	p.wg.Wait()
	if cerr := p.log.Close(); err == nil {
		err = cerr
	}
	p.failUnstored()
	close(p.raftDown)
	return err
}

// failUnstored answers the appends still waiting once raft is shut down
// and the log closed: hashicorp/raft never answers a future still in its
// apply queue when it shuts down (see awaitFuture), and their produce
// requests waited until the client hung up, holding back every later
// response on the connection. Each batch stored was acknowledged by
// onStored (or failed by onStoreFailed) as the log closed, so these never
// were. Their goroutines, waiting on raft's futures, end when close then
// closes raftDown.
func (p *Partition) failUnstored() {
	// Nothing is handed to raft after this: ApplyLog on a raft shut down
	// queues the entry as often as not (its select finds room in the
	// queue), never to be answered.
	p.appendMu.Lock()
	p.ready = false
	p.readyFlag.Store(false)
	p.appendMu.Unlock()
	p.storedMu.Lock()
	defer p.storedMu.Unlock()
	for key, c := range p.storing {
		delete(p.storing, key)
		c.finish(-1, kerr.NotLeaderForPartition)
	}
}

// partitionFSM is the Partition seen as raft's state machine. Apply runs on
// raft's FSM goroutine, in log order, for committed entries only.
type partitionFSM Partition

func (f *partitionFSM) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

func (f *partitionFSM) ApplyBatch(logs []*raft.Log) []any {
	p := (*Partition)(f)
	out := make([]any, len(logs))
	// Every entry applied is stored: its batch lies below the log's end.
	end := p.log.EndOffset()
	p.mu.Lock()
	advanced := false
	var applied int64
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			continue
		}
		if logstore.IsBatch(l) {
			h, err := logstore.ParseBatchHeader(l.Data)
			if err != nil {
				// Cannot happen for entries the leader validated; keep offsets
				// in step with the log store, which counts it the same way.
				out[i] = kerr.CorruptMessage
				continue
			}
			// The batch's own base offset, which the log store gave it
			// when it stored it, is where the log holds it: fetches
			// return it there, and Kafka rebuilds producer state from
			// it. Counting alone carried a last offset delta the disk
			// changed (in a sealed segment, where a start reads no CRC)
			// into every later batch's offset: a retry after a crash was
			// answered with an offset that was not its own. A base
			// offset outside the log is itself damaged (it is not under
			// the CRC): the count stands then.
			base := p.nextOffset
			if h.BaseOffset != base && h.BaseOffset >= 0 && h.BaseOffset < end {
				p.logger.Warn("applied batch's base offset differs from the count of the batches before it (damaged header); taking the batch's",
					"raft_index", l.Index, "base_offset", h.BaseOffset, "counted", base)
				base = h.BaseOffset
			}
			p.nextOffset = base + int64(h.LastOffsetDelta) + 1
			if h.ProducerID >= 0 {
				p.producers.record(h.ProducerID, h.ProducerEpoch, batchMeta{
					FirstSeq: h.BaseSequence, LastSeq: lastSeqOf(h.BaseSequence, h.LastOffsetDelta), BaseOffset: base,
					MaxTimestamp: h.MaxTimestamp,
				})
			}
			out[i] = base
			advanced = true
			applied += int64(len(l.Data))
			continue
		}
		switch string(l.Extensions) {
		case string(extDeleteRecords):
			if len(l.Data) != 8 {
				out[i] = kerr.InvalidRequest
				continue
			}
			if err := p.log.SetStartOffset(int64(binary.BigEndian.Uint64(l.Data))); err != nil {
				p.logger.Warn("delete records", "err", err)
				// Only an offset past the log is the client's error; a
				// start offset the disk would not take is the broker's,
				// as Kafka answers a KafkaStorageException.
				out[i] = kerr.KafkaStorageError
				if errors.Is(err, logstore.ErrOffsetOutOfRange) {
					out[i] = kerr.OffsetOutOfRange
				}
			}
		default:
			out[i] = kerr.InvalidRequest
		}
	}
	next := p.nextOffset
	p.mu.Unlock()
	p.appliedBytes.Add(applied)
	if advanced {
		// Committed is not yet durable where the log syncs behind raft.
		p.raiseHW(min(next, p.log.DurableEnd()))
	}
	return out
}

type partitionSnapshot struct {
	Index      uint64      `json:"index"`
	NextOffset int64       `json:"next_offset"`
	Producers  producerMap `json:"producers"`
	// ProducerTimes is set in every snapshot written since batches kept
	// their max timestamp (max_ts). In an older one no batch has it, and
	// Restore takes the time of the restore instead (timesAt), so that
	// expiry does not take every producer for one idle since 1970.
	ProducerTimes bool `json:"producer_times,omitempty"`
	// StartOffset is the log start offset as of the snapshot (DeleteRecords
	// moves it; the log keeps it in its log-start-offset checkpoint). The
	// DeleteRecords entries it covers are not replayed, so where the disk
	// lost or damaged that checkpoint, this is what keeps the deleted
	// records from coming back at the next start. 0 in older snapshots.
	StartOffset int64 `json:"start_offset,omitempty"`
}

// timesAt gives every batch of m without a max timestamp the time now
// (Unix ms): the producers of a snapshot written before batches kept their
// timestamps are kept for producer.id.expiration.ms from the restore, and
// their retries are still found duplicates, where expiry at the first
// leadership forgot them all and a retry of the last batch before an
// upgrade was appended a second time.
func (m producerMap) timesAt(now int64) {
	for _, p := range m {
		for i := range p.Batches {
			if p.Batches[i].MaxTimestamp == 0 {
				p.Batches[i].MaxTimestamp = now
			}
		}
	}
}

func (f *partitionFSM) Snapshot() (raft.FSMSnapshot, error) {
	p := (*Partition)(f)
	p.mu.Lock()
	s := &partitionSnapshot{NextOffset: p.nextOffset, Producers: p.producers.clone(), ProducerTimes: true,
		StartOffset: p.log.StartOffset()}
	p.mu.Unlock()
	// On the FSM goroutine, as Apply: the count is the snapshot's.
	return &fsmSnapshot{p: p, s: s, applied: p.appliedBytes.Load()}, nil
}

func (f *partitionFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	p := (*Partition)(f)
	var s partitionSnapshot
	if err := json.NewDecoder(rc).Decode(&s); err != nil {
		return fmt.Errorf("partition snapshot: %w", err)
	}
	if s.Producers == nil {
		s.Producers = producerMap{}
	}
	if !s.ProducerTimes {
		s.Producers.timesAt(time.Now().UnixMilli())
	}
	// A snapshot sent by a leader to a follower that lacks the data it
	// covers needs the segments streamed with it; that arrives with
	// multi-node replication. On one node, Restore runs at start-up over a
	// log that already holds everything the snapshot covers.
	p.mu.Lock()
	p.nextOffset = s.NextOffset
	p.producers = s.Producers
	p.hw.Store(s.NextOffset)
	p.mu.Unlock()
	if start := p.log.StartOffset(); s.StartOffset > start && s.StartOffset <= p.log.EndOffset() {
		// The log's own checkpoint was lost or damaged (Kafka takes the
		// log directory offline then): the records DeleteRecords took
		// stay deleted.
		p.logger.Error("log start offset below the partition snapshot's (its checkpoint lost or damaged); restoring it",
			"log_start_offset", start, "snapshot_start_offset", s.StartOffset)
		if err := p.log.SetStartOffset(s.StartOffset); err != nil {
			return fmt.Errorf("partition snapshot: restoring log start offset %d: %w", s.StartOffset, err)
		}
	}
	return nil
}

type fsmSnapshot struct {
	p       *Partition
	s       *partitionSnapshot
	applied int64 // Partition.appliedBytes as of the snapshot
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(s.s); err != nil {
		sink.Cancel()
		return err
	}
	if err := sink.Close(); err != nil {
		return err
	}
	// The sink's id ends in the snapshot's index; raft only persists
	// snapshots of applied state, so the log up to there is no longer needed
	// for recovery.
	var term, idx uint64
	var ms int64
	if _, err := fmt.Sscanf(sink.ID(), "%d-%d-%d", &term, &idx, &ms); err == nil && idx > s.p.lastSnapshot.Load() {
		s.p.lastSnapshot.Store(idx)
		s.p.snapBytes.Store(s.applied)
		s.p.log.SetSnapshotIndex(idx)
	}
	return nil
}

func (s *fsmSnapshot) Release() {}

// partition.metadata records which topic id a partition directory belongs to,
// so a directory left by a deleted topic of the same name is never reused.
// One that names the id already, in either form (TopicID.Is), is left as it
// is: rewriting it gains nothing, and a crash during the rewrite could leave
// a directory that no longer names its topic.
func writePartitionMeta(dir string, id TopicID) error {
	if id.Is(readPartitionMeta(dir)) {
		return nil
	}
	// Durable before the log writes anything, the directory itself too: a
	// directory holding segments whose topic id a power loss left
	// unwritten (an empty file) could be taken for another topic's of the
	// same name.
	if err := logstore.WriteFileDurable(dir, "partition.metadata", []byte("version: 0\ntopic_id: "+id.String()+"\n")); err != nil {
		return err
	}
	return logstore.SyncDir(filepath.Dir(dir))
}

func readPartitionMeta(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "partition.metadata"))
	if err != nil {
		return ""
	}
	var id string
	fmt.Sscanf(string(b), "version: 0\ntopic_id: %s", &id)
	return id
}
