package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// ErrOffsetOutOfRange is returned for Kafka offsets outside [StartOffset, EndOffset].
var ErrOffsetOutOfRange = errors.New("logstore: offset out of range")

// ErrClosed is returned by every method once Close has been called.
var ErrClosed = errors.New("logstore: log closed")

// Config holds the per-partition log settings (Kafka key names in comments).
type Config struct {
	SegmentBytes int64 // log.segment.bytes, default 1 GiB (at most 2 GiB - 1)
	// SegmentMs is log.roll.ms (segment.ms), default 7 days: as in Kafka,
	// a batch rolls the segment when its max timestamp is more than this
	// past the max timestamp of the segment's first batch (by the clock,
	// from the segment's creation, where that batch has no timestamp).
	SegmentMs int64
	// SegmentJitterMs is log.roll.jitter.ms (segment.jitter.ms): each
	// segment takes a random amount below it (and below SegmentMs) off
	// SegmentMs, so that partitions created together do not roll together.
	SegmentJitterMs    int64
	IndexIntervalBytes int // log.index.interval.bytes, default 4096
	// SegmentIndexBytes is log.index.size.max.bytes (segment.index.bytes),
	// default 10 MiB: as in Kafka, a segment rolls once its index is full,
	// the time index's 12-byte entries being the first to fill it (or as
	// many entries of the raft index, for batches too small to be indexed).
	SegmentIndexBytes int64
	FsyncInterval     time.Duration // 0: fsync every StoreLogs; >0: background fsync at most this often (weaker: see doc.go)
	Logger            *slog.Logger

	// Now is the clock used for segment rolling; nil means time.Now.
	Now func() time.Time
	// NoSync disables every fsync. Unsafe: for benchmarks and tests only.
	NoSync bool
	// OnSync, when set, is told how long each segment fsync of StoreLogs
	// took (metrics).
	OnSync func(time.Duration)
	// OnStored, when set, is called after every successful StoreLogs with
	// the entries just stored (durably, unless FsyncInterval > 0), batches
	// carrying their assigned base offsets, in log order. It runs with no
	// lock of the Log held: on the caller's goroutine, or for a deferred
	// sync on the log's sync goroutine once the fsync is done.
	OnStored func([]*raft.Log)
	// DeferSync lets StoreLogs return once its batches are written and
	// fsync them in the background before OnStored (see defer.go). Only for
	// a single-voter raft group, which counts an entry committed once
	// StoreLogs returns: what the caller derives from commitment (the high
	// watermark) must then stay within DurableEnd. Ignored with
	// FsyncInterval > 0 or NoSync.
	DeferSync bool
	// SyncFile, when set, performs the deferred fsyncs in place of
	// fdatasync: a hook for tests that delay or fail them.
	SyncFile func(*os.File) error
	// OnStoreFailed, when set, is told of entries whose deferred fsync
	// failed; they were never passed to OnStored, and the log takes no
	// more writes.
	OnStoreFailed func([]*raft.Log, error)
	// Recycler, when set, gives new segments the recycled .log files of
	// deleted partitions (see recycle.go).
	Recycler *Recycler
	// SyncGroup, when set, performs the deferred fsyncs together with the
	// other logs of the group (see syncgroup.go). SyncFile takes precedence.
	SyncGroup *SyncGroup
	// EpochBase is the raft term whose entries are leader epoch 0: a batch
	// written at term T carries PartitionLeaderEpoch T-EpochBase, and
	// recovery reads T back from it. Kafka's epochs start at 0 while a
	// bootstrapped raft group's first leader has term 2, so the replicas of
	// a partition pass that term. It must never change for a log, nor
	// differ between its replicas; 0 (epoch = term) is the layout of logs
	// from before it existed. No batch may be stored at a lower term.
	EpochBase uint64
}

