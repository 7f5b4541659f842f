package broker

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/groups"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestOffsetCommitUnknownPartitions: as in Kafka, a commit for a topic or
// partition the metadata does not hold is answered UNKNOWN_TOPIC_OR_PARTITION
// and stored nowhere, while the known partitions of the same request commit.
func TestOffsetCommitUnknownPartitions(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "oc", 2, nil)

	commit := func(topics map[string][]int32, order []string) *kmsg.OffsetCommitResponse {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version = 8
		req.Group = "oc-group"
		req.Generation = -1
		for _, name := range order {
			rt := kmsg.NewOffsetCommitRequestTopic()
			rt.Topic = name
			for _, p := range topics[name] {
				rp := kmsg.NewOffsetCommitRequestTopicPartition()
				rp.Partition = p
				rp.Offset = 7
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
		}
		return request[*kmsg.OffsetCommitResponse](t, cl, req)
	}
	resp := commit(map[string][]int32{"nosuch": {0}, "oc": {0, 55, 1}}, []string{"nosuch", "oc"})
	want := map[string][]int16{
		"nosuch": {kerr.UnknownTopicOrPartition.Code},
		"oc":     {0, kerr.UnknownTopicOrPartition.Code, 0},
	}
	if len(resp.Topics) != 2 {
		t.Fatalf("answer lists %d topics, want 2", len(resp.Topics))
	}
	for _, rt := range resp.Topics {
		if len(rt.Partitions) != len(want[rt.Topic]) {
			t.Fatalf("%s answers %d partitions, want %d", rt.Topic, len(rt.Partitions), len(want[rt.Topic]))
		}
		for i, rp := range rt.Partitions {
			if rp.ErrorCode != want[rt.Topic][i] {
				t.Errorf("%s-%d: error %d, want %d", rt.Topic, rp.Partition, rp.ErrorCode, want[rt.Topic][i])
			}
		}
	}
	// Only unknown partitions: answered without the coordinator.
	resp = commit(map[string][]int32{"nosuch": {0, 1}}, []string{"nosuch"})
	for _, rp := range resp.Topics[0].Partitions {
		if rp.ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("nosuch-%d: error %d, want UNKNOWN_TOPIC_OR_PARTITION", rp.Partition, rp.ErrorCode)
		}
	}

	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Version = 7
	fetch.Group = "oc-group"
	fetch.Topics = nil // all
	fr := request[*kmsg.OffsetFetchResponse](t, cl, fetch)
	got := map[string][]int32{}
	for _, ft := range fr.Topics {
		for _, fp := range ft.Partitions {
			got[ft.Topic] = append(got[ft.Topic], fp.Partition)
			if fp.Offset != 7 {
				t.Errorf("%s-%d: committed offset %d, want 7", ft.Topic, fp.Partition, fp.Offset)
			}
		}
	}
	if len(got) != 1 || len(got["oc"]) != 2 {
		t.Errorf("the group holds offsets for %v, want oc-0 and oc-1 only", got)
	}
}

// TestOffsetCommitDuplicatePartitionWithUnknown: a partition named twice in a
// commit that also names an unknown partition gets each of its own answers,
// as in Kafka: the entry whose metadata is too large is refused
// OFFSET_METADATA_TOO_LARGE even though the other entry commits (the answers
// were matched back by topic and partition, so both read the last one's).
func TestOffsetCommitDuplicatePartitionWithUnknown(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "ocdup", 2, nil)

	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version = 9
	req.Group = "ocdup-group"
	req.Generation = -1
	for _, parts := range [][]struct {
		p    int32
		meta string
	}{
		{{1, strings.Repeat("m", 5000)}, {55, ""}},
		{{1, "small"}},
	} {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "ocdup"
		for _, x := range parts {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = x.p, 9
			rp.Metadata = kmsg.StringPtr(x.meta)
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp := request[*kmsg.OffsetCommitResponse](t, cl, req)
	want := [][]int16{
		{kerr.OffsetMetadataTooLarge.Code, kerr.UnknownTopicOrPartition.Code},
		{0},
	}
	if len(resp.Topics) != len(want) {
		t.Fatalf("answer lists %d topics, want %d", len(resp.Topics), len(want))
	}
	for i, rt := range resp.Topics {
		if len(rt.Partitions) != len(want[i]) {
			t.Fatalf("topic entry %d answers %d partitions, want %d", i, len(rt.Partitions), len(want[i]))
		}
		for j, rp := range rt.Partitions {
			if rp.ErrorCode != want[i][j] {
				t.Errorf("topic entry %d, %s-%d: error %d, want %d", i, rt.Topic, rp.Partition, rp.ErrorCode, want[i][j])
			}
		}
	}

	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Version = 7
	fetch.Group = "ocdup-group"
	fr := request[*kmsg.OffsetFetchResponse](t, cl, fetch)
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
		t.Fatalf("committed offsets %+v, want ocdup-1 only", fr.Topics)
	}
	if fp := fr.Topics[0].Partitions[0]; fp.Partition != 1 || fp.Offset != 9 || fp.Metadata == nil || *fp.Metadata != "small" {
		t.Errorf("ocdup-%d committed at %d with metadata %v, want ocdup-1 at 9 with \"small\"", fp.Partition, fp.Offset, fp.Metadata)
	}
}

