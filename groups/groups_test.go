package groups

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestJoinOneMemberWaitsInitialDelay(t *testing.T) {
	e := newEnv(t, nil)
	ch := e.goJoin(joinReq("g", joinOpt{version: 3}))
	e.waitJoining("g", 1)
	notYet(t, ch)
	e.clk.Advance(initialDelay - time.Millisecond)
	notYet(t, ch)
	e.clk.Advance(time.Millisecond)
	r := recv(t, ch)
	wantCode(t, "join", r.ErrorCode, nil)
	if r.Generation != 1 || r.LeaderID != r.MemberID || len(r.Members) != 1 || *r.Protocol != "range" {
		t.Fatalf("unexpected join response %+v", r)
	}
	if !strings.HasPrefix(r.MemberID, "client-") {
		t.Fatalf("member id %q", r.MemberID)
	}
	if gi := e.info("g"); gi.State != "CompletingRebalance" || gi.Generation != 1 {
		t.Fatalf("group %+v", gi)
	}
	sr := recv(t, e.goSync(syncReq("g", r.MemberID, 1, map[string]string{r.MemberID: "x"})))
	wantCode(t, "sync", sr.ErrorCode, nil)
	if string(sr.MemberAssignment) != "x" || e.info("g").State != "Stable" {
		t.Fatalf("sync %+v, group %+v", sr, e.info("g"))
	}
	if n := len(e.store.records()); n != 1 {
		t.Fatalf("%d records stored, want the group metadata", n)
	}
}

func TestInitialDelayExtendedByNewMembers(t *testing.T) {
	e := newEnv(t, nil)
	a := e.goJoin(joinReq("g", joinOpt{version: 3}))
	e.waitJoining("g", 1)
	e.clk.Advance(2 * time.Second)
	b := e.goJoin(joinReq("g", joinOpt{version: 3}))
	e.waitJoining("g", 2)
	e.clk.Advance(time.Second) // first delay ends; b arrived, so it is extended
	notYet(t, a)
	e.clk.Advance(initialDelay)
	ra, rb := recv(t, a), recv(t, b)
	if ra.Generation != 1 || rb.Generation != 1 || len(ra.Members) != 2 || len(rb.Members) != 0 {
		t.Fatalf("responses %+v %+v", ra, rb)
	}
}

func TestMemberIDRequired(t *testing.T) {
	e := newEnv(t, nil)
	r := e.join(joinReq("g", joinOpt{version: 4}))
	wantCode(t, "first join", r.ErrorCode, kerr.MemberIDRequired)
	if !strings.HasPrefix(r.MemberID, "client-") {
		t.Fatalf("member id %q", r.MemberID)
	}
	ch := e.goJoin(joinReq("g", joinOpt{version: 4, member: r.MemberID}))
	e.waitJoining("g", 1)
	e.clk.Advance(initialDelay)
	r2 := recv(t, ch)
	wantCode(t, "second join", r2.ErrorCode, nil)
	if r2.MemberID != r.MemberID || r2.Generation != 1 {
		t.Fatalf("join %+v", r2)
	}

	// A pending id not used within the session timeout is forgotten.
	r3 := e.join(joinReq("g", joinOpt{version: 7}))
	wantCode(t, "pending", r3.ErrorCode, kerr.MemberIDRequired)
	e.clk.Advance(10 * time.Second)
	r4 := e.join(joinReq("g", joinOpt{version: 7, member: r3.MemberID}))
	wantCode(t, "expired pending", r4.ErrorCode, kerr.UnknownMemberID)
}

func TestThreeMembersJoinAndSync(t *testing.T) {
	e := newEnv(t, nil)
	f := e.form("g", 3, false)
	if f.gen != 1 {
		t.Fatalf("generation %d", f.gen)
	}
	d := e.s.DescribeGroup("g")
	if d.State != "Stable" || d.Protocol != "range" || d.ProtocolType != "consumer" || len(d.Members) != 3 {
		t.Fatalf("describe %+v", d)
	}
	for i, m := range d.Members {
		if m.MemberID != f.members[i] || string(m.MemberAssignment) != "a-"+m.MemberID || len(m.ProtocolMetadata) == 0 {
			t.Fatalf("member %d: %+v", i, m)
		}
	}
	// A follower that rejoins unchanged gets the current generation.
	r := e.join(joinReq("g", joinOpt{version: 5, member: f.members[1]}))
	if r.ErrorCode != 0 || r.Generation != f.gen || len(r.Members) != 0 || e.info("g").State != "Stable" {
		t.Fatalf("rejoin %+v state %s", r, e.info("g").State)
	}
	// Sync in Stable returns the current assignment.
	sr := recv(t, e.goSync(syncReq("g", f.members[2], f.gen, nil)))
	if sr.ErrorCode != 0 || string(sr.MemberAssignment) != "a-"+f.members[2] {
		t.Fatalf("stable sync %+v", sr)
	}
}

func TestHeartbeatRebalanceInProgressWhenMemberJoins(t *testing.T) {
	e := newEnv(t, nil)
	f := e.form("g", 3, false)
	wantCode(t, "stable heartbeat", e.heartbeat("g", f.members[1], f.gen, nil), nil)

	fourth := e.goJoin(joinReq("g", joinOpt{version: 3}))
	e.waitJoining("g", 1)
	for _, id := range f.members {
		wantCode(t, "heartbeat "+id, e.heartbeat("g", id, f.gen, nil), kerr.RebalanceInProgress)
	}
	wantCode(t, "sync while preparing", recv(t, e.goSync(syncReq("g", f.members[1], f.gen, nil))).ErrorCode, kerr.RebalanceInProgress)

	var chans []<-chan *kmsg.JoinGroupResponse
	for i, id := range f.members {
		chans = append(chans, e.goJoin(joinReq("g", joinOpt{version: 5, member: id})))
		if i < 2 {
			e.waitJoining("g", i+2)
		}
	}
	// The last rejoin completes the join phase without waiting for a timer.
	for _, ch := range append(chans, fourth) {
		r := recv(t, ch)
		wantCode(t, "rejoin", r.ErrorCode, nil)
		if r.Generation != 2 || r.LeaderID != f.leader {
			t.Fatalf("rejoin %+v", r)
		}
		if r.MemberID == f.leader && len(r.Members) != 4 {
			t.Fatalf("leader sees %d members", len(r.Members))
		}
	}
	wantCode(t, "old generation", e.heartbeat("g", f.members[1], f.gen, nil), kerr.IllegalGeneration)
	wantCode(t, "completing", e.heartbeat("g", f.members[1], 2, nil), nil)
}