// WithDefaults fills in zero fields.
func (c Config) WithDefaults() Config {
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = 1 << 30
	}
	if c.SegmentBytes > math.MaxInt32 {
		c.SegmentBytes = math.MaxInt32 // index positions are uint32
	}
	if c.SegmentMs <= 0 {
		c.SegmentMs = 7 * 24 * 3600 * 1000
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = 4096
	}
	if c.SegmentIndexBytes <= 0 {
		c.SegmentIndexBytes = 10 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Limits are the settings of Config that a topic's configuration changes
// while its log is open (segment.bytes, segment.ms, index.interval.bytes,
// segment.index.bytes).
type Limits struct {
	SegmentBytes       int64
	SegmentMs          int64
	SegmentJitterMs    int64
	IndexIntervalBytes int
	SegmentIndexBytes  int64
}

// Limits returns c's limits.
func (c Config) Limits() Limits {
	return Limits{c.SegmentBytes, c.SegmentMs, c.SegmentJitterMs, c.IndexIntervalBytes, c.SegmentIndexBytes}
}

// Log is one partition's log and its raft.LogStore.
//
// Locking: wmu serialises every mutation (raft's StoreLogs/DeleteRange, the
// broker's retention calls, the background flusher) and is held across file
// I/O. mu guards the state readers see; the writer takes it only to publish
// finished work, so readers never wait on an fsync. Readers hold mu.RLock
// while they pread, which keeps a segment's files open under them.
type Log struct {
	dir string
	cfg Config
	log *slog.Logger

	wmu    sync.Mutex
	failed error // a write failed and could not be rolled back; wmu
	// fileSync fsyncs one of a segment's files where a whole segment is
	// synced (sealed, closed, interval mode); tests make it slow. Set
	// before the log is used.
	fileSync func(*os.File) error

	mu     sync.RWMutex
	segs   []*segment // ascending base; every one holds >= 1 raft entry
	lso    int64      // log start offset; lso >= segs[0].base
	leo    int64      // log end offset
	epochs []epochEntry
	closed bool
	stored int64 // bytes of batches stored since Open; only grows

	snapIndex uint64 // highest raft index known to be in a snapshot (deletion guard); wmu

	// StoreLogs scratch, wmu.
	logVec                          [][]byte
	metaBuf, raftBuf, idxBuf, tsBuf []byte

	stopFlush chan struct{}
	flushDone chan struct{}

	sq         *syncQueue   // deferred syncs; nil unless DeferSync
	sm         *SyncMember  // the log's place in Config.SyncGroup; nil unless DeferSync with one
	durableEnd atomic.Int64 // log end offset of what is synced (or stored, where stores are not synced)
	syncBytes  atomic.Int64 // moving average of the .log bytes one sync covers

	corrupt map[corruptBatch]bool // batches kept with a bad CRC (set by Open only)

	// The last raft index and term of the segments Open set aside as
	// below the log start offset (EmptiedBelowStart); set by Open only.
	emptiedIndex, emptiedTerm uint64
}

// fillSyncBytes is the largest average sync for which the active segment is
// zero-filled ahead of its writes (see segment.prepareLog). Measured with
// fdatasync per write on ext4: at 60 and 150 KiB per sync filling took a
// third less CPU and wrote 25-50% faster, at 470 KiB it was even, and at
// 1.2 MiB writing every byte twice halved the rate.
const fillSyncBytes = 256 << 10

// fillChunk is how far to zero-fill ahead of the writes at most: 0 when the
// syncs are too large for it to pay, else room for about eight syncs, so
// the one sync that writes a chunk's zeros back stays short (at 10,000
// small records a second, a 64 KiB chunk instead of 1 MiB).
func (l *Log) fillChunk() int64 {
	avg := l.syncBytes.Load()
	if avg > fillSyncBytes {
		return 0
	}
	return min(max(8*avg, minReserve), maxFill)
}

// noteSync adds one sync of n .log bytes to the moving average (weight 1/8).
func (l *Log) noteSync(n int64) {
	avg := l.syncBytes.Load()
	l.syncBytes.Store(avg + (n-avg)/8)
}

var (
	_ raft.LogStore          = (*Log)(nil)
	_ raft.MonotonicLogStore = (*Log)(nil)
)

// SetLimits changes the log's limits, zero fields taking their defaults,
// as Kafka applies a topic's new configuration to its open log: the next
// write rolls, indexes and fills segments by them.
func (l *Log) SetLimits(lim Limits) {
	c := Config{SegmentBytes: lim.SegmentBytes, SegmentMs: lim.SegmentMs, SegmentJitterMs: lim.SegmentJitterMs,
		IndexIntervalBytes: lim.IndexIntervalBytes, SegmentIndexBytes: lim.SegmentIndexBytes}.WithDefaults()
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.cfg.SegmentBytes, l.cfg.SegmentMs, l.cfg.SegmentJitterMs = c.SegmentBytes, c.SegmentMs, c.SegmentJitterMs
	l.cfg.IndexIntervalBytes, l.cfg.SegmentIndexBytes = c.IndexIntervalBytes, c.SegmentIndexBytes
}

// IsMonotonic tells raft that indexes are dense (no gaps tolerated).
func (l *Log) IsMonotonic() bool { return true }

// FirstIndex returns the first raft index stored, 0 when empty.
func (l *Log) FirstIndex() (uint64, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0, ErrClosed
	}
	if len(l.segs) == 0 {
		return 0, nil
	}
	return l.segs[0].firstIndex, nil
}

// LastIndex returns the last raft index stored, 0 when empty.
func (l *Log) LastIndex() (uint64, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0, ErrClosed
	}
	return l.lastIndexLocked(), nil
}

