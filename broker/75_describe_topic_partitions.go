package broker

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxRequestPartitionSizeLimit is Kafka's max.request.partition.size.limit
// default: the most partitions one DescribeTopicPartitions answer holds,
// whatever the request's ResponsePartitionLimit.
const maxRequestPartitionSizeLimit = 2000

// handleDescribeTopicPartitions answers KIP-966's DescribeTopicPartitions,
// which Kafka 3.7+ admin clients use for describeTopics: Metadata's
// partitions, paged by a cursor.
//
// As Kafka: no names means every topic (and then unknown names are not
// errors); topics come sorted by name, from the cursor's topic (which a
// list of names must hold, and whose partition must not be negative, or
// every name is INVALID_REQUEST) and its partition on; the limit is at
// least 1 and at most max.request.partition.size.limit; once it is
// reached, NextCursor names the first partition left out, or the next
// topic's partition 0 when the limit falls just at the end of a topic.
func (b *Broker) handleDescribeTopicPartitions(req *kmsg.DescribeTopicPartitionsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)
	st := b.node.Controller().State()

	fetchAll := len(req.Topics) == 0
	cursorTopic := ""
	if req.Cursor != nil {
		cursorTopic = req.Cursor.Topic
	}
	var names []string
	if fetchAll {
		for _, n := range st.SortedTopics() {
			if n >= cursorTopic {
				names = append(names, n)
			}
		}
	} else {
		seen := make(map[string]bool)
		for _, t := range req.Topics {
			if t.Topic >= cursorTopic && !seen[t.Topic] {
				seen[t.Topic] = true
				names = append(names, t.Topic)
			}
		}
		slices.Sort(names)
	}
	// Kafka's InvalidRequestException, answered for every name asked: the
	// cursor's topic must be one of the names, and its partition valid.
	if req.Cursor != nil && (!fetchAll && !slices.Contains(names, req.Cursor.Topic) || req.Cursor.Partition < 0) {
		for _, t := range req.Topics {
			rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
			rt.Topic = kmsg.StringPtr(t.Topic)
			rt.ErrorCode = kerr.InvalidRequest.Code
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}

	remaining := max(min(int32(maxRequestPartitionSizeLimit), req.ResponsePartitionLimit), 1)
	for _, name := range names {
		if remaining == 0 {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: 0}
			break
		}
		rt := kmsg.NewDescribeTopicPartitionsResponseTopic()
		rt.Topic = kmsg.StringPtr(name)
		// With no authorizer, as here, Kafka answers every operation,
		// unknown names included.
		rt.AuthorizedOperations = topicOps
		t, ok := st.Topics[name]
		if !ok {
			if fetchAll {
				continue
			}
			rt.ErrorCode = kerr.UnknownTopicOrPartition.Code
			if !validTopicName(name) {
				rt.ErrorCode = kerr.InvalidTopicException.Code
			}
			rt.IsInternal = internalTopics[name]
			resp.Topics = append(resp.Topics, rt)
			continue
		}
		rt.TopicID = t.ID
		rt.IsInternal = t.Internal
		start := int64(0)
		if req.Cursor != nil && name == req.Cursor.Topic {
			start = int64(req.Cursor.Partition)
		}
		n := int64(len(t.Replicas))
		upper := min(n, start+int64(remaining))
		for i := start; i < upper; i++ {
			p := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
			p.Partition = int32(i)
			p.Replicas = append([]int32(nil), t.Replicas[i]...)
			p.ISR = b.isr(t, int32(i))
			p.LeaderID, p.LeaderEpoch = b.leaderOf(name, int32(i))
			// No eligible leader replicas (KIP-966) on one node: empty
			// lists, as Kafka gives a partition with none.
			p.EligibleLeaderReplicas, p.LastKnownELR, p.OfflineReplicas = []int32{}, []int32{}, []int32{}
			rt.Partitions = append(rt.Partitions, p)
		}
		resp.Topics = append(resp.Topics, rt)
		if upper < n {
			resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: int32(upper)}
			break
		}
		remaining -= int32(len(rt.Partitions))
	}
	return resp
}
