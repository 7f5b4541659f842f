package logstore

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/klauspost/compress/snappy"
)

func FuzzValidateBatch(f *testing.F) {
	f.Add(makeBatch(f, testBatch{ts0: 1, n: 3, valueLen: 4}))
	f.Add(makeBatch(f, testBatch{n: 2, valueLen: 30, codec: CodecGzip}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ValidateBatch(b)
		if err == nil {
			if h.Size() != len(b) || h.NumRecords <= 0 {
				t.Fatalf("accepted inconsistent batch %+v", h)
			}
			Decompress(h.Compression(), b[BatchHeaderSize:])
			CheckBatch(b)
		}
		SplitBatches(b)
		IsBatch(&raft.Log{Type: raft.LogCommand, Data: b})
	})
}

// FuzzScanCompressed feeds any bytes to the streaming walk of compressed
// records as each codec's data. It must end without panicking, and what it
// accepts must decompress whole to the same records.
func FuzzScanCompressed(f *testing.F) {
	recs := makeBatch(f, testBatch{ts0: 1, tsStep: 3, n: 4, valueLen: 20})[BatchHeaderSize:]
	for _, codec := range []int8{CodecGzip, CodecSnappy, CodecLZ4, CodecZstd} {
		f.Add(uint8(codec), compressForTest(f, codec, recs), 4)
	}
	f.Add(uint8(CodecSnappy), snappy.Encode(nil, recs), 4)
	f.Fuzz(func(t *testing.T, codec uint8, z []byte, n int) {
		c := int8(codec % 6)
		n = int(uint(n)%(1<<16)) + 1 // batches hold at least one record
		sum, err := scanCompressed(c, z, n, nil)
		if err != nil {
			return
		}
		whole, err := Decompress(c, z)
		if err != nil {
			t.Fatalf("codec %d: streaming accepted what Decompress refuses: %v", c, err)
		}
		if got, ok := validRecords(whole, n); !ok || got != sum {
			t.Fatalf("codec %d: streaming summary %+v, whole %+v %v", c, sum, got, ok)
		}
	})
}

// FuzzRecover damages a small log of one segment and reopens it
// (recoverDamaged).
func FuzzRecover(f *testing.F) {
	f.Add(uint8(0), uint32(100), uint8(0), []byte{1})
	f.Add(uint8(0), uint32(700), uint8(1), []byte{0xff, 0xff})
	f.Add(uint8(1), uint32(40), uint8(1), []byte{0})
	f.Add(uint8(1), uint32(90), uint8(0), []byte{})
	f.Add(uint8(2), uint32(33), uint8(1), []byte{9, 9, 9, 9})
	f.Add(uint8(3), uint32(0), uint8(2), []byte("garbage"))
	f.Add(uint8(0), uint32(0), uint8(2), make([]byte, 70))
	f.Add(uint8(5), uint32(3), uint8(1), []byte{0x7f})
	f.Fuzz(func(t *testing.T, which uint8, pos uint32, mode uint8, data []byte) {
		recoverDamaged(t, Config{NoSync: true, IndexIntervalBytes: 150, Logger: quietLogger()}, which, 0, pos, mode, data)
	})
}

// FuzzRecoverSegments is FuzzRecover over a log of several segments (about
// four), damaging one file of the segment seg picks: sealed segments'
// damage, and the bounds each segment's successor gives, are found at
// every start, not only at a crash.
func FuzzRecoverSegments(f *testing.F) {
	f.Add(uint8(0), uint8(0), uint32(100), uint8(0), []byte{1})
	f.Add(uint8(128), uint8(1), uint32(80), uint8(1), []byte("0000000000000000"))
	f.Add(uint8(0), uint8(2), uint32(30), uint8(1), []byte{0xff})
	f.Add(uint8(129), uint8(1), uint32(0), uint8(0), []byte{})
	f.Add(uint8(3), uint8(0), uint32(5), uint8(1), []byte{9, 9})
	f.Add(uint8(130), uint8(3), uint32(0), uint8(2), []byte("garbage"))
	f.Fuzz(func(t *testing.T, which, seg uint8, pos uint32, mode uint8, data []byte) {
		recoverDamaged(t, Config{NoSync: true, SegmentBytes: 400, IndexIntervalBytes: 150, Logger: quietLogger()}, which, seg, pos, mode, data)
	})
}