func TestSessionTimeoutEvictsAndRebalances(t *testing.T) {
	e := newEnv(t, nil)
	f := e.form("g", 2, false)
	e.clk.Advance(6 * time.Second)
	wantCode(t, "heartbeat", e.heartbeat("g", f.members[0], f.gen, nil), nil)
	e.clk.Advance(5 * time.Second) // member 1's session (10s) ends
	if gi := e.info("g"); gi.State != "PreparingRebalance" || gi.Members != 1 {
		t.Fatalf("after expiry %+v", gi)
	}
	wantCode(t, "evicted heartbeat", e.heartbeat("g", f.members[1], f.gen, nil), kerr.UnknownMemberID)
	wantCode(t, "survivor heartbeat", e.heartbeat("g", f.members[0], f.gen, nil), kerr.RebalanceInProgress)
	r := e.join(joinReq("g", joinOpt{version: 5, member: f.members[0]}))
	if r.ErrorCode != 0 || r.Generation != 2 || len(r.Members) != 1 {
		t.Fatalf("rejoin %+v", r)
	}
	formed{group: "g", gen: 2, leader: f.members[0], members: f.members[:1]}.sync(e)

	// The last member expiring empties the group, which is persisted.
	before := len(e.store.records())
	e.clk.Advance(10 * time.Second)
	if gi := e.info("g"); gi.State != "Empty" || gi.Members != 0 || gi.Generation != 3 {
		t.Fatalf("after last expiry %+v", gi)
	}
	recs := e.store.records()
	if len(recs) != before+1 {
		t.Fatalf("stored %d records, want %d", len(recs), before+1)
	}
	d, err := decodeRecord(recs[len(recs)-1])
	if err != nil || d.meta == nil || len(d.meta.Members) != 0 || d.meta.Generation != 3 {
		t.Fatalf("empty group record %+v %v", d.meta, err)
	}
}

func TestRebalanceTimeoutDropsMembersThatDoNotRejoin(t *testing.T) {
	e := newEnv(t, nil)
	f := e.form("g", 2, false) // session 10s, rebalance 20s
	ch := e.goJoin(joinReq("g", joinOpt{version: 5, member: f.leader}))
	e.waitJoining("g", 1)
	// The follower keeps heartbeating but never rejoins.
	for range 3 {
		e.clk.Advance(6 * time.Second)
		wantCode(t, "heartbeat", e.heartbeat("g", f.members[1], f.gen, nil), kerr.RebalanceInProgress)
	}
	notYet(t, ch)
	e.clk.Advance(2 * time.Second)
	r := recv(t, ch)
	if r.ErrorCode != 0 || r.Generation != 2 || len(r.Members) != 1 {
		t.Fatalf("join after rebalance timeout %+v", r)
	}
	wantCode(t, "dropped member", e.heartbeat("g", f.members[1], f.gen, nil), kerr.UnknownMemberID)
}

func TestPendingSyncTimeout(t *testing.T) {
	e := newEnv(t, nil)
	chans := []<-chan *kmsg.JoinGroupResponse{e.goJoin(joinReq("g", joinOpt{version: 3}))}
	e.waitJoining("g", 1)
	chans = append(chans, e.goJoin(joinReq("g", joinOpt{version: 3})))
	e.waitJoining("g", 2)
	e.endInitialDelay(2)
	leader, follower := recv(t, chans[0]), recv(t, chans[1])
	fs := e.goSync(syncReq("g", follower.MemberID, 1, nil))
	waitUntil(t, "follower waits", func() bool { return e.awaitingSync("g") == 1 })
	// The leader never syncs: after the rebalance timeout it is removed.
	e.clk.Advance(20 * time.Second)
	wantCode(t, "follower sync", recv(t, fs).ErrorCode, kerr.RebalanceInProgress)
	wantCode(t, "leader", e.heartbeat("g", leader.MemberID, 1, nil), kerr.UnknownMemberID)
}

// A leader that dies between JoinGroup and SyncGroup takes only itself out:
// the follower waiting in SyncGroup was alive all along, so its session
// starts again when the rebalance answers it, as Kafka re-arms it, and it
// rejoins under its member id. Its timer, set with the leader's, used to
// expire it in the same instant, emptying the group.
func TestLeaderDeathSparesWaitingFollower(t *testing.T) {
	e := newEnv(t, nil)
	var chans []<-chan *kmsg.JoinGroupResponse
	var ids []string
	for i := range 2 {
		r := e.join(joinReq("g", joinOpt{version: 5}))
		wantCode(t, "first join", r.ErrorCode, kerr.MemberIDRequired)
		ids = append(ids, r.MemberID)
		chans = append(chans, e.goJoin(joinReq("g", joinOpt{version: 5, member: r.MemberID})))
		e.waitJoining("g", i+1)
	}
	e.endInitialDelay(2)
	for _, ch := range chans {
		wantCode(t, "join", recv(t, ch).ErrorCode, nil)
	}
	fs := e.goSync(syncReq("g", ids[1], 1, nil))
	waitUntil(t, "follower waits", func() bool { return e.awaitingSync("g") == 1 })
	// The leader never syncs nor heartbeats: its session (10s) ends.
	e.clk.Advance(10 * time.Second)
	wantCode(t, "follower sync", recv(t, fs).ErrorCode, kerr.RebalanceInProgress)
	if gi := e.info("g"); gi.State != "PreparingRebalance" || gi.Members != 1 {
		t.Fatalf("after the leader's expiry %+v, want the follower rebalancing alone", gi)
	}
	r := e.join(joinReq("g", joinOpt{version: 5, member: ids[1]}))
	if r.ErrorCode != 0 || r.Generation != 2 || r.LeaderID != ids[1] {
		t.Fatalf("follower rejoin %+v", r)
	}
}

func TestLeaveGroup(t *testing.T) {
	tests := []struct {
		name    string
		version int16
	}{{"v0 single", 0}, {"v2 single", 2}, {"v3 batch", 3}, {"v5 batch", 5}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, nil)
			f := e.form("g", 3, true)
			req := kmsg.NewPtrLeaveGroupRequest()
			req.Version, req.Group = tt.version, "g"
			if tt.version < 3 {
				req.MemberID = f.members[2]
				resp := e.s.LeaveGroup(context.Background(), req)
				wantCode(t, "leave", resp.ErrorCode, nil)
				if gi := e.info("g"); gi.Members != 2 || gi.State != "PreparingRebalance" {
					t.Fatalf("after leave %+v", gi)
				}
				req.MemberID = "nobody"
				wantCode(t, "unknown", e.s.LeaveGroup(context.Background(), req).ErrorCode, kerr.UnknownMemberID)
				return
			}
			req.Members = []kmsg.LeaveGroupRequestMember{
				{MemberID: f.members[0]},
				{InstanceID: kmsg.StringPtr("inst-1")},                    // by instance id only
				{MemberID: "stale", InstanceID: kmsg.StringPtr("inst-2")}, // fenced
				{MemberID: "nobody"},
			}
			resp := e.s.LeaveGroup(context.Background(), req)
			wantCode(t, "top level", resp.ErrorCode, nil)
			want := []*kerr.Error{nil, nil, kerr.FencedInstanceID, kerr.UnknownMemberID}
			for i, m := range resp.Members {
				wantCode(t, "member "+m.MemberID, m.ErrorCode, want[i])
			}
			// The last member leaving empties the group.
			req.Members = []kmsg.LeaveGroupRequestMember{{MemberID: f.members[2], InstanceID: kmsg.StringPtr("inst-2")}}
			wantCode(t, "last", e.s.LeaveGroup(context.Background(), req).Members[0].ErrorCode, nil)
			if gi := e.info("g"); gi.Members != 0 || gi.State != "Empty" || gi.Generation != 2 {
				t.Fatalf("after all left %+v", gi)
			}
		})
	}
}

