package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka's message formats before 0.11: magic 0 (Kafka 0.8–0.9) and magic 1
// (0.10, which added timestamps), sent as "message sets". Produce v0–v2 and
// fetch v0–v3 carry them, and Kafka 3.x still serves those versions: it
// converts a produced message set up to the topic's magic-2 format, and the
// stored batches down to messages for a consumer of an old fetch version.
// Kafka 4 dropped both (KIP-896); older sarama, kafka-python pinned to an
// old api_version and librdkafka with an old broker.version.fallback still
// use them, so the broker converts as Kafka 3.x does, here.
//
// A message is [offset int64][size int32][crc uint32][magic int8]
// [attributes int8][timestamp int64, magic 1 only][key bytes][value bytes];
// the crc (IEEE, not Castagnoli) covers everything from magic on. A
// compressed message set is the value of one "wrapper" message whose
// attributes name the codec (gzip, snappy, lz4; zstd needs magic 2).

const (
	legacyOverhead = 12                // offset and size, before the size counts
	legacyMinSize  = 4 + 1 + 1 + 4 + 4 // crc, magic, attributes, key and value lengths: a magic 0 message's size
	legacyTSType   = 0x08              // attribute bit: the timestamp is LogAppendTime (magic 1)
)

// UpConvert returns the messages of a magic 0 or 1 message set (a compressed
// wrapper opened) as one uncompressed magic-2 batch, and the codec of the
// set's wrapper (CodecNone when it has none), in which Kafka 3.x
// stores what produce v0–v2 send unless the topic names another: the
// caller compresses once, into whichever applies. Each message's CRC is
// checked; magic 0 messages take no timestamp (-1), and the records of a
// LogAppendTime wrapper take the wrapper's. The batch has base offset 0
// and no producer id, and is flagged LogAppendTime where a message was;
// the caller validates it as any produced batch.
//
// Errors wrap ErrCorruptBatch (a bad CRC, a truncated or misframed message,
// a set that converts to more than MaxDecompressedBytes) or
// ErrInvalidRecord (a wrapper whose value does not decompress, a wrapper
// inside a wrapper or beside other messages, messages of another magic
// than the first's, a codec that format cannot carry, a magic 1 wrapper
// whose offset is neither 0 nor at least its last inner one's). A message
// cut short at the end of the set, or of a wrapper's value, is dropped, as
// Kafka drops it (producedSet); a set with no whole message is
// ErrNoMessages.
func UpConvert(set []byte) (batch []byte, codec int8, err error) {
	// Records go straight into the batch as they are read, so a wrapper
	// that decompresses to many small messages costs the batch's bytes,
	// not a Record each.
	w := newBatchWriter(nil)
	first := int64(0)
	add := func(ts int64, m legacyMessage) error {
		if len(w.dst) > upConvertMax {
			return fmt.Errorf("%w: message set converts to more than %d bytes", ErrCorruptBatch, upConvertMax)
		}
		if w.n == 0 {
			first = ts
		}
		w.add(Record{TimestampDelta: ts - first, Key: m.key, Value: m.value})
		return nil
	}
	var attrs int16
	outer, magic := 0, int8(0) // the set's messages so far, and the first's magic
	err = eachMessage(producedSet(set), func(m legacyMessage) error {
		// As Kafka's LogValidator: the set's messages share one magic,
		// and a compressed one (a wrapper) must be the set's only one;
		// else the set is refused (INVALID_RECORD), not converted.
		if outer++; outer == 1 {
			magic = m.magic
		}
		if m.magic == 1 && m.attrs&legacyTSType != 0 {
			// The producer flagged the message LogAppendTime, which
			// Kafka refuses where that would stamp its records
			// (validateTimestamp): the batch keeps the flag for the
			// caller's check of it.
			attrs = legacyTSType
		}
		c := m.attrs & 7
		switch {
		case m.magic != magic:
			return fmt.Errorf("%w: a magic %d message after a magic %d one", ErrInvalidRecord, m.magic, magic)
		case outer > 1 && (c != CodecNone || codec != CodecNone):
			return fmt.Errorf("%w: a compressed message set holds more than one message", ErrInvalidRecord)
		}
		if c == CodecNone {
			return add(m.timestamp, m)
		}
		if c > CodecLZ4 {
			return fmt.Errorf("%w: codec %d in a magic %d message", ErrInvalidRecord, c, m.magic)
		}
		v := m.value
		if c == CodecLZ4 && m.magic == 0 {
			v = fixLegacyLZ4(v)
		}
		defer inflate()()
		inner, err := Decompress(c, v)
		if err != nil {
			return err
		}
		codec = c
		n, last := 0, int64(0)
		// As Kafka's DeepRecordsIterator, a message cut short at the
		// end of the wrapper's value is dropped, as at the set's.
		err = eachMessage(producedSet(inner), func(im legacyMessage) error {
			switch {
			case im.attrs&7 != CodecNone:
				return fmt.Errorf("%w: a compressed message inside a compressed message", ErrInvalidRecord)
			case im.magic != m.magic:
				return fmt.Errorf("%w: a magic %d message inside a magic %d wrapper", ErrInvalidRecord, im.magic, m.magic)
			}
			ts := im.timestamp
			if m.magic == 1 && m.attrs&legacyTSType != 0 {
				ts = m.timestamp
			}
			n, last = n+1, im.offset
			return add(ts, im)
		})
		switch {
		case err != nil:
		case n == 0:
			err = fmt.Errorf("%w: a compressed message with no messages inside", ErrInvalidRecord)
		case m.magic == 1 && m.offset != 0 && m.offset < last:
			// As Kafka: a magic 1 wrapper's offset is its last inner
			// message's relative one, or 0 as some librdkafka sends.
			err = fmt.Errorf("%w: wrapper offset %d below its last inner offset %d", ErrInvalidRecord, m.offset, last)
		}
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if w.n == 0 {
		return nil, 0, ErrNoMessages
	}
	return w.finish(BatchOptions{FirstTimestamp: first, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Attributes: attrs}), codec, nil
}

// ErrNoMessages is UpConvert's answer to a set holding no whole message
// (empty, or only the start of one): Kafka appends nothing for it and
// answers the produce without an error.
var ErrNoMessages = errors.New("logstore: no whole message in the set")

// producedSet returns set without a message cut short at its end, as
// Kafka reads a produce request's message set: its iterator stops where
// the bytes left cannot hold the offset and size, the size up to the magic
// byte, or the message the size announces, and the log drops what it did
// not read. A size below a message's least, or a magic byte no format has,
// is still corrupt, and left for eachMessage to refuse.
func producedSet(set []byte) []byte {
	whole := 0
	for rest := set; ; {
		if len(rest) < legacyOverhead {
			break
		}
		size := int64(int32(binary.BigEndian.Uint32(rest[8:])))
		if size < legacyMinSize {
			return set // corrupt: eachMessage says so
		}
		if len(rest) < legacyOverhead+4+1 {
			break
		}
		if magic := int8(rest[legacyOverhead+4]); magic < 0 || magic > 2 {
			return set
		}
		if size > int64(len(rest)-legacyOverhead) {
			break
		}
		whole += legacyOverhead + int(size)
		rest = rest[legacyOverhead+size:]
	}
	return set[:whole]
}

// upConvertMax bounds the batch UpConvert builds, as Decompress bounds a
// wrapper's value. (A variable for tests.)
var upConvertMax = MaxDecompressedBytes

// legacyMessage is one message of a magic 0 or 1 set; key and value alias
// the set.
type legacyMessage struct {
	offset     int64 // as sent: producers write 0.., or relative offsets inside a wrapper
	magic      int8
	attrs      int8
	timestamp  int64 // -1 in magic 0
	key, value []byte
}

// eachMessage calls fn with each message of set, in order, after checking
// its framing and CRC; a partial message at the end is an error (a produce
// request's set is cut to its whole messages first: producedSet).
func eachMessage(set []byte, fn func(legacyMessage) error) error {
	for len(set) > 0 {
		if len(set) < legacyOverhead+legacyMinSize {
			return fmt.Errorf("%w: %d bytes left, shorter than a message", ErrCorruptBatch, len(set))
		}
		size := int64(int32(binary.BigEndian.Uint32(set[8:])))
		if size < legacyMinSize || size > int64(len(set)-legacyOverhead) {
			return fmt.Errorf("%w: message size %d with %d bytes left", ErrCorruptBatch, size, len(set)-legacyOverhead)
		}
		raw := set[:legacyOverhead+size]
		set = set[len(raw):]
		if got, want := crc32.ChecksumIEEE(raw[16:]), binary.BigEndian.Uint32(raw[12:]); got != want {
			return fmt.Errorf("%w: message crc %08x, computed %08x", ErrCorruptBatch, want, got)
		}
		var m legacyMessage
		var used int
		switch magic := int8(raw[16]); magic {
		case 0:
			var v kmsg.MessageV0
			if err := v.UnsafeReadFrom(raw); err != nil {
				return fmt.Errorf("%w: magic 0 message: %v", ErrCorruptBatch, err)
			}
			m = legacyMessage{offset: v.Offset, magic: 0, attrs: v.Attributes, timestamp: -1, key: v.Key, value: v.Value}
			used = legacyMinSize
		case 1:
			var v kmsg.MessageV1
			if err := v.UnsafeReadFrom(raw); err != nil {
				return fmt.Errorf("%w: magic 1 message: %v", ErrCorruptBatch, err)
			}
			m = legacyMessage{offset: v.Offset, magic: 1, attrs: v.Attributes, timestamp: v.Timestamp, key: v.Key, value: v.Value}
			used = legacyMinSize + 8
		default:
			return fmt.Errorf("%w: magic %d in a message set", ErrInvalidRecord, magic)
		}
		if used += len(m.key) + len(m.value); int64(used) != size {
			return fmt.Errorf("%w: message size %d, its fields take %d", ErrCorruptBatch, size, used)
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

// DownConvert returns the records at or after firstOffset of the magic-2
// batches in b as uncompressed messages of magic 0 or 1, as Kafka 3.x
// answers fetch v0–v1 (magic 0) and v2–v3 (magic 1): headers are dropped
// (no such field), control batches skipped, and the records of a
// LogAppendTime batch carry its append time. Kafka keeps each batch's codec
// on a compressed wrapper; these messages are not compressed, which every
// client reads and which spares the broker a compression per fetch. The set
// ends before the message that would take it past limit bytes, but holds
// at least one message.
func DownConvert(b []byte, magic int8, firstOffset int64, limit int) ([]byte, error) {
	var out []byte
	full := false
	err := ReadRecords(b, func(h BatchHeader, recs []Record) error {
		if full || h.IsControl() {
			return nil
		}
		for _, r := range recs {
			if r.Offset < firstOffset {
				continue
			}
			start := len(out)
			if magic == 0 {
				m := kmsg.MessageV0{Offset: r.Offset, Key: r.Key, Value: r.Value}
				out = m.AppendTo(out)
			} else {
				m := kmsg.MessageV1{Offset: r.Offset, Magic: 1, Timestamp: r.Timestamp, Key: r.Key, Value: r.Value}
				if h.TimestampType() == 1 {
					m.Attributes = legacyTSType
					m.Timestamp = h.MaxTimestamp
				}
				out = m.AppendTo(out)
			}
			msg := out[start:]
			binary.BigEndian.PutUint32(msg[8:], uint32(len(msg)-legacyOverhead))
			binary.BigEndian.PutUint32(msg[12:], crc32.ChecksumIEEE(msg[16:]))
			if len(out) > limit && start > 0 {
				out, full = out[:start], true
				return nil
			}
		}
		return nil
	})
	return out, err
}
