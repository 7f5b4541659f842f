package logstore

import (
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// auxOpen reports whether each segment's companion files are open.
func auxOpen(l *Log) []bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []bool
	for _, s := range l.segs {
		s.auxMu.Lock()
		out = append(out, s.metaF != nil)
		s.auxMu.Unlock()
	}
	return out
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// Sealed segments keep one open file: their companions close when the
// segment is sealed or sits unread, and open again for reads, suffix
// truncation and recovery.
func TestSealedSegmentsHoldOneFile(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Config{SegmentBytes: 1000, IndexIntervalBytes: 1})
	g := &entryGen{t: t, term: 1}
	var all []*raft.Log
	before := openFDs(t)
	for i := range 12 {
		e := g.batch(1, 300, int64(i))
		all = append(all, e, g.noop())
		mustStore(t, l, all[len(all)-2:]...)
	}
	open := auxOpen(l)
	if len(open) < 4 {
		t.Fatalf("%d segments, want several", len(open))
	}
	for i, o := range open {
		if o != (i == len(open)-1) {
			t.Fatalf("companions open %v: want only the active segment's", open)
		}
	}
	if got, want := openFDs(t)-before, len(open)+4; got != want {
		t.Errorf("%d more open files for %d segments, want %d", got, len(open), want)
	}

	// Reads of old entries, batches and times reopen them.
	checkEntries(t, l, all)
	if hs := readAll(t, l, 0); len(hs) != 12 {
		t.Fatalf("read %d batches, want 12", len(hs))
	}
	if off, _, ok := l.OffsetForTime(0); !ok || off != 0 {
		t.Fatalf("OffsetForTime(0) = %d %v", off, ok)
	}
	for i, o := range auxOpen(l) {
		if !o {
			t.Fatalf("segment %d: companions closed after reads", i)
		}
	}
	// Used just now: kept. Unused for longer than idle: closed.
	l.CloseIdleFiles(time.Now(), time.Minute)
	if open := auxOpen(l); !open[0] {
		t.Fatalf("companions closed though just used: %v", open)
	}
	l.CloseIdleFiles(time.Now().Add(2*time.Minute), time.Minute)
	open = auxOpen(l)
	for i, o := range open {
		if o != (i == len(open)-1) {
			t.Fatalf("after CloseIdleFiles: companions open %v", open)
		}
	}

	// A suffix truncation into a sealed segment makes it active again.
	cut := all[4].Index // the third batch
	if err := l.DeleteRange(cut, all[len(all)-1].Index); err != nil {
		t.Fatal(err)
	}
	all = all[:4]
	g.next = all[len(all)-1].Index
	for i := range 3 {
		e := g.batch(1, 300, int64(20+i))
		all = append(all, e)
		mustStore(t, l, e)
	}
	checkEntries(t, l, all)
	l.Close()

	// Recovery opens everything, then lets the sealed segments go.
	l = openT(t, dir, Config{SegmentBytes: 1000, IndexIntervalBytes: 1})
	defer l.Close()
	open = auxOpen(l)
	for i, o := range open {
		if o != (i == len(open)-1) {
			t.Fatalf("after reopening: companions open %v", open)
		}
	}
	checkEntries(t, l, all)
}

// Readers of sealed segments, the sweep that closes their companions and
// the writer run at once without a race (go test -race) or a failed read.
func TestSealedSegmentFilesConcurrently(t *testing.T) {
	l := openT(t, t.TempDir(), Config{SegmentBytes: 1000, IndexIntervalBytes: 1})
	defer l.Close()
	g := &entryGen{t: t, term: 1}
	var all []*raft.Log
	for i := range 8 {
		e := g.batch(1, 300, int64(i))
		all = append(all, e)
		mustStore(t, l, e)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// loop runs step until stop is closed or step reports false.
	loop := func(step func() bool) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if !step() {
					return
				}
			}
		}()
	}
	read := func() bool {
		for _, w := range all {
			var got raft.Log
			if err := l.GetLog(w.Index, &got); err != nil {
				t.Errorf("GetLog(%d): %v", w.Index, err)
				return false
			}
		}
		l.OffsetForTime(3)
		return true
	}
	loop(read)
	loop(read)
	loop(func() bool { l.CloseIdleFiles(time.Now().Add(time.Hour), 0); return true })
	for i := range 20 {
		mustStore(t, l, g.batch(1, 300, int64(100+i)))
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
}
