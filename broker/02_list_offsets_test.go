package broker

import (
	"slices"
	"testing"
	"time"

	"github.com/gokafka/gokafka/logstore"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func listOffsets(t *testing.T, b *Broker, version int16, topic string, ts int64) kmsg.ListOffsetsResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = version
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = ts
	rp.CurrentLeaderEpoch = -1
	rp.MaxNumOffsets = 1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return rawRequest(t, b, req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
}

func TestListOffsetsAndLeaderEpochs(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer func() { b.Close() }()
	cl := newClient(t, b)
	createTopic(t, cl, "lo", 1, nil)
	// The log's first data comes in its second epoch, leaving an older one.
	cl.Close()
	b = restartBroker(t, b, "lo")
	cl = newClient(t, b)
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	// Three batches of two records: timestamps t0, t0+10 | t0+1000, t0+1010 | t0+500 (out of order), t0+2000.
	produceRaw(t, cl, "lo", 0, -1, encodeBatch(t0, -1, -1, -1, []testRecord{{value: []byte("a"), ts: 0}, {value: []byte("b"), ts: 10}}))
	produceRaw(t, cl, "lo", 0, -1, encodeBatch(t0+1000, -1, -1, -1, []testRecord{{value: []byte("c"), ts: 0}, {value: []byte("d"), ts: 10}}))
	produceRaw(t, cl, "lo", 0, -1, encodeBatch(t0+500, -1, -1, -1, []testRecord{{value: []byte("e"), ts: 0}, {value: []byte("f"), ts: 1500}}))

	for _, tc := range []struct {
		name       string
		ts         int64
		wantOffset int64
		wantTs     int64
	}{
		{"earliest", -2, 0, -1},
		{"latest", -1, 6, -1},
		{"before everything", t0 - 100, 0, t0},
		{"inside first batch", t0 + 5, 1, t0 + 10},
		{"second batch", t0 + 11, 2, t0 + 1000},
		{"record inside the last batch", t0 + 1011, 5, t0 + 2000},
		{"after everything", t0 + 5000, -1, -1},
		{"max timestamp", -3, 5, t0 + 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := listOffsets(t, b, 7, "lo", tc.ts)
			if p.ErrorCode != 0 || p.Offset != tc.wantOffset || p.Timestamp != tc.wantTs {
				t.Fatalf("got offset %d ts %d err %d; want offset %d ts %d", p.Offset, p.Timestamp, p.ErrorCode, tc.wantOffset, tc.wantTs)
			}
			if p.Offset >= 0 && p.LeaderEpoch != b.node.Partition("lo", 0).LeaderEpoch() {
				t.Fatalf("leader epoch %d", p.LeaderEpoch)
			}
		})
	}
	if p := listOffsets(t, b, 0, "lo", -1); p.ErrorCode != 0 || len(p.OldStyleOffsets) != 1 || p.OldStyleOffsets[0] != 6 {
		t.Fatalf("v0 latest: %+v", p)
	}
	if p := listOffsets(t, b, 7, "none", -1); p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: %v", kerr.ErrorForCode(p.ErrorCode))
	}

	// OffsetForLeaderEpoch: the current epoch ends at the high watermark,
	// a later one is undefined, and one older than any in the log ends, as
	// in Kafka, where the log's first epoch starts.
	epoch := b.node.Partition("lo", 0).LeaderEpoch()
	ofe := func(e int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.Version = 3
		req.ReplicaID = -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = "lo"
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.LeaderEpoch, rp.CurrentLeaderEpoch = e, -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return rawRequest(t, b, req).(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0]
	}
	if p := ofe(epoch); p.ErrorCode != 0 || p.LeaderEpoch != epoch || p.EndOffset != 6 {
		t.Fatalf("current epoch: %+v", p)
	}
	if p := ofe(epoch + 5); p.ErrorCode != 0 || p.EndOffset != -1 {
		t.Fatalf("future epoch: %+v", p)
	}
	if p := ofe(epoch - 1); p.ErrorCode != 0 || p.LeaderEpoch != epoch-1 || p.EndOffset != 0 {
		t.Fatalf("epoch %d, older than the log's: %+v, want epoch %d ending at 0", epoch-1, p, epoch-1)
	}

	// Duplicated partitions (v1+): each copy is an invalid request.
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version = 7
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "lo"
	for range 2 {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = -1
		rp.CurrentLeaderEpoch = -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	for _, p := range rawRequest(t, b, req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions {
		if p.ErrorCode != kerr.InvalidRequest.Code {
			t.Errorf("duplicated lo-%d: error %v, want INVALID_REQUEST", p.Partition, kerr.ErrorForCode(p.ErrorCode))
		}
	}
}

func TestDeleteRecords(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "dr", 1, nil)
	now := time.Now().UnixMilli()
	for i := 0; i < 4; i++ {
		produceRaw(t, cl, "dr", 0, -1, encodeBatch(now, -1, -1, -1, values(5, "x")))
	}
	if p := deleteRecords(t, cl, "dr", 7); p.ErrorCode != 0 || p.LowWatermark != 7 {
		t.Fatalf("delete to 7: %+v", p)
	}
	if p := listOffsets(t, b, 7, "dr", -2); p.Offset != 7 {
		t.Fatalf("earliest after delete: %d", p.Offset)
	}
	resp := rawRequest(t, b, fetchReq(11, 0, -1, "dr", map[int32]int64{0: 3})).(*kmsg.FetchResponse)
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != kerr.OffsetOutOfRange.Code || p.LogStartOffset != 7 {
		t.Fatalf("fetch below the start: %+v", p)
	}
	if p := deleteRecords(t, cl, "dr", 21); p.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Fatalf("delete past the high watermark: %v", kerr.ErrorForCode(p.ErrorCode))
	}
	if p := deleteRecords(t, cl, "dr", -1); p.ErrorCode != 0 || p.LowWatermark != 20 {
		t.Fatalf("delete to the high watermark: %+v", p)
	}
	// The start offset survives a restart.
	dir := b.cfg.DataDir
	cl.Close()
	b.Close()
	b = startBroker(t, dir, nil)
	defer b.Close()
	if p := listOffsets(t, b, 7, "dr", -2); p.Offset != 20 {
		t.Fatalf("earliest after restart: %d", p.Offset)
	}
}

