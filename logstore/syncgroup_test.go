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
	files := createFiles(t, 4)
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
	go func() { first <- g.Member().Sync(files[0], 10, 0) }()
	waitFor(t, "the first round", func() bool { mu.Lock(); defer mu.Unlock(); return len(rounds) == 1 })
	errs := make(chan error, 3)
	for i := 1; i < 4; i++ {
		go func() { errs <- g.Member().Sync(files[i], int64(i), 0) }()
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
	if err := g.Member().Sync(fs[0].f, 4, 0); err != nil {
		t.Fatal(err)
	}
	g.Close()
	if err := g.Member().Sync(fs[1].f, 4, 0); err != nil { // after Close: on its own
		t.Fatal(err)
	}
	fs[2].f.Close()
	if err := syncFiles(fs); err == nil {
		t.Fatal("sync of a closed file succeeded")
	}
}

// A round waits for the logs announced a batch before it began, so the
// partitions of one request share a sync; not for a log already in it,
// whose next batch cannot join; and a log whose batch never comes delays
// a single round by at most gatherMax, and is then forgotten.
func TestSyncGroupGathersAnnouncedBatches(t *testing.T) {
	files := createFiles(t, 3)
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
	queued := func(n int) func() bool {
		return func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.next != nil && len(g.next.files) == n }
	}
	ms := []*SyncMember{g.Member(), g.Member(), g.Member()}
	errs := make(chan error, 3)

	// Three logs announced a batch; the first arrives alone and its round
	// waits for the other two, which come well within gatherMax.
	g.gatherMax = time.Minute
	for _, m := range ms {
		m.Expect()
	}
	go func() { errs <- ms[0].Sync(files[0], 1, 1) }()
	waitFor(t, "the first call to queue", queued(1))
	time.Sleep(20 * time.Millisecond)
	if r := roundSizes(); len(r) != 0 {
		t.Fatalf("a round of %v ran before the announced batches arrived", r)
	}
	joined := time.Now()
	go func() { errs <- ms[1].Sync(files[1], 1, 1) }()
	go func() { errs <- ms[2].Sync(files[2], 1, 1) }()
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(joined); d > 10*time.Second {
		t.Fatalf("the round ran %v after the announced batches joined it", d)
	}
	if r := roundSizes(); !slices.Equal(r, []int{3}) {
		t.Fatalf("rounds of %v files, want one of 3", r)
	}

	// One log, two batches announced (pipelined requests): its round holds
	// the first and does not wait for the second, which cannot join it.
	ms[0].Expect()
	ms[0].Expect()
	start := time.Now()
	if err := ms[0].Sync(files[0], 1, 1); err != nil {
		t.Fatal(err)
	}
	if err := ms[0].Sync(files[0], 1, 1); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("a log's round waited %v for the log's own next batch", d)
	}
	if r := roundSizes(); !slices.Equal(r, []int{3, 1, 1}) {
		t.Fatalf("rounds of %v files, want 3, 1, 1", r)
	}

	// Two logs announced, one batch never arrives: the round runs after
	// gatherMax, and the next one does not wait for it.
	g.gatherMax = 50 * time.Millisecond
	ms[0].Expect()
	ms[1].Expect()
	start = time.Now()
	if err := ms[0].Sync(files[0], 1, 1); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < g.gatherMax {
		t.Fatalf("round ran after %v, before gatherMax %v", d, g.gatherMax)
	}
	g.gatherMax = time.Minute
	start = time.Now()
	if err := ms[2].Sync(files[2], 1, 0); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the next round waited %v for the forgotten batch", d)
	}

	// The forgotten batch arrives late: it must not count for those
	// announced to its log next. Of two, one arrives in a round of its own;
	// a round begun by another log then still waits for the other.
	ms[1].arrive(1)
	ms[1].Expect()
	ms[1].Expect()
	if err := ms[1].Sync(files[1], 1, 1); err != nil {
		t.Fatal(err)
	}
	go func() { errs <- ms[2].Sync(files[2], 1, 0) }()
	waitFor(t, "the unannounced call to queue", queued(1))
	time.Sleep(20 * time.Millisecond)
	if r := roundSizes(); len(r) != 6 {
		t.Fatalf("rounds of %v files: the late arrival counted for an announced batch", r)
	}
	go func() { errs <- ms[1].Sync(files[1], 1, 1) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	// A batch announced and then retracted (raft never got it) is not
	// waited for, whether retracted before the round began or during it.
	ms[1].Expect()
	ms[1].Retract()
	ms[2].Expect()
	start = time.Now()
	go func() { errs <- ms[0].Sync(files[0], 1, 0) }()
	waitFor(t, "the call to queue", queued(1))
	ms[2].Retract()
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the round waited %v for retracted batches", d)
	}

	// A log that leaves the group (closed) is not waited for.
	ms[0].Expect()
	go func() { errs <- ms[1].Sync(files[1], 1, 0) }()
	waitFor(t, "the call to queue", queued(1))
	start = time.Now()
	ms[0].Leave()
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the round waited %v for a log that left", d)
	}
	if r := roundSizes(); !slices.Equal(r, []int{3, 1, 1, 1, 1, 1, 2, 1, 1}) {
		t.Fatalf("rounds of %v files, want 3, 1, 1, 1, 1, 1, 2, 1, 1", r)
	}
}

