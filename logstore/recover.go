package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/raft"
	"time"
)

// Open opens (creating if needed) the log in dir. Without a clean-shutdown
// marker the last segment is re-validated from its start (CRC of every
// batch) and cut at the first damage; derived files (.raft, .index,
// .timeindex) that are missing or inconsistent are rebuilt from .log and
// .raftmeta. Open never panics on file content.
func Open(dir string, cfg Config) (*Log, error) {
	cfg = cfg.WithDefaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("logstore: %w", err)
	}
	l := &Log{dir: dir, cfg: cfg, log: cfg.Logger.With("dir", dir), fileSync: (*os.File).Sync}
	began := time.Now()
	_, err := os.Stat(filepath.Join(dir, cleanShutdownFile))
	clean := err == nil
	// After a clean stop the log ends where the marker says: the last
	// segment must end there, as every other ends where the next starts.
	// (A batch kept with a bad CRC whose counts are all damaged, with no
	// batch after it to bound it, made the log's end up.)
	end := int64(-1)
	if clean {
		end = cleanEnd(dir)
	}
	l.corrupt = readCorrupt(dir)
	corruptBefore := len(l.corrupt)

	names, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("logstore: %w", err)
	}
	var bases []int64
	have := map[string]bool{}
	for _, de := range names {
		name := de.Name()
		if strings.HasSuffix(name, checkpointTmpSuffix) {
			os.Remove(filepath.Join(dir, name))
			continue
		}
		if b, ok := parseSegName(name); ok && de.Type().IsRegular() {
			bases = append(bases, b)
		}
		have[name] = true
	}
	slices.Sort(bases)
	// Companions whose .log is gone are leftovers of an interrupted delete.
	for name := range have {
		for _, ext := range []string{extIndex, extTimeIndex, extRaft, extRaftMeta} {
			if stem, ok := strings.CutSuffix(name, ext); ok && len(stem) == 20 && !have[stem+extLog] {
				os.Remove(filepath.Join(dir, name))
			}
		}
	}

	// After a crash the last segment's tail may be torn, and so may the
	// tail of the one before segments that nothing was written to: files
	// made by a roll that the crash cut short (Log.createFiles; versions
	// before it made them before the previous segment was synced).
	torn := len(bases) - 1
	for !clean && torn > 0 && l.nothingWritten(bases[torn]) {
		torn--
	}
	var lastEps []epochEntry
	for i, base := range bases {
		var prev *segment
		if n := len(l.segs); n > 0 {
			prev = l.segs[n-1]
		}
		last := i == len(bases)-1
		next := end // where the next segment starts (the log's end)
		if !last {
			next = bases[i+1]
		}
		s, eps, err := l.openSegment(base, next, prev, last, !clean && i >= torn)
		if err != nil {
			l.closeAll()
			return nil, err
		}
		if s == nil {
			continue
		}
		if prev != nil && !prev.checked && (s.firstIndex != prev.lastIndex()+1 || s.base != prev.end) {
			// The predecessor's derived files, loaded as they were, may
			// be what is wrong (a .raft cut short at rest): rebuilt from
			// its data, it follows, or its data is what ends the log.
			l.log.Warn("segment does not follow its predecessor; rebuilding the predecessor's indexes", "segment", s.base, "predecessor", prev.base)
			if _, err := l.rebuild(prev, false, s.base, false); err != nil {
				s.close()
				l.closeAll()
				return nil, err
			}
		}
		if prev != nil && (s.firstIndex != prev.lastIndex()+1 || s.base != prev.end) {
			// The log must be contiguous: it ends where its damage
			// begins. The later segments are kept aside, not deleted,
			// for an operator to recover what they hold.
			s.close()
			aside, err := l.setAside(bases[i:])
			l.log.Error("segment does not follow its predecessor (damaged or missing data): the log ends before it; it and every later segment were moved aside",
				"segment", s.base, "first_index", s.firstIndex, "expected_index", prev.lastIndex()+1, "expected_offset", prev.end,
				"moved_to", aside, "err", err)
			break
		}
		l.segs = append(l.segs, s)
		lastEps = eps
	}
	ckpt, _ := readStartOffset(dir)
	if n := len(l.segs); n > 0 && ckpt > l.segs[n-1].end {
		// Data lost below a start the checkpoint still holds: as Kafka's
		// LogLoader, the log starts again empty at that start, so that no
		// offset below it is handed out twice. What is left lies below
		// the start, unreadable: it is set aside, not deleted. Raft restarts
		// from a snapshot at its last entry (EmptiedBelowStart), which is
		// recorded first: a crash before raft has that snapshot finds it.
		var index, term uint64
		for i := n - 1; i >= 0 && index == 0; i-- {
			if s := l.segs[i]; s.nraft > 0 {
				e, err := s.raftAt(s.nraft - 1)
				if err != nil {
					l.closeAll()
					return nil, fmt.Errorf("logstore: %w", err)
				}
				index, term = s.lastIndex(), e.term
			}
		}
		if index == 0 { // no entry left at all: nothing to set aside
			index, term = readEmptied(dir)
		}
		// The leader epochs go too, as Kafka clears its cache; written
		// before the segments move, a crash between finds them again.
		err := l.writeEmptied(index, term)
		if err == nil {
			err = l.writeEpochs(nil)
		}
		if err != nil {
			l.closeAll()
			return nil, fmt.Errorf("logstore: %w", err)
		}
		aside := make([]int64, n)
		for i, s := range l.segs {
			aside[i] = s.base
		}
		end := l.segs[n-1].end
		l.closeAll()
		l.segs, lastEps = nil, nil
		moved, err := l.setAside(aside)
		l.log.Warn("log start offset checkpoint is past the log end (segments lost or cut): the log starts again empty at the start, as in Kafka; the segments left were moved aside",
			"log_start_offset", ckpt, "log_end_offset", end, "moved_to", moved, "err", err)
	}
	if len(l.segs) == 0 {
		l.emptiedIndex, l.emptiedTerm = readEmptied(dir)
	} else if err := os.Remove(filepath.Join(dir, emptiedFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		l.closeAll()
		return nil, fmt.Errorf("logstore: %w", err)
	}
	// Only the last segment is active.
	for i, s := range l.segs {
		if i < len(l.segs)-1 {
			s.sealed, s.idx = true, nil
			s.closeIdleAux(time.Now())
		} else if !s.checked && !l.loadActive(s) {
			l.log.Warn("rebuilding inconsistent active segment indexes", "segment", s.base)
			if _, err := l.rebuild(s, false, end, false); err != nil {
				l.closeAll()
				return nil, err
			}
		}
	}

	if len(l.segs) == 0 {
		l.lso, l.leo = ckpt, ckpt
	} else {
		l.leo = l.segs[len(l.segs)-1].end
		l.lso = min(max(ckpt, l.segs[0].base), l.leo)
	}

	if err := l.loadEpochs(!clean, lastEps); err != nil {
		l.closeAll()
		return nil, err
	}

	if len(l.corrupt) != corruptBefore || corruptBefore > 0 {
		// Written before the clean-shutdown marker goes: a crash from
		// here on finds them.
		if err := l.writeCorrupt(); err != nil {
			l.closeAll()
			return nil, fmt.Errorf("logstore: %w", err)
		}
	}
	if clean {
		if err := os.Remove(filepath.Join(dir, cleanShutdownFile)); err != nil {
			l.closeAll()
			return nil, fmt.Errorf("logstore: %w", err)
		}
	}
	if err := l.syncDir(); err != nil {
		l.closeAll()
		return nil, fmt.Errorf("logstore: %w", err)
	}
	l.durableEnd.Store(l.leo)
	if !clean && len(bases) > 0 {
		// As Kafka's LogLoader says "Recovering unflushed segment": a
		// restart after a crash (kill -9, OOM, power loss) is otherwise
		// as quiet as a clean one, and the damage lines above, when
		// there are any, have nothing saying why the tail was checked.
		l.log.Info("log recovered: it was not closed cleanly (a crash or kill), so its last segments were checked",
			"segments_checked", len(bases)-max(torn, 0), "log_end_offset", l.leo, "took", time.Since(began).Round(time.Microsecond))
	}
	if cfg.DeferSync && cfg.FsyncInterval == 0 && !cfg.NoSync {
		l.startSyncer()
	}
	if cfg.FsyncInterval > 0 && !cfg.NoSync {
		l.stopFlush = make(chan struct{})
		l.flushDone = make(chan struct{})
		go l.flusher()
	}
	return l, nil
}

