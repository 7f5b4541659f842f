package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListOffsets timestamps with special meaning.
const (
	listLatest        = -1
	listEarliest      = -2
	listMaxTimestamp  = -3 // KIP-734
	listEarliestLocal = -4 // KIP-405: no tiered storage, same as earliest
	listLatestTiered  = -5 // KIP-1005: no tiered storage, same as earliest - 1
)

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
			p, code := b.leaderReplica(st, rt.Topic, rp.Partition, rp.CurrentLeaderEpoch)
			op.ErrorCode = code
			if p != nil {
				hw := p.HighWatermark()
				epoch := p.LeaderEpoch()
				switch rp.Timestamp {
				case listLatest:
					op.Offset = hw
				case listEarliest, listEarliestLocal:
					op.Offset = p.LogStartOffset()
				case listLatestTiered:
					op.Offset = p.LogStartOffset() - 1
				case listMaxTimestamp:
					if off, ts, ok := p.Log().MaxTimestamp(); ok && off < hw {
						op.Offset, op.Timestamp = off, ts
					}
				default:
					if rp.Timestamp < 0 {
						op.ErrorCode = kerr.InvalidRequest.Code
						break
					}
					if off, ts, ok := p.Log().OffsetForTime(rp.Timestamp); ok && off < hw {
						op.Offset, op.Timestamp = off, ts
					} else {
						// No record at or after the time: Kafka answers -1
						// (v1+); older clients expect the end offset.
						if r.Version == 0 {
							op.Offset = hw
						}
					}
				}
				if op.ErrorCode == 0 && op.Offset >= 0 {
					op.LeaderEpoch = epoch
				}
				if r.Version == 0 && op.ErrorCode == 0 {
					op.OldStyleOffsets = []int64{op.Offset}
					if op.Offset < 0 {
						op.OldStyleOffsets = nil
					}
				}
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return resp
}
