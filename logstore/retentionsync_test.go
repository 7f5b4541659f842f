package logstore

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Retention deletes segments on the authority of a raft snapshot; with
// deferred syncs that snapshot may cover entries not yet on disk. The
// deletion must wait for them: else a power loss drops the snapshot (past
// the recovered log) while the segments it covered are gone, and raft has
// no snapshot to replay the log from.
func TestRetentionWaitsForDeferredSyncs(t *testing.T) {
	dir := t.TempDir()
	l, _ := openDeferred(t, dir, Config{SegmentBytes: 700})
	defer l.Close()
	g := &entryGen{t: t, term: 1}
	for len(l.segs) < 3 {
		mustStore(t, l, g.batch(2, 60, 1))
	}
	gt := newGate(l)
	mustStore(t, l, g.batch(2, 60, 1)) // deferred, waits on the gate
	<-gt.entered
	last, _ := l.LastIndex()
	time.AfterFunc(300*time.Millisecond, func() { close(gt.release) })
	n, err := l.ApplyRetention(time.Now(), -1, 1, last) // a snapshot at the last entry
	durable, end := l.DurableEnd(), l.EndOffset()
	if err != nil || n == 0 {
		t.Fatalf("retention: %d segments, %v", n, err)
	}
	if durable < end {
		t.Fatalf("retention deleted %d segments while the log was durable to %d of %d", n, durable, end)
	}
}

// A crash while retention removes segments never moves the log start
// back: the new start is on disk before clients see it. (It was published
// first and written by no one: the copy below, taken while the first
// segment's files were still being closed, came back starting at 0.)
func TestRetentionStartOffsetDurableFirst(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 700}
	l := openT(t, dir, cfg)
	defer l.Close()
	g := &entryGen{t: t, term: 1}
	for len(l.segs) < 4 {
		mustStore(t, l, g.batch(2, 60, 1))
	}
	last, _ := l.LastIndex()
	s0 := l.segs[0]
	s0.auxMu.Lock() // removing the segment closes its files: it waits here
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := l.ApplyRetention(time.Now(), -1, 1, last); err != nil {
			t.Error(err)
		}
	}()
	for l.StartOffset() == 0 {
		time.Sleep(time.Millisecond)
	}
	seen := l.StartOffset()
	crashed := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(crashed, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s0.auxMu.Unlock()
	<-done
	l2 := openT(t, crashed, cfg)
	defer l2.Close()
	if got := l2.StartOffset(); got < seen {
		t.Fatalf("log start %d after the crash, clients saw %d before it", got, seen)
	}
}
