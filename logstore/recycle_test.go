package logstore

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func openRecyclerT(t *testing.T, dir string, maxBytes int64) *Recycler {
	t.Helper()
	r, err := OpenRecycler(dir, maxBytes, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func waitReady(t *testing.T, r *Recycler, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.Ready() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d files ready, want %d", r.Ready(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func allZero(t *testing.T, path string, size int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != size || !bytes.Equal(b, make([]byte, size)) {
		t.Fatalf("%s: %d bytes, want %d zeros", path, len(b), size)
	}
}

func TestRecycler(t *testing.T) {
	tmp := t.TempDir()
	pool := filepath.Join(tmp, "pool")
	r := openRecyclerT(t, pool, 20<<20)
	src := filepath.Join(tmp, "a.log")
	const size = zeroStep + 12345 // more than one step of zeroing
	if err := os.WriteFile(src, bytes.Repeat([]byte{0xa5}, size), 0o644); err != nil {
		t.Fatal(err)
	}
	if !r.Put(src) {
		t.Fatal("Put refused a file that fits")
	}
	if _, err := os.Stat(src); !os.IsNotExist(err) {
		t.Fatalf("Put left the file in place: %v", err)
	}
	waitReady(t, r, 1)
	if r.Bytes() != size {
		t.Fatalf("Bytes %d, want %d", r.Bytes(), size)
	}

	// Past the limit a file stays where it is, for the caller to delete.
	big := filepath.Join(tmp, "b.log")
	os.WriteFile(big, make([]byte, 8<<20), 0o644)
	if r.Put(big) {
		t.Fatal("Put took a file past the limit")
	}
	if _, err := os.Stat(big); err != nil {
		t.Fatal(err)
	}
	if r.Put(filepath.Join(tmp, "missing.log")) {
		t.Fatal("Put took a missing file")
	}

	dst := filepath.Join(tmp, "c.log")
	got, ok := r.Take(dst)
	if !ok || got != size {
		t.Fatalf("Take = %d, %v", got, ok)
	}
	allZero(t, dst, size)
	if r.Bytes() != 0 || r.Ready() != 0 {
		t.Fatalf("after Take: %d bytes, %d ready", r.Bytes(), r.Ready())
	}
	if _, ok := r.Take(filepath.Join(tmp, "d.log")); ok {
		t.Fatal("Take from an empty pool")
	}

	// The largest ready file goes first.
	for i, n := range []int{1000, 3000, 2000} {
		p := filepath.Join(tmp, "s.log")
		os.WriteFile(p, bytes.Repeat([]byte{byte(i + 1)}, n), 0o644)
		r.Put(p)
	}
	waitReady(t, r, 3)
	if got, _ := r.Take(dst); got != 3000 {
		t.Fatalf("Take gave %d bytes, want the largest, 3000", got)
	}
}

// A paused pool deletes what it holds and takes nothing until resumed.
func TestRecyclerPause(t *testing.T) {
	tmp := t.TempDir()
	pool := filepath.Join(tmp, "pool")
	r := openRecyclerT(t, pool, 20<<20)
	put := func(name string) bool {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, bytes.Repeat([]byte{7}, 4096), 0o644); err != nil {
			t.Fatal(err)
		}
		return r.Put(p)
	}
	if !put("a.log") {
		t.Fatal("Put refused a file that fits")
	}
	waitReady(t, r, 1)
	r.Pause(true)
	if r.Bytes() != 0 || r.Ready() != 0 {
		t.Fatalf("paused pool holds %d bytes, %d ready", r.Bytes(), r.Ready())
	}
	if ents, _ := os.ReadDir(pool); len(ents) != 0 {
		t.Fatalf("paused pool left %d files", len(ents))
	}
	if put("b.log") {
		t.Fatal("a paused pool took a file")
	}
	r.Pause(false)
	if !put("c.log") {
		t.Fatal("a resumed pool refused a file")
	}
	waitReady(t, r, 1)
}

