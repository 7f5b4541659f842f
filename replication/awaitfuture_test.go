package replication

import (
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/goleak"
)

// blockingStore is an in-memory raft log whose StoreLogs waits while held.
type blockingStore struct {
	*raft.InmemStore
	mu      sync.Mutex
	held    chan struct{} // non-nil: StoreLogs waits for it to close
	entered chan struct{} // told once StoreLogs waits
}

func (s *blockingStore) hold() {
	s.mu.Lock()
	s.held, s.entered = make(chan struct{}), make(chan struct{}, 1)
	s.mu.Unlock()
}

func (s *blockingStore) StoreLogs(logs []*raft.Log) error {
	s.mu.Lock()
	held, entered := s.held, s.entered
	s.mu.Unlock()
	if held != nil {
		entered <- struct{}{}
		<-held
	}
	return s.InmemStore.StoreLogs(logs)
}

// A barrier that raft queues and then never answers, because it shut down
// first (hashicorp/raft#498), ends the wait of awaitFuture when the
// partition stops, and leaves no goroutine behind waiting for it: the
// future's own wait watches the partition's stop channel. So does an
// append's, bound as Append binds it to raft's shutdown.
func TestAwaitFutureLeavesNothingWaiting(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	conf := raft.DefaultConfig()
	conf.LocalID = "1"
	conf.BatchApplyCh = true // as the node's groups: a queue raft drops at shutdown
	conf.HeartbeatTimeout, conf.ElectionTimeout = 50*time.Millisecond, 50*time.Millisecond
	conf.LeaderLeaseTimeout = 50 * time.Millisecond
	conf.LogOutput = io.Discard
	logs := &blockingStore{InmemStore: raft.NewInmemStore()}
	stable, snaps := raft.NewInmemStore(), raft.NewInmemSnapshotStore()
	addr, trans := raft.NewInmemTransport("1")
	defer trans.Close()
	boot := raft.Configuration{Servers: []raft.Server{{ID: "1", Address: addr}}}
	if err := raft.BootstrapCluster(conf, logs, stable, snaps, trans, boot); err != nil {
		t.Fatal(err)
	}
	r, err := raft.NewRaft(conf, nopFSM{}, logs, stable, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.LeaderCh():
	case <-time.After(10 * time.Second):
		t.Fatal("no leader")
	}
	if err := r.Barrier(time.Second).Error(); err != nil {
		t.Fatal(err)
	}

	// The leader loop waits in StoreLogs; a barrier queues behind it.
	logs.hold()
	r.Apply([]byte("x"), 0)
	<-logs.entered
	barrier := r.Barrier(0)
	applied := r.ApplyLog(raft.Log{Data: []byte("y")}, 0)
	p := &Partition{stop: make(chan struct{}), raftDown: make(chan struct{})}
	if !stopsWith(applied, p.raftDown) {
		t.Fatalf("an apply's future (%T) takes no shutdown channel", applied)
	}
	got, appendErr := make(chan error, 1), make(chan error, 1)
	go func() { got <- p.awaitFuture(barrier) }()
	go func() { appendErr <- applied.Error() }()
	shutdown := make(chan raft.Future, 1)
	go func() { shutdown <- r.Shutdown() }()
	time.Sleep(50 * time.Millisecond) // Shutdown waits for the leader loop
	close(p.stop)
	select {
	case err := <-got:
		if !errors.Is(err, raft.ErrRaftShutdown) {
			t.Fatalf("awaitFuture = %v, want %v", err, raft.ErrRaftShutdown)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("awaitFuture still waits after the partition stopped")
	}
	close(logs.held)
	if err := (<-shutdown).Error(); err != nil {
		t.Fatal(err)
	}
	close(p.raftDown)
	select {
	case err := <-appendErr:
		if !errors.Is(err, raft.ErrRaftShutdown) {
			t.Fatalf("the queued apply's Error = %v, want %v", err, raft.ErrRaftShutdown)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the queued apply's Error still waits after raft shut down")
	}
	// Both were left in raft's queue, never answered: the deferred leak
	// check finds any goroutine still waiting on one.
}

type nopFSM struct{}

func (nopFSM) Apply(*raft.Log) any                 { return nil }
func (nopFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, errors.New("no snapshots") }
func (nopFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }
