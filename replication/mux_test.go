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

// A stranger that reaches the raft port cannot depose a single voter's
// leader nor truncate its log: hashicorp/raft believes any AppendEntries
// with a higher term (it steps down, then deletes its entries from the
// first claimed one that conflicts), so the streams of single-voter
// groups are refused before raft sees them.
func TestSoloGroupsRefuseStrangersRPCs(t *testing.T) {
	n := startWithTopic(t, "solo", 1)
	p := n.Partition("solo", 0)
	appendValue(t, p)
	waitUntil(t, func() bool { return p.raft.AppliedIndex() >= p.raft.LastIndex() }, "the batch to be applied")

	stranger, err := ListenMux("127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	for _, tc := range []struct {
		group string
		r     *raft.Raft
	}{
		{partitionGroup(p.TopicID, 0), p.raft},
		{controllerGroup, n.controllerRaft},
	} {
		layer, err := stranger.Layer(tc.group)
		if err != nil {
			t.Fatal(err)
		}
		tr := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{Stream: layer, MaxPool: 1, Timeout: 2 * time.Second})
		term, last := tc.r.CurrentTerm(), tc.r.LastIndex()
		req := &raft.AppendEntriesRequest{
			RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("99"), Addr: []byte(stranger.Addr().String())},
			Term:      term + 1,
			Entries:   []*raft.Log{{Index: 1, Term: term + 1, Type: raft.LogNoop}},
		}
		var resp raft.AppendEntriesResponse
		err = tr.AppendEntries("1", raft.ServerAddress(n.RaftAddr()), req, &resp)
		tr.Close()
		if err == nil {
			t.Errorf("%s: a stranger's AppendEntries was answered (success %v)", tc.group, resp.Success)
		}
		if st, tm, li := tc.r.State(), tc.r.CurrentTerm(), tc.r.LastIndex(); st != raft.Leader || tm != term || li != last {
			t.Errorf("%s: after a stranger's AppendEntries: %v, term %d, last index %d; want Leader, %d, %d", tc.group, st, tm, li, term, last)
		}
	}
	if off := appendValue(t, p); off != 1 {
		t.Fatalf("the next record got offset %d, want 1", off)
	}
}