// nothingWritten reports whether the segment at base holds no write but
// its headers: no sidecar record, and no byte of a batch (an empty .log,
// or zeros: a recycled file's, or space filled ahead of the writes).
func (l *Log) nothingWritten(base int64) bool {
	if fi, err := os.Stat(segPath(l.dir, base, extRaftMeta)); err == nil && fi.Size() > metaHdrSize {
		return false
	}
	f, err := os.Open(segPath(l.dir, base, extLog))
	if err != nil {
		return false
	}
	defer f.Close()
	var hdr [12]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false
	}
	return hdr == [12]byte{}
}

func (l *Log) closeAll() {
	for _, s := range l.segs {
		s.close()
	}
}

// loadEpochs reads the leader epoch checkpoint, rebuilding it from batch
// headers when it is missing or bad, and reconciles it with what recovery
// found in the last segment.
func (l *Log) loadEpochs(unclean bool, lastEps []epochEntry) error {
	eps, err := readEpochs(l.dir)
	changed := false
	if err != nil {
		// A new log has no epochs to record: its first election's
		// entry writes the file (three syncs fewer for a new partition).
		// Nor has one that holds no batch yet (raft's bootstrap entries,
		// stored before a crash or stop cut its first election short).
		fresh := errors.Is(err, os.ErrNotExist) && !l.holdsBatches()
		if !fresh {
			l.log.Warn("rebuilding leader epoch cache from batch headers", "err", err)
		}
		eps, changed = nil, !fresh
		for _, s := range l.segs {
			hs := headerScanner{f: s.logF, limit: s.logSize}
			for pos := int64(0); pos < s.logSize; {
				h, ok, err := hs.at(pos)
				if err != nil || !ok {
					break
				}
				eps = addEpoch(eps, h.PartitionLeaderEpoch, h.BaseOffset)
				pos += int64(h.Size())
			}
		}
	} else if unclean && len(l.segs) > 0 {
		base := l.segs[len(l.segs)-1].base
		orig := slices.Clone(eps)
		// The latest epoch may have no data yet (it started at its
		// election): kept if the log still ends where it starts.
		var idle *epochEntry
		if n := len(eps); n > 0 && eps[n-1].start == l.leo {
			idle = &orig[n-1]
		}
		for len(eps) > 0 && eps[len(eps)-1].start >= base {
			eps = eps[:len(eps)-1]
		}
		for _, e := range lastEps {
			eps = addEpoch(eps, e.epoch, e.start)
		}
		if idle != nil && (len(eps) == 0 || eps[len(eps)-1].epoch < idle.epoch) {
			eps = assignEpoch(eps, idle.epoch, idle.start)
		}
		changed = !slices.Equal(orig, eps)
	}
	// Epochs starting past the log end lost their data to a torn write;
	// one starting at the end is the latest, elected and not yet written
	// to.
	for len(eps) > 0 && eps[len(eps)-1].start > l.leo {
		eps, changed = eps[:len(eps)-1], true
	}
	l.epochs = eps
	if changed {
		return l.writeEpochs(eps)
	}
	return nil
}

