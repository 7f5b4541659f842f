package groups

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// A JoinGroup may list as many protocols as a request holds. Checking which
// are common to the members takes time in proportion to the protocols, as
// Kafka's count per protocol does, not to their product, which the shard
// computed under its lock, stalling every group of the shard for seconds.
func TestJoinManyProtocolsIsLinear(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.InitialRebalanceDelay = -1 })
	const n = 40000
	req := func() *kmsg.JoinGroupRequest {
		r := joinReq("g", joinOpt{version: 3})
		r.Protocols = nil
		for i := range n {
			r.Protocols = append(r.Protocols, kmsg.JoinGroupRequestProtocol{Name: fmt.Sprintf("p-%d", i)})
		}
		return r
	}
	first := e.join(req())
	wantCode(t, "first join", first.ErrorCode, nil)
	start := time.Now()
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { ch <- e.s.JoinGroup(context.Background(), req(), "client", "/127.0.0.1") }()
	e.waitJoining("g", 1)
	// The second join started a rebalance; the first member rejoins.
	r := joinReq("g", joinOpt{version: 3, member: first.MemberID})
	r.Protocols = req().Protocols
	again := e.join(r)
	wantCode(t, "rejoin", again.ErrorCode, nil)
	second := recv(t, ch)
	wantCode(t, "second join", second.ErrorCode, nil)
	if second.Protocol == nil || *second.Protocol != "p-0" {
		t.Fatalf("protocol %v, want p-0", second.Protocol)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("two members of %d protocols took %v to join", n, took)
	}
}
