package broker

import (
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestRetentionDeletesWholeSegments(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	// Small segments so that every few batches roll a new one.
	createTopic(t, cl, "ret", 1, map[string]string{"internal.segment.bytes": "2048", "retention.bytes": "4096"})
	now := time.Now().UnixMilli()
	for i := 0; i < 40; i++ {
		produceRaw(t, cl, "ret", 0, -1, encodeBatch(now, -1, -1, -1, []testRecord{{value: make([]byte, 400)}}))
	}
	p := b.node.Partition("ret", 0)
	before := p.Log().Size()
	b.node.EnforceRetention(time.Now())
	after := p.Log().Size()
	start := p.LogStartOffset()
	if after > 4096+2048 || after >= before || start == 0 {
		t.Fatalf("retention.bytes: size %d -> %d, log start %d", before, after, start)
	}
	if got := listOffsets(t, b, 7, "ret", -2); got.Offset != start {
		t.Fatalf("earliest offset %d, log start %d", got.Offset, start)
	}
	// Everything from the new start is still readable, to the end.
	if got := listOffsets(t, b, 7, "ret", -1); got.Offset != 40 {
		t.Fatalf("latest %d", got.Offset)
	}

}

// retention.ms takes whole segments, the active one too (Kafka rolls it):
// a quiet topic keeps nothing past retention.ms, yet its offsets go on from
// where they were, across a restart.
func TestRetentionTimeEmptiesQuietTopic(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	cl := newClient(t, b)
	createTopic(t, cl, "old", 1, map[string]string{"internal.segment.bytes": "2048", "retention.ms": "60000"})
	old := time.Now().Add(-time.Hour).UnixMilli()
	for i := 0; i < 20; i++ {
		produceRaw(t, cl, "old", 0, -1, encodeBatch(old, -1, -1, -1, []testRecord{{value: make([]byte, 400)}}))
	}
	b.node.EnforceRetention(time.Now())
	po := b.node.Partition("old", 0)
	if po.LogStartOffset() != 20 || po.Log().Size() != 0 {
		t.Fatalf("retention.ms left start %d size %d, want 20 and 0", po.LogStartOffset(), po.Log().Size())
	}
	cl.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = startBroker(t, dir, nil)
	defer b.Close()
	cl = newClient(t, b)
	if e, l := listOffsets(t, b, 7, "old", -2), listOffsets(t, b, 7, "old", -1); e.Offset != 20 || l.Offset != 20 {
		t.Fatalf("emptied log after restart: earliest %d latest %d, want 20, 20", e.Offset, l.Offset)
	}
	if rp := produceRaw(t, cl, "old", 0, -1, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(2, "new"))); rp.ErrorCode != 0 || rp.BaseOffset != 20 {
		t.Fatalf("produce after retention: error %d base offset %d, want 0, 20", rp.ErrorCode, rp.BaseOffset)
	}
	fp := rawRequest(t, b, fetchReq(12, 0, -1, "old", map[int32]int64{0: 20})).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	var rb kmsg.RecordBatch
	if fp.ErrorCode != 0 || fp.LogStartOffset != 20 || rb.ReadFrom(fp.RecordBatches) != nil || rb.FirstOffset != 20 || rb.NumRecords != 2 {
		t.Fatalf("fetch after retention: error %d log start %d, batch at %d with %d records", fp.ErrorCode, fp.LogStartOffset, rb.FirstOffset, rb.NumRecords)
	}
}

func TestCloseReleasesFiles(t *testing.T) {
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(ents)
	}
	before := fds()
	b := startBroker(t, t.TempDir(), nil)
	cl := newClient(t, b)
	createTopic(t, cl, "fd", 4, nil)
	produceRaw(t, cl, "fd", 0, -1, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(3, "x")))
	cl.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if after := fds(); after > before {
		t.Fatalf("%d open files before Start, %d after Close", before, after)
	}
}

// A compact-only topic (as __consumer_offsets) is never trimmed by time or
// size: without compaction that would lose the latest value of old keys.
func TestRetentionSkipsCompactOnlyTopics(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "compacted", 1, map[string]string{"cleanup.policy": "compact", "internal.segment.bytes": "2048", "retention.ms": "1000"})
	old := time.Now().Add(-time.Hour).UnixMilli()
	for i := 0; i < 20; i++ {
		produceRaw(t, cl, "compacted", 0, -1, encodeBatch(old, -1, -1, -1, []testRecord{{key: []byte("k"), value: make([]byte, 400)}}))
	}
	b.node.EnforceRetention(time.Now())
	if start := b.node.Partition("compacted", 0).LogStartOffset(); start != 0 {
		t.Fatalf("compact-only topic trimmed to %d", start)
	}
}

// Retention first runs log.initial.task.delay.ms after a start, not a
// whole check interval later: a node restarted more often than the
// interval still applies it, as Kafka's does.
func TestRetentionFirstCheckAfterInitialDelay(t *testing.T) {
	for _, tc := range []struct {
		name    string
		delayMs int64
	}{
		{"after the delay", 200},
		// The first pass comes before the partition is ready, as after a
		// slow start: the partition is checked once it is, not an hour
		// later (the case above failed so under load).
		{"before the partition is ready", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			mod := func(c *Config) { c.LogRetentionCheckMs, c.LogInitialTaskDelayMs = 3_600_000, tc.delayMs }
			b := startBroker(t, dir, mod)
			cl := newClient(t, b)
			createTopic(t, cl, "ret", 1, map[string]string{"internal.segment.bytes": "2048", "retention.bytes": "4096"})
			now := time.Now().UnixMilli()
			for i := 0; i < 40; i++ {
				produceRaw(t, cl, "ret", 0, -1, encodeBatch(now, -1, -1, -1, []testRecord{{value: make([]byte, 400)}}))
			}
			cl.Close()
			b.Close()
			b = startBroker(t, dir, mod)
			defer b.Close()
			waitFor(t, func() bool {
				p := b.node.Partition("ret", 0)
				return p != nil && p.LogStartOffset() > 0
			}, "retention to run after the initial delay")
		})
	}
}
