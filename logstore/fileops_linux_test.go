package logstore

import "testing"

func TestParseDirty(t *testing.T) {
	got, ok := parseDirty([]byte("MemTotal:       24000000 kB\nDirty:              2908 kB\nWriteback:            12 kB\nAnonPages: 5 kB\n"))
	if !ok || got != (2908+12)<<10 {
		t.Fatalf("parseDirty = %d, %v", got, ok)
	}
	if _, ok := parseDirty([]byte("Dirty: 1 kB\n")); ok {
		t.Fatal("parsed meminfo without Writeback")
	}
	if _, ok := dirtyBytes(); !ok {
		t.Fatal("cannot read this system's /proc/meminfo")
	}
}

func TestKernelAtLeast(t *testing.T) {
	for _, c := range []struct {
		rel  string
		want bool
	}{{"6.18.44-fc-v1147", true}, {"5.8.0", true}, {"5.7.19-generic", false}, {"4.19.0", false}, {"junk", false}} {
		if got := kernelAtLeast(c.rel, 5, 8); got != c.want {
			t.Errorf("kernelAtLeast(%q) = %v", c.rel, got)
		}
	}
}