// holdsBatches reports whether any segment of the log holds a batch.
func (l *Log) holdsBatches() bool {
	for _, s := range l.segs {
		if s.logSize > 0 {
			return true
		}
	}
	return false
}

func addEpoch(eps []epochEntry, epoch int32, start int64) []epochEntry {
	if epoch < 0 || (len(eps) > 0 && epoch <= eps[len(eps)-1].epoch) {
		return eps
	}
	return append(eps, epochEntry{epoch: epoch, start: start})
}

// openSegment opens one segment. It returns nil (and deletes the files) for
// a segment that holds nothing usable. next is the base of the segment
// after it, -1 for the last.
func (l *Log) openSegment(base, next int64, prev *segment, last, recover bool) (*segment, []epochEntry, error) {
	tornTail := recover // the last segment after a crash: its unsynced tail may be torn
	s := &segment{dir: l.dir, base: base, end: base, maxTs: -1, rollJitter: l.rollJitter()}
	var err error
	open := func(ext string, flag int) *os.File {
		if err != nil {
			return nil
		}
		var f *os.File
		f, err = os.OpenFile(s.path(ext), os.O_RDWR|flag, 0o644)
		return f
	}
	s.logF = open(extLog, 0)
	s.metaF = open(extRaftMeta, os.O_CREATE)
	s.raftF = open(extRaft, os.O_CREATE)
	s.idxF = open(extIndex, os.O_CREATE)
	s.tsF = open(extTimeIndex, os.O_CREATE)
	if err != nil {
		s.close()
		return nil, nil, fmt.Errorf("logstore: segment %d: %w", base, err)
	}
	logSize, err1 := fileSize(s.logF)
	metaSize, err2 := fileSize(s.metaF)
	if err := errors.Join(err1, err2); err != nil {
		s.close()
		return nil, nil, fmt.Errorf("logstore: segment %d: %w", base, err)
	}
	s.logSize, s.metaSize = logSize, metaSize

	var hdr [metaHdrSize]byte
	metaOK := false
	if _, err := s.metaF.ReadAt(hdr[:], 0); err == nil {
		s.firstIndex, s.createdMs, metaOK = decodeMetaHeader(hdr[:])
	}
	var rh [raftHdrSize]byte
	raftFirst, raftOK := uint64(0), false
	if _, err := s.raftF.ReadAt(rh[:], 0); err == nil && [8]byte(rh[:8]) == raftMagic {
		raftFirst, raftOK = binary.BigEndian.Uint64(rh[8:]), true
	}
	switch {
	case metaOK:
	case raftOK && raftFirst > 0:
		s.firstIndex = raftFirst
	case prev != nil:
		s.firstIndex = prev.lastIndex() + 1
	default:
		l.log.Warn("segment has no readable first raft index; deleting it", "segment", base, "log_bytes", logSize)
		s.remove()
		return nil, nil, nil
	}
	if s.createdMs == 0 {
		s.createdMs = l.cfg.Now().UnixMilli()
	}
	if !metaOK {
		// Only the header is rewritten: each record carries its own CRC and
		// raft index, which rebuild checks, cutting at the first that fails.
		// Dropping them all would renumber the raft indexes of every batch
		// after them, and set the later segments aside.
		l.log.Warn("rewriting damaged sidecar header", "segment", base, "bytes", metaSize)
		if _, err := s.metaF.WriteAt(encodeMetaHeader(s.firstIndex, s.createdMs), 0); err != nil {
			s.close()
			return nil, nil, fmt.Errorf("logstore: segment %d: %w", base, err)
		}
		s.metaSize = max(s.metaSize, metaHdrSize)
		recover = true
	}
	if !recover && !l.loadCheap(s, raftOK && raftFirst == s.firstIndex, last, next) {
		l.log.Warn("rebuilding segment indexes", "segment", base)
		recover = true
	}
	var eps []epochEntry
	if recover {
		if eps, err = l.rebuild(s, tornTail, next, false); err != nil {
			s.close()
			return nil, nil, err
		}
	}
	if s.nraft == 0 {
		s.remove()
		return nil, nil, nil
	}
	return s, eps, nil
}

