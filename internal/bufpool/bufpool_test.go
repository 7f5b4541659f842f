package bufpool

import "testing"

func TestClasses(t *testing.T) {
	for _, tc := range []struct{ n, wantCap int }{
		{0, 0},
		{100, 100},
		{64 << 10, 64 << 10},
		{64<<10 + 1, 128 << 10},
		{1 << 20, 1 << 20},
		{6<<20 + 12, 8 << 20},
		{64 << 20, 64 << 20},
		{64<<20 + 1, 64<<20 + 1},
	} {
		b := Get(tc.n)
		if len(b) != 0 || cap(b) != tc.wantCap {
			t.Errorf("Get(%d): len %d cap %d, want 0 and %d", tc.n, len(b), cap(b), tc.wantCap)
		}
		Put(b)
	}
}

func TestReuse(t *testing.T) {
	// A returned buffer comes back empty; one resliced to a capacity that
	// is not a class size is not taken.
	b := append(Get(200<<10), 1, 2, 3)
	Put(b)
	Put(make([]byte, 0, 200<<10))
	Put(b[1:])
	for range 3 {
		if c := Get(200 << 10); len(c) != 0 || cap(c) != 256<<10 {
			t.Fatalf("reused buffer: len %d cap %d", len(c), cap(c))
		}
	}
}
