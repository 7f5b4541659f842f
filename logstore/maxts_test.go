package logstore

import (
	"testing"

	"github.com/hashicorp/raft"
)

// ListOffsets -3 (KIP-734) after DeleteRecords moved the log start past the
// record with the largest timestamp: the answer is the record with the
// largest timestamp among those still in the log, not none.
func TestMaxTimestampBelowStartOffset(t *testing.T) {
	l := openT(t, t.TempDir(), Config{})
	defer l.Close()
	mk := func(idx uint64, tb testBatch) *raft.Log {
		return &raft.Log{Index: idx, Term: 1, Type: raft.LogCommand, Data: makeBatch(t, tb)}
	}
	mustStore(t, l,
		mk(1, testBatch{ts0: 5000, n: 1}),              // offset 0, ts 5000
		mk(2, testBatch{ts0: 900, tsStep: -100, n: 3}), // offsets 1-3, ts 900,800,700
		mk(3, testBatch{ts0: 100, tsStep: 1, n: 2}),    // offsets 4-5, ts 100,101
	)
	if err := l.SetStartOffset(1); err != nil {
		t.Fatal(err)
	}
	if off, ts, ok := l.MaxTimestamp(); !ok || off != 1 || ts != 900 {
		t.Errorf("start 1: MaxTimestamp = %d %d %v, want 1 900 true", off, ts, ok)
	}
	// The start inside a batch: its records below the start do not count.
	if err := l.SetStartOffset(2); err != nil {
		t.Fatal(err)
	}
	if off, ts, ok := l.MaxTimestamp(); !ok || off != 2 || ts != 800 {
		t.Errorf("start 2: MaxTimestamp = %d %d %v, want 2 800 true", off, ts, ok)
	}
}
