package logstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestValidateBatch(t *testing.T) {
	good := makeBatch(t, testBatch{ts0: 1000, n: 3, valueLen: 10})
	mut := func(f func(b []byte) []byte) []byte {
		b := append([]byte(nil), good...)
		return f(b)
	}
	recrc := func(b []byte) []byte {
		binary.BigEndian.PutUint32(b[offCRC:], batchCRC(b))
		return b
	}
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"good", good, nil},
		{"gzip", makeBatch(t, testBatch{n: 5, valueLen: 100, codec: CodecGzip}), nil},
		{"short", good[:40], ErrCorruptBatch},
		{"truncated", good[:len(good)-1], ErrCorruptBatch},
		{"trailing byte", append(append([]byte(nil), good...), 0), ErrCorruptBatch},
		{"bad crc", mut(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrCorruptBatch},
		{"magic 1", mut(func(b []byte) []byte { b[offMagic] = 1; return b }), ErrUnsupportedMagic},
		{"codec 5", mut(func(b []byte) []byte { b[offAttributes+1] |= 5; return recrc(b) }), ErrUnsupportedCodec},
		{"zero records", mut(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[offNumRecords:], 0)
			return recrc(b)
		}), ErrInvalidRecord},
		{"delta mismatch", mut(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 5)
			return recrc(b)
		}), ErrInvalidRecord},
		{"more records claimed", mut(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[offNumRecords:], 4)
			binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 3)
			return recrc(b)
		}), ErrInvalidRecord},
		{"record offset delta", mut(func(b []byte) []byte {
			b[BatchHeaderSize+3] = 2 // first record's offset delta varint: 0 -> 1
			return recrc(b)
		}), ErrInvalidRecord},
		{"record length", mut(func(b []byte) []byte {
			b[BatchHeaderSize] = 0x7e // absurd record length
			return recrc(b)
		}), ErrInvalidRecord},
		{"empty", nil, ErrCorruptBatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ValidateBatch(tt.b)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("ValidateBatch = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestSplitAndSetters(t *testing.T) {
	a := makeBatch(t, testBatch{n: 2, valueLen: 5})
	b := makeBatch(t, testBatch{n: 3, valueLen: 7})
	bs, err := SplitBatches(append(append([]byte(nil), a...), b...))
	if err != nil || len(bs) != 2 || len(bs[0]) != len(a) || len(bs[1]) != len(b) {
		t.Fatalf("SplitBatches = %d batches, %v", len(bs), err)
	}
	if _, err := SplitBatches(append(append([]byte(nil), a...), b[:30]...)); err == nil {
		t.Fatal("SplitBatches accepted a torn tail")
	}
	SetBaseOffset(a, 42)
	SetPartitionLeaderEpoch(a, 7)
	SetMaxTimestampLogAppend(a, 99)
	h, err := ValidateBatch(a)
	if err != nil {
		t.Fatal(err)
	}
	if h.BaseOffset != 42 || h.PartitionLeaderEpoch != 7 || h.MaxTimestamp != 99 || h.BaseTimestamp == 99 || h.TimestampType() != 1 {
		t.Fatalf("header after setters: %+v", h)
	}
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Config{})
	g := &entryGen{t: t, term: 1}
	var all []*raft.Log
	var batch []*raft.Log
	for i := 0; i < 50; i++ {
		switch i % 7 {
		case 0:
			batch = append(batch, g.noop())
		case 3:
			batch = append(batch, g.config())
		case 5:
			batch = append(batch, g.ext())
		default:
			batch = append(batch, g.batch(1+i%4, 20, int64(1000+i)))
		}
		if i%5 == 4 {
			mustStore(t, l, batch...)
			all = append(all, batch...)
			batch = nil
			g.term++
		}
	}
	checkEntries(t, l, all)
	// Offsets: assigned densely in order.
	var want int64
	for _, e := range all {
		if IsBatch(e) {
			h, _ := ParseBatchHeader(e.Data)
			if h.BaseOffset != want || h.PartitionLeaderEpoch != int32(e.Term) {
				t.Fatalf("entry %d: base %d epoch %d, want %d %d", e.Index, h.BaseOffset, h.PartitionLeaderEpoch, want, e.Term)
			}
			want = h.LastOffset() + 1
		}
	}
	if l.EndOffset() != want {
		t.Fatalf("EndOffset = %d, want %d", l.EndOffset(), want)
	}
	if fi, _ := l.FirstIndex(); fi != 1 {
		t.Fatalf("FirstIndex = %d", fi)
	}
	if li, _ := l.LastIndex(); li != 50 {
		t.Fatalf("LastIndex = %d", li)
	}
	var e raft.Log
	if err := l.GetLog(51, &e); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog(51) = %v", err)
	}
	if err := l.StoreLogs([]*raft.Log{{Index: 60, Type: raft.LogNoop}}); err == nil {
		t.Fatal("StoreLogs accepted a gap")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openT(t, dir, Config{})
	defer l.Close()
	checkEntries(t, l, all)
	if l.EndOffset() != want {
		t.Fatalf("after reopen EndOffset = %d, want %d", l.EndOffset(), want)
	}
	if n := len(readAll(t, l, 0)); n == 0 {
		t.Fatal("no batches read back")
	}
}

func TestRead(t *testing.T) {
	l := openT(t, t.TempDir(), Config{IndexIntervalBytes: 200})
	defer l.Close()
	g := &entryGen{t: t, term: 1}
	var es []*raft.Log
	for i := 0; i < 20; i++ {
		es = append(es, g.batch(2, 50, int64(i)))
		if i%3 == 0 {
			es = append(es, g.noop())
		}
	}
	mustStore(t, l, es...)
	size := len(es[0].Data)
	if l.EndOffset() != 40 {
		t.Fatalf("EndOffset = %d", l.EndOffset())
	}
	// Offset in the middle of a batch returns that batch.
	b, err := l.Read(5, 1<<20, 40)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := ParseBatchHeader(b)
	if h.BaseOffset != 4 || len(b) != 18*size {
		t.Fatalf("Read(5): base %d, %d bytes", h.BaseOffset, len(b))
	}
	// maxBytes smaller than one batch still gives one whole batch.
	if b, _ = l.Read(0, 1, 40); len(b) != size {
		t.Fatalf("Read with maxBytes 1: %d bytes", len(b))
	}
	if b, _ = l.Read(0, 3*size+1, 40); len(b) != 3*size {
		t.Fatalf("Read with maxBytes 3.x batches: %d bytes", len(b))
	}
	// limit: only batches whose base < limit.
	if b, _ = l.Read(0, 1<<20, 7); len(b) != 4*size {
		t.Fatalf("Read with limit 7: %d bytes", len(b))
	}
	if b, err = l.Read(6, 1<<20, 6); b != nil || err != nil {
		t.Fatalf("Read at limit: %v %v", b, err)
	}
	if b, err = l.Read(40, 1<<20, 40); b != nil || err != nil {
		t.Fatalf("Read at end: %v %v", b, err)
	}
	if _, err = l.Read(41, 1<<20, 40); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read past end: %v", err)
	}
	if _, err = l.Read(-1, 1<<20, 40); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read before start: %v", err)
	}
}

func TestRollBySizeAndTime(t *testing.T) {
	clk := &testClock{t: time.Unix(1000, 0)}
	dir := t.TempDir()
	l := openT(t, dir, Config{SegmentBytes: 1000, SegmentMs: 60_000, Now: clk.now})
	g := &entryGen{t: t, term: 1}
	var all []*raft.Log
	for i := 0; i < 10; i++ {
		e := g.batch(1, 300, int64(i))
		all = append(all, e, g.noop())
		mustStore(t, l, all[len(all)-2:]...)
	}
	size := len(all[0].Data)
	perSeg := 1000 / size
	if got, want := len(l.segs), (10+perSeg-1)/perSeg; got != want {
		t.Fatalf("%d segments, want %d", got, want)
	}
	n := len(l.segs)
	// store appends one batch of timestamp ts and wants segs segments.
	store := func(ts int64, segs int, why string) {
		t.Helper()
		e := g.batch(1, 10, ts)
		all = append(all, e)
		mustStore(t, l, e)
		if len(l.segs) != segs {
			t.Fatalf("%s: %d segments, want %d", why, len(l.segs), segs)
		}
	}
	// As in Kafka, time is the records': two minutes on the clock roll
	// nothing while the timestamps stay close...
	clk.t = clk.t.Add(2 * time.Minute)
	store(10, n, "rolled by the clock")
	// ...and a batch more than segment.ms past the segment's first rolls
	// at once (a backfill of old records rolls as the live ones did).
	store(60_000+10, n+1, "no time roll")
	// A segment whose first batch has no timestamp rolls by the clock,
	// from its creation.
	clk.t = clk.t.Add(2 * time.Minute)
	store(70_000, n+1, "rolled by the clock")
	big := g.batch(1, 1200, 70_001) // larger than a segment: one of its own
	all = append(all, big)
	mustStore(t, l, big)
	store(-1, n+3, "after a segment of its own") // so this one starts the next
	clk.t = clk.t.Add(2 * time.Minute)
	store(70_002, n+4, "a segment starting with no timestamp")
	n += 4
	checkEntries(t, l, all)
	if hs := readAll(t, l, 0); len(hs) != 16 {
		t.Fatalf("read %d batches", len(hs))
	}
	l.Close()
	l = openT(t, dir, Config{SegmentBytes: 1000, SegmentMs: 60_000, Now: clk.now})
	defer l.Close()
	checkEntries(t, l, all)
	if len(l.segs) != n {
		t.Fatalf("reopened with %d segments", len(l.segs))
	}
}