// TestDeletedTopicOffsets: deleting a topic removes the groups' committed
// offsets of it, as Kafka does, so a topic created again under the name
// does not inherit them.
func TestDeletedTopicOffsets(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "dt", 2, nil)
	createTopic(t, cl, "dt-kept", 1, nil)
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.Generation = "dt-group", -1
	for _, name := range []string{"dt", "dt-kept"} {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = name
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Offset = 3
		rt.Partitions = append(rt.Partitions, rp)
		commit.Topics = append(commit.Topics, rt)
	}
	for _, rt := range request[*kmsg.OffsetCommitResponse](t, cl, commit).Topics {
		if rt.Partitions[0].ErrorCode != 0 {
			t.Fatalf("commit %s: %v", rt.Topic, kerr.ErrorForCode(rt.Partitions[0].ErrorCode))
		}
	}
	committed := func() map[string]int64 { return groupOffsets(t, cl, "dt-group") }
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.TopicNames = []string{"dt"}
	rdt := kmsg.NewDeleteTopicsRequestTopic()
	name := "dt"
	rdt.Topic = &name
	del.Topics = append(del.Topics, rdt)
	if code := request[*kmsg.DeleteTopicsResponse](t, cl, del).Topics[0].ErrorCode; code != 0 {
		t.Fatalf("delete: %v", kerr.ErrorForCode(code))
	}
	waitFor(t, func() bool { _, ok := committed()["dt"]; return !ok }, "the deleted topic's offsets to go")
	createTopic(t, cl, "dt", 2, nil)
	if got := committed(); got["dt-kept"] != 3 || len(got) != 1 {
		t.Fatalf("after deleting and creating dt again the group holds %v, want only dt-kept at 3", got)
	}
}

// TestStrayOffsetsDroppedOnLoad: offsets of a topic the metadata does not
// hold (deleted while no cleanup ran, or committed before commits were
// checked) are dropped when a coordinator shard loads.
func TestStrayOffsetsDroppedOnLoad(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	cl := newClient(t, b)
	createTopic(t, cl, "real", 1, nil)
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.Generation = "stray-g", -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "real"
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Offset = 4
	rt.Partitions = append(rt.Partitions, rp)
	commit.Topics = append(commit.Topics, rt)
	if code := request[*kmsg.OffsetCommitResponse](t, cl, commit).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(code))
	}
	// A commit for "ghost", written straight into the group's shard.
	key := kmsg.NewOffsetCommitKey()
	key.Version, key.Group, key.Topic = 1, "stray-g", "ghost"
	val := kmsg.NewOffsetCommitValue()
	val.Version, val.Offset, val.CommitTimestamp = 3, 9, time.Now().UnixMilli()
	part := b.node.Partition(offsetsTopic, shardIndex("stray-g", b.coord.numShards()))
	if err := (&offsetsStore{part: part}).Append([]groups.Record{{Key: key.AppendTo(nil), Value: val.AppendTo(nil)}})(); err != nil {
		t.Fatal(err)
	}
	b.Close()

	b = startBroker(t, dir, nil)
	defer b.Close()
	cl = newClient(t, b)
	fetchAll := func() map[string]int64 { return groupOffsets(t, cl, "stray-g") }
	waitFor(t, func() bool { got := fetchAll(); _, ghost := got["ghost"]; return !ghost && got["real"] == 4 }, "the ghost topic's offset to go and real's to stay")
}

// groupOffsets returns a group's committed offsets by topic (the last
// partition listed, for one-partition topics).
func groupOffsets(t testing.TB, cl *kgo.Client, group string) map[string]int64 {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 7
	req.Group = group
	out := map[string]int64{}
	for _, ft := range request[*kmsg.OffsetFetchResponse](t, cl, req).Topics {
		for _, fp := range ft.Partitions {
			out[ft.Topic] = fp.Offset
		}
	}
	return out
}

