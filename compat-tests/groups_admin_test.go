package compattests

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupAdmin drives the group admin APIs through kadm: ListGroups with
// and without a state filter, DescribeGroups of live, empty and unknown
// groups, DeleteGroups refused for a group with members and accepted once
// they left, and OffsetDelete refused for a subscribed topic and accepted
// otherwise.
func TestGroupAdmin(t *testing.T) {
	const (
		topic  = "adm-topic"
		live   = "adm-live"
		empty  = "adm-empty"
		nparts = 3
	)
	b := startBroker(t, "--group-initial-rebalance-delay-ms", "0", "--offsets-topic-num-partitions", "5")
	ctx := testCtx(t, 60*time.Second)
	adm := newAdm(t, b.Addr())
	createTopic(t, ctx, adm, topic, nparts, nil)

	assigned := make(chan struct{}, 1)
	member := newKgo(t, b.Addr(),
		kgo.ClientID("adm-member"),
		kgo.ConsumerGroup(live),
		kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
		kgo.Balancers(kgo.RangeBalancer()),
		notifyAssigned(assigned),
	)
	pctx, stopPoll := context.WithCancel(ctx)
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for pctx.Err() == nil {
			member.PollFetches(pctx)
		}
	}()
	select {
	case <-assigned:
	case <-ctx.Done():
		t.Fatal("member never assigned")
	}
	memberCommit(t, ctx, member, topic, map[int32]int64{0: 0, 1: 0, 2: 0})
	simpleCommit(t, ctx, adm, empty, topic, map[int32]int64{0: 0, 1: 0, 2: 0})

	// ListGroups, unfiltered and by state.
	listed := func(states ...string) []string {
		t.Helper()
		ls, err := adm.ListGroups(ctx, states...)
		if err != nil {
			t.Fatalf("ListGroups %v: %v", states, err)
		}
		for _, g := range ls {
			// A group that only ever had simple commits has no
			// protocol type in Kafka either.
			want := map[string]string{live: "consumer", empty: ""}[g.Group]
			if g.ProtocolType != want {
				t.Errorf("ListGroups: %s protocol type %q, want %q", g.Group, g.ProtocolType, want)
			}
		}
		names := ls.Groups()
		slices.Sort(names)
		return names
	}
	if got := listed(); !slices.Equal(got, []string{empty, live}) {
		t.Errorf("ListGroups: %v, want [%s %s]", got, empty, live)
	}
	if got := listed("Stable"); !slices.Equal(got, []string{live}) {
		t.Errorf("ListGroups(Stable): %v, want [%s]", got, live)
	}
	if got := listed("Empty"); !slices.Equal(got, []string{empty}) {
		t.Errorf("ListGroups(Empty): %v, want [%s]", got, empty)
	}
	if got := listed("PreparingRebalance", "Dead"); len(got) != 0 {
		t.Errorf("ListGroups(PreparingRebalance, Dead): %v, want none", got)
	}
	if ls, err := adm.ListGroups(ctx); err == nil {
		if s := ls[live].State; s != "Stable" {
			t.Errorf("ListGroups: %s state %q, want Stable", live, s)
		}
	}

	// DescribeGroups: the live group with its member, the empty group, and
	// a group that never existed (Dead, no error, as Kafka answers).
	dgs, err := adm.DescribeGroups(ctx, live, empty, "adm-never")
	if err != nil {
		t.Fatalf("DescribeGroups: %v", err)
	}
	if g := dgs[live]; g.Err != nil || g.State != "Stable" || g.ProtocolType != "consumer" || g.Protocol != "range" || len(g.Members) != 1 {
		t.Errorf("DescribeGroups %s: %+v", live, g)
	} else {
		m := g.Members[0]
		ca, ok := m.Assigned.AsConsumer()
		meta, okm := m.Join.AsConsumer()
		if m.ClientID != "adm-member" || m.ClientHost == "" || !ok || len(ca.Topics) != 1 || len(ca.Topics[0].Partitions) != nparts ||
			!okm || !slices.Equal(meta.Topics, []string{topic}) {
			t.Errorf("DescribeGroups %s member: %+v", live, m)
		}
	}
	if g := dgs[empty]; g.Err != nil || g.State != "Empty" || len(g.Members) != 0 {
		t.Errorf("DescribeGroups %s: %+v", empty, g)
	}
	// As Kafka 4 (DescribeGroups v6, KIP-1043): a group that never
	// existed is an error, no longer an empty Dead group.
	if g := dgs["adm-never"]; !errors.Is(g.Err, kerr.GroupIDNotFound) || len(g.Members) != 0 {
		t.Errorf("DescribeGroups adm-never: %+v, want GROUP_ID_NOT_FOUND", g)
	}

	// OffsetDelete: refused on a topic the live group consumes, accepted
	// on the empty group.
	del, err := adm.DeleteOffsets(ctx, live, kadm.TopicsSet{topic: {0: {}}})
	if err != nil {
		t.Fatalf("DeleteOffsets %s: %v", live, err)
	}
	if perr, ok := del.Lookup(topic, 0); !ok || !errors.Is(perr, kerr.GroupSubscribedToTopic) {
		t.Errorf("DeleteOffsets on a subscribed topic: %v (present %v), want GROUP_SUBSCRIBED_TO_TOPIC", perr, ok)
	}
	del, err = adm.DeleteOffsets(ctx, empty, kadm.TopicsSet{topic: {1: {}}})
	if err != nil {
		t.Fatalf("DeleteOffsets %s: %v", empty, err)
	}
	if perr, ok := del.Lookup(topic, 1); !ok || perr != nil {
		t.Errorf("DeleteOffsets %s %s/1: %v (present %v)", empty, topic, perr, ok)
	}
	if offs, err := adm.FetchOffsets(ctx, empty); err != nil {
		t.Errorf("FetchOffsets %s: %v", empty, err)
	} else {
		_, has1 := offs.Lookup(topic, 1)
		_, has0 := offs.Lookup(topic, 0)
		if o, _ := offs.Lookup(topic, 1); has1 && o.At >= 0 {
			t.Errorf("%s/1 still committed after DeleteOffsets: %+v", topic, o)
		}
		if !has0 {
			t.Errorf("DeleteOffsets of %s/1 also removed %s/0", topic, topic)
		}
	}
	if offs, err := adm.FetchOffsets(ctx, live); err != nil || len(offs[topic]) != nparts {
		t.Errorf("FetchOffsets %s after refused DeleteOffsets: %v, err %v", live, offs, err)
	}

	// DeleteGroups: NON_EMPTY_GROUP while the member is in, then deleted.
	dr, err := adm.DeleteGroup(ctx, live)
	if err != nil && dr.Err == nil {
		t.Fatalf("DeleteGroup %s: %v", live, err)
	}
	if !errors.Is(dr.Err, kerr.NonEmptyGroup) {
		t.Errorf("DeleteGroup of a group with a member: %v, want NON_EMPTY_GROUP", dr.Err)
	}
	dr, _ = adm.DeleteGroup(ctx, "adm-never")
	if !errors.Is(dr.Err, kerr.GroupIDNotFound) {
		t.Errorf("DeleteGroup of an unknown group: %v, want GROUP_ID_NOT_FOUND", dr.Err)
	}
	stopPoll()
	<-polled
	member.Close() // leaves the group
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, _, err := describeAssignment(ctx, adm, live, topic)
		if err == nil && g.State == "Empty" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not Empty after its member left: %s, err %v", live, g.State, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	drs, err := adm.DeleteGroups(ctx, live, empty)
	if err != nil {
		t.Fatalf("DeleteGroups: %v", err)
	}
	for _, g := range []string{live, empty} {
		if r := drs[g]; r.Err != nil {
			t.Errorf("DeleteGroups %s: %v", g, r.Err)
		}
	}
	if got := listed(); len(got) != 0 {
		t.Errorf("ListGroups after deleting every group: %v", got)
	}
	dgs, err = adm.DescribeGroups(ctx, live, empty)
	if err != nil {
		t.Fatalf("DescribeGroups: %v", err)
	}
	for _, g := range []string{live, empty} {
		if d := dgs[g]; d.State != "Dead" {
			t.Errorf("DescribeGroups %s after delete: state %q, want Dead", g, d.State)
		}
		offs, err := adm.FetchOffsets(ctx, g)
		if err != nil || len(offs[topic]) != 0 {
			t.Errorf("FetchOffsets %s after delete: %v, err %v; want nothing", g, offs, err)
		}
	}

	// A deleted group stays deleted across a restart (its tombstones
	// were written to __consumer_offsets).
	b.Stop()
	b.Restart()
	deadline = time.Now().Add(15 * time.Second)
	for {
		ls, err := adm.ListGroups(ctx)
		if err == nil {
			if len(ls) != 0 {
				t.Errorf("ListGroups after restart: %v, want none", ls.Groups())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ListGroups after restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, g := range []string{live, empty} {
		offs := fetchCommitted(t, ctx, adm, g, topic)
		if len(offs) != 0 {
			t.Errorf("FetchOffsets %s after delete and restart: %v", g, offs)
		}
	}
}