func (l *Log) lastIndexLocked() uint64 {
	if len(l.segs) == 0 {
		return 0
	}
	return l.segs[len(l.segs)-1].lastIndex()
}

// segForIndex finds the segment holding raft index idx. Caller holds mu.
func (l *Log) segForIndex(idx uint64) *segment {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].firstIndex > idx }) - 1
	if i < 0 || idx > l.segs[i].lastIndex() {
		return nil
	}
	return l.segs[i]
}

// segForOffset finds the index of the segment whose base is the largest <= off.
func (l *Log) segForOffset(off int64) int {
	return sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > off }) - 1
}

// GetLog reads raft entry index into out.
//
// At a start the derived files of a segment are checked at their ends, not
// record by record (that would read every sealed segment's .raft whole): a
// record damaged at rest is found here, where raft reads it, and the
// segment's derived files are rebuilt from its data, once, before it is
// read again. (Raft panics on a read that fails: a bit flipped in a .raft
// file made the node fail at every start.)
func (l *Log) GetLog(index uint64, out *raft.Log) error {
	err := l.getLog(index, out)
	if !errors.Is(err, errEntryDamaged) {
		return err
	}
	if rerr := l.repair(index, err); rerr != nil {
		return fmt.Errorf("%w; not rebuilt: %v", err, rerr)
	}
	return l.getLog(index, out)
}

// errEntryDamaged is a raft entry whose record in the derived files does
// not agree with the data.
var errEntryDamaged = errors.New("raft entry record damaged")

func (l *Log) getLog(index uint64, out *raft.Log) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	s := l.segForIndex(index)
	if s == nil {
		return raft.ErrLogNotFound
	}
	e, err := s.raftAt(int(index - s.firstIndex))
	if err != nil {
		return err
	}
	switch e.kind {
	case kindBatch:
		if !e.within(s.logSize) || e.length < BatchHeaderSize {
			return fmt.Errorf("segment %d: entry %d points outside the log: %w", s.base, index, errEntryDamaged)
		}
		data := make([]byte, e.length)
		if _, err := s.logF.ReadAt(data, int64(e.pos)); err != nil {
			return fmt.Errorf("segment %d: read entry %d: %w", s.base, index, err)
		}
		if h := parseHeader(data); l.corrupt[corruptBatch{s.base, int64(e.pos), h.BaseOffset}] {
			// Kept with a bad CRC: its last offset delta as recovery
			// found it, which raft's FSM counts offsets by (the one
			// it carries is as corrupt as its records).
			hs := headerScanner{f: s.logF, limit: s.logSize}
			h = keptHeader(&hs, int64(e.pos), h, s.logSize, s.end)
			binary.BigEndian.PutUint32(data[offLastOffsetDelta:], uint32(h.LastOffsetDelta))
		}
		*out = raft.Log{Index: index, Term: e.term, Type: raft.LogType(e.typ), Data: data}
		if !IsBatch(out) || e.term != l.termOf(parseHeader(data).PartitionLeaderEpoch) {
			return fmt.Errorf("segment %d: entry %d: no batch of its term where it points: %w", s.base, index, errEntryDamaged)
		}
	case kindMeta:
		if !e.within(s.metaSize) {
			return fmt.Errorf("segment %d: entry %d points outside the sidecar: %w", s.base, index, errEntryDamaged)
		}
		r, err := s.readMeta(int64(e.pos), s.metaSize)
		if err != nil || r.index != index {
			return fmt.Errorf("segment %d: entry %d: no sidecar record of it where it points (%v): %w", s.base, index, err, errEntryDamaged)
		}
		*out = raft.Log{Index: index, Term: r.term, Type: raft.LogType(r.typ), Data: r.data, Extensions: r.ext}
	default:
		return fmt.Errorf("segment %d: entry %d of kind %d: %w", s.base, index, e.kind, errEntryDamaged)
	}
	if e.appended != 0 {
		out.AppendedAt = time.Unix(0, e.appended)
	}
	return nil
}