// segment.jitter.ms: each segment takes its own random amount, below the
// jitter and below segment.ms, off segment.ms.
func TestRollJitter(t *testing.T) {
	l := openT(t, t.TempDir(), Config{SegmentMs: 1000, SegmentJitterMs: 1_000_000})
	defer l.Close()
	seen := map[int64]bool{}
	for range 50 {
		j := l.rollJitter()
		if j < 0 || j >= 1000 {
			t.Fatalf("jitter %d, want in [0, 1000)", j)
		}
		seen[j] = true
	}
	if len(seen) < 10 {
		t.Fatalf("%d different jitters in 50", len(seen))
	}
	l.SetLimits(Limits{SegmentMs: 1000})
	if j := l.rollJitter(); j != 0 {
		t.Fatalf("jitter %d with segment.jitter.ms 0", j)
	}
}

// A segment rolls once its index is full (segment.index.bytes), as in Kafka:
// room for three time-index entries, one per batch, makes segments of three
// batches, in one StoreLogs or several, and after a restart.
func TestRollByIndexSize(t *testing.T) {
	checkRollsEveryThree(t, Config{SegmentIndexBytes: 3 * tsRecSize, IndexIntervalBytes: 1}, "index entries",
		func(s *segment) int { return s.nidx })
}

// Small batches, far apart in the sparse index, fill the raft index (32
// bytes a batch): a segment rolls once that holds as many entries as its
// time index may, so that its .raft file, and the check of it at start,
// stay bounded by segment.index.bytes rather than by segment.bytes (10
// million entries in a 1 GiB segment of 100-byte batches).
func TestRollByRaftIndexSize(t *testing.T) {
	checkRollsEveryThree(t, Config{SegmentIndexBytes: 3 * tsRecSize}, "raft entries",
		func(s *segment) int { return s.nraft })
}

// checkRollsEveryThree stores 7 batches (4 in one StoreLogs, then 3 one by
// one) into a log of cfg, whose segments must hold 3 each of what count
// counts, and 3 more after a restart.
func checkRollsEveryThree(t *testing.T, cfg Config, what string, count func(*segment) int) {
	dir := t.TempDir()
	l := openT(t, dir, cfg)
	g := &entryGen{t: t, term: 1}
	var first []*raft.Log
	for i := range 4 {
		first = append(first, g.batch(1, 10, int64(i)))
	}
	mustStore(t, l, first...)
	for i := range 3 {
		mustStore(t, l, g.batch(1, 10, int64(4+i)))
	}
	if len(l.segs) != 3 {
		t.Fatalf("%d segments, want 3", len(l.segs))
	}
	for i, s := range l.segs {
		if want := min(3, 7-3*i); count(s) != want {
			t.Errorf("segment %d: %d %s, want %d", i, count(s), what, want)
		}
	}
	l.Close()
	l = openT(t, dir, cfg)
	defer l.Close()
	mustStore(t, l, g.batch(1, 10, 8), g.batch(1, 10, 9), g.batch(1, 10, 10))
	if len(l.segs) != 4 {
		t.Fatalf("after a restart: %d segments, want 4", len(l.segs))
	}
}

// The active segment holds nothing in memory for each batch: its raft
// entries are read from .raft, as a sealed segment's. It kept them all (32
// bytes a batch, up to millions of batches in a segment of small ones),
// which grew every partition's memory until its segment rolled.
func TestActiveSegmentMemoryFlat(t *testing.T) {
	l := openT(t, t.TempDir(), Config{NoSync: true})
	defer l.Close()
	g := &entryGen{t: t, term: 1}
	store := func(n int) {
		es := make([]*raft.Log, 0, 100)
		for i := 0; i < n; i += len(es) {
			es = es[:0]
			for range 100 {
				es = append(es, g.batch(1, 10, int64(g.next)))
			}
			mustStore(t, l, es...)
		}
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	store(10_000)
	before := heap()
	store(200_000)
	after := heap()
	if len(l.segs) != 1 {
		t.Fatalf("%d segments, want the batches in one", len(l.segs))
	}
	if grew := int64(after) - int64(before); grew > 2<<20 {
		t.Errorf("the log's heap grew %d KiB over 200,000 batches in its active segment", grew>>10)
	}
	var e raft.Log
	if err := l.GetLog(g.next, &e); err != nil || e.Index != g.next {
		t.Fatalf("last entry: %v, index %d", err, e.Index)
	}
}

func TestDeleteRangeSuffixAndPrefix(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 600}
	l := openT(t, dir, cfg)
	g := &entryGen{t: t, term: 1}
	var all []*raft.Log
	for i := 0; i < 30; i++ {
		var e *raft.Log
		if i%4 == 1 {
			e = g.config()
		} else {
			e = g.batch(2, 100, int64(i))
		}
		all = append(all, e)
		mustStore(t, l, e)
		if i == 10 {
			g.term = 2
		}
		if i == 20 {
			g.term = 3
		}
	}
	if len(l.segs) < 4 {
		t.Fatalf("want several segments, have %d", len(l.segs))
	}
	// Suffix from index 18: offsets roll back to the base of the first removed batch.
	var wantLEO int64 = -1
	for _, e := range all[17:] {
		if IsBatch(e) {
			h, _ := ParseBatchHeader(e.Data)
			wantLEO = h.BaseOffset
			break
		}
	}
	if err := l.DeleteRange(18, 30); err != nil {
		t.Fatal(err)
	}
	if li, _ := l.LastIndex(); li != 17 || l.EndOffset() != wantLEO {
		t.Fatalf("after suffix delete: last %d, LEO %d want 17, %d", li, l.EndOffset(), wantLEO)
	}
	if ep, off := l.EpochEndOffset(5); ep != 2 || off != wantLEO {
		t.Fatalf("EpochEndOffset(5) = %d %d", ep, off)
	}
	checkEntries(t, l, all[:17])
	// Re-append with a new term: offsets continue from the rolled-back LEO.
	g.next, g.term = 17, 4
	e := g.batch(1, 10, 99)
	mustStore(t, l, e)
	if h, _ := ParseBatchHeader(e.Data); h.BaseOffset != wantLEO {
		t.Fatalf("re-appended batch at %d, want %d", h.BaseOffset, wantLEO)
	}
	all = append(all[:17], e)
	checkEntries(t, l, all)

	// Prefix: only whole segments up to max go.
	nseg := len(l.segs)
	seg1Last := l.segs[0].lastIndex()
	if err := l.DeleteRange(1, seg1Last+1); err != nil {
		t.Fatal(err)
	}
	if len(l.segs) != nseg-1 {
		t.Fatalf("prefix delete left %d segments, want %d", len(l.segs), nseg-1)
	}
	if fi, _ := l.FirstIndex(); fi != seg1Last+1 {
		t.Fatalf("FirstIndex = %d want %d", fi, seg1Last+1)
	}
	if l.StartOffset() != l.segs[0].base {
		t.Fatalf("StartOffset %d, first base %d", l.StartOffset(), l.segs[0].base)
	}
	checkEntries(t, l, all[seg1Last:])
	l.Close()
	l = openT(t, dir, cfg)
	checkEntries(t, l, all[seg1Last:])

	// Delete everything: empty, LEO kept, next store may start anywhere.
	leo := l.EndOffset()
	li, _ := l.LastIndex()
	if err := l.DeleteRange(0, li); err != nil {
		t.Fatal(err)
	}
	if fi, _ := l.FirstIndex(); fi != 0 || l.EndOffset() != leo || l.StartOffset() != leo {
		t.Fatalf("after delete all: first %d LSO %d LEO %d want LEO %d", fi, l.StartOffset(), l.EndOffset(), leo)
	}
	l.Close()
	l = openT(t, dir, cfg)
	defer l.Close()
	if l.EndOffset() != leo || l.StartOffset() != leo {
		t.Fatalf("reopened empty log: LSO %d LEO %d want %d", l.StartOffset(), l.EndOffset(), leo)
	}
	g.next = 1000
	e = g.batch(1, 1, 1)
	mustStore(t, l, e)
	if h, _ := ParseBatchHeader(e.Data); h.BaseOffset != leo {
		t.Fatalf("batch after delete-all at %d want %d", h.BaseOffset, leo)
	}
	checkEntries(t, l, []*raft.Log{e})
}

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Config{SegmentBytes: 500})
	defer l.Close()
	g := &entryGen{t: t, term: 1}
	for i := 0; i < 20; i++ {
		mustStore(t, l, g.batch(1, 200, int64(i*1000)))
	}
	nseg := len(l.segs)
	if nseg < 5 {
		t.Fatalf("%d segments", nseg)
	}
	now := time.UnixMilli(20_000)
	// Time retention, guarded by maxIndex = 0: nothing goes.
	if n, err := l.ApplyRetention(now, 5000, -1, 0); n != 0 || err != nil {
		t.Fatalf("guarded retention deleted %d (%v)", n, err)
	}
	// Old segments: those with max timestamp < 15000.
	n, err := l.ApplyRetention(now, 5000, -1, 1000)
	if err != nil || n == 0 {
		t.Fatalf("retention by time deleted %d (%v)", n, err)
	}
	if l.segs[0].maxTs < 15000 && len(l.segs) > 1 {
		t.Fatalf("segment with max ts %d survived", l.segs[0].maxTs)
	}
	if l.StartOffset() != l.segs[0].base {
		t.Fatalf("LSO %d, first base %d", l.StartOffset(), l.segs[0].base)
	}
	// Bytes: keep at least retentionBytes.
	keep := l.segs[len(l.segs)-1].logSize + 10
	if _, err := l.ApplyRetention(now, -1, keep, 1000); err != nil {
		t.Fatal(err)
	}
	if len(l.segs) != 2 || l.Size() < keep {
		t.Fatalf("bytes retention left %d segments, %d bytes", len(l.segs), l.Size())
	}
	if _, err := l.Read(0, 100, l.EndOffset()); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below LSO: %v", err)
	}
}

