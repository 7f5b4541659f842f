package replication

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/gokafka/logstore"
)

// A replica that fails to start (here its directory's path is taken by a
// file; in the field, the process out of file descriptors) is started
// again once the cause is gone, without a restart or a metadata change.
func TestFailedPartitionStartRetried(t *testing.T) {
	dir := t.TempDir()
	n, ctx := startNodeT(t, dir)
	blocker := filepath.Join(dir, "r-0")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	topic := &Topic{Name: "r", ID: NewTopicID(), Replicas: [][]int32{{1}}}
	if _, err := n.Controller().Propose(ctx, Command{Op: OpCreateTopic, Topic: topic}); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	err := n.WaitTopicReady(short, "r")
	cancelShort()
	if err == nil {
		t.Fatal("a partition whose directory cannot be made became ready")
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitTopicReady(ctx, "r"); err != nil {
		t.Fatalf("partition not started again once it could be: %v", err)
	}
}

// The directory of a replica that never started goes with its topic, as
// any partition's does.
func TestFailedPartitionDirRemovedWithTopic(t *testing.T) {
	dir := t.TempDir()
	n, ctx := startNodeT(t, dir)
	topic := &Topic{Name: "s", ID: NewTopicID(), Replicas: [][]int32{{1}}}
	pdir := filepath.Join(dir, "s-0")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writePartitionMeta(pdir, topic.ID); err != nil {
		t.Fatal(err)
	}
	// raft's snapshot store cannot make its directory: the start fails
	// after the log has made its files.
	if err := os.WriteFile(filepath.Join(pdir, "snapshots"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Controller().Propose(ctx, Command{Op: OpCreateTopic, Topic: topic}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		_, failed := n.failed[partKey{"s", 0}]
		return failed
	}, "the start to fail")
	if _, err := n.Controller().Propose(ctx, Command{Op: OpDeleteTopic, Name: "s"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool {
		_, err := os.Stat(pdir)
		return errors.Is(err, os.ErrNotExist)
	}, "the directory of the deleted topic's replica to go")
}

// startNodeT starts a node on dir, closed at the test's end, and returns it
// with a context for the test's waits.
func startNodeT(t *testing.T, dir string) (*Node, context.Context) {
	t.Helper()
	n, err := StartNode(Config{NodeID: 1, DataDir: dir, RaftListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	// Directories a test makes are not taken for strays.
	select {
	case <-n.swept:
	case <-ctx.Done():
		t.Fatal("the node's metadata did not catch up")
	}
	return n, ctx
}

func waitUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A retention check snapshots a partition only when raft's snapshot must
// pass segments it deletes: not for a partition whose data retention keeps
// (every partition written since its last snapshot took a few fsyncs at
// each check), and not again for an idle one.
func TestRetentionCheckSnapshotsOnlyWhenDue(t *testing.T) {
	n := startWithTopic(t, "idle", 1)
	p := n.Partition("idle", 0)
	now := time.Now()
	batch := logstore.AppendBatch(nil, logstore.BatchOptions{ProducerID: -1, FirstTimestamp: now.UnixMilli()}, []logstore.Record{{Value: []byte("v")}})
	h, err := logstore.ParseBatchHeader(batch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Append(batch, h).Wait(); err != nil {
		t.Fatal(err)
	}
	// A single voter acknowledges a batch once it is stored, which can be
	// before raft's FSM has applied it: the snapshot must cover it.
	waitUntil(t, func() bool { return p.raft.AppliedIndex() >= p.raft.LastIndex() }, "the batch to be applied")
	snapshots := func() []string {
		ents, err := os.ReadDir(filepath.Join(n.cfg.DataDir, "idle-0", "snapshots", "snapshots"))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}
	const week = 7 * 24 * 3600 * 1000
	before := snapshots()
	time.Sleep(5 * time.Millisecond) // a new snapshot would have another name
	p.enforceRetention(now, week, -1)
	if got := snapshots(); !slices.Equal(got, before) {
		t.Fatalf("snapshots %v, then %v after a check that deletes nothing", before, got)
	}
	later := now.Add(8 * 24 * time.Hour) // the batch is past retention
	p.enforceRetention(later, week, -1)
	first := snapshots()
	if slices.Equal(first, before) {
		t.Fatal("no new snapshot before retention deleted the segment")
	}
	if p.log.StartOffset() != 1 || p.log.EndOffset() != 1 {
		t.Fatalf("after retention: log start %d, end %d; want 1, 1", p.log.StartOffset(), p.log.EndOffset())
	}
	time.Sleep(5 * time.Millisecond) // a new snapshot would have another name
	p.enforceRetention(later.Add(time.Hour), week, -1)
	if again := snapshots(); !slices.Equal(again, first) {
		t.Fatalf("snapshots %v, then %v with nothing new", first, again)
	}

	// Many batch bytes since the last snapshot, or many entries: one
	// bounds the next start's replay, though retention deletes nothing,
	// and on a topic without retention limits too.
	appendBig(t, p, replayBytes/2+1)
	appendBig(t, p, replayBytes/2+1)
	waitUntil(t, func() bool { return p.raft.AppliedIndex() >= p.raft.LastIndex() }, "the batches to be applied")
	p.enforceRetention(time.Now(), week, -1)
	second := snapshots()
	if slices.Equal(second, first) {
		t.Fatalf("snapshots %v still, after %d bytes", second, replayBytes)
	}
	first = second
	var calls []AppendResult
	for range replayBound {
		b := logstore.AppendBatch(nil, logstore.BatchOptions{ProducerID: -1, FirstTimestamp: time.Now().UnixMilli()}, []logstore.Record{{Value: []byte("v")}})
		h, err := logstore.ParseBatchHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		calls = append(calls, p.Append(b, h))
	}
	for _, c := range calls {
		if _, err := c.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, func() bool { return p.raft.AppliedIndex() >= p.raft.LastIndex() }, "the batches to be applied")
	p.enforceRetention(time.Now(), -1, -1)
	if got := snapshots(); slices.Equal(got, first) {
		t.Fatalf("snapshots %v still, after %d entries", got, replayBound)
	}
}

// appendBig appends one batch of a record of n bytes, timestamped now.
func appendBig(t *testing.T, p *Partition, n int) {
	t.Helper()
	b := logstore.AppendBatch(nil, logstore.BatchOptions{ProducerID: -1, FirstTimestamp: time.Now().UnixMilli()}, []logstore.Record{{Value: make([]byte, n)}})
	h, err := logstore.ParseBatchHeader(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Append(b, h).Wait(); err != nil {
		t.Fatal(err)
	}
}

// A retention pass spreads the snapshots it takes (a few fsyncs each) at
// least snapshotPace apart, rather than taking a thousand back to back.
func TestRetentionPassPacesSnapshots(t *testing.T) {
	const parts = 3
	n := startWithTopic(t, "paced", parts)
	for i := range parts {
		p := n.Partition("paced", int32(i))
		appendBig(t, p, replayBytes)
		waitUntil(t, func() bool { return p.raft.AppliedIndex() >= p.raft.LastIndex() }, "the batch to be applied")
	}
	newest := func(i int) int64 {
		ents, err := os.ReadDir(filepath.Join(n.cfg.DataDir, fmt.Sprintf("paced-%d", i), "snapshots", "snapshots"))
		if err != nil {
			t.Fatal(err)
		}
		var ms int64
		for _, e := range ents {
			var term, idx, at int64
			if _, err := fmt.Sscanf(e.Name(), "%d-%d-%d", &term, &idx, &at); err == nil {
				ms = max(ms, at)
			}
		}
		return ms
	}
	var before [parts]int64
	for i := range parts {
		before[i] = newest(i)
	}
	n.EnforceRetention(time.Now())
	var at []int64
	for i := range parts {
		if ms := newest(i); ms > before[i] {
			at = append(at, ms)
		}
	}
	if len(at) != parts {
		t.Fatalf("%d of %d partitions snapshotted", len(at), parts)
	}
	slices.Sort(at)
	for i := 1; i < len(at); i++ {
		if gap := at[i] - at[i-1]; gap < snapshotPace.Milliseconds() {
			t.Fatalf("snapshots %d ms apart, want at least %v", gap, snapshotPace)
		}
	}
}

// A retention pass reads the topics' settings again after each snapshot
// it spaces out: a pass over many partitions takes a while, and one that
// began before an operator raised retention.ms to keep data must not
// delete that data from the partitions it reaches afterwards, as Kafka
// reads each log's config when it checks that log.
func TestRetentionPassSeesAlteredConfig(t *testing.T) {
	const parts = 2
	var node *Node
	var armed atomic.Bool
	var alter sync.Once
	n := startWithTopic(t, "altered", parts, func(c *Config) {
		c.Retention = func(st *State, tp *Topic) (int64, int64) {
			if armed.Load() {
				// The operator's alteration, while the pass runs: the
				// partition checked now goes by the old setting.
				alter.Do(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if _, err := node.Controller().Propose(ctx, Command{Op: OpAlterConfigs, Name: "altered", Configs: map[string]*string{"retention.ms": nil}}); err != nil {
						t.Error(err)
					}
				})
			}
			ms := int64(-1)
			if v, ok := tp.Configs["retention.ms"]; ok {
				ms, _ = strconv.ParseInt(v, 10, 64)
			}
			return ms, -1
		}
	})
	node = n
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hour := "3600000"
	if _, err := n.Controller().Propose(ctx, Command{Op: OpAlterConfigs, Name: "altered", Configs: map[string]*string{"retention.ms": &hour}}); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour).UnixMilli()
	for i := range parts {
		p := n.Partition("altered", int32(i))
		b := logstore.AppendBatch(nil, logstore.BatchOptions{ProducerID: -1, FirstTimestamp: old}, []logstore.Record{{Value: []byte("v")}})
		h, err := logstore.ParseBatchHeader(b)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Append(b, h).Wait(); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, func() bool { return p.raft.AppliedIndex() >= p.raft.LastIndex() }, "the batch to be applied")
	}
	armed.Store(true)
	n.EnforceRetention(time.Now())
	kept := 0
	for i := range parts {
		if n.Partition("altered", int32(i)).LogStartOffset() == 0 {
			kept++
		}
	}
	// The first partition checked went by the old hour (and was
	// snapshotted for it); the other, checked after the alteration, keeps
	// its record.
	if kept != parts-1 {
		t.Fatalf("%d of %d partitions kept their record after retention.ms was removed mid-pass, want %d", kept, parts, parts-1)
	}
}

// Directories of partitions the metadata no longer holds (a deletion a
// crash cut short, before the directory went) are removed once the node
// is up again; a live partition's, and directories that are not a
// partition's, stay.
func TestStraysRemovedAtStart(t *testing.T) {
	dir := t.TempDir()
	n, ctx := startNodeT(t, dir)
	live := &Topic{Name: "live", ID: NewTopicID(), Replicas: [][]int32{{1}}}
	if _, err := n.Controller().Propose(ctx, Command{Op: OpCreateTopic, Topic: live}); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitTopicReady(ctx, "live"); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	plant := func(name string, id *TopicID) string {
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "00000000000000000000.log"), make([]byte, 4096), 0o644); err != nil {
			t.Fatal(err)
		}
		if id != nil {
			if err := writePartitionMeta(d, *id); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	gone := NewTopicID()
	strays := []string{plant("gone-0", &gone), plant("live-1", &live.ID)}
	kept := []string{plant("other-0", nil), plant("weird-01", &gone), plant("dash-", &gone), filepath.Join(dir, "live-0")}

	n2, _ := startNodeT(t, dir)
	if err := n2.WaitTopicReady(ctx, "live"); err != nil {
		t.Fatal(err)
	}
	for _, d := range strays {
		waitUntil(t, func() bool {
			_, err := os.Stat(d)
			return errors.Is(err, os.ErrNotExist)
		}, d+" to be removed")
	}
	for _, d := range kept {
		if _, err := os.Stat(filepath.Join(d, "00000000000000000000.log")); err != nil {
			t.Errorf("%s: %v, want it kept", d, err)
		}
	}
}

// Callers that find the block of producer ids spent together share the one
// block the first asks for, and every id is handed out once.
func TestProducerIDsOneBlockAtATime(t *testing.T) {
	n, ctx := startNodeT(t, t.TempDir())
	first, err := n.NextProducerID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	n.pidNext = n.pidEnd // spent
	n.mu.Unlock()
	const callers = 50
	ids := make(chan int64, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := n.NextProducerID(ctx)
			if err != nil {
				t.Error(err)
			}
			ids <- id
		}()
	}
	wg.Wait()
	close(ids)
	seen := map[int64]bool{}
	for id := range ids {
		if seen[id] || id <= first {
			t.Fatalf("producer id %d handed out twice or below the first block's %d", id, first)
		}
		seen[id] = true
	}
	if next := n.Controller().State().NextProducerID; next != first+2000 {
		t.Fatalf("the controller handed out ids up to %d after %d callers found the block spent, want one more block (to %d)", next, callers, first+2000)
	}
}
