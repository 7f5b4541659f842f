package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleCreateTopics(ctx context.Context, req *kmsg.CreateTopicsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	seen := map[string]int{}
	for _, rt := range req.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range req.Topics {
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		st.NumPartitions, st.ReplicationFactor = -1, -1
		if seen[rt.Topic] > 1 {
			// Kafka rejects a name given twice in one request.
			code, msg := errCodeMsg(kafkaErrorf(kerr.InvalidRequest, "topic %q given more than once", rt.Topic))
			st.ErrorCode, st.ErrorMessage = code, msg
			resp.Topics = append(resp.Topics, st)
			continue
		}
		spec := topicSpec{name: rt.Topic, partitions: rt.NumPartitions, rf: rt.ReplicationFactor, configs: map[string]*string{}}
		for _, a := range rt.ReplicaAssignment {
			for int(a.Partition) >= len(spec.assign) {
				spec.assign = append(spec.assign, nil)
			}
			spec.assign[a.Partition] = a.Replicas
		}
		if len(rt.ReplicaAssignment) > 0 && (rt.NumPartitions != -1 || rt.ReplicationFactor != -1) {
			code, msg := errCodeMsg(kafkaErrorf(kerr.InvalidRequest, "both replica assignment and partitions/replication factor given"))
			st.ErrorCode, st.ErrorMessage = code, msg
			resp.Topics = append(resp.Topics, st)
			continue
		}
		for _, c := range rt.Configs {
			spec.configs[c.Name] = c.Value
		}
		t, err := b.buildTopic(spec)
		if err == nil && !req.ValidateOnly {
			err = b.createTopic(ctx, t)
		}
		if err != nil {
			st.ErrorCode, st.ErrorMessage = errCodeMsg(err)
			resp.Topics = append(resp.Topics, st)
			continue
		}
		st.TopicID = t.ID
		st.NumPartitions = int32(len(t.Replicas))
		st.ReplicationFactor = int16(len(t.Replicas[0]))
		for _, d := range topicConfigs {
			c := kmsg.NewCreateTopicsResponseTopicConfig()
			c.Name = d.name
			v, set := t.Configs[d.name]
			if !set {
				v = d.defaultValue(&b.cfg)
				c.Source = int8(kmsg.ConfigSourceDefaultConfig)
				if d.brokerKey != "" {
					c.Source = int8(kmsg.ConfigSourceStaticBrokerConfig)
				}
			} else {
				c.Source = int8(kmsg.ConfigSourceDynamicTopicConfig)
			}
			c.Value = &v
			st.Configs = append(st.Configs, c)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}
