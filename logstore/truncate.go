package logstore

import (
	"fmt"
	"math"
	"time"
)

// DeleteRange removes raft entries min..max inclusive. raft uses it two ways:
//   - conflicting suffix (max >= LastIndex): exact; EndOffset rolls back to
//     the first removed batch's base offset;
//   - compaction prefix (min <= FirstIndex): whole segments whose entries
//     are all <= max go; a partly covered segment stays.
//
// Removing every entry empties the log but keeps EndOffset (the next
// StoreLogs may then start at any raft index).
func (l *Log) DeleteRange(min, max uint64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if err := l.drainSyncs(); err != nil {
		return err
	}
	if len(l.segs) == 0 || min > max {
		return nil
	}
	first, last := l.segs[0].firstIndex, l.lastIndexLocked()
	switch {
	case min <= first && max >= last:
		return l.dropAll(l.leo)
	case max >= last:
		if min > last {
			return nil
		}
		return l.truncateSuffix(min)
	case min <= first:
		n := 0
		for n < len(l.segs)-1 && l.segs[n].lastIndex() <= max {
			n++
		}
		return l.deleteFront(n)
	}
	return fmt.Errorf("logstore: DeleteRange(%d, %d) inside [%d, %d] is neither a prefix nor a suffix", min, max, first, last)
}

// dropAll removes every segment and sets LSO = LEO = next. The start offset
// checkpoint goes first so that a crash part way cannot lose the offset.
func (l *Log) dropAll(next int64) error {
	if err := l.writeStartOffset(next); err != nil {
		return err
	}
	l.mu.Lock()
	old := l.segs
	l.segs = nil
	l.lso, l.leo = next, next
	l.durableEnd.Store(next)
	l.mu.Unlock()
	return l.removeSegments(old)
}

func (l *Log) removeSegments(old []*segment) error {
	var first error
	for _, s := range old {
		if err := s.remove(); err != nil && first == nil {
			first = err
		}
	}
	if err := l.syncDir(); err != nil && first == nil {
		first = err
	}
	return first
}

// deleteFront removes the n oldest segments (never all of them).
func (l *Log) deleteFront(n int) error {
	if n <= 0 {
		return nil
	}
	if n >= len(l.segs) {
		n = len(l.segs) - 1
	}
	if n <= 0 {
		return nil
	}
	// They go on the authority of a raft snapshot (snapIndex), which may
	// cover entries whose deferred fsync has not run yet: a power loss
	// would then cut them, drop that snapshot as past the recovered log,
	// and leave an older one that ends before the log starts, from which
	// raft cannot replay. Entries up to the snapshot must be durable first.
	if err := l.drainSyncs(); err != nil {
		return err
	}
	// The new start is durable before any reader sees it: a crash while
	// the files go would otherwise bring back the records below it, and
	// the log start clients saw would go backwards.
	if start := l.segs[n].base; start > l.lso {
		if err := l.writeStartOffset(start); err != nil {
			return err
		}
	}
	l.mu.Lock()
	old := append([]*segment(nil), l.segs[:n]...)
	l.segs = append([]*segment(nil), l.segs[n:]...)
	l.lso = max(l.lso, l.segs[0].base)
	// Forget epochs that ended before the new start.
	for len(l.epochs) > 1 && l.epochs[1].start <= l.lso {
		l.epochs = l.epochs[1:]
	}
	eps := append([]epochEntry(nil), l.epochs...)
	l.mu.Unlock()
	err := l.removeSegments(old)
	if werr := l.writeEpochs(eps); err == nil {
		err = werr
	}
	return err
}