// repair rebuilds the derived files of the segment holding raft entry
// index, whose record was found damaged (why), from its data, as Open
// would, unless the data is damaged too: that is cut only at a start.
// A segment is rebuilt this way once.
func (l *Log) repair(index uint64, why error) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.drainSyncs(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	s := l.segForIndex(index)
	if s == nil {
		return raft.ErrLogNotFound
	}
	if s.repaired {
		return errors.New("rebuilt once already")
	}
	s.repaired = true
	done, err := s.useAux()
	if err != nil {
		return err
	}
	defer done()
	next := l.leo // where s ends: the next segment's base, or the log's end
	if s != l.segs[len(l.segs)-1] {
		next = s.end
	}
	l.log.Warn("raft entry record does not agree with the segment's data (damaged at rest); rebuilding the segment's indexes",
		"segment", s.base, "raft_index", index, "err", why)
	idx := s.idx
	if _, err := l.rebuild(s, false, next, true); err != nil {
		// The start that cuts it must rebuild it: its .raft header
		// goes (loadCheap), its records stay for the reads until then.
		if _, werr := s.raftF.WriteAt(make([]byte, len(raftMagic)), 0); werr == nil {
			werr = s.raftF.Sync()
		}
		l.log.Error("segment's data is damaged too; it is cut there at the next start", "segment", s.base, "err", err)
		return err
	}
	if s.sealed {
		s.idx = idx // nil: a sealed segment's index is read from its file
	}
	return nil
}

// StoreLog stores one entry.
func (l *Log) StoreLog(e *raft.Log) error { return l.StoreLogs([]*raft.Log{e}) }

// pending is what one StoreLogs call adds to one segment.
type pending struct {
	s                  *segment
	isNew, seal        bool
	logStart, logLen   int64
	metaStart, metaLen int64
	raftStart          int
	raft               []raftEnt
	idx                []idxEnt
	end, maxTs         int64
	bytesSinceIdx      int64
	logVec             [][]byte // the batches, written with one pwritev
	metaBuf            []byte
	raftBuf            []byte
	idxBuf, tsBuf      []byte
	noSync             bool // the log file's fsync is deferred
}

// StoreLogs appends entries. Batches get their Kafka base offset and leader
// epoch patched in place (in e.Data) before they are written, so the caller's
// copy, the file and every replica agree. With FsyncInterval 0 the touched
// files are fsynced before it returns: the sidecar first, then the segment,
// so recovery can always place a surviving batch at its raft index.
func (l *Log) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	deferred, err := l.storeLogs(logs)
	if err != nil {
		return err
	}
	if !deferred && l.cfg.OnStored != nil {
		l.cfg.OnStored(logs)
	}
	return nil
}

// DurableEnd is the log end offset of what is on disk: with DeferSync the
// synced part of the log, otherwise everything stored.
func (l *Log) DurableEnd() int64 { return l.durableEnd.Load() }