func TestStaticMemberRestartWithoutRebalance(t *testing.T) {
	e := newEnv(t, nil)
	f := e.form("g", 2, true)
	stored := len(e.store.records())

	// The follower restarts: new member id, same generation and assignment.
	r := e.join(joinReq("g", joinOpt{version: 9, instance: kmsg.StringPtr("inst-1")}))
	wantCode(t, "rejoin", r.ErrorCode, nil)
	if r.MemberID == f.members[1] || !strings.HasPrefix(r.MemberID, "inst-1-") || r.Generation != f.gen || r.SkipAssignment {
		t.Fatalf("static rejoin %+v", r)
	}
	if gi := e.info("g"); gi.State != "Stable" || gi.Generation != f.gen {
		t.Fatalf("group rebalanced: %+v", gi)
	}
	if len(e.store.records()) != stored+1 {
		t.Fatal("the replacement was not persisted")
	}
	sr := recv(t, e.goSync(syncReq("g", r.MemberID, f.gen, nil)))
	if sr.ErrorCode != 0 || string(sr.MemberAssignment) != "a-"+f.members[1] {
		t.Fatalf("sync after restart %+v", sr)
	}
	// The old incarnation is fenced everywhere.
	inst := kmsg.StringPtr("inst-1")
	wantCode(t, "old heartbeat", e.heartbeat("g", f.members[1], f.gen, inst), kerr.FencedInstanceID)
	wantCode(t, "new heartbeat", e.heartbeat("g", r.MemberID, f.gen, inst), nil)
	old := syncReq("g", f.members[1], f.gen, nil)
	old.InstanceID = inst
	wantCode(t, "old sync", recv(t, e.goSync(old)).ErrorCode, kerr.FencedInstanceID)
	cr := kmsg.NewPtrOffsetCommitRequest()
	cr.Version, cr.Group, cr.MemberID, cr.Generation, cr.InstanceID = 7, "g", f.members[1], f.gen, inst
	cr.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t1", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}}}
	wantCode(t, "old commit", e.s.OffsetCommit(context.Background(), cr).Topics[0].Partitions[0].ErrorCode, kerr.FencedInstanceID)
	oldJoin := joinReq("g", joinOpt{version: 5, member: f.members[1], instance: inst})
	wantCode(t, "old join", e.join(oldJoin).ErrorCode, kerr.FencedInstanceID)

	// The leader restarts: it gets the members but must skip assignment.
	lr := e.join(joinReq("g", joinOpt{version: 9, instance: kmsg.StringPtr("inst-0")}))
	if lr.ErrorCode != 0 || lr.LeaderID != lr.MemberID || !lr.SkipAssignment || len(lr.Members) != 2 || e.info("g").State != "Stable" {
		t.Fatalf("leader restart %+v", lr)
	}
	// Again below v9, which cannot say "skip": it is told the leader's
	// id from before its restart, and no members, so that it does not
	// assign (as Kafka).
	before := lr.MemberID
	lr = e.join(joinReq("g", joinOpt{version: 8, instance: kmsg.StringPtr("inst-0")}))
	if lr.ErrorCode != 0 || lr.MemberID == before || lr.LeaderID != before || lr.SkipAssignment || len(lr.Members) != 0 || e.info("g").State != "Stable" {
		t.Fatalf("leader restart at v8: member %s leader %s skip %v members %d (was %s)", lr.MemberID, lr.LeaderID, lr.SkipAssignment, len(lr.Members), before)
	}

	// A restart with no protocol in common with the group is refused.
	bad := e.join(joinReq("g", joinOpt{version: 5, instance: inst, protocols: []string{"sticky"}}))
	wantCode(t, "inconsistent", bad.ErrorCode, kerr.InconsistentGroupProtocol)
	wantCode(t, "still member", e.heartbeat("g", r.MemberID, f.gen, inst), nil)
}

func TestIllegalGeneration(t *testing.T) {
	e := newEnv(t, nil)
	f := e.form("g", 2, false)
	stale := f.gen - 1
	wantCode(t, "heartbeat", e.heartbeat("g", f.members[1], stale, nil), kerr.IllegalGeneration)
	wantCode(t, "sync", recv(t, e.goSync(syncReq("g", f.members[1], stale, nil))).ErrorCode, kerr.IllegalGeneration)
	wantCode(t, "commit", e.commit("g", f.members[1], stale, "t1", 0, 5), kerr.IllegalGeneration)
	wantCode(t, "commit to unknown group", e.commit("other", "m", 3, "t1", 0, 5), kerr.IllegalGeneration)
	// From v9, as Kafka 3.7+: the group is not found.
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 9
	r.Group, r.MemberID, r.Generation = "other", "m", 3
	r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t1", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 5}}}}
	wantCode(t, "v9 commit to unknown group", e.s.OffsetCommit(context.Background(), r).Topics[0].Partitions[0].ErrorCode, kerr.GroupIDNotFound)
	wantCode(t, "unknown member", e.heartbeat("g", "nobody", f.gen, nil), kerr.UnknownMemberID)
	wantCode(t, "unknown group", e.heartbeat("nope", "nobody", f.gen, nil), kerr.UnknownMemberID)
}

func TestJoinValidation(t *testing.T) {
	e := newEnv(t, nil)
	f := e.form("g", 1, false)
	tests := []struct {
		name  string
		group string
		mod   func(*kmsg.JoinGroupRequest)
		want  *kerr.Error
	}{
		{"empty group id", "", nil, kerr.InvalidGroupID},
		{"session too short", "x", func(r *kmsg.JoinGroupRequest) { r.SessionTimeoutMillis = 5999 }, kerr.InvalidSessionTimeout},
		{"session too long", "x", func(r *kmsg.JoinGroupRequest) { r.SessionTimeoutMillis = 30*60*1000 + 1 }, kerr.InvalidSessionTimeout},
		{"no protocols", "x", func(r *kmsg.JoinGroupRequest) { r.Protocols = nil }, kerr.InconsistentGroupProtocol},
		{"no protocol type", "x", func(r *kmsg.JoinGroupRequest) { r.ProtocolType = "" }, kerr.InconsistentGroupProtocol},
		{"other protocol type", "g", func(r *kmsg.JoinGroupRequest) { r.ProtocolType = "connect" }, kerr.InconsistentGroupProtocol},
		{"no common protocol", "g", func(r *kmsg.JoinGroupRequest) { r.Protocols[0].Name = "sticky" }, kerr.InconsistentGroupProtocol},
		{"unknown member of new group", "x", func(r *kmsg.JoinGroupRequest) { r.MemberID = "m" }, kerr.UnknownMemberID},
		{"unknown member", "g", func(r *kmsg.JoinGroupRequest) { r.MemberID = "m" }, kerr.UnknownMemberID},
		// As Kafka's validateMember: no static member has this instance id.
		{"dynamic member with an instance id", "g", func(r *kmsg.JoinGroupRequest) {
			r.MemberID, r.InstanceID = f.members[0], kmsg.StringPtr("inst")
		}, kerr.UnknownMemberID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := joinReq(tt.group, joinOpt{version: 5})
			if tt.mod != nil {
				tt.mod(req)
			}
			wantCode(t, tt.name, e.join(req).ErrorCode, tt.want)
		})
	}
}

