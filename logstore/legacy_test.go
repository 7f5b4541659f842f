package logstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// legacyMsg is a message for msgSet to encode.
type legacyMsg struct {
	attrs      int8
	ts         int64
	key, value []byte
}

// msgSet encodes messages of magic with offsets from 0, sizes and CRCs set.
func msgSet(magic int8, msgs ...legacyMsg) []byte {
	var out []byte
	for i, m := range msgs {
		start := len(out)
		if magic == 0 {
			v := kmsg.MessageV0{Offset: int64(i), Attributes: m.attrs, Key: m.key, Value: m.value}
			out = v.AppendTo(out)
		} else {
			v := kmsg.MessageV1{Offset: int64(i), Magic: 1, Attributes: m.attrs, Timestamp: m.ts, Key: m.key, Value: m.value}
			out = v.AppendTo(out)
		}
		msg := out[start:]
		binary.BigEndian.PutUint32(msg[8:], uint32(len(msg)-12))
		binary.BigEndian.PutUint32(msg[12:], crc32.ChecksumIEEE(msg[16:]))
	}
	return out
}

// wrapper is a compressed message holding the message set inner.
func wrapper(t *testing.T, magic, codec int8, ts int64, attrs int8, inner []byte) []byte {
	t.Helper()
	z, err := compress(codec, DefaultLevel, nil, inner)
	if err != nil {
		t.Fatal(err)
	}
	return msgSet(magic, legacyMsg{attrs: codec | attrs, ts: ts, value: z})
}

// batchRecords decodes the one batch in b.
func batchRecords(t *testing.T, b []byte) (BatchHeader, []Record) {
	t.Helper()
	var hs []BatchHeader
	var out []Record
	err := ReadRecords(b, func(h BatchHeader, recs []Record) error {
		hs = append(hs, h)
		for _, r := range recs {
			r.Key, r.Value = bytes.Clone(r.Key), bytes.Clone(r.Value)
			out = append(out, r)
		}
		return nil
	})
	if err != nil || len(hs) != 1 {
		t.Fatalf("ReadRecords: %d batches, %v", len(hs), err)
	}
	return hs[0], out
}

func TestUpConvert(t *testing.T) {
	three := []legacyMsg{{ts: 1000, key: []byte("k0"), value: []byte("v0")}, {ts: 990, value: []byte("v1")}, {ts: 1005, key: []byte{}, value: nil}}
	type want struct {
		codec int8
		ts    []int64
	}
	for _, c := range []struct {
		name string
		set  []byte
		want want
	}{
		{"magic 0", msgSet(0, three...), want{CodecNone, []int64{-1, -1, -1}}},
		{"magic 1", msgSet(1, three...), want{CodecNone, []int64{1000, 990, 1005}}},
		{"magic 1 gzip", wrapper(t, 1, CodecGzip, 1005, 0, msgSet(1, three...)), want{CodecGzip, []int64{1000, 990, 1005}}},
		{"magic 1 snappy", wrapper(t, 1, CodecSnappy, 1005, 0, msgSet(1, three...)), want{CodecSnappy, []int64{1000, 990, 1005}}},
		{"magic 1 lz4", wrapper(t, 1, CodecLZ4, 1005, 0, msgSet(1, three...)), want{CodecLZ4, []int64{1000, 990, 1005}}},
		{"magic 0 gzip", wrapper(t, 0, CodecGzip, 0, 0, msgSet(0, three...)), want{CodecGzip, []int64{-1, -1, -1}}},
		{"magic 1 log append time wrapper", wrapper(t, 1, CodecGzip, 7777, legacyTSType, msgSet(1, three...)), want{CodecGzip, []int64{7777, 7777, 7777}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			batch, codec, err := UpConvert(c.set)
			if err != nil {
				t.Fatal(err)
			}
			h, _, err := CheckBatch(batch)
			if err != nil {
				t.Fatalf("converted batch fails CheckBatch: %v", err)
			}
			if codec != c.want.codec || h.Compression() != CodecNone || h.ProducerID != -1 || h.BaseSequence != -1 || h.NumRecords != 3 {
				t.Fatalf("codec %d, header %+v", codec, h)
			}
			_, recs := batchRecords(t, batch)
			for i, r := range recs {
				if r.Offset != int64(i) || r.Timestamp != c.want.ts[i] ||
					!bytes.Equal(r.Key, three[i].key) || (r.Key == nil) != (three[i].key == nil) ||
					!bytes.Equal(r.Value, three[i].value) || (r.Value == nil) != (three[i].value == nil) || len(r.Headers) != 0 {
					t.Errorf("record %d: %+v, want %+v with timestamp %d", i, r, three[i], c.want.ts[i])
				}
			}
		})
	}
}

