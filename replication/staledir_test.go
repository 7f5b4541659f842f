package replication

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gokafka/gokafka/logstore"
)

// A power loss soon after a topic was made, written to and deleted: the
// deletion is in node.db, but neither the rename of its directory nor the
// bytes of partition.metadata reached the disk (an empty file). A topic
// made again under the name must not take the old directory's records.
func TestRecreatedTopicDoesNotAdoptStaleDir(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := nodeWithTopic(t, dir, "r", 1)
	n, err := StartNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.WaitTopicReady(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	batch := logstore.AppendBatch(nil, logstore.BatchOptions{ProducerID: -1, FirstTimestamp: time.Now().UnixMilli()}, []logstore.Record{{Value: []byte("old")}})
	h, _ := logstore.ParseBatchHeader(batch)
	if _, err := n.Partition("r", 0).Append(batch, h).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	pdir := filepath.Join(dir, "r-0")
	saved := filepath.Join(t.TempDir(), "r-0")
	if out, err := exec.Command("cp", "-a", pdir, saved).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	n, err = StartNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Controller().Propose(ctx, Command{Op: OpDeleteTopic, Name: "r"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { _, err := os.Stat(pdir); return os.IsNotExist(err) }, "the directory to go")
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	// The power loss: the directory as it was, partition.metadata empty.
	if out, err := exec.Command("cp", "-a", saved, pdir).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if err := os.Truncate(filepath.Join(pdir, "partition.metadata"), 0); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(pdir, "clean-shutdown"))

	n, ctx = startNodeT(t, dir)
	topic := &Topic{Name: "r", ID: NewTopicID(), Replicas: [][]int32{{1}}}
	if _, err := n.Controller().Propose(ctx, Command{Op: OpCreateTopic, Topic: topic}); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitTopicReady(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	if end := n.Partition("r", 0).Log().EndOffset(); end != 0 {
		t.Fatalf("the new topic's partition starts at offset %d: it holds the deleted topic's records", end)
	}
}
