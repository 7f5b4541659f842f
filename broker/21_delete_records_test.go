package broker

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
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