// A producer's LogAppendTime flag on a magic 1 message (a wrapper or not)
// stays on the batch, for the produce path to refuse as Kafka does; magic
// 0 has no such flag.
func TestUpConvertKeepsLogAppendTimeFlag(t *testing.T) {
	one := legacyMsg{ts: 5, value: []byte("v")}
	for _, c := range []struct {
		name string
		set  []byte
		want int8
	}{
		{"magic 1", msgSet(1, one), 0},
		{"magic 1 flagged", msgSet(1, legacyMsg{attrs: legacyTSType, ts: -1, value: []byte("v")}), 1},
		{"magic 1 wrapper flagged", wrapper(t, 1, CodecGzip, 7, legacyTSType, msgSet(1, one)), 1},
		{"magic 0 with the bit", msgSet(0, legacyMsg{attrs: legacyTSType, value: []byte("v")}), 0},
	} {
		batch, _, err := UpConvert(c.set)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if h, _, err := CheckBatch(batch); err != nil || h.TimestampType() != c.want {
			t.Errorf("%s: timestamp type %d (%v), want %d", c.name, h.TimestampType(), err, c.want)
		}
	}
}

// As Kafka's DeepRecordsIterator: a magic 1 wrapper's offset is 0 (as some
// librdkafka sends it) or at least its last inner message's; a magic 0
// wrapper's is not checked; a message cut short at the end of a wrapper's
// value is dropped, as at the end of the set.
func TestUpConvertWrapperOffsetsAndTail(t *testing.T) {
	three := msgSet(1, legacyMsg{ts: 1, value: []byte("a")}, legacyMsg{ts: 2, value: []byte("b")}, legacyMsg{ts: 3, value: []byte("c")})
	at := func(w []byte, off int64) []byte {
		binary.BigEndian.PutUint64(w, uint64(off))
		return w
	}
	for _, c := range []struct {
		name string
		set  []byte
		want int32
	}{
		{"magic 1 at 0", at(wrapper(t, 1, CodecGzip, 0, 0, three), 0), 3},
		{"magic 1 at its last inner offset", at(wrapper(t, 1, CodecGzip, 0, 0, three), 2), 3},
		{"magic 1 past it", at(wrapper(t, 1, CodecGzip, 0, 0, three), 100), 3},
		{"magic 0 at 1", at(wrapper(t, 0, CodecGzip, 0, 0, msgSet(0, legacyMsg{value: []byte("a")}, legacyMsg{value: []byte("b")}, legacyMsg{value: []byte("c")})), 1), 3},
		{"inner tail cut short", wrapper(t, 1, CodecGzip, 0, 0, three[:len(three)-2]), 2},
		{"inner tail shorter than offset and size", wrapper(t, 1, CodecGzip, 0, 0, append(bytes.Clone(three), 0, 0, 0)), 3},
	} {
		batch, _, err := UpConvert(c.set)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if h, _, err := CheckBatch(batch); err != nil || h.NumRecords != c.want {
			t.Errorf("%s: %d records (%v), want %d", c.name, h.NumRecords, err, c.want)
		}
	}
	if _, _, err := UpConvert(at(wrapper(t, 1, CodecGzip, 0, 0, three), 1)); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("magic 1 wrapper at 1, below its last inner offset 2: %v", err)
	}
}

// A message cut short at the end of a produced set is dropped, as Kafka's
// iterator stops before it and the log trims what it did not read; the
// whole messages before it are kept.
func TestUpConvertDropsCutTail(t *testing.T) {
	good := msgSet(1, legacyMsg{ts: 1, value: []byte("v")}, legacyMsg{ts: 2, value: []byte("w")})
	for _, c := range []struct {
		name string
		set  []byte
		want int16
	}{
		{"whole", good, 2},
		{"second cut short", good[:len(good)-1], 1},
		{"tail shorter than offset and size", append(bytes.Clone(good), 0, 0, 0), 2},
		{"tail without its magic byte", append(bytes.Clone(good), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0), 2},
	} {
		batch, _, err := UpConvert(c.set)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if h, _, err := CheckBatch(batch); err != nil || h.NumRecords != int32(c.want) {
			t.Errorf("%s: %d records (%v), want %d", c.name, h.NumRecords, err, c.want)
		}
	}
}

