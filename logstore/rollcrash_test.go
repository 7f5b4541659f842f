package logstore

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// A power loss in the middle of a roll: the new segment's files exist (its
// sidecar header and the directory entry were synced) but the last batch
// written to the previous segment was not synced and is torn. Recovery
// must cut that batch as it cuts a torn tail, not keep it with a bad CRC:
// it was never acknowledged, and the new segment holds nothing.
func TestRecoverTornTailBeforeEmptyNewSegment(t *testing.T) {
	for _, raftIdx := range []string{"stale", "written"} {
		t.Run(raftIdx, func(t *testing.T) {
			dir := t.TempDir()
			cfg := Config{SegmentBytes: 700}
			l := openT(t, dir, cfg)
			g := &entryGen{t: t, term: 1}
			var all []*raft.Log
			for len(l.segs) < 2 {
				e := g.batch(2, 60, 1)
				mustStore(t, l, e)
				all = append(all, cloneEntry(e))
			}
			old, cur := l.segs[0], l.segs[1]
			if cur.nraft != 1 {
				t.Fatalf("new segment holds %d entries", cur.nraft)
			}
			// The new segment as createSegment left it: headers only.
			oldLog, oldRaft := old.path(extLog), old.path(extRaft)
			newLog, newMeta, newRaft := cur.path(extLog), cur.path(extRaftMeta), cur.path(extRaft)
			lastOld := all[len(all)-2] // the last batch of the old segment
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			os.Remove(filepath.Join(dir, cleanShutdownFile))
			for _, c := range []struct {
				p    string
				size int64
			}{{newLog, 0}, {newMeta, metaHdrSize}, {newRaft, raftHdrSize}} {
				if err := os.Truncate(c.p, c.size); err != nil {
					t.Fatal(err)
				}
			}
			// Tear the old segment's last batch: its last bytes never
			// reached the disk.
			fi, _ := os.Stat(oldLog)
			f, _ := os.OpenFile(oldLog, os.O_RDWR, 0)
			f.WriteAt(make([]byte, 30), fi.Size()-30)
			f.Close()
			if raftIdx == "stale" {
				rf, _ := os.Stat(oldRaft)
				os.Truncate(oldRaft, rf.Size()-raftRecSize)
			}

			l = openT(t, dir, cfg)
			defer l.Close()
			li, _ := l.LastIndex()
			if li != lastOld.Index-1 {
				t.Errorf("LastIndex %d, want %d (the torn batch %d cut)", li, lastOld.Index-1, lastOld.Index)
			}
			if _, err := os.Stat(filepath.Join(dir, corruptFile)); err == nil {
				t.Errorf("the torn batch was recorded as corrupt at rest and kept")
			}
			readAll(t, l, 0) // fails on a batch with a bad CRC
		})
	}
}

// A segment's files appear only once every earlier segment is durable: with
// deferred syncs, a roll must not create the new segment while the
// previous segment's last writes are still waiting for their fsync, or a
// power loss then leaves a torn batch in a segment that is not the last.
func TestRollCreatesSegmentAfterDeferredSyncs(t *testing.T) {
	dir := t.TempDir()
	l, _ := openDeferred(t, dir, Config{SegmentBytes: 700})
	defer l.Close()
	g := &entryGen{t: t, term: 1}
	mustStore(t, l, g.batch(2, 60, 1)) // creates the segment: synced at once
	gt := newGate(l)
	mustStore(t, l, g.batch(2, 60, 1)) // deferred; its fsync waits on the gate
	<-gt.entered
	var next *raft.Log
	for {
		next = g.batch(2, 60, 1)
		if l.segs[0].logSize+int64(len(next.Data)) > 700 {
			break
		}
		mustStore(t, l, next) // joins the queue
	}
	base := l.EndOffset()
	done := make(chan error, 1)
	go func() { done <- l.StoreLogs([]*raft.Log{next}) }()
	created := false
	for deadline := time.Now().Add(300 * time.Millisecond); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(segPath(dir, base, extRaftMeta)); err == nil {
			created = true
			break
		}
	}
	close(gt.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if created {
		t.Fatal("the new segment's files were created while the previous segment had unsynced writes")
	}
}
