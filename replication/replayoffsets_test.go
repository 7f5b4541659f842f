package replication

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/gokafka/gokafka/logstore"
)

// TestRetryAfterReplayOverDamagedOffsetDelta: a batch in a sealed segment
// whose last offset delta the disk changed (a bit flip under its CRC,
// which a start does not read for sealed segments) is replayed after a
// crash. The partition's applied state must keep the offsets the log holds,
// the batches' own base offsets, as Kafka rebuilds producer state from
// them: a retry of the last batch acknowledged before the crash is answered
// with the offset it was stored at, and the next batch goes at the log's
// end. Before, the state counted offsets from the damaged delta, and the
// retry was answered an offset two before its own for ever after.
func TestRetryAfterReplayOverDamagedOffsetDelta(t *testing.T) {
	dir := t.TempDir()
	// Every batch indexed: a start checks a sealed segment's batches
	// after its last index point only.
	n, cfg := startWithLogConfig(t, dir, 1, logstore.Config{SegmentBytes: 2048, IndexIntervalBytes: 1})
	p := n.Partition("t", 0)
	now := time.Now().UnixMilli()
	batch := func(seq int32) []byte {
		return logstore.AppendBatch(nil, logstore.BatchOptions{ProducerID: 9, BaseSequence: seq, FirstTimestamp: now},
			[]logstore.Record{{Value: make([]byte, 100)}, {Value: make([]byte, 100)}, {Value: make([]byte, 100)}})
	}
	appendSeq := func(p *Partition, seq int32) int64 {
		t.Helper()
		b := batch(seq)
		h, _ := logstore.ParseBatchHeader(b)
		off, err := p.Append(b, h).Wait()
		if err != nil {
			t.Fatalf("append seq %d: %v", seq, err)
		}
		return off
	}
	var last int64
	const batches = 20
	for seq := range int32(batches) {
		if last = appendSeq(p, 3*seq); last != int64(3*seq) {
			t.Fatalf("seq %d appended at %d", seq, last)
		}
	}
	waitUntil(t, func() bool { return p.raft.AppliedIndex() >= p.raft.LastIndex() }, "applied")
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash instead: no clean-shutdown marker, no snapshot taken at the
	// stop, so every entry is replayed from the log.
	pdir := filepath.Join(dir, "t-0")
	os.Remove(filepath.Join(pdir, "clean-shutdown"))
	snaps, _ := filepath.Glob(filepath.Join(pdir, "snapshots", "snapshots", "*"))
	for _, s := range snaps {
		os.RemoveAll(s)
	}
	logs, _ := filepath.Glob(filepath.Join(pdir, "*.log"))
	sort.Strings(logs)
	if len(logs) < 3 {
		t.Fatalf("want several segments, have %v", logs)
	}
	// The second batch of the first (sealed) segment: its last offset
	// delta becomes 0, as if it held one record.
	f, err := os.OpenFile(logs[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var hdr [12]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		t.Fatal(err)
	}
	second := 12 + int64(binary.BigEndian.Uint32(hdr[8:]))
	var delta [4]byte
	if _, err := f.WriteAt(delta[:], second+23); err != nil {
		t.Fatal(err)
	}
	f.Close()

	n = startReady(t, cfg, "t")
	defer n.Close()
	p = n.Partition("t", 0)
	if got := appendSeq(p, 3*(batches-1)); got != last {
		t.Errorf("retry of the last batch answered offset %d, want its own %d", got, last)
	}
	if got := appendSeq(p, 3*batches); got != 3*batches {
		t.Errorf("next batch appended at %d, want %d", got, 3*batches)
	}
	if got := appendSeq(p, 3*batches); got != 3*batches {
		t.Errorf("retry of the next batch answered offset %d, want %d", got, 3*batches)
	}
}
