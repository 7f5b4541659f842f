package logstore

import (
	"os"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Deferred syncs (Config.DeferSync).
//
// StoreLogs normally writes and then fsyncs before it returns, so raft's
// leader loop sits idle through every fsync, and the next batch waits for
// it before its own write starts. With DeferSync, StoreLogs queues its
// entries after the write and returns; the log's sync goroutine fsyncs the
// active segment (one fsync covers everything written before it began) and
// only then hands the entries to OnStored. So the next write overlaps the
// previous fsync, and a batch is still acknowledged only once it is on disk.
//
// Only the plain case is deferred: batches appended to the active segment
// with nothing else to write. A StoreLogs that rolls a segment, writes raft
// metadata entries or starts a leader epoch, and every truncation, sync and
// close, first waits for the queue to empty, so files are synced in the
// order recovery relies on and OnStored sees entries in log order.

// syncQueue is the sync goroutine's state, guarded by its own mutex: the
// goroutine never takes wmu, so a writer holding wmu may wait for it.
type syncQueue struct {
	mu      sync.Mutex
	cond    sync.Cond
	pending []deferredStore // written, not yet synced, in log order
	busy    bool            // a sync of taken entries is under way
	stop    bool
	err     error // a deferred fsync failed: the log takes no more writes
	done    chan struct{}
	// sync is datasync, or the SyncGroup's; tests make it fail or wait.
	// entries is how many of the batches it covers were announced to the
	// SyncGroup (ExpectStore).
	sync func(f *os.File, bytes int64, entries int) error
}

// deferredStore is one StoreLogs call waiting for its fsync.
type deferredStore struct {
	logs  []*raft.Log
	f     *os.File // the active segment's log file when it was written
	end   int64    // the log end offset after it
	bytes int64    // .log bytes it wrote
}

func (l *Log) startSyncer() {
	l.sq = &syncQueue{done: make(chan struct{}), sync: func(f *os.File, _ int64, _ int) error { return datasync(f) }}
	switch {
	case l.cfg.SyncFile != nil:
		l.sq.sync = func(f *os.File, _ int64, _ int) error { return l.cfg.SyncFile(f) }
	case l.cfg.SyncGroup != nil:
		l.sm = l.cfg.SyncGroup.Member()
		l.sq.sync = l.sm.Sync
	}
	l.sq.cond.L = &l.sq.mu
	go l.syncLoop()
}

// deferring reports whether StoreLogs may defer its fsync.
func (l *Log) deferring() bool { return l.sq != nil }

// enqueueSync queues stored entries for the sync goroutine. Called with wmu
// held, so the queue is in log order.
func (l *Log) enqueueSync(d deferredStore) {
	q := l.sq
	q.mu.Lock()
	q.pending = append(q.pending, d)
	q.cond.Broadcast()
	q.mu.Unlock()
}

// drainSyncs waits until every queued entry is synced and reported, and
// returns the error of a failed deferred sync, if any. Called with wmu held
// (or with no more writers) before anything that must not overtake them.
func (l *Log) drainSyncs() error {
	q := l.sq
	if q == nil {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.pending) > 0 || q.busy {
		q.cond.Wait()
	}
	return q.err
}

// syncFailed returns the error of a failed deferred sync, if any.
func (l *Log) syncFailed() error {
	q := l.sq
	if q == nil {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.err
}

// stopSyncer drains the queue and ends the sync goroutine.
func (l *Log) stopSyncer() {
	q := l.sq
	if q == nil {
		return
	}
	q.mu.Lock()
	if !q.stop {
		q.stop = true
		q.cond.Broadcast()
	}
	q.mu.Unlock()
	<-q.done
	if l.sm != nil {
		l.sm.Leave()
	}
}

func (l *Log) syncLoop() {
	q := l.sq
	defer close(q.done)
	q.mu.Lock()
	for {
		for len(q.pending) == 0 && !q.stop {
			q.cond.Wait()
		}
		if len(q.pending) == 0 {
			q.mu.Unlock()
			return
		}
		batch := q.pending
		q.pending = nil
		q.busy = true
		failed := q.err
		q.mu.Unlock()

		err := failed
		if err == nil {
			err = l.syncDeferred(batch)
		}
		if err == nil {
			l.durableEnd.Store(batch[len(batch)-1].end)
			var n int64
			for _, d := range batch {
				n += d.bytes
			}
			l.noteSync(n)
		}
		for _, d := range batch {
			if err == nil {
				if l.cfg.OnStored != nil {
					l.cfg.OnStored(d.logs)
				}
			} else if l.cfg.OnStoreFailed != nil {
				l.cfg.OnStoreFailed(d.logs, err)
			}
		}

		q.mu.Lock()
		if err != nil && q.err == nil {
			q.err = err
			l.log.Error("deferred fsync failed; the log takes no more writes", "dir", l.dir, "err", err)
		}
		q.busy = false
		q.cond.Broadcast()
	}
}

// syncDeferred fsyncs the files the batch was written to: all one file,
// unless a drain was skipped, which would be a bug worth surviving.
func (l *Log) syncDeferred(batch []deferredStore) error {
	entries := 0
	for _, d := range batch {
		entries += commands(d.logs)
	}
	var done *os.File
	for i, d := range batch {
		if d.f == done {
			continue
		}
		var n int64
		for _, e := range batch[i:] {
			if e.f == d.f {
				n += e.bytes
			}
		}
		start := time.Now()
		if err := l.sq.sync(d.f, n, entries); err != nil {
			return err
		}
		entries = 0
		if l.cfg.OnSync != nil {
			l.cfg.OnSync(time.Since(start))
		}
		done = d.f
	}
	return nil
}

// ExpectStore tells the log's SyncGroup, if its syncs are deferred to one,
// that a batch is on its way to this log (see SyncMember.Expect); call it
// before handing the batch to raft, once for each raft command entry.
func (l *Log) ExpectStore() {
	if l.sm != nil {
		l.sm.Expect()
	}
}

// RetractStore takes back an ExpectStore whose batch will not be stored.
func (l *Log) RetractStore() {
	if l.sm != nil {
		l.sm.Retract()
	}
}

// commands counts the raft command entries of logs: the batches that may
// have been announced with ExpectStore.
func commands(logs []*raft.Log) int {
	n := 0
	for _, e := range logs {
		if e.Type == raft.LogCommand {
			n++
		}
	}
	return n
}
