package compattests

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// kafkaGroupPartition is Kafka's choice of __consumer_offsets partition for
// a group: Utils.abs(groupId.hashCode()) % partitions, where Utils.abs maps
// Integer.MIN_VALUE to 0 and is Math.abs otherwise.
func kafkaGroupPartition(group string, partitions int32) int32 {
	var h int32
	for _, u := range utf16.Encode([]rune(group)) {
		h = 31*h + int32(u)
	}
	switch {
	case h == math.MinInt32:
		h = 0
	case h < 0:
		h = -h
	}
	return h % partitions
}

// TestGroupOffsetsTopic reads __consumer_offsets as a monitoring tool does:
// a plain consumer decodes its records with Kafka's key/value schemas and
// finds the commits and the group metadata there, in the partition Kafka
// would use for each group; Metadata reports the topic as internal.
func TestGroupOffsetsTopic(t *testing.T) {
	const (
		topic         = "ot-topic"
		offsetsParts  = 50          // Kafka's default, the broker's too
		memberGroup   = "ot-g"      // positive String.hashCode
		simpleGroup   = "tools-g1"  // negative String.hashCode
		simpleGroup2  = "ot-simple" // positive
		offsetsTopicN = "__consumer_offsets"
	)
	b := startBroker(t, "--group-initial-rebalance-delay-ms", "0")
	ctx := testCtx(t, 60*time.Second)
	adm := newAdm(t, b.Addr())
	createTopic(t, ctx, adm, topic, 2, nil)

	assigned := make(chan struct{}, 1)
	cl := newKgo(t, b.Addr(),
		kgo.ClientID("ot-member"),
		kgo.ConsumerGroup(memberGroup),
		kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
		kgo.Balancers(kgo.RangeBalancer()),
		notifyAssigned(assigned),
	)
	go cl.PollFetches(ctx)
	select {
	case <-assigned:
	case <-ctx.Done():
		t.Fatal("member never assigned")
	}
	memberCommit(t, ctx, cl, topic, map[int32]int64{0: 4, 1: 6})
	simpleCommit(t, ctx, adm, simpleGroup, topic, map[int32]int64{0: 1, 1: 2})
	simpleCommit(t, ctx, adm, simpleGroup2, topic, map[int32]int64{0: 11})

	// Metadata: internal, listed only when asked for internal topics.
	md, err := adm.Metadata(ctx)
	if err != nil {
		t.Fatalf("Metadata: %v", err)
	}
	if td, ok := md.Topics[offsetsTopicN]; !ok || !td.IsInternal || len(td.Partitions) != offsetsParts {
		t.Errorf("Metadata %s: present %v, internal %v, %d partitions; want internal with %d", offsetsTopicN, ok, td.IsInternal, len(td.Partitions), offsetsParts)
	}
	if tds, err := adm.ListTopics(ctx); err != nil || tds.Has(offsetsTopicN) {
		t.Errorf("ListTopics (no internal): has %s %v, err %v", offsetsTopicN, tds.Has(offsetsTopicN), err)
	}
	if tds, err := adm.ListTopicsWithInternal(ctx); err != nil || !tds.Has(offsetsTopicN) {
		t.Errorf("ListTopicsWithInternal: has %s %v, err %v", offsetsTopicN, tds.Has(offsetsTopicN), err)
	}

	type commitKey struct {
		group string
		part  int32
	}
	want := map[commitKey]int64{
		{memberGroup, 0}: 4, {memberGroup, 1}: 6,
		{simpleGroup, 0}: 1, {simpleGroup, 1}: 2,
		{simpleGroup2, 0}: 11,
	}
	found := map[commitKey]int64{}
	foundIn := map[string]int32{} // group -> __consumer_offsets partition
	var meta *kmsg.GroupMetadataValue

	rd := newKgo(t, b.Addr(),
		kgo.ConsumeTopics(offsetsTopicN),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	deadline := time.Now().Add(20 * time.Second)
	for (len(found) < len(want) || meta == nil) && time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := rd.PollFetches(pctx)
		cancel()
		fs.EachError(func(tp string, p int32, err error) {
			if err != context.DeadlineExceeded {
				t.Errorf("fetch %s/%d: %v", tp, p, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			if len(r.Key) < 2 {
				t.Errorf("%s/%d@%d: key %x too short", r.Topic, r.Partition, r.Offset, r.Key)
				return
			}
			switch v := binary.BigEndian.Uint16(r.Key); v {
			case 0, 1:
				k := kmsg.NewOffsetCommitKey()
				if err := k.ReadFrom(r.Key); err != nil {
					t.Errorf("%s/%d@%d: OffsetCommitKey: %v", r.Topic, r.Partition, r.Offset, err)
					return
				}
				if r.Value == nil { // tombstone
					return
				}
				val := kmsg.NewOffsetCommitValue()
				if err := val.ReadFrom(r.Value); err != nil {
					t.Errorf("%s/%d@%d: OffsetCommitValue (v%d): %v", r.Topic, r.Partition, r.Offset, binary.BigEndian.Uint16(r.Value), err)
					return
				}
				if k.Topic != topic {
					return
				}
				found[commitKey{k.Group, k.Partition}] = val.Offset
				foundIn[k.Group] = r.Partition
				if k.Group == simpleGroup && val.Metadata != fmt.Sprintf("m%d", val.Offset) {
					t.Errorf("%s %s/%d: metadata %q", k.Group, k.Topic, k.Partition, val.Metadata)
				}
			case 2:
				k := kmsg.NewGroupMetadataKey()
				if err := k.ReadFrom(r.Key); err != nil {
					t.Errorf("%s/%d@%d: GroupMetadataKey: %v", r.Topic, r.Partition, r.Offset, err)
					return
				}
				if k.Group != memberGroup || r.Value == nil {
					return
				}
				val := kmsg.NewGroupMetadataValue()
				if err := val.ReadFrom(r.Value); err != nil {
					t.Errorf("%s/%d@%d: GroupMetadataValue (v%d): %v", r.Topic, r.Partition, r.Offset, binary.BigEndian.Uint16(r.Value), err)
					return
				}
				if len(val.Members) > 0 {
					meta = &val
					foundIn["meta:"+k.Group] = r.Partition
				}
			default:
				t.Errorf("%s/%d@%d: unknown key version %d (key %x)", r.Topic, r.Partition, r.Offset, v, r.Key)
			}
		})
	}
	for k, o := range want {
		if got, ok := found[k]; !ok || got != o {
			t.Errorf("__consumer_offsets: %s %s/%d committed %d (found %v), want %d", k.group, topic, k.part, got, ok, o)
		}
	}
	if meta == nil {
		t.Fatalf("no GroupMetadataValue with members for %s in %s", memberGroup, offsetsTopicN)
	}
	if meta.ProtocolType != "consumer" || meta.Protocol == nil || *meta.Protocol != "range" || meta.Generation < 1 ||
		meta.Leader == nil || len(meta.Members) != 1 || meta.Members[0].ClientID != "ot-member" || meta.Members[0].MemberID != *meta.Leader {
		t.Errorf("GroupMetadataValue of %s: %+v", memberGroup, *meta)
	} else {
		var ca kmsg.ConsumerMemberAssignment
		if err := ca.ReadFrom(meta.Members[0].Assignment); err != nil || len(ca.Topics) != 1 || ca.Topics[0].Topic != topic || len(ca.Topics[0].Partitions) != 2 {
			t.Errorf("stored assignment of %s: %+v (err %v)", memberGroup, ca, err)
		}
	}
	for _, g := range []string{memberGroup, "meta:" + memberGroup, simpleGroup, simpleGroup2} {
		name := g
		if len(g) > 5 && g[:5] == "meta:" {
			name = g[5:]
		}
		if p, ok := foundIn[g]; ok && p != kafkaGroupPartition(name, offsetsParts) {
			t.Errorf("records of group %q are in %s partition %d; Kafka puts them in abs(hashCode) %% %d = %d",
				name, offsetsTopicN, p, offsetsParts, kafkaGroupPartition(name, offsetsParts))
		}
	}
}
