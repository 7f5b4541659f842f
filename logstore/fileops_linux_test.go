package logstore

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseDirty(t *testing.T) {
	got, ok := parseDirty([]byte("MemTotal:       24000000 kB\nDirty:              2908 kB\nWriteback:            12 kB\nAnonPages: 5 kB\n"))
	if !ok || got != (2908+12)<<10 {
		t.Fatalf("parseDirty = %d, %v", got, ok)
	}
	if _, ok := parseDirty([]byte("Dirty: 1 kB\n")); ok {
		t.Fatal("parsed meminfo without Writeback")
	}
	if _, ok := dirtyBytes(); !ok {
		t.Fatal("cannot read this system's /proc/meminfo")
	}
}

func TestKernelAtLeast(t *testing.T) {
	for _, c := range []struct {
		rel  string
		want bool
	}{{"6.18.44-fc-v1147", true}, {"5.8.0", true}, {"5.7.19-generic", false}, {"4.19.0", false}, {"junk", false}} {
		if got := kernelAtLeast(c.rel, 5, 8); got != c.want {
			t.Errorf("kernelAtLeast(%q) = %v", c.rel, got)
		}
	}
}

// failingFS is ext4 on a loop device over a small tmpfs, whose writes fail
// on demand (fill) and succeed again (free); so root.
type failingFS struct {
	t          *testing.T
	back, dir  string
	fillerPath string
}

func newFailingFS(t *testing.T) *failingFS {
	if os.Geteuid() != 0 {
		t.Skip("a loop device needs root")
	}
	if !syncfsReports() {
		t.Skip("no syncfs rounds before Linux 5.8")
	}
	base := t.TempDir()
	back, dir := filepath.Join(base, "back"), filepath.Join(base, "fs")
	os.Mkdir(back, 0o755)
	os.Mkdir(dir, 0o755)
	run := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Skipf("%s %v: %v: %s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", back)
	t.Cleanup(func() { exec.Command("umount", back).Run() })
	img := filepath.Join(back, "img") // sparse: blocks come from the tmpfs as written
	if f, err := os.Create(img); err != nil || f.Truncate(256<<20) != nil {
		t.Fatalf("device image: %v", err)
	} else {
		f.Close()
	}
	run("mkfs.ext4", "-q", "-F", "-O", "^has_journal", img)
	loop := run("losetup", "-f", "--show", img)
	t.Cleanup(func() { exec.Command("losetup", "-d", loop).Run() })
	run("mount", loop, dir)
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return &failingFS{t: t, back: back, dir: dir, fillerPath: filepath.Join(back, "fill")}
}

// fill takes the device's backing space: writes into new blocks fail at
// writeback.
func (fs *failingFS) fill() {
	ff, err := os.Create(fs.fillerPath)
	if err != nil {
		fs.t.Fatal(err)
	}
	for _, n := range []int{1 << 20, 4096} {
		for buf := make([]byte, n); ; {
			if _, err := ff.Write(buf); err != nil {
				break
			}
		}
	}
	ff.Close()
}

// writebackFails writes back every dirty page of the filesystem from a
// descriptor of its own (as the kernel's flusher would, unseen by the
// files' descriptors), reports whether that failed, and gives the space
// back: the device is healthy again.
func (fs *failingFS) writebackFails() bool {
	other, err := os.Open(fs.dir)
	if err != nil {
		fs.t.Fatal(err)
	}
	defer other.Close()
	failed := unix.Syncfs(int(other.Fd())) != nil
	os.Remove(fs.fillerPath)
	if err := unix.Syncfs(int(other.Fd())); err != nil {
		fs.t.Fatalf("syncfs once space is back: %v", err)
	}
	return failed
}

// quietDirty makes the rounds see little else dirty, as on a quiet broker,
// so that a round of several files is one syncfs.
func quietDirty(t *testing.T) {
	dirtyCache.mu.Lock()
	dirtyCache.at, dirtyCache.v, dirtyCache.ok = time.Now().Add(time.Hour), 0, true
	dirtyCache.mu.Unlock()
	t.Cleanup(func() {
		dirtyCache.mu.Lock()
		dirtyCache.at = time.Time{}
		dirtyCache.mu.Unlock()
	})
}

// A round of several files is one syncfs, which reports only the writeback
// errors its descriptor had not seen: not one that hit another file's
// pages (the kernel's flusher writing them back) before that descriptor
// was opened, as a segment rolled since is. The round must still fail,
// else that file's batches are acknowledged with their data gone.
func TestSyncRoundReportsEarlierWritebackError(t *testing.T) {
	fs := newFailingFS(t)
	dir := fs.dir

	// Two segments' files, each with a block already on the device.
	pa, pb := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	block := make([]byte, 4096)
	for _, p := range []string{pa, pb} {
		if err := os.WriteFile(p, block, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if fs.writebackFails() { // the files' first blocks, on the device
		t.Fatal("writeback failed before the device filled")
	}
	fa, err := os.OpenFile(pa, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()

	// The device fills: a's next batch, in new blocks, fails its writeback,
	// started from elsewhere (as by the flusher), so a's descriptor has not
	// seen the error.
	fs.fill()
	if _, err := fa.WriteAt(bytes.Repeat([]byte{7}, 1<<20), 4096); err != nil {
		t.Fatal(err)
	}
	if !fs.writebackFails() {
		t.Skip("the full device did not fail the writeback")
	}

	// b is opened after the error (a segment rolled since), and comes first
	// in the round that also holds a's next write.
	fb, err := os.OpenFile(pb, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	fb.WriteAt(block, 0)
	fa.WriteAt([]byte{9}, 0)
	quietDirty(t)
	if err := syncFiles([]syncFile{{fb, 4096}, {fa, 1}}); err == nil {
		t.Fatal("the round reported a's write durable, though a's earlier writeback failed")
	}
}

// A write error of a file outside the round (another program's on the
// same filesystem, or a partition's not in this round) fails the round's
// syncfs, but not the round: its own files' data is durable, as each
// one's fdatasync shows.
func TestSyncRoundIgnoresOtherFilesErrors(t *testing.T) {
	fs := newFailingFS(t)
	dir := fs.dir
	pa, pb, px := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log"), filepath.Join(dir, "stranger")
	block := make([]byte, 4096)
	for _, p := range []string{pa, pb, px} {
		if err := os.WriteFile(p, block, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if fs.writebackFails() { // the files' first blocks, on the device
		t.Fatal("writeback failed before the device filled")
	}
	var files []*os.File
	for _, p := range []string{pa, pb, px} {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, f)
	}
	fa, fb, fx := files[0], files[1], files[2]

	// The stranger's write, into new blocks, fails its writeback.
	fs.fill()
	if _, err := fx.WriteAt(bytes.Repeat([]byte{7}, 1<<20), 4096); err != nil {
		t.Fatal(err)
	}
	if !fs.writebackFails() {
		t.Skip("the full device did not fail the writeback")
	}

	fa.WriteAt([]byte{1}, 0)
	fb.WriteAt([]byte{2}, 0)
	quietDirty(t)
	if err := syncFiles([]syncFile{{fa, 1}, {fb, 1}}); err != nil {
		t.Fatalf("a round of healthy files failed on a stranger's write error: %v", err)
	}
	// The stranger's own sync still reports it.
	if err := datasync(fx); err == nil {
		t.Fatal("the stranger's fdatasync did not report its write error")
	}
}
