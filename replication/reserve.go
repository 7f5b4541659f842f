package replication

import (
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// diskReserve holds a little of the data directory's filesystem in a file of
// its own (random bytes, so that it really holds the space), given up the
// first time a metadata write (node.db: raft terms and votes, the
// controller's log and state) finds the disk full, and that write is then
// tried again. Once the reserve is spent, raft's writes wait for free space
// (wait) instead of failing.
//
// Why: hashicorp/raft cannot survive a failed write of its term; it panics.
// gokafkad refuses produce well before its own data fills the disk
// (log.dir.min.free.bytes), but another program can fill it, and the next
// election (every partition's, at a restart) would bring the node down. With
// the reserve the write goes through, the node keeps serving what it holds,
// and the log says what happened. The file is made again at the next start
// if there is room.
type diskReserve struct {
	path    string
	logger  *slog.Logger
	closing <-chan struct{} // closed when the node stops: waits give up
	retry   time.Duration   // between attempts of a waiting write; tests shorten it

	mu      sync.Mutex
	held    bool
	waiting int       // writes waiting for free space
	logged  time.Time // when the wait was last logged
}

// diskFullRetry is how often a write waiting for free space tries again;
// diskFullLogEvery how often the log repeats that writes are waiting.
const (
	diskFullRetry    = time.Second
	diskFullLogEvery = 30 * time.Second
)

// reserveBytes is the size of the reserve: enough for thousands of term
// writes of a few pages each.
const reserveBytes = 8 << 20

const reserveFile = "reserve"

// openReserve makes sure dir holds the reserve, if there is room for it.
// Writes that wait for free space give up once closing is closed.
func openReserve(dir string, logger *slog.Logger, closing <-chan struct{}) *diskReserve {
	r := &diskReserve{path: filepath.Join(dir, reserveFile), logger: logger, closing: closing, retry: diskFullRetry}
	if fi, err := os.Stat(r.path); err == nil && fi.Mode().IsRegular() && fi.Size() == reserveBytes {
		r.held = true
		return r
	}
	if err := writeRandom(r.path, reserveBytes); err != nil {
		os.Remove(r.path)
		logger.Warn("cannot set disk space aside for metadata writes on a full disk", "path", r.path, "bytes", reserveBytes, "err", err)
		return r
	}
	r.held = true
	return r
}

// writeRandom writes a file of n random bytes and syncs it: random, so that
// no filesystem stores it sparse, compressed or deduplicated, and removing
// it frees n bytes.
func writeRandom(path string, n int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	rand.Read(buf)
	for n > 0 && err == nil {
		var w int
		w, err = f.Write(buf[:min(n, len(buf))])
		n -= w
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// write runs fn, and if it fails for want of space, once more after giving
// up the reserve (or after another write did: writes that fail together
// all retry).
func (r *diskReserve) write(fn func() error) error {
	err := fn()
	if err == nil || r == nil || !isDiskFull(err) {
		return err
	}
	r.release()
	return fn()
}

// wait is write for raft's own writes (terms and votes, the controller's
// log and state): when the disk is still full with the reserve spent, it
// tries again every r.retry until the write goes through, logging that
// metadata writes wait, so that the node stalls, and resumes once space is
// freed, instead of raft panicking. It gives up only when the node stops:
// on one of raft's goroutines, which would panic on the error (a term it
// cannot save), by ending that goroutine (endRaftGoroutine); elsewhere by
// returning the error. Not for a caller that must not block: startup,
// which fails instead.
func (r *diskReserve) wait(fn func() error) error {
	err := r.write(fn)
	if err == nil || r == nil || !isDiskFull(err) {
		return err
	}
	r.waitStart(err)
	defer func() { r.waitEnd(err == nil) }()
	t := time.NewTicker(r.retry)
	defer t.Stop()
	for {
		select {
		case <-r.closing:
			endRaftGoroutine()
			return err
		case <-t.C:
		}
		if err = fn(); err == nil || !isDiskFull(err) {
			return err
		}
		r.mu.Lock()
		if time.Since(r.logged) >= diskFullLogEvery {
			r.logged = time.Now()
			r.logger.Error("the disk is still full: metadata writes are waiting for free space", "waiting", r.waiting)
		}
		r.mu.Unlock()
	}
}

// endRaftGoroutine ends the calling goroutine if hashicorp/raft started it,
// running its deferred calls: raft's own wait group is released that way,
// so the group's shutdown completes, and raft never sees the write fail.
// The node is stopping; the write is left for the next start.
func endRaftGoroutine() {
	var pcs [128]uintptr
	n := runtime.Callers(2, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	outer := ""
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, "runtime.") {
			outer = f.Function
		}
		if !more {
			break
		}
	}
	if n < len(pcs) && strings.HasPrefix(outer, "github.com/hashicorp/raft.") {
		runtime.Goexit()
	}
}

func (r *diskReserve) waitStart(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waiting++
	if r.waiting == 1 {
		r.logged = time.Now()
		r.logger.Error("the disk is full and the space set aside for metadata writes is spent: raft waits for free space (terms, votes, the controller's log); this node serves what it holds but makes no metadata or leadership changes until space is freed",
			"err", err, "retry", r.retry)
	}
}

// waitEnd ends a wait; wrote says the write went through, not the node
// stopping.
func (r *diskReserve) waitEnd(wrote bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.waiting--
	if r.waiting == 0 && wrote {
		r.logger.Info("metadata writes are no longer waiting for free space")
	}
}

// isDiskFull says whether err is a write failing for want of space or
// quota. bbolt wraps some of those with %s (growing the file, mapping it),
// so their text counts too.
func isDiskFull(err error) bool {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, syscall.ENOSPC.Error()) || strings.Contains(msg, syscall.EDQUOT.Error())
}

// release removes the reserve, if it is still there.
func (r *diskReserve) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.held {
		return
	}
	r.held = false
	if err := os.Remove(r.path); err != nil {
		r.logger.Error("the disk is full, and the space set aside for metadata writes cannot be freed", "path", r.path, "err", err)
		return
	}
	r.logger.Error("the disk is full: freed the space set aside for metadata writes so that raft can save its state; free space on the data directory's filesystem",
		"path", r.path, "bytes", reserveBytes)
}