func TestSelectProtocolVote(t *testing.T) {
	tests := []struct {
		name    string
		members [][]string
		want    string
	}{
		{"single", [][]string{{"range", "sticky"}}, "range"},
		{"majority first choice", [][]string{{"range", "sticky"}, {"sticky", "range"}, {"sticky", "range"}}, "sticky"},
		{"only common", [][]string{{"range", "sticky"}, {"sticky"}}, "sticky"},
		{"tie goes to first member's order", [][]string{{"range", "sticky"}, {"sticky", "range"}}, "range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGroup("g", epoch)
			for i, ps := range tt.members {
				m := &member{id: string(rune('a' + i))}
				for _, p := range ps {
					m.protocols = append(m.protocols, protocol{name: p})
				}
				g.addMember(m)
			}
			if got := g.selectProtocol(); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSimpleCommitsAndMemberCommits(t *testing.T) {
	e := newEnv(t, nil)
	if p := e.fetch("simple", "t1", 0); p.Offset != -1 || p.LeaderEpoch != -1 || p.ErrorCode != 0 {
		t.Fatalf("fetch of unknown group %+v", p)
	}
	wantCode(t, "simple commit", e.commit("simple", "", -1, "t1", 0, 42), nil)
	if p := e.fetch("simple", "t1", 0); p.Offset != 42 || p.LeaderEpoch != 5 || *p.Metadata != "md" {
		t.Fatalf("fetch %+v", p)
	}
	if gi := e.info("simple"); gi.State != "Empty" || gi.ProtocolType != "" {
		t.Fatalf("simple group %+v", gi)
	}

	f := e.form("g", 2, false)
	wantCode(t, "non-member commit", e.commit("g", "", -1, "t1", 0, 1), kerr.UnknownMemberID)
	wantCode(t, "member commit", e.commit("g", f.members[1], f.gen, "t1", 0, 7), nil)
	wantCode(t, "member commit", e.commit("g", f.members[0], f.gen, "t2", 3, 9), nil)
	if p := e.fetch("g", "t1", 0); p.Offset != 7 {
		t.Fatalf("fetch %+v", p)
	}
	all, _ := e.s.OffsetFetch("g", nil, false)
	if len(all) != 2 || all[0].Topic != "t1" || all[1].Topic != "t2" || all[1].Partitions[0].Offset != 9 {
		t.Fatalf("fetch all %+v", all)
	}

	// A commit keeps the member's session alive, as a heartbeat would.
	e.clk.Advance(8 * time.Second)
	wantCode(t, "commit", e.commit("g", f.members[1], f.gen, "t1", 0, 8), nil)
	wantCode(t, "heartbeat", e.heartbeat("g", f.members[0], f.gen, nil), nil)
	e.clk.Advance(8 * time.Second)
	if gi := e.info("g"); gi.Members != 2 {
		t.Fatalf("commit did not keep the session: %+v", gi)
	}

	// Oversized metadata fails only its partition. As in Kafka, the size
	// is in UTF-16 code units (Java's String.length), not bytes.
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version, r.Group, r.Generation = 9, "simple", -1
	r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t1", Partitions: []kmsg.OffsetCommitRequestTopicPartition{
		{Partition: 0, Offset: 50, Metadata: kmsg.StringPtr(strings.Repeat("x", 4097))},
		{Partition: 1, Offset: 51},
		{Partition: 2, Offset: 52, Metadata: kmsg.StringPtr(strings.Repeat("é", 4096))},          // 8192 bytes, 4096 units
		{Partition: 3, Offset: 53, Metadata: kmsg.StringPtr(strings.Repeat("\U0001F600", 2049))}, // 4098 units
	}}}
	resp := e.s.OffsetCommit(context.Background(), r)
	wantCode(t, "too large", resp.Topics[0].Partitions[0].ErrorCode, kerr.OffsetMetadataTooLarge)
	wantCode(t, "fine", resp.Topics[0].Partitions[1].ErrorCode, nil)
	wantCode(t, "4096 two-byte characters", resp.Topics[0].Partitions[2].ErrorCode, nil)
	wantCode(t, "2049 surrogate pairs", resp.Topics[0].Partitions[3].ErrorCode, kerr.OffsetMetadataTooLarge)
	if e.fetch("simple", "t1", 0).Offset != 42 || e.fetch("simple", "t1", 1).Offset != 51 {
		t.Fatal("oversized commit changed the offset")
	}
}

// A consumer that assigns its own partitions commits with no generation,
// and may send its member id or group.instance.id (librdkafka, sarama with
// an instance id configured): on a group with no members Kafka takes the
// commit, whatever the ids, and so does this coordinator. With members,
// only they commit.
func TestManualAssignmentCommitWithIDs(t *testing.T) {
	e := newEnv(t, nil)
	wantCode(t, "member id, no generation", e.commit("manual", "some-member", -1, "t1", 0, 10), nil)
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version, r.Group, r.Generation, r.InstanceID = 8, "manual", -1, kmsg.StringPtr("inst-1")
	r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t1", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 1, Offset: 11}}}}
	wantCode(t, "instance id, no generation", e.s.OffsetCommit(context.Background(), r).Topics[0].Partitions[0].ErrorCode, nil)
	if e.fetch("manual", "t1", 0).Offset != 10 || e.fetch("manual", "t1", 1).Offset != 11 {
		t.Fatal("commits of a manually assigned consumer not stored")
	}
	f := e.form("formed", 1, false)
	wantCode(t, "member id, no generation, group with members", e.commit("formed", "some-member", -1, "t1", 0, 1), kerr.UnknownMemberID)
	wantCode(t, "the member, no generation", e.commit("formed", f.members[0], -1, "t1", 0, 1), kerr.IllegalGeneration)
}

func TestCommitDuringCompletingRebalance(t *testing.T) {
	e := newEnv(t, nil)
	ch := e.goJoin(joinReq("g", joinOpt{version: 3}))
	e.waitJoining("g", 1)
	e.clk.Advance(initialDelay)
	r := recv(t, ch)
	wantCode(t, "commit", e.commit("g", r.MemberID, r.Generation, "t1", 0, 1), kerr.RebalanceInProgress)
}

func TestOffsetsSurviveLoad(t *testing.T) {
	e := newEnv(t, nil)
	f := e.form("g", 2, true)
	wantCode(t, "commit", e.commit("g", f.members[0], f.gen, "t1", 0, 10), nil)
	wantCode(t, "commit", e.commit("g", f.members[0], f.gen, "t1", 0, 11), nil)
	wantCode(t, "commit", e.commit("g", f.members[1], f.gen, "t1", 1, 20), nil)
	wantCode(t, "simple", e.commit("simple", "", -1, "t9", 0, 99), nil)
	wantCode(t, "simple", e.commit("gone", "", -1, "t9", 0, 1), nil)
	wantCode(t, "delete", e.s.DeleteGroup(context.Background(), "gone"), nil)

	s2 := NewShard(0, Config{Clock: e.clk, Logger: e.s.log}, e.store)
	defer s2.Close()
	s2.Load(e.store.records())
	s2.Loaded()
	e2 := &env{t: t, s: s2, clk: e.clk, store: e.store}
	if p := e2.fetch("g", "t1", 0); p.Offset != 11 || p.LeaderEpoch != 5 || *p.Metadata != "md" {
		t.Fatalf("t1/0 after load %+v", p)
	}
	if p := e2.fetch("g", "t1", 1); p.Offset != 20 {
		t.Fatalf("t1/1 after load %+v", p)
	}
	if p := e2.fetch("simple", "t9", 0); p.Offset != 99 {
		t.Fatalf("simple after load %+v", p)
	}
	gs := s2.Groups()
	if len(gs) != 2 || gs[0].Group != "g" || gs[0].State != "Stable" || gs[0].Members != 2 || gs[0].Generation != f.gen || gs[1].State != "Empty" {
		t.Fatalf("groups after load %+v", gs)
	}
	// Loaded members keep their assignment and static identity...
	sr := recv(t, e2.goSync(syncReq("g", f.members[1], f.gen, nil)))
	if sr.ErrorCode != 0 || string(sr.MemberAssignment) != "a-"+f.members[1] {
		t.Fatalf("sync after load %+v", sr)
	}
	// ...and expire when they do not heartbeat to the new coordinator.
	e.clk.Advance(11 * time.Second)
	if gi := e2.info("g"); gi.State != "Empty" || gi.Generation != f.gen+1 {
		t.Fatalf("after session expiry %+v", gi)
	}
}

