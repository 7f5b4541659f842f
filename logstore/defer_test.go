package logstore

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// storedLog records what OnStored and OnStoreFailed were told, and the
// durable end at the time.
type storedLog struct {
	mu      sync.Mutex
	l       *Log
	indexes []uint64
	failed  []uint64
	err     error
	bad     string // first violation seen inside the hook
}

func (s *storedLog) onStored(logs []*raft.Log) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range logs {
		s.indexes = append(s.indexes, e.Index)
		if IsBatch(e) && s.bad == "" {
			h := parseHeader(e.Data)
			if end := h.BaseOffset + int64(h.LastOffsetDelta) + 1; s.l.DurableEnd() < end {
				s.bad = "an entry was reported stored before it was durable"
			}
		}
	}
}

func (s *storedLog) onFailed(logs []*raft.Log, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range logs {
		s.failed = append(s.failed, e.Index)
	}
	s.err = err
}

func (s *storedLog) seen() ([]uint64, []uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint64(nil), s.indexes...), append([]uint64(nil), s.failed...)
}

func openDeferred(t *testing.T, dir string, cfg Config) (*Log, *storedLog) {
	t.Helper()
	s := &storedLog{}
	cfg.DeferSync = true
	cfg.OnStored = s.onStored
	cfg.OnStoreFailed = s.onFailed
	l := openT(t, dir, cfg)
	s.mu.Lock()
	s.l = l
	s.mu.Unlock()
	if !l.deferring() {
		t.Fatal("DeferSync did not start the sync goroutine")
	}
	return l, s
}

// setSync replaces the deferred fsync (under the queue's lock, so the sync
// goroutine sees it).
func setSync(l *Log, fn func(*os.File) error) {
	l.sq.mu.Lock()
	l.sq.sync = func(f *os.File, _ int64, _ int) error { return fn(f) }
	l.sq.mu.Unlock()
}

// gate holds deferred fsyncs until released.
type gate struct {
	entered chan struct{}
	release chan struct{}
}

