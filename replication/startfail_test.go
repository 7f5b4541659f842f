package replication

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// A start that fails once the controller's raft transport is made (here
// raft cannot load the metadata's damaged snapshot) leaves no goroutine
// behind: the transport's accept loop, left running on the closed mux,
// logged "failed to accept connection" every second for good.
func TestFailedControllerStartLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	n, _ := startNodeT(t, dir)
	if err := n.controllerRaft.Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	states, _ := filepath.Glob(filepath.Join(dir, "controller-snapshots", "snapshots", "*", "state.bin"))
	if len(states) == 0 {
		t.Fatal("no controller snapshot")
	}
	for _, s := range states {
		if err := os.WriteFile(s, []byte("damaged"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	opts := goleak.IgnoreCurrent()
	n, err := StartNode(Config{NodeID: 1, DataDir: dir, RaftListen: "127.0.0.1:0"})
	if err == nil {
		n.Close()
		t.Fatal("started on a damaged controller snapshot")
	}
	if !strings.Contains(err.Error(), "controller raft") {
		t.Errorf("start failed with %v; want the controller's raft named", err)
	}
	goleak.VerifyNone(t, opts)
}
