package replication

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/logstore"
	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// A node killed while it created a topic, between raft saving a new
// partition's term 1 and storing its configuration entry (the order of
// hashicorp/raft's BootstrapCluster), starts again and the partition
// elects a leader: the interrupted bootstrap runs again. Found by killing
// gokafkad with SIGKILL during CreateTopics: every later start waited for
// the partition and gave up, the node down for good.
func TestRestartAfterInterruptedBootstrap(t *testing.T) {
	dir := t.TempDir()
	cfg, topic := nodeWithTopic(t, dir, "t", 2)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Partition 1 as the kill left it: the directory and the files the
	// log writes when it opens, no segment, no snapshot, and term 1 alone
	// in its stable store.
	pdir := filepath.Join(dir, "t-1")
	ents, err := os.ReadDir(pdir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		switch e.Name() {
		case "partition.metadata", "leader-epoch-checkpoint":
		case "snapshots":
			if err := os.RemoveAll(filepath.Join(pdir, e.Name())); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(pdir, e.Name()), 0o755); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.RemoveAll(filepath.Join(pdir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	db, err := bolt.Open(filepath.Join(dir, "node.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	group := "stable/" + partitionGroup(topic.ID, 1)
	err = db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket([]byte(group)); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := newStableStore(db, nil, nil, partitionGroup(topic.ID, 1)).SetUint64(keyCurrentTerm, 1); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	n, err := StartNode(cfg)
	if err != nil {
		t.Fatalf("restart after the interrupted bootstrap: %v", err)
	}
	defer n.Close()
	if err := n.WaitTopicReady(ctx, "t"); err != nil {
		t.Fatalf("partition with an interrupted bootstrap: %v", err)
	}
	batch := logstore.AppendBatch(nil, logstore.BatchOptions{ProducerID: -1}, []logstore.Record{{Value: []byte("v")}})
	h, err := logstore.ParseBatchHeader(batch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Partition("t", 1).Append(batch, h).Wait(); err != nil {
		t.Fatalf("append to the partition bootstrapped again: %v", err)
	}
}

// Term 1 with nothing else is the only state bootstrapGroup takes for an
// interrupted bootstrap: a vote, a later term, a log entry or a snapshot
// is a group that ran, and is left alone.
func TestInterruptedBootstrapOnly(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "node.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	snaps := raft.NewInmemSnapshotStore()
	for i, tc := range []struct {
		term, vote uint64
		entry      bool
		want       bool
	}{
		{term: 1, want: true},
		{term: 2},
		{term: 1, vote: 1},
		{term: 1, entry: true},
		{term: 0},
	} {
		stable := newStableStore(db, nil, nil, "g"+string(rune('a'+i)))
		if err := stable.SetUint64(keyCurrentTerm, tc.term); err != nil {
			t.Fatal(err)
		}
		if tc.vote > 0 {
			if err := stable.SetUint64(keyLastVoteTerm, tc.vote); err != nil {
				t.Fatal(err)
			}
		}
		logs := raft.NewInmemStore()
		if tc.entry {
			if err := logs.StoreLog(&raft.Log{Index: 1, Term: 1, Type: raft.LogNoop}); err != nil {
				t.Fatal(err)
			}
		}
		if got := interruptedBootstrap(logs, stable, snaps); got != tc.want {
			t.Errorf("term %d vote %d entry %v: interrupted %v, want %v", tc.term, tc.vote, tc.entry, got, tc.want)
		}
	}
}

// A data directory whose node.db is gone (or empty) but that holds
// partitions is refused, rather than started as a new cluster that would
// reuse the partitions' files; a second node on a directory in use is
// refused with a message that says so.
func TestStartRefusesDataWithoutMetadata(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := nodeWithTopic(t, dir, "kept", 1)
	n, err := StartNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := StartNode(cfg); err == nil || !strings.Contains(err.Error(), "another gokafkad runs on data directory") {
		t.Errorf("second node on the same directory: %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "node.db")
	for _, empty := range []bool{true, false} {
		if err := os.Truncate(db, 0); err != nil {
			t.Fatal(err)
		}
		if !empty {
			if err := os.Remove(db); err != nil {
				t.Fatal(err)
			}
		}
		n, err := StartNode(cfg)
		if err == nil {
			n.Close()
			t.Fatalf("started without node.db (empty file %v) over partition kept-0", empty)
		}
		if !strings.Contains(err.Error(), "kept-0") || !strings.Contains(err.Error(), "no cluster metadata") {
			t.Errorf("empty file %v: %v; want the partition named and the metadata missing", empty, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "kept-0", "partition.metadata")); err != nil {
		t.Fatalf("the partition was touched: %v", err)
	}
}

// A partition whose files were removed while its raft state stayed cannot
// elect a leader: it is reported lost and not waited for, so that a node
// serves the rest.
func TestLostPartitionNotWaitedFor(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := nodeWithTopic(t, dir, "s", 2)
	if err := os.RemoveAll(filepath.Join(dir, "s-1")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := StartNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.WaitTopicReady(ctx, "s"); err != nil {
		t.Fatalf("wait for a topic with a lost partition: %v", err)
	}
	if p := n.Partition("s", 0); p == nil || !p.Ready() || p.Lost() {
		t.Fatalf("partition 0 not ready")
	}
	if p := n.Partition("s", 1); p == nil || !p.Lost() || p.Ready() {
		t.Fatalf("partition 1 not reported lost")
	}
}

// stoppedNode starts a fresh node and stops it, for a test to start it again
// on what it left.
func stoppedNode(t *testing.T) (Config, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := Config{NodeID: 1, DataDir: dir, RaftListen: "127.0.0.1:0"}
	n, err := StartNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	return cfg, dir
}

// A damaged node.db is refused with an error naming it, not a panic from
// the first read of a damaged page.
func TestStartRefusesDamagedNodeDB(t *testing.T) {
	cfg, dir := stoppedNode(t)
	f, err := os.OpenFile(filepath.Join(dir, "node.db"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 2*4096)
	for i := range junk {
		junk[i] = byte(i*7919 + i>>3)
	}
	if _, err := f.WriteAt(junk, 3*4096); err != nil { // pages 3 and 4, past the two meta pages
		t.Fatal(err)
	}
	f.Close()
	n, err := StartNode(cfg)
	if err == nil {
		n.Close()
		t.Fatal("started on a damaged node.db")
	}
	if !strings.Contains(err.Error(), "node.db") || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("start on a damaged node.db: %v", err)
	}
}

// A data directory started under one node id is refused under another, at
// once and saying so, as Kafka refuses a node.id its meta.properties does
// not hold.
func TestStartRefusesAnotherNodeID(t *testing.T) {
	dir := t.TempDir()
	n, err := StartNode(Config{NodeID: 1, DataDir: dir, RaftListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n, err = StartNode(Config{NodeID: 2, DataDir: dir, RaftListen: "127.0.0.1:0"})
	if err == nil {
		n.Close()
		t.Fatal("node 2 started on node 1's data directory")
	}
	if !strings.Contains(err.Error(), "belongs to node 1") || time.Since(start) > 5*time.Second {
		t.Fatalf("node 2 on node 1's data directory: %v after %v", err, time.Since(start))
	}
	n, err = StartNode(Config{NodeID: 1, DataDir: dir, RaftListen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("node 1 again: %v", err)
	}
	n.Close()
}

// nodeWithTopic starts a node in dir, creates topic name with partitions
// single-replica partitions, waits until they lead, and stops the node. It
// returns the node's config, for the test to start it again.
func nodeWithTopic(t *testing.T, dir, name string, partitions int) (Config, *Topic) {
	t.Helper()
	cfg := Config{NodeID: 1, DataDir: dir, RaftListen: "127.0.0.1:0"}
	n, err := StartNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	topic := &Topic{Name: name, ID: NewTopicID()}
	for range partitions {
		topic.Replicas = append(topic.Replicas, []int32{1})
	}
	if _, err := n.Controller().Propose(ctx, Command{Op: OpCreateTopic, Topic: topic}); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitTopicReady(ctx, name); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	return cfg, topic
}

// startWithTopic makes a node with topic name (nodeWithTopic), starts it
// again (with mod's changes to its config) and waits until the topic's
// partitions lead; the node closes when the test ends.
func startWithTopic(t *testing.T, name string, partitions int, mod ...func(*Config)) *Node {
	t.Helper()
	cfg, _ := nodeWithTopic(t, t.TempDir(), name, partitions)
	for _, m := range mod {
		m(&cfg)
	}
	n, err := StartNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.WaitTopicReady(ctx, name); err != nil {
		t.Fatal(err)
	}
	return n
}

// A node.db that cannot be written (here immutable, which binds root too)
// is refused with a hint at permissions, not one to restore it from a
// backup, which could lead an operator to replace a healthy file.
func TestStartUnwritableNodeDB(t *testing.T) {
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("no chattr")
	}
	cfg, dir := stoppedNode(t)
	db := filepath.Join(dir, "node.db")
	if out, err := exec.Command("chattr", "+i", db).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v %s", err, out)
	}
	defer exec.Command("chattr", "-i", db).Run()
	n, err := StartNode(cfg)
	if err == nil {
		n.Close()
		t.Fatal("started on an immutable node.db")
	}
	if !strings.Contains(err.Error(), "permissions") || strings.Contains(err.Error(), "backup") {
		t.Fatalf("start on an immutable node.db: %v", err)
	}
}

// A data directory that cannot be created (here its parent is a file) is
// refused with an error naming log.dirs, not a bare mkdir error.
func TestStartUncreatableDataDir(t *testing.T) {
	cfg, _ := stoppedNode(t)
	parent := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(parent, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = filepath.Join(parent, "data")
	n, err := StartNode(cfg)
	if err == nil {
		n.Close()
		t.Fatal("started in a directory under a file")
	}
	if !strings.Contains(err.Error(), "log.dirs") || !strings.Contains(err.Error(), cfg.DataDir) {
		t.Fatalf("start in %s: %v", cfg.DataDir, err)
	}
}
