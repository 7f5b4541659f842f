package logstore

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
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

// A round waits for the batches announced before it began, so the
// partitions of one request share a sync; one that never comes delays a
// single round by at most gatherMax and is then forgotten.
func TestSyncGroupGathersAnnouncedBatches(t *testing.T) {
	dir := t.TempDir()
	files := make([]*os.File, 3)
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
	var mu sync.Mutex
	var rounds []int
	g.sync = func(fs []syncFile) error {
		mu.Lock()
		rounds = append(rounds, len(fs))
		mu.Unlock()
		return nil
	}
	roundSizes := func() []int { mu.Lock(); defer mu.Unlock(); return slices.Clone(rounds) }

	// Three announced; the first arrives alone and its round waits for the
	// other two, which come well within gatherMax.
	g.gatherMax = time.Minute
	for range 3 {
		g.Expect()
	}
	errs := make(chan error, 3)
	go func() { errs <- g.syncEntries(files[0], 1, 1) }()
	waitFor(t, "the first call to queue", func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.next != nil })
	time.Sleep(20 * time.Millisecond)
	if r := roundSizes(); len(r) != 0 {
		t.Fatalf("a round of %v ran before the announced batches arrived", r)
	}
	go func() { errs <- g.syncEntries(files[1], 1, 1) }()
	go func() { errs <- g.syncEntries(files[2], 1, 1) }()
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if r := roundSizes(); !slices.Equal(r, []int{3}) {
		t.Fatalf("rounds of %v files, want one of 3", r)
	}

	// Two announced, one never arrives: the round runs after gatherMax,
	// and the next one does not wait for it (nor for the late arrival of
	// an unannounced batch, which must not count for a missing one).
	g.gatherMax = 50 * time.Millisecond
	g.Expect()
	g.Expect()
	start := time.Now()
	if err := g.syncEntries(files[0], 1, 1); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < g.gatherMax {
		t.Fatalf("round ran after %v, before gatherMax %v", d, g.gatherMax)
	}
	// The forgotten batch arrives late: it must not count for the next
	// announced one, which a round begun by an unannounced call waits for.
	g.gatherMax = time.Minute
	g.arrive(1)
	g.Expect()
	go func() { errs <- g.Sync(files[1], 1) }()
	waitFor(t, "the unannounced call to queue", func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.next != nil })
	time.Sleep(20 * time.Millisecond)
	if r := roundSizes(); len(r) != 2 {
		t.Fatalf("rounds of %v files: the late arrival counted for the announced batch", r)
	}
	go func() { errs <- g.syncEntries(files[2], 1, 1) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if r := roundSizes(); !slices.Equal(r, []int{3, 1, 2}) {
		t.Fatalf("rounds of %v files, want 3, 1, 2", r)
	}
}
