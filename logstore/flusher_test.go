package logstore

import (
	"os"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// In interval mode the background fsync does not hold up appends: a
// StoreLogs made while the flusher's sync is stuck returns at once. A write
// made during that sync is not counted as synced by it.
func TestFlusherDoesNotBlockAppends(t *testing.T) {
	l := openT(t, t.TempDir(), Config{FsyncInterval: 5 * time.Millisecond})
	defer l.Close()
	// Each file sync waits for a token; closing release lets all through.
	entered, release := make(chan struct{}, 100), make(chan struct{})
	closed := false
	open := func() {
		if !closed {
			closed = true
			close(release)
		}
	}
	defer open()
	l.wmu.Lock()
	l.fileSync = func(f *os.File) error {
		entered <- struct{}{}
		<-release
		return f.Sync()
	}
	l.wmu.Unlock()
	var nfiles int

	g := &entryGen{t: t, term: 1}
	mustStore(t, l, g.batch(10, 100, 1))
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the flusher never synced the written segment")
	}
	done := make(chan error, 1)
	go func() { done <- l.StoreLogs([]*raft.Log{g.batch(10, 100, 2)}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("StoreLogs: %v", err)
		}
	case <-time.After(2 * time.Second):
		open()
		t.Fatal("StoreLogs waited for the background fsync")
	}

	l.wmu.Lock()
	nfiles = len(l.segs[len(l.segs)-1].files())
	l.wmu.Unlock()
	// Let the first flush's file syncs through, one token each.
	for i := range nfiles {
		release <- struct{}{}
		if i < nfiles-1 {
			<-entered
		}
	}
	synced := func() (uint64, uint64) {
		l.wmu.Lock()
		defer l.wmu.Unlock()
		s := l.segs[len(l.segs)-1]
		return s.synced, s.writes
	}
	waitFor(t, "the first flush to finish", func() bool { s, _ := synced(); return s > 0 })
	if s, w := synced(); s != 1 || w != 2 {
		t.Fatalf("after the flush begun with 1 write: %d of %d writes counted synced, want 1 of 2", s, w)
	}
	open()
	if err := l.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if s, w := synced(); s != w {
		t.Fatalf("after Sync, %d of %d writes synced", s, w)
	}
}
