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
)

// A DeleteRecords still in raft's apply queue when its partition closes
// (its topic deleted) returns: hashicorp/raft drops such futures
// unanswered, and the request waited until the client hung up. Here raft's
// leader loop is held in a store (a segment roll waiting for the deferred
// sync before it) while the DeleteRecords queues behind it.
func TestDeleteRecordsQueuedAtCloseReturns(t *testing.T) {
	gate := make(chan struct{})
	var holding atomic.Bool
	syncing := make(chan struct{}, 1)
	n := startWithTopic(t, "d", 1, func(c *Config) {
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
	p := n.Partition("d", 0)
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

	holding.Store(true)
	p.Append(batch())
	select {
	case <-syncing:
	case <-time.After(10 * time.Second):
		t.Fatal("the first batch's sync never began")
	}
	p.Append(batch()) // rolls: raft's leader loop waits for the held sync
	time.Sleep(100 * time.Millisecond)
	deleted := make(chan error, 1)
	go func() {
		_, err := p.DeleteRecords(context.Background(), 0)
		deleted <- err
	}()
	time.Sleep(100 * time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := n.Controller().Propose(ctx, Command{Op: OpDeleteTopic, Name: "d"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return p.raft.State() == raft.Shutdown }, "the partition's raft to shut down")
	open()
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
