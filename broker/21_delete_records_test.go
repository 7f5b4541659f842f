package broker

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DeleteRecords is refused, as in Kafka, where a topic's policy keeps its
// head (compaction alone) and on the internal offsets topic, whose records
// are every group's committed offsets.
func TestDeleteRecordsRefused(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "compacted", 1, map[string]string{"cleanup.policy": "compact"})
	createTopic(t, cl, "both", 1, map[string]string{"cleanup.policy": "compact,delete"})
	now := time.Now().UnixMilli()
	for _, topic := range []string{"compacted", "both"} {
		if rp := produceRaw(t, cl, topic, 0, -1, encodeBatch(now, -1, -1, -1, []testRecord{{key: []byte("k"), value: []byte("v")}})); rp.ErrorCode != 0 {
			t.Fatalf("produce to %s: %v", topic, kerr.ErrorForCode(rp.ErrorCode))
		}
	}
	offsetsTopicUp(t, b)

	if p := deleteRecords(t, cl, "compacted", -1); p.ErrorCode != kerr.PolicyViolation.Code {
		t.Errorf("compact topic: %v, want POLICY_VIOLATION", kerr.ErrorForCode(p.ErrorCode))
	}
	if p := deleteRecords(t, cl, "both", -1); p.ErrorCode != 0 || p.LowWatermark != 1 {
		t.Errorf("compact,delete topic: %v, low watermark %d, want it deleted to 1", kerr.ErrorForCode(p.ErrorCode), p.LowWatermark)
	}
	if p := deleteRecords(t, cl, offsetsTopic, -1); p.ErrorCode != kerr.InvalidTopicException.Code {
		t.Errorf("%s: %v, want INVALID_TOPIC_EXCEPTION", offsetsTopic, kerr.ErrorForCode(p.ErrorCode))
	}
	if p := listOffsets(t, b, 7, "compacted", -2); p.Offset != 0 {
		t.Errorf("compact topic's start moved to %d", p.Offset)
	}
}

// A partition named twice in one DeleteRecords is answered once, to the
// last offset given, and a topic named twice once, as Kafka answers.
func TestDeleteRecordsDuplicates(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "drd", 2, nil)
	for p := int32(0); p < 2; p++ {
		produceRaw(t, cl, "drd", p, -1, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(5, "x")))
	}
	req := kmsg.NewPtrDeleteRecordsRequest()
	for _, parts := range [][2]int64{{0, 2}, {1, 1}} { // the topic twice
		rt := kmsg.NewDeleteRecordsRequestTopic()
		rt.Topic = "drd"
		for _, off := range []int64{parts[1], parts[1] + 1} { // partition named twice in each
			rp := kmsg.NewDeleteRecordsRequestTopicPartition()
			rp.Partition, rp.Offset = int32(parts[0]), off
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp := request[*kmsg.DeleteRecordsResponse](t, cl, req)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 2 {
		t.Fatalf("answered %+v; want one topic of two partitions", resp.Topics)
	}
	for i, want := range []int64{3, 2} {
		if p := resp.Topics[0].Partitions[i]; p.Partition != int32(i) || p.ErrorCode != 0 || p.LowWatermark != want {
			t.Errorf("partition %d: error %v low watermark %d; want %d", p.Partition, kerr.ErrorForCode(p.ErrorCode), p.LowWatermark, want)
		}
	}
}
