package broker

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleOffsetCommit(ctx context.Context, r *kmsg.OffsetCommitRequest) kmsg.Response {
	if r.Version >= 10 {
		return b.offsetCommitByID(ctx, r)
	}
	shard, coordErr := b.coord.shardFor(r.Group)
	// As Kafka: a partition the metadata does not hold is answered
	// UNKNOWN_TOPIC_OR_PARTITION before the coordinator is asked about the
	// others (and it is not asked when none are left).
	st := b.node.Controller().State()
	known := st.HasPartition
	valid := *r
	valid.Topics = nil
	for _, rt := range r.Topics {
		vt := rt
		vt.Partitions = nil
		for _, rp := range rt.Partitions {
			if known(rt.Topic, rp.Partition) {
				vt.Partitions = append(vt.Partitions, rp)
			}
		}
		if len(vt.Partitions) > 0 {
			valid.Topics = append(valid.Topics, vt)
		}
	}
	if coordErr == nil && len(valid.Topics) == len(r.Topics) && sameShape(valid.Topics, r.Topics) {
		return shard.OffsetCommit(ctx, r)
	}
	resp := offsetCommitAll(r, kerr.UnknownTopicOrPartition.Code)
	if len(valid.Topics) == 0 {
		return resp
	}
	// The valid partitions get the coordinator's answer, in the request's
	// order, or its error when this broker cannot coordinate the group.
	// The coordinator answers valid's partitions one for one, in order:
	// they go back by position, so that a partition named twice keeps
	// each of its answers (as in Kafka, one may be refused, such as for
	// its metadata's size, while the other commits).
	var codes []int16
	if coordErr == nil {
		got := shard.OffsetCommit(ctx, &valid)
		resp.ThrottleMillis = got.ThrottleMillis
		for _, t := range got.Topics {
			for _, p := range t.Partitions {
				codes = append(codes, p.ErrorCode)
			}
		}
	}
	next := 0
	for i, rt := range r.Topics {
		for j, rp := range rt.Partitions {
			if !known(rt.Topic, rp.Partition) {
				continue
			}
			code := kerr.UnknownServerError.Code
			switch {
			case coordErr != nil:
				code = coordErr.Code
			case next < len(codes):
				code = codes[next]
			}
			next++
			resp.Topics[i].Partitions[j].ErrorCode = code
		}
	}
	return resp
}

// offsetCommitByID answers v10, which names topics by id (Kafka 4.2): the
// ids are resolved here and the commit goes on as a v9 one, since offsets
// are kept by topic name as in Kafka. An id no topic has is answered
// UNKNOWN_TOPIC_ID.
func (b *Broker) offsetCommitByID(ctx context.Context, r *kmsg.OffsetCommitRequest) kmsg.Response {
	st := b.node.Controller().State()
	named := *r
	named.Version = 9
	named.Topics = nil
	for _, rt := range r.Topics {
		if t := st.ByID[rt.TopicID]; t != nil {
			rt.Topic = t.Name
			named.Topics = append(named.Topics, rt)
		}
	}
	resp := offsetCommitAll(r, kerr.UnknownTopicID.Code)
	if len(named.Topics) == 0 {
		return resp
	}
	// The v9 answer lists the named topics in request order.
	got := b.handleOffsetCommit(ctx, &named).(*kmsg.OffsetCommitResponse)
	resp.ThrottleMillis = got.ThrottleMillis
	next := 0
	for i, rt := range r.Topics {
		if st.ByID[rt.TopicID] != nil {
			copy(resp.Topics[i].Partitions, got.Topics[next].Partitions)
			next++
		}
	}
	return resp
}

// sameShape reports whether a and b list the same number of partitions per
// topic (a being b filtered, nothing was left out).
func sameShape(a, b []kmsg.OffsetCommitRequestTopic) bool {
	for i := range a {
		if len(a[i].Partitions) != len(b[i].Partitions) {
			return false
		}
	}
	return true
}

// offsetCommitAll answers every partition of r with code.
func offsetCommitAll(r *kmsg.OffsetCommitRequest, code int16) *kmsg.OffsetCommitResponse {
	resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
	for _, rt := range r.Topics {
		ot := kmsg.NewOffsetCommitResponseTopic()
		ot.Topic, ot.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			op := kmsg.NewOffsetCommitResponseTopicPartition()
			op.Partition = rp.Partition
			op.ErrorCode = code
			ot.Partitions = append(ot.Partitions, op)
		}
		resp.Topics = append(resp.Topics, ot)
	}
	return resp
}
