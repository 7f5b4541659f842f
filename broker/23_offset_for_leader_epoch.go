package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleOffsetForLeaderEpoch(r *kmsg.OffsetForLeaderEpochRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	st := b.node.Controller().State()
	for _, rt := range r.Topics {
		ot := kmsg.NewOffsetForLeaderEpochResponseTopic()
		ot.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			op := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			op.Partition = rp.Partition
			op.LeaderEpoch, op.EndOffset = -1, -1
			p, code := b.leaderReplica(st, rt.Topic, rp.Partition, rp.CurrentLeaderEpoch)
			op.ErrorCode = code
			if p != nil {
				op.LeaderEpoch, op.EndOffset = epochEnd(p.LeaderEpoch(), p.HighWatermark(), rp.LeaderEpoch, p.Log().EpochEndOffset)
			}
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return resp
}

// epochEnd answers OffsetForLeaderEpoch for one partition: the current epoch
// ends at the log end (clients only see up to the high watermark), a later
// one (or the undefined epoch, -1) is undefined, and an earlier one ends
// where the next epoch in the log starts.
func epochEnd(cur int32, hw int64, asked int32, fromLog func(int32) (int32, int64)) (int32, int64) {
	switch {
	case asked > cur, asked < 0:
		return -1, -1
	case asked == cur:
		return cur, hw
	}
	e, end := fromLog(asked)
	return e, min(end, hw)
}