func TestSetStartOffsetPersists(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 500}
	l := openT(t, dir, cfg)
	g := &entryGen{t: t, term: 1}
	for i := 0; i < 10; i++ {
		mustStore(t, l, g.batch(3, 200, int64(i)))
	}
	if err := l.SetStartOffset(100); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("SetStartOffset past end: %v", err)
	}
	nseg := len(l.segs)
	l.SetSnapshotIndex(4)
	if err := l.SetStartOffset(13); err != nil {
		t.Fatal(err)
	}
	if l.StartOffset() != 13 {
		t.Fatalf("LSO %d", l.StartOffset())
	}
	if len(l.segs) >= nseg {
		t.Fatal("no segment below the start offset was deleted")
	}
	if fi, _ := l.FirstIndex(); fi > 5 {
		t.Fatalf("deleted raft entries above the snapshot index: first %d", fi)
	}
	b, err := l.Read(13, 1<<20, l.EndOffset())
	if h, _ := ParseBatchHeader(b); err != nil || h.BaseOffset != 12 {
		t.Fatalf("Read(13): %v base %d", err, h.BaseOffset)
	}
	l.SetStartOffset(5) // lower: ignored
	l.Close()
	l = openT(t, dir, cfg)
	defer l.Close()
	if l.StartOffset() != 13 {
		t.Fatalf("LSO after reopen %d", l.StartOffset())
	}
	// Reset drops everything.
	if err := l.Reset(500); err != nil {
		t.Fatal(err)
	}
	if l.StartOffset() != 500 || l.EndOffset() != 500 {
		t.Fatalf("after Reset: %d %d", l.StartOffset(), l.EndOffset())
	}
	g.next = 77
	e := g.batch(1, 1, 1)
	mustStore(t, l, e)
	if h, _ := ParseBatchHeader(e.Data); h.BaseOffset != 500 {
		t.Fatalf("after Reset batch at %d", h.BaseOffset)
	}
}

// crashDir fills a log and abandons it without Close (no clean marker).
func crashDir(t *testing.T, cfg Config) (string, []*raft.Log) {
	t.Helper()
	dir := t.TempDir()
	l := openT(t, dir, cfg)
	g := &entryGen{t: t, term: 1}
	var all []*raft.Log
	for i := 0; i < 12; i++ {
		es := []*raft.Log{g.batch(2, 60, int64(i))}
		if i%3 == 0 {
			es = append(es, g.ext())
		}
		mustStore(t, l, es...)
		for _, e := range es {
			all = append(all, cloneEntry(e))
		}
	}
	l.closeAll() // drop file handles, no marker
	return dir, all
}

func lastSegFile(t *testing.T, dir, ext string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*"+ext))
	if len(m) == 0 {
		t.Fatalf("no %s file", ext)
	}
	return m[len(m)-1]
}

// TestRecoverTruncatedTail loses the end of the last batch after a crash,
// in the two ways a torn write shows: the file cut inside the batch, and the
// batch's last bytes still the zeros written ahead of the data.
func TestRecoverTruncatedTail(t *testing.T) {
	for _, tear := range []string{"cut", "zeros"} {
		t.Run(tear, func(t *testing.T) {
			dir, all := crashDir(t, Config{})
			var dataEnd int64
			for _, e := range all {
				if IsBatch(e) {
					dataEnd += int64(len(e.Data))
				}
			}
			p := lastSegFile(t, dir, extLog)
			if fi, err := os.Stat(p); err != nil || fi.Size() <= dataEnd {
				t.Fatalf("crashed segment: %v, size %d for %d bytes of data; want zeros written ahead", err, fi.Size(), dataEnd)
			}
			switch tear {
			case "cut":
				if err := os.Truncate(p, dataEnd-10); err != nil {
					t.Fatal(err)
				}
			case "zeros":
				writeAt(t, p, dataEnd-10, make([]byte, 10))
			}
			l := openT(t, dir, Config{})
			defer l.Close()
			// The last batch and the sidecar records after it are gone.
			li, _ := l.LastIndex()
			want := all[:len(all)-2] // last: batch, ext (i == 11? no: 11%3 != 0) -> last entry is a batch
			if all[len(all)-1].Extensions == nil {
				want = all[:len(all)-1]
			}
			if li != want[len(want)-1].Index {
				t.Fatalf("LastIndex %d want %d", li, want[len(want)-1].Index)
			}
			checkEntries(t, l, want)
			if l.EndOffset() != 22 {
				t.Fatalf("EndOffset %d", l.EndOffset())
			}
			// And appending continues.
			g := &entryGen{t: t, term: 2, next: li}
			e := g.batch(1, 1, 1)
			mustStore(t, l, e)
			if h, _ := ParseBatchHeader(e.Data); h.BaseOffset != 22 {
				t.Fatalf("next batch at %d", h.BaseOffset)
			}
		})
	}
}

