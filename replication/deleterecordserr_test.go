package replication

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// A DeleteRecords whose new start offset cannot be written (a disk error)
// is answered KAFKA_STORAGE_ERROR, as Kafka's ReplicaManager answers a
// KafkaStorageException, not OFFSET_OUT_OF_RANGE: that told the client its
// offset was past the high watermark, and clients do not retry it. Here
// the checkpoint's temporary file cannot be made (a directory is in its
// way); once it can, the retry succeeds.
func TestDeleteRecordsStorageError(t *testing.T) {
	n := startWithTopic(t, "d", 1)
	p := n.Partition("d", 0)
	for range 3 {
		appendValue(t, p)
	}
	blocker := filepath.Join(p.dir, "log-start-offset.tmp")
	if err := os.Mkdir(blocker, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DeleteRecords(context.Background(), 1); !errors.Is(err, kerr.KafkaStorageError) {
		t.Fatalf("DeleteRecords with its checkpoint unwritable: %v, want KAFKA_STORAGE_ERROR", err)
	}
	if err := os.Remove(blocker); err != nil {
		t.Fatal(err)
	}
	if lw, err := p.DeleteRecords(context.Background(), 1); err != nil || lw != 1 {
		t.Fatalf("DeleteRecords retried: low watermark %d, %v; want 1", lw, err)
	}
}
