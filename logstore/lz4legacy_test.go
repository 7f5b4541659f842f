package logstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/pierrec/lz4/v4"
)

// xxh32 agrees with the published vectors and with the lz4 library, which
// ends a frame written with content checksums with the xxh32 of its content.
func TestXXH32(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint32
	}{{"", 0x02CC5D05}, {"a", 0x550D7456}, {"abc", 0x32D153FF}} {
		if got := xxh32([]byte(c.in), 0); got != c.want {
			t.Errorf("xxh32(%q) = %08x, want %08x", c.in, got, c.want)
		}
	}
	for _, n := range []int{1, 3, 4, 15, 16, 17, 31, 32, 33, 100, 1000} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i*31 + n)
		}
		var frame bytes.Buffer
		w := lz4.NewWriter(&frame)
		if err := w.Apply(lz4.ChecksumOption(true)); err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
		b := frame.Bytes()
		if got, want := xxh32(data, 0), binary.LittleEndian.Uint32(b[len(b)-4:]); got != want {
			t.Errorf("%d bytes: xxh32 %08x, the lz4 library's content checksum %08x", len(data), got, want)
		}
	}
}

// legacyLZ4 compresses inner as an LZ4 frame whose header checksum is the
// one pre-0.10 Kafka clients wrote: the hash of the frame's magic number
// and descriptor (KAFKA-3160).
func legacyLZ4(t *testing.T, inner []byte) []byte {
	t.Helper()
	z, err := compress(CodecLZ4, DefaultLevel, nil, inner)
	if err != nil {
		t.Fatal(err)
	}
	end := 6
	if z[4]&0x08 != 0 {
		end += 8
	}
	bad := byte(xxh32(z[:end], 0) >> 8)
	if bad == z[end] {
		t.Fatal("the legacy checksum happens to be the right one; pick other data")
	}
	z[end] = bad
	return z
}

// A magic-0 LZ4 wrapper with the pre-0.10 header checksum converts, as
// Kafka reads it; from magic 1 on the checksum must be right, as in Kafka.
func TestUpConvertLegacyLZ4Checksum(t *testing.T) {
	inner0 := msgSet(0, legacyMsg{key: []byte("k"), value: []byte("compressible compressible compressible")}, legacyMsg{value: []byte("two")})
	set0 := msgSet(0, legacyMsg{attrs: CodecLZ4, value: legacyLZ4(t, inner0)})
	batch, codec, err := UpConvert(set0)
	if err != nil {
		t.Fatalf("magic 0 lz4 with the legacy header checksum: %v", err)
	}
	if _, recs := batchRecords(t, batch); codec != CodecLZ4 || len(recs) != 2 || string(recs[1].Value) != "two" {
		t.Fatalf("converted codec %d, records %+v", codec, recs)
	}

	inner1 := msgSet(1, legacyMsg{ts: 5, value: []byte("compressible compressible compressible")})
	set1 := msgSet(1, legacyMsg{attrs: CodecLZ4, ts: 5, value: legacyLZ4(t, inner1)})
	if _, _, err := UpConvert(set1); !errors.Is(err, ErrInvalidRecord) {
		t.Fatalf("magic 1 lz4 with a wrong header checksum: %v, want an invalid record", err)
	}
	if _, _, err := UpConvert(wrapper(t, 1, CodecLZ4, 5, 0, inner1)); err != nil {
		t.Fatalf("magic 1 lz4 with the right checksum: %v", err)
	}
}
