package logstore

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestAppendBatchReadRecordsRoundTrip(t *testing.T) {
	recs := []Record{
		{Key: []byte("k0"), Value: []byte("v0")},
		{Key: nil, Value: []byte{}, TimestampDelta: 5, Headers: []Header{{Key: "h", Value: []byte("x")}, {Key: "n", Value: nil}}},
		{Key: []byte("k2"), Value: nil, TimestampDelta: 2},
	}
	b := AppendBatch([]byte("prefix"), BatchOptions{FirstTimestamp: 1000, ProducerID: 9, ProducerEpoch: 2, BaseSequence: 4}, recs)
	if string(b[:6]) != "prefix" {
		t.Fatal("dst prefix clobbered")
	}
	b = b[6:]
	h, err := ValidateBatch(b)
	if err != nil {
		t.Fatalf("AppendBatch output does not validate: %v", err)
	}
	if h.NumRecords != 3 || h.MaxTimestamp != 1005 || h.ProducerID != 9 || h.ProducerEpoch != 2 || h.BaseSequence != 4 {
		t.Fatalf("header %+v", h)
	}
	SetBaseOffset(b, 100)
	two := append(append([]byte(nil), b...), b...)
	var got []Record
	if err := ReadRecords(two, func(h BatchHeader, rs []Record) error {
		got = append(got, rs...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 {
		t.Fatalf("%d records", len(got))
	}
	for i, r := range got[:3] {
		w := recs[i]
		if r.Offset != int64(100+i) || !bytes.Equal(r.Key, w.Key) || (r.Key == nil) != (w.Key == nil) ||
			!bytes.Equal(r.Value, w.Value) || (r.Value == nil) != (w.Value == nil) || r.Timestamp != 1000+w.TimestampDelta ||
			len(r.Headers) != len(w.Headers) {
			t.Fatalf("record %d: %+v, want %+v", i, r, w)
		}
		for j := range r.Headers {
			if r.Headers[j].Key != w.Headers[j].Key || !bytes.Equal(r.Headers[j].Value, w.Headers[j].Value) || (r.Headers[j].Value == nil) != (w.Headers[j].Value == nil) {
				t.Fatalf("record %d header %d: %+v", i, j, r.Headers[j])
			}
		}
	}
	if err := ReadRecords(b[:len(b)-1], func(BatchHeader, []Record) error { return nil }); err == nil {
		t.Fatal("truncated batch read without error")
	}
}

// TestVarintMatchesStdlib: varintAt's short cases agree with
// binary.Varint on every one- and two-byte input and on longer and
// truncated ones.
func TestVarintMatchesStdlib(t *testing.T) {
	check := func(b []byte) {
		t.Helper()
		v, p := varintAt(b, 0)
		wv, wn := binary.Varint(b)
		if wn <= 0 {
			wv, wn = 0, -1
		}
		if v != wv || p != wn {
			t.Fatalf("varintAt(% x, 0) = %d, %d; binary.Varint gives %d, %d", b, v, p, wv, wn)
		}
		// At an offset, with the bytes before it ignored.
		v, p = varintAt(append([]byte{0xff, 0xff}, b...), 2)
		if wn > 0 {
			wn += 2
		}
		if v != wv || p != wn {
			t.Fatalf("varintAt(ff ff % x, 2) = %d, %d; want %d, %d", b, v, p, wv, wn)
		}
	}
	check(nil)
	for i := range 256 {
		check([]byte{byte(i)})
		for j := range 256 {
			check([]byte{byte(i), byte(j)})
			check([]byte{byte(i), byte(j), 0x01})
		}
	}
	for _, v := range []int64{0, -1, 1 << 20, -(1 << 40), 1<<63 - 1, -1 << 63} {
		check(binary.AppendVarint(nil, v))
	}
	check(bytes.Repeat([]byte{0xff}, 11)) // overflow
}
