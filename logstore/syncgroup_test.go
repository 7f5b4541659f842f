package logstore

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// Calls that arrive while a round runs are synced together in the next
// one, and that round's error reaches each of them.
func TestSyncGroupBatchesWaitingCalls(t *testing.T) {
	dir := t.TempDir()
	files := make([]*os.File, 4)
	for i := range files {
		f, err := os.Create(filepath.Join(dir, string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files[i] = f
	}
	g := NewSyncGroup()
	defer g.Close()
	release := make(chan struct{})
	var mu sync.Mutex
	var rounds [][]syncFile
	boom := errors.New("boom")
	g.sync = func(fs []syncFile) error {
		mu.Lock()
		rounds = append(rounds, fs)
		n := len(rounds)
		mu.Unlock()
		if n == 1 {
			<-release
			return nil
		}
		return boom
	}
	first := make(chan error, 1)
	go func() { first <- g.Sync(files[0], 10) }()
	waitFor(t, "the first round", func() bool { mu.Lock(); defer mu.Unlock(); return len(rounds) == 1 })
	errs := make(chan error, 3)
	for i := 1; i < 4; i++ {
		go func() { errs <- g.Sync(files[i], int64(i)) }()
	}
	waitFor(t, "three queued calls", func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.next != nil && len(g.next.files) == 3 })
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first round: %v", err)
	}
	for range 3 {
		if err := <-errs; !errors.Is(err, boom) {
			t.Fatalf("second round: got %v, want %v", err, boom)
		}
	}
	if len(rounds) != 2 || len(rounds[1]) != 3 {
		t.Fatalf("rounds %v, want one of 1 file then one of 3", rounds)
	}
	var sum int64
	for _, sf := range rounds[1] {
		sum += sf.bytes
	}
	if sum != 6 {
		t.Fatalf("second round carries %d bytes, want 6", sum)
	}
}

// The real sync: files on one filesystem, then a closed file's error.
func TestSyncFiles(t *testing.T) {
	dir := t.TempDir()
	var fs []syncFile
	for i := range 3 {
		f, err := os.Create(filepath.Join(dir, string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.Write([]byte("data")); err != nil {
			t.Fatal(err)
		}
		fs = append(fs, syncFile{f, 4})
	}
	if err := syncFiles(fs); err != nil {
		t.Fatal(err)
	}
	g := NewSyncGroup()
	if err := g.Sync(fs[0].f, 4); err != nil {
		t.Fatal(err)
	}
	g.Close()
	if err := g.Sync(fs[1].f, 4); err != nil { // after Close: on its own
		t.Fatal(err)
	}
	fs[2].f.Close()
	if err := syncFiles(fs); err == nil {
		t.Fatal("sync of a closed file succeeded")
	}
}
