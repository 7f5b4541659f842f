package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleOffsetDelete deletes a group's committed offsets. As in Kafka,
// partitions the metadata does not hold are answered
// UNKNOWN_TOPIC_OR_PARTITION without reaching the group, and listed only when
// the group itself answers without error.
func (b *Broker) handleOffsetDelete(ctx context.Context, r *kmsg.OffsetDeleteRequest) kmsg.Response {
	shard, kerrCode := b.coord.shardFor(r.Group)
	if kerrCode != nil {
		resp := r.ResponseKind().(*kmsg.OffsetDeleteResponse)
		resp.ErrorCode = kerrCode.Code
		return resp
	}
	st := b.node.Controller().State()
	var unknown []kmsg.OffsetDeleteResponseTopic
	known := make([]kmsg.OffsetDeleteRequestTopic, 0, len(r.Topics))
	for _, rt := range r.Topics {
		kt := rt
		kt.Partitions = nil
		ut := kmsg.NewOffsetDeleteResponseTopic()
		ut.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			if st.HasPartition(rt.Topic, rp.Partition) {
				kt.Partitions = append(kt.Partitions, rp)
				continue
			}
			up := kmsg.NewOffsetDeleteResponseTopicPartition()
			up.Partition = rp.Partition
			up.ErrorCode = kerr.UnknownTopicOrPartition.Code
			ut.Partitions = append(ut.Partitions, up)
		}
		if len(kt.Partitions) > 0 {
			known = append(known, kt)
		}
		if len(ut.Partitions) > 0 {
			unknown = append(unknown, ut)
		}
	}
	kr := *r
	kr.Topics = known
	resp := shard.OffsetDelete(ctx, &kr)
	if resp.ErrorCode != 0 {
		return resp
	}
	for _, ut := range unknown {
		i := 0
		for i < len(resp.Topics) && resp.Topics[i].Topic != ut.Topic {
			i++
		}
		if i == len(resp.Topics) {
			nt := kmsg.NewOffsetDeleteResponseTopic()
			nt.Topic = ut.Topic
			resp.Topics = append(resp.Topics, nt)
		}
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, ut.Partitions...)
	}
	return resp
}
