package replication

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/gokafka/logstore"
	"github.com/hashicorp/raft"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Appends still in raft's apply queue when the partition closes (its topic
// deleted) are answered: hashicorp/raft drops such futures unanswered, and
// their produce requests waited until the client hung up, holding back
// every later response on its connection. Here raft's leader loop is held
// in a store (a segment roll waiting for the deferred sync before it) while
// more batches queue behind it, and the topic is deleted.
func TestAppendsQueuedAtCloseAreAnswered(t *testing.T) {
	gate := make(chan struct{})
	var holding atomic.Bool
	syncing := make(chan struct{}, 1)
	n := startWithTopic(t, "q", 1, func(c *Config) {
		c.LogConfig = func(*State, *Topic) logstore.Config {
			return logstore.Config{SegmentBytes: 200, SyncFile: func(f *os.File) error {
				if holding.Load() {
					select {
					case syncing <- struct{}{}:
					default:
					}
					<-gate
				}
				return f.Sync()
			}}
		}
	})
	p := n.Partition("q", 0)
	batch := func() ([]byte, logstore.BatchHeader) {
		b := logstore.AppendBatch(nil, logstore.BatchOptions{ProducerID: -1, BaseSequence: -1, FirstTimestamp: time.Now().UnixMilli()},
			[]logstore.Record{{Value: make([]byte, 60)}})
		h, _ := logstore.ParseBatchHeader(b)
		return b, h
	}
	opened := false
	open := func() {
		if !opened {
			opened = true
			close(gate)
		}
	}
	defer open()

	// The first batch's deferred sync is held; the second rolls the
	// segment, so raft's leader loop waits in its store for that sync.
	holding.Store(true)
	first := p.Append(batch())
	select {
	case <-syncing:
	case <-time.After(10 * time.Second):
		t.Fatal("the first batch's sync never began")
	}
	second := p.Append(batch())
	time.Sleep(100 * time.Millisecond)
	var queued []AppendResult
	for range 5 {
		queued = append(queued, p.Append(batch()))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := n.Controller().Propose(ctx, Command{Op: OpDeleteTopic, Name: "q"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return p.raft.State() == raft.Shutdown }, "the partition's raft to shut down")
	open()

	for i, r := range append([]AppendResult{first, second}, queued...) {
		select {
		case <-r.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("append %d of 7 still unanswered 10 s after its partition closed", i+1)
		}
		if _, err := r.Wait(); i >= 2 && err != nil && !errors.Is(err, kerr.NotLeaderForPartition) {
			t.Fatalf("append %d: %v, want NOT_LEADER_OR_FOLLOWER", i+1, err)
		}
	}
}

// A produce request that found the partition just before its topic was
// deleted appends after the partition closed: it is refused, not put in a
// queue raft no longer reads.
func TestAppendAfterCloseIsRefused(t *testing.T) {
	n := startWithTopic(t, "q", 1)
	p := n.Partition("q", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := n.Controller().Propose(ctx, Command{Op: OpDeleteTopic, Name: "q"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { _, err := os.Stat(p.dir); return errors.Is(err, os.ErrNotExist) }, "the partition's removal")
	if p.Ready() {
		t.Fatal("the closed partition still takes appends")
	}
	for i := range 20 {
		b := logstore.AppendBatch(nil, logstore.BatchOptions{ProducerID: -1, BaseSequence: -1, FirstTimestamp: time.Now().UnixMilli()},
			[]logstore.Record{{Value: []byte("v")}})
		h, _ := logstore.ParseBatchHeader(b)
		r := p.Append(b, h)
		select {
		case <-r.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("append %d after the close still unanswered after 10 s", i+1)
		}
		if _, err := r.Wait(); !errors.Is(err, kerr.NotLeaderForPartition) {
			t.Fatalf("append after the close: %v, want NOT_LEADER_OR_FOLLOWER", err)
		}
	}
}
