package logstore

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// Recompress moves a batch between every pair of codecs and keeps its
// records and every header field but the codec, length and CRC.
func TestRecompress(t *testing.T) {
	var recs []Record
	for i := range 200 {
		recs = append(recs, Record{
			Key:            fmt.Appendf(nil, "key-%d", i%7),
			Value:          bytes.Repeat([]byte{byte(i)}, 50+i),
			TimestampDelta: int64(i * 3),
			Headers:        []Header{{Key: "h", Value: []byte("v")}},
		})
	}
	plain := AppendBatch(nil, BatchOptions{FirstTimestamp: 1_700_000_000_000, ProducerID: 42, ProducerEpoch: 3, BaseSequence: 17}, recs)
	want := parseHeader(plain)
	codecs := []int8{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}
	for _, from := range codecs {
		src, err := Recompress(plain, from, DefaultLevel)
		if err != nil {
			t.Fatalf("to codec %d: %v", from, err)
		}
		for _, to := range codecs {
			out, err := Recompress(src, to, DefaultLevel)
			if err != nil {
				t.Fatalf("codec %d to %d: %v", from, to, err)
			}
			h, sum, err := CheckBatch(out)
			if err != nil {
				t.Fatalf("codec %d to %d: CheckBatch: %v", from, to, err)
			}
			if h.Compression() != to {
				t.Fatalf("codec %d to %d: stored as codec %d", from, to, h.Compression())
			}
			got := h
			got.Length, got.CRC, got.Attributes = want.Length, want.CRC, want.Attributes
			if got != want {
				t.Fatalf("codec %d to %d: header %+v, want %+v", from, to, h, want)
			}
			if sum.MaxTimestampDelta != 199*3 {
				t.Fatalf("codec %d to %d: max timestamp delta %d", from, to, sum.MaxTimestampDelta)
			}
			raw, err := Decompress(to, out[BatchHeaderSize:])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(raw, plain[BatchHeaderSize:]) {
				t.Fatalf("codec %d to %d: records differ", from, to)
			}
			if to == from && &out[0] != &src[0] {
				t.Fatalf("codec %d to itself copied the batch", to)
			}
		}
	}
	if _, err := Recompress(plain, 5, DefaultLevel); err == nil {
		t.Fatal("codec 5 accepted")
	}
}

// Every level Kafka allows compresses to a batch that reads back the same.
func TestRecompressLevels(t *testing.T) {
	var recs []Record
	for i := range 300 {
		recs = append(recs, Record{Value: fmt.Appendf(nil, "value %d of a compressible run of records", i%10)})
	}
	plain := AppendBatch(nil, BatchOptions{ProducerID: -1}, recs)
	levels := map[int8][]int{
		CodecGzip: {DefaultLevel, -1, 1, 5, 9},
		CodecLZ4:  {DefaultLevel, 1, 4, 9, 10, 17},
		CodecZstd: {DefaultLevel, -131072, -1, 1, 3, 7, 22},
	}
	for codec, ls := range levels {
		for _, level := range ls {
			out, err := Recompress(plain, codec, level)
			if err != nil {
				t.Fatalf("codec %d level %d: %v", codec, level, err)
			}
			if _, _, err := CheckBatch(out); err != nil {
				t.Fatalf("codec %d level %d: %v", codec, level, err)
			}
			raw, err := Decompress(codec, out[BatchHeaderSize:])
			if err != nil || !bytes.Equal(raw, plain[BatchHeaderSize:]) {
				t.Fatalf("codec %d level %d: records differ (%v)", codec, level, err)
			}
			if len(out) >= len(plain) {
				t.Fatalf("codec %d level %d: %d bytes from %d", codec, level, len(out), len(plain))
			}
		}
	}
}

// TestInflatingBounded: a batch is decompressed into memory only in one of
// the process's few inflating slots, by Recompress, ReadRecords and
// UpConvert alike, so that small batches that inflate hugely cannot take
// memory by the gigabyte however many arrive at once.
func TestInflatingBounded(t *testing.T) {
	plain := AppendBatch(nil, BatchOptions{FirstTimestamp: 1, ProducerID: -1}, []Record{{Value: []byte("v")}})
	zipped, err := Recompress(plain, CodecGzip, DefaultLevel)
	if err != nil {
		t.Fatal(err)
	}
	set := wrapper(t, 1, CodecGzip, 0, 0, msgSet(1, legacyMsg{ts: 1, value: []byte("v")}))
	for name, inflates := range map[string]func() error{
		"Recompress":  func() error { _, err := Recompress(zipped, CodecLZ4, DefaultLevel); return err },
		"ReadRecords": func() error { return ReadRecords(zipped, func(BatchHeader, []Record) error { return nil }) },
		"UpConvert":   func() error { _, _, err := UpConvert(set); return err },
	} {
		for range cap(inflating) {
			inflating <- struct{}{}
		}
		done := make(chan error, 1)
		go func() { done <- inflates() }()
		select {
		case err := <-done:
			t.Fatalf("%s decompressed with every slot taken (%v)", name, err)
		case <-time.After(50 * time.Millisecond):
		}
		<-inflating
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s still waiting once a slot was free", name)
		}
		for range cap(inflating) - 1 {
			<-inflating
		}
		if len(inflating) != 0 {
			t.Fatalf("%s kept %d slots", name, len(inflating))
		}
	}
}