// TestRecoverZeroFilledTail: a crash leaves the zeros written ahead of the
// data past the last batch; recovery keeps every batch and cuts the zeros.
func TestRecoverZeroFilledTail(t *testing.T) {
	dir, all := crashDir(t, Config{})
	l := openT(t, dir, Config{})
	checkEntries(t, l, all)
	if l.EndOffset() != 24 {
		t.Fatalf("EndOffset %d, want 24", l.EndOffset())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var dataEnd int64
	for _, e := range all {
		if IsBatch(e) {
			dataEnd += int64(len(e.Data))
		}
	}
	if fi, err := os.Stat(lastSegFile(t, dir, extLog)); err != nil || fi.Size() != dataEnd {
		t.Fatalf("after recovery and Close: %v, .log is %d bytes, want %d", err, fi.Size(), dataEnd)
	}
}

func TestRecoverCorruptTail(t *testing.T) {
	dir, all := crashDir(t, Config{})
	p := lastSegFile(t, dir, extLog)
	f, _ := os.OpenFile(p, os.O_RDWR, 0)
	fi, _ := f.Stat()
	// Flip bytes inside the 9th batch (each batch is the same size).
	size := int64(len(all[0].Data))
	f.WriteAt([]byte{0xde, 0xad}, 8*size+70)
	f.Close()
	_ = fi
	l := openT(t, dir, Config{})
	defer l.Close()
	// Entries before batch 9 survive, including the ext entry after batch 7 (i=6).
	var want []*raft.Log
	batches := 0
	for _, e := range all {
		if IsBatch(e) {
			if batches == 8 {
				break
			}
			batches++
		}
		want = append(want, e)
	}
	checkEntries(t, l, want)
	if li, _ := l.LastIndex(); li != want[len(want)-1].Index {
		t.Fatalf("LastIndex %d want %d", li, want[len(want)-1].Index)
	}
	if l.EndOffset() != 16 {
		t.Fatalf("EndOffset %d", l.EndOffset())
	}
}

func TestRecoverDeletedIndexes(t *testing.T) {
	for _, clean := range []bool{false, true} {
		cfg := Config{SegmentBytes: 700, IndexIntervalBytes: 100}
		dir, all := crashDir(t, cfg)
		if clean {
			os.WriteFile(filepath.Join(dir, cleanShutdownFile), nil, 0o644)
		}
		for _, ext := range []string{extIndex, extTimeIndex, extRaft} {
			m, _ := filepath.Glob(filepath.Join(dir, "*"+ext))
			for _, p := range m {
				os.Remove(p)
			}
		}
		os.Remove(filepath.Join(dir, leaderEpochFile))
		l := openT(t, dir, cfg)
		checkEntries(t, l, all)
		if hs := readAll(t, l, 0); len(hs) != 12 {
			t.Fatalf("clean=%v: read %d batches", clean, len(hs))
		}
		if off, ts, ok := l.OffsetForTime(5); !ok || off != 9 || ts != 5 {
			t.Fatalf("OffsetForTime(5) = %d %d %v", off, ts, ok)
		}
		for _, ext := range []string{extIndex, extTimeIndex, extRaft} {
			m, _ := filepath.Glob(filepath.Join(dir, "*"+ext))
			if len(m) != len(l.segs) {
				t.Fatalf("%s not rebuilt", ext)
			}
		}
		l.Close()
	}
}

func TestOffsetForTimeAndEpochs(t *testing.T) {
	l := openT(t, t.TempDir(), Config{IndexIntervalBytes: 1})
	defer l.Close()
	mk := func(idx, term uint64, tb testBatch) *raft.Log {
		return &raft.Log{Index: idx, Term: term, Type: raft.LogCommand, Data: makeBatch(t, tb)}
	}
	mustStore(t, l,
		mk(1, 1, testBatch{ts0: 100, tsStep: 10, n: 3}),                   // offsets 0-2, ts 100,110,120
		&raft.Log{Index: 2, Term: 2, Type: raft.LogNoop},                  //
		mk(3, 2, testBatch{ts0: 200, tsStep: 10, n: 5, codec: CodecGzip}), // offsets 3-7, ts 200..240
		mk(4, 2, testBatch{ts0: 150, tsStep: 1, n: 2}),                    // offsets 8-9, ts 150,151 (out of order)
		mk(5, 5, testBatch{ts0: 300, tsStep: 0, n: 1}),                    // offset 10, ts 300
	)
	tests := []struct {
		ts      int64
		off, at int64
		ok      bool
	}{
		{0, 0, 100, true}, {105, 1, 110, true}, {121, 3, 200, true}, {215, 5, 220, true},
		{241, 10, 300, true}, {300, 10, 300, true}, {301, 0, 0, false},
	}
	for _, tt := range tests {
		off, at, ok := l.OffsetForTime(tt.ts)
		if off != tt.off || at != tt.at || ok != tt.ok {
			t.Errorf("OffsetForTime(%d) = %d %d %v, want %d %d %v", tt.ts, off, at, ok, tt.off, tt.at, tt.ok)
		}
	}
	if off, ts, ok := l.MaxTimestamp(); !ok || off != 10 || ts != 300 {
		t.Errorf("MaxTimestamp = %d %d %v", off, ts, ok)
	}
	epochs := []struct {
		in, ep int32
		end    int64
	}{{0, 0, 0}, {1, 1, 3}, {2, 2, 10}, {3, 2, 10}, {4, 2, 10}, {5, 5, 11}, {9, 5, 11}}
	for _, tt := range epochs {
		if ep, end := l.EpochEndOffset(tt.in); ep != tt.ep || end != tt.end {
			t.Errorf("EpochEndOffset(%d) = %d %d, want %d %d", tt.in, ep, end, tt.ep, tt.end)
		}
	}
}

// OffsetForTime finds the record inside a compressed batch, whatever its
// codec, reading the records as they decompress.
func TestOffsetForTimeCompressed(t *testing.T) {
	for _, c := range allCodecs {
		t.Run(c.name, func(t *testing.T) {
			l := openT(t, t.TempDir(), Config{})
			defer l.Close()
			mustStore(t, l, &raft.Log{Index: 1, Term: 1, Type: raft.LogCommand,
				Data: makeBatch(t, testBatch{ts0: 200, tsStep: 10, n: 5, valueLen: 50, codec: c.codec})})
			if off, at, ok := l.OffsetForTime(215); !ok || off != 2 || at != 220 {
				t.Fatalf("OffsetForTime(215) = %d %d %v, want 2 220 true", off, at, ok)
			}
		})
	}
}

func TestDecompressSnappyXerial(t *testing.T) {
	// An xerial frame around a raw snappy block of "hello" (literal-only).
	raw := []byte{5, 4 << 2, 'h', 'e', 'l', 'l', 'o'}
	x := append([]byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, byte(len(raw))}, raw...)
	for _, in := range [][]byte{raw, x} {
		out, err := Decompress(CodecSnappy, in)
		if err != nil || string(out) != "hello" {
			t.Fatalf("Decompress = %q, %v", out, err)
		}
	}
	if _, err := Decompress(9, nil); !errors.Is(err, ErrUnsupportedCodec) {
		t.Fatal(err)
	}
}

// A batch that fails its CRC after a clean close was synced before it
// failed: the disk changed it, no write was torn. It is kept, with every
// batch after it, as Kafka keeps it, instead of cutting the acknowledged
// batches that follow; after a crash, the tail of the last segment is
// still cut at the first bad batch (TestRecoverCorruptTail and the kill -9
// tests).
func TestCorruptBatchKeptAfterCleanClose(t *testing.T) {
	for _, c := range []struct {
		name  string
		batch int // which of the 10 batches is damaged
	}{{"last batch", 9}, {"first batch", 0}, {"middle batch", 4}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openT(t, dir, Config{})
			g := &entryGen{t: t, term: 1}
			all := storeBatches(t, l, g, 0, 10)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			p := lastSegFile(t, dir, extLog)
			size := int64(len(all[0].Data))
			writeAt(t, p, int64(c.batch)*size+70, []byte{0xde, 0xad, 0xbe, 0xef}) // inside the batch's records
			l = openT(t, dir, Config{})
			check := func(end int64) {
				t.Helper()
				if l.EndOffset() != end {
					t.Fatalf("EndOffset %d, want %d: acknowledged batches were cut", l.EndOffset(), end)
				}
				for i, want := range all {
					var got raft.Log
					if err := l.GetLog(want.Index, &got); err != nil || len(got.Data) != len(want.Data) ||
						i != c.batch && !bytes.Equal(got.Data, want.Data) {
						t.Fatalf("entry %d: %v, data equal %v", want.Index, err, bytes.Equal(got.Data, want.Data))
					}
				}
			}
			check(20)
			// More batches, then a crash: the kept batch, recorded, is
			// kept again, not cut with the batches acknowledged since.
			all = append(all, storeBatches(t, l, g, 10, 20)...)
			l.closeAll()
			l = openT(t, dir, Config{})
			defer l.Close()
			check(40)
		})
	}
}

// One bad sector across two batches: the first fails its CRC and is kept,
// and the second's base offset, which no CRC covers, moved on. The kept
// batch does not end where that base says (neither of its header's counts
// agrees): the log's end is not made up, and what lies before is kept.
func TestCorruptBatchKeptNextBaseMoved(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Config{})
	all := storeBatches(t, l, &entryGen{t: t, term: 1}, 0, 10)
	end := l.EndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	p := lastSegFile(t, dir, extLog)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(all[0].Data))
	b := make([]byte, 12) // batch 4's last 4 bytes, batch 5's base offset
	if _, err := f.ReadAt(b, 5*size-4); err != nil {
		t.Fatal(err)
	}
	copy(b, []byte{0xde, 0xad, 0xbe, 0xef})
	binary.BigEndian.PutUint64(b[4:], binary.BigEndian.Uint64(b[4:])+1000)
	f.WriteAt(b, 5*size-4)
	f.Close()
	l = openT(t, dir, Config{})
	defer l.Close()
	if l.EndOffset() > end {
		t.Fatalf("EndOffset %d after recovery, %d before the damage: offsets made up", l.EndOffset(), end)
	}
	for _, want := range all[:4] {
		var got raft.Log
		if err := l.GetLog(want.Index, &got); err != nil || !bytes.Equal(got.Data, want.Data) {
			t.Fatalf("entry %d before the damage: %v, data equal %v", want.Index, err, bytes.Equal(got.Data, want.Data))
		}
	}
}

// The log's last batch, kept with a bad CRC, whose records do not tell its
// count (one write over its attributes, naming a codec they are not in,
// and its last offset delta's high byte, as FuzzRecover found): the log
// ends by the smaller of its header's two counts, not by the one that
// made its end up ~2^29 on, at a clean start and at the crash after.
func TestCorruptLastBatchCodecAndDeltaKept(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Config{})
	g := &entryGen{t: t, term: 1}
	all := storeBatches(t, l, g, 0, 10)
	end := l.EndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	size := int64(len(all[0].Data))
	writeAt(t, lastSegFile(t, dir, extLog), 9*size+offAttributes, []byte{0x30, 0x31, 0x30}) // gzip; delta 0x30000001
	l = openT(t, dir, Config{})
	if l.EndOffset() != end {
		t.Fatalf("EndOffset %d after a clean start, want %d", l.EndOffset(), end)
	}
	checkEntries(t, l, all[:9])
	all = append(all[:9], storeBatches(t, l, g, 10, 12)...)
	l.closeAll()
	l = openT(t, dir, Config{})
	defer l.Close()
	if l.EndOffset() != end+4 {
		t.Fatalf("EndOffset %d after a crash, want %d", l.EndOffset(), end+4)
	}
	checkEntries(t, l, all[:9])
	checkEntries(t, l, all[9:])
}