func fileSize(f *os.File) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// loadCheap trusts the derived files after checking they are consistent
// with the data files. It reports false when they need a rebuild. For the
// last segment it also checks the CRCs of the batches in its tail
// (tailVerifyBytes): a clean shutdown says the process wrote everything, not
// that the disk kept it. A segment that does not end where the next one
// starts (next, -1 for the last segment) is rebuilt: a bad CRC in its last
// batch's header is found there, and the batch kept.
func (l *Log) loadCheap(s *segment, raftHdrOK, last bool, next int64) bool {
	raftSize, err := fileSize(s.raftF)
	if err != nil || !raftHdrOK || raftSize < raftHdrSize+raftRecSize || (raftSize-raftHdrSize)%raftRecSize != 0 {
		return false
	}
	s.nraft = int((raftSize - raftHdrSize) / raftRecSize)
	if uint64(s.nraft) > math.MaxUint64-s.firstIndex {
		return false
	}
	lastE, err := s.raftAt(s.nraft - 1)
	if err != nil {
		return false
	}
	switch {
	case lastE.kind == kindBatch && lastE.end() != s.logSize,
		lastE.kind == kindMeta && lastE.end() != s.metaSize,
		lastE.kind > kindMeta:
		return false
	}
	idxSize, err1 := fileSize(s.idxF)
	tsSize, err2 := fileSize(s.tsF)
	if err1 != nil || err2 != nil || idxSize%idxRecSize != 0 || tsSize%tsRecSize != 0 || idxSize/idxRecSize != tsSize/tsRecSize {
		return false
	}
	s.nidx = int(idxSize / idxRecSize)
	if (s.logSize > 0) != (s.nidx > 0) {
		return false
	}
	if s.nidx == 0 {
		return true
	}
	first, err := s.idxAt(0)
	if err != nil || first.pos != 0 || first.relOff != 0 {
		return false
	}
	le, err := s.idxAt(s.nidx - 1)
	if err != nil || int64(le.pos) >= s.logSize {
		return false
	}
	// Walk the tail after the last index point for the end offset and max
	// timestamp. Each batch must start where the one before it ended, as
	// rebuild requires: the CRC does not cover a base offset, so a flipped
	// bit in the last batch's passed the tail's CRC check and set the log's
	// end billions of offsets on.
	hs := headerScanner{f: s.logF, limit: s.logSize}
	s.maxTs = le.maxTs
	pos, want := int64(le.pos), s.base+int64(le.relOff)
	for pos < s.logSize {
		h, ok, err := hs.at(pos)
		if err != nil || !ok || h.BaseOffset != want {
			return false
		}
		if l.corrupt[corruptBatch{s.base, pos, h.BaseOffset}] {
			// Kept with a bad CRC (rebuild): as rebuild reads it.
			h = keptHeader(&hs, pos, h, s.logSize, next)
		}
		s.maxTs = max(s.maxTs, h.MaxTimestamp)
		s.end = h.LastOffset() + 1
		want = s.end
		pos += int64(h.Size())
	}
	if next >= 0 && s.end != next {
		return false
	}
	s.bytesSinceIdx = s.logSize - int64(le.pos)
	if last && !l.tailCRCsOK(s) {
		l.log.Warn("bad batch CRC in the tail of a cleanly closed segment; recovering it", "segment", s.base)
		return false
	}
	return true
}

