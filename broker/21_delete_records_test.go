package broker

import (
	"os"
	"path/filepath"
	"sort"
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

// Disk damage that cuts the last segment below the start DeleteRecords set
// brings the partition back empty at that start, as Kafka's LogLoader
// does: its start never moves back, and the next record gets that start
// offset, not one already handed out (a consumer that committed past the
// recovered end would skip the records written there). So again after
// more restarts, before and after that record.
func TestDeleteRecordsThenSegmentCutBelowStart(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	cl := newClient(t, b)
	createTopic(t, cl, "cut", 1, map[string]string{"internal.segment.bytes": "1024"})
	now := time.Now().UnixMilli()
	for i := 0; i < 20; i++ {
		if rp := produceRaw(t, cl, "cut", 0, -1, encodeBatch(now, -1, -1, -1, values(5, "x"))); rp.ErrorCode != 0 {
			t.Fatalf("produce: %v", kerr.ErrorForCode(rp.ErrorCode))
		}
	}
	if p := deleteRecords(t, cl, "cut", 97); p.ErrorCode != 0 || p.LowWatermark != 97 {
		t.Fatalf("delete to 97: %+v", p)
	}
	cl.Close()
	b.Close()
	logs, _ := filepath.Glob(filepath.Join(dir, "cut-0", "*.log"))
	sort.Strings(logs)
	if len(logs) == 0 {
		t.Fatal("no segment")
	}
	if err := os.Truncate(logs[len(logs)-1], 0); err != nil {
		t.Fatal(err)
	}

	check := func(b *Broker, what string, end int64) {
		t.Helper()
		if p := listOffsets(t, b, 7, "cut", -2); p.ErrorCode != 0 || p.Offset != 97 {
			t.Fatalf("%s: earliest %d (%v), want 97", what, p.Offset, kerr.ErrorForCode(p.ErrorCode))
		}
		if p := listOffsets(t, b, 7, "cut", -1); p.ErrorCode != 0 || p.Offset != end {
			t.Fatalf("%s: latest %d (%v), want %d", what, p.Offset, kerr.ErrorForCode(p.ErrorCode), end)
		}
		resp := rawRequest(t, b, fetchReq(11, 0, -1, "cut", map[int32]int64{0: 97})).(*kmsg.FetchResponse)
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.LogStartOffset != 97 || p.HighWatermark != end {
			t.Fatalf("%s: fetch at 97: %v, log start %d, high watermark %d; want 97, %d", what, kerr.ErrorForCode(p.ErrorCode), p.LogStartOffset, p.HighWatermark, end)
		}
	}
	b = startBroker(t, dir, nil)
	check(b, "after the restart", 97)
	b.Close()
	b = startBroker(t, dir, nil) // nothing written since: it starts from the snapshot at the start
	check(b, "after a restart with nothing written", 97)
	cl = newClient(t, b)
	if rp := produceRaw(t, cl, "cut", 0, -1, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(1, "after"))); rp.ErrorCode != 0 || rp.BaseOffset != 97 {
		t.Fatalf("produce after the restart: %v at offset %d, want 97", kerr.ErrorForCode(rp.ErrorCode), rp.BaseOffset)
	}
	check(b, "after a produce", 98)
	cl.Close()
	b.Close()

	b = startBroker(t, dir, nil)
	defer b.Close()
	check(b, "after a second restart", 98)
}