// Open keeps what was zeroed and synced, and deletes anything else: a file
// whose zeroing a crash or Close interrupted never becomes ready.
func TestRecyclerReopen(t *testing.T) {
	pool := t.TempDir()
	os.WriteFile(filepath.Join(pool, "7"+extReady), make([]byte, 5000), 0o644)
	os.WriteFile(filepath.Join(pool, "3"+extDirty), bytes.Repeat([]byte{1}, 5000), 0o644)
	os.WriteFile(filepath.Join(pool, "9"+extReady), make([]byte, 0), 0o644)
	os.WriteFile(filepath.Join(pool, "junk"), []byte("x"), 0o644)
	r := openRecyclerT(t, pool, 1<<20)
	if r.Ready() != 1 || r.Bytes() != 5000 {
		t.Fatalf("reopened: %d ready, %d bytes; want the one ready file", r.Ready(), r.Bytes())
	}
	left, _ := os.ReadDir(pool)
	if len(left) != 1 || left[0].Name() != "7"+extReady {
		t.Fatalf("left in the pool: %v", left)
	}
	// New names do not reuse a kept one.
	src := filepath.Join(t.TempDir(), "x.log")
	os.WriteFile(src, []byte("data"), 0o644)
	r.Put(src)
	waitReady(t, r, 2)
	if _, err := os.Stat(filepath.Join(pool, "7"+extReady)); err != nil {
		t.Fatal(err)
	}
}

// A new segment takes a deleted segment's file. A crash then leaves its
// batches followed by zeros, never by the deleted segment's batches, even
// where those would follow on: same sizes, offsets and epoch.
func TestRecycledSegment(t *testing.T) {
	tmp := t.TempDir()
	r := openRecyclerT(t, filepath.Join(tmp, "pool"), 1<<30)
	cfg := Config{Recycler: r}

	dirA := filepath.Join(tmp, "a")
	a := openT(t, dirA, cfg)
	ga := &entryGen{t: t, term: 1}
	for range 10 {
		mustStore(t, a, ga.batch(3, 50, 1))
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	r.PutDir(dirA) // as a deleted partition's directory
	waitReady(t, r, 1)

	dirB := filepath.Join(tmp, "b")
	b := openT(t, dirB, cfg)
	gb := &entryGen{t: t, term: 1}
	var want []*raft.Log
	for range 2 {
		e := gb.batch(3, 50, 1)
		mustStore(t, b, e)
		want = append(want, cloneEntry(e))
	}
	if r.Ready() != 0 {
		t.Fatal("the new segment did not take the recycled file")
	}
	seg := lastSegFile(t, dirB, extLog)
	if fi, _ := os.Stat(seg); fi.Size() <= int64(2*len(want[0].Data)) {
		t.Fatalf("recycled .log is %d bytes; want the deleted segment's size", fi.Size())
	}
	b.closeAll() // a crash: no clean marker, the zeros stay

	b = openT(t, dirB, Config{})
	if b.EndOffset() != 6 {
		t.Fatalf("after the crash EndOffset %d, want 6", b.EndOffset())
	}
	checkEntries(t, b, want)
	if last, _ := b.LastIndex(); last != 2 {
		t.Fatalf("LastIndex %d, want 2", last)
	}
	// More writes go on over the zeros; a clean Close cuts the rest.
	e := gb.batch(3, 50, 1)
	mustStore(t, b, e)
	want = append(want, cloneEntry(e))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(seg); fi.Size() != int64(3*len(want[0].Data)) {
		t.Fatalf("after Close .log is %d bytes, want %d", fi.Size(), 3*len(want[0].Data))
	}
	b = openT(t, dirB, Config{})
	defer b.Close()
	checkEntries(t, b, want)
	if hs := readAll(t, b, 0); len(hs) != 3 {
		t.Fatalf("read %d batches, want 3", len(hs))
	}
}
