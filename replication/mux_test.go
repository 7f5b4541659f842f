package replication

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// Two muxes carry streams of several groups over one connection each way,
// and each stream reaches its own group's layer.
func TestMuxRoutesStreamsByGroup(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := ListenMux("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := ListenMux("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	groups := []string{"g1", "g2", "g3"}
	var wg sync.WaitGroup
	for _, g := range groups {
		la, err := a.Layer(g)
		if err != nil {
			t.Fatal(err)
		}
		lb, err := b.Layer(g)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := lb.Accept()
			if err != nil {
				t.Errorf("accept %s: %v", g, err)
				return
			}
			defer c.Close()
			buf := make([]byte, len(g))
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != g {
				t.Errorf("group %s got %q (%v)", g, buf, err)
			}
		}()
		c, err := la.Dial(raft.ServerAddress(b.Addr().String()), time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte(g)); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	wg.Wait()
	a.mu.Lock()
	n := len(a.sessions)
	a.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d sessions to one peer, want 1 shared connection", n)
	}
	// A second layer for a registered group is refused.
	if _, err := a.Layer("g1"); err == nil {
		t.Fatal("duplicate group layer accepted")
	}
}
