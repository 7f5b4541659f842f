package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestOffsetDeleteUnknownPartitions: as in Kafka, OffsetDelete answers a
// topic or partition the metadata does not hold UNKNOWN_TOPIC_OR_PARTITION
// and deletes the known ones of the same request; a group error stands
// alone.
func TestOffsetDeleteUnknownPartitions(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	offsetsTopicUp(t, b) // the unknown group's shard too, or it may be loading
	cl := newClient(t, b)
	createTopic(t, cl, "od", 2, nil)

	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Version = 8
	commit.Group = "od-group"
	commit.Generation = -1
	ct := kmsg.NewOffsetCommitRequestTopic()
	ct.Topic = "od"
	for p := range int32(2) {
		cp := kmsg.NewOffsetCommitRequestTopicPartition()
		cp.Partition, cp.Offset = p, 3
		ct.Partitions = append(ct.Partitions, cp)
	}
	commit.Topics = append(commit.Topics, ct)
	for _, rp := range request[*kmsg.OffsetCommitResponse](t, cl, commit).Topics[0].Partitions {
		if rp.ErrorCode != 0 {
			t.Fatalf("commit od-%d: %v", rp.Partition, kerr.ErrorForCode(rp.ErrorCode))
		}
	}

	del := func(group string, topics map[string][]int32, order []string) *kmsg.OffsetDeleteResponse {
		req := kmsg.NewPtrOffsetDeleteRequest()
		req.Group = group
		for _, name := range order {
			rt := kmsg.NewOffsetDeleteRequestTopic()
			rt.Topic = name
			for _, p := range topics[name] {
				rp := kmsg.NewOffsetDeleteRequestTopicPartition()
				rp.Partition = p
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
		}
		return request[*kmsg.OffsetDeleteResponse](t, cl, req)
	}
	resp := del("od-group", map[string][]int32{"nosuch": {0}, "od": {0, 9}}, []string{"nosuch", "od"})
	if resp.ErrorCode != 0 {
		t.Fatalf("group error %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	want := map[string]map[int32]int16{
		"nosuch": {0: kerr.UnknownTopicOrPartition.Code},
		"od":     {0: 0, 9: kerr.UnknownTopicOrPartition.Code},
	}
	got := map[string]map[int32]int16{}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if got[rt.Topic] == nil {
				got[rt.Topic] = map[int32]int16{}
			}
			got[rt.Topic][rp.Partition] = rp.ErrorCode
		}
	}
	for topic, parts := range want {
		for p, code := range parts {
			if c, ok := got[topic][p]; !ok || c != code {
				t.Errorf("%s-%d: answered %v (listed %v), want %v", topic, p, kerr.ErrorForCode(c), ok, kerr.ErrorForCode(code))
			}
		}
	}
	if len(resp.Topics) != 2 {
		t.Errorf("answer lists %d topics, want 2", len(resp.Topics))
	}
	// od-0 went, od-1 stays.
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Version = 7
	fetch.Group = "od-group"
	offsets := map[int32]int64{}
	for _, ft := range request[*kmsg.OffsetFetchResponse](t, cl, fetch).Topics {
		for _, fp := range ft.Partitions {
			offsets[fp.Partition] = fp.Offset
		}
	}
	if offsets[1] != 3 || len(offsets) != 1 {
		t.Errorf("offsets after delete: %v, want only od-1 at 3", offsets)
	}
	// A group error stands alone, unknown partitions or not.
	resp = del("no-such-group", map[string][]int32{"nosuch": {0}}, []string{"nosuch"})
	if resp.ErrorCode != kerr.GroupIDNotFound.Code || len(resp.Topics) != 0 {
		t.Errorf("unknown group: %v with %d topics, want GROUP_ID_NOT_FOUND alone", kerr.ErrorForCode(resp.ErrorCode), len(resp.Topics))
	}
}
