package groups

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record is one __consumer_offsets record in Kafka's own format. A nil Value
// is a tombstone.
type Record struct{ Key, Value []byte }

// Store makes records durable; the broker implements it as a raft append to
// the shard's partition of __consumer_offsets.
//
// Append is called with the shard lock held, in the order the records must
// apply, and must not block on replication. The returned wait blocks until
// the records are committed or have failed; a failure should be a *kerr.Error
// (NOT_COORDINATOR when leadership is lost, REQUEST_TIMED_OUT, ...) and is
// what the request that caused the write is answered with. Every wait is
// called exactly once and must eventually return.
type Store interface {
	Append(recs []Record) (wait func() error)
}

// Key versions of __consumer_offsets: 0 and 1 are offset commits, 2 is group
// metadata. Higher versions belong to the KIP-848 protocol and are skipped.
const (
	offsetCommitKeyVersion  = 1
	groupMetadataKeyVersion = 2
	offsetCommitValueV      = 3 // v1 only when an explicit expire timestamp exists
	groupMetadataValueV     = 3
)

func offsetKey(group, topic string, partition int32) []byte {
	k := kmsg.NewOffsetCommitKey()
	k.Version = offsetCommitKeyVersion
	k.Group, k.Topic, k.Partition = group, topic, partition
	return k.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.NewGroupMetadataKey()
	k.Version = groupMetadataKeyVersion
	k.Group = group
	return k.AppendTo(nil)
}

func offsetValue(o offset) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetCommitValueV
	v.Offset = o.offset
	v.LeaderEpoch = o.leaderEpoch
	v.Metadata = o.metadata
	v.CommitTimestamp = o.commitMillis
	if o.expireMillis >= 0 {
		// Only v1 carries an explicit expiry (OffsetCommit v2-v4 retention).
		v.Version = 1
		v.ExpireTimestamp = o.expireMillis
	}
	return v.AppendTo(nil)
}

var errShortKey = errors.New("record key shorter than its version")

// decodedRecord is one record read back by Load.
type decodedRecord struct {
	group string
	// Exactly one of the following is set for a known key.
	isOffset bool
	topic    string
	part     int32
	offset   *kmsg.OffsetCommitValue // nil: tombstone

	isGroup bool
	meta    *kmsg.GroupMetadataValue // nil: tombstone
}

func decodeRecord(r Record) (decodedRecord, error) {
	var d decodedRecord
	if len(r.Key) < 2 {
		return d, errShortKey
	}
	switch kv := int16(binary.BigEndian.Uint16(r.Key)); kv {
	case 0, 1:
		var k kmsg.OffsetCommitKey
		if err := k.ReadFrom(r.Key); err != nil {
			return d, fmt.Errorf("offset commit key: %w", err)
		}
		d.group, d.isOffset, d.topic, d.part = k.Group, true, k.Topic, k.Partition
		if r.Value != nil {
			var v kmsg.OffsetCommitValue
			if err := v.ReadFrom(r.Value); err != nil {
				return d, fmt.Errorf("offset commit value %s/%s/%d: %w", k.Group, k.Topic, k.Partition, err)
			}
			d.offset = &v
		}
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(r.Key); err != nil {
			return d, fmt.Errorf("group metadata key: %w", err)
		}
		d.group, d.isGroup = k.Group, true
		if r.Value != nil {
			var v kmsg.GroupMetadataValue
			if err := v.ReadFrom(r.Value); err != nil {
				return d, fmt.Errorf("group metadata value %s: %w", k.Group, err)
			}
			d.meta = &v
		}
	}
	return d, nil
}