// A batch kept with a bad CRC whose damage is in its max timestamp (here
// one in the year 2527): the timestamp is as corrupt as its records and
// is not taken, at the start that finds it, at a clean start and after a
// crash, so the segment still ages out by time retention and ListOffsets
// answers the good batches' max timestamp.
func TestCorruptBatchKeptTimestampIgnored(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Config{})
	g := &entryGen{t: t, term: 1}
	all := storeBatches(t, l, g, 0, 10) // batch i holds timestamps i and i+1
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(time.Date(2527, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()))
	writeAt(t, lastSegFile(t, dir, extLog), 4*int64(len(all[0].Data))+offMaxTimestamp, ts[:])
	check := func(when string) {
		t.Helper()
		if l.EndOffset() != 20 {
			t.Fatalf("%s: EndOffset %d, want 20", when, l.EndOffset())
		}
		if off, ts, ok := l.MaxTimestamp(); !ok || off != 19 || ts != 10 {
			t.Fatalf("%s: MaxTimestamp = %d %d %v, want 19 10 true", when, off, ts, ok)
		}
		if n, err := l.ApplyRetention(time.UnixMilli(100_000), 1000, -1, 0); err != nil || n != 0 {
			t.Fatalf("%s: retention guarded by raft: %d %v", when, n, err)
		}
		if s := l.segs[0]; s.maxTs != 10 {
			t.Fatalf("%s: segment max timestamp %d, want 10", when, s.maxTs)
		}
	}
	l = openT(t, dir, Config{})
	check("start finding it")
	l.Close()
	l = openT(t, dir, Config{})
	check("clean start")
	l.closeAll()
	l = openT(t, dir, Config{})
	check("start after a crash")
	// Raft cuts the entries after the kept batch: the rescan of what is
	// left does not take its timestamp either.
	if err := l.DeleteRange(6, g.next); err != nil {
		t.Fatal(err)
	}
	if s := l.segs[0]; l.EndOffset() != 10 || s.maxTs != 4 {
		t.Fatalf("after a suffix cut: EndOffset %d, segment max timestamp %d, want 10 and 4", l.EndOffset(), s.maxTs)
	}
	if n, err := l.ApplyRetention(time.UnixMilli(100_000), 1000, -1, g.next); err != nil || n != 1 {
		t.Fatalf("time retention deleted %d segments (%v), want 1", n, err)
	}
	l.Close()
}

// The max timestamp of the records from the log start on (ListOffsets
// -3 once DeleteRecords moved the start past the segment's newest record),
// and the lookup by time that finds its offset, leave out a batch kept
// with a bad CRC, as the segment's own max timestamp does.
func TestCorruptBatchKeptMaxTimestampFromStart(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Config{})
	g := &entryGen{t: t, term: 1}
	var all []*raft.Log
	for _, ts := range []int64{100, 50, 5} { // offsets 0-1, 2-3, 4-5
		e := g.batch(2, 60, ts)
		mustStore(t, l, e)
		all = append(all, cloneEntry(e))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(time.Date(2527, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()))
	writeAt(t, lastSegFile(t, dir, extLog), int64(len(all[0].Data))+offMaxTimestamp, ts[:])
	l = openT(t, dir, Config{})
	defer l.Close()
	if err := l.SetStartOffset(2); err != nil {
		t.Fatal(err)
	}
	if off, ts, ok := l.MaxTimestamp(); !ok || off != 5 || ts != 6 {
		t.Fatalf("MaxTimestamp = %d %d %v, want 5 6 true", off, ts, ok)
	}
}

// A batch kept with a bad CRC whose two counts are both damaged, and whose
// records bear neither out (one write of '0' bytes over the header from
// its last offset delta on and its records): after a clean stop, the log
// ends where the clean-shutdown marker says, not where the counts say
// (808,464,433 for 20), whether the batch is the log's last or the write
// ran on into the next batch's base offset, which no CRC covers.
func TestCorruptKeptBatchBoundedByCleanEnd(t *testing.T) {
	for _, c := range []struct {
		name  string
		batch int   // which of the 10 batches is overwritten
		more  int64 // bytes of the next batch written over too
	}{{"last batch", 9, 0}, {"into the next batch", 4, 1}} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openT(t, dir, Config{})
			all := storeBatches(t, l, &entryGen{t: t, term: 1}, 0, 10)
			end := l.EndOffset()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			size := int64(len(all[0].Data))
			writeAt(t, lastSegFile(t, dir, extLog), int64(c.batch)*size+offLastOffsetDelta, bytes.Repeat([]byte("0"), int(size-offLastOffsetDelta+c.more)))
			l = openT(t, dir, Config{})
			defer l.Close()
			if l.EndOffset() != end {
				t.Fatalf("EndOffset %d after a clean start, want %d", l.EndOffset(), end)
			}
			checkEntries(t, l, all[:c.batch])
		})
	}
}

// A clean-shutdown marker of a version before it held the log's end
// (empty) is still a clean stop: the log opens without a rebuild.
func TestCleanShutdownMarkerWithoutEnd(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Config{})
	all := storeBatches(t, l, &entryGen{t: t, term: 1}, 0, 10)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, cleanShutdownFile), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	l = openT(t, dir, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer l.Close()
	if l.EndOffset() != 20 || strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("EndOffset %d, log:\n%s", l.EndOffset(), logs.String())
	}
	checkEntries(t, l, all)
}

// A record of a segment's .raft damaged at rest is not found at a start
// when it is in a sealed segment (a start checks their ends, not every
// record) or is a term (of the active segment's, a start checks where
// they point): the first read of it finds it, rebuilds the segment's
// derived files, and reads every entry as stored. Raft panics on a read
// that fails: the node failed at every start.
func TestGetLogRepairsDamagedRaftRecord(t *testing.T) {
	for _, c := range []struct {
		name  string
		seg   int   // which segment's .raft; -1 the last
		at    int64 // where in its first record: 6 in its position, 23 in its term
		clean bool
	}{
		{"sealed position after clean stop", 1, 6, true},
		{"sealed position after crash", 1, 6, false},
		{"active term after clean stop", -1, 23, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := Config{SegmentBytes: 700}
			l := openT(t, dir, cfg)
			g := &entryGen{t: t, term: 1}
			all := storeBatches(t, l, g, 0, 9)
			if len(l.segs) < 3 {
				t.Fatalf("%d segments", len(l.segs))
			}
			s := l.segs[len(l.segs)-1]
			if c.seg >= 0 {
				s = l.segs[c.seg]
			}
			if c.clean {
				l.Close()
			} else {
				l.closeAll()
			}
			writeAt(t, s.path(extRaft), raftHdrSize+c.at, []byte("0"))
			var logs bytes.Buffer
			cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			l = openT(t, dir, cfg)
			defer l.Close()
			checkEntries(t, l, all)
			if !strings.Contains(logs.String(), "rebuilding the segment's indexes") {
				t.Fatalf("log:\n%s", logs.String())
			}
			l.Close()
			l = openT(t, dir, Config{SegmentBytes: 700})
			checkEntries(t, l, all)
			// And the log takes writes after it.
			all = append(all, storeBatches(t, l, g, 9, 11)...)
			checkEntries(t, l, all)
		})
	}
}

// Raft cutting a suffix inside a segment whose kept .raft records were
// damaged at rest cuts the data where the data says, not where a damaged
// record points.
func TestTruncateSuffixRepairsDamagedRaftRecord(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 700}
	l := openT(t, dir, cfg)
	all := storeBatches(t, l, &entryGen{t: t, term: 1}, 0, 9)
	s := l.segs[1]
	l.Close()
	writeAt(t, s.path(extRaft), raftHdrSize+raftRecSize+6, []byte("0")) // the second record's pos
	l = openT(t, dir, cfg)
	if err := l.DeleteRange(s.firstIndex+2, all[len(all)-1].Index); err != nil {
		t.Fatal(err)
	}
	check := func() {
		t.Helper()
		if want := s.base + 4; l.EndOffset() != want {
			t.Fatalf("EndOffset %d, want %d", l.EndOffset(), want)
		}
		checkEntries(t, l, all[:s.firstIndex+1])
	}
	check()
	l.Close()
	l = openT(t, dir, cfg)
	defer l.Close()
	check()
}

// Where a segment's data is damaged as well (a batch's base offset, which
// a start checks only in each segment's last batch), an open log cuts
// nothing: the read fails, as it did, and the next start cuts the log
// there, as it cuts any damage it finds.
func TestGetLogRepairLeavesDamagedData(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 700, IndexIntervalBytes: 100}
	l := openT(t, dir, cfg)
	all := storeBatches(t, l, &entryGen{t: t, term: 1}, 0, 9)
	s := l.segs[1]
	end := l.EndOffset()
	l.Close()
	for ext, at := range map[string]int64{extRaft: raftHdrSize + 6, extLog: 0} {
		writeAt(t, s.path(ext), at, []byte("0")) // the first record's pos; the first batch's base offset
	}
	l = openT(t, dir, cfg)
	var e raft.Log
	if err := l.GetLog(s.firstIndex, &e); err == nil {
		t.Fatal("read a damaged entry")
	}
	if l.EndOffset() != end {
		t.Fatalf("EndOffset %d, want %d", l.EndOffset(), end)
	}
	checkEntries(t, l, all[s.firstIndex:])
	l.Close()
	l = openT(t, dir, cfg)
	defer l.Close()
	if l.EndOffset() != s.base {
		t.Fatalf("EndOffset %d after the next start, want %d", l.EndOffset(), s.base)
	}
	checkEntries(t, l, all[:s.firstIndex-1])
}

