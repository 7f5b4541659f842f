package logstore

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Recycler keeps the segment .log files of deleted partitions (a deleted
// topic's, or a replica moved away), overwritten with zeros and synced, for
// new segments to take in place of creating files, as PostgreSQL recycles
// its WAL segments.
//
// Why: writing a fresh file costs more than overwriting one. Its page cache
// is memory the kernel must find and, on a virtual machine that hands freed
// memory back to its host, memory the host must map again on first touch:
// measured on this project's machines, 300 MB written into a new file took
// 0.7–0.8 s of CPU, into a file that was written before 0.08–0.16 s. Its
// blocks must be allocated at writeback, which each fsync then waits for.
// A recycled file has both: cached pages and allocated, written blocks.
// The zeroing, which pays for whatever memory was lost meanwhile, happens
// in the background, off the produce path.
//
// Retention does not recycle: in a steady state every segment it deletes
// would be zeroed, doubling what the disk writes. Deleting whole partitions
// is rarer, and is where a workload (tests, pipelines that create and drop
// topics) writes fresh files over and over.
//
// The zeros are what make reuse safe: a new segment's .log holds its
// batches and then zeros, exactly as the active segment's zero-filled space
// (see segment.prepareLog), so recovery after a crash stops at the first
// all-zero batch header and never mistakes a deleted partition's batches
// for this one's. A file is handed out only once its zeros are on disk.
//
// The pool lives in one directory: "<n>.dirty" files wait to be zeroed,
// "<n>.ready" ones are zeroed and synced (renamed only after the sync, so
// a crash cannot make a file ready that is not). Open keeps the ready ones
// and deletes the rest.
type Recycler struct {
	dir      string
	maxBytes int64
	log      *slog.Logger

	mu     sync.Mutex
	cond   *sync.Cond // signalled when dirty grows or closed is set
	ready  []pooled   // zeroed and synced, oldest first
	dirty  []pooled   // waiting to be zeroed
	bytes  int64      // size of every file held: ready, dirty and being zeroed
	seq    uint64     // the next file name
	closed bool
	paused bool // Pause: take nothing, hold nothing
	done   chan struct{}
}

type pooled struct {
	name string // in dir, without extension
	size int64
}

const (
	extDirty = ".dirty"
	extReady = ".ready"
	// zeroStep is how much the zeroing writes between syncs, so that it
	// never holds much dirty memory nor one long burst of writeback.
	zeroStep = 16 << 20
)

// OpenRecycler opens (creating it) the pool in dir, holding at most
// maxBytes of files.
func OpenRecycler(dir string, maxBytes int64, logger *slog.Logger) (*Recycler, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("recycler: %w", err)
	}
	r := &Recycler{dir: dir, maxBytes: maxBytes, log: logger, done: make(chan struct{})}
	r.cond = sync.NewCond(&r.mu)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("recycler: %w", err)
	}
	for _, e := range ents {
		name := e.Name()
		stem, ok := strings.CutSuffix(name, extReady)
		n, err := strconv.ParseUint(stem, 10, 64)
		var size int64
		if ok && err == nil && e.Type().IsRegular() {
			if fi, err := e.Info(); err == nil {
				size = fi.Size()
			}
		}
		if size <= 0 || r.bytes+size > maxBytes {
			os.RemoveAll(filepath.Join(dir, name))
			continue
		}
		r.ready = append(r.ready, pooled{name: stem, size: size})
		r.bytes += size
		r.seq = max(r.seq, n+1)
	}
	go r.zeroLoop()
	return r, nil
}

// Put takes the file at path, which nothing may have open any more, into
// the pool, and reports whether it did; if not, the caller deletes it.
func (r *Recycler) Put(path string) bool {
	if r == nil {
		return false
	}
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.paused || r.bytes+fi.Size() > r.maxBytes {
		return false
	}
	p := pooled{name: strconv.FormatUint(r.seq, 10), size: fi.Size()}
	if err := os.Rename(path, filepath.Join(r.dir, p.name+extDirty)); err != nil {
		r.log.Warn("recycling segment file", "path", path, "err", err)
		return false
	}
	r.seq++
	r.bytes += p.size
	r.dirty = append(r.dirty, p)
	r.cond.Broadcast()
	return true
}

