package logstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
)

var allCodecs = []struct {
	name  string
	codec int8
}{{"gzip", CodecGzip}, {"snappy", CodecSnappy}, {"lz4", CodecLZ4}, {"zstd", CodecZstd}}

// recordsFor encodes n records as makeBatch does, with record i's offset
// delta given by delta(i) and a key on every other record.
func recordsFor(n int, delta func(int) int) []byte {
	var recs []byte
	for i := 0; i < n; i++ {
		body := []byte{0}
		body = binary.AppendVarint(body, int64(10*i-5)) // timestamp delta: -5, 5, 15, ...
		body = binary.AppendVarint(body, int64(delta(i)))
		if i%2 == 0 {
			body = binary.AppendVarint(body, 1)
			body = append(body, 'k')
		} else {
			body = binary.AppendVarint(body, -1)
		}
		body = binary.AppendVarint(body, 3)
		body = append(body, "val"...)
		body = binary.AppendVarint(body, 1) // one header
		body = binary.AppendVarint(body, 1)
		body = append(body, 'h')
		body = binary.AppendVarint(body, -1)
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	return recs
}

func identity(i int) int { return i }

func TestCheckBatchCompressed(t *testing.T) {
	good := recordsFor(4, identity)
	for _, c := range allCodecs {
		t.Run(c.name, func(t *testing.T) {
			z := compressForTest(t, c.codec, good)
			h, sum, err := CheckBatch(encodeBatch(c.codec, 1000, 1025, 4, z))
			if err != nil {
				t.Fatalf("good batch: %v", err)
			}
			if want := (RecordSummary{MinTimestampDelta: -5, MaxTimestampDelta: 25, NullKey: true}); sum != want || h.NumRecords != 4 {
				t.Fatalf("summary %+v, want %+v", sum, want)
			}
			var seen []int64
			err = EachRecord(encodeBatch(c.codec, 1000, 1025, 4, z), h, func(i int, ts int64, nullKey bool) bool {
				if nullKey != (i%2 == 1) {
					t.Errorf("record %d: null key %v", i, nullKey)
				}
				seen = append(seen, ts)
				return i < 2
			})
			if err != nil || len(seen) != 3 || seen[2] != 15 {
				t.Fatalf("EachRecord stopped after %v, %v", seen, err)
			}

			for _, bad := range []struct {
				name  string
				batch []byte
				want  error
				msg   string
			}{
				{"claims more", encodeBatch(c.codec, 1000, 1025, 5, z), ErrInvalidRecord, "claims 5 records, holds 4"},
				{"claims fewer", encodeBatch(c.codec, 1000, 1025, 3, z), ErrInvalidRecord, "after the last record"},
				{"offset deltas", encodeBatch(c.codec, 1000, 1025, 4,
					compressForTest(t, c.codec, recordsFor(4, func(i int) int { return i / 2 }))), ErrInvalidRecord, "offset delta"},
				{"truncated records", encodeBatch(c.codec, 1000, 1025, 4,
					compressForTest(t, c.codec, good[:len(good)-3])), ErrInvalidRecord, "end inside"},
				{"not compressed", encodeBatch(c.codec, 1000, 1025, 4, good), ErrInvalidRecord, ""},
			} {
				_, _, err := CheckBatch(bad.batch)
				if !errors.Is(err, bad.want) || !strings.Contains(err.Error(), bad.msg) {
					t.Errorf("%s: CheckBatch = %v, want %v (%q)", bad.name, err, bad.want, bad.msg)
				}
			}
		})
	}
	// Snappy as one raw block, as some clients send it.
	if _, _, err := CheckBatch(encodeBatch(CodecSnappy, 1000, 1025, 4, snappy.Encode(nil, good))); err != nil {
		t.Fatalf("raw snappy block: %v", err)
	}
}

// A batch whose records decompress past the limit is refused, however small
// it is compressed, and one at the limit is not.
func TestCheckBatchDecompressLimit(t *testing.T) {
	defer func(n int64) { decompressLimit = n }(decompressLimit)
	decompressLimit = 64 << 10
	rec := func(delta, valueLen int) []byte {
		body := []byte{0, 0} // attributes, ts delta 0
		body = binary.AppendVarint(body, int64(delta))
		body = append(body, 1) // null key
		body = binary.AppendVarint(body, int64(valueLen))
		body = append(body, make([]byte, valueLen)...)
		body = append(body, 0) // no headers
		return append(binary.AppendVarint(nil, int64(len(body))), body...)
	}
	under := rec(0, int(decompressLimit)-16)
	for _, c := range allCodecs {
		if _, _, err := CheckBatch(encodeBatch(c.codec, 0, 0, 1, compressForTest(t, c.codec, under))); err != nil {
			t.Errorf("%s: %d bytes: %v", c.name, len(under), err)
		}
		// Each record is well under the limit; together they pass it, so
		// only the decompressing reader's own limit can refuse them.
		var many []byte
		n := 0
		for ; len(many) <= int(decompressLimit); n++ {
			many = append(many, rec(n, 1000)...)
		}
		over := compressForTest(t, c.codec, many)
		_, _, err := CheckBatch(encodeBatch(c.codec, 0, 0, n, over))
		if !errors.Is(err, ErrInvalidRecord) || !strings.Contains(err.Error(), "decompress to more than") {
			t.Errorf("%s: %d records, %d bytes, past the limit: %v", c.name, n, len(many), err)
		}
	}
}

// A few bytes claiming a huge decoded size or window are refused before
// that much is allocated, or decoded once and not kept; real large-window
// zstd frames still decode.
func TestCheckBatchDecoderMemory(t *testing.T) {
	recs := recordsFor(4, identity)

	// A raw snappy block of five bytes that claims 256 MiB.
	allocated := func(f func()) uint64 {
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		f()
		runtime.ReadMemStats(&b)
		return b.TotalAlloc - a.TotalAlloc
	}
	if n := allocated(func() {
		_, _, err := CheckBatch(encodeBatch(CodecSnappy, 0, 0, 4, []byte{0x80, 0x80, 0x80, 0x80, 0x01}))
		if !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("snappy block claiming 256 MiB: %v", err)
		}
	}); n > 1<<20 {
		t.Errorf("snappy block claiming 256 MiB allocated %d bytes", n)
	}

	// A frame declaring a window of 2^logW bytes, then one raw block of a byte.
	frame := func(logW int) []byte {
		return []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, byte(logW-10) << 3, 0x09, 0x00, 0x00, 0x00}
	}
	if _, _, err := CheckBatch(encodeBatch(CodecZstd, 0, 0, 4, frame(28))); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("zstd window 256 MiB: %v", err)
	}
	for range 2 {
		if _, _, err := CheckBatch(encodeBatch(CodecZstd, 0, 0, 1, frame(27))); err == nil {
			t.Errorf("zstd window 128 MiB, one byte of records: accepted")
		}
		if !bigZstd.TryLock() {
			t.Fatal("a large-window decode kept its turn")
		}
		bigZstd.Unlock()
	}

	// A real frame with a 32 MiB window (level 22 writes 128 MiB).
	var b bytes.Buffer
	w, err := zstd.NewWriter(&b, zstd.WithWindowSize(32<<20), zstd.WithSingleSegment(false))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(recs)
	w.Flush() // before the end is known, so the frame keeps its window
	w.Close()
	var h zstd.Header
	if err := h.Decode(b.Bytes()); err != nil || h.WindowSize != 32<<20 {
		t.Fatalf("test frame: window %d, %v", h.WindowSize, err)
	}
	if _, _, err := CheckBatch(encodeBatch(CodecZstd, 1000, 1025, 4, b.Bytes())); err != nil {
		t.Errorf("zstd window 32 MiB: %v", err)
	}
	if out, err := Decompress(CodecZstd, b.Bytes()); err != nil || !bytes.Equal(out, recs) {
		t.Errorf("Decompress, window 32 MiB: %v", err)
	}
}