// storeLogs writes logs; deferred says their fsync and OnStored were left
// to the sync goroutine.
func (l *Log) storeLogs(logs []*raft.Log) (deferred bool, err error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return false, err
	}
	last := l.lastIndexLocked()
	if last != 0 && logs[0].Index != last+1 {
		return false, fmt.Errorf("logstore: store index %d after %d: indexes must be contiguous", logs[0].Index, last)
	}
	for i := 1; i < len(logs); i++ {
		if logs[i].Index != logs[i-1].Index+1 {
			return false, fmt.Errorf("logstore: store index %d after %d: indexes must be contiguous", logs[i].Index, logs[i-1].Index)
		}
	}

	now := l.cfg.Now()
	var ps []*pending
	var cur *pending
	leo := l.leo
	lastEpoch := int32(-1)
	if n := len(l.epochs); n > 0 {
		lastEpoch = l.epochs[n-1].epoch
	}
	var eps []epochEntry // the new epoch checkpoint, if an epoch starts here
	epochData := false   // a batch starts an epoch
	if len(l.segs) > 0 {
		cur = l.newPending(l.segs[len(l.segs)-1], false)
		ps = append(ps, cur)
	}
	fail := func(err error) error {
		l.rollback(ps)
		return err
	}
	for _, e := range logs {
		batch := IsBatch(e)
		// As in Kafka, a leader epoch starts at the log end when its leader
		// is elected, which the leader's first entry (raft's no-op) marks:
		// the checkpoint's sync is paid then, not by the epoch's first
		// produce. An epoch left without data is replaced by the next one
		// starting at the same offset, or dropped by recovery.
		if batch && e.Term < l.cfg.EpochBase {
			return false, fail(fmt.Errorf("logstore: batch at raft index %d has term %d, below the log's epoch base %d", e.Index, e.Term, l.cfg.EpochBase))
		}
		if epoch := l.epochOf(e.Term); epoch != lastEpoch && (batch || e.Type == raft.LogNoop && e.Term >= l.cfg.EpochBase) {
			if eps == nil {
				eps = slices.Clone(l.epochs)
			}
			if epoch < lastEpoch {
				l.log.Warn("leader epoch checkpoint holds a later epoch than the log's: its entries from that epoch on are dropped",
					"epoch", epoch, "checkpoint_epoch", lastEpoch, "offset", leo)
			}
			eps = assignEpoch(eps, epoch, leo)
			lastEpoch = epoch
			epochData = epochData || batch
		}
		if cur == nil || (batch && l.shouldRoll(cur, int64(len(e.Data)), leo, e, now)) {
			if cur != nil {
				cur.seal = true
			}
			// Its files are made when it is written (writePending):
			// after the segment it follows is synced and sealed, so that
			// a segment's files exist only once every earlier one is
			// durable, and a crash can tear only the last one.
			cur = l.newPending(l.newSegment(leo, e.Index, now), true)
			ps = append(ps, cur)
		}
		if batch {
			d := e.Data
			SetBaseOffset(d, leo)
			SetPartitionLeaderEpoch(d, l.epochOf(e.Term))
			h := parseHeader(d)
			pos := cur.logStart + cur.logLen
			if cur.logLen == 0 && cur.logStart == 0 || cur.bytesSinceIdx >= int64(l.cfg.IndexIntervalBytes) {
				cur.maxTs = max(cur.maxTs, h.MaxTimestamp)
				ie := idxEnt{relOff: uint32(leo - cur.s.base), pos: uint32(pos), maxTs: cur.maxTs}
				cur.idx = append(cur.idx, ie)
				cur.idxBuf, cur.tsBuf = encodeIdx(cur.idxBuf, cur.tsBuf, ie)
				cur.bytesSinceIdx = 0
			}
			cur.maxTs = max(cur.maxTs, h.MaxTimestamp)
			cur.bytesSinceIdx += int64(len(d))
			cur.logVec = append(cur.logVec, d)
			cur.logLen += int64(len(d))
			cur.raft = append(cur.raft, raftEnt{pos: uint64(pos), length: uint32(len(d)), typ: uint8(raft.LogCommand), kind: kindBatch, term: e.Term, appended: appendedNanos(e)})
			leo += int64(h.LastOffsetDelta) + 1
			cur.end = leo
		} else {
			pos := cur.metaStart + cur.metaLen
			before := len(cur.metaBuf)
			cur.metaBuf = encodeMetaRec(cur.metaBuf, e, cur.logStart+cur.logLen)
			n := int64(len(cur.metaBuf) - before)
			cur.metaLen += n
			cur.raft = append(cur.raft, raftEnt{pos: uint64(pos), length: uint32(n), typ: uint8(e.Type), kind: kindMeta, term: e.Term, appended: appendedNanos(e)})
		}
		cur.raftBuf = append(cur.raftBuf, make([]byte, raftRecSize)...)
		cur.raft[len(cur.raft)-1].encode(cur.raftBuf[len(cur.raftBuf)-raftRecSize:])
	}
	// Defer the fsync of plain appends to the active segment; anything
	// else first waits for the deferred ones, so syncs stay in order.
	if l.deferring() {
		p := ps[0]
		deferred = len(ps) == 1 && !p.isNew && !p.seal && len(p.metaBuf) == 0 && len(p.logVec) > 0 && eps == nil
		if deferred {
			p.noSync = true
		} else if err := l.drainSyncs(); err != nil {
			return false, fail(err)
		}
	}
	for _, p := range ps {
		if err := l.writePending(p); err != nil {
			return false, fail(err)
		}
	}
	if len(ps) > 1 {
		if err := l.syncDir(); err != nil {
			return false, fail(err)
		}
	}
	// A new leader epoch goes into the checkpoint before the log takes the
	// entries: if it cannot be written (a full disk), a store holding the
	// epoch's first batch fails as a whole, so raft's retry of the same
	// indexes finds the log as it was. An election's no-op is stored
	// without it, the epoch's first batch writing it instead, so that a
	// node on a full disk still takes the lead of what it holds and
	// serves reads.
	if eps != nil {
		if err := l.writeEpochs(eps); err != nil {
			if epochData {
				return false, fail(err)
			}
			l.log.Debug("leader epoch left to its first batch", "epoch", lastEpoch, "err", err)
			eps = nil
		}
	}

	l.mu.Lock()
	for _, p := range ps {
		s := p.s
		if p.isNew {
			l.segs = append(l.segs, s)
		}
		s.nraft += len(p.raft)
		s.idx = append(s.idx, p.idx...)
		s.nidx += len(p.idx)
		s.logSize += p.logLen
		l.stored += p.logLen
		s.metaSize += p.metaLen
		s.end = p.end
		s.maxTs = p.maxTs
		s.bytesSinceIdx = p.bytesSinceIdx
		if p.seal {
			s.sealed, s.idx = true, nil
			s.closeIdleAux(time.Now()) // fsynced when sealed; reopened if read
		}
	}
	l.leo = leo
	if deferred {
		l.enqueueSync(deferredStore{logs: logs, f: ps[0].s.logF, end: leo, bytes: ps[0].logLen})
	} else {
		l.durableEnd.Store(leo)
	}
	if eps != nil {
		l.epochs = eps
	}
	l.mu.Unlock()
	if !deferred && l.sm != nil {
		l.sm.arrive(commands(logs)) // synced here, not through the group
	}
	l.recycle(ps)
	return deferred, nil
}

