package logstore

import (
	"bytes"
	"errors"
	"testing"
)

// gzip batches are read as Kafka reads them (Java's GZIPInputStream):
// members one after another, and bytes after a member that do not begin
// another end the data instead of failing the batch. Damage inside a
// member still fails it.
func TestGzipMembersAsKafkaReadsThem(t *testing.T) {
	const n = 6
	recs := recordsFor(n, identity)
	whole := compressForTest(t, CodecGzip, recs)
	half := len(recs) / 2
	for _, tc := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"one member", whole, true},
		{"trailing garbage", append(bytes.Clone(whole), "not a gzip header!!!"...), true},
		{"trailing zeros", append(bytes.Clone(whole), make([]byte, 30)...), true},
		{"a short tail", append(bytes.Clone(whole), 0x1f, 0x8b, 8), true},
		{"two members", append(compressForTest(t, CodecGzip, recs[:half]), compressForTest(t, CodecGzip, recs[half:])...), true},
		{"cut inside the member", whole[:len(whole)-12], false},
		{"bad member CRC", func() []byte { b := bytes.Clone(whole); b[len(b)-8] ^= 1; return b }(), false},
	} {
		b := encodeBatch(CodecGzip, 1000, 1045, n, tc.data)
		_, _, err := CheckBatch(b)
		if tc.ok != (err == nil) {
			t.Errorf("%s: CheckBatch: %v", tc.name, err)
			continue
		}
		if !tc.ok {
			continue
		}
		got, err := Decompress(CodecGzip, tc.data)
		if err != nil || !bytes.Equal(got, recs) {
			t.Errorf("%s: Decompress = %d bytes, %v; want the %d bytes of records", tc.name, len(got), err, len(recs))
		}
	}
}

// An lz4 batch is one frame, as Kafka reads it: bytes after the frame are
// ignored, and records in a second frame are missing (INVALID_RECORD)
// rather than read into a batch Java consumers could not read.
func TestLZ4OneFrameAsKafkaReadsIt(t *testing.T) {
	const n = 6
	recs := recordsFor(n, identity)
	whole := compressForTest(t, CodecLZ4, recs)
	half := len(recs) / 2
	for _, tc := range []struct {
		name    string
		data    []byte
		invalid bool // else accepted
	}{
		{"one frame", whole, false},
		{"trailing garbage", append(bytes.Clone(whole), "after the frame"...), false},
		{"two frames", append(compressForTest(t, CodecLZ4, recs[:half]), compressForTest(t, CodecLZ4, recs[half:])...), true},
	} {
		_, _, err := CheckBatch(encodeBatch(CodecLZ4, 1000, 1045, n, tc.data))
		switch {
		case tc.invalid && !errors.Is(err, ErrInvalidRecord):
			t.Errorf("%s: CheckBatch: %v, want an invalid record", tc.name, err)
		case !tc.invalid && err != nil:
			t.Errorf("%s: CheckBatch: %v", tc.name, err)
		case !tc.invalid:
			if got, err := Decompress(CodecLZ4, tc.data); err != nil || !bytes.Equal(got, recs) {
				t.Errorf("%s: Decompress = %d bytes, %v; want the %d bytes of records", tc.name, len(got), err, len(recs))
			}
		}
	}
}
