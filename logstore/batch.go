package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/hashicorp/raft"
)

// Byte offsets of the fields of a magic-2 record batch header.
const (
	offBaseOffset      = 0
	offLength          = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offNumRecords      = 57

	// BatchHeaderSize is the size of a magic-2 batch header; records follow it.
	BatchHeaderSize = 61
	// batchLogOverhead is the part of the header not counted by the length field.
	batchLogOverhead = 12
)

// Codecs as stored in the low three bits of the batch attributes.
const (
	CodecNone   int8 = 0
	CodecGzip   int8 = 1
	CodecSnappy int8 = 2
	CodecLZ4    int8 = 3
	CodecZstd   int8 = 4
)

// Errors returned by ValidateBatch and friends. Each maps to one Kafka error
// code, chosen by the broker: ErrCorruptBatch -> CORRUPT_MESSAGE (the batch's
// framing or its CRC: bytes damaged on the way, worth a retry),
// ErrInvalidRecord -> INVALID_RECORD (records that break the format under a
// good CRC, compressed data that does not decompress included, as Kafka's
// InvalidRecordException: a client must not retry them),
// ErrUnsupportedMagic -> CORRUPT_MESSAGE (a magic no Kafka wrote; the old
// magics 0 and 1 are refused earlier, see BatchMagic), ErrUnsupportedCodec ->
// INVALID_RECORD (codec ids 5 to 7 do not exist).
var (
	ErrCorruptBatch     = errors.New("logstore: corrupt record batch")
	ErrInvalidRecord    = errors.New("logstore: invalid record")
	ErrUnsupportedMagic = errors.New("logstore: unsupported record batch magic")
	ErrUnsupportedCodec = errors.New("logstore: unsupported compression codec")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// BatchHeader is the fixed 61-byte header of a magic-2 record batch.
type BatchHeader struct {
	BaseOffset           int64
	Length               int32
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Compression returns the codec id (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
func (h BatchHeader) Compression() int8 { return int8(h.Attributes & 7) }

// TimestampType is 0 for CreateTime and 1 for LogAppendTime.
func (h BatchHeader) TimestampType() int8 { return int8(h.Attributes>>3) & 1 }

// IsTransactional reports attribute bit 4.
func (h BatchHeader) IsTransactional() bool { return h.Attributes&attrTransactional != 0 }

const attrTransactional = 0x10

// TransactionalBatch reports whether b starts with a transactional magic-2
// batch, reading its attributes alone: a look over every partition of a
// request before any is parsed.
func TransactionalBatch(b []byte) bool {
	return len(b) >= BatchHeaderSize && b[offMagic] == 2 && binary.BigEndian.Uint16(b[offAttributes:])&attrTransactional != 0
}

// IsControl reports attribute bit 5.
func (h BatchHeader) IsControl() bool { return h.Attributes&0x20 != 0 }

// LastOffset is the offset of the last record of the batch.
func (h BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Size is the number of bytes the whole batch occupies (length field + 12).
func (h BatchHeader) Size() int { return int(h.Length) + batchLogOverhead }

// ParseBatchHeader decodes the header of the batch at the start of b. It needs
// at least 61 bytes and magic 2; it checks nothing else.
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	if len(b) < BatchHeaderSize {
		return BatchHeader{}, fmt.Errorf("%w: %d bytes, header needs %d", ErrCorruptBatch, len(b), BatchHeaderSize)
	}
	if b[offMagic] != 2 {
		return BatchHeader{}, fmt.Errorf("%w: %d", ErrUnsupportedMagic, int8(b[offMagic]))
	}
	return parseHeader(b), nil
}

func parseHeader(b []byte) BatchHeader {
	be := binary.BigEndian
	return BatchHeader{
		BaseOffset:           int64(be.Uint64(b[offBaseOffset:])),
		Length:               int32(be.Uint32(b[offLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  be.Uint32(b[offCRC:]),
		Attributes:           int16(be.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[offLastOffsetDelta:])),
		BaseTimestamp:        int64(be.Uint64(b[offBaseTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(be.Uint32(b[offNumRecords:])),
	}
}

// IsBatch is the one rule that decides whether a raft entry is a Kafka record
// batch (stored in the segment, takes offsets) or something else (stored in
// the sidecar, takes none). The partition state machine must use it too.
//
// Beyond the type, extensions, size and magic it also requires the length
// field to match len(Data) and LastOffsetDelta >= 0: an entry failing those
// could not be framed inside a segment or would move offsets backwards, so it
// is treated as an opaque command rather than corrupting the log.
func IsBatch(e *raft.Log) bool {
	if e == nil || e.Type != raft.LogCommand || len(e.Extensions) != 0 {
		return false
	}
	d := e.Data
	if len(d) < BatchHeaderSize || d[offMagic] != 2 {
		return false
	}
	if int64(int32(binary.BigEndian.Uint32(d[offLength:])))+batchLogOverhead != int64(len(d)) {
		return false
	}
	return int32(binary.BigEndian.Uint32(d[offLastOffsetDelta:])) >= 0
}

// batchCRC computes the CRC-32C a batch should carry.
func batchCRC(b []byte) uint32 { return crc32.Checksum(b[offAttributes:], castagnoli) }

// ValidateBatch checks that b holds exactly one well-formed magic-2 batch.
// Records of uncompressed batches are walked too; compressed ones are not
// decompressed (CheckBatch does that).
func ValidateBatch(b []byte) (BatchHeader, error) {
	h, _, err := validateBatch(b)
	return h, err
}

// validateBatch is ValidateBatch; the summary covers the records of an
// uncompressed batch.
func validateBatch(b []byte) (BatchHeader, RecordSummary, error) {
	var sum RecordSummary
	if len(b) < BatchHeaderSize {
		return BatchHeader{}, sum, fmt.Errorf("%w: %d bytes is shorter than a batch header", ErrCorruptBatch, len(b))
	}
	if b[offMagic] != 2 {
		return BatchHeader{}, sum, fmt.Errorf("%w: %d", ErrUnsupportedMagic, int8(b[offMagic]))
	}
	h := parseHeader(b)
	if int64(h.Length)+batchLogOverhead != int64(len(b)) {
		return h, sum, fmt.Errorf("%w: length field %d does not match %d bytes", ErrCorruptBatch, h.Length, len(b))
	}
	if got := batchCRC(b); got != h.CRC {
		return h, sum, fmt.Errorf("%w: crc %08x, computed %08x", ErrCorruptBatch, h.CRC, got)
	}
	if c := h.Compression(); c < 0 || c > CodecZstd {
		return h, sum, fmt.Errorf("%w: %d", ErrUnsupportedCodec, c)
	}
	if h.NumRecords <= 0 {
		return h, sum, fmt.Errorf("%w: batch has %d records", ErrInvalidRecord, h.NumRecords)
	}
	if h.LastOffsetDelta != h.NumRecords-1 {
		return h, sum, fmt.Errorf("%w: last offset delta %d with %d records", ErrInvalidRecord, h.LastOffsetDelta, h.NumRecords)
	}
	if h.Compression() == CodecNone {
		var ok bool
		if sum, ok = validRecords(b[BatchHeaderSize:], int(h.NumRecords)); !ok {
			// walkRecords makes the same checks and says what is wrong.
			if err := walkRecords(b[BatchHeaderSize:], int(h.NumRecords), nil); err != nil {
				return h, sum, err
			}
			return h, sum, fmt.Errorf("%w: malformed records", ErrInvalidRecord)
		}
	}
	return h, sum, nil
}

// validRecords makes walkRecords' checks (n records, each well framed, with
// offset deltas 0..n-1, nothing trailing) without building records: the
// produce path runs it over every record it receives. It walks positions in
// b, decoding varints of one and two bytes (every field of a record of up
// to 8 KiB) with the inlined varint2, leaving longer ones to varintAt: a
// call per field cost a third of its time.
func validRecords(b []byte, n int) (sum RecordSummary, ok bool) {
	minTs, maxTs, nullKey := int64(0), int64(0), false
	p := 0
	var v int64
	for i := 0; i < n; i++ {
		if v, p = varint2(b, p); p < 0 {
			v, p = varintAt(b, -p-1)
		}
		if p < 0 || v <= 0 || v > int64(len(b)-p) {
			return sum, false
		}
		end := p + int(v) // this record is b[p:end]
		r := b[:end]
		q := p + 1 // after attributes: timestamp delta
		if v, q = varint2(r, q); q < 0 {
			v, q = varintAt(r, -q-1)
		}
		if q < 0 {
			return sum, false
		}
		if i == 0 {
			minTs, maxTs = v, v
		} else {
			minTs, maxTs = min(minTs, v), max(maxTs, v)
		}
		if v, q = varint2(r, q); q < 0 { // offset delta
			v, q = varintAt(r, -q-1)
		}
		if q < 0 || v != int64(i) {
			return sum, false
		}
		for f := range 2 { // key, value; -1 is null
			if v, q = varint2(r, q); q < 0 {
				v, q = varintAt(r, -q-1)
			}
			if q < 0 || v < -1 || v > int64(end-q) {
				return sum, false
			}
			if f == 0 && v < 0 {
				nullKey = true
			}
			q += max(int(v), 0)
		}
		if v, q = varint2(r, q); q < 0 { // headers
			v, q = varintAt(r, -q-1)
		}
		if q < 0 || v < 0 || v > int64(end-q) {
			return sum, false
		}
		for range v {
			hk, k := varintAt(r, q)
			if k < 0 || hk < 0 || hk > int64(end-k) {
				return sum, false
			}
			hv, k := varintAt(r, k+int(hk))
			if k < 0 || hv < -1 || hv > int64(end-k) {
				return sum, false
			}
			q = k + max(int(hv), 0)
		}
		if q != end {
			return sum, false
		}
		p = end
	}
	return RecordSummary{MinTimestampDelta: minTs, MaxTimestampDelta: maxTs, NullKey: nullKey}, p == len(b)
}

// varint2 decodes the zigzag varint at b[p:] if it takes one or two bytes,
// returning it and the position after it; otherwise (longer, or past the
// end of b) it returns -p-1 as the position, for varintAt to take over.
// Small enough to be inlined.
func varint2(b []byte, p int) (int64, int) {
	if p+1 < len(b) {
		u := uint64(b[p])
		if u < 0x80 {
			return int64(u>>1) ^ -int64(u&1), p + 1
		}
		if c := uint64(b[p+1]); c < 0x80 {
			u = u&0x7f | c<<7
			return int64(u>>1) ^ -int64(u&1), p + 2
		}
	}
	return 0, -p - 1
}

// varintAt decodes the zigzag varint at b[p:], returning it and the position
// after it, or a negative position if b holds none there.
func varintAt(b []byte, p int) (int64, int) {
	if p < 0 || p >= len(b) {
		return 0, -1
	}
	if b[p] < 0x80 {
		return int64(b[p]>>1) ^ -int64(b[p]&1), p + 1
	}
	if p+1 < len(b) && b[p+1] < 0x80 {
		u := uint64(b[p]&0x7f) | uint64(b[p+1])<<7
		return int64(u>>1) ^ -int64(u&1), p + 2
	}
	v, k := binary.Varint(b[p:])
	if k <= 0 {
		return 0, -1
	}
	return v, p + k
}

// BatchMagic returns the magic byte of the batch or legacy message set at the
// start of b; ok is false when b is too short to hold one.
func BatchMagic(b []byte) (magic int8, ok bool) {
	if len(b) <= offMagic {
		return 0, false
	}
	return int8(b[offMagic]), true
}

// SplitBatches splits a produce request's records field into its batches,
// checking only the framing (length fields and the minimum header size).
func SplitBatches(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < BatchHeaderSize {
			return out, fmt.Errorf("%w: %d trailing bytes", ErrCorruptBatch, len(b))
		}
		n := int64(int32(binary.BigEndian.Uint32(b[offLength:]))) + batchLogOverhead
		if n < BatchHeaderSize || n > int64(len(b)) {
			return out, fmt.Errorf("%w: batch length %d with %d bytes left", ErrCorruptBatch, n-batchLogOverhead, len(b))
		}
		out = append(out, b[:n:n])
		b = b[n:]
	}
	return out, nil
}

// FirstCompressed returns where the first whole batch in b compressed with
// codec starts, b being batches as read from the log (the last may be cut
// short, and is not looked at then), or -1 when there is none.
func FirstCompressed(b []byte, codec int8) int {
	for at := 0; len(b)-at >= BatchHeaderSize; {
		n := int64(int32(binary.BigEndian.Uint32(b[at+offLength:]))) + batchLogOverhead
		if n < BatchHeaderSize || n > int64(len(b)-at) {
			return -1
		}
		if int8(binary.BigEndian.Uint16(b[at+offAttributes:])&7) == codec {
			return at
		}
		at += int(n)
	}
	return -1
}

// SetBaseOffset rewrites the base offset (not covered by the CRC).
func SetBaseOffset(b []byte, off int64) { binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(off)) }

// SetPartitionLeaderEpoch rewrites the leader epoch (not covered by the CRC).
func SetPartitionLeaderEpoch(b []byte, e int32) {
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(e))
}

// SetMaxTimestamp makes the batch CreateTime with max timestamp ts and
// recomputes the CRC.
func SetMaxTimestamp(b []byte, ts int64) {
	be := binary.BigEndian
	be.PutUint16(b[offAttributes:], be.Uint16(b[offAttributes:])&^0x08)
	be.PutUint64(b[offMaxTimestamp:], uint64(ts))
	be.PutUint32(b[offCRC:], batchCRC(b))
}

// SetMaxTimestampLogAppend turns the batch into a LogAppendTime batch stamped
// ts: it sets the timestamp-type attribute and the max timestamp, and
// recomputes the CRC. The base timestamp and the records' deltas are left
// as the producer sent them, as Kafka stamps a batch in place; readers take
// every record's time from the max timestamp of a LogAppendTime batch.
func SetMaxTimestampLogAppend(b []byte, ts int64) {
	be := binary.BigEndian
	attrs := be.Uint16(b[offAttributes:]) | 0x08
	be.PutUint16(b[offAttributes:], attrs)
	be.PutUint64(b[offMaxTimestamp:], uint64(ts))
	be.PutUint32(b[offCRC:], batchCRC(b))
}

// record is the part of a record the log needs (OffsetForTime).
type record struct {
	offsetDelta    int32
	timestampDelta int64
	key, value     []byte // nil when null; slices of the batch
	headers        []Header
}

// walkRecords checks the framing of n records in b and calls fn (if non-nil)
// for each. Offset deltas must be 0..n-1 in order and nothing may trail.
func walkRecords(b []byte, n int, fn func(record) bool) error {
	for i := 0; i < n; i++ {
		if len(b) == 0 {
			return fmt.Errorf("%w: batch claims %d records, holds %d", ErrInvalidRecord, n, i)
		}
		size, k := binary.Varint(b)
		if k <= 0 {
			return fmt.Errorf("%w: record %d: bad length varint", ErrInvalidRecord, i)
		}
		b = b[k:]
		if size <= 0 || size > int64(len(b)) {
			return fmt.Errorf("%w: record %d: length %d with %d bytes left", ErrInvalidRecord, i, size, len(b))
		}
		r, err := parseRecord(b[:size], i, fn != nil)
		if err != nil {
			return err
		}
		if r.offsetDelta != int32(i) {
			return fmt.Errorf("%w: record %d has offset delta %d", ErrInvalidRecord, i, r.offsetDelta)
		}
		if fn != nil && !fn(r) {
			return nil
		}
		b = b[size:]
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d bytes after the last record", ErrInvalidRecord, len(b))
	}
	return nil
}

// parseRecord checks one record body (after its length prefix). Headers are
// collected only when full is set: validation on the produce path must not
// allocate per record.
func parseRecord(b []byte, i int, full bool) (record, error) {
	var r record
	bad := func(what string) (record, error) {
		return r, fmt.Errorf("%w: record %d: %s", ErrInvalidRecord, i, what)
	}
	if len(b) < 1 {
		return bad("empty")
	}
	b = b[1:] // attributes, unused in v2
	v, k := binary.Varint(b)
	if k <= 0 {
		return bad("timestamp delta")
	}
	r.timestampDelta = v
	b = b[k:]
	v, k = binary.Varint(b)
	if k <= 0 || v < 0 || v > 1<<31-1 {
		return bad("offset delta")
	}
	r.offsetDelta = int32(v)
	b = b[k:]
	// key and value: length -1 means null.
	for i, what := range [2]string{"key", "value"} {
		v, k = binary.Varint(b)
		if k <= 0 || v < -1 || v > int64(len(b)-k) {
			return bad(what)
		}
		b = b[k:]
		if v >= 0 {
			field := b[:v:v]
			if i == 0 {
				r.key = field
			} else {
				r.value = field
			}
			b = b[v:]
		}
	}
	nh, k := binary.Varint(b)
	if k <= 0 || nh < 0 || nh > int64(len(b)) {
		return bad("header count")
	}
	b = b[k:]
	for j := int64(0); j < nh; j++ {
		v, k = binary.Varint(b)
		if k <= 0 || v < 0 || v > int64(len(b)-k) {
			return bad("header key")
		}
		hk := b[k : k+int(v)]
		b = b[k+int(v):]
		v, k = binary.Varint(b)
		if k <= 0 || v < -1 || v > int64(len(b)-k) {
			return bad("header value")
		}
		b = b[k:]
		var hv []byte
		if v >= 0 {
			hv = b[:v:v]
			b = b[v:]
		}
		if full {
			r.headers = append(r.headers, Header{Key: string(hk), Value: hv})
		}
	}
	if len(b) != 0 {
		return bad("trailing bytes")
	}
	return r, nil
}

// CountRecords sums the record counts of the whole batches in b (a fetch
// response's records), reading headers only.
func CountRecords(b []byte) int64 {
	var n int64
	for len(b) >= BatchHeaderSize {
		size := 12 + int(int32(binary.BigEndian.Uint32(b[8:12])))
		if size < BatchHeaderSize || size > len(b) {
			break
		}
		if c := int32(binary.BigEndian.Uint32(b[57:61])); b[offMagic] == 2 && c > 0 {
			n += int64(c) // never negative: it feeds counters
		}
		b = b[size:]
	}
	return n
}
