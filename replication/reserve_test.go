package replication

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The reserve is a real file of reserveBytes; a write that fails for want
// of space frees it and is tried once more, as is every write that failed
// with it; other failures are not retried, and the next start makes the
// reserve again.
func TestDiskReserve(t *testing.T) {
	dir := t.TempDir()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := openReserve(dir, logger, nil)
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

	openReserve(dir, logger, nil)
	if fi, err := os.Stat(path); err != nil || fi.Size() != reserveBytes {
		t.Fatalf("reserve after a restart: %v, %v", fi, err)
	}
}

// With the reserve spent, raft's writes (wait) try again until the disk has
// room, and give up only when the node closes; other failures are not
// retried.
func TestDiskReserveWait(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	closing := make(chan struct{})
	r := openReserve(t.TempDir(), logger, closing)
	r.retry = time.Millisecond
	full := fmt.Errorf("write node.db: %w", syscall.ENOSPC)

	calls := 0
	err := r.wait(func() error {
		calls++
		if calls < 6 {
			return full
		}
		return nil
	})
	if err != nil || calls != 6 {
		t.Fatalf("wait: %v after %d calls; want success on the sixth (two before waiting, then each retry)", err, calls)
	}
	if !strings.Contains(logs.String(), "raft waits for free space") || !strings.Contains(logs.String(), "no longer waiting") {
		t.Fatalf("the log does not tell the wait and its end:\n%s", logs.String())
	}

	other := errors.New("boom")
	calls = 0
	if err := r.wait(func() error { calls++; return other }); err != other || calls != 1 {
		t.Fatalf("other failure: %v after %d calls; want it after 1", err, calls)
	}

	done := make(chan error)
	calls = 0
	go func() { done <- r.wait(func() error { calls++; return full }) }()
	select {
	case err := <-done:
		t.Fatalf("wait on a disk that stays full returned %v; want it to wait", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(closing)
	select {
	case err := <-done:
		if !errors.Is(err, syscall.ENOSPC) || calls < 3 {
			t.Fatalf("wait after close: %v after %d calls; want ENOSPC after retrying", err, calls)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not give up when the node closed")
	}
}
