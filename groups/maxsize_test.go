package groups

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// While a group prepares a rebalance, group.max.size counts the members that
// have rejoined (Kafka's acceptJoiningMember): a new member may take the place
// of one that has not rejoined yet, and the last to rejoin is turned away and
// removed.
func TestMaxSizeCountsRejoinedMembersWhileRebalancing(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxGroupSize = 2 })
	f := e.form("g", 2, false)
	wantCode(t, "new member of a full stable group", e.join(joinReq("g", joinOpt{version: 5})).ErrorCode, kerr.GroupMaxSizeReached)

	leader := e.goJoin(joinReq("g", joinOpt{version: 5, member: f.leader, topics: []string{"t2"}}))
	e.waitJoining("g", 1)
	r := e.join(joinReq("g", joinOpt{version: 5}))
	wantCode(t, "new member while one has rejoined", r.ErrorCode, kerr.MemberIDRequired)
	newcomer := e.goJoin(joinReq("g", joinOpt{version: 5, member: r.MemberID}))
	e.waitJoining("g", 2)

	late := e.join(joinReq("g", joinOpt{version: 5, member: f.members[1]}))
	wantCode(t, "last member to rejoin", late.ErrorCode, kerr.GroupMaxSizeReached)
	if late.MemberID != "" {
		t.Fatalf("rejected member id %q, want empty", late.MemberID)
	}
	// It was the only one missing: the join phase ends without it.
	for _, ch := range []<-chan *kmsg.JoinGroupResponse{leader, newcomer} {
		jr := recv(t, ch)
		wantCode(t, "rejoin", jr.ErrorCode, nil)
		if jr.Generation != f.gen+1 {
			t.Fatalf("generation %d, want %d", jr.Generation, f.gen+1)
		}
	}
	if gi := e.info("g"); gi.Members != 2 {
		t.Fatalf("after rebalance %+v", gi)
	}
	wantCode(t, "removed member", e.heartbeat("g", f.members[1], f.gen+1, nil), kerr.UnknownMemberID)
	// As Kafka, the size is checked before the member id and protocols.
	wantCode(t, "unknown member id", e.join(joinReq("g", joinOpt{version: 5, member: "m"})).ErrorCode, kerr.GroupMaxSizeReached)
	wantCode(t, "other protocol type", e.join(joinReq("g", joinOpt{version: 5, protocols: []string{"sticky"}})).ErrorCode, kerr.GroupMaxSizeReached)
}

// A group loaded with more members than a lowered group.max.size rebalances
// at once and keeps only the members that rejoin first, as Kafka does.
func TestLoadedGroupOverCapacityShrinks(t *testing.T) {
	e := newEnv(t, nil)
	f := e.form("g", 3, false)

	s2 := NewShard(0, Config{Clock: e.clk, Logger: e.s.log, MaxGroupSize: 2}, e.store)
	defer s2.Close()
	s2.Load(e.store.records())
	s2.Loaded()
	e2 := &env{t: t, s: s2, clk: e.clk, store: e.store}
	if gi := e2.info("g"); gi.State != "PreparingRebalance" || gi.Members != 3 {
		t.Fatalf("after load %+v", gi)
	}
	wantCode(t, "heartbeat", e2.heartbeat("g", f.members[2], f.gen, nil), kerr.RebalanceInProgress)
	var chans []<-chan *kmsg.JoinGroupResponse
	for i, id := range f.members[:2] {
		chans = append(chans, e2.goJoin(joinReq("g", joinOpt{version: 5, member: id})))
		e2.waitJoining("g", i+1)
	}
	wantCode(t, "third rejoin", e2.join(joinReq("g", joinOpt{version: 5, member: f.members[2]})).ErrorCode, kerr.GroupMaxSizeReached)
	for _, ch := range chans {
		jr := recv(t, ch)
		wantCode(t, "rejoin", jr.ErrorCode, nil)
		if jr.Generation != f.gen+1 {
			t.Fatalf("generation %d, want %d", jr.Generation, f.gen+1)
		}
	}
	if gi := e2.info("g"); gi.Members != 2 || gi.State != "CompletingRebalance" {
		t.Fatalf("after rebalance %+v", gi)
	}
}

// A static member restarting (no member id, known instance id) replaces
// itself in a full Stable group instead of being turned away.
func TestMaxSizeStaticReplacementInFullGroup(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxGroupSize = 2 })
	f := e.form("g", 2, true)
	r := e.join(joinReq("g", joinOpt{version: 5, instance: kmsg.StringPtr("inst-1")}))
	wantCode(t, "static restart", r.ErrorCode, nil)
	if r.Generation != f.gen || r.MemberID == f.members[1] {
		t.Fatalf("static restart %+v", r)
	}
	wantCode(t, "new static member", e.join(joinReq("g", joinOpt{version: 5, instance: kmsg.StringPtr("inst-9")})).ErrorCode, kerr.GroupMaxSizeReached)
}