func (l *Log) writable() error {
	if l.closed {
		return ErrClosed
	}
	if l.failed != nil {
		return l.failed
	}
	return l.syncFailed()
}

func (l *Log) newPending(s *segment, isNew bool) *pending {
	p := &pending{
		s: s, isNew: isNew,
		logStart: s.logSize, metaStart: s.metaSize, raftStart: s.nraft,
		end: s.end, maxTs: s.maxTs, bytesSinceIdx: s.bytesSinceIdx,
	}
	// The first segment of a call reuses the Log's scratch buffers.
	if l.raftBuf != nil {
		p.logVec, p.metaBuf, p.raftBuf, p.idxBuf, p.tsBuf = l.logVec[:0], l.metaBuf[:0], l.raftBuf[:0], l.idxBuf[:0], l.tsBuf[:0]
		l.logVec, l.metaBuf, l.raftBuf, l.idxBuf, l.tsBuf = nil, nil, nil, nil, nil
	}
	return p
}

func (l *Log) recycle(ps []*pending) {
	const keep = 4 << 20 // don't pin huge buffers
	p := ps[len(ps)-1]
	if cap(p.metaBuf) <= keep && cap(p.raftBuf) <= keep {
		clear(p.logVec) // drop the references to the callers' batches
		l.logVec, l.metaBuf, l.raftBuf, l.idxBuf, l.tsBuf = p.logVec, p.metaBuf, p.raftBuf, p.idxBuf, p.tsBuf
	}
}

func (l *Log) shouldRoll(p *pending, size, leo int64, e *raft.Log, now time.Time) bool {
	s := p.s
	logSize := p.logStart + p.logLen
	if logSize == 0 {
		return false
	}
	if logSize+size > l.cfg.SegmentBytes {
		return true
	}
	// As Kafka's LogSegment.shouldRoll: time is measured in the records'
	// timestamps, so a backfill of old records rolls as the live ones
	// did, and by the clock only for a segment whose first batch has no
	// timestamp.
	waited := now.UnixMilli() - s.createdMs
	if first := p.firstTs(); first >= 0 {
		waited = parseHeader(e.Data).MaxTimestamp - first
	}
	if waited > l.cfg.SegmentMs-s.rollJitter {
		return true
	}
	if int64(s.nidx+len(p.idx)) >= l.cfg.SegmentIndexBytes/tsRecSize {
		return true // the index is full
	}
	// As full is the raft index, one entry a batch, once it holds as many:
	// batches far smaller than IndexIntervalBytes would otherwise grow it
	// with no bound but SegmentBytes (32 bytes a batch, hundreds of MB for
	// a 1 GiB segment of small batches), and with it the check of the
	// active segment's entries at start.
	if int64(s.nraft+len(p.raft)) >= l.cfg.SegmentIndexBytes/tsRecSize {
		return true
	}
	// Relative offsets in the index are uint32.
	return leo+int64(parseHeader(e.Data).LastOffsetDelta)-s.base > math.MaxUint32-1
}

// firstTs is the max timestamp of the first batch of p's segment (its
// first index entry's), -1 while it has none.
func (p *pending) firstTs() int64 {
	switch {
	case len(p.s.idx) > 0:
		return p.s.idx[0].maxTs
	case len(p.idx) > 0 && p.logStart == 0:
		return p.idx[0].maxTs
	}
	return -1
}

// rollJitter is what a new segment takes off SegmentMs, as Kafka's
// randomSegmentJitter: below SegmentJitterMs and below SegmentMs.
func (l *Log) rollJitter() int64 {
	if n := min(l.cfg.SegmentJitterMs, l.cfg.SegmentMs); n > 0 {
		return rand.Int64N(n)
	}
	return 0
}

