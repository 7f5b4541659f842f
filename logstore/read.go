package logstore

import (
	"fmt"
	"os"
	"sort"
)

// Read returns whole batches starting with the one that contains offset (or
// the first one after it), only batches whose base offset < limit (the high
// watermark), within maxBytes except that the first qualifying batch is
// always returned whole. Batches come from one segment per call. nil, nil
// means nothing to read yet. Offsets outside [StartOffset, EndOffset] give
// ErrOffsetOutOfRange.
func (l *Log) Read(offset int64, maxBytes int, limit int64) ([]byte, error) {
	b, err := l.ReadWith(func(n int) []byte { return make([]byte, n) }, offset, maxBytes, limit)
	if len(b) == 0 {
		b = nil
	}
	return b, err
}

// ReadWith is Read into memory the caller provides: get is called at most
// once, with the number of bytes about to be read, and must return a slice
// of that length (from a pool, say, so the fetch path neither allocates nor
// zeroes per partition), or nil to refuse the read, which then returns
// nothing. The result is a prefix of that slice; when get was called the
// caller owns its buffer whatever the result.
func (l *Log) ReadWith(get func(n int) []byte, offset int64, maxBytes int, limit int64) ([]byte, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return nil, ErrClosed
	}
	if offset < l.lso || offset > l.leo {
		return nil, ErrOffsetOutOfRange
	}
	if offset == l.leo || offset >= limit {
		return nil, nil
	}
	for si := max(l.segForOffset(offset), 0); si < len(l.segs); si++ {
		s := l.segs[si]
		if s.end <= offset {
			continue
		}
		pos, h, ok, err := s.findBatch(offset)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if h.BaseOffset >= limit {
			return nil, nil
		}
		end := min(s.logSize, pos+int64(max(maxBytes, h.Size())))
		if limit < s.end {
			b, err := s.boundFor(limit)
			if err != nil {
				return nil, err
			}
			end = min(end, max(b, pos+int64(h.Size())))
		}
		buf := get(int(end - pos))
		if _, err := s.logF.ReadAt(buf, pos); err != nil {
			return nil, fmt.Errorf("segment %d: read at %d: %w", s.base, pos, err)
		}
		n := 0
		for n+BatchHeaderSize <= len(buf) {
			bh := parseHeader(buf[n:])
			sz := bh.Size()
			if bh.BaseOffset >= limit || n+sz > len(buf) || (n > 0 && n+sz > maxBytes) {
				break
			}
			n += sz
		}
		return buf[:n], nil
	}
	return nil, nil
}

// findBatch returns the position and header of the first batch in s whose
// last offset >= off. Caller holds mu.
func (s *segment) findBatch(off int64) (int64, BatchHeader, bool, error) {
	pos, err := s.lookup(off)
	if err != nil {
		return 0, BatchHeader{}, false, err
	}
	hs := headerScanner{f: s.logF, limit: s.logSize}
	for pos < s.logSize {
		h, ok, err := hs.at(pos)
		if err != nil {
			return 0, h, false, fmt.Errorf("segment %d: scan at %d: %w", s.base, pos, err)
		}
		if !ok {
			return 0, h, false, fmt.Errorf("segment %d: %w at %d", s.base, ErrCorruptBatch, pos)
		}
		if h.LastOffset() >= off {
			return pos, h, true, nil
		}
		pos += int64(h.Size())
	}
	return 0, BatchHeader{}, false, nil
}

// OffsetForTime answers ListOffsets by timestamp: the earliest offset (>=
// StartOffset) whose record timestamp >= ts, and that timestamp.
func (l *Log) OffsetForTime(ts int64) (int64, int64, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0, 0, false
	}
	return l.offsetForTime(ts)
}

func (l *Log) offsetForTime(ts int64) (int64, int64, bool) {
	for si := max(l.segForOffset(l.lso), 0); si < len(l.segs); si++ {
		s := l.segs[si]
		if s.maxTs < ts {
			continue
		}
		if off, t, ok := l.offsetForTimeIn(s, ts); ok {
			return off, t, true
		}
	}
	return 0, 0, false
}

