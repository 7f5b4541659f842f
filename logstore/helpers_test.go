package logstore

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// testBatch describes a batch to encode.
type testBatch struct {
	ts0      int64 // base timestamp; record i has ts0 + tsStep*i
	tsStep   int64
	n        int
	valueLen int
	codec    int8
}

// makeBatch encodes a magic-2 batch with n records (null key, value of
// valueLen bytes, no headers) and a correct CRC.
func makeBatch(t testing.TB, tb testBatch) []byte {
	t.Helper()
	if tb.n == 0 {
		tb.n = 1
	}
	var recs []byte
	maxTs := tb.ts0
	for i := 0; i < tb.n; i++ {
		var body []byte
		body = append(body, 0)
		body = binary.AppendVarint(body, tb.tsStep*int64(i))
		body = binary.AppendVarint(body, int64(i))
		body = binary.AppendVarint(body, -1)
		body = binary.AppendVarint(body, int64(tb.valueLen))
		body = append(body, bytes.Repeat([]byte{byte('a' + i%26)}, tb.valueLen)...)
		body = binary.AppendVarint(body, 0)
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
		maxTs = max(maxTs, tb.ts0+tb.tsStep*int64(i))
	}
	if tb.codec != CodecNone {
		recs = compressForTest(t, tb.codec, recs)
	}
	return encodeBatch(tb.codec, tb.ts0, maxTs, tb.n, recs)
}

// Encoders are reused: fuzzing compresses every input four ways.
var (
	zstdEnc = sync.OnceValues(func() (*zstd.Encoder, error) { return zstd.NewWriter(nil) })
	gzipW   = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}
	lz4W    = sync.Pool{New: func() any { return lz4.NewWriter(nil) }}
)

// compressForTest compresses a records section as Kafka clients do: snappy
// in the Java client's xerial framing (32 KiB blocks), lz4 as a frame.
func compressForTest(t testing.TB, codec int8, recs []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	switch codec {
	case CodecGzip:
		w := gzipW.Get().(*gzip.Writer)
		w.Reset(&b)
		w.Write(recs)
		w.Close()
		gzipW.Put(w)
	case CodecSnappy:
		b.Write(xerialMagic)
		b.Write([]byte{0, 0, 0, 1, 0, 0, 0, 1})
		for len(recs) > 0 {
			n := min(len(recs), 32<<10)
			blk := snappy.Encode(nil, recs[:n])
			b.Write(binary.BigEndian.AppendUint32(nil, uint32(len(blk))))
			b.Write(blk)
			recs = recs[n:]
		}
	case CodecLZ4:
		w := lz4W.Get().(*lz4.Writer)
		w.Reset(&b)
		w.Write(recs)
		w.Close()
		lz4W.Put(w)
	case CodecZstd:
		e, err := zstdEnc()
		if err != nil {
			t.Fatal(err)
		}
		return e.EncodeAll(recs, nil)
	default:
		t.Fatalf("codec %d not supported by the helper", codec)
	}
	return b.Bytes()
}

func encodeBatch(codec int8, ts0, maxTs int64, n int, recs []byte) []byte {
	b := make([]byte, BatchHeaderSize, BatchHeaderSize+len(recs))
	be := binary.BigEndian
	be.PutUint64(b[offBaseOffset:], 0)
	be.PutUint32(b[offLength:], uint32(BatchHeaderSize-batchLogOverhead+len(recs)))
	be.PutUint32(b[offLeaderEpoch:], 0xffffffff)
	b[offMagic] = 2
	be.PutUint16(b[offAttributes:], uint16(codec))
	be.PutUint32(b[offLastOffsetDelta:], uint32(n-1))
	be.PutUint64(b[offBaseTimestamp:], uint64(ts0))
	be.PutUint64(b[offMaxTimestamp:], uint64(maxTs))
	be.PutUint64(b[offProducerID:], 0xffffffffffffffff)
	be.PutUint16(b[offProducerEpoch:], 0xffff)
	be.PutUint32(b[offBaseSequence:], 0xffffffff)
	be.PutUint32(b[offNumRecords:], uint32(n))
	b = append(b, recs...)
	be.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return b
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testClock is a settable clock for segment rolling.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time { return c.t }

func openT(t testing.TB, dir string, cfg Config) *Log {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	l, err := Open(dir, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

// entryGen produces a deterministic mix of entries.
type entryGen struct {
	t    testing.TB
	next uint64
	term uint64
}

func (g *entryGen) batch(n, valueLen int, ts int64) *raft.Log {
	g.next++
	return &raft.Log{Index: g.next, Term: g.term, Type: raft.LogCommand,
		Data: makeBatch(g.t, testBatch{ts0: ts, tsStep: 1, n: n, valueLen: valueLen})}
}

func (g *entryGen) noop() *raft.Log {
	g.next++
	return &raft.Log{Index: g.next, Term: g.term, Type: raft.LogNoop}
}

func (g *entryGen) config() *raft.Log {
	g.next++
	return &raft.Log{Index: g.next, Term: g.term, Type: raft.LogConfiguration, Data: []byte("configuration bytes")}
}

func (g *entryGen) ext() *raft.Log {
	g.next++
	return &raft.Log{Index: g.next, Term: g.term, Type: raft.LogCommand, Data: []byte("a partition command"), Extensions: []byte{1, 2, 3}}
}

func cloneEntry(e *raft.Log) *raft.Log {
	c := *e
	c.Data = bytes.Clone(e.Data)
	c.Extensions = bytes.Clone(e.Extensions)
	return &c
}

func sameEntry(a, b *raft.Log) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type &&
		bytes.Equal(a.Data, b.Data) && bytes.Equal(a.Extensions, b.Extensions)
}

func mustStore(t testing.TB, l *Log, es ...*raft.Log) {
	t.Helper()
	if err := l.StoreLogs(es); err != nil {
		t.Fatalf("StoreLogs: %v", err)
	}
}

// checkEntries asserts that every entry in want reads back identical.
func checkEntries(t testing.TB, l *Log, want []*raft.Log) {
	t.Helper()
	for _, w := range want {
		var got raft.Log
		if err := l.GetLog(w.Index, &got); err != nil {
			t.Fatalf("GetLog(%d): %v", w.Index, err)
		}
		if !sameEntry(&got, w) {
			t.Fatalf("GetLog(%d) = %+v, want %+v", w.Index, got, *w)
		}
	}
}

// readAll reads every batch from off up to the end and returns base offsets.
func readAll(t testing.TB, l *Log, off int64) []BatchHeader {
	t.Helper()
	var hs []BatchHeader
	for {
		b, err := l.Read(off, 1<<20, l.EndOffset())
		if err != nil {
			t.Fatalf("Read(%d): %v", off, err)
		}
		if b == nil {
			return hs
		}
		bs, err := SplitBatches(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range bs {
			h, err := ValidateBatch(x)
			if err != nil {
				t.Fatalf("Read returned a bad batch: %v", err)
			}
			hs = append(hs, h)
			off = h.LastOffset() + 1
		}
	}
}

// writeAt writes b into the file at path at off: damage, in the tests of
// recovery.
func writeAt(t testing.TB, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}
