package groups

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// memStore is an in-memory Store: records are appended to a slice; fail,
// when set, makes the next appends fail without storing anything.
type memStore struct {
	mu   sync.Mutex
	recs []Record
	fail error
	// hold, when set, makes each wait block until its gate is closed.
	hold  bool
	gates []chan struct{}
}

func (m *memStore) Append(recs []Record) func() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fail; err != nil {
		return func() error { return err }
	}
	m.recs = append(m.recs, recs...)
	if m.hold {
		gate := make(chan struct{})
		m.gates = append(m.gates, gate)
		return func() error { <-gate; return nil }
	}
	return func() error { return nil }
}

func (m *memStore) held() []chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gates
}

func (m *memStore) setFail(err error) {
	m.mu.Lock()
	m.fail = err
	m.mu.Unlock()
}

func (m *memStore) records() []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Record(nil), m.recs...)
}

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

const initialDelay = 3 * time.Second

type env struct {
	t     *testing.T
	s     *Shard
	clk   *FakeClock
	store *memStore
}

func newEnv(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	clk := NewFakeClock(epoch)
	cfg := Config{Clock: clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&cfg)
	}
	st := &memStore{}
	s := NewShard(0, cfg, st)
	t.Cleanup(s.Close)
	return &env{t: t, s: s, clk: clk, store: st}
}

func consumerMeta(topics ...string) []byte {
	m := kmsg.NewConsumerMemberMetadata()
	m.Topics = topics
	return m.AppendTo(nil)
}

type joinOpt struct {
	version   int16
	member    string
	instance  *string
	protocols []string
	topics    []string
	session   int32
	rebalance int32
}

func joinReq(group string, o joinOpt) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.Version = o.version
	r.Group = group
	r.MemberID = o.member
	r.InstanceID = o.instance
	r.ProtocolType = "consumer"
	r.SessionTimeoutMillis = 10_000
	r.RebalanceTimeoutMillis = 20_000
	if o.session != 0 {
		r.SessionTimeoutMillis = o.session
	}
	if o.rebalance != 0 {
		r.RebalanceTimeoutMillis = o.rebalance
	}
	protos := o.protocols
	if protos == nil {
		protos = []string{"range"}
	}
	topics := o.topics
	if topics == nil {
		topics = []string{"t1"}
	}
	for _, p := range protos {
		r.Protocols = append(r.Protocols, kmsg.JoinGroupRequestProtocol{Name: p, Metadata: consumerMeta(topics...)})
	}
	return r
}

func (e *env) goJoin(req *kmsg.JoinGroupRequest) <-chan *kmsg.JoinGroupResponse {
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { ch <- e.s.JoinGroup(context.Background(), req, "client", "/127.0.0.1") }()
	return ch
}

func (e *env) join(req *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse {
	e.t.Helper()
	return recv(e.t, e.goJoin(req))
}

func syncReq(group, member string, gen int32, assign map[string]string) *kmsg.SyncGroupRequest {
	r := kmsg.NewPtrSyncGroupRequest()
	r.Version = 5
	r.Group, r.MemberID, r.Generation = group, member, gen
	for id, a := range assign {
		r.GroupAssignment = append(r.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: []byte(a)})
	}
	return r
}

func (e *env) goSync(req *kmsg.SyncGroupRequest) <-chan *kmsg.SyncGroupResponse {
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	go func() { ch <- e.s.SyncGroup(context.Background(), req) }()
	return ch
}

func (e *env) heartbeat(group, member string, gen int32, instance *string) int16 {
	r := kmsg.NewPtrHeartbeatRequest()
	r.Version = 4
	r.Group, r.MemberID, r.Generation, r.InstanceID = group, member, gen, instance
	return e.s.Heartbeat(r).ErrorCode
}

func (e *env) commit(group, member string, gen int32, topic string, part int32, off int64) int16 {
	e.t.Helper()
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Version = 8
	r.Group, r.MemberID, r.Generation = group, member, gen
	r.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: topic, Partitions: []kmsg.OffsetCommitRequestTopicPartition{
		{Partition: part, Offset: off, LeaderEpoch: 5, Metadata: kmsg.StringPtr("md")},
	}}}
	resp := e.s.OffsetCommit(context.Background(), r)
	return resp.Topics[0].Partitions[0].ErrorCode
}

func (e *env) fetch(group, topic string, part int32) OffsetFetchPartition {
	e.t.Helper()
	topics, code := e.s.OffsetFetch(group, []kmsg.OffsetFetchRequestTopic{{Topic: topic, Partitions: []int32{part}}}, false)
	if code != 0 {
		e.t.Fatalf("OffsetFetch: %v", kerr.ErrorForCode(code))
	}
	return topics[0].Partitions[0]
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	return recvWithin(t, ch, 5*time.Second)
}