func newGate(l *Log) *gate {
	g := &gate{entered: make(chan struct{}, 100), release: make(chan struct{})}
	setSync(l, func(f *os.File) error {
		g.entered <- struct{}{}
		<-g.release
		return datasync(f)
	})
	return g
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// StoreLogs returns before the fsync; OnStored comes after it, in log order,
// for every entry once; the durable end trails the log end until then.
func TestDeferSyncAcknowledgesAfterFsync(t *testing.T) {
	l, s := openDeferred(t, t.TempDir(), Config{})
	defer l.Close()
	g := &entryGen{t: t, term: 1}
	// A metadata entry, and the first batch of a leader epoch, are stored
	// and reported at once.
	mustStore(t, l, g.noop(), g.batch(1, 10, 999))
	if got, _ := s.seen(); len(got) != 2 || l.DurableEnd() != 1 {
		t.Fatalf("after a synchronous store OnStored saw %v, durable end %d", got, l.DurableEnd())
	}

	gt := newGate(l)
	mustStore(t, l, g.batch(3, 10, 1000)) // returns with its fsync held
	select {
	case <-gt.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("a plain append was not deferred")
	}
	if got, _ := s.seen(); len(got) != 2 {
		t.Fatalf("OnStored ran before the fsync: %v", got)
	}
	if l.DurableEnd() != 1 || l.EndOffset() != 4 {
		t.Fatalf("durable end %d, end %d; want 1 and 4", l.DurableEnd(), l.EndOffset())
	}
	mustStore(t, l, g.batch(2, 10, 1001)) // written while the first syncs
	mustStore(t, l, g.batch(1, 10, 1002))
	close(gt.release)
	waitFor(t, "OnStored", func() bool { got, _ := s.seen(); return len(got) == 5 })
	if l.DurableEnd() != 7 {
		t.Fatalf("durable end %d after the syncs, want 7", l.DurableEnd())
	}
	got, failed := s.seen()
	for i, idx := range got {
		if idx != uint64(i+1) {
			t.Fatalf("OnStored order %v", got)
		}
	}
	if len(failed) != 0 || s.bad != "" {
		t.Fatalf("failed %v, violation %q", failed, s.bad)
	}
}

// Whatever is not a plain append (segment rolls, metadata entries, a new
// leader epoch, truncation, Sync) waits for the deferred fsyncs, so OnStored
// still sees the whole log in order, and every entry reads back after a
// restart.
func TestDeferSyncMixedOrder(t *testing.T) {
	dir := t.TempDir()
	l, s := openDeferred(t, dir, Config{SegmentBytes: 4096})
	g := &entryGen{t: t, term: 1}
	var all []*raft.Log
	for i := range 300 {
		var es []*raft.Log
		switch {
		case i%37 == 0:
			es = append(es, g.config(), g.batch(2, 50, int64(i)))
		case i%29 == 0:
			g.term++ // a new leader epoch
			es = append(es, g.noop())
		case i%23 == 0:
			es = append(es, g.ext())
		default:
			for range 1 + i%3 {
				es = append(es, g.batch(1+i%5, 40+i%200, int64(i)))
			}
		}
		mustStore(t, l, es...)
		for _, e := range es {
			all = append(all, cloneEntry(e)) // as stored: offsets patched in
		}
		if l.DurableEnd() > l.EndOffset() {
			t.Fatalf("durable end %d past the end %d", l.DurableEnd(), l.EndOffset())
		}
		if i == 150 {
			// Truncate the tail (raft's conflict handling) with syncs queued.
			last := g.next
			if err := l.DeleteRange(last-1, last); err != nil {
				t.Fatal(err)
			}
			s.mu.Lock()
			s.indexes = s.indexes[:0] // reported before; re-check from here
			s.mu.Unlock()
			all = all[:len(all)-2]
			g.next = last - 2
		}
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	if l.DurableEnd() != l.EndOffset() {
		t.Fatalf("after Sync durable end %d, end %d", l.DurableEnd(), l.EndOffset())
	}
	got, _ := s.seen()
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("OnStored out of order at %d: %v", i, got[max(0, i-3):min(len(got), i+3)])
		}
	}
	if len(got) == 0 || got[len(got)-1] != g.next || s.bad != "" {
		t.Fatalf("OnStored ended at %v (want %d); violation %q", got[len(got)-1:], g.next, s.bad)
	}
	if len(l.segs) < 3 {
		t.Fatalf("%d segments: the test should roll", len(l.segs))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openT(t, dir, Config{SegmentBytes: 4096})
	defer l.Close()
	checkEntries(t, l, all)
}

// A failed deferred fsync is reported for its entries, never as stored,
// and the log takes no more writes; Close leaves no clean-shutdown marker,
// so the next start checks the tail.
func TestDeferSyncFailure(t *testing.T) {
	dir := t.TempDir()
	l, s := openDeferred(t, dir, Config{})
	g := &entryGen{t: t, term: 1}
	mustStore(t, l, g.batch(2, 10, 1))
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	setSync(l, func(*os.File) error { return &os.PathError{Op: "fdatasync", Path: "x", Err: syscall.EIO} })
	mustStore(t, l, g.batch(3, 10, 2), g.batch(1, 10, 3))
	waitFor(t, "OnStoreFailed", func() bool { _, f := s.seen(); return len(f) == 2 })
	got, failed := s.seen()
	if len(got) != 1 || failed[0] != 2 || failed[1] != 3 || !errors.Is(s.err, syscall.EIO) {
		t.Fatalf("stored %v, failed %v (%v)", got, failed, s.err)
	}
	if l.DurableEnd() != 2 {
		t.Fatalf("durable end %d, want 2", l.DurableEnd())
	}
	if err := l.StoreLogs([]*raft.Log{g.batch(1, 10, 4)}); !errors.Is(err, syscall.EIO) {
		t.Fatalf("StoreLogs after a failed sync: %v, want EIO", err)
	}
	if err := l.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync after a failed sync: %v, want EIO", err)
	}
	l.Close()
	if _, err := os.Stat(filepath.Join(dir, cleanShutdownFile)); !os.IsNotExist(err) {
		t.Fatalf("clean-shutdown marker after a failed sync: %v", err)
	}
}

// Close waits for the fsyncs under way and reports them before it returns.
func TestDeferSyncClose(t *testing.T) {
	dir := t.TempDir()
	l, s := openDeferred(t, dir, Config{})
	g := &entryGen{t: t, term: 1}
	mustStore(t, l, g.batch(1, 10, 1)) // opens the leader epoch: synchronous
	gt := newGate(l)
	mustStore(t, l, g.batch(2, 10, 2))
	mustStore(t, l, g.batch(2, 10, 3))
	<-gt.entered
	closed := make(chan error)
	go func() { closed <- l.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) with a sync under way", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(gt.release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if got, _ := s.seen(); len(got) != 3 {
		t.Fatalf("OnStored saw %v by Close", got)
	}
	l = openT(t, dir, Config{})
	defer l.Close()
	if l.EndOffset() != 5 {
		t.Fatalf("end %d after reopening, want 5", l.EndOffset())
	}
}

