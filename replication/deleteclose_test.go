package replication

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"
)

// A DeleteRecords still in raft's apply queue when its partition closes
// (its topic deleted) returns: hashicorp/raft drops such futures
// unanswered, and the request waited until the client hung up. Here raft's
// leader loop is held in a store (a segment roll waiting for the deferred
// sync before it) while the DeleteRecords queues behind it.
func TestDeleteRecordsQueuedAtCloseReturns(t *testing.T) {
	h := holdLeaderLoop(t, "d")
	p := h.p
	deleted := make(chan error, 1)
	go func() {
		_, err := p.DeleteRecords(context.Background(), 0)
		deleted <- err
	}()
	time.Sleep(100 * time.Millisecond)
	h.deleteTopic(t, "d")
	waitUntil(t, func() bool { _, err := os.Stat(p.dir); return errors.Is(err, os.ErrNotExist) }, "the partition's removal")
	select {
	case err := <-deleted:
		if err == nil {
			t.Fatal("DeleteRecords on a partition deleted before it was stored succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("DeleteRecords still waiting 10 s after its partition closed")
	}
}
