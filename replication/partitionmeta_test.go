package replication

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gokafka/gokafka/logstore"
)

// Topic ids are written as Kafka writes them; a partition directory whose
// partition.metadata names its topic in the hex an older gokafkad wrote is
// still that topic's: its records survive a restart, and its file is left
// as it is.
func TestPartitionMetaLegacyHex(t *testing.T) {
	dir := t.TempDir()
	cfg, topic := nodeWithTopic(t, dir, "m", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	meta := filepath.Join(dir, "m-0", "partition.metadata")
	b, err := os.ReadFile(meta)
	if err != nil {
		t.Fatal(err)
	}
	if want := "version: 0\ntopic_id: " + topic.ID.String() + "\n"; string(b) != want {
		t.Fatalf("partition.metadata = %q, want %q", b, want)
	}
	if s := topic.ID.String(); len(s) != 22 {
		t.Fatalf("topic id %q: want Kafka's 22 characters of base64", s)
	}

	n, err := StartNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.WaitTopicReady(ctx, "m"); err != nil {
		t.Fatal(err)
	}
	batch := logstore.AppendBatch(nil, logstore.BatchOptions{ProducerID: -1}, []logstore.Record{{Value: []byte("kept")}})
	h, err := logstore.ParseBatchHeader(batch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Partition("m", 0).Append(batch, h).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	legacy := "version: 0\ntopic_id: " + hex.EncodeToString(topic.ID[:]) + "\n"
	if err := os.WriteFile(meta, []byte(legacy), 0o644); err != nil {
		t.Fatal(err)
	}
	n = startReady(t, cfg, "m")
	defer n.Close()
	if hw := n.Partition("m", 0).HighWatermark(); hw != 1 {
		t.Fatalf("high watermark after a restart over hex partition.metadata = %d, want 1", hw)
	}
	if b, err := os.ReadFile(meta); err != nil || string(b) != legacy {
		t.Fatalf("partition.metadata = %q (%v), want it left as %q", b, err, legacy)
	}
}