// recvWithin is recv with a wait of d, for tests of big requests, which
// take seconds under -race on a loaded machine.
func recvWithin[T any](t *testing.T, ch <-chan T, d time.Duration) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatal("timed out waiting for a response")
		panic("unreachable")
	}
}

func notYet[T any](t *testing.T, ch <-chan T) {
	t.Helper()
	time.Sleep(20 * time.Millisecond)
	select {
	case v := <-ch:
		t.Fatalf("answered too early: %+v", v)
	default:
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitUntilWithin(t, what, 5*time.Second, cond)
}

// waitUntilWithin is waitUntil with a wait of d.
func waitUntilWithin(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// awaitingJoin counts the group's members blocked in JoinGroup.
func (e *env) awaitingJoin(group string) int {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	g := e.s.groups[group]
	if g == nil {
		return 0
	}
	n := 0
	for _, m := range g.members {
		if m.awaitingJoin() {
			n++
		}
	}
	return n
}

func (e *env) awaitingSync(group string) int {
	e.s.mu.Lock()
	defer e.s.mu.Unlock()
	n := 0
	if g := e.s.groups[group]; g != nil {
		for _, m := range g.members {
			if m.syncCh != nil {
				n++
			}
		}
	}
	return n
}

func (e *env) waitJoining(group string, n int) {
	e.t.Helper()
	waitUntil(e.t, fmt.Sprintf("%d members await join", n), func() bool { return e.awaitingJoin(group) == n })
}

func (e *env) info(group string) GroupInfo {
	for _, gi := range e.s.Groups() {
		if gi.Group == group {
			return gi
		}
	}
	return GroupInfo{Group: group, State: "Dead"}
}

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	wantC := int16(0)
	if want != nil {
		wantC = want.Code
	}
	if got != wantC {
		t.Fatalf("%s: got %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

// endInitialDelay ends the initial join delay of a new group that n members
// joined at once: members after the first extend it by one more delay.
func (e *env) endInitialDelay(n int) {
	e.clk.Advance(initialDelay)
	if n > 1 {
		e.clk.Advance(initialDelay)
	}
}

// formed is a group after its first rebalance.
type formed struct {
	group   string
	gen     int32
	leader  string
	members []string // join order; members[0] is the leader
}

// form joins n members (static when instances is set) concurrently, ends the
// initial delay and runs the sync phase with assignment "a-<member id>".
func (e *env) form(group string, n int, static bool) formed {
	e.t.Helper()
	var chans []<-chan *kmsg.JoinGroupResponse
	for i := range n {
		o := joinOpt{version: 5}
		if static {
			o.instance = kmsg.StringPtr(fmt.Sprintf("inst-%d", i))
		} else {
			r := e.join(joinReq(group, o))
			wantCode(e.t, "first join", r.ErrorCode, kerr.MemberIDRequired)
			o.member = r.MemberID
		}
		chans = append(chans, e.goJoin(joinReq(group, o)))
		e.waitJoining(group, i+1) // keep join order deterministic
	}
	e.endInitialDelay(n)
	f := formed{group: group}
	var resps []*kmsg.JoinGroupResponse
	for _, ch := range chans {
		r := recv(e.t, ch)
		wantCode(e.t, "join", r.ErrorCode, nil)
		resps = append(resps, r)
		f.members = append(f.members, r.MemberID)
	}
	f.gen, f.leader = resps[0].Generation, resps[0].LeaderID
	if f.leader != f.members[0] {
		e.t.Fatalf("leader %s, want first joiner %s", f.leader, f.members[0])
	}
	f.sync(e)
	return f
}

// sync runs a sync phase for f's members at f.gen.
func (f formed) sync(e *env) {
	e.t.Helper()
	var chans []<-chan *kmsg.SyncGroupResponse
	for _, id := range f.members[1:] {
		chans = append(chans, e.goSync(syncReq(f.group, id, f.gen, nil)))
	}
	waitUntil(e.t, "followers await sync", func() bool { return e.awaitingSync(f.group) == len(f.members)-1 })
	assign := make(map[string]string)
	for _, id := range f.members {
		assign[id] = "a-" + id
	}
	lr := recv(e.t, e.goSync(syncReq(f.group, f.leader, f.gen, assign)))
	wantCode(e.t, "leader sync", lr.ErrorCode, nil)
	if string(lr.MemberAssignment) != "a-"+f.leader {
		e.t.Fatalf("leader assignment %q", lr.MemberAssignment)
	}
	for i, ch := range chans {
		r := recv(e.t, ch)
		wantCode(e.t, "follower sync", r.ErrorCode, nil)
		if want := "a-" + f.members[i+1]; string(r.MemberAssignment) != want {
			e.t.Fatalf("follower assignment %q, want %q", r.MemberAssignment, want)
		}
	}
}
