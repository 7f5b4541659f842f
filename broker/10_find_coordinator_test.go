package broker

import (
	"strings"
	"testing"

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
	var logs *syncBuffer
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