// Raft reads a batch kept with a bad CRC with the last offset delta
// recovery found for it, not the damaged one it carries: the partition's
// FSM counts offsets by it when raft replays the log (one more made every
// later offset it handed out one off from the log's), and a negative one
// failed the read, on which raft panics.
func TestGetLogKeptBatchDelta(t *testing.T) {
	for _, delta := range []uint32{7, 0xffffffff} {
		dir := t.TempDir()
		l := openT(t, dir, Config{})
		all := storeBatches(t, l, &entryGen{t: t, term: 1}, 0, 10)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], delta)
		writeAt(t, lastSegFile(t, dir, extLog), 4*int64(len(all[0].Data))+offLastOffsetDelta, b[:])
		l = openT(t, dir, Config{})
		var e raft.Log
		if err := l.GetLog(all[4].Index, &e); err != nil {
			t.Fatalf("delta %#x: GetLog: %v", delta, err)
		}
		if h := parseHeader(e.Data); h.LastOffsetDelta != 1 || l.EndOffset() != 20 {
			t.Fatalf("delta %#x: read with last offset delta %d, log end %d; want 1 and 20", delta, h.LastOffsetDelta, l.EndOffset())
		}
		checkEntries(t, l, all[5:])
		l.Close()
	}
}

// A sealed segment's .raft cut short at rest, just past a sidecar entry,
// passes the start's check of its ends (the last record's end is the
// sidecar's); the segment after it then does not follow it. The
// predecessor's derived files are rebuilt from its data, and nothing is
// lost, where the later segments were moved aside.
func TestSealedRaftCutShortAfterMetaEntry(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 700}
	l := openT(t, dir, cfg)
	g := &entryGen{t: t, term: 1}
	all := storeBatches(t, l, g, 0, 4) // the first segment's 3, and one
	noop := g.noop()
	mustStore(t, l, noop)
	all = append(all, cloneEntry(noop))
	all = append(all, storeBatches(t, l, g, 4, 9)...)
	s := l.segs[1]
	if len(l.segs) < 3 || s.nraft < 3 {
		t.Fatalf("%d segments, the second with %d entries", len(l.segs), s.nraft)
	}
	l.Close()
	if err := os.Truncate(s.path(extRaft), raftHdrSize+2*raftRecSize); err != nil {
		t.Fatal(err)
	}
	l = openT(t, dir, cfg)
	defer l.Close()
	checkEntries(t, l, all)
	if l.EndOffset() != 18 {
		t.Fatalf("EndOffset %d, want 18", l.EndOffset())
	}
}

// storeBatches stores g's batches from to to-1, of two 60-byte records
// each, one StoreLogs a batch, and returns copies of them.
func storeBatches(t *testing.T, l *Log, g *entryGen, from, to int) []*raft.Log {
	t.Helper()
	var all []*raft.Log
	for i := from; i < to; i++ {
		e := g.batch(2, 60, int64(i))
		mustStore(t, l, e)
		all = append(all, cloneEntry(e))
	}
	return all
}