func TestUpConvertErrors(t *testing.T) {
	good := msgSet(1, legacyMsg{ts: 1, value: []byte("v")}, legacyMsg{ts: 2, value: []byte("w")})
	mut := func(f func([]byte) []byte) []byte { return f(bytes.Clone(good)) }
	for _, c := range []struct {
		name string
		set  []byte
		want error
	}{
		{"empty", nil, ErrNoMessages},
		{"bad crc", mut(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrCorruptBatch},
		{"only the start of a message", good[:20], ErrNoMessages},
		{"size past the end", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 1<<20); return b }), ErrNoMessages},
		{"size below a message's", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 3); return b }), ErrCorruptBatch},
		{"bad magic in a cut tail", append(bytes.Clone(good), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 0, 7), ErrCorruptBatch},
		{"negative size", mut(func(b []byte) []byte { binary.BigEndian.PutUint32(b[8:], 0xffffffff); return b }), ErrCorruptBatch},
		{"trailing byte inside", func() []byte {
			b := msgSet(1, legacyMsg{ts: 1, value: []byte("v")})
			b = append(b, 0)
			binary.BigEndian.PutUint32(b[8:], uint32(len(b)-12))
			binary.BigEndian.PutUint32(b[12:], crc32.ChecksumIEEE(b[16:]))
			return b
		}(), ErrCorruptBatch},
		{"magic 2", func() []byte {
			b := msgSet(1, legacyMsg{ts: 1, value: []byte("v")})
			b[16] = 2
			binary.BigEndian.PutUint32(b[12:], crc32.ChecksumIEEE(b[16:]))
			return b
		}(), ErrInvalidRecord},
		{"zstd", wrapper(t, 1, CodecZstd, 0, 0, good), ErrInvalidRecord},
		{"nested wrapper", wrapper(t, 1, CodecGzip, 0, 0, wrapper(t, 1, CodecGzip, 0, 0, good)), ErrInvalidRecord},
		{"magic 0 inside magic 1", wrapper(t, 1, CodecGzip, 0, 0, msgSet(0, legacyMsg{value: []byte("v")})), ErrInvalidRecord},
		{"empty wrapper", wrapper(t, 1, CodecGzip, 0, 0, nil), ErrInvalidRecord},
		// As Kafka's LogValidator: one magic per set, and a wrapper alone.
		{"magic 0 then magic 1", append(msgSet(0, legacyMsg{value: []byte("v")}), good...), ErrInvalidRecord},
		{"two wrappers", bytes.Repeat(wrapper(t, 1, CodecGzip, 0, 0, good), 2), ErrInvalidRecord},
		{"message then wrapper", append(msgSet(1, legacyMsg{ts: 1, value: []byte("v")}), wrapper(t, 1, CodecGzip, 0, 0, good)...), ErrInvalidRecord},
		{"wrapper then message", append(wrapper(t, 1, CodecGzip, 0, 0, good), msgSet(1, legacyMsg{ts: 1, value: []byte("v")})...), ErrInvalidRecord},
		{"wrapper that does not decompress", msgSet(1, legacyMsg{attrs: CodecGzip, value: []byte("not gzip")}), ErrInvalidRecord},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := UpConvert(c.set); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

// The batch UpConvert builds is bounded, however many messages the set
// or its wrapper holds.
func TestUpConvertBound(t *testing.T) {
	defer func(old int) { upConvertMax = old }(upConvertMax)
	upConvertMax = 10 << 10
	inner := msgSet(1, legacyMsg{ts: 1, value: make([]byte, 4<<10)})
	if _, _, err := UpConvert(wrapper(t, 1, CodecGzip, 1, 0, bytes.Repeat(inner, 2))); err != nil {
		t.Fatalf("a wrapper within the bound: %v", err)
	}
	if _, _, err := UpConvert(wrapper(t, 1, CodecGzip, 1, 0, bytes.Repeat(inner, 4))); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("a wrapper past the bound: %v", err)
	}
	if _, _, err := UpConvert(bytes.Repeat(inner, 4)); !errors.Is(err, ErrCorruptBatch) {
		t.Fatalf("four plain messages past the bound: %v", err)
	}
}