// A leader epoch starts when its leader's no-op is stored, as Kafka assigns
// it at election: the checkpoint is written then, so the epoch's first batch
// takes the deferred path like any other. An epoch that gets no data gives
// way to the next one starting at the same offset, and outlives a restart
// without the checkpoint being rewritten. When the checkpoint cannot be
// written at the election (a full disk), the no-op is stored all the same
// and the epoch's first batch writes it.
func TestEpochStartsAtElection(t *testing.T) {
	dir := t.TempDir()
	l, _ := openDeferred(t, dir, Config{})
	g := &entryGen{t: t, term: 1}
	mustStore(t, l, g.config()) // a bootstrap configuration starts no epoch
	if eps, err := readEpochs(dir); err == nil && len(eps) > 0 {
		t.Fatalf("epochs after the configuration entry: %v", eps)
	}
	g.term = 2
	mustStore(t, l, g.noop())
	g.term = 3 // an election with no produce in epoch 2
	mustStore(t, l, g.noop())
	want := []epochEntry{{epoch: 3, start: 0}}
	if eps, err := readEpochs(dir); err != nil || !slices.Equal(eps, want) {
		t.Fatalf("checkpoint after two elections: %v (%v), want %v", eps, err, want)
	}
	if ep, end := l.EpochEndOffset(3); ep != 3 || end != 0 {
		t.Fatalf("EpochEndOffset(3) = %d %d, want 3 0", ep, end)
	}
	deferred, err := l.storeLogs([]*raft.Log{g.batch(4, 10, 1)})
	if err != nil || !deferred {
		t.Fatalf("first batch of the epoch: deferred %v, err %v; want deferred", deferred, err)
	}
	g.term = 4
	mustStore(t, l, g.noop())
	want = []epochEntry{{epoch: 3, start: 0}, {epoch: 4, start: 4}}
	if eps, err := readEpochs(dir); err != nil || !slices.Equal(eps, want) {
		t.Fatalf("checkpoint after the third election: %v (%v), want %v", eps, err, want)
	}
	if ep, end := l.EpochEndOffset(3); ep != 3 || end != 4 {
		t.Fatalf("EpochEndOffset(3) = %d %d, want 3 4", ep, end)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// Restarts, clean or not, keep the epoch without data and leave the
	// checkpoint alone.
	ckpt := filepath.Join(dir, leaderEpochFile)
	before, err := os.Stat(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	for _, unclean := range []bool{false, true} {
		if unclean {
			os.Remove(filepath.Join(dir, cleanShutdownFile))
		}
		l = openT(t, dir, Config{})
		if ep, end := l.EpochEndOffset(9); ep != 4 || end != 4 {
			t.Fatalf("restarted (unclean %v): EpochEndOffset(9) = %d %d, want 4 4", unclean, ep, end)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if after, err := os.Stat(ckpt); err != nil || !os.SameFile(before, after) {
		t.Fatalf("the checkpoint was rewritten by the restarts (%v)", err)
	}

	// The checkpoint's temporary file cannot be created while a directory
	// holds its name: the election's no-op is stored without the epoch,
	// and the first batch fails until the checkpoint can be written.
	l, _ = openDeferred(t, dir, Config{})
	defer l.Close()
	g.next, _ = l.LastIndex()
	block := filepath.Join(dir, leaderEpochFile+checkpointTmpSuffix)
	if err := os.Mkdir(block, 0o755); err != nil {
		t.Fatal(err)
	}
	g.term = 5
	mustStore(t, l, g.noop())
	if ep, _ := l.EpochEndOffset(9); ep != 4 {
		t.Fatalf("epoch %d recorded with its checkpoint unwritable", ep)
	}
	first := g.batch(2, 10, 2)
	if err := l.StoreLogs([]*raft.Log{first}); err == nil {
		t.Fatal("the epoch's first batch was stored with the checkpoint unwritable")
	}
	if err := os.Remove(block); err != nil {
		t.Fatal(err)
	}
	mustStore(t, l, first)
	want = []epochEntry{{epoch: 3, start: 0}, {epoch: 5, start: 4}}
	if eps, err := readEpochs(dir); err != nil || !slices.Equal(eps, want) {
		t.Fatalf("checkpoint after the first batch of epoch 5: %v (%v), want %v", eps, err, want)
	}
}