// Each special timestamp from the version that brought it, as Kafka checks
// them; LATEST_TIERED (-5) and EARLIEST_PENDING_UPLOAD (-6) find nothing
// without tiered storage; and an
// offset's leader epoch is the one it was written in, which a restart
// moves on from.
func TestListOffsetsVersionsAndEpochs(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	cl := newClient(t, b)
	createTopic(t, cl, "le", 1, nil)
	t0 := time.Now().Add(-time.Hour).UnixMilli()
	produceRaw(t, cl, "le", 0, -1, encodeBatch(t0, -1, -1, -1, values(2, "a")))
	first := b.node.Partition("le", 0).LeaderEpoch()
	cl.Close()
	b.Close()

	b = startBroker(t, dir, nil)
	defer b.Close()
	cl = newClient(t, b)
	waitFor(t, func() bool { p := b.node.Partition("le", 0); return p != nil && p.Ready() }, "partition ready")
	produceRaw(t, cl, "le", 0, -1, encodeBatch(t0+1000, -1, -1, -1, values(2, "b")))
	second := b.node.Partition("le", 0).LeaderEpoch()
	if second <= first {
		t.Fatalf("leader epoch %d after a restart, was %d", second, first)
	}

	for _, tc := range []struct {
		name      string
		version   int16
		ts        int64
		code      int16
		offset    int64
		epoch     int32
		checkMore bool
	}{
		{"earliest", 9, -2, 0, 0, first, true},
		{"earliest local", 9, -4, 0, 0, first, true},
		{"latest", 9, -1, 0, 4, second, true},
		{"latest tiered", 9, -5, 0, -1, -1, true},
		{"earliest pending upload", 11, -6, 0, -1, -1, true},
		{"latest with a timeout (v10)", 10, -1, 0, 4, second, true},
		{"by time, first batch", 9, t0, 0, 0, first, true},
		{"by time, second batch", 9, t0 + 1000, 0, 2, second, true},
		{"max timestamp", 9, -3, 0, 2, second, true},
		{"max timestamp before v7", 6, -3, kerr.UnsupportedVersion.Code, 0, 0, false},
		{"earliest local before v8", 7, -4, kerr.UnsupportedVersion.Code, 0, 0, false},
		{"latest tiered before v9", 8, -5, kerr.UnsupportedVersion.Code, 0, 0, false},
		{"earliest pending upload before v11", 10, -6, kerr.UnsupportedVersion.Code, 0, 0, false},
		{"unknown negative", 11, -7, kerr.UnsupportedVersion.Code, 0, 0, false},
		{"v0 below earliest", 0, -3, kerr.UnsupportedVersion.Code, 0, 0, false},
	} {
		p := listOffsets(t, b, tc.version, "le", tc.ts)
		if p.ErrorCode != tc.code {
			t.Errorf("%s: error %v, want %v", tc.name, kerr.ErrorForCode(p.ErrorCode), kerr.ErrorForCode(tc.code))
			continue
		}
		if tc.checkMore && (p.Offset != tc.offset || p.LeaderEpoch != tc.epoch) {
			t.Errorf("%s: offset %d epoch %d, want %d in epoch %d", tc.name, p.Offset, p.LeaderEpoch, tc.offset, tc.epoch)
		}
	}
}

