package logstore

import (
	"os"
	"testing"
	"time"
)

// A segment's .log keeps the time of its last write when the space
// prepared past its data is cut off (at a roll, at Close, by recovery), as
// Kafka's trim leaves its file's time: that time is what ListOffsets v0
// answers from, and the age retention gives a segment whose records carry
// no timestamp. Cutting the space stamped the file with the time of the
// cut: a segment rolled after a quiet day, or any active segment after a
// restart, looked written a moment ago.
func TestLogMtimeKeptWhenSpaceReleased(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{SegmentBytes: 4096}
	l := openT(t, dir, cfg)
	g := &entryGen{t: t, term: 1}
	mustStore(t, l, g.batch(1, 3000, -1)) // offset 0, no timestamp
	old := time.Now().Add(-2 * time.Minute).Truncate(time.Second)
	age := func(base int64) {
		t.Helper()
		if err := os.Chtimes(segPath(dir, base, extLog), old, old); err != nil {
			t.Fatal(err)
		}
	}
	modified := func(l *Log, i int) int64 {
		t.Helper()
		sts := l.SegmentTimes()
		if len(sts) <= i {
			t.Fatalf("%d segments, want more than %d", len(sts), i)
		}
		return sts[i].ModifiedMs
	}
	age(0)
	// The next batch rolls the segment: only its prepared space is cut.
	mustStore(t, l, g.batch(1, 3000, -1)) // offset 1, segment 1
	if got := modified(l, 0); got != old.UnixMilli() {
		t.Errorf("rolled segment: modified %v, want its last write %v", time.UnixMilli(got), old)
	}
	// Close cuts the active segment's prepared space.
	age(1)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openT(t, dir, cfg)
	if got := modified(l, 1); got != old.UnixMilli() {
		t.Errorf("after Close: active segment modified %v, want its last write %v", time.UnixMilli(got), old)
	}
	// Retention ages these records, which carry no timestamp, by that time.
	if n, err := l.ApplyRetention(time.Now(), time.Minute.Milliseconds(), -1, g.next); n != 2 || err != nil {
		t.Fatalf("retention deleted %d segments (%v), want both, last written 2 minutes ago", n, err)
	}
	// Recovery after a crash cuts the zero-filled space past the data.
	mustStore(t, l, g.batch(1, 100, -1))
	age(2)
	l2 := openT(t, dir, cfg) // l is left open, unclosed: a crash
	defer l2.Close()
	if got := modified(l2, 0); got != old.UnixMilli() {
		t.Errorf("after recovery: modified %v, want its last write %v", time.UnixMilli(got), old)
	}
}
