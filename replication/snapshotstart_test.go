package replication

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/gokafka/gokafka/logstore"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// A power loss right after retention deleted the segments a new snapshot
// covered, while that snapshot also covered the tail of the log that was
// not yet synced (a single voter defers its fsyncs, and raft applies and
// snapshots what it stored): recovery cuts the tail, checkSnapshots drops
// the newest snapshot as past the log's end, and the older one it keeps
// ends before the log's first entry. The node must still start.
func TestRestartWithSnapshotBeforeLogStart(t *testing.T) {
	dir := t.TempDir()
	n, cfg := startSmallSegments(t, dir, 1)
	p := n.Partition("t", 0)
	size := int64(len(valueBatch))
	appendN := func(k int) {
		for range k {
			appendValue(t, p)
		}
		waitUntil(t, func() bool { return p.raft.AppliedIndex() >= p.raft.LastIndex() }, "applied")
	}
	appendN(3)
	p.snapshotIfNew("test") // S1
	s1 := p.lastSnapshot.Load()
	appendN(20)
	pdir := filepath.Join(dir, "t-0")
	activeLog := func() string {
		m, _ := filepath.Glob(filepath.Join(pdir, "*.log"))
		sort.Strings(m)
		return m[len(m)-1]
	}
	for {
		if fi, _ := os.Stat(activeLog()); fi.Size() >= 2*size {
			break
		}
		appendN(1)
	}
	p.enforceRetention(time.Now(), -1, 1) // S2 at the last entry; the sealed segments go
	first, _ := p.log.FirstIndex()
	if s2 := p.lastSnapshot.Load(); first <= s1+1 || s2 < first {
		t.Fatalf("snapshots %d, %d; log starts at %d", s1, s2, first)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	// The power loss: the last batch was not synced yet.
	os.Remove(filepath.Join(pdir, "clean-shutdown"))
	fi, _ := os.Stat(activeLog())
	if err := os.Truncate(activeLog(), fi.Size()-size); err != nil {
		t.Fatal(err)
	}

	n, err := StartNode(cfg)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.WaitTopicReady(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	appendValue(t, n.Partition("t", 0))
}

// A snapshot whose state the disk damaged (its CRC fails) is dropped, one
// whose meta.json is damaged raft does not list, and the partition's state
// is rebuilt from its log, so the node starts, with the offsets it had,
// both where the log still starts at raft index 1 and where retention
// deleted the segments the snapshot covered.
func TestRestartWithDamagedSnapshot(t *testing.T) {
	for _, tc := range []struct {
		file      string
		retention bool
	}{{"state.bin", false}, {"state.bin", true}, {"meta.json", true}} {
		retention := tc.retention
		dir := t.TempDir()
		n, cfg := startSmallSegments(t, dir, 1)
		p := n.Partition("t", 0)
		for range 20 {
			appendValue(t, p)
		}
		waitUntil(t, func() bool { return p.raft.AppliedIndex() >= p.raft.LastIndex() }, "applied")
		if retention {
			p.enforceRetention(time.Now(), -1, 1) // snapshots, then deletes the sealed segments
			if first, _ := p.log.FirstIndex(); first <= 1 {
				t.Fatalf("retention deleted nothing: log starts at %d", first)
			}
		} else {
			p.snapshotIfNew("test")
		}
		end := p.log.EndOffset()
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
		states, _ := filepath.Glob(filepath.Join(dir, "t-0", "snapshots", "snapshots", "*", tc.file))
		if len(states) == 0 {
			t.Fatal("no snapshot")
		}
		for _, s := range states {
			f, err := os.OpenFile(s, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt([]byte("XX"), 2)
			f.Truncate(20) // meta.json: no longer JSON
			f.Close()
		}

		n, err := StartNode(cfg)
		if err != nil {
			t.Fatalf("%s, retention=%v: restart: %v", tc.file, retention, err)
		}
		ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel2()
		if err := n.WaitTopicReady(ctx2, "t"); err != nil {
			n.Close()
			t.Fatalf("%s, retention=%v: %v", tc.file, retention, err)
		}
		if off := appendValue(t, n.Partition("t", 0)); off != end {
			t.Errorf("%s, retention=%v: appended at offset %d after the restart, want %d", tc.file, retention, off, end)
		}
		n.Close()
	}
}

// A partition whose raft configuration the disk took (its first segment's
// sidecar overwritten whole, so the entries there and the snapshots past
// them are gone) cannot elect: it is lost, as a partition whose files were
// removed, and the node starts and serves the rest instead of waiting for
// it until its start times out.
func TestRestartWithRaftConfigurationLost(t *testing.T) {
	dir := t.TempDir()
	n, cfg := startSmallSegments(t, dir, 2)
	for i := range 2 {
		for range 10 {
			appendValue(t, n.Partition("t", int32(i)))
		}
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	metas, _ := filepath.Glob(filepath.Join(dir, "t-0", "*.raftmeta"))
	sort.Strings(metas)
	if len(metas) < 2 {
		t.Fatalf("%d segments, want 2 or more", len(metas))
	}
	fi, err := os.Stat(metas[0])
	if err != nil {
		t.Fatal(err)
	}
	garbage := make([]byte, fi.Size())
	for i := range garbage {
		garbage[i] = byte(i*7 + 3)
	}
	if err := os.WriteFile(metas[0], garbage, 0o644); err != nil {
		t.Fatal(err)
	}
	snaps, _ := filepath.Glob(filepath.Join(dir, "t-0", "snapshots", "snapshots", "*"))
	for _, s := range snaps {
		os.RemoveAll(s)
	}

	n = startReady(t, cfg, "t") // not waiting for the damaged partition
	defer n.Close()
	if !n.Partition("t", 0).Lost() {
		t.Error("partition 0 has no raft configuration but is not lost")
	}
	if p := n.Partition("t", 1); !p.Ready() || p.HighWatermark() != 10 {
		t.Errorf("partition 1: ready %v, high watermark %d, want ready at 10", p.Ready(), p.HighWatermark())
	}
}

// A snapshot whose state file is gone is dropped as a damaged one is, the
// older one (which raft never reads while a newer one is good) as well as
// the newest (raft then starts from the older): before, any such snapshot
// kept the partition from starting, for good.
func TestRestartWithSnapshotStateGone(t *testing.T) {
	for _, newest := range []bool{false, true} {
		dir := t.TempDir()
		n, cfg := startSmallSegments(t, dir, 1)
		p := n.Partition("t", 0)
		for range 2 { // two snapshots, each after three batches
			for range 3 {
				appendValue(t, p)
			}
			waitUntil(t, func() bool { return p.raft.AppliedIndex() >= p.raft.LastIndex() }, "applied")
			p.snapshotIfNew("test")
		}
		end := p.log.EndOffset()
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
		snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(dir, "t-0", "snapshots"), 2, hclog.NewNullLogger())
		if err != nil {
			t.Fatal(err)
		}
		list, err := snaps.List() // newest first
		if err != nil || len(list) != 2 {
			t.Fatalf("%d snapshots (%v), want 2", len(list), err)
		}
		gone := list[1]
		if newest {
			gone = list[0]
		}
		if err := os.Remove(filepath.Join(dir, "t-0", "snapshots", "snapshots", gone.ID, "state.bin")); err != nil {
			t.Fatal(err)
		}

		n = startReady(t, cfg, "t")
		if off := appendValue(t, n.Partition("t", 0)); off != end {
			t.Errorf("newest=%v: appended at offset %d after the restart, want %d", newest, off, end)
		}
		n.Close()
	}
}

// startSmallSegments starts a node in dir holding topic t with parts
// partitions of 2 KiB segments, and waits until they lead.
func startSmallSegments(t *testing.T, dir string, parts int) (*Node, Config) {
	t.Helper()
	return startWithLogConfig(t, dir, parts, logstore.Config{SegmentBytes: 2048})
}

// startWithLogConfig starts a node whose topic "t" (parts partitions) is
// ready, its logs opened with lc.
func startWithLogConfig(t *testing.T, dir string, parts int, lc logstore.Config) (*Node, Config) {
	t.Helper()
	cfg, _ := nodeWithTopic(t, dir, "t", parts)
	cfg.LogConfig = func(*State, *Topic) logstore.Config { return lc }
	return startReady(t, cfg, "t"), cfg
}

// startReady starts a node with cfg and waits until every partition of
// topic leads; on failure it closes the node and fails t.
func startReady(t *testing.T, cfg Config, topic string) *Node {
	t.Helper()
	n, err := StartNode(cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.WaitTopicReady(ctx, topic); err != nil {
		n.Close()
		t.Fatalf("topic %s not ready after a start: %v", topic, err)
	}
	return n
}

// valueBatch is a batch of one 300-byte record.
var valueBatch = logstore.AppendBatch(nil, logstore.BatchOptions{ProducerID: -1, FirstTimestamp: time.Now().UnixMilli()}, []logstore.Record{{Value: make([]byte, 300)}})

// appendValue appends a copy of valueBatch to p and returns its offset.
func appendValue(t *testing.T, p *Partition) int64 {
	t.Helper()
	b := append([]byte(nil), valueBatch...)
	h, _ := logstore.ParseBatchHeader(b)
	off, err := p.Append(b, h).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return off
}
