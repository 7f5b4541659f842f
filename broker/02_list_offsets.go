package broker

import (
	"cmp"
	"slices"
	"time"

	"github.com/gokafka/gokafka/logstore"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListOffsets timestamps with special meaning.
const (
	listLatest        = -1
	listEarliest      = -2
	listMaxTimestamp  = -3 // KIP-734
	listEarliestLocal = -4 // KIP-405: no tiered storage, same as earliest
	listLatestTiered  = -5 // KIP-1005: no tiered storage, so no offset (-1)
	listPendingUpload = -6 // KIP-1023: nothing waits to be tiered, so no offset (-1)
)

// listTimestampSupported reports whether a ListOffsets version takes the
// timestamp, as Kafka checks it: each special value from the version that
// brought it, any other negative one never.
func listTimestampSupported(version int16, ts int64) bool {
	switch ts {
	case listLatest, listEarliest:
		return true
	case listMaxTimestamp:
		return version >= 7
	case listEarliestLocal:
		return version >= 8
	case listLatestTiered:
		return version >= 9
	case listPendingUpload:
		return version >= 11
	}
	return ts >= 0
}

func (b *Broker) handleListOffsets(r *kmsg.ListOffsetsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.ListOffsetsResponse)
	st := b.node.Controller().State()
	// As Kafka (v1+): every entry of a partition asked for more than once
	// is answered INVALID_REQUEST.
	type tp struct {
		topic string
		part  int32
	}
	var keys []tp
	if r.Version >= 1 {
		for _, rt := range r.Topics {
			for _, rp := range rt.Partitions {
				keys = append(keys, tp{rt.Topic, rp.Partition})
			}
		}
	}
	dup := duplicates(keys)
	for _, rt := range r.Topics {
		ot := kmsg.NewListOffsetsResponseTopic()
		ot.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			op := kmsg.NewListOffsetsResponseTopicPartition()
			op.Partition = rp.Partition
			op.Timestamp, op.Offset, op.LeaderEpoch = -1, -1, -1
			if dup[tp{rt.Topic, rp.Partition}] {
				op.ErrorCode = kerr.InvalidRequest.Code
				ot.Partitions = append(ot.Partitions, op)
				continue
			}
			// As Kafka's ReplicaManager.fetchOffset: a timestamp the
			// version does not take is refused before the partition is
			// looked up, whatever it is (unknown, not led here, or of
			// another leader epoch).
			if !listTimestampSupported(r.Version, rp.Timestamp) {
				op.ErrorCode = kerr.UnsupportedVersion.Code
				ot.Partitions = append(ot.Partitions, op)
				continue
			}
			p, code := b.leaderReplica(st, rt.Topic, rp.Partition, rp.CurrentLeaderEpoch)
			op.ErrorCode = code
			if p != nil {
				// Each answer carries the leader epoch its offset was
				// written in, as Kafka's does: the current one for the
				// end, the log's epochs for the rest.
				hw := p.HighWatermark()
				switch rp.Timestamp {
				case listLatest:
					op.Offset, op.LeaderEpoch = hw, p.LeaderEpoch()
				case listEarliest, listEarliestLocal:
					op.Offset = p.LogStartOffset()
					op.LeaderEpoch = p.Log().EpochAt(op.Offset)
				case listLatestTiered, listPendingUpload:
					// Nothing is tiered: no offset, as Kafka answers
					// without tiered storage.
				case listMaxTimestamp:
					if off, ts, ok := p.Log().MaxTimestamp(); ok && off < hw {
						op.Offset, op.Timestamp = off, ts
						op.LeaderEpoch = p.Log().EpochAt(off)
					}
				default:
					if off, ts, ok := p.Log().OffsetForTime(rp.Timestamp); ok && off < hw {
						op.Offset, op.Timestamp = off, ts
						op.LeaderEpoch = p.Log().EpochAt(off)
					}
				}
				if r.Version == 0 && op.ErrorCode == 0 {
					op.OldStyleOffsets = legacyOffsets(p.Log().SegmentTimes(), p.Log().EndOffset(), hw,
						rp.Timestamp, rp.MaxNumOffsets, r.ReplicaID < 0, time.Now().UnixMilli())
				}
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return resp
}

// legacyOffsets answers ListOffsets v0 as Kafka 3.x did: from the segments'
// base offsets and the times their files were last written, plus the log
// end offset (now) when the newest segment holds data. Latest starts from
// the end, earliest from the first segment, a time from the newest segment
// (or end) written at or before it; up to maxN offsets from there back,
// newest first. A consumer (a negative replica id) is never told of an
// offset past the high watermark: the high watermark stands in for those.
func legacyOffsets(segs []logstore.SegmentTime, leo, hw, ts int64, maxN int32, consumer bool, nowMs int64) []int64 {
	type point struct{ off, ms int64 }
	points := make([]point, 0, len(segs)+1)
	for _, s := range segs {
		points = append(points, point{s.Base, s.ModifiedMs})
	}
	if len(segs) == 0 || segs[len(segs)-1].Size > 0 {
		points = append(points, point{leo, nowMs})
	}
	start := -1
	switch ts {
	case listLatest:
		start = len(points) - 1
	case listEarliest:
		start = 0
	default:
		for i := len(points) - 1; i >= 0; i-- {
			if points[i].ms <= ts {
				start = i
				break
			}
		}
	}
	n := min(int(maxN), start+1)
	if n <= 0 {
		return []int64{}
	}
	out := make([]int64, 0, n+1)
	for j := range n {
		out = append(out, points[start-j].off)
	}
	slices.SortFunc(out, func(a, b int64) int { return cmp.Compare(b, a) })
	if consumer && out[0] > hw {
		i := 0
		for i < len(out) && out[i] > hw {
			i++
		}
		out = append([]int64{hw}, out[i:]...)
	}
	return out
}
