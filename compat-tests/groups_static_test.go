package compattests

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// staticMember is an in-process kgo group member with a static instance id
// that records its rebalance callbacks.
type staticMember struct {
	cl   *kgo.Client
	stop context.CancelFunc
	done chan struct{}

	mu       sync.Mutex
	owned    []int32
	assigns  int
	revokes  int
	lost     int
	assigned chan struct{} // signalled on every OnPartitionsAssigned
}

func startStaticMember(t *testing.T, ctx context.Context, addr, group, topic, instance string) *staticMember {
	t.Helper()
	m := &staticMember{assigned: make(chan struct{}, 16), done: make(chan struct{})}
	m.cl = newKgo(t, addr,
		kgo.ClientID(instance),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.InstanceID(instance),
		kgo.Balancers(kgo.RangeBalancer()), // eager: any rebalance revokes everything
		kgo.SessionTimeout(10*time.Second),
		kgo.HeartbeatInterval(300*time.Millisecond),
		kgo.DisableAutoCommit(),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.mu.Lock()
			m.assigns++
			m.owned = append(m.owned, a[topic]...)
			slices.Sort(m.owned)
			m.mu.Unlock()
			m.assigned <- struct{}{}
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			if len(r[topic]) > 0 {
				m.revokes++
			}
			m.owned = slices.DeleteFunc(m.owned, func(p int32) bool { return slices.Contains(r[topic], p) })
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.lost++
			m.owned = nil
		}),
	)
	pctx, cancel := context.WithCancel(ctx)
	m.stop = cancel
	go func() {
		defer close(m.done)
		for pctx.Err() == nil {
			m.cl.PollFetches(pctx)
		}
	}()
	return m
}

// closeStatic stops polling and closes the client; a static member does not
// send LeaveGroup.
func (m *staticMember) closeStatic() {
	m.stop()
	<-m.done
	m.cl.Close()
}

func (m *staticMember) snapshot() (owned []int32, assigns, revokes, lost int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.owned), m.assigns, m.revokes, m.lost
}

// TestGroupStaticMembership (KIP-345): a static member that restarts within
// its session timeout (a new client with the same group.instance.id) gets
// its old partitions back without a rebalance: the other member is not
// revoked and the generation does not change. Tried for a follower and
// for the group leader.
func TestGroupStaticMembership(t *testing.T) {
	const (
		topic  = "static-topic"
		group  = "static-group"
		nparts = 4
	)
	b := startBroker(t, "--group-initial-rebalance-delay-ms", "0")
	ctx := testCtx(t, 60*time.Second)
	adm := newAdm(t, b.Addr())
	createTopic(t, ctx, adm, topic, nparts, nil)

	waitAssigned := func(m *staticMember, what string) {
		t.Helper()
		select {
		case <-m.assigned:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: never assigned", what)
		}
	}
	// "a" joins first and so leads; "b" follows.
	members := map[string]*staticMember{}
	members["a"] = startStaticMember(t, ctx, b.Addr(), group, topic, "a")
	waitAssigned(members["a"], "a")
	members["b"] = startStaticMember(t, ctx, b.Addr(), group, topic, "b")
	waitAssigned(members["b"], "b")

	stable := func() (kadm.DescribedGroup, map[string][]int32) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			g, a, err := describeAssignment(ctx, adm, group, topic)
			dups, covered := checkDisjoint(a, nparts)
			if err == nil && g.State == "Stable" && len(g.Members) == 2 && len(dups) == 0 && covered {
				ok := true
				for id, m := range members {
					owned, _, _, _ := m.snapshot()
					ok = ok && slices.Equal(owned, a[id])
				}
				if ok {
					return g, a
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("group never stable with a and b: state %s, %v, err %v", g.State, a, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	g0, assign0 := stable()
	t.Logf("stable: %v", assign0)
	memberIDs := func(g kadm.DescribedGroup) map[string]string {
		ids := map[string]string{}
		for _, m := range g.Members {
			if m.InstanceID == nil {
				t.Errorf("member %s has no instance id", m.MemberID)
				continue
			}
			ids[*m.InstanceID] = m.MemberID
		}
		return ids
	}
	ids0 := memberIDs(g0)

	for _, restart := range []string{"b", "a"} { // the follower, then the leader
		other := "a"
		if restart == "a" {
			other = "b"
		}
		_, genBefore := members[other].cl.GroupMetadata()
		_, _, otherRevokes, otherLost := members[other].snapshot()
		_, otherAssigns, _, _ := members[other].snapshot()
		wantBack, _, _, _ := members[restart].snapshot()

		members[restart].closeStatic()
		// No LeaveGroup: the group keeps the member.
		if g, a, err := describeAssignment(ctx, adm, group, topic); err != nil || len(g.Members) != 2 || g.State != "Stable" {
			t.Errorf("right after static member %s closed: state %s, members %v, err %v; want it still Stable with 2", restart, g.State, a, err)
		}
		members[restart] = startStaticMember(t, ctx, b.Addr(), group, topic, restart)
		waitAssigned(members[restart], restart+" restarted")
		g, a := stable()

		got, _, _, _ := members[restart].snapshot()
		if !slices.Equal(got, wantBack) {
			t.Errorf("restarted %s got %v, had %v", restart, got, wantBack)
		}
		// Give a rebalance that the rejoin might have triggered time to
		// reach the other member's heartbeat.
		time.Sleep(time.Second)
		_, genAfter := members[other].cl.GroupMetadata()
		_, _, revokes, lost := members[other].snapshot()
		_, assigns, _, _ := members[other].snapshot()
		if genAfter != genBefore || revokes != otherRevokes || lost != otherLost || assigns != otherAssigns {
			t.Errorf("restart of static %s disturbed %s: generation %d -> %d, revokes %d -> %d, lost %d -> %d, assigns %d -> %d",
				restart, other, genBefore, genAfter, otherRevokes, revokes, otherLost, lost, otherAssigns, assigns)
		}
		if _, gen := members[restart].cl.GroupMetadata(); gen != genBefore {
			t.Errorf("restarted %s is in generation %d, the group was in %d", restart, gen, genBefore)
		}
		ids := memberIDs(g)
		if ids[restart] == ids0[restart] || ids[restart] == "" {
			t.Errorf("restarted static member %s kept member id %q (want a new one)", restart, ids[restart])
		}
		if ids[other] != ids0[other] {
			t.Errorf("member %s changed id %q -> %q", other, ids0[other], ids[other])
		}
		ids0 = ids
		t.Logf("static %s restarted without a rebalance: %v (generation %d)", restart, a, genAfter)
	}
	for _, m := range members {
		m.closeStatic()
	}
}
