package logstore

import (
	"testing"
)

// A lookup by time starts no earlier than the index point of the log start
// offset, as Kafka's LogSegment.findOffsetByTimestamp starts at
// max(time index offset, log start offset): after DeleteRecords deep into a
// segment, the batches below the start are not read again by every
// ListOffsets by time, under the log's read lock. An unreadable batch below
// the start shows whether they are.
func TestOffsetForTimeSkipsBatchesBelowStart(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Config{IndexIntervalBytes: 1})
	defer l.Close()
	g := &entryGen{t: t, term: 1}
	for i := range 20 {
		mustStore(t, l, g.batch(1, 100, int64(1000+i))) // offset i, timestamp 1000+i
	}
	if err := l.SetStartOffset(15); err != nil {
		t.Fatal(err)
	}
	// Spoil the first batch's magic: it lies below the start, never read.
	if _, err := l.segs[0].logF.WriteAt([]byte{0}, offMagic); err != nil {
		t.Fatal(err)
	}
	for _, ts := range []int64{0, 1000, 1015, 1017} {
		want := max(15, ts-1000)
		if off, got, ok := l.OffsetForTime(ts); !ok || off != want || got != 1000+want {
			t.Errorf("OffsetForTime(%d) = %d %d %v, want %d %d true", ts, off, got, ok, want, 1000+want)
		}
	}
}