func (l *Log) offsetForTimeIn(s *segment, ts int64) (int64, int64, bool) {
	// First index point whose running max reaches ts; every batch up to the
	// point before it is entirely older, so scanning starts there.
	i := sort.Search(s.nidx, func(i int) bool {
		e, err := s.idxAt(i)
		return err != nil || e.maxTs >= ts
	})
	pos := int64(0)
	if i > 0 {
		e, err := s.idxAt(i - 1)
		if err != nil {
			return 0, 0, false
		}
		pos = int64(e.pos)
	}
	if s.base < l.lso {
		// Nor can the answer lie before the log start's index point, as
		// in Kafka's LogSegment.findOffsetByTimestamp: after DeleteRecords
		// deep into a segment, the batches below the start are not read
		// again at every lookup.
		p, err := s.lookup(l.lso)
		if err != nil {
			return 0, 0, false
		}
		pos = max(pos, p)
	}
	hs := headerScanner{f: s.logF, limit: s.logSize}
	for pos < s.logSize {
		h, ok, err := hs.at(pos)
		if err != nil || !ok {
			return 0, 0, false
		}
		// A batch kept with a bad CRC has no timestamp to go by
		// (keptHeader): it is not an answer.
		if h.MaxTimestamp >= ts && h.LastOffset() >= l.lso && !l.corrupt[corruptBatch{s.base, pos, h.BaseOffset}] {
			if off, t, ok := l.recordForTime(s, pos, h, ts); ok {
				return off, t, true
			}
		}
		pos += int64(h.Size())
	}
	return 0, 0, false
}

// recordForTime looks inside one batch for the first record at or after ts.
func (l *Log) recordForTime(s *segment, pos int64, h BatchHeader, ts int64) (int64, int64, bool) {
	if h.TimestampType() == 1 { // LogAppendTime: every record carries MaxTimestamp
		return max(h.BaseOffset, l.lso), h.MaxTimestamp, true
	}
	b := make([]byte, h.Size())
	if _, err := s.logF.ReadAt(b, pos); err != nil {
		return 0, 0, false
	}
	var off, t int64
	found := false
	err := EachRecord(b, h, func(i int, tsDelta int64, _ bool) bool {
		o, rt := h.BaseOffset+int64(i), h.BaseTimestamp+tsDelta
		if o >= l.lso && rt >= ts {
			off, t, found = o, rt, true
			return false
		}
		return true
	})
	if err != nil && !found {
		// Unreadable records: the header still bounds the answer.
		return max(h.BaseOffset, l.lso), h.MaxTimestamp, true
	}
	return off, t, found
}

// MaxTimestamp answers ListOffsets -3 (KIP-734): the earliest offset of the
// record with the largest timestamp, among the records from StartOffset on.
func (l *Log) MaxTimestamp() (int64, int64, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return 0, 0, false
	}
	// A segment's max timestamp may be that of a record below the log
	// start (DeleteRecords moved it into the segment): only then is the
	// first segment read for the max of its records from the start on.
	exact := false
	for {
		maxTs, any := int64(-1), false
		for _, s := range l.segs {
			if s.end <= l.lso || s.logSize == 0 {
				continue
			}
			ts := s.maxTs
			if exact && s.base < l.lso {
				var ok bool
				if ts, ok = l.maxTsFromStart(s); !ok {
					continue
				}
			}
			if !any || ts > maxTs {
				maxTs, any = ts, true
			}
		}
		if !any {
			return 0, 0, false
		}
		if off, ts, ok := l.offsetForTime(maxTs); ok || exact {
			return off, ts, ok
		}
		exact = true
	}
}

