package broker

import (
	"testing"
	"time"

	"github.com/gokafka/gokafka/logstore"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A new partition leads at leader epoch 0, as in Kafka, whether CreateTopics
// or auto-creation made it: Metadata says so, its batches carry it, and a
// client that asks about epoch 0 (a seek with a leader epoch,
// OffsetForLeaderEpoch, a fetch's current epoch) is answered for it. A
// restart moves the epoch on by one, and epoch 0 still ends where it did.
func TestNewPartitionLeaderEpochZero(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer func() { b.Close() }()
	cl := newClient(t, b)
	createTopic(t, cl, "made", 1, nil)
	resp := request[*kmsg.MetadataResponse](t, cl, metadataReq(true, "made", "auto"))
	for _, mt := range resp.Topics {
		if mt.ErrorCode != 0 || len(mt.Partitions) != 1 || mt.Partitions[0].LeaderEpoch != 0 {
			t.Fatalf("%s: %v, partitions %+v; want one led at epoch 0", *mt.Topic, kerr.ErrorForCode(mt.ErrorCode), mt.Partitions)
		}
	}
	if rp := produceRaw(t, cl, "made", 0, -1, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(3, "x"))); rp.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(rp.ErrorCode))
	}

	check := func(current int32) {
		t.Helper()
		req := fetchReq(12, 0, -1, "made", map[int32]int64{0: 0})
		req.Topics[0].Partitions[0].CurrentLeaderEpoch = current
		fp := rawRequest(t, b, req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
		if fp.ErrorCode != 0 || len(fp.RecordBatches) == 0 {
			t.Fatalf("fetch at current epoch %d: %v, %d bytes", current, kerr.ErrorForCode(fp.ErrorCode), len(fp.RecordBatches))
		}
		if h, err := logstore.ParseBatchHeader(fp.RecordBatches); err != nil || h.PartitionLeaderEpoch != 0 {
			t.Fatalf("fetched batch's leader epoch %d (%v), want 0", h.PartitionLeaderEpoch, err)
		}
		if lp := listOffsets(t, b, 7, "made", -1); lp.ErrorCode != 0 || lp.Offset != 3 || lp.LeaderEpoch != current {
			t.Fatalf("latest offset: %+v, want 3 at epoch %d", lp, current)
		}
		if lp := listOffsets(t, b, 7, "made", -2); lp.ErrorCode != 0 || lp.Offset != 0 || lp.LeaderEpoch != 0 {
			t.Fatalf("earliest offset: %+v, want 0 at epoch 0", lp)
		}
		oreq := kmsg.NewPtrOffsetForLeaderEpochRequest()
		oreq.Version, oreq.ReplicaID = 4, -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = "made"
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.LeaderEpoch, rp.CurrentLeaderEpoch = 0, current
		rt.Partitions = append(rt.Partitions, rp)
		oreq.Topics = append(oreq.Topics, rt)
		op := rawRequest(t, b, oreq).(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0]
		if op.ErrorCode != 0 || op.LeaderEpoch != 0 || op.EndOffset != 3 {
			t.Fatalf("OffsetForLeaderEpoch(0) at current epoch %d: %+v, want epoch 0 ending at 3", current, op)
		}
	}
	check(0)

	cl.Close()
	b = restartBroker(t, b, "made")
	if got := b.node.Partition("made", 0).LeaderEpoch(); got != 1 {
		t.Fatalf("leader epoch after a restart = %d, want 1", got)
	}
	check(1)
}
