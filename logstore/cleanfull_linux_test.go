package logstore

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// On a disk too full for the clean-shutdown marker's data, Close still
// stops cleanly: the marker is written empty, as older versions wrote it,
// and the next start is a clean one. (The marker with the log's end made
// a stop on a full disk fail, and gokafkad exit 1.)
func TestCleanCloseOnFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	dir := filepath.Join(mnt, "log")
	l := openT(t, dir, Config{})
	all := storeBatches(t, l, &entryGen{t: t, term: 1}, 0, 10)
	// Reopened, it has no space prepared ahead of its writes, which Close
	// would give back before it writes the marker.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openT(t, dir, Config{})
	fill := filepath.Join(mnt, "fill")
	f, err := os.Create(fill)
	if err != nil {
		t.Fatal(err)
	}
	for buf := make([]byte, 4096); ; {
		if _, err := f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	if err := l.Close(); err != nil {
		t.Fatalf("Close on a full disk: %v", err)
	}
	os.Remove(fill)
	var logs bytes.Buffer
	l = openT(t, dir, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	defer l.Close()
	if strings.Contains(logs.String(), "not closed cleanly") {
		t.Fatalf("the start after a clean stop recovered:\n%s", logs.String())
	}
	checkEntries(t, l, all)
}
