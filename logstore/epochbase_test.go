package logstore

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hashicorp/raft"
)

// With an EpochBase, the leader epochs a log stamps and answers with count
// from it (Kafka's first epoch is 0, a raft group's first leader's term 2),
// while raft reads its own terms back, also after recovery rebuilds the
// raft index from the batches.
func TestEpochBase(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{EpochBase: 2, IndexIntervalBytes: 1}
	l := openT(t, dir, cfg)
	g := &entryGen{t: t, term: 1}
	var es []*raft.Log
	add := func(e *raft.Log) { mustStore(t, l, e); es = append(es, e) }
	add(g.config()) // raft's bootstrap entry, at term 1
	g.term = 2
	add(g.noop())
	add(g.batch(3, 10, 100)) // offsets 0-2, epoch 0
	g.term = 3
	add(g.noop())
	add(g.batch(2, 10, 200)) // offsets 3-4, epoch 1
	g.term = 5
	add(g.noop())
	add(g.batch(1, 10, 300)) // offset 5, epoch 3

	check := func(when string) {
		t.Helper()
		var got []int32
		for _, h := range readAll(t, l, 0) {
			got = append(got, h.PartitionLeaderEpoch)
		}
		if want := []int32{0, 1, 3}; !slices.Equal(got, want) {
			t.Fatalf("%s: batches' leader epochs %v, want %v", when, got, want)
		}
		checkEntries(t, l, es) // raft's terms: 1, 2, 2, 3, 3, 5, 5
		for _, tt := range []struct {
			off  int64
			want int32
		}{{0, 0}, {2, 0}, {3, 1}, {5, 3}} {
			if ep := l.EpochAt(tt.off); ep != tt.want {
				t.Errorf("%s: EpochAt(%d) = %d, want %d", when, tt.off, ep, tt.want)
			}
		}
		for _, tt := range []struct {
			in, ep int32
			end    int64
		}{{0, 0, 3}, {1, 1, 5}, {2, 1, 5}, {3, 3, 6}, {5, 3, 6}} {
			if ep, end := l.EpochEndOffset(tt.in); ep != tt.ep || end != tt.end {
				t.Errorf("%s: EpochEndOffset(%d) = %d %d, want %d %d", when, tt.in, ep, end, tt.ep, tt.end)
			}
		}
	}
	check("written")
	if eps, err := readEpochs(dir); err != nil || !slices.Equal(eps, []epochEntry{{0, 0}, {1, 3}, {3, 5}}) {
		t.Fatalf("epoch checkpoint %v (%v)", eps, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// A crash that took the raft index and the epoch checkpoint: both are
	// rebuilt from the batches, whose epochs give back raft's terms.
	os.Remove(filepath.Join(dir, cleanShutdownFile))
	os.Remove(filepath.Join(dir, leaderEpochFile))
	raftFiles, _ := filepath.Glob(filepath.Join(dir, "*"+extRaft))
	if len(raftFiles) == 0 {
		t.Fatal("no raft index file to remove")
	}
	for _, f := range raftFiles {
		os.Remove(f)
	}
	l = openT(t, dir, cfg)
	defer l.Close()
	check("recovered")

	// A batch below the base would take a negative epoch: refused.
	g.term = 1
	if err := l.StoreLogs([]*raft.Log{g.batch(1, 10, 400)}); err == nil {
		t.Fatal("a batch at a term below the epoch base was stored")
	}
}
