package logstore

import (
	"testing"
	"time"
)

// Retention deletes segments on the authority of a raft snapshot; with
// deferred syncs that snapshot may cover entries not yet on disk. The
// deletion must wait for them: else a power loss drops the snapshot (past
// the recovered log) while the segments it covered are gone, and raft has
// no snapshot to replay the log from.
func TestRetentionWaitsForDeferredSyncs(t *testing.T) {
	dir := t.TempDir()
	l, _ := openDeferred(t, dir, Config{SegmentBytes: 700})
	defer l.Close()
	g := &entryGen{t: t, term: 1}
	for len(l.segs) < 3 {
		mustStore(t, l, g.batch(2, 60, 1))
	}
	gt := newGate(l)
	mustStore(t, l, g.batch(2, 60, 1)) // deferred, waits on the gate
	<-gt.entered
	last, _ := l.LastIndex()
	time.AfterFunc(300*time.Millisecond, func() { close(gt.release) })
	n, err := l.ApplyRetention(time.Now(), -1, 1, last) // a snapshot at the last entry
	durable, end := l.DurableEnd(), l.EndOffset()
	if err != nil || n == 0 {
		t.Fatalf("retention: %d segments, %v", n, err)
	}
	if durable < end {
		t.Fatalf("retention deleted %d segments while the log was durable to %d of %d", n, durable, end)
	}
}
