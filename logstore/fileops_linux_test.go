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

// A round of several files is one syncfs, which reports only the writeback
// errors its descriptor had not seen: not one that hit another file's
// pages (the kernel's flusher writing them back) before that descriptor
// was opened, as a segment rolled since is. The round must still fail,
// else that file's batches are acknowledged with their data gone. It needs
// a filesystem whose writes fail on demand: ext4 on a loop device over a
// small tmpfs, which a filler then fills; so root.
func TestSyncRoundReportsEarlierWritebackError(t *testing.T) {
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

	// Two segments' files, each with a block already on the device.
	pa, pb := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	block := make([]byte, 4096)
	for _, p := range []string{pa, pb} {
		if err := os.WriteFile(p, block, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := syncDir(dir); err != nil {
		t.Fatal(err)
	}
	fa, err := os.OpenFile(pa, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()

	// The device fills: a's next batch, in new blocks, fails its writeback,
	// started from elsewhere (as by the flusher), so a's descriptor has not
	// seen the error.
	fill := filepath.Join(back, "fill")
	ff, err := os.Create(fill)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1 << 20, 4096} {
		for buf := make([]byte, n); ; {
			if _, err := ff.Write(buf); err != nil {
				break
			}
		}
	}
	ff.Close()
	if _, err := fa.WriteAt(bytes.Repeat([]byte{7}, 1<<20), 4096); err != nil {
		t.Fatal(err)
	}
	other, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := unix.Syncfs(int(other.Fd())); err == nil {
		t.Skip("the full device did not fail the writeback")
	}
	// The space comes back (a passing fault); the device is healthy again.
	os.Remove(fill)
	if err := unix.Syncfs(int(other.Fd())); err != nil {
		t.Fatalf("syncfs once space is back: %v", err)
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
	// As on a quiet broker, little else is dirty: the round is one syncfs.
	dirtyCache.mu.Lock()
	dirtyCache.at, dirtyCache.v, dirtyCache.ok = time.Now().Add(time.Hour), 0, true
	dirtyCache.mu.Unlock()
	defer func() {
		dirtyCache.mu.Lock()
		dirtyCache.at = time.Time{}
		dirtyCache.mu.Unlock()
	}()
	if err := syncFiles([]syncFile{{fb, 4096}, {fa, 1}}); err == nil {
		t.Fatal("the round reported a's write durable, though a's earlier writeback failed")
	}
}