// legacyMessages decodes a down-converted set, checking every CRC.
func legacyMessages(t *testing.T, set []byte) []legacyMessage {
	t.Helper()
	var out []legacyMessage
	if err := eachMessage(set, func(m legacyMessage) error { out = append(out, m); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDownConvert(t *testing.T) {
	at := func(b []byte, base int64) []byte {
		binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(base))
		return b
	}
	plain := at(AppendBatch(nil, BatchOptions{FirstTimestamp: 100, ProducerID: -1}, []Record{
		{TimestampDelta: 0, Key: []byte("a"), Value: []byte("1"), Headers: []Header{{Key: "h", Value: []byte("x")}}},
		{TimestampDelta: 5, Value: []byte("2")},
	}), 10)
	zipped, err := Recompress(at(AppendBatch(nil, BatchOptions{FirstTimestamp: 200, ProducerID: -1}, []Record{
		{Key: []byte("b"), Value: []byte("3")}, {TimestampDelta: 1, Value: []byte{}},
	}), 12), CodecGzip, DefaultLevel)
	if err != nil {
		t.Fatal(err)
	}
	control := at(AppendBatch(nil, BatchOptions{FirstTimestamp: 300, ProducerID: 7, Attributes: 0x20}, []Record{{Key: []byte{0, 0, 0, 0}, Value: []byte{0, 0, 0, 0, 0, 0}}}), 14)
	appendTime := at(AppendBatch(nil, BatchOptions{FirstTimestamp: 400, ProducerID: -1}, []Record{{Value: []byte("4")}}), 15)
	SetMaxTimestampLogAppend(appendTime, 9999)
	log := bytes.Join([][]byte{plain, zipped, control, appendTime}, nil)

	type msg struct {
		off        int64
		ts         int64
		attrs      int8
		key, value string
		nullKey    bool
	}
	all := []msg{
		{10, 100, 0, "a", "1", false},
		{11, 105, 0, "", "2", true},
		{12, 200, 0, "b", "3", false},
		{13, 201, 0, "", "", true},
		{15, 9999, legacyTSType, "", "4", true},
	}
	check := func(t *testing.T, set []byte, magic int8, want []msg) {
		t.Helper()
		got := legacyMessages(t, set)
		if len(got) != len(want) {
			t.Fatalf("%d messages, want %d", len(got), len(want))
		}
		for i, m := range got {
			w := want[i]
			off, ts := m.offset, m.timestamp
			wantTS, wantAttrs := w.ts, w.attrs
			if magic == 0 {
				wantTS, wantAttrs = -1, 0
			}
			if m.magic != magic || off != w.off || ts != wantTS || m.attrs != wantAttrs ||
				string(m.key) != w.key || (m.key == nil) != w.nullKey || string(m.value) != w.value || m.value == nil {
				t.Errorf("message %d: magic %d offset %d ts %d attrs %d key %q value %q; want %+v", i, m.magic, off, ts, m.attrs, m.key, m.value, w)
			}
		}
	}
	for _, magic := range []int8{0, 1} {
		set, err := DownConvert(log, magic, 0, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		check(t, set, magic, all)
	}
	set, err := DownConvert(log, 1, 11, 1<<20) // mid-batch: earlier records left out
	if err != nil {
		t.Fatal(err)
	}
	check(t, set, 1, all[1:])
	set, err = DownConvert(log, 1, 0, 1) // below one message: still one
	if err != nil {
		t.Fatal(err)
	}
	check(t, set, 1, all[:1])
	one := len(set)
	set, err = DownConvert(log, 1, 0, 2*one+1) // two fit, the third does not
	if err != nil {
		t.Fatal(err)
	}
	check(t, set, 1, all[:2])

	// What produce v0–v2 converts up comes back down the same.
	set, err = DownConvert(log, 1, 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	up, _, err := UpConvert(set)
	if err != nil {
		t.Fatal(err)
	}
	_, recs := batchRecords(t, up)
	if len(recs) != len(all) || string(recs[2].Key) != "b" || recs[4].Timestamp != 9999 {
		t.Fatalf("round trip: %+v", recs)
	}
}
