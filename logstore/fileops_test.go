package logstore

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	"github.com/hashicorp/raft"
)

func TestWritevAt(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// More buffers than one pwritev takes, some empty, after a prefix.
	var bufs [][]byte
	var want bytes.Buffer
	want.WriteString("head")
	for i := range 2500 {
		b := bytes.Repeat([]byte{byte(i)}, i%7)
		bufs = append(bufs, b)
		want.Write(b)
	}
	if _, err := f.WriteAt([]byte("head"), 0); err != nil {
		t.Fatal(err)
	}
	if err := writevAt(f, bufs, 4); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("file is %d bytes, want %d, or contents differ", len(got), want.Len())
	}
}

// diskBytes is the space a file holds on disk.
func diskBytes(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Skip("no block counts on this platform")
	}
	return st.Blocks * 512
}

// TestReservedSpace checks the active segment reserves disk ahead of its
// writes and that rolling and closing give the reservation back, without
// changing what the files hold.
func TestReservedSpace(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reservation uses fallocate")
	}
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 300 << 10}
	l := openT(t, dir, cfg)
	g := &entryGen{t: t, term: 1}
	var all []*raft.Log
	store := func(n int) {
		for range n {
			e := g.batch(1, 20<<10, 1)
			all = append(all, e)
			mustStore(t, l, e)
		}
	}
	store(1)
	active := lastSegFile(t, dir, extLog)
	fi, err := os.Stat(active)
	if err != nil {
		t.Fatal(err)
	}
	if got := diskBytes(t, active); got < minReserve || fi.Size() >= minReserve {
		t.Skipf("file system did not reserve: %d bytes on disk for %d", got, fi.Size())
	}
	store(20) // rolls at least once
	if len(l.segs) < 2 {
		t.Fatalf("%d segments, want a roll", len(l.segs))
	}
	for _, s := range l.segs[:len(l.segs)-1] {
		p := s.path(extLog)
		if got := diskBytes(t, p); got >= s.logSize+minReserve/2 {
			t.Errorf("sealed %s holds %d bytes on disk for %d of data", p, got, s.logSize)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	active = lastSegFile(t, dir, extLog)
	fi, err = os.Stat(active)
	if err != nil {
		t.Fatal(err)
	}
	if got := diskBytes(t, active); got >= fi.Size()+minReserve/2 {
		t.Errorf("closed active segment holds %d bytes on disk for %d", got, fi.Size())
	}
	l = openT(t, dir, cfg)
	defer l.Close()
	checkEntries(t, l, all)
	store(2)
	checkEntries(t, l, all)
}