// recoverDamaged builds a small log, abandons it (no clean marker, or,
// which >= 128, with the one Close writes), damages one file of one
// segment (which picks the file, seg the segment) by truncating it at pos,
// writing data at pos or appending data (mode), and reopens it. Open must
// not panic; every entry wholly before the damage must survive a crash;
// the end offset must not pass what it was; and the log must take writes.
func recoverDamaged(t *testing.T, cfg Config, which, seg uint8, pos uint32, mode uint8, data []byte) {
	dir := t.TempDir()
	l, err := Open(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := &entryGen{t: t, term: 1}
	var all []*raft.Log
	for i := 0; i < 8; i++ {
		es := []*raft.Log{g.batch(1+i%3, 40, int64(i))}
		if i%3 == 1 {
			es = append(es, g.ext())
		}
		if i == 4 {
			es = append(es, g.noop())
			g.term++
		}
		mustStore(t, l, es...)
		for _, e := range es {
			all = append(all, cloneEntry(e))
		}
	}
	end := l.EndOffset()
	s := l.segs[int(seg)%len(l.segs)]
	before := int(s.firstIndex - 1) // entries of the segments before s
	ents, err := s.raftEnts(s.nraft)
	if err != nil {
		t.Fatal(err)
	}
	l.closeAll()

	exts := []string{extLog, extRaftMeta, extRaft, extIndex, extTimeIndex, leaderEpochFile}
	ext := exts[int(which)%len(exts)]
	clean := which >= 128
	p := segPath(dir, s.base, ext)
	if ext == leaderEpochFile {
		p = filepath.Join(dir, ext)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	off := int64(pos) % (fi.Size() + 1)
	fh, _ := os.OpenFile(p, os.O_RDWR, 0)
	switch mode % 3 {
	case 0:
		fh.Truncate(off)
	case 1:
		fh.WriteAt(data, off)
	case 2:
		fh.WriteAt(data, fi.Size())
	}
	fh.Close()
	if clean {
		// As Close writes it, with the log's end.
		os.WriteFile(filepath.Join(dir, cleanShutdownFile), encodeCheckpoint([]string{strconv.FormatInt(end, 10)}), 0o644)
	}

	l2, err := Open(dir, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer l2.Close()
	// Entries that lie wholly before the damage must survive.
	if !clean && mode%3 != 2 && (ext == extLog || ext == extRaftMeta) {
		kind := uint8(kindBatch)
		if ext == extRaftMeta {
			kind = kindMeta
		}
		keep := len(all)
		for i, e := range ents {
			if e.kind == kind && e.end() > off {
				keep = before + i
				break
			}
		}
		checkEntries(t, l2, all[:keep])
	}
	if ext != extLog && ext != extRaftMeta { // derived files: rebuilt, after a crash or not
		checkEntries(t, l2, all)
	}
	// Damage loses records, it never makes offsets up.
	if l2.EndOffset() > end {
		t.Fatalf("end offset %d after recovery, %d before the damage", l2.EndOffset(), end)
	}
	// Nothing may panic.
	fi2, _ := l2.FirstIndex()
	li2, _ := l2.LastIndex()
	for i := fi2; i <= li2 && li2 != 0; i++ {
		var e raft.Log
		l2.GetLog(i, &e)
	}
	for o := l2.StartOffset(); o < l2.EndOffset(); o++ {
		l2.Read(o, 100, l2.EndOffset())
	}
	l2.OffsetForTime(3)
	l2.MaxTimestamp()
	l2.EpochEndOffset(1)
	g2 := &entryGen{t: t, term: 9, next: li2}
	if err := l2.StoreLogs([]*raft.Log{g2.batch(1, 1, 1), g2.noop()}); err != nil {
		t.Fatalf("StoreLogs after recovery: %v", err)
	}
}

// FuzzValidRecords: the produce path's record check agrees with walkRecords
// on every input, and so does the streaming walk of compressed records, over
// the same bytes compressed with each codec.
func FuzzValidRecords(f *testing.F) {
	b := makeBatch(f, testBatch{ts0: 1, n: 3, valueLen: 4})
	f.Add(b[BatchHeaderSize:], 3)
	f.Add(b[BatchHeaderSize:], 2)
	f.Add([]byte{}, 0)
	f.Add([]byte{0x02, 0x00}, 1)
	keyed := AppendBatch(nil, BatchOptions{}, []Record{
		{TimestampDelta: 5, Key: []byte("k"), Value: []byte("v"), Headers: []Header{{Key: "h", Value: nil}}},
		{TimestampDelta: -3, Value: []byte("w")},
	})
	f.Add(keyed[BatchHeaderSize:], 2)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, 1) // a varint past 64 bits
	f.Add([]byte{0x02, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 1)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		n %= 1 << 16
		sum, ok := validRecords(b, n)
		err := walkRecords(b, n, nil)
		if ok != (err == nil) {
			t.Fatalf("validRecords %v, walkRecords %v", ok, err)
		}
		type compressed struct {
			codec int8
			z     []byte
		}
		// Snappy twice: xerial-framed, and one raw block as some clients write it.
		cases := []compressed{{CodecSnappy, snappy.Encode(nil, b)}}
		for _, codec := range []int8{CodecGzip, CodecSnappy, CodecLZ4, CodecZstd} {
			cases = append(cases, compressed{codec, compressForTest(t, codec, b)})
		}
		for _, c := range cases {
			got, err := scanCompressed(c.codec, c.z, n, nil)
			if ok != (err == nil) {
				t.Fatalf("codec %d: validRecords %v, scanCompressed %v", c.codec, ok, err)
			}
			if ok && got != sum {
				t.Fatalf("codec %d: summary %+v, validRecords %+v", c.codec, got, sum)
			}
		}
	})
}

// FuzzUpConvert: any bytes given as an old message set are refused with
// one of the produce path's errors or converted into a batch that passes
// CheckBatch, and that batch converts back down to as many messages.
func FuzzUpConvert(f *testing.F) {
	one := legacyMsg{ts: 5, key: []byte("k"), value: []byte("v")}
	f.Add(msgSet(0, one, one))
	f.Add(msgSet(1, one, legacyMsg{ts: -1}))
	for _, codec := range []int8{CodecGzip, CodecSnappy, CodecLZ4} {
		z, err := compress(codec, DefaultLevel, nil, msgSet(1, one, one, one))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msgSet(1, legacyMsg{attrs: codec, ts: 5, value: z}))
	}
	// Magic 0 LZ4, whose frame header checksum UpConvert recomputes.
	z0, err := compress(CodecLZ4, DefaultLevel, nil, msgSet(0, one, one))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msgSet(0, legacyMsg{attrs: CodecLZ4, value: z0}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, set []byte) {
		batch, _, err := UpConvert(set)
		if err != nil {
			if !errors.Is(err, ErrCorruptBatch) && !errors.Is(err, ErrInvalidRecord) && !errors.Is(err, ErrNoMessages) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		h, _, err := CheckBatch(batch)
		if err != nil {
			t.Fatalf("converted batch fails CheckBatch: %v", err)
		}
		down, err := DownConvert(batch, 1, 0, math.MaxInt32)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		if err := eachMessage(down, func(legacyMessage) error { n++; return nil }); err != nil || n != int(h.NumRecords) {
			t.Fatalf("down-converted %d messages of %d: %v", n, h.NumRecords, err)
		}
	})
}
