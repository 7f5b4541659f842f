package broker

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// As Kafka's CachedPartition (it sets the cached high watermark to -1 on an
// error): a session partition answered with an error is sent again once the
// error clears, even though its watermarks did not move, so that the client
// learns the partition is readable again and its watermarks.
func TestFetchSessionResendsPartitionAfterError(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "se", 1, nil)
	now := time.Now().UnixMilli()
	produceRaw(t, cl, "se", 0, -1, encodeBatch(now, -1, -1, -1, values(2, "a")))

	full := rawRequest(t, b, fetchReq(12, 0, 0, "se", map[int32]int64{0: 2})).(*kmsg.FetchResponse)
	if full.ErrorCode != 0 || full.SessionID <= 0 || len(full.Topics) != 1 {
		t.Fatalf("full fetch: %+v", full)
	}
	id := full.SessionID
	// A leader epoch from the future: UNKNOWN_LEADER_EPOCH for the partition.
	bad := fetchReq(12, id, 1, "se", map[int32]int64{0: 2})
	bad.Topics[0].Partitions[0].CurrentLeaderEpoch = 1 << 20
	inc := rawRequest(t, b, bad).(*kmsg.FetchResponse)
	if inc.ErrorCode != 0 || len(inc.Topics) != 1 || inc.Topics[0].Partitions[0].ErrorCode != kerr.UnknownLeaderEpoch.Code {
		t.Fatalf("incremental with a future epoch: %+v", inc)
	}
	// The client learns the epoch and fetches again: the error is gone, and
	// the partition must be in the answer, with its high watermark.
	inc = rawRequest(t, b, fetchReq(12, id, 2, "se", map[int32]int64{0: 2})).(*kmsg.FetchResponse)
	if inc.ErrorCode != 0 || len(inc.Topics) != 1 || len(inc.Topics[0].Partitions) != 1 {
		t.Fatalf("incremental after the error cleared names no partition: %+v", inc)
	}
	if p := inc.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.HighWatermark != 2 {
		t.Fatalf("partition after the error: %v hw %d", kerr.ErrorForCode(p.ErrorCode), p.HighWatermark)
	}
	// And then, with nothing new, it is left out again.
	inc = rawRequest(t, b, fetchReq(12, id, 3, "se", nil)).(*kmsg.FetchResponse)
	if inc.ErrorCode != 0 || len(inc.Topics) != 0 {
		t.Fatalf("incremental with no news: %+v", inc)
	}
}
