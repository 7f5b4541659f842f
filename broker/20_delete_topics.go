package broker

import (
	"context"
	"errors"

	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleDeleteTopics(ctx context.Context, req *kmsg.DeleteTopicsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	type target struct {
		name *string
		id   [16]byte
	}
	var targets []target
	if req.Version >= 6 {
		for _, t := range req.Topics {
			targets = append(targets, target{name: t.Topic, id: t.TopicID})
		}
	} else {
		for _, n := range req.TopicNames {
			n := n
			targets = append(targets, target{name: &n})
		}
	}
	for _, tg := range targets {
		rt := kmsg.NewDeleteTopicsResponseTopic()
		rt.Topic = tg.name
		rt.TopicID = tg.id
		st := b.node.Controller().State()
		var t *replication.Topic
		if tg.name != nil {
			t = st.Topics[*tg.name]
			if t == nil {
				rt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			}
		} else {
			t = st.ByID[tg.id]
			if t == nil {
				rt.ErrorCode = kerr.UnknownTopicID.Code
			}
		}
		if t == nil {
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		name := t.Name
		rt.Topic = &name
		rt.TopicID = t.ID
		if t.Internal {
			rt.ErrorCode = kerr.InvalidTopicException.Code
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		if _, err := b.node.Controller().Propose(ctx, replication.Command{Op: replication.OpDeleteTopic, Name: name}); err != nil {
			if errors.Is(err, replication.ErrUnknownTopic) {
				rt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else {
				rt.ErrorCode, rt.ErrorMessage = errCodeMsg(kafkaErrorf(kerr.RequestTimedOut, "%v", err))
			}
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