func TestDeleteGroups(t *testing.T) {
	e := newEnv(t, nil)
	f := e.form("g", 2, false)
	wantCode(t, "commit", e.commit("g", f.members[0], f.gen, "t1", 0, 1), nil)
	wantCode(t, "non-empty", e.s.DeleteGroup(context.Background(), "g"), kerr.NonEmptyGroup)
	wantCode(t, "unknown", e.s.DeleteGroup(context.Background(), "nope"), kerr.GroupIDNotFound)
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Version, req.Group = 3, "g"
	req.Members = []kmsg.LeaveGroupRequestMember{{MemberID: f.members[0]}, {MemberID: f.members[1]}}
	e.s.LeaveGroup(context.Background(), req)
	n := len(e.store.records())
	wantCode(t, "delete", e.s.DeleteGroup(context.Background(), "g"), nil)
	recs := e.store.records()[n:]
	if len(recs) != 2 || recs[0].Value != nil || recs[1].Value != nil {
		t.Fatalf("tombstones %+v", recs)
	}
	wantCode(t, "again", e.s.DeleteGroup(context.Background(), "g"), kerr.GroupIDNotFound)
	if p := e.fetch("g", "t1", 0); p.Offset != -1 {
		t.Fatalf("offset after delete %+v", p)
	}
	if d := e.s.DescribeGroup("g"); d.State != "Dead" || d.ErrorCode != 0 {
		t.Fatalf("describe after delete %+v", d)
	}
}

func TestExpireOffsets(t *testing.T) {
	const retention = time.Hour
	e := newEnv(t, func(c *Config) { c.OffsetsRetention = retention })
	f := e.form("g", 1, false)
	wantCode(t, "commit", e.commit("g", f.members[0], f.gen, "t1", 0, 1), nil)
	wantCode(t, "simple", e.commit("simple", "", -1, "t1", 0, 1), nil)

	// A Stable group subscribed to its topic keeps its offsets.
	for range 1000 {
		e.clk.Advance(9 * time.Second)
		wantCode(t, "heartbeat", e.heartbeat("g", f.members[0], f.gen, nil), nil)
	}
	e.s.ExpireOffsets()
	if e.fetch("g", "t1", 0).Offset != 1 {
		t.Fatal("offset of a stable subscribed group expired")
	}
	if e.fetch("simple", "t1", 0).Offset != -1 || e.info("simple").State != "Dead" {
		t.Fatalf("simple group offset not expired: %+v", e.info("simple"))
	}

	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group, req.MemberID = "g", f.members[0]
	e.s.LeaveGroup(context.Background(), req)
	e.clk.Advance(retention - time.Second)
	e.s.ExpireOffsets()
	if e.fetch("g", "t1", 0).Offset != 1 {
		t.Fatal("expired before retention since the group became empty")
	}
	n := len(e.store.records())
	e.clk.Advance(time.Second)
	e.s.ExpireOffsets()
	if e.fetch("g", "t1", 0).Offset != -1 || e.info("g").State != "Dead" {
		t.Fatalf("not expired: %+v", e.info("g"))
	}
	recs := e.store.records()[n:]
	if len(recs) != 2 || recs[0].Value != nil || recs[1].Value != nil {
		t.Fatalf("tombstones %+v", recs)
	}
}

func TestStoreFailureLeavesStateUnchanged(t *testing.T) {
	e := newEnv(t, nil)
	wantCode(t, "commit", e.commit("s", "", -1, "t1", 0, 1), nil)
	e.store.setFail(kerr.NotCoordinator)
	wantCode(t, "failed commit", e.commit("s", "", -1, "t1", 0, 2), kerr.NotCoordinator)
	wantCode(t, "failed commit", e.commit("new", "", -1, "t1", 0, 2), kerr.NotCoordinator)
	if e.fetch("s", "t1", 0).Offset != 1 || e.info("new").State != "Dead" {
		t.Fatal("failed commit changed state")
	}
	wantCode(t, "failed delete", e.s.DeleteGroup(context.Background(), "s"), kerr.NotCoordinator)
	if gi := e.info("s"); gi.State != "Empty" || e.fetch("s", "t1", 0).Offset != 1 {
		t.Fatalf("failed delete changed state: %+v", gi)
	}
	// A full disk fails the write with KAFKA_STORAGE_ERROR, which the
	// group APIs do not have: Kafka answers NOT_COORDINATOR.
	e.store.setFail(kerr.KafkaStorageError)
	wantCode(t, "commit on a full disk", e.commit("s", "", -1, "t1", 0, 3), kerr.NotCoordinator)
	e.store.setFail(errors.New("disk on fire"))
	wantCode(t, "other error", e.commit("s", "", -1, "t1", 0, 3), kerr.CoordinatorNotAvailable)
	e.store.setFail(nil)

	// A failed assignment write fails every waiting sync and rebalances.
	chans := []<-chan *kmsg.JoinGroupResponse{e.goJoin(joinReq("g", joinOpt{version: 3}))}
	e.waitJoining("g", 1)
	chans = append(chans, e.goJoin(joinReq("g", joinOpt{version: 3})))
	e.waitJoining("g", 2)
	e.endInitialDelay(2)
	leader, follower := recv(t, chans[0]), recv(t, chans[1])
	fs := e.goSync(syncReq("g", follower.MemberID, 1, nil))
	waitUntil(t, "follower waits", func() bool { return e.awaitingSync("g") == 1 })
	e.store.setFail(kerr.RequestTimedOut)
	ls := recv(t, e.goSync(syncReq("g", leader.MemberID, 1, map[string]string{leader.MemberID: "x", follower.MemberID: "y"})))
	wantCode(t, "leader sync", ls.ErrorCode, kerr.RequestTimedOut)
	wantCode(t, "follower sync", recv(t, fs).ErrorCode, kerr.RequestTimedOut)
	if gi := e.info("g"); gi.State != "PreparingRebalance" || gi.Generation != 1 {
		t.Fatalf("after failed sync %+v", gi)
	}
	if d := e.s.DescribeGroup("g"); len(d.Members) != 2 || d.Members[0].MemberAssignment != nil {
		t.Fatalf("assignment applied despite failure: %+v", d)
	}
}

