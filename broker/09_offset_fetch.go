package broker

import (
	"github.com/gokafka/gokafka/groups"
	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleOffsetFetch(r *kmsg.OffsetFetchRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
	if r.Version < 8 {
		topics, code := b.offsetFetch(r.Group, r.Topics, r.RequireStable)
		resp.ErrorCode = code
		if code != 0 && r.Version < 2 {
			// As Kafka: v0 and v1 have no top-level error code, so the
			// error goes into every partition asked for.
			for _, t := range r.Topics {
				ft := groups.OffsetFetchTopic{Topic: t.Topic}
				for _, p := range t.Partitions {
					ft.Partitions = append(ft.Partitions, groups.OffsetFetchPartition{Partition: p, Offset: -1, LeaderEpoch: -1, Metadata: kmsg.StringPtr(""), ErrorCode: code})
				}
				topics = append(topics, ft)
			}
		}
		for _, t := range topics {
			rt := kmsg.NewOffsetFetchResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetFetchResponseTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	// From v10 topics are named by id (Kafka 4.2). Offsets are kept by
	// topic name, as in Kafka, so ids are resolved on the way in and
	// names turned back into ids on the way out.
	byID := r.Version >= 10
	var st *replication.State
	if byID {
		st = b.node.Controller().State()
	}
	for _, g := range r.Groups {
		rg := kmsg.NewOffsetFetchResponseGroup()
		rg.Group = g.Group
		var topics []kmsg.OffsetFetchRequestTopic
		if g.Topics != nil {
			topics = []kmsg.OffsetFetchRequestTopic{}
			for _, t := range g.Topics {
				rt := kmsg.NewOffsetFetchRequestTopic()
				rt.Topic, rt.Partitions = t.Topic, t.Partitions
				if byID {
					// An id no topic has goes under a name no topic can
					// have, which holds no offsets, keeping the order.
					rt.Topic = unknownTopicName(t.TopicID)
					if topic := st.ByID[t.TopicID]; topic != nil {
						rt.Topic = topic.Name
					}
				}
				topics = append(topics, rt)
			}
		}
		res, code := b.offsetFetch(g.Group, topics, r.RequireStable)
		rg.ErrorCode = code
		for i, t := range res {
			rt := kmsg.NewOffsetFetchResponseGroupTopic()
			rt.Topic = t.Topic
			var errCode int16
			if byID {
				switch topic := st.Topics[t.Topic]; {
				case g.Topics != nil:
					rt.Topic, rt.TopicID = "", g.Topics[i].TopicID
					if topic == nil {
						errCode = kerr.UnknownTopicID.Code
					}
				case topic == nil:
					continue // offsets of a topic since deleted: no id to name it by
				default:
					rt.Topic, rt.TopicID = "", topic.ID
				}
			}
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata, rp.ErrorCode = p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode
				if errCode != 0 {
					// As Kafka: the partition's defaults, metadata
					// empty (not null), with the error.
					rp.ErrorCode, rp.Offset, rp.LeaderEpoch, rp.Metadata = errCode, -1, -1, kmsg.StringPtr("")
				}
				rt.Partitions = append(rt.Partitions, rp)
			}
			rg.Topics = append(rg.Topics, rt)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}

func (b *Broker) offsetFetch(group string, topics []kmsg.OffsetFetchRequestTopic, requireStable bool) ([]groups.OffsetFetchTopic, int16) {
	shard, kerrCode := b.coord.shardFor(group)
	if kerrCode != nil {
		return nil, kerrCode.Code
	}
	return shard.OffsetFetch(group, topics, requireStable)
}