// A batch kept with a bad CRC at the end of a segment ends where the next
// segment starts, as one inside a segment ends where the batch after it
// starts; the last batch of the log, which nothing follows, by the count
// its records bear out. A flipped bit in its last offset delta (or record
// count) neither makes offsets up nor moves every later segment aside as
// not following it, at the start that finds it nor at the clean starts
// after.
func TestCorruptLastBatchOfSegmentKept(t *testing.T) {
	for _, where := range []string{"sealed segment", "log"} {
		for _, c := range []struct {
			name string
			at   int  // byte of the batch
			flip byte // xor
		}{
			{"delta up", offLastOffsetDelta, 0x01},
			{"delta down", offLastOffsetDelta + 3, 0x01},
			{"delta negative", offLastOffsetDelta, 0x80},
			{"count up", offNumRecords + 1, 0x01},
			{"count down", offNumRecords + 3, 0x01},
		} {
			t.Run(where+"/"+c.name, func(t *testing.T) {
				dir := t.TempDir()
				l := openT(t, dir, Config{})
				l.SetLimits(Limits{SegmentBytes: 700})
				all := storeBatches(t, l, &entryGen{t: t, term: 1}, 0, 10)
				end, segs := l.EndOffset(), len(l.segs)
				if segs < 3 {
					t.Fatalf("%d segments, want 3 or more", segs)
				}
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				logs, _ := filepath.Glob(filepath.Join(dir, "*"+extLog))
				sort.Strings(logs)
				p, damaged := logs[len(logs)-1], all[len(all)-1].Index
				size := int64(len(all[0].Data))
				if where == "sealed segment" {
					p = logs[0]
					fi, _ := os.Stat(p)
					damaged = uint64(fi.Size() / size)
				}
				f, err := os.OpenFile(p, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				fi, _ := f.Stat()
				var b [1]byte
				at := fi.Size() - size + int64(c.at) // the segment's last batch
				f.ReadAt(b[:], at)
				f.WriteAt([]byte{b[0] ^ c.flip}, at)
				f.Close()
				for _, start := range []string{"the start that finds it", "a clean start after"} {
					l = openT(t, dir, Config{})
					if l.EndOffset() != end || len(l.segs) != segs {
						t.Fatalf("%s: end offset %d in %d segments, want %d in %d", start, l.EndOffset(), len(l.segs), end, segs)
					}
					for _, want := range all {
						var got raft.Log
						if err := l.GetLog(want.Index, &got); want.Index != damaged && (err != nil || !bytes.Equal(got.Data, want.Data)) {
							t.Fatalf("%s: entry %d: %v", start, want.Index, err)
						}
					}
					if err := l.Close(); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}

// SetLimits applies new segment settings to an open log: the next write
// rolls by them, and a zero field takes its default.
func TestSetLimits(t *testing.T) {
	clk := &testClock{t: time.Unix(1000, 0)}
	l := openT(t, t.TempDir(), Config{Now: clk.now})
	g := &entryGen{t: t, term: 1}
	var all []*raft.Log
	store := func(n int) {
		for range n {
			e := g.batch(1, 300, 1)
			all = append(all, e)
			mustStore(t, l, e)
		}
	}
	store(5)
	if len(l.segs) != 1 {
		t.Fatalf("%d segments under the default limits, want 1", len(l.segs))
	}
	l.SetLimits(Limits{SegmentBytes: 1000})
	store(5)
	if len(l.segs) < 3 {
		t.Fatalf("%d segments after segment.bytes fell to 1000, want at least 3", len(l.segs))
	}
	n := len(l.segs)
	l.SetLimits(Limits{SegmentMs: 60_000}) // segment.bytes back to its default
	store(3)
	if len(l.segs) != n {
		t.Fatalf("%d segments, want %d: the default segment.bytes holds them", len(l.segs), n)
	}
	e := g.batch(1, 300, 1+2*60_000) // two minutes past the segment's first batch
	all = append(all, e)
	mustStore(t, l, e)
	if len(l.segs) != n+1 {
		t.Fatalf("%d segments after segment.ms passed, want %d", len(l.segs), n+1)
	}
	checkEntries(t, l, all)
}

// An epoch older than the log's first ends where the first starts, or at
// the log start offset once DeleteRecords moved it past that; with no
// batches at all, at the log end.
func TestEpochEndOffsetBeforeFirst(t *testing.T) {
	l := openT(t, t.TempDir(), Config{})
	defer l.Close()
	if ep, end := l.EpochEndOffset(3); ep != 3 || end != 0 {
		t.Fatalf("empty log: EpochEndOffset(3) = %d %d, want 3 0", ep, end)
	}
	g := &entryGen{t: t, term: 4}
	mustStore(t, l, g.batch(5, 10, 1), g.batch(5, 10, 2)) // offsets 0-9, epoch 4
	if ep, end := l.EpochEndOffset(2); ep != 2 || end != 0 {
		t.Fatalf("EpochEndOffset(2) = %d %d, want 2 0", ep, end)
	}
	if err := l.SetStartOffset(7); err != nil {
		t.Fatal(err)
	}
	if ep, end := l.EpochEndOffset(2); ep != 2 || end != 7 {
		t.Fatalf("after the log start moved to 7: EpochEndOffset(2) = %d %d, want 2 7", ep, end)
	}
}

// A leader epoch checkpoint whose last entry is of a later epoch than raft's
// (damage: raft terms only grow) must give way to the next epoch, as in
// Kafka's leader epoch cache, rather than hide it: else OffsetForLeaderEpoch
// answers the epochs written after it with an end before their data, and
// consumers see a truncation that did not happen.
func TestEpochCheckpointLaterEpochGivesWay(t *testing.T) {
	for _, ckpt := range []string{"9 10", "9 5"} { // at the log end, inside the log
		t.Run(ckpt, func(t *testing.T) {
			dir := t.TempDir()
			l := openT(t, dir, Config{})
			g := &entryGen{t: t, term: 2}
			mustStore(t, l, g.noop(), g.batch(10, 10, 1)) // offsets 0-9, epoch 2
			l.Close()
			if err := os.WriteFile(filepath.Join(dir, leaderEpochFile), encodeCheckpoint([]string{"2 0", ckpt}), 0o644); err != nil {
				t.Fatal(err)
			}
			l = openT(t, dir, Config{})
			g.term = 3
			mustStore(t, l, g.noop(), g.batch(10, 10, 2)) // offsets 10-19, epoch 3
			g.term = 4
			mustStore(t, l, g.noop(), g.batch(10, 10, 3)) // offsets 20-29, epoch 4
			l.Close()
			l = openT(t, dir, Config{})
			defer l.Close()
			for _, c := range []struct {
				asked, epoch int32
				end          int64
			}{{2, 2, 10}, {3, 3, 20}, {4, 4, 30}} {
				if ep, end := l.EpochEndOffset(c.asked); ep != c.epoch || end != c.end {
					t.Errorf("EpochEndOffset(%d) = %d %d, want %d %d", c.asked, ep, end, c.epoch, c.end)
				}
			}
			if ep := l.EpochAt(15); ep != 3 {
				t.Errorf("epoch of offset 15: %d, want 3", ep)
			}
		})
	}
}

// As Kafka rolls and deletes an active segment past retention.ms, a quiet
// log loses all its data but keeps its end offset, and takes new batches.
func TestRetentionActiveSegment(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Config{})
	g := &entryGen{t: t, term: 1}
	for i := 0; i < 3; i++ {
		mustStore(t, l, g.batch(2, 50, int64(1000+i)))
	}
	if len(l.segs) != 1 {
		t.Fatalf("%d segments, want 1", len(l.segs))
	}
	leo := l.EndOffset()
	now := time.UnixMilli(100_000)
	// Not past retention yet, then not covered by a snapshot: it stays.
	if n, err := l.ApplyRetention(now, 200_000, -1, g.next); n != 0 || err != nil {
		t.Fatalf("young active segment: deleted %d (%v)", n, err)
	}
	if n, err := l.ApplyRetention(now, 5000, -1, g.next-1); n != 0 || err != nil {
		t.Fatalf("unsnapshotted active segment: deleted %d (%v)", n, err)
	}
	if n, err := l.ApplyRetention(now, 5000, -1, g.next); n != 1 || err != nil {
		t.Fatalf("old active segment: deleted %d (%v)", n, err)
	}
	if l.StartOffset() != leo || l.EndOffset() != leo {
		t.Fatalf("after retention LSO %d LEO %d, want both %d", l.StartOffset(), l.EndOffset(), leo)
	}
	// An empty log has nothing more to delete.
	if n, err := l.ApplyRetention(now, 0, 0, g.next); n != 0 || err != nil {
		t.Fatalf("empty log: deleted %d (%v)", n, err)
	}
	mustStore(t, l, g.batch(1, 50, 99_000))
	if l.StartOffset() != leo || l.EndOffset() != leo+1 {
		t.Fatalf("after a new batch LSO %d LEO %d, want %d, %d", l.StartOffset(), l.EndOffset(), leo, leo+1)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openT(t, dir, Config{})
	defer l.Close()
	if l.StartOffset() != leo || l.EndOffset() != leo+1 {
		t.Fatalf("reopened: LSO %d LEO %d, want %d, %d", l.StartOffset(), l.EndOffset(), leo, leo+1)
	}
	if first, _ := l.FirstIndex(); first != g.next {
		t.Fatalf("reopened: first raft index %d, want %d", first, g.next)
	}
}

// A StoreLogs whose leader epoch checkpoint cannot be written (a full disk)
// fails as a whole: the log is as before, so raft's retry of the same
// entries succeeds once the checkpoint can be written, and the epoch is
// in the checkpoint after a restart.
func TestStoreLogsEpochCheckpointFailure(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Config{})
	g := &entryGen{t: t, term: 1}
	first := g.batch(2, 10, 1)
	mustStore(t, l, first)
	stored := []*raft.Log{cloneEntry(first)}

	// The checkpoint's temporary file cannot be created while a directory
	// holds its name.
	block := filepath.Join(dir, leaderEpochFile+checkpointTmpSuffix)
	if err := os.Mkdir(block, 0o755); err != nil {
		t.Fatal(err)
	}
	g.term = 2 // a new leader epoch: its batch rewrites the checkpoint
	second := g.batch(3, 10, 2)
	if err := l.StoreLogs([]*raft.Log{second}); err == nil {
		t.Fatal("StoreLogs succeeded with the epoch checkpoint unwritable")
	}
	if last, _ := l.LastIndex(); last != first.Index || l.EndOffset() != 2 {
		t.Fatalf("after the failed store: last index %d, end offset %d; want %d and 2", last, l.EndOffset(), first.Index)
	}
	if ep, end := l.EpochEndOffset(2); ep == 2 {
		t.Fatalf("epoch 2 known after its store failed (ends at %d)", end)
	}

	// The disk has room again, and raft retries the same entry.
	if err := os.Remove(block); err != nil {
		t.Fatal(err)
	}
	mustStore(t, l, second)
	stored = append(stored, cloneEntry(second))
	if l.EndOffset() != 5 {
		t.Fatalf("end offset %d after the retry, want 5", l.EndOffset())
	}
	checkEntries(t, l, stored)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openT(t, dir, Config{})
	defer l.Close()
	checkEntries(t, l, stored)
	if ep, end := l.EpochEndOffset(1); ep != 1 || end != 2 {
		t.Fatalf("EpochEndOffset(1) = %d, %d after restart; want 1, 2", ep, end)
	}
	eps, err := readEpochs(dir)
	if err != nil || len(eps) != 2 || eps[1] != (epochEntry{epoch: 2, start: 2}) {
		t.Fatalf("checkpoint after restart: %v (%v), want epoch 2 from offset 2", eps, err)
	}
}

// A segment in the middle of the log that lost data (truncated at rest)
// ends the log where its damage begins: the log must be contiguous. The
// later segments are moved aside, into damaged/, not deleted, and the log
// takes new batches after its end.
func TestRecoverMiddleDamageSetsAside(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Config{SegmentBytes: 3000})
	g := &entryGen{t: t, term: 1}
	for range 24 {
		mustStore(t, l, g.batch(10, 50, 1))
	}
	if len(l.segs) < 4 {
		t.Fatalf("%d segments, want 4 or more", len(l.segs))
	}
	mid := l.segs[1]
	midLog, midEnd := mid.path(extLog), mid.end
	later := len(l.segs) - 2
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(midLog)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(midLog, fi.Size()-100); err != nil { // into its last batch
		t.Fatal(err)
	}
	l = openT(t, dir, Config{SegmentBytes: 3000})
	defer l.Close()
	if end := l.EndOffset(); end >= midEnd || end <= mid.base {
		t.Fatalf("end offset %d after damage in the segment [%d, %d)", end, mid.base, midEnd)
	}
	asides, err := filepath.Glob(filepath.Join(dir, damagedDir, "*", "*"+extLog))
	if err != nil || len(asides) != later {
		t.Fatalf("segments set aside: %v (%v), want %d", asides, err, later)
	}
	last, _ := l.LastIndex()
	g.next = last
	mustStore(t, l, g.batch(1, 10, 2))
}

// TestRecoverDamagedSidecarHeader: a sidecar whose header is damaged but
// whose records are intact keeps them, so the batches after them keep their
// raft indexes and no later segment is set aside.
func TestRecoverDamagedSidecarHeader(t *testing.T) {
	for _, clean := range []bool{false, true} {
		cfg := Config{SegmentBytes: 700, IndexIntervalBytes: 100}
		dir, all := crashDir(t, cfg)
		if clean {
			os.WriteFile(filepath.Join(dir, cleanShutdownFile), nil, 0o644)
		}
		metas, _ := filepath.Glob(filepath.Join(dir, "*"+extRaftMeta))
		if len(metas) < 3 {
			t.Fatalf("%d segments, want 3 or more", len(metas))
		}
		f, err := os.OpenFile(metas[0], os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte{0xde, 0xad}, 10); err != nil { // inside its first raft index
			t.Fatal(err)
		}
		f.Close()
		l := openT(t, dir, cfg)
		checkEntries(t, l, all)
		if hs := readAll(t, l, 0); len(hs) != 12 {
			t.Fatalf("clean=%v: read %d batches, want 12", clean, len(hs))
		}
		if asides, _ := filepath.Glob(filepath.Join(dir, damagedDir, "*", "*")); len(asides) != 0 {
			t.Fatalf("clean=%v: set aside %v", clean, asides)
		}
		l.Close()
	}
}

// A log start offset checkpoint past the log end (its segments lost) leaves
// the log empty at that start, as in Kafka's LogLoader: no offset below it
// is handed out again, and the batches appended afterwards are there at the
// next start.
func TestStartOffsetCheckpointPastEnd(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Config{})
	g := &entryGen{t: t, term: 1}
	for i := 0; i < 10; i++ {
		mustStore(t, l, g.batch(1, 10, int64(i)))
	}
	l.Close()
	if err := os.WriteFile(filepath.Join(dir, startOffsetFile), encodeCheckpoint([]string{"1000"}), 0o644); err != nil {
		t.Fatal(err)
	}
	l = openT(t, dir, Config{})
	if l.StartOffset() != 1000 || l.EndOffset() != 1000 {
		t.Fatalf("opened: LSO %d LEO %d, want 1000 1000", l.StartOffset(), l.EndOffset())
	}
	if idx, term := l.EmptiedBelowStart(); idx != 10 || term != 1 {
		t.Fatalf("EmptiedBelowStart = %d, %d; want 10, 1", idx, term)
	}
	for i := 0; i < 20; i++ {
		mustStore(t, l, g.batch(100, 10, int64(i)))
	}
	l.Close()
	l = openT(t, dir, Config{})
	defer l.Close()
	if l.StartOffset() != 1000 || l.EndOffset() != 3000 {
		t.Fatalf("reopened: LSO %d LEO %d, want 1000 3000 (the batches appended after the bad checkpoint kept)", l.StartOffset(), l.EndOffset())
	}
	if idx, _ := l.EmptiedBelowStart(); idx != 0 {
		t.Fatalf("EmptiedBelowStart = %d at the second open, want 0", idx)
	}
}

// DeleteRecords moves the start near the end, then the disk cuts the last
// segment below that start: the log must come back empty at the start, its
// start never moving back, so that the next batch gets the start offset
// and no offset is handed out twice (Kafka's LogLoader,
// deleteSegmentsIfLogStartGreaterThanLogEnd). The segments are set aside,
// not deleted.
func TestCutBelowStartOffset(t *testing.T) {
	for _, clean := range []bool{true, false} {
		dir := t.TempDir()
		cfg := Config{SegmentBytes: 4096}
		l := openT(t, dir, cfg)
		g := &entryGen{t: t, term: 3}
		for i := 0; i < 40; i++ {
			mustStore(t, l, g.batch(10, 100, int64(i)))
		}
		if err := l.SetStartOffset(395); err != nil {
			t.Fatal(err)
		}
		mustStore(t, l, g.ext()) // the DeleteRecords command itself
		lastIndex := g.next
		l.Close()
		if !clean {
			os.Remove(filepath.Join(dir, cleanShutdownFile))
		}
		logs, _ := filepath.Glob(filepath.Join(dir, "*"+extLog))
		sort.Strings(logs)
		if len(logs) < 2 {
			t.Fatalf("%d segments, want 2 or more", len(logs))
		}
		if err := os.Truncate(logs[len(logs)-1], 10); err != nil { // inside its first batch
			t.Fatal(err)
		}

		l = openT(t, dir, cfg)
		if l.StartOffset() != 395 || l.EndOffset() != 395 {
			t.Fatalf("clean=%v: reopened with LSO %d LEO %d, want 395 395", clean, l.StartOffset(), l.EndOffset())
		}
		if first, _ := l.FirstIndex(); first != 0 {
			t.Fatalf("clean=%v: FirstIndex %d, want an empty log", clean, first)
		}
		if idx, term := l.EmptiedBelowStart(); idx == 0 || idx >= lastIndex || term != 3 {
			t.Fatalf("clean=%v: EmptiedBelowStart = %d, %d; want below %d, term 3", clean, idx, term, lastIndex)
		}
		if asides, _ := filepath.Glob(filepath.Join(dir, damagedDir, "*", "*"+extLog)); len(asides) == 0 {
			t.Fatalf("clean=%v: no segment set aside", clean)
		}
		idx, term := l.EmptiedBelowStart()
		// A crash before raft stores its snapshot there: the next open
		// still knows where the emptied log ended.
		l.Close()
		l = openT(t, dir, cfg)
		if i, tm := l.EmptiedBelowStart(); i != idx || tm != term || l.StartOffset() != 395 || l.EndOffset() != 395 {
			t.Fatalf("clean=%v: reopened before any write: EmptiedBelowStart = %d, %d, LSO %d LEO %d; want %d, %d, 395 395", clean, i, tm, l.StartOffset(), l.EndOffset(), idx, term)
		}
		g.next = idx
		g.term = 4
		mustStore(t, l, g.noop(), g.batch(1, 10, 1))
		if hs := readAll(t, l, 395); len(hs) != 1 || hs[0].BaseOffset != 395 {
			t.Fatalf("clean=%v: after the restart the next batch is %+v, want one at 395", clean, hs)
		}
		l.Close()
		l = openT(t, dir, cfg)
		if l.StartOffset() != 395 || l.EndOffset() != 396 {
			t.Fatalf("clean=%v: second reopen LSO %d LEO %d, want 395 396", clean, l.StartOffset(), l.EndOffset())
		}
		l.Close()
	}
}

// A segment whose records carry no timestamp (magic-0 messages, -1) ages from
// its last write, as Kafka's LogSegment.largestTimestamp falls back on the
// file's last-modified time: a long-lived segment still written to keeps its
// records, however long ago it was created.
func TestRetentionWithoutTimestamps(t *testing.T) {
	dir := t.TempDir()
	clock := &testClock{t: time.Now().Add(-time.Hour)} // the segment is created an hour ago
	l := openT(t, dir, Config{SegmentBytes: 1 << 20, Now: clock.now})
	defer l.Close()
	g := &entryGen{t: t, term: 1}
	mustStore(t, l, g.batch(1, 10, -1)) // written now
	if n, err := l.ApplyRetention(time.Now(), time.Minute.Milliseconds(), -1, g.next); n != 0 || err != nil {
		t.Fatalf("retention deleted %d segments (%v) written a moment ago", n, err)
	}
	if l.StartOffset() != 0 || l.EndOffset() != 1 {
		t.Fatalf("LSO %d LEO %d, want 0 and 1", l.StartOffset(), l.EndOffset())
	}
	// Last written two minutes ago: past a one-minute retention.
	old := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(segPath(dir, 0, extLog), old, old); err != nil {
		t.Fatal(err)
	}
	if n, err := l.ApplyRetention(time.Now(), time.Minute.Milliseconds(), -1, g.next); n != 1 || err != nil {
		t.Fatalf("retention deleted %d segments (%v), want the one last written 2 minutes ago", n, err)
	}
	if l.StartOffset() != 1 || l.EndOffset() != 1 {
		t.Fatalf("LSO %d LEO %d, want 1 and 1", l.StartOffset(), l.EndOffset())
	}
}

// A new log writes no leader epoch checkpoint until its first election: one
// that holds only raft's bootstrap configuration when the node stops (or
// crashes, as in the middle of a CreateTopics) has nothing to rebuild when
// it opens again, and no warning to give.
func TestReopenBeforeFirstElectionQuiet(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Config{})
	g := &entryGen{t: t, term: 1}
	cfgEntry := g.config()
	mustStore(t, l, cfgEntry)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	l = openT(t, dir, Config{Logger: slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	defer l.Close()
	if logged.Len() > 0 {
		t.Errorf("reopening a log before its first election logged:\n%s", logged.String())
	}
	checkEntries(t, l, []*raft.Log{cfgEntry})
	g.term = 2
	mustStore(t, l, g.noop(), g.batch(2, 10, 1))
	if ep, end := l.EpochEndOffset(2); ep != 2 || end != 2 {
		t.Fatalf("EpochEndOffset(2) = %d, %d after the first election; want 2, 2", ep, end)
	}
}

// TestEpochEndOffsetBelowStart: epochs that ended at or below the log start
// offset answer as Kafka's epoch cache does once truncateFromStart dropped
// them: as epochs older than every one, ending where the log now starts,
// never at an offset below it (which a consumer validating its position
// would take as a truncation to an offset it cannot fetch).
func TestEpochEndOffsetBelowStart(t *testing.T) {
	l := openT(t, t.TempDir(), Config{})
	defer l.Close()
	g := &entryGen{t: t}
	for term := uint64(1); term <= 3; term++ { // epoch 1: 0..9, 2: 10..19, 3: 20..29
		g.term = term
		for range 5 {
			mustStore(t, l, g.batch(2, 10, 0))
		}
	}
	type ask struct {
		epoch     int32
		wantEpoch int32
		wantEnd   int64
	}
	for _, step := range []struct {
		start int64
		asks  []ask
	}{
		{0, []ask{{0, 0, 0}, {1, 1, 10}, {2, 2, 20}, {3, 3, 30}}},
		{5, []ask{{0, 0, 5}, {1, 1, 10}, {2, 2, 20}}},
		{15, []ask{{0, 0, 15}, {1, 1, 15}, {2, 2, 20}, {3, 3, 30}}},
		{20, []ask{{1, 1, 20}, {2, 2, 20}, {3, 3, 30}}},
		{25, []ask{{1, 1, 25}, {2, 2, 25}, {3, 3, 30}}},
	} {
		if err := l.SetStartOffset(step.start); err != nil {
			t.Fatal(err)
		}
		for _, a := range step.asks {
			if ep, end := l.EpochEndOffset(a.epoch); ep != a.wantEpoch || end != a.wantEnd {
				t.Errorf("start %d: EpochEndOffset(%d) = %d %d, want %d %d", step.start, a.epoch, ep, end, a.wantEpoch, a.wantEnd)
			}
		}
	}
}

// A log opened without its clean-shutdown marker says so, once, at INFO,
// as Kafka's "Recovering unflushed segment": a restart after kill -9 was
// as quiet as a clean one. A clean reopen, and a new empty log, say
// nothing.
func TestUncleanOpenLogged(t *testing.T) {
	dir := t.TempDir()
	var logged bytes.Buffer
	cfg := Config{Logger: slog.New(slog.NewTextHandler(&logged, nil))}
	l := openT(t, dir, cfg)
	g := &entryGen{t: t, term: 1}
	mustStore(t, l, g.config(), g.batch(2, 5, 1))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openT(t, dir, cfg)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logged.String(), "not closed cleanly") {
		t.Fatalf("a new log, or a clean reopen, logged a recovery:\n%s", logged.String())
	}
	os.Remove(filepath.Join(dir, cleanShutdownFile))
	l = openT(t, dir, cfg)
	defer l.Close()
	out := logged.String()
	if strings.Count(out, "not closed cleanly") != 1 || !strings.Contains(out, "level=INFO") ||
		!strings.Contains(out, "segments_checked=1") || !strings.Contains(out, "log_end_offset=") {
		t.Fatalf("an unclean reopen logged:\n%s", out)
	}
}