// writePending writes one segment's share of a StoreLogs call: sidecar,
// fsync, segment, fsync (ordering matters for recovery), then the derived
// files (.raft, .index, .timeindex), which recovery can rebuild and which are
// therefore fsynced only when the segment is sealed.
func (l *Log) writePending(p *pending) error {
	s := p.s
	if p.isNew {
		if err := l.createFiles(s); err != nil {
			return err
		}
	}
	sync := l.cfg.FsyncInterval == 0 && !l.cfg.NoSync
	if len(p.metaBuf) > 0 {
		if _, err := s.metaF.WriteAt(p.metaBuf, p.metaStart); err != nil {
			return fmt.Errorf("segment %d: write sidecar: %w", s.base, err)
		}
		if sync {
			if err := s.metaF.Sync(); err != nil {
				return fmt.Errorf("segment %d: sync sidecar: %w", s.base, err)
			}
		}
	}
	if len(p.logVec) > 0 {
		var fill int64
		if sync {
			fill = l.fillChunk()
		}
		s.prepareLog(p.logStart, p.logStart+p.logLen, fill)
		if err := writevAt(s.logF, p.logVec, p.logStart); err != nil {
			return fmt.Errorf("segment %d: write log: %w", s.base, err)
		}
		if sync && !p.noSync {
			start := time.Now()
			if err := datasync(s.logF); err != nil {
				return fmt.Errorf("segment %d: sync log: %w", s.base, err)
			}
			l.noteSync(p.logLen)
			if l.cfg.OnSync != nil {
				l.cfg.OnSync(time.Since(start))
			}
		}
	}
	if _, err := s.raftF.WriteAt(p.raftBuf, raftHdrSize+int64(p.raftStart)*raftRecSize); err != nil {
		return fmt.Errorf("segment %d: write raft index: %w", s.base, err)
	}
	if len(p.idxBuf) > 0 {
		if _, err := s.idxF.WriteAt(p.idxBuf, int64(s.nidx)*idxRecSize); err != nil {
			return fmt.Errorf("segment %d: write index: %w", s.base, err)
		}
		if _, err := s.tsF.WriteAt(p.tsBuf, int64(s.nidx)*tsRecSize); err != nil {
			return fmt.Errorf("segment %d: write time index: %w", s.base, err)
		}
	}
	s.writes++
	if p.seal {
		// Give back the reserved blocks past the sealed segment's end.
		if err := s.releaseLog(p.logStart + p.logLen); err != nil {
			return fmt.Errorf("segment %d: release reserved space: %w", s.base, err)
		}
		return l.syncSegment(s)
	}
	return nil
}

// rollback undoes the file writes of a failed StoreLogs. If that fails too
// the log refuses further writes: its files no longer match its memory.
func (l *Log) rollback(ps []*pending) {
	for _, p := range ps {
		s := p.s
		if p.isNew {
			if err := s.remove(); err != nil {
				l.failed = fmt.Errorf("logstore: rollback: %w", err)
			}
			continue
		}
		for _, t := range []struct {
			f    *os.File
			size int64
		}{
			{s.logF, s.logSize}, {s.metaF, s.metaSize},
			{s.raftF, raftHdrSize + int64(s.nraft)*raftRecSize},
			{s.idxF, int64(s.nidx) * idxRecSize}, {s.tsF, int64(s.nidx) * tsRecSize},
		} {
			if err := t.f.Truncate(t.size); err != nil {
				l.failed = fmt.Errorf("logstore: rollback: %w", err)
			}
		}
		s.reserved, s.filled = min(s.reserved, s.logSize), min(s.filled, s.logSize) // the truncate freed the rest
	}
}

func (l *Log) syncSegment(s *segment) error {
	if l.cfg.NoSync {
		return nil
	}
	for _, f := range s.files() {
		if err := l.fileSync(f); err != nil {
			return fmt.Errorf("segment %d: sync: %w", s.base, err)
		}
	}
	s.synced = s.writes
	return nil
}

func (l *Log) syncDir() error {
	if l.cfg.NoSync {
		return nil
	}
	return syncDir(l.dir)
}

// newSegment returns a new segment whose files createFiles makes.
func (l *Log) newSegment(base int64, firstIndex uint64, now time.Time) *segment {
	return &segment{dir: l.dir, base: base, firstIndex: firstIndex, createdMs: now.UnixMilli(), end: base, maxTs: -1,
		rollJitter: l.rollJitter(), checked: true, idx: []idxEnt{}, metaSize: metaHdrSize}
}

