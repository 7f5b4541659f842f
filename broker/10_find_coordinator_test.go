package broker

import (
	"strings"
	"testing"

	"github.com/gokafka/gokafka/internal/testlog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// When the first group lookup cannot create __consumer_offsets (here a
// nearly full disk; an open files limit does the same), clients get only a
// retriable COORDINATOR_NOT_AVAILABLE and retry for good: the broker says
// in its log why no group works, once however many lookups fail, and the
// client's message says it once too.
func TestFindCoordinatorWarnsWhenOffsetsTopicCannotBeMade(t *testing.T) {
	dir := t.TempDir()
	free, _, err := diskSpace(dir)
	if err != nil {
		t.Skipf("free space not measured here: %v", err)
	}
	var logs *testlog.Buffer
	b := startBroker(t, dir, func(c *Config) { logs = logTo(c) })
	defer b.Close()
	b.disk.min.Store(free + 1<<40)
	b.disk.measure()

	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version = 3
	req.CoordinatorKey = "g"
	for range 3 {
		resp := rawRequest(t, b, req).(*kmsg.FindCoordinatorResponse)
		if resp.ErrorCode != kerr.CoordinatorNotAvailable.Code {
			t.Fatalf("lookup without an offsets topic: %v, want COORDINATOR_NOT_AVAILABLE", kerr.ErrorForCode(resp.ErrorCode))
		}
		if msg := *resp.ErrorMessage; strings.Count(msg, "creating "+offsetsTopic) != 1 {
			t.Fatalf("client's message says what failed %d times: %q", strings.Count(msg, "creating "), msg)
		}
	}
	if _, ok := b.node.Controller().State().Topics[offsetsTopic]; ok {
		t.Fatal("offsets topic created on a nearly full disk")
	}
	var warns []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "level=WARN") && strings.Contains(l, offsetsTopic) {
			warns = append(warns, l)
		}
	}
	if len(warns) != 1 {
		t.Fatalf("%d warnings naming %s, want 1:\n%s", len(warns), offsetsTopic, logs.String())
	}
}

// A shard this broker leads whose load has not begun (reconcile follows
// leadership changes a moment later) is loading: its group requests get
// COORDINATOR_LOAD_IN_PROGRESS, which clients retry, not NOT_COORDINATOR,
// which told a client the lookup had just pointed here that this broker
// was not the coordinator (an OffsetCommit right after the first
// FindCoordinator failed so, 1 in 60 runs under load). And the first
// lookup answers once the shards are loaded.
func TestCoordinatorShardNotYetLoadingIsLoading(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey = "g"
	if code := request[*kmsg.FindCoordinatorResponse](t, cl, fc).ErrorCode; code != 0 {
		t.Fatalf("find coordinator: %v", kerr.ErrorForCode(code))
	}
	c := b.coord
	if !c.localShardsLoaded() {
		t.Fatal("the first lookup answered before the shards it leads were loaded")
	}
	idx := shardIndex("g", c.numShards())
	c.mu.Lock()
	st := c.shards[idx]
	close(st.cancel)
	st.shard.Close()
	delete(c.shards, idx) // as before reconcile has seen the leadership
	c.mu.Unlock()
	if _, err := c.shardFor("g"); err != kerr.CoordinatorLoadInProgress {
		t.Fatalf("shard led here, not yet loading: %v, want COORDINATOR_LOAD_IN_PROGRESS", err)
	}
	c.reconcile()
	waitFor(t, func() bool { _, err := c.shardFor("g"); return err == nil }, "the shard to load")
}
