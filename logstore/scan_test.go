package logstore

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/klauspost/compress/snappy"
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
				{"not compressed", encodeBatch(c.codec, 1000, 1025, 4, good), ErrCorruptBatch, ""},
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
	one := func(valueLen int) []byte {
		body := []byte{0, 0, 0, 1} // attributes, ts delta 0, offset delta 0, null key
		body = binary.AppendVarint(body, int64(valueLen))
		body = append(body, make([]byte, valueLen)...)
		body = append(body, 0) // no headers
		return append(binary.AppendVarint(nil, int64(len(body))), body...)
	}
	under := one(int(decompressLimit) - 16)
	for _, c := range allCodecs {
		if _, _, err := CheckBatch(encodeBatch(c.codec, 0, 0, 1, compressForTest(t, c.codec, under))); err != nil {
			t.Errorf("%s: %d bytes: %v", c.name, len(under), err)
		}
		over := compressForTest(t, c.codec, one(int(decompressLimit)+1))
		_, _, err := CheckBatch(encodeBatch(c.codec, 0, 0, 1, over))
		if !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%s: %d compressed bytes past the limit: %v", c.name, len(over), err)
		}
	}
}
