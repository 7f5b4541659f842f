package broker

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func describeTopicPartitionsReq(limit int32, cursor *kmsg.DescribeTopicPartitionsRequestCursor, names ...string) *kmsg.DescribeTopicPartitionsRequest {
	req := kmsg.NewPtrDescribeTopicPartitionsRequest()
	req.ResponsePartitionLimit = limit
	req.Cursor = cursor
	for _, n := range names {
		rt := kmsg.NewDescribeTopicPartitionsRequestTopic()
		rt.Topic = n
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// dtpPage renders an answer as "topic:error[partitions]" entries and the
// next cursor, to compare pages whole.
func dtpPage(resp *kmsg.DescribeTopicPartitionsResponse) string {
	var parts []string
	for _, t := range resp.Topics {
		var ps []string
		for _, p := range t.Partitions {
			ps = append(ps, fmt.Sprint(p.Partition))
		}
		e := ""
		if t.ErrorCode != 0 {
			e = ":" + kerr.ErrorForCode(t.ErrorCode).(*kerr.Error).Message
		}
		parts = append(parts, fmt.Sprintf("%s%s[%s]", *t.Topic, e, strings.Join(ps, ",")))
	}
	s := strings.Join(parts, " ")
	if c := resp.NextCursor; c != nil {
		s += fmt.Sprintf(" next=%s/%d", c.Topic, c.Partition)
	}
	return s
}

// TestDescribeTopicPartitions: KIP-966's DescribeTopicPartitions, which
// Kafka 3.7+ admin clients (kafka-python's describe_topic_partitions, the
// Java admin's describeTopics) send, answered as Kafka's
// DescribeTopicPartitionsRequestHandler: names sorted, each known one with
// Metadata's partitions, unknown and invalid names as errors, paged by
// ResponsePartitionLimit and the cursor, a bad cursor INVALID_REQUEST.
func TestDescribeTopicPartitions(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "dtp-a", 2, nil)
	createTopic(t, cl, "dtp-b", 4, nil)
	createTopic(t, cl, "dtp-c", 1, nil)
	st := b.node.Controller().State()

	resp := request[*kmsg.DescribeTopicPartitionsResponse](t, cl, describeTopicPartitionsReq(2000, nil, "dtp-b", "nope", "dtp-a", "bad/name"))
	if got, want := dtpPage(resp), "bad/name:INVALID_TOPIC_EXCEPTION[] dtp-a[0,1] dtp-b[0,1,2,3] nope:UNKNOWN_TOPIC_OR_PARTITION[]"; got != want {
		t.Fatalf("answer %q, want %q", got, want)
	}
	for _, rt := range resp.Topics {
		if rt.AuthorizedOperations != topicOps {
			t.Errorf("%s: authorized operations %d, want %d", *rt.Topic, rt.AuthorizedOperations, topicOps)
		}
		topic, ok := st.Topics[*rt.Topic]
		if !ok {
			if rt.TopicID != ([16]byte{}) || len(rt.Partitions) != 0 {
				t.Errorf("%s: unknown, yet id %x and %d partitions", *rt.Topic, rt.TopicID, len(rt.Partitions))
			}
			continue
		}
		if rt.TopicID != topic.ID || rt.IsInternal {
			t.Errorf("%s: id %x internal %v, want %x false", *rt.Topic, rt.TopicID, rt.IsInternal, topic.ID)
		}
		for _, p := range rt.Partitions {
			if p.ErrorCode != 0 || p.LeaderID != b.node.ID() || p.LeaderEpoch < 0 ||
				!slices.Equal(p.Replicas, []int32{b.node.ID()}) || !slices.Equal(p.ISR, []int32{b.node.ID()}) ||
				p.EligibleLeaderReplicas == nil || len(p.EligibleLeaderReplicas) != 0 || p.LastKnownELR == nil || len(p.OfflineReplicas) != 0 {
				t.Errorf("%s-%d: %+v", *rt.Topic, p.Partition, p)
			}
		}
	}

	// Paging: the limit stops inside a topic (the cursor names the first
	// partition left out), then exactly at a topic's end (the cursor names
	// the next topic's partition 0), then the last page has no cursor.
	names := []string{"dtp-c", "dtp-a", "dtp-b"}
	var pages []string
	var cursor *kmsg.DescribeTopicPartitionsRequestCursor
	for range 5 {
		resp := request[*kmsg.DescribeTopicPartitionsResponse](t, cl, describeTopicPartitionsReq(3, cursor, names...))
		pages = append(pages, dtpPage(resp))
		if resp.NextCursor == nil {
			break
		}
		cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: resp.NextCursor.Topic, Partition: resp.NextCursor.Partition}
	}
	if got, want := strings.Join(pages, " | "), "dtp-a[0,1] dtp-b[0] next=dtp-b/1 | dtp-b[1,2,3] next=dtp-c/0 | dtp-c[0]"; got != want {
		t.Errorf("pages %q, want %q", got, want)
	}

	// A cursor naming a topic the list does not hold is Kafka's
	// InvalidRequestException, answered for every name.
	resp = request[*kmsg.DescribeTopicPartitionsResponse](t, cl, describeTopicPartitionsReq(10,
		&kmsg.DescribeTopicPartitionsRequestCursor{Topic: "dtp-z"}, "dtp-a", "dtp-b"))
	if got, want := dtpPage(resp), "dtp-a:INVALID_REQUEST[] dtp-b:INVALID_REQUEST[]"; got != want {
		t.Errorf("cursor outside the list: %q, want %q", got, want)
	}

	// So is a negative partition in the cursor.
	resp = request[*kmsg.DescribeTopicPartitionsResponse](t, cl, describeTopicPartitionsReq(10,
		&kmsg.DescribeTopicPartitionsRequestCursor{Topic: "dtp-a", Partition: -1}, "dtp-a"))
	if got, want := dtpPage(resp), "dtp-a:INVALID_REQUEST[]"; got != want {
		t.Errorf("negative cursor partition: %q, want %q", got, want)
	}
	// A limit below 1 is taken as 1.
	resp = request[*kmsg.DescribeTopicPartitionsResponse](t, cl, describeTopicPartitionsReq(0, nil, "dtp-a"))
	if got, want := dtpPage(resp), "dtp-a[0] next=dtp-a/1"; got != want {
		t.Errorf("limit 0: %q, want %q", got, want)
	}

	// No names: every topic from the cursor's on, in name order.
	offsetsTopicUp(t, b)
	resp = request[*kmsg.DescribeTopicPartitionsResponse](t, cl, describeTopicPartitionsReq(2000,
		&kmsg.DescribeTopicPartitionsRequestCursor{Topic: "dtp-b", Partition: 2}))
	if got, want := dtpPage(resp), "dtp-b[2,3] dtp-c[0]"; got != want {
		t.Errorf("all topics from dtp-b/2: %q, want %q", got, want)
	}
	resp = request[*kmsg.DescribeTopicPartitionsResponse](t, cl, describeTopicPartitionsReq(2000, nil))
	if len(resp.Topics) != 4 || *resp.Topics[0].Topic != offsetsTopic || !resp.Topics[0].IsInternal {
		t.Errorf("all topics: %q, the first not internal %s", dtpPage(resp), offsetsTopic)
	}
}