func TestOffsetDelete(t *testing.T) {
	e := newEnv(t, nil)
	f := e.form("g", 1, false) // subscribed to t1
	wantCode(t, "commit", e.commit("g", f.members[0], f.gen, "t1", 0, 1), nil)
	wantCode(t, "commit", e.commit("g", f.members[0], f.gen, "t2", 0, 2), nil)
	req := kmsg.NewPtrOffsetDeleteRequest()
	req.Group = "g"
	req.Topics = []kmsg.OffsetDeleteRequestTopic{
		{Topic: "t1", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}},
		{Topic: "t2", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}, {Partition: 7}}},
	}
	resp := e.s.OffsetDelete(context.Background(), req)
	wantCode(t, "group", resp.ErrorCode, nil)
	wantCode(t, "t1", resp.Topics[0].Partitions[0].ErrorCode, kerr.GroupSubscribedToTopic)
	wantCode(t, "t2", resp.Topics[1].Partitions[0].ErrorCode, nil)
	wantCode(t, "t2/7", resp.Topics[1].Partitions[1].ErrorCode, nil)
	if e.fetch("g", "t1", 0).Offset != 1 || e.fetch("g", "t2", 0).Offset != -1 {
		t.Fatal("wrong offsets deleted")
	}
	req.Group = "nope"
	wantCode(t, "unknown", e.s.OffsetDelete(context.Background(), req).ErrorCode, kerr.GroupIDNotFound)

	// The empty group id takes commits (as Kafka, for old clients) but is
	// refused by OffsetDelete, as Kafka's coordinator refuses it, and its
	// offsets stay.
	wantCode(t, "commit to empty group id", e.commit("", "", -1, "t2", 0, 3), nil)
	req.Group = ""
	wantCode(t, "empty group id", e.s.OffsetDelete(context.Background(), req).ErrorCode, kerr.InvalidGroupID)
	if e.fetch("", "t2", 0).Offset != 3 {
		t.Fatal("OffsetDelete of the empty group id deleted its offsets")
	}
}

func TestListGroups(t *testing.T) {
	e := newEnv(t, nil)
	e.form("a", 1, false)
	wantCode(t, "commit", e.commit("b", "", -1, "t", 0, 1), nil)
	tests := []struct {
		states, types []string
		want          []string
	}{
		{nil, nil, []string{"a", "b"}},
		{[]string{"stable"}, nil, []string{"a"}},
		{[]string{"Empty", "Dead"}, nil, []string{"b"}},
		{[]string{" Stable", "empty\t"}, nil, []string{"a", "b"}}, // trimmed, as Kafka
		{nil, []string{" classic"}, nil},                          // types are not
		{nil, []string{"Classic"}, []string{"a", "b"}},
		{nil, []string{"consumer"}, nil},
	}
	for _, tt := range tests {
		var got []string
		for _, g := range e.s.ListGroups(tt.states, tt.types) {
			got = append(got, g.Group)
			if g.GroupType != "classic" {
				t.Fatalf("type %q", g.GroupType)
			}
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Fatalf("filters %v %v: got %v, want %v", tt.states, tt.types, got, tt.want)
		}
	}
}

func TestCloseReleasesBlockedCalls(t *testing.T) {
	e := newEnv(t, nil)
	f := e.form("g", 2, false)
	// A rebalance: the leader blocks in JoinGroup...
	lj := e.goJoin(joinReq("g", joinOpt{version: 5, member: f.leader}))
	e.waitJoining("g", 1)
	// ...and a new group's member blocks in its initial delay.
	nj := e.goJoin(joinReq("h", joinOpt{version: 3}))
	e.waitJoining("h", 1)
	e.s.Close()
	wantCode(t, "blocked join", recv(t, lj).ErrorCode, kerr.NotCoordinator)
	wantCode(t, "delayed join", recv(t, nj).ErrorCode, kerr.NotCoordinator)
	wantCode(t, "after close", e.heartbeat("g", f.leader, f.gen, nil), kerr.NotCoordinator)
	if e.clk.Pending() != 0 {
		t.Fatalf("%d timers left after Close", e.clk.Pending())
	}
}

func TestCloseReleasesBlockedSync(t *testing.T) {
	e := newEnv(t, nil)
	a := e.goJoin(joinReq("g", joinOpt{version: 3}))
	e.waitJoining("g", 1)
	b := e.goJoin(joinReq("g", joinOpt{version: 3}))
	e.waitJoining("g", 2)
	e.endInitialDelay(2)
	recv(t, a)
	rb := recv(t, b)
	fs := e.goSync(syncReq("g", rb.MemberID, rb.Generation, nil))
	waitUntil(t, "follower waits", func() bool { return e.awaitingSync("g") == 1 })
	e.s.Close()
	wantCode(t, "blocked sync", recv(t, fs).ErrorCode, kerr.NotCoordinator)
}

func TestJoinContextCanceled(t *testing.T) {
	e := newEnv(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { ch <- e.s.JoinGroup(ctx, joinReq("g", joinOpt{version: 3}), "c", "h") }()
	e.waitJoining("g", 1)
	cancel()
	wantCode(t, "canceled", recv(t, ch).ErrorCode, kerr.RequestTimedOut)
}

func TestFakeClockOrder(t *testing.T) {
	c := NewFakeClock(epoch)
	var got []int
	c.AfterFunc(2*time.Second, func() { got = append(got, 2) })
	c.AfterFunc(time.Second, func() {
		got = append(got, 1)
		c.AfterFunc(500*time.Millisecond, func() { got = append(got, 15) })
	})
	stopped := c.AfterFunc(time.Second, func() { got = append(got, -1) })
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop")
	}
	c.Advance(3 * time.Second)
	if len(got) != 3 || got[0] != 1 || got[1] != 15 || got[2] != 2 || !c.Now().Equal(epoch.Add(3*time.Second)) {
		t.Fatalf("ran %v at %v", got, c.Now())
	}
}

func TestWritesApplyInAppendOrder(t *testing.T) {
	e := newEnv(t, nil)
	e.store.hold = true
	commit := func(off int64) <-chan int16 {
		ch := make(chan int16, 1)
		go func() { ch <- e.commit("s", "", -1, "t1", 0, off) }()
		return ch
	}
	a := commit(1)
	waitUntil(t, "first append", func() bool { return len(e.store.held()) == 1 })
	b := commit(2)
	waitUntil(t, "second append", func() bool { return len(e.store.held()) == 2 })

	topics, _ := e.s.OffsetFetch("s", []kmsg.OffsetFetchRequestTopic{{Topic: "t1", Partitions: []int32{0}}}, true)
	wantCode(t, "require stable", topics[0].Partitions[0].ErrorCode, kerr.UnstableOffsetCommit)
	if p := e.fetch("s", "t1", 0); p.Offset != -1 || p.ErrorCode != 0 {
		t.Fatalf("uncommitted offset visible: %+v", p)
	}

	// The second write commits first, but is applied only after the first.
	gates := e.store.held()
	close(gates[1])
	notYet(t, b)
	close(gates[0])
	wantCode(t, "a", recv(t, a), nil)
	wantCode(t, "b", recv(t, b), nil)
	if p := e.fetch("s", "t1", 0); p.Offset != 2 {
		t.Fatalf("offset %d, want the later commit", p.Offset)
	}
}

