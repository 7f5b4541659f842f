package logstore

import "testing"

// A get that refuses the read (nil) makes ReadWith return nothing, no error.
func TestReadWithRefused(t *testing.T) {
	l := openT(t, t.TempDir(), Config{})
	defer l.Close()
	g := &entryGen{t: t, term: 1}
	mustStore(t, l, g.batch(2, 60, 1))
	called := false
	b, err := l.ReadWith(func(int) []byte { called = true; return nil }, 0, 1<<20, l.EndOffset())
	if err != nil || len(b) != 0 || !called {
		t.Fatalf("refused read: %d bytes, err %v, get called %v", len(b), err, called)
	}
}