// createFiles creates the files of a new segment. The sidecar header,
// which names the first raft index, is made durable before anything else.
func (l *Log) createFiles(s *segment) error {
	base, firstIndex := s.base, s.firstIndex
	var err error
	open := func(ext string) *os.File {
		if err != nil {
			return nil
		}
		var f *os.File
		f, err = os.OpenFile(s.path(ext), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		return f
	}
	s.metaF = open(extRaftMeta)
	s.raftF = open(extRaft)
	s.idxF = open(extIndex)
	s.tsF = open(extTimeIndex)
	if err == nil {
		if size, ok := l.cfg.Recycler.Take(s.path(extLog)); ok {
			// Zeros on disk already: the writes overwrite them, and the
			// segment cuts what is left past its data when sealed or
			// closed.
			if s.logF, err = os.OpenFile(s.path(extLog), os.O_RDWR, 0); err == nil {
				s.reserved, s.filled = size, size
			}
		} else {
			s.logF = open(extLog)
		}
	}
	if err == nil {
		_, err = s.metaF.WriteAt(encodeMetaHeader(firstIndex, s.createdMs), 0)
	}
	if err == nil {
		_, err = s.raftF.WriteAt(encodeRaftHeader(firstIndex), 0)
	}
	if err == nil && !l.cfg.NoSync {
		err = s.metaF.Sync()
	}
	if err == nil {
		err = l.syncDir()
	}
	if err != nil {
		s.remove()
		return fmt.Errorf("segment %d: create: %w", base, err)
	}
	return nil
}

// Sync makes everything stored so far durable.
func (l *Log) Sync() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if err := l.drainSyncs(); err != nil {
		return err
	}
	return l.syncActive()
}

func (l *Log) syncActive() error {
	if len(l.segs) == 0 {
		return nil
	}
	s := l.segs[len(l.segs)-1]
	if s.synced == s.writes {
		return nil
	}
	return l.syncSegment(s)
}

func (l *Log) flusher() {
	defer close(l.flushDone)
	t := time.NewTicker(l.cfg.FsyncInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stopFlush:
			return
		case <-t.C:
			l.flushActive()
		}
	}
}

// flushActive is the flusher's sync of the active segment. It holds wmu
// only to look at the segment, not through the fsyncs: appends in interval
// mode are never made to wait for the disk (holding it stalled them for
// as long as a sync of a busy segment took, hundreds of milliseconds).
// Only the writes counted before the sync began are known synced after
// it; a Sync meanwhile does not count on this one and syncs itself.
func (l *Log) flushActive() {
	l.wmu.Lock()
	var s *segment
	var upTo uint64
	var files []*os.File
	if n := len(l.segs); !l.closed && n > 0 && l.segs[n-1].synced != l.segs[n-1].writes {
		s, upTo, files = l.segs[n-1], l.segs[n-1].writes, l.segs[n-1].files()
	}
	l.wmu.Unlock()
	if s == nil || l.cfg.NoSync {
		return
	}
	for _, f := range files {
		err := l.fileSync(f)
		if errors.Is(err, os.ErrClosed) {
			return // truncated away, or sealed (and synced) meanwhile
		}
		if err != nil {
			l.log.Error("background fsync failed", "segment", s.base, "err", err)
			return
		}
	}
	l.wmu.Lock()
	s.synced = max(s.synced, upTo)
	l.wmu.Unlock()
}

// Close flushes, writes the clean-shutdown marker (with the log end
// offset: cleanEnd) and closes the files.
func (l *Log) Close() error {
	if l.stopFlush != nil {
		select {
		case <-l.stopFlush:
		default:
			close(l.stopFlush)
		}
		<-l.flushDone
	}
	l.stopSyncer() // the deferred syncs finish first
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed {
		return nil
	}
	if l.failed == nil {
		l.failed = l.syncFailed()
	}
	var err error
	if n := len(l.segs); n > 0 && l.failed == nil {
		// Give back the active segment's reserved space; a restart
		// reserves again as it writes.
		if s := l.segs[n-1]; s.prepared() {
			err = s.releaseLog(s.logSize)
		}
	}
	if err == nil {
		err = l.syncActive()
	}
	if err == nil && l.failed == nil {
		err = l.writeClean()
	}
	l.mu.Lock()
	l.closed = true
	segs := l.segs
	l.mu.Unlock()
	for _, s := range segs {
		if cerr := s.close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// Size is the number of bytes in segment files.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.segs {
		n += s.logSize
	}
	return n
}

// Stored is the number of bytes of batches stored since the log was opened.
// Unlike Size it never shrinks, so that retention deleting segments does not
// hide what was appended meanwhile from whoever measures growth with it.
func (l *Log) Stored() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.stored
}

// StartOffset is the log start offset.
func (l *Log) StartOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.lso
}

// FirstOffset is the base offset of the oldest segment: the offset the first
// batch still on disk starts at (the log start offset may be past it).
func (l *Log) FirstOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if len(l.segs) == 0 {
		return l.leo
	}
	return l.segs[0].base
}

// EmptiedBelowStart reports the last raft index, and its term, of the
// segments Open moved aside because the log start offset checkpoint was
// past their end (disk damage): the log is then empty at that start, and
// raft must restart from a snapshot at that index ending there. 0, 0 when
// Open found no such log.
func (l *Log) EmptiedBelowStart() (index, term uint64) {
	return l.emptiedIndex, l.emptiedTerm
}

// EndOffset is the log end offset: the offset the next batch will get.
func (l *Log) EndOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.leo
}
