package replication

import (
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/gokafka/logstore"
	"github.com/hashicorp/raft"
	"github.com/twmb/franz-go/pkg/kerr"
)

// leaderLoopHeld is a partition of topic (one, on a node of its own) whose
// raft leader loop is held in a store: a first batch's deferred sync is
// held, and a second batch rolls the segment, so the store waits for that
// sync. open lets the syncs go; it is also called when the test ends.
type leaderLoopHeld struct {
	n             *Node
	p             *Partition
	first, second AppendResult
	open          func()
}

func holdLeaderLoop(t *testing.T, topic string) *leaderLoopHeld {
	gate := make(chan struct{})
	var holding atomic.Bool
	syncing := make(chan struct{}, 1)
	n := startWithTopic(t, topic, 1, func(c *Config) {
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
	var once sync.Once
	h := &leaderLoopHeld{n: n, p: n.Partition(topic, 0), open: func() { once.Do(func() { close(gate) }) }}
	t.Cleanup(h.open)
	holding.Store(true)
	h.first = h.p.Append(smallBatch())
	select {
	case <-syncing:
	case <-time.After(10 * time.Second):
		t.Fatal("the first batch's sync never began")
	}
	h.second = h.p.Append(smallBatch())
	time.Sleep(100 * time.Millisecond)
	return h
}

// deleteTopic deletes the held partition's topic, waits for its raft to
// shut down, and lets the held syncs go.
func (h *leaderLoopHeld) deleteTopic(t *testing.T, topic string) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := h.n.Controller().Propose(ctx, Command{Op: OpDeleteTopic, Name: topic}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return h.p.raft.State() == raft.Shutdown }, "the partition's raft to shut down")
	h.open()
}

// smallBatch is one record of 60 bytes, with its header.
func smallBatch() ([]byte, logstore.BatchHeader) {
	b := logstore.AppendBatch(nil, logstore.BatchOptions{ProducerID: -1, BaseSequence: -1, FirstTimestamp: time.Now().UnixMilli()},
		[]logstore.Record{{Value: make([]byte, 60)}})
	h, _ := logstore.ParseBatchHeader(b)
	return b, h
}

// Appends still in raft's apply queue when the partition closes (its topic
// deleted) are answered: hashicorp/raft drops such futures unanswered, and
// their produce requests waited until the client hung up, holding back
// every later response on its connection. Here raft's leader loop is held
// in a store (a segment roll waiting for the deferred sync before it) while
// more batches queue behind it, and the topic is deleted.
func TestAppendsQueuedAtCloseAreAnswered(t *testing.T) {
	h := holdLeaderLoop(t, "q")
	var queued []AppendResult
	for range 5 {
		queued = append(queued, h.p.Append(smallBatch()))
	}
	h.deleteTopic(t, "q")

	for i, r := range append([]AppendResult{h.first, h.second}, queued...) {
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