// PutDir takes every segment .log file in dir into the pool, as far as it
// holds them.
func (r *Recycler) PutDir(dir string) {
	if r == nil {
		return
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if _, ok := parseSegName(e.Name()); ok {
			r.Put(filepath.Join(dir, e.Name()))
		}
	}
}

// Take moves the largest ready file to path and returns its size: a file
// of zeros, on disk. ok is false when there is none.
func (r *Recycler) Take(path string) (size int64, ok bool) {
	if r == nil {
		return 0, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.ready) > 0 {
		best := 0
		for i, p := range r.ready {
			if p.size > r.ready[best].size {
				best = i
			}
		}
		p := r.ready[best]
		r.ready = append(r.ready[:best], r.ready[best+1:]...)
		r.bytes -= p.size
		err := os.Rename(filepath.Join(r.dir, p.name+extReady), path)
		if err == nil {
			return p.size, true
		}
		r.log.Warn("taking recycled segment file", "path", path, "err", err)
		os.Remove(filepath.Join(r.dir, p.name+extReady))
	}
	return 0, false
}

// Bytes reports the size of every file the pool holds.
func (r *Recycler) Bytes() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bytes
}

// Ready reports how many files are ready to be taken.
func (r *Recycler) Ready() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ready)
}

// Close stops the zeroing, leaving files not yet zeroed for the next Open
// to delete.
// Pause stops pooling, or resumes it. While paused Put takes nothing, so a
// deleted partition's files free their space at once, and pausing deletes
// the files the pool holds (one being zeroed goes once it is done). The
// broker pauses it while the disk is nearly full.
func (r *Recycler) Pause(paused bool) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.paused = paused
	if !paused {
		return
	}
	for _, p := range r.ready {
		r.drop(p, extReady)
	}
	for _, p := range r.dirty {
		r.drop(p, extDirty)
	}
	r.ready, r.dirty = nil, nil
}

// drop deletes a pooled file; r.mu is held.
func (r *Recycler) drop(p pooled, ext string) {
	if err := os.Remove(filepath.Join(r.dir, p.name+ext)); err != nil && !os.IsNotExist(err) {
		r.log.Warn("removing recycled segment file", "file", p.name+ext, "err", err)
	}
	r.bytes -= p.size
}

func (r *Recycler) Close() {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.closed = true
	r.cond.Broadcast()
	r.mu.Unlock()
	<-r.done
}

func (r *Recycler) zeroLoop() {
	defer close(r.done)
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		for !r.closed && len(r.dirty) == 0 {
			r.cond.Wait()
		}
		if r.closed {
			return
		}
		p := r.dirty[0]
		r.dirty = r.dirty[1:]
		r.mu.Unlock()
		err := r.zero(p)
		r.mu.Lock()
		if err != nil {
			if !r.closed {
				r.log.Warn("zeroing recycled segment file", "file", p.name, "err", err)
			}
			r.drop(p, extDirty)
			continue
		}
		if r.paused {
			r.drop(p, extReady)
			continue
		}
		r.ready = append(r.ready, p)
	}
}

// zero overwrites a dirty file with zeros, syncs it and renames it ready.
func (r *Recycler) zero(p pooled) error {
	dirty := filepath.Join(r.dir, p.name+extDirty)
	f, err := os.OpenFile(dirty, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	for off := int64(0); off < p.size; {
		if r.isClosed() {
			return ErrClosed
		}
		end := min(off+zeroStep, p.size)
		for off < end {
			n := min(end-off, int64(len(zeros)))
			if _, err := f.WriteAt(zeros[:n], off); err != nil {
				return err
			}
			off += n
		}
		if err := datasync(f); err != nil {
			return err
		}
	}
	return os.Rename(dirty, filepath.Join(r.dir, p.name+extReady))
}

func (r *Recycler) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}