// ListOffsets v0 answers as Kafka 3.x's legacy path: segment base offsets
// and file times, up to max_num_offsets of them, newest first.
func TestLegacyOffsets(t *testing.T) {
	segs := []logstore.SegmentTime{{Base: 0, Size: 100, ModifiedMs: 1000}, {Base: 5, Size: 100, ModifiedMs: 2000}, {Base: 9, Size: 40, ModifiedMs: 3000}}
	const now = 5000
	for _, tc := range []struct {
		name     string
		segs     []logstore.SegmentTime
		leo, hw  int64
		ts       int64
		max      int32
		consumer bool
		want     []int64
	}{
		{"latest, one", segs, 12, 12, -1, 1, true, []int64{12}},
		{"latest, three", segs, 12, 12, -1, 3, true, []int64{12, 9, 5}},
		{"latest, all", segs, 12, 12, -1, 100, true, []int64{12, 9, 5, 0}},
		{"latest, none", segs, 12, 12, -1, 0, true, []int64{}},
		{"earliest, any number", segs, 12, 12, -2, 5, true, []int64{0}},
		{"by time: newest written at or before it", segs, 12, 12, 2500, 2, true, []int64{5, 0}},
		{"by time: before every segment", segs, 12, 12, 500, 3, true, []int64{}},
		{"by time: now", segs, 12, 12, now, 1, true, []int64{12}},
		{"consumer: past the high watermark", segs, 12, 10, -1, 3, true, []int64{10, 9, 5}},
		{"replica: the log end", segs, 12, 10, -1, 3, false, []int64{12, 9, 5}},
		{"empty active segment", []logstore.SegmentTime{{Base: 0, Size: 100, ModifiedMs: 1000}, {Base: 9, Size: 0, ModifiedMs: 3000}}, 9, 9, -1, 5, true, []int64{9, 0}},
		{"no segments", nil, 7, 7, -1, 2, true, []int64{7}},
	} {
		if got := legacyOffsets(tc.segs, tc.leo, tc.hw, tc.ts, tc.max, tc.consumer, now); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}

	// Through a broker: several segments.
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "lo0", 1, map[string]string{"internal.segment.bytes": "1024"})
	for range 10 {
		produceRaw(t, cl, "lo0", 0, -1, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, []testRecord{{value: make([]byte, 400)}}))
	}
	bases := b.node.Partition("lo0", 0).Log().SegmentTimes()
	if len(bases) < 3 {
		t.Fatalf("%d segments, want several", len(bases))
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.Version, req.ReplicaID = 0, -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "lo0"
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp, rp.MaxNumOffsets = -1, 3
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	got := rawRequest(t, b, req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	n := len(bases)
	want := []int64{10, bases[n-1].Base, bases[n-2].Base}
	if bases[n-1].Size == 0 {
		want = []int64{bases[n-1].Base, bases[n-2].Base, bases[n-3].Base}
	}
	if got.ErrorCode != 0 || !slices.Equal(got.OldStyleOffsets, want) {
		t.Errorf("v0 latest, 3: %v %v, want %v", kerr.ErrorForCode(got.ErrorCode), got.OldStyleOffsets, want)
	}
}

// TestListOffsetsUnsupportedTimestampFirst checks that a timestamp the
// version does not take is answered UNSUPPORTED_VERSION before the
// partition is looked up, as Kafka's ReplicaManager.fetchOffset checks it
// (KafkaApisTest's testListOffset*WithUnsupportedVersion): an unknown
// topic, an unknown partition or a stale leader epoch does not hide it.
func TestListOffsetsUnsupportedTimestampFirst(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer func() { b.Close() }()
	cl := newClient(t, b)
	createTopic(t, cl, "lu", 1, nil)
	b = restartBroker(t, b, "lu") // an older epoch than the current one
	epoch := b.node.Partition("lu", 0).LeaderEpoch()
	ask := func(version int16, topic string, part int32, ts int64, cur int32) kmsg.ListOffsetsResponseTopicPartition {
		req := kmsg.NewPtrListOffsetsRequest()
		req.Version, req.ReplicaID = version, -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch, rp.MaxNumOffsets = part, ts, cur, 1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return rawRequest(t, b, req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	}
	for _, tc := range []struct {
		name    string
		version int16
		topic   string
		part    int32
		ts      int64
		cur     int32
		want    *kerr.Error
	}{
		{"max timestamp v6, unknown topic", 6, "nope", 0, -3, -1, kerr.UnsupportedVersion},
		{"earliest local v7, unknown partition", 7, "lu", 5, -4, -1, kerr.UnsupportedVersion},
		{"latest tiered v8, fenced epoch", 8, "lu", 0, -5, epoch - 1, kerr.UnsupportedVersion},
		{"unknown negative v10, unknown epoch", 10, "lu", 0, -7, epoch + 1, kerr.UnsupportedVersion},
		{"max timestamp v0, unknown topic", 0, "nope", 0, -3, -1, kerr.UnsupportedVersion},
		{"earliest v6, unknown topic", 6, "nope", 0, -2, -1, kerr.UnknownTopicOrPartition},
		{"max timestamp v7, unknown topic", 7, "nope", 0, -3, -1, kerr.UnknownTopicOrPartition},
		{"max timestamp v7, fenced epoch", 7, "lu", 0, -3, epoch - 1, kerr.FencedLeaderEpoch},
	} {
		p := ask(tc.version, tc.topic, tc.part, tc.ts, tc.cur)
		if p.ErrorCode != tc.want.Code || p.Offset != -1 || p.Timestamp != -1 {
			t.Errorf("%s: %v offset %d timestamp %d, want %v with -1s", tc.name, kerr.ErrorForCode(p.ErrorCode), p.Offset, p.Timestamp, tc.want)
		}
	}
}