// truncateSuffix removes raft entries >= from (which lies inside the log and
// is above FirstIndex). The .log is cut and fsynced before the sidecar:
// recovery drops sidecar records that point past the end of the .log, but
// could not tell that batches past a removed sidecar record are stale.
func (l *Log) truncateSuffix(from uint64) error {
	// Rare, and it rewrites files readers may be using: hold mu throughout.
	l.mu.Lock()
	defer l.mu.Unlock()
	si := len(l.segs) - 1
	for l.segs[si].firstIndex > from {
		si--
	}
	s := l.segs[si]
	k := int(from - s.firstIndex)
	later := append([]*segment(nil), l.segs[si+1:]...)
	if k == 0 {
		later = append([]*segment{s}, later...)
		si--
		s = l.segs[si]
		k = s.nraft
	}
	// s may be sealed: its companions are rewritten below, and it is
	// active afterwards, when nothing closes them.
	done, err := s.useAux()
	if err != nil {
		return l.fatal(err)
	}
	defer done()
	ents, lastBatch, t, err := keptEnts(s, k)
	if err == nil && t.logEnd < 0 {
		// A record damaged at rest would cut the data where it says:
		// the segment's derived files are rebuilt from the data first
		// (as GetLog repairs them).
		if _, err = l.rebuild(s, false, s.end, true); err == nil {
			ents, lastBatch, t, err = keptEnts(s, k)
		}
		if err == nil && t.logEnd < 0 {
			err = fmt.Errorf("segment %d: raft entries do not tile the data after a rebuild", s.base)
		}
	}
	if err != nil {
		return l.fatal(err)
	}
	logEnd, metaEnd := t.logEnd, t.metaEnd
	// Newest first, so a crash leaves a prefix.
	for i := len(later) - 1; i >= 0; i-- {
		if err := later[i].remove(); err != nil {
			return l.fatal(err)
		}
	}
	end, maxTs := s.base, int64(-1)
	var idx []idxEnt
	for i := 0; i < s.nidx; i++ {
		e, err := s.idxAt(i)
		if err != nil {
			return l.fatal(err)
		}
		if int64(e.pos) >= logEnd {
			break
		}
		idx = append(idx, e)
	}
	bytesSince := int64(0)
	if lastBatch != nil {
		from := int64(0)
		if len(idx) > 0 {
			from = int64(idx[len(idx)-1].pos)
			maxTs = idx[len(idx)-1].maxTs
		}
		bytesSince = logEnd - from
		hs := headerScanner{f: s.logF, limit: logEnd}
		for pos := from; pos < logEnd; {
			h, ok, err := hs.at(pos)
			if err != nil || !ok {
				return l.fatal(fmt.Errorf("segment %d: rescan at %d: %v", s.base, pos, err))
			}
			if l.corrupt[corruptBatch{s.base, pos, h.BaseOffset}] {
				// Kept with a bad CRC, as recovery read it: the batch
				// after it, cut below, is still there to bound it.
				all := headerScanner{f: s.logF, limit: s.logSize}
				h = keptHeader(&all, pos, h, s.logSize, -1)
			}
			maxTs = max(maxTs, h.MaxTimestamp)
			end = h.LastOffset() + 1
			pos += int64(h.Size())
		}
	}
	var idxBuf, tsBuf []byte
	for _, e := range idx {
		idxBuf, tsBuf = encodeIdx(idxBuf, tsBuf, e)
	}
	raftBuf := make([]byte, raftHdrSize+len(ents)*raftRecSize)
	copy(raftBuf, encodeRaftHeader(s.firstIndex))
	for i, e := range ents {
		e.encode(raftBuf[raftHdrSize+i*raftRecSize:])
	}
	sync := !l.cfg.NoSync
	steps := []func() error{
		func() error { return s.truncateLog(logEnd) },
		func() error {
			if sync {
				return s.logF.Sync()
			}
			return nil
		},
		func() error { return s.metaF.Truncate(metaEnd) },
		func() error { return rewrite(s.raftF, raftBuf) },
		func() error { return rewrite(s.idxF, idxBuf) },
		func() error { return rewrite(s.tsF, tsBuf) },
	}
	for _, f := range steps {
		if err := f(); err != nil {
			return l.fatal(fmt.Errorf("segment %d: truncate: %w", s.base, err))
		}
	}
	if err := l.syncSegment(s); err != nil {
		return l.fatal(err)
	}
	if err := l.syncDir(); err != nil {
		return l.fatal(err)
	}

	l.segs = l.segs[:si+1]
	s.nraft, s.checked = len(ents), true
	s.idx, s.nidx = idx, len(idx)
	if s.idx == nil {
		s.idx = []idxEnt{}
	}
	s.logSize, s.metaSize = logEnd, metaEnd
	s.end, s.maxTs, s.bytesSinceIdx = end, maxTs, bytesSince
	s.sealed = false
	l.leo = end
	l.durableEnd.Store(end)
	l.lso = min(l.lso, l.leo)
	for len(l.epochs) > 0 && l.epochs[len(l.epochs)-1].start >= end {
		l.epochs = l.epochs[:len(l.epochs)-1]
	}
	return l.writeEpochs(l.epochs)
}

// keptEnts reads the first k raft entries of s, those a suffix cut keeps,
// and where they end in .log and .raftmeta (t); t.logEnd is -1 where they
// do not tile the files (a record damaged at rest).
func keptEnts(s *segment, k int) (ents []raftEnt, lastBatch *raftEnt, t tiling, err error) {
	if ents, err = s.raftEnts(k); err != nil {
		return nil, nil, t, err
	}
	t = newTiling()
	for i := range ents {
		if !t.add(ents[i]) {
			return nil, nil, tiling{logEnd: -1}, nil
		}
		if ents[i].kind == kindBatch {
			lastBatch = &ents[i]
		}
	}
	return ents, lastBatch, t, nil
}

func rewrite(f interface {
	Truncate(int64) error
	WriteAt([]byte, int64) (int, error)
}, b []byte) error {
	if err := f.Truncate(int64(len(b))); err != nil {
		return err
	}
	if len(b) == 0 {
		return nil
	}
	_, err := f.WriteAt(b, 0)
	return err
}

// fatal records a failure that left files and memory out of step.
func (l *Log) fatal(err error) error {
	l.failed = fmt.Errorf("logstore %s: %w (reopen to recover)", l.dir, err)
	return l.failed
}

