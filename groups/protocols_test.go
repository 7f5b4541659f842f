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
	// Linear, the joins took 1 s under -race, and 7 s with the machine
	// loaded; quadratic, the first alone took over 40 s. The waits and
	// the bound leave room for the first and none for the second.
	const within, bound = time.Minute, 20 * time.Second
	req := func() *kmsg.JoinGroupRequest {
		r := joinReq("g", joinOpt{version: 3})
		r.Protocols = nil
		for i := range n {
			r.Protocols = append(r.Protocols, kmsg.JoinGroupRequestProtocol{Name: fmt.Sprintf("p-%d", i)})
		}
		return r
	}
	first := recvWithin(t, e.goJoin(req()), within)
	wantCode(t, "first join", first.ErrorCode, nil)
	// Built before the clock starts: only the joins are timed.
	join2 := req()
	rejoin := joinReq("g", joinOpt{version: 3, member: first.MemberID})
	rejoin.Protocols = req().Protocols
	start := time.Now()
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { ch <- e.s.JoinGroup(context.Background(), join2, "client", "/127.0.0.1") }()
	waitUntilWithin(t, "the second member to await join", within, func() bool { return e.awaitingJoin("g") == 1 })
	// The second join started a rebalance; the first member rejoins.
	again := recvWithin(t, e.goJoin(rejoin), within)
	wantCode(t, "rejoin", again.ErrorCode, nil)
	second := recvWithin(t, ch, within)
	wantCode(t, "second join", second.ErrorCode, nil)
	if second.Protocol == nil || *second.Protocol != "p-0" {
		t.Fatalf("protocol %v, want p-0", second.Protocol)
	}
	if took := time.Since(start); took > bound {
		t.Fatalf("two members of %d protocols took %v to join", n, took)
	}
}