// A coordinator shard's log is replayed a chunk at a time, not read whole
// (it is not compacted, so it holds every commit ever made), and the
// offsets after a restart are the last ones committed.
func TestOffsetsLoadInChunks(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	cl := newClient(t, b)
	createTopic(t, cl, "lc", 4, nil)
	meta := strings.Repeat("m", 1000)
	const commits = 800 // about 3.3 MB of offset records
	for i := range commits {
		commitAll(t, cl, "lc-group", "lc", 4, func(p int32) int64 { return int64(i*10) + int64(p) }, &meta)
	}
	cl.Close()
	b.Close()

	b = startBroker(t, dir, nil)
	defer b.Close()
	// The shard that holds the group: the offsets topic's partition with
	// the most records. Its replay comes in several chunks.
	chunks, total := 0, 0
	for p := range b.cfg.OffsetsTopicNumPartitions {
		part := b.node.Partition("__consumer_offsets", p)
		if part == nil {
			continue
		}
		waitFor(t, part.Ready, "the offsets partition to lead")
		calls := 0
		n, err := loadRecords(part, func(recs []groups.Record) { calls++ })
		if err != nil {
			t.Fatal(err)
		}
		if n > total {
			chunks, total = calls, n
		}
	}
	if total < commits*4 || chunks < 2 {
		t.Fatalf("replay of %d records in %d chunks, want %d or more in several", total, chunks, commits*4)
	}
	fr := loadedOffsets(t, newClient(t, b), "lc-group")
	for _, ft := range fr.Topics {
		for _, fp := range ft.Partitions {
			if want := int64((commits-1)*10) + int64(fp.Partition); fp.Offset != want || fp.Metadata == nil || *fp.Metadata != meta {
				t.Errorf("%s-%d: offset %d, want %d", ft.Topic, fp.Partition, fp.Offset, want)
			}
		}
	}
	if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 4 {
		t.Errorf("fetched %+v, want the 4 partitions of lc", fr.Topics)
	}
}

// A group committing often does not grow its shard's log without bound:
// the shard checkpoints it, the log start offset moves up to the
// checkpoint, the segments wholly before it are deleted, and a restart
// finds the last offsets committed.
func TestOffsetsLogCheckpointed(t *testing.T) {
	dir := t.TempDir()
	mod := func(c *Config) {
		c.offsetsCheckpointBytes = 256 << 10
		c.LogRetentionCheckMs, c.LogInitialTaskDelayMs = 100, 100
	}
	b := startBroker(t, dir, mod)
	cl := newClient(t, b)
	createTopic(t, cl, "cp", 100, nil)
	offsetsTopicUp(t, b)
	if code := alterConfigOp(t, cl, kmsg.ConfigResourceTypeTopic, "__consumer_offsets", "segment.bytes", "1048576", kmsg.IncrementalAlterConfigOpSet); code != 0 {
		t.Fatalf("segment.bytes of the offsets topic: %v", kerr.ErrorForCode(code))
	}
	const commits = 400 // 100 offsets each: about 2.5 MB of records
	for i := range commits {
		commitAll(t, cl, "cp-group", "cp", 100, func(int32) int64 { return int64(i) }, nil)
	}
	shard := shardIndex("cp-group", b.cfg.OffsetsTopicNumPartitions)
	part := b.node.Partition("__consumer_offsets", shard)
	if part.LogStartOffset() < commits*100/2 {
		t.Fatalf("the shard's log starts at %d after %d offset records, want it moved up by checkpoints", part.LogStartOffset(), commits*100)
	}
	segDir := filepath.Join(dir, fmt.Sprintf("__consumer_offsets-%d", shard))
	waitFor(t, func() bool {
		logs, _ := filepath.Glob(filepath.Join(segDir, "*.log"))
		return len(logs) <= 2
	}, "the segments before the checkpoint to be deleted")
	cl.Close()
	b.Close()

	b = startBroker(t, dir, mod)
	defer b.Close()
	fr := loadedOffsets(t, newClient(t, b), "cp-group")
	n := 0
	for _, ft := range fr.Topics {
		for _, fp := range ft.Partitions {
			n++
			if fp.Offset != commits-1 {
				t.Errorf("cp-%d after restart at %d, want %d", fp.Partition, fp.Offset, commits-1)
			}
		}
	}
	if n != 100 {
		t.Errorf("%d offsets after restart, want 100", n)
	}
}

// loadedOffsets fetches group's offsets once its shard has loaded (after a
// restart it answers COORDINATOR_LOAD_IN_PROGRESS for a moment).
func loadedOffsets(t *testing.T, cl *kgo.Client, group string) *kmsg.OffsetFetchResponse {
	t.Helper()
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Version, fetch.Group = 7, group
	var fr *kmsg.OffsetFetchResponse
	waitFor(t, func() bool {
		fr = request[*kmsg.OffsetFetchResponse](t, cl, fetch)
		return fr.ErrorCode == 0
	}, "the group's shard to load")
	return fr
}

// commitAll commits, for a group of no generation, an offset for each of
// topic's first parts partitions, with metadata meta.
func commitAll(t *testing.T, cl *kgo.Client, group, topic string, parts int32, offset func(part int32) int64, meta *string) {
	t.Helper()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Version, req.Group, req.Generation = 8, group, -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	for p := range parts {
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.Metadata = p, offset(p), meta
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	for _, p := range request[*kmsg.OffsetCommitResponse](t, cl, req).Topics[0].Partitions {
		if p.ErrorCode != 0 {
			t.Fatalf("commit %s-%d: %v", topic, p.Partition, kerr.ErrorForCode(p.ErrorCode))
		}
	}
}