func TestLoadTombstonesAndBadRecords(t *testing.T) {
	e := newEnv(t, nil)
	wantCode(t, "commit", e.commit("a", "", -1, "t", 0, 1), nil)
	wantCode(t, "commit", e.commit("a", "", -1, "t", 1, 2), nil)
	recs := e.store.records()
	recs = append(recs,
		Record{Key: offsetKey("a", "t", 0)},            // tombstone
		Record{Key: []byte{0}},                         // undecodable
		Record{Key: []byte{0, 9, 1}, Value: []byte{1}}, // unknown key version
		Record{Key: groupKey("b")},                     // tombstone of an unknown group
	)
	s2 := NewShard(0, Config{Clock: e.clk, Logger: e.s.log}, e.store)
	defer s2.Close()
	s2.Load(recs)
	s2.Loaded()
	e2 := &env{t: t, s: s2, clk: e.clk, store: e.store}
	if e2.fetch("a", "t", 0).Offset != -1 || e2.fetch("a", "t", 1).Offset != 2 {
		t.Fatal("tombstone not applied")
	}
	if gs := s2.Groups(); len(gs) != 1 || gs[0].Group != "a" {
		t.Fatalf("groups %+v", gs)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add(offsetKey("g", "t", 0), offsetValue(offset{offset: 1, metadata: "m", expireMillis: -1}))
	f.Add(groupKey("g"), newGroup("g", epoch).metadataValue(nil))
	f.Add([]byte{0, 2, 0, 1, 'g'}, []byte{0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		done := make(chan any, 1)
		go func() {
			defer func() { done <- recover() }()
			clk := NewFakeClock(epoch)
			s := NewShard(0, Config{Clock: clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, &memStore{})
			s.Load([]Record{{Key: key, Value: value}, {Key: key}})
			s.Load([]Record{{Key: key, Value: value}})
			s.Loaded()
			_ = s.Groups()
			clk.Advance(time.Hour)
			s.ExpireOffsets()
			s.Close()
		}()
		select {
		case p := <-done:
			if p != nil {
				t.Fatalf("panic: %v", p)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("hang on %q %q", key, value)
		}
	})
}

// TestDeleteOffsets: the offsets of deleted partitions go from every group,
// in flight or not, others stay; an Empty group left with none is removed.
func TestDeleteOffsets(t *testing.T) {
	e := newEnv(t, nil)
	f := e.form("g", 1, false)
	wantCode(t, "commit", e.commit("g", f.members[0], f.gen, "gone", 0, 5), nil)
	wantCode(t, "commit", e.commit("g", f.members[0], f.gen, "kept", 0, 6), nil)
	wantCode(t, "simple", e.commit("simple", "", -1, "gone", 1, 7), nil)
	n := len(e.store.records())
	e.s.DeleteOffsets(func(topic string, _ int32) bool { return topic == "gone" })
	if p := e.fetch("g", "gone", 0); p.Offset != -1 {
		t.Errorf("g gone-0: offset %d after the topic's deletion, want -1", p.Offset)
	}
	if p := e.fetch("g", "kept", 0); p.Offset != 6 {
		t.Errorf("g kept-0: offset %d, want 6", p.Offset)
	}
	if gi := e.info("g"); gi.State != "Stable" {
		t.Errorf("g: state %s, want Stable (it has members)", gi.State)
	}
	if p, gi := e.fetch("simple", "gone", 1), e.info("simple"); p.Offset != -1 || gi.State != "Dead" {
		t.Errorf("simple: offset %d, state %s; want -1 and the group removed", p.Offset, gi.State)
	}
	// Tombstones: g's gone-0, simple's gone-1, simple's group record.
	if recs := e.store.records()[n:]; len(recs) != 3 {
		t.Errorf("%d records written, want 3 tombstones: %+v", len(recs), recs)
	}
}

// TestExplicitExpiryOnlyWhenOffsetsCanExpire: an offset committed with its
// own retention (OffsetCommit v2-v4, as kafka-go's Reader does) expires
// only where Kafka lets offsets expire at all. A group that is rebalancing
// keeps it however old it is; a Stable consumer group loses it once it
// has passed, for a topic no member subscribes to.
func TestExplicitExpiryOnlyWhenOffsetsCanExpire(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.OffsetsRetention = 24 * time.Hour })
	f := e.form("g", 1, false) // subscribed to t1
	commit := func(topic string) {
		t.Helper()
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Version = 2
		r.Group, r.MemberID, r.Generation = "g", f.members[0], f.gen
		r.RetentionTimeMillis = 1000
		r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: topic, Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 42}}}}
		wantCode(t, "commit "+topic, e.s.OffsetCommit(context.Background(), r).Topics[0].Partitions[0].ErrorCode, nil)
	}
	commit("t1")
	commit("t2")

	// A second member joins: the group prepares a rebalance and waits for
	// the first, and nothing expires meanwhile.
	first := e.join(joinReq("g", joinOpt{version: 5}))
	wantCode(t, "first join", first.ErrorCode, kerr.MemberIDRequired)
	e.goJoin(joinReq("g", joinOpt{version: 5, member: first.MemberID}))
	waitUntil(t, "rebalance", func() bool { return e.info("g").State == "PreparingRebalance" })
	e.clk.Advance(5 * time.Second)
	e.s.ExpireOffsets()
	for _, topic := range []string{"t1", "t2"} {
		if got := e.fetch("g", topic, 0).Offset; got != 42 {
			t.Fatalf("%s: offset %d while the group rebalances, want 42 kept", topic, got)
		}
	}
}

// cpStore is a memStore that can checkpoint: the records of a checkpoint
// replace the whole log before them.
type cpStore struct {
	*memStore
	checkpoints int
	failAll     bool // checkpoints fail, storing nothing
}

func (c *cpStore) AppendCheckpoint(recs []Record) func() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checkpoints++
	if c.failAll {
		return func() error { return kerr.KafkaStorageError }
	}
	c.recs = append([]Record(nil), recs...)
	return func() error { return nil }
}

// A failed checkpoint is tried again only once the log has grown by
// CheckpointBytes more, not at every write after it.
func TestCheckpointFailureBacksOff(t *testing.T) {
	clk := NewFakeClock(epoch)
	st := &cpStore{memStore: &memStore{}, failAll: true}
	s := NewShard(0, Config{Clock: clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), CheckpointBytes: 4096}, st)
	t.Cleanup(s.Close)
	e := &env{t: t, s: s, clk: clk, store: st.memStore}
	for i := range 2000 {
		wantCode(t, "commit", e.commit("g", "", -1, "t1", int32(i%50), int64(i)), nil)
		waitUntil(t, "the checkpoint to finish", func() bool {
			s.mu.Lock()
			defer s.mu.Unlock()
			return !s.checkpointing
		})
	}
	// About 130 KB of records: a try per 4 KiB of growth at most.
	if st.checkpoints == 0 || st.checkpoints > 60 {
		t.Errorf("%d checkpoint tries for 2000 commits failing each, want a few dozen at most", st.checkpoints)
	}
}