// SetStartOffset implements DeleteRecords: LSO = max(LSO, off). The new
// start is made durable before it returns. Segments entirely below it are
// deleted once no raft entry in them is needed for replay, i.e. when their
// last raft index is covered by a snapshot (see SetSnapshotIndex and
// ApplyRetention); until then they stay on disk but are invisible to Kafka.
func (l *Log) SetStartOffset(off int64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if off < 0 || off > l.leo {
		return ErrOffsetOutOfRange
	}
	if off <= l.lso {
		return nil
	}
	if err := l.writeStartOffset(off); err != nil {
		return err
	}
	l.mu.Lock()
	l.lso = off
	l.mu.Unlock()
	return l.deleteFront(l.countBelowStart())
}

// SetSnapshotIndex tells the log that raft entries <= index are covered by
// a raft snapshot, so segments below the start offset holding only such
// entries may be deleted.
func (l *Log) SetSnapshotIndex(index uint64) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.snapIndex = max(l.snapIndex, index)
}

// countBelowStart counts leading non-active segments entirely below LSO
// whose entries are all covered by the snapshot index.
func (l *Log) countBelowStart() int {
	n := 0
	for n < len(l.segs)-1 && l.segs[n+1].base <= l.lso && l.segs[n].lastIndex() <= l.snapIndex {
		n++
	}
	return n
}

// ApplyRetention deletes whole oldest segments that are past retentionMs by
// their max timestamp (by their last write when no record has one), or that
// take the log over retentionBytes, or that lie entirely below the start
// offset (the active segment goes only by time or size, and only when it
// holds data; the end offset stays), but only
// while their last raft index <= maxIndex (the partition's last snapshot):
// entries after the snapshot are needed to replay raft on restart.
// -1 disables a limit. It returns how many segments went.
func (l *Log) ApplyRetention(now time.Time, retentionMs, retentionBytes int64, maxIndex uint64) (int, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return 0, err
	}
	l.snapIndex = max(l.snapIndex, maxIndex)
	n := l.retainable(now, retentionMs, retentionBytes, maxIndex)
	if n == 0 {
		return 0, nil
	}
	if n == len(l.segs) {
		// The active segment is past retention too: as Kafka rolls it and
		// deletes the old one, drop everything but keep the end offset, so
		// the next batch starts a new segment at LSO = LEO.
		if err := l.drainSyncs(); err != nil {
			return 0, err
		}
		if err := l.dropAll(l.leo); err != nil {
			return n, err
		}
		l.log.Debug("retention deleted segments", "segments", n, "start_offset", l.StartOffset()) // the partition logs it
		return n, nil
	}
	if err := l.deleteFront(n); err != nil {
		return n, err
	}
	l.log.Debug("retention deleted segments", "segments", n, "start_offset", l.StartOffset()) // the partition logs it
	return n, nil
}

// retainable is how many segments from the front retention deletes: those
// past retentionMs or retentionBytes, or wholly below the log start
// offset, up to the first that holds a raft index past maxIndex. Caller
// holds wmu.
func (l *Log) retainable(now time.Time, retentionMs, retentionBytes int64, maxIndex uint64) int {
	var total int64
	for _, s := range l.segs {
		total += s.logSize
	}
	nowMs := now.UnixMilli()
	n := 0
	for ; n < len(l.segs); n++ {
		s := l.segs[n]
		if s.lastIndex() > maxIndex {
			break
		}
		active := n == len(l.segs)-1
		if active && s.logSize == 0 {
			break
		}
		below := !active && l.segs[n+1].base <= l.lso
		ts := s.maxTs
		if ts < 0 {
			ts = s.lastModified()
		}
		old := retentionMs >= 0 && ts < nowMs-retentionMs
		big := retentionBytes >= 0 && total-s.logSize >= retentionBytes
		if !below && !old && !big {
			break
		}
		total -= s.logSize
	}
	return n
}

// RetentionDue reports the last raft index of the segments ApplyRetention
// would delete were raft's snapshot past them all, 0 if none: the
// partition takes a snapshot before retention only when it is needed, not
// at every check (a snapshot is a few fsyncs, and every partition written
// since the last one took them, all at once, every five minutes).
func (l *Log) RetentionDue(now time.Time, retentionMs, retentionBytes int64) uint64 {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed {
		return 0
	}
	n := l.retainable(now, retentionMs, retentionBytes, math.MaxUint64)
	if n == 0 {
		return 0
	}
	return l.segs[n-1].lastIndex()
}

// CloseIdleFiles closes the companion files (.raftmeta, .raft, .index,
// .timeindex) of sealed segments unused for idle, which reads opened again.
// Sealed segments then hold one open file each.
func (l *Log) CloseIdleFiles(now time.Time, idle time.Duration) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed {
		return
	}
	for i := 0; i < len(l.segs)-1; i++ { // all but the active one are sealed
		l.segs[i].closeIdleAux(now.Add(-idle))
	}
}

// Reset drops everything (a raft snapshot was installed): LSO = LEO =
// nextOffset, and the next StoreLogs may start at any raft index.
func (l *Log) Reset(nextOffset int64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if err := l.drainSyncs(); err != nil {
		return err
	}
	if err := l.dropAll(nextOffset); err != nil {
		return err
	}
	l.mu.Lock()
	l.epochs = nil
	l.mu.Unlock()
	l.failed = nil
	return l.writeEpochs(nil)
}