// createFiles creates n empty files in a temporary directory, closed when
// the test ends.
func createFiles(t *testing.T, n int) []*os.File {
	t.Helper()
	dir := t.TempDir()
	files := make([]*os.File, n)
	for i := range files {
		f, err := os.Create(filepath.Join(dir, string(rune('a'+i))))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		files[i] = f
	}
	return files
}

// A large sync is made at once, on its own: it waits neither for the round
// under way nor in the next, so small syncs never wait for it (a tiny
// acks=all record waited for other partitions' 20 MB batches), and a round
// waiting for the large sync's announced batch stops waiting for it.
func TestSyncGroupLargeSyncsAlone(t *testing.T) {
	files := createFiles(t, 3)
	g := NewSyncGroup()
	defer g.Close()
	g.gatherMax = time.Minute
	release := make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free() // before Close, which waits for the round
	var mu sync.Mutex
	var rounds [][]*os.File
	g.sync = func(fs []syncFile) error {
		mu.Lock()
		var r []*os.File
		for _, sf := range fs {
			r = append(r, sf.f)
		}
		rounds = append(rounds, r)
		n := len(rounds)
		mu.Unlock()
		if n == 1 {
			<-release
		}
		return nil
	}
	roundCount := func() int { mu.Lock(); defer mu.Unlock(); return len(rounds) }
	small, big := g.Member(), g.Member()
	errs := make(chan error, 2)

	// A round of a small sync is under way: a large one does not wait.
	go func() { errs <- small.Sync(files[0], 100, 0) }()
	waitFor(t, "the first round", func() bool { return roundCount() == 1 })
	done := make(chan error, 1)
	go func() { done <- big.Sync(files[1], g.soloBytes, 0) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a large sync waited for a round of small ones")
	}
	free()
	if err := <-errs; err != nil {
		t.Fatal(err)
	}

	// A round waits for the log announced a batch; that batch comes as a
	// large sync, which does not join the round, so the round goes on.
	big.Expect()
	go func() { errs <- small.Sync(files[0], 100, 0) }()
	waitFor(t, "the small call to queue", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.next != nil && len(g.next.files) == 1
	})
	if err := big.Sync(files[2], g.soloBytes, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the round waited for a log whose batch was synced on its own")
	}
	mu.Lock()
	defer mu.Unlock()
	want := [][]*os.File{{files[0]}, {files[0]}}
	if !slices.EqualFunc(rounds, want, slices.Equal) {
		t.Fatalf("rounds %v, want two holding only the small sync's file", rounds)
	}
}