// keptHeader is the header h of the batch at pos, kept with a bad CRC, as
// recovery takes it: its last offset delta as keptLastDelta finds it, and
// no max timestamp (-1), which is as corrupt as the rest: a year-2527 one
// kept its segment from time retention for good, and set what ListOffsets
// answers for the max timestamp.
// Nor does it end past next, where its segment ends (the log, for the
// last segment after a clean stop), whatever its counts say.
func keptHeader(hs *headerScanner, pos int64, h BatchHeader, limit, next int64) BatchHeader {
	if d, ok := keptLastDelta(hs, pos, h, limit, next); ok {
		h.LastOffsetDelta = d
	}
	if next >= 0 && h.LastOffset() >= next {
		h.LastOffsetDelta = int32(max(next-h.BaseOffset-1, 0))
	}
	h.MaxTimestamp = -1
	return h
}

// keptLastDelta is the last offset delta of the batch h at pos, kept with a
// bad CRC. The CRC covers the header from its attributes on, so the last
// offset the batch claims is as corrupt as its records: it ends where the
// batch after it starts (where its header's counts or records agree), or,
// the last of its segment (whose data ends at limit), where the next
// segment starts (next; -1 for the last segment).
// (A flipped bit in its last offset delta made the log's end billions of
// offsets on, and cut every batch after it: in a sealed segment's last
// batch, every later segment, moved aside.) The last batch of the log has
// no such bound: its records, where they are whole, tell which of its
// header's two counts is true (recordsLastDelta). ok is false where
// nothing tells.
func keptLastDelta(hs *headerScanner, pos int64, h BatchHeader, limit, next int64) (int32, bool) {
	end := pos + int64(h.Size())
	after := int64(-1)
	if nh, ok, err := hs.at(end); err == nil && ok {
		// The next batch's base offset is under no CRC either: the
		// same damage (one bad sector across the two) may have moved
		// it. It bounds this batch only where one of this header's
		// two counts agrees or its records parse whole by it; else the
		// records tell, or nothing does, and the next batch, not
		// following, ends the segment.
		after = nh.BaseOffset
		if d := after - h.BaseOffset; d-1 != int64(h.LastOffsetDelta) && d != int64(h.NumRecords) && !recordsNumber(hs.f, pos, h, d) && !followed(hs, end, nh, limit, next) {
			return recordsLastDelta(hs.f, pos, h)
		}
	} else if end == limit {
		after = next
	}
	if d := after - h.BaseOffset; after >= 0 && d > 0 && d <= math.MaxInt32 {
		return int32(d - 1), true
	}
	if after < 0 {
		return recordsLastDelta(hs.f, pos, h)
	}
	return 0, false
}

// recordsLastDelta is the last offset delta of the batch h at pos as its
// records bear it out: the header holds it twice, as the last offset delta
// and as the record count, both under the CRC that failed, and the one the
// records parse whole by (each record's offset delta its index) is the
// one a flipped bit left. Where the records do not tell (damaged too, or
// the attributes that name their codec are), it is the smaller of the two
// that is not negative: one damaged field makes the other no larger, and
// the larger taken made the log's end up (a codec bit and the high byte
// of the delta, in one write, set it 805306383 for 15). ok is false where
// both are negative.
func recordsLastDelta(f *os.File, pos int64, h BatchHeader) (int32, bool) {
	if d, ok := recordsBearOut(f, pos, h); ok {
		return d, true
	}
	d := int64(-1)
	for _, c := range []int64{int64(h.LastOffsetDelta), int64(h.NumRecords) - 1} {
		if c >= 0 && (d < 0 || c < d) {
			d = c
		}
	}
	return int32(d), d >= 0
}

// recordsBearOut is which of h's two counts its records, at pos, parse
// whole by; ok is false where neither.
func recordsBearOut(f *os.File, pos int64, h BatchHeader) (int32, bool) {
	b := make([]byte, h.Size())
	if _, err := f.ReadAt(b, pos); err != nil {
		return 0, false
	}
	recs, err := Decompress(h.Compression(), b[BatchHeaderSize:])
	if err != nil {
		return 0, false
	}
	for _, n := range []int32{h.LastOffsetDelta + 1, h.NumRecords} {
		if n <= 0 {
			continue
		}
		if _, ok := validRecords(recs, int(n)); ok {
			return n - 1, true
		}
	}
	return 0, false
}