// maxTsFromStart is the largest timestamp of the records of s at or after
// the log start offset. Caller holds mu.
func (l *Log) maxTsFromStart(s *segment) (int64, bool) {
	pos, err := s.lookup(l.lso)
	if err != nil {
		return 0, false
	}
	maxTs, any := int64(-1), false
	hs := headerScanner{f: s.logF, limit: s.logSize}
	for pos < s.logSize {
		h, ok, err := hs.at(pos)
		if err != nil || !ok {
			break
		}
		switch {
		case h.LastOffset() < l.lso:
		case l.corrupt[corruptBatch{s.base, pos, h.BaseOffset}]:
			// Kept with a bad CRC: its timestamps are as corrupt as
			// its records (keptHeader).
		case h.BaseOffset >= l.lso || h.TimestampType() == 1:
			maxTs, any = max(maxTs, h.MaxTimestamp), true
		default: // the batch the log starts inside
			b := make([]byte, h.Size())
			if _, err := s.logF.ReadAt(b, pos); err != nil {
				return maxTs, any
			}
			err := EachRecord(b, h, func(i int, tsDelta int64, _ bool) bool {
				if h.BaseOffset+int64(i) >= l.lso {
					maxTs, any = max(maxTs, h.BaseTimestamp+tsDelta), true
				}
				return true
			})
			if err != nil {
				// Unreadable records: the header still bounds them.
				maxTs, any = max(maxTs, h.MaxTimestamp), true
			}
		}
		pos += int64(h.Size())
	}
	return maxTs, any
}

// epochOf is the leader epoch of the raft term term (Config.EpochBase).
func (l *Log) epochOf(term uint64) int32 { return int32(term - l.cfg.EpochBase) }

// termOf is the raft term of a batch stamped with leader epoch epoch.
func (l *Log) termOf(epoch int32) uint64 { return uint64(uint32(epoch)) + l.cfg.EpochBase }

// EpochAt is the leader epoch offset was written in: that of the latest
// epoch starting at or before it, or -1 when the log knows none so early.
func (l *Log) EpochAt(offset int64) int32 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	i := sort.Search(len(l.epochs), func(i int) bool { return l.epochs[i].start > offset }) - 1
	if i < 0 {
		return -1
	}
	return l.epochs[i].epoch
}

// EpochEndOffset answers OffsetForLeaderEpoch: the largest epoch <= epoch
// present in the log and the offset where it ends (the start of the next
// epoch, or EndOffset for the latest). An epoch older than every one in
// the log ends, as in Kafka, where the oldest starts (or at the log start
// offset, retention having moved it): (epoch, that offset).
//
// Epochs that ended at or below the log start offset are not in the log
// any more: Kafka drops them from its epoch cache when the start moves
// (truncateFromStart), so asking for one answers as for an epoch older
// than every one, never an end below the log start.
func (l *Log) EpochEndOffset(epoch int32) (int32, int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	eps := l.epochs
	for len(eps) > 1 && eps[1].start <= l.lso {
		eps = eps[1:]
	}
	i := sort.Search(len(eps), func(i int) bool { return eps[i].epoch > epoch }) - 1
	if i < 0 {
		if len(eps) == 0 {
			return epoch, l.leo
		}
		return epoch, max(eps[0].start, l.lso)
	}
	if i+1 < len(eps) {
		return eps[i].epoch, eps[i+1].start
	}
	return eps[i].epoch, l.leo
}

// SegmentTime is a segment's base offset (at least the log start offset),
// its size, and when its .log file was last written (Unix ms, its mtime).
type SegmentTime struct {
	Base, Size, ModifiedMs int64
}

// SegmentTimes lists the log's segments, oldest first, for ListOffsets v0,
// whose answers Kafka takes from segment base offsets and file times. A
// file that cannot be read for its time gets 0.
func (l *Log) SegmentTimes() []SegmentTime {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]SegmentTime, 0, len(l.segs))
	for _, s := range l.segs {
		st := SegmentTime{Base: max(s.base, l.lso), Size: s.logSize}
		if fi, err := os.Stat(s.path(extLog)); err == nil {
			st.ModifiedMs = fi.ModTime().UnixMilli()
		}
		out = append(out, st)
	}
	return out
}
