package replication

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDeleteRecordsSurvivesDamagedStartCheckpoint: the log start offset a
// DeleteRecords set is kept by the partition's snapshot too, so a start
// that finds the log's log-start-offset checkpoint damaged (or gone) does
// not serve the deleted records again: Kafka takes the log directory
// offline rather than start a log below its checkpointed start. Before,
// the log started at its first segment's base and the records came back.
func TestDeleteRecordsSurvivesDamagedStartCheckpoint(t *testing.T) {
	for _, damage := range []string{"garbled", "removed"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			n, cfg := startSmallSegments(t, dir, 1)
			p := n.Partition("t", 0)
			for range 10 {
				appendValue(t, p)
			}
			waitUntil(t, func() bool { return p.HighWatermark() == 10 }, "high watermark at 10")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			// Inside a segment: no segment goes, only the checkpoint says it.
			if low, err := p.DeleteRecords(ctx, 7); err != nil || low != 7 {
				t.Fatalf("DeleteRecords: %d, %v", low, err)
			}
			if err := n.Close(); err != nil { // snapshots the DeleteRecords entry
				t.Fatal(err)
			}
			ckpt := filepath.Join(dir, "t-0", "log-start-offset")
			if damage == "removed" {
				if err := os.Remove(ckpt); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(ckpt, []byte("0\n1\n7x\n"), 0o644); err != nil {
				t.Fatal(err)
			}

			n, err := StartNode(cfg)
			if err != nil {
				t.Fatalf("restart: %v", err)
			}
			defer n.Close()
			if err := n.WaitTopicReady(ctx, "t"); err != nil {
				t.Fatal(err)
			}
			if got := n.Partition("t", 0).log.StartOffset(); got != 7 {
				t.Errorf("log start offset after the restart: %d, want 7", got)
			}
		})
	}
}