// followed reports whether the batch nh at pos, its CRC good, is followed
// where it ends: by the batch after it, or, the last of its segment, by
// the next segment. A moved base offset breaks that.
func followed(hs *headerScanner, pos int64, nh BatchHeader, limit, next int64) bool {
	b := make([]byte, nh.Size())
	if _, err := hs.f.ReadAt(b, pos); err != nil || binary.BigEndian.Uint32(b[offCRC:]) != batchCRC(b) {
		return false
	}
	end := pos + int64(nh.Size())
	if h2, ok, err := hs.at(end); err == nil && ok {
		return h2.BaseOffset == nh.LastOffset()+1
	}
	return end == limit && next >= 0 && next == nh.LastOffset()+1
}

// recordsNumber reports whether the records of the batch h at pos parse
// whole as n records.
func recordsNumber(f *os.File, pos int64, h BatchHeader, n int64) bool {
	if n <= 0 || n > math.MaxInt32 {
		return false
	}
	b := make([]byte, h.Size())
	if _, err := f.ReadAt(b, pos); err != nil {
		return false
	}
	recs, err := Decompress(h.Compression(), b[BatchHeaderSize:])
	if err != nil {
		return false
	}
	_, ok := validRecords(recs, int(n))
	return ok
}

// tailVerifyBytes is how much of the last segment's end has its batch CRCs
// checked at every open.
const tailVerifyBytes = 4 << 20

// tailCRCsOK checks every batch from the last index point at or before the
// last tailVerifyBytes of the segment to its end.
func (l *Log) tailCRCsOK(s *segment) bool {
	start := int64(0)
	for i := s.nidx - 1; i >= 0; i-- {
		e, err := s.idxAt(i)
		if err != nil {
			return false
		}
		if int64(e.pos) <= s.logSize-tailVerifyBytes || i == 0 {
			start = int64(e.pos)
			break
		}
	}
	var buf []byte
	for pos := start; pos < s.logSize; {
		var hdr [BatchHeaderSize]byte
		if _, err := s.logF.ReadAt(hdr[:], pos); err != nil {
			return false
		}
		size := int64(batchLogOverhead) + int64(int32(binary.BigEndian.Uint32(hdr[offLength:])))
		if size < BatchHeaderSize || pos+size > s.logSize {
			return false
		}
		if int64(cap(buf)) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := s.logF.ReadAt(buf, pos); err != nil {
			return false
		}
		if binary.BigEndian.Uint32(buf[offCRC:]) != batchCRC(buf) && !l.corrupt[corruptBatch{s.base, pos, parseHeader(buf).BaseOffset}] {
			return false
		}
		pos += size
	}
	return true
}

// tiling follows a segment's raft entries, in order, over its .log and
// .raftmeta: each must start where the one of its kind before it ended.
type tiling struct{ logEnd, metaEnd int64 }

func newTiling() tiling { return tiling{0, metaHdrSize} }

// add reports whether e follows, and moves past it.
func (t *tiling) add(e raftEnt) bool {
	switch {
	case e.kind == kindBatch && int64(e.pos) == t.logEnd && e.length >= BatchHeaderSize:
		t.logEnd = e.end()
	case e.kind == kindMeta && int64(e.pos) == t.metaEnd && e.length >= metaRecHdr:
		t.metaEnd = e.end()
	default:
		return false
	}
	return true
}

// loadActive checks that the active segment's raft entries tile .log and
// .raftmeta exactly, and reads its index into memory. false: rebuild.
func (l *Log) loadActive(s *segment) bool {
	t := newTiling()
	buf := make([]byte, min(s.nraft, 2048)*raftRecSize)
	for i := 0; i < s.nraft; {
		raw := buf[:min(s.nraft-i, len(buf)/raftRecSize)*raftRecSize]
		if _, err := s.raftF.ReadAt(raw, raftHdrSize+int64(i)*raftRecSize); err != nil {
			return false
		}
		for ; len(raw) > 0; raw, i = raw[raftRecSize:], i+1 {
			if !t.add(decodeRaftEnt(raw)) {
				return false
			}
		}
	}
	if t.logEnd != s.logSize || t.metaEnd != s.metaSize {
		return false
	}
	idx := make([]idxEnt, 0, s.nidx)
	for i := 0; i < s.nidx; i++ {
		e, err := s.idxAt(i)
		if err != nil || int64(e.pos) >= s.logSize {
			return false
		}
		if n := len(idx); n > 0 && (e.pos <= idx[n-1].pos || e.relOff <= idx[n-1].relOff || e.maxTs < idx[n-1].maxTs) {
			return false
		}
		idx = append(idx, e)
	}
	s.idx, s.checked = idx, true
	return true
}

