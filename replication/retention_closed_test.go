package replication

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/testlog"
)

// A retention check that meets a partition its topic's deletion has just
// closed finds nothing to retain: it warned "retention failed: log closed"
// at deletions that raced the check, sending operators after a fault that
// is not there.
func TestRetentionOfClosedPartitionIsQuiet(t *testing.T) {
	var logs testlog.Buffer
	n := startWithTopic(t, "gone", 1, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := n.Partition("gone", 0)
	if p == nil {
		t.Fatal("no partition")
	}
	if _, err := n.Controller().Propose(ctx, Command{Op: OpDeleteTopic, Name: "gone"}); err != nil {
		t.Fatal(err)
	}
	// Partition hands out no replica of a deleted topic: wait for
	// reconcile to take it (it closes it next).
	waitUntil(t, func() bool { return !slices.Contains(n.Partitions(), p) }, "the deleted topic's partition to close")
	// The check that held the partition as its topic went.
	p.enforceRetention(time.Now(), 1, -1)
	if strings.Contains(logs.String(), "retention failed") {
		t.Fatalf("a closed partition's retention check warned:\n%s", logs.String())
	}
}
