package broker

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Two group members split four partitions, consume everything once, commit,
// and the commits survive a broker restart.
func TestConsumerGroupEndToEnd(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	defer b.Close()
	prod := newClient(t, b, kgo.DefaultProduceTopic("g"))
	createTopic(t, prod, "g", 4, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 200
	for i := 0; i < n; i++ {
		if err := prod.ProduceSync(ctx, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	members := make([]*kgo.Client, 2)
	for i := range members {
		members[i] = newClient(t, b, kgo.ConsumerGroup("grp"), kgo.ConsumeTopics("g"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	}
	// Whoever sees the last record stops the other member's poll.
	pollCtx, stopPolls := context.WithCancel(ctx)
	defer stopPolls()
	for _, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for pollCtx.Err() == nil {
				fs := m.PollFetches(pollCtx)
				fs.EachRecord(func(r *kgo.Record) {
					mu.Lock()
					seen[string(r.Value)]++
					mu.Unlock()
				})
				if err := m.CommitUncommittedOffsets(ctx); err != nil {
					t.Errorf("commit: %v", err)
				}
				mu.Lock()
				done := len(seen) == n
				mu.Unlock()
				if done {
					stopPolls()
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("consumed %d distinct records, want %d", len(seen), n)
	}

	// Describe: a stable consumer group with two members.
	adm := kadm.NewClient(prod)
	// (a cooperative rebalance may still be finishing its second round)
	waitFor(t, func() bool {
		dg, err := adm.DescribeGroups(ctx, "grp")
		return err == nil && dg["grp"].State == "Stable" && len(dg["grp"].Members) == 2
	}, "a stable group of two members")
	// The exporter-named figures: two members, Stable, nothing left to read.
	want := map[string]float64{"kafka_consumergroup_members": 2, "kafka_consumergroup_lag_sum": 0}
	got := map[string]float64{}
	stable := false
	mfs, err := b.metrics.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["consumergroup"] != "grp" {
				continue
			}
			switch mf.GetName() {
			case "kafka_consumergroup_members", "kafka_consumergroup_lag_sum":
				got[mf.GetName()] = m.GetGauge().GetValue()
			case "kafka_consumergroup_state":
				if labels["state"] == "Stable" && m.GetGauge().GetValue() == 1 {
					stable = true
				}
			}
		}
	}
	for k, v := range want {
		if gv, ok := got[k]; !ok || gv != v {
			t.Errorf("%s = %v (present %v), want %v", k, gv, ok, v)
		}
	}
	if !stable {
		t.Error("kafka_consumergroup_state{state=Stable} is not 1")
	}
	for _, m := range members {
		m.Close()
	}
	offsets := func() kadm.OffsetResponses {
		t.Helper()
		o, err := adm.FetchOffsets(ctx, "grp")
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	before := offsets()
	var total int64
	before.Each(func(o kadm.OffsetResponse) { total += o.At })
	if total != n {
		t.Fatalf("committed offsets sum to %d, want %d", total, n)
	}

	// The commits survive a restart (and are rebuilt from __consumer_offsets).
	prod.Close()
	b.Close()
	b = startBroker(t, dir, nil)
	defer b.Close()
	prod = newClient(t, b)
	adm = kadm.NewClient(prod)
	var after kadm.OffsetResponses
	waitFor(t, func() bool {
		o, err := adm.FetchOffsets(ctx, "grp")
		after = o
		return err == nil && o.Error() == nil
	}, "offsets after restart")
	after.Each(func(o kadm.OffsetResponse) {
		if bo, _ := before.Lookup(o.Topic, o.Partition); bo.At != o.At {
			t.Errorf("%s/%d: committed %d before restart, %d after", o.Topic, o.Partition, bo.At, o.At)
		}
	})
	if len(after.Sorted()) != 4 {
		t.Fatalf("%d committed partitions after restart", len(after.Sorted()))
	}
	// The group is empty now; deleting it works, and then its offsets are gone.
	dr, err := adm.DeleteGroups(ctx, "grp")
	if err != nil || dr["grp"].Err != nil {
		t.Fatalf("delete group: %v %v", err, dr["grp"].Err)
	}
	if o := offsets(); len(o.Sorted()) != 0 {
		t.Fatalf("offsets after delete: %v", o.Sorted())
	}
}

// offsets.topic.segment.bytes is the segment size __consumer_offsets is made
// with, as in Kafka: with the shards' checkpoints, it is what bounds the
// disk a shard holds before its old segments go.
func TestOffsetsTopicSegmentBytes(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) {
		if err := c.LoadProperties(strings.NewReader("offsets.topic.segment.bytes=2097152\n")); err != nil {
			t.Fatal(err)
		}
	})
	defer b.Close()
	offsetsTopicUp(t, b)
	if v := describeTopicConfigs(t, b, offsetsTopic, "segment.bytes")["segment.bytes"].Value; v == nil || *v != "2097152" {
		t.Fatalf("segment.bytes of %s: %v, want 2097152", offsetsTopic, deref(v))
	}
	small := DefaultConfig()
	if err := small.Set("offsets.topic.segment.bytes", "1000"); err != nil {
		t.Fatal(err)
	}
	if small.Validate() == nil {
		t.Fatal("offsets.topic.segment.bytes below a topic's least segment.bytes accepted")
	}
}

func TestFindCoordinatorAndInternalTopic(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	hasOffsetsTopic := func() (found, internal bool) {
		md := kmsg.NewPtrMetadataRequest()
		md.Version = 9
		for _, tp := range rawRequest(t, b, md).(*kmsg.MetadataResponse).Topics {
			if *tp.Topic == offsetsTopic {
				return true, tp.IsInternal
			}
		}
		return false, false
	}
	// As in Kafka, __consumer_offsets is made on the first coordinator
	// lookup, which here waits for it and answers.
	if found, _ := hasOffsetsTopic(); found {
		t.Fatal("__consumer_offsets exists before any group asked for a coordinator")
	}
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version = 4
	req.CoordinatorKeys = []string{"a", "b"}
	resp := rawRequest(t, b, req).(*kmsg.FindCoordinatorResponse)
	for _, c := range resp.Coordinators {
		if c.ErrorCode != 0 || c.NodeID != b.node.ID() || c.Port != int32(b.Addr().(*net.TCPAddr).Port) {
			t.Fatalf("coordinator for %s: %+v", c.Key, c)
		}
	}
	old := kmsg.NewPtrFindCoordinatorRequest()
	old.Version = 0
	old.CoordinatorKey = "x"
	if r := rawRequest(t, b, old).(*kmsg.FindCoordinatorResponse); r.ErrorCode != 0 || r.NodeID != b.node.ID() {
		t.Fatalf("v0: %+v", r)
	}
	// Kafka's partition choice: Utils.abs(String.hashCode()) % n. The wanted
	// values were computed with Java; "my-group" and "tools-g1" have negative
	// hash codes.
	for _, tc := range []struct {
		group string
		n     int32
		want  int32
	}{{"my-group", 50, 12}, {"", 50, 0}, {"console-consumer-12345", 50, 6}, {"ü-grøup😀", 50, 28}, {"tools-g1", 50, 34}} {
		if got := shardIndex(tc.group, tc.n); got != tc.want {
			t.Errorf("shardIndex(%q, %d) = %d, want %d", tc.group, tc.n, got, tc.want)
		}
	}
	// __consumer_offsets is listed as internal, and clients cannot write it.
	if found, internal := hasOffsetsTopic(); !found || !internal {
		t.Fatalf("__consumer_offsets listed %v, as internal %v; want both", found, internal)
	}
	cl := newClient(t, b)
	cp := kmsg.NewPtrCreatePartitionsRequest()
	cpt := kmsg.NewCreatePartitionsRequestTopic()
	cpt.Topic, cpt.Count = offsetsTopic, 8
	cp.Topics = append(cp.Topics, cpt)
	if code := request[*kmsg.CreatePartitionsResponse](t, cl, cp).Topics[0].ErrorCode; code != kerr.InvalidRequest.Code {
		t.Fatalf("growing __consumer_offsets: %v", kerr.ErrorForCode(code))
	}
	if rp := produceRaw(t, cl, offsetsTopic, 0, -1, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(1, "x"))); rp.ErrorCode != kerr.InvalidTopicException.Code {
		t.Fatalf("produce to __consumer_offsets: %v", kerr.ErrorForCode(rp.ErrorCode))
	}
}