// rebuild walks .log (checking every CRC) and .raftmeta from the start,
// re-derives the raft entries and the indexes, cuts both data files at the
// first damage and rewrites the derived files. It returns the leader epochs
// that start in the segment.
//
// A batch whose only fault is its CRC cuts the log only where a write can
// have been torn: in the tail of the last segment after a crash (tornTail).
// Anywhere else every byte was synced before the segment was sealed or the
// log cleanly closed, so the fault is the disk's (a flipped bit), and
// cutting there would throw away every acknowledged batch after it; the
// batch is kept as it is, as Kafka keeps it, and logged as an error. Kept
// batches are recorded (corruptFile), so that a later crash's recovery
// keeps them too instead of cutting there what was acknowledged since.
// next is the base of the segment after s, -1 for the last.
//
// inUse is a rebuild of a segment of an open log (Log.repair): it cuts
// nothing, and where the data does not reach the ends the segment has,
// it changes nothing and says so.
func (l *Log) rebuild(s *segment, tornTail bool, next int64, inUse bool) ([]epochEntry, error) {
	// Old .raft entries, if any, only to keep AppendedAt of batches.
	var old []raftEnt
	if sz, err := fileSize(s.raftF); err == nil && sz > raftHdrSize && sz < 1<<32 {
		raw := make([]byte, (sz-raftHdrSize)/raftRecSize*raftRecSize)
		if _, err := s.raftF.ReadAt(raw, raftHdrSize); err == nil {
			for i := 0; i+raftRecSize <= len(raw); i += raftRecSize {
				old = append(old, decodeRaftEnt(raw[i:]))
			}
		}
	}

	var metas []metaRec
	metaEnd := int64(metaHdrSize)
	var metaErr error
	for metaEnd < s.metaSize {
		r, err := s.readMeta(metaEnd, s.metaSize)
		if err != nil {
			metaErr = err
			break
		}
		r.data, r.ext = nil, nil
		metas = append(metas, r)
		metaEnd += r.length
	}

	var (
		ents       []raftEnt
		idx        []idxEnt
		eps        []epochEntry
		expectIdx  = s.firstIndex
		expectOff  = s.base
		lastEpoch  = int32(-1)
		maxTs      = int64(-1)
		bytesSince int64
		mi         int
		damage     error
	)
	emitMeta := func(upTo int64) bool {
		for mi < len(metas) && metas[mi].logPos <= upTo {
			m := metas[mi]
			if m.index != expectIdx {
				damage = fmt.Errorf("sidecar record for raft index %d where %d was expected", m.index, expectIdx)
				return false
			}
			ents = append(ents, raftEnt{pos: uint64(m.pos), length: uint32(m.length), typ: m.typ, kind: kindMeta, term: m.term, appended: m.appended})
			expectIdx++
			mi++
		}
		return true
	}
	lr := newLogReader(s.logF, s.logSize)
	peek := headerScanner{f: s.logF, limit: s.logSize}
	for {
		pos := lr.pos
		b, err := lr.next(true)
		kept := false // a batch that fails its CRC, kept
		if errors.Is(err, errBadCRC) {
			h := parseHeader(b)
			c := corruptBatch{s.base, pos, h.BaseOffset}
			if !tornTail || l.corrupt[c] {
				l.log.Error("batch fails its CRC in synced data (the disk changed it): kept as it is, not cut with the batches after it; its records are corrupt",
					"segment", s.base, "offset", h.BaseOffset, "last_offset", h.LastOffset(), "file_position", pos)
				if l.corrupt == nil {
					l.corrupt = map[corruptBatch]bool{}
				}
				l.corrupt[c] = true
				err, kept = nil, true
			}
		}
		if err != nil {
			damage = err
			break
		}
		if b == nil {
			break
		}
		h := parseHeader(b)
		if kept {
			h = keptHeader(&peek, pos, h, s.logSize, next)
		}
		if h.BaseOffset != expectOff || h.LastOffsetDelta < 0 || h.PartitionLeaderEpoch < lastEpoch ||
			h.LastOffset()-s.base > math.MaxUint32-1 || pos > math.MaxUint32 {
			damage = fmt.Errorf("batch at offset %d (epoch %d) where offset %d was expected", h.BaseOffset, h.PartitionLeaderEpoch, expectOff)
			break
		}
		if !emitMeta(pos) {
			break
		}
		if pos == 0 || bytesSince >= int64(l.cfg.IndexIntervalBytes) {
			idx = append(idx, idxEnt{relOff: uint32(h.BaseOffset - s.base), pos: uint32(pos), maxTs: max(maxTs, h.MaxTimestamp)})
			bytesSince = 0
		}
		maxTs = max(maxTs, h.MaxTimestamp)
		bytesSince += int64(len(b))
		e := raftEnt{pos: uint64(pos), length: uint32(len(b)), typ: uint8(raft.LogCommand), kind: kindBatch, term: l.termOf(h.PartitionLeaderEpoch)}
		if i := int(expectIdx - s.firstIndex); i < len(old) && old[i].kind == kindBatch && old[i].pos == e.pos &&
			old[i].length == e.length && old[i].term == e.term {
			e.appended = old[i].appended // the term comes from the batch itself
		}
		ents = append(ents, e)
		if h.PartitionLeaderEpoch > lastEpoch {
			eps = append(eps, epochEntry{epoch: h.PartitionLeaderEpoch, start: h.BaseOffset})
			lastEpoch = h.PartitionLeaderEpoch
		}
		expectIdx++
		expectOff = h.LastOffset() + 1
		lr.pos += int64(len(b))
	}
	logEnd := lr.pos
	if damage != nil {
		// Sidecar records written before the damaged batch are still good
		// (unless the damage is a sidecar mismatch, which emitMeta re-finds).
		d := damage
		emitMeta(logEnd)
		damage = d
	} else {
		emitMeta(logEnd)
	}
	if mi < len(metas) {
		metaEnd = metas[mi].pos
		if damage == nil {
			damage = fmt.Errorf("sidecar record for raft index %d points past the end of the log", metas[mi].index)
		}
	}
	if damage == nil && metaErr != nil {
		damage = metaErr
	}
	if inUse && (logEnd != s.logSize || metaEnd != s.metaSize || expectOff != s.end || len(ents) != s.nraft) {
		return nil, fmt.Errorf("logstore: segment %d: data damaged: %v", s.base, damage)
	}
	switch {
	case errors.Is(damage, errZeroFilled) && metaEnd == s.metaSize:
		// The usual end after a crash: no batch was cut, only the space
		// prepared ahead of the writes.
		l.log.Debug("cutting zero-filled space off the log", "segment", s.base, "bytes", s.logSize-logEnd)
	case logEnd < s.logSize || metaEnd < s.metaSize:
		l.log.Warn("truncating damaged log tail", "segment", s.base, "offset", expectOff, "raft_index", expectIdx,
			"log_bytes", s.logSize-logEnd, "sidecar_bytes", s.metaSize-metaEnd, "reason", damage)
	}

	raftBuf := make([]byte, raftHdrSize+len(ents)*raftRecSize)
	copy(raftBuf, encodeRaftHeader(s.firstIndex))
	for i, e := range ents {
		e.encode(raftBuf[raftHdrSize+i*raftRecSize:])
	}
	var idxBuf, tsBuf []byte
	for _, e := range idx {
		idxBuf, tsBuf = encodeIdx(idxBuf, tsBuf, e)
	}
	// A cut that takes no batch (only the space prepared past the data)
	// keeps the segment's time of last write.
	cut := s.truncateLog
	if logEnd == s.logSize || errors.Is(damage, errZeroFilled) {
		cut = s.releaseLog
	}
	var err error
	if !inUse {
		err = cut(logEnd)
		if err == nil {
			err = s.metaF.Truncate(metaEnd)
		}
	}
	for _, w := range []struct {
		f *os.File
		b []byte
	}{{s.raftF, raftBuf}, {s.idxF, idxBuf}, {s.tsF, tsBuf}} {
		if err == nil {
			err = rewrite(w.f, w.b)
		}
	}
	if err == nil {
		err = l.syncSegment(s)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("logstore: segment %d: recover: %w", s.base, err)
	}
	s.logSize, s.metaSize = logEnd, metaEnd
	s.nraft, s.checked = len(ents), true
	s.idx, s.nidx = idx, len(idx)
	if s.idx == nil {
		s.idx = []idxEnt{}
	}
	s.end, s.maxTs = expectOff, maxTs
	if len(idx) > 0 {
		s.bytesSinceIdx = logEnd - int64(idx[len(idx)-1].pos)
	}
	return eps, nil
}

// damagedDir is where setAside puts the segments recovery cannot use, in a
// directory per recovery.
const damagedDir = "damaged"

// setAside moves the files of the segments with these bases into
// damaged/<time>/ in the log's directory, out of the log's way; segments
// whose files cannot be moved are removed, so that the log stays
// contiguous.
func (l *Log) setAside(bases []int64) (string, error) {
	dest := filepath.Join(l.dir, damagedDir, strconv.FormatInt(time.Now().UnixNano(), 10))
	mkErr := os.MkdirAll(dest, 0o755)
	var first error
	for _, b := range bases {
		seg := &segment{dir: l.dir, base: b}
		for _, ext := range segmentExts {
			err := mkErr
			if err == nil {
				err = os.Rename(seg.path(ext), filepath.Join(dest, filepath.Base(seg.path(ext))))
			}
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				if first == nil {
					first = err
				}
				os.Remove(seg.path(ext))
			}
		}
	}
	if err := syncDir(l.dir); err != nil && first == nil {
		first = err
	}
	return dest, first
}
