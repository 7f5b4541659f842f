package replication

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

func TestProducerChecks(t *testing.T) {
	m := producerMap{}
	m.record(1, 0, batchMeta{FirstSeq: 0, LastSeq: 4, BaseOffset: 10})
	m.record(1, 0, batchMeta{FirstSeq: 5, LastSeq: 9, BaseOffset: 15})
	for _, tc := range []struct {
		name        string
		id          int64
		epoch       int16
		first, last int32
		dup         int64 // base offset of the duplicate, -1 none
		err         error
	}{
		{"next in sequence", 1, 0, 10, 12, -1, nil},
		{"duplicate of the last", 1, 0, 5, 9, 15, nil},
		{"duplicate of an older one", 1, 0, 0, 4, 10, nil},
		{"gap", 1, 0, 11, 12, -1, kerr.OutOfOrderSequenceNumber},
		{"overlap that is no duplicate", 1, 0, 3, 6, -1, kerr.OutOfOrderSequenceNumber},
		{"old epoch", 1, -1, 10, 10, -1, kerr.InvalidProducerEpoch},
		{"new epoch from zero", 1, 1, 0, 3, -1, nil},
		{"new epoch not from zero", 1, 1, 4, 6, -1, kerr.OutOfOrderSequenceNumber},
		{"unknown producer at any sequence", 2, 0, 77, 80, -1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dup, err := m.check(tc.id, tc.epoch, tc.first, tc.last)
			if err != tc.err {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			switch {
			case tc.dup < 0 && dup != nil:
				t.Fatalf("unexpected duplicate %+v", dup)
			case tc.dup >= 0 && (dup == nil || dup.BaseOffset != tc.dup):
				t.Fatalf("duplicate %+v, want base %d", dup, tc.dup)
			}
		})
	}
}

func TestProducerStateKeepsFiveBatches(t *testing.T) {
	m := producerMap{}
	for i := int32(0); i < 8; i++ {
		m.record(3, 0, batchMeta{FirstSeq: i, LastSeq: i, BaseOffset: int64(i)})
	}
	if n := len(m[3].Batches); n != maxBatchesPerProducer {
		t.Fatalf("%d batches kept", n)
	}
	if dup, _ := m.check(3, 0, 2, 2); dup != nil {
		t.Fatal("batch older than the last five still found")
	}
	if dup, _ := m.check(3, 0, 7, 7); dup == nil || dup.BaseOffset != 7 {
		t.Fatal("latest batch not found")
	}
	// A new epoch forgets the old batches.
	m.record(3, 1, batchMeta{FirstSeq: 0, LastSeq: 0, BaseOffset: 8})
	if p := m[3]; p.Epoch != 1 || len(p.Batches) != 1 {
		t.Fatalf("after epoch bump: %+v", p)
	}
	// Sequence numbers wrap at 2^31.
	m.record(4, 0, batchMeta{FirstSeq: 1<<31 - 2, LastSeq: 1<<31 - 1})
	if _, err := m.check(4, 0, 0, 3); err != nil {
		t.Fatalf("wrapped sequence refused: %v", err)
	}
	if got := lastSeqOf(1<<31-2, 3); got != 1 {
		t.Fatalf("lastSeqOf wraps to %d", got)
	}
}

// expire forgets producers whose last batch is older than the cutoff, and
// those whose timestamp was never kept, but not one with a batch in raft.
func TestProducerMapExpire(t *testing.T) {
	m := producerMap{}
	m.record(1, 0, batchMeta{MaxTimestamp: 100})
	m.record(2, 0, batchMeta{MaxTimestamp: 100})
	m.record(2, 0, batchMeta{FirstSeq: 1, LastSeq: 1, MaxTimestamp: 300}) // its last batch counts
	m.record(3, 0, batchMeta{MaxTimestamp: 100, pending: newAppendCall()})
	m.record(4, 0, batchMeta{}) // state saved before timestamps were kept
	if n := m.expire(200); n != 2 || m[1] != nil || m[4] != nil || m[2] == nil || m[3] == nil {
		t.Fatalf("expire forgot %d, left %v", n, m)
	}
}
