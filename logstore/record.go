package logstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Record is one record of a batch, for the few places that read or write
// records themselves (the group coordinator's __consumer_offsets records,
// tests). The produce and fetch paths never decode records.
type Record struct {
	Offset         int64 // absolute offset (ReadRecords) ; ignored by AppendBatch
	TimestampDelta int64
	Timestamp      int64 // absolute (ReadRecords)
	Key, Value     []byte
	Headers        []Header
}

// Header is one record header.
type Header struct {
	Key   string
	Value []byte
}

// BatchOptions are the batch-level fields AppendBatch writes.
type BatchOptions struct {
	FirstTimestamp int64
	ProducerID     int64 // -1: not idempotent
	ProducerEpoch  int16
	BaseSequence   int32
	Attributes     int16 // codec bits must be 0: AppendBatch writes uncompressed batches
}

// AppendBatch appends an uncompressed magic-2 batch holding recs to dst, with
// base offset 0 and a correct CRC.
func AppendBatch(dst []byte, o BatchOptions, recs []Record) []byte {
	w := newBatchWriter(dst)
	for _, r := range recs {
		w.add(r)
	}
	return w.finish(o)
}

// batchWriter builds an uncompressed magic-2 batch one record at a time:
// Record.TimestampDelta and the record's index (its offset delta) are
// written, Offset and Timestamp ignored.
type batchWriter struct {
	dst      []byte
	start    int
	rec      []byte // one record's encoding, reused
	n        int
	maxDelta int64
}

func newBatchWriter(dst []byte) *batchWriter {
	return &batchWriter{dst: append(dst, make([]byte, BatchHeaderSize)...), start: len(dst)}
}

func (w *batchWriter) add(r Record) {
	rec := append(w.rec[:0], 0)
	rec = binary.AppendVarint(rec, r.TimestampDelta)
	rec = binary.AppendVarint(rec, int64(w.n))
	rec = appendVarBytes(rec, r.Key)
	rec = appendVarBytes(rec, r.Value)
	rec = binary.AppendVarint(rec, int64(len(r.Headers)))
	for _, h := range r.Headers {
		rec = binary.AppendVarint(rec, int64(len(h.Key)))
		rec = append(rec, h.Key...)
		rec = appendVarBytes(rec, h.Value)
	}
	w.dst = binary.AppendVarint(w.dst, int64(len(rec)))
	w.dst = append(w.dst, rec...)
	w.rec = rec
	w.maxDelta = max(w.maxDelta, r.TimestampDelta)
	w.n++
}

// finish fills in the header and returns dst with the batch appended.
func (w *batchWriter) finish(o BatchOptions) []byte {
	b := w.dst[w.start:]
	binary.BigEndian.PutUint64(b[offBaseOffset:], 0)
	binary.BigEndian.PutUint32(b[offLength:], uint32(len(b)-batchLogOverhead))
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], 0)
	b[offMagic] = 2
	binary.BigEndian.PutUint16(b[offAttributes:], uint16(o.Attributes&^7))
	binary.BigEndian.PutUint32(b[offLastOffsetDelta:], uint32(w.n-1))
	binary.BigEndian.PutUint64(b[offBaseTimestamp:], uint64(o.FirstTimestamp))
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(o.FirstTimestamp+w.maxDelta))
	binary.BigEndian.PutUint64(b[offProducerID:], uint64(o.ProducerID))
	binary.BigEndian.PutUint16(b[offProducerEpoch:], uint16(o.ProducerEpoch))
	binary.BigEndian.PutUint32(b[offBaseSequence:], uint32(o.BaseSequence))
	binary.BigEndian.PutUint32(b[offNumRecords:], uint32(w.n))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
	return w.dst
}

func appendVarBytes(dst, v []byte) []byte {
	if v == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(v)))
	return append(dst, v...)
}

// ReadRecords decodes every record of the whole batches in b (decompressing
// when needed) and calls fn with each batch's header and its records. Key,
// Value and header values alias b or a decompression buffer: copy to keep.
func ReadRecords(b []byte, fn func(h BatchHeader, recs []Record) error) error {
	var recs []Record
	for len(b) > 0 {
		if len(b) < BatchHeaderSize {
			return fmt.Errorf("%w: %d trailing bytes", ErrCorruptBatch, len(b))
		}
		size := batchLogOverhead + int(int32(binary.BigEndian.Uint32(b[offLength:])))
		if size < BatchHeaderSize || size > len(b) {
			return fmt.Errorf("%w: batch length %d with %d bytes", ErrCorruptBatch, size, len(b))
		}
		batch := b[:size]
		b = b[size:]
		h, err := ParseBatchHeader(batch)
		if err != nil {
			return err
		}
		body := batch[BatchHeaderSize:]
		release := func() {}
		if c := h.Compression(); c != CodecNone {
			release = inflate()
			if body, err = Decompress(c, body); err != nil {
				release()
				return err
			}
		}
		recs = recs[:0]
		err = walkRecords(body, int(h.NumRecords), func(r record) bool {
			recs = append(recs, Record{
				Offset:         h.BaseOffset + int64(r.offsetDelta),
				TimestampDelta: r.timestampDelta,
				Timestamp:      h.BaseTimestamp + r.timestampDelta,
				Key:            r.key,
				Value:          r.value,
				Headers:        r.headers,
			})
			return true
		})
		if err == nil {
			err = fn(h, recs)
		}
		clear(recs) // nothing left pointing into body once its slot is given back
		release()
		if err != nil {
			return err
		}
	}
	return nil
}