// A shard whose log grows past twice its latest records checkpoints it:
// the log stays bounded however often offsets are committed, and a shard
// loaded from it has the same groups and offsets.
func TestCheckpointBoundsTheLog(t *testing.T) {
	clk := NewFakeClock(epoch)
	st := &cpStore{memStore: &memStore{}}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := NewShard(0, Config{Clock: clk, Logger: logger, CheckpointBytes: 4096}, st)
	t.Cleanup(s.Close)
	e := &env{t: t, s: s, clk: clk, store: st.memStore}
	f := e.form("g", 2, false)
	wantCode(t, "gone", e.commit("gone", "", -1, "t9", 0, 1), nil)
	wantCode(t, "delete", e.s.DeleteGroup(context.Background(), "gone"), nil)
	settled := func() bool { // no checkpoint waited for (they finish on their own)
		s.mu.Lock()
		defer s.mu.Unlock()
		return !s.checkpointing
	}
	for i := range 2000 {
		wantCode(t, "commit", e.commit("g", f.members[0], f.gen, "t1", int32(i%3), int64(i)), nil)
		waitUntil(t, "the checkpoint to finish", settled)
	}
	wantCode(t, "simple", e.commit("simple", "", -1, "t9", 0, 99), nil)
	if st.checkpoints == 0 {
		t.Fatal("no checkpoint after 2000 commits")
	}
	if n := len(st.records()); n > 200 {
		t.Errorf("the log holds %d records after %d checkpoints, want a bounded few", n, st.checkpoints)
	}

	s2 := NewShard(0, Config{Clock: clk, Logger: logger}, st)
	defer s2.Close()
	s2.Load(st.records())
	s2.Loaded()
	e2 := &env{t: t, s: s2, clk: clk, store: st.memStore}
	for part, want := range []int64{1998, 1999, 1997} {
		if p := e2.fetch("g", "t1", int32(part)); p.Offset != want || p.LeaderEpoch != 5 || *p.Metadata != "md" {
			t.Errorf("t1/%d after load %+v, want offset %d", part, p, want)
		}
	}
	if p := e2.fetch("simple", "t9", 0); p.Offset != 99 {
		t.Errorf("simple after load %+v", p)
	}
	gs := s2.Groups()
	if len(gs) != 2 || gs[0].Group != "g" || gs[0].State != "Stable" || gs[0].Members != 2 || gs[0].Generation != f.gen || gs[1].Group != "simple" {
		t.Errorf("groups after load %+v, want g stable with 2 members and simple (gone was deleted)", gs)
	}
}

// A shard loaded from a long log checkpoints it without waiting for a
// write.
func TestCheckpointAfterLoad(t *testing.T) {
	clk := NewFakeClock(epoch)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	old := &memStore{}
	e := &env{t: t, clk: clk, store: old}
	e.s = NewShard(0, Config{Clock: clk, Logger: logger}, old) // no checkpoints
	t.Cleanup(e.s.Close)
	for i := range 500 {
		wantCode(t, "commit", e.commit("g", "", -1, "t1", 0, int64(i)), nil)
	}
	st := &cpStore{memStore: &memStore{recs: old.records()}}
	s := NewShard(0, Config{Clock: clk, Logger: logger, CheckpointBytes: 4096}, st)
	t.Cleanup(s.Close)
	s.Load(st.records())
	s.Loaded()
	s.MaybeCheckpoint()
	waitUntil(t, "the checkpoint", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return !s.checkpointing
	})
	if st.checkpoints != 1 || len(st.records()) != 1 {
		t.Errorf("%d checkpoints, %d records left, want one checkpoint of the one offset", st.checkpoints, len(st.records()))
	}
}

// A shard is loaded a chunk at a time; a member's session timer that fires
// between two chunks must not write, or check the log point, before the
// whole log is replayed: a checkpoint then would restate only the chunks
// read so far and drop the rest of the log, offsets and all.
func TestNoTimerWritesWhileLoading(t *testing.T) {
	e := newEnv(t, nil)
	e.form("g", 1, false) // session timeout 10 s
	for i := range 500 {
		wantCode(t, "commit", e.commit("simple", "", -1, "t1", 0, int64(i)), nil)
	}
	chunk1 := e.store.records()
	wantCode(t, "commit", e.commit("other", "", -1, "t2", 0, 77), nil)
	all := e.store.records()
	chunk2 := all[len(chunk1):]
	e.s.Close()

	st := &cpStore{memStore: &memStore{recs: all}}
	s := NewShard(0, Config{Clock: e.clk, Logger: e.s.log, CheckpointBytes: 4096}, st)
	t.Cleanup(s.Close)
	s.Load(chunk1)
	e.clk.Advance(11 * time.Second) // the next chunk takes longer than a session
	s.Load(chunk2)
	s.Loaded()
	waitUntil(t, "no checkpoint running", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return !s.checkpointing
	})
	e2 := &env{t: t, s: s, clk: e.clk, store: st.memStore}
	if p := e2.fetch("other", "t2", 0); p.Offset != 77 {
		t.Fatalf("other/t2/0 after load %+v, want 77", p)
	}
	// The loaded member's session runs from the end of the load.
	e.clk.Advance(11 * time.Second)
	if gi := e2.info("g"); gi.State != "Empty" || gi.Members != 0 {
		t.Fatalf("g after its member's session %+v, want Empty", gi)
	}
	waitUntil(t, "no checkpoint running", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return !s.checkpointing
	})

	s3 := NewShard(0, Config{Clock: e.clk, Logger: e.s.log}, st)
	defer s3.Close()
	s3.Load(st.records())
	s3.Loaded()
	e3 := &env{t: t, s: s3, clk: e.clk, store: st.memStore}
	if p := e3.fetch("other", "t2", 0); p.Offset != 77 {
		t.Errorf("other/t2/0 after a restart %+v, want 77: the load's checkpoint dropped it", p)
	}
	if p := e3.fetch("simple", "t1", 0); p.Offset != 499 {
		t.Errorf("simple/t1/0 after a restart %+v, want 499", p)
	}
}

// TestOldCommitTimesAsKafka: an OffsetCommit v1 commit time is the
// offset's commit time, not an expiry of its own: as Kafka since 2.1
// (KIP-211; OffsetAndMetadata.fromRequest keeps it as commitTimestamp with
// no expireTimestamp), the offsets of a consumer group that has become
// Empty are kept offsets.retention from then, however old their commit
// time. And only -1 is v2-v4's "no retention time": any other value,
// negative too, is added to the commit time (Kafka's expireTimestampMs).
func TestOldCommitTimesAsKafka(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.OffsetsRetention = 24 * time.Hour })
	f := e.form("g", 1, false)
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 1
	r.Group, r.MemberID, r.Generation = "g", f.members[0], f.gen
	r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t1", Partitions: []kmsg.OffsetCommitRequestTopicPartition{
		{Partition: 0, Offset: 42, Timestamp: e.clk.Now().Add(-23 * time.Hour).UnixMilli()},
	}}}
	wantCode(t, "v1 commit", e.s.OffsetCommit(context.Background(), r).Topics[0].Partitions[0].ErrorCode, nil)
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group, leave.MemberID = "g", f.members[0]
	wantCode(t, "leave", e.s.LeaveGroup(context.Background(), leave).ErrorCode, nil)
	e.clk.Advance(2 * time.Hour) // 25 hours after the commit time, 2 after the group emptied
	e.s.ExpireOffsets()
	if got := e.fetch("g", "t1", 0).Offset; got != 42 {
		t.Errorf("v1 offset of a group Empty for 2 hours: %d, want 42 kept", got)
	}

	// v2 with retention -2: expires at the next check, as in Kafka.
	r = kmsg.NewPtrOffsetCommitRequest()
	r.Version = 2
	r.Group, r.Generation, r.RetentionTimeMillis = "simple", -1, -2
	r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t1", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 7}}}}
	wantCode(t, "v2 commit", e.s.OffsetCommit(context.Background(), r).Topics[0].Partitions[0].ErrorCode, nil)
	e.s.ExpireOffsets()
	if got := e.fetch("simple", "t1", 0).Offset; got != -1 {
		t.Errorf("v2 offset committed with retention -2: %d, want it expired", got)
	}
}
