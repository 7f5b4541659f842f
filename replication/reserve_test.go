package replication

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The reserve is a real file of reserveBytes; a write that fails for want
// of space frees it and is tried once more, as is every write that failed
// with it; other failures are not retried, and the next start makes the
// reserve again.
func TestDiskReserve(t *testing.T) {
	dir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := openReserve(dir, logger)
	path := filepath.Join(dir, reserveFile)
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != reserveBytes {
		t.Fatalf("reserve: %v, %v; want a file of %d bytes", fi, err, reserveBytes)
	}
	if b, err := os.ReadFile(path); err != nil || bytes.Count(b, []byte{0}) > len(b)/64 {
		t.Fatalf("the reserve holds %d zero bytes of %d (%v): a filesystem could store it sparse or compressed", bytes.Count(b, []byte{0}), len(b), err)
	}
	full := fmt.Errorf("write node.db: %w", syscall.ENOSPC)
	for _, err := range []error{full, fmt.Errorf("file resize error: %s", syscall.ENOSPC), fmt.Errorf("x: %w", syscall.EDQUOT)} {
		if !isDiskFull(err) {
			t.Errorf("isDiskFull(%v) = false", err)
		}
	}
	if isDiskFull(errors.New("boom")) {
		t.Error("isDiskFull(boom) = true")
	}

	calls := 0
	err = r.write(func() error {
		calls++
		if calls == 1 {
			return full
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Fatalf("write on a full disk: %v after %d calls; want success on the second", err, calls)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the reserve is still there after a full disk: %v", err)
	}

	// Another write that failed at the same time retries too, though the
	// reserve is gone; when the disk is still full it reports that.
	calls = 0
	err = r.write(func() error { calls++; return full })
	if !errors.Is(err, syscall.ENOSPC) || calls != 2 {
		t.Fatalf("write on a disk still full: %v after %d calls; want ENOSPC after 2", err, calls)
	}
	calls = 0
	other := errors.New("boom")
	if err := r.write(func() error { calls++; return other }); err != other || calls != 1 {
		t.Fatalf("other failure: %v after %d calls; want it after 1", err, calls)
	}

	openReserve(dir, logger)
	if fi, err := os.Stat(path); err != nil || fi.Size() != reserveBytes {
		t.Fatalf("reserve after a restart: %v, %v", fi, err)
	}
}
