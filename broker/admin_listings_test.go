package broker

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDescribeUserSCRAMCredentials: no user holds a SCRAM credential, so
// describing all gives none and each user named is RESOURCE_NOT_FOUND, or
// DUPLICATE_RESOURCE when named twice, as Kafka answers.
func TestDescribeUserSCRAMCredentials(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	adm := kadm.NewClient(cl)
	all, err := adm.DescribeUserSCRAMs(context.Background())
	if err != nil || len(all) != 0 {
		t.Fatalf("describe all users: %v, %v", all, err)
	}
	one, err := adm.DescribeUserSCRAMs(context.Background(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := one["alice"]; !ok || !errors.Is(r.Err, kerr.ResourceNotFound) {
		t.Fatalf("describe alice: %+v", one)
	}

	req := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	for _, n := range []string{"bob", "carol", "bob"} {
		u := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
		u.Name = n
		req.Users = append(req.Users, u)
	}
	resp := request[*kmsg.DescribeUserSCRAMCredentialsResponse](t, cl, req)
	if resp.ErrorCode != 0 || len(resp.Results) != 2 {
		t.Fatalf("top-level error %d, %d results, want 0 and 2", resp.ErrorCode, len(resp.Results))
	}
	want := map[string]int16{"bob": kerr.DuplicateResource.Code, "carol": kerr.ResourceNotFound.Code}
	for _, r := range resp.Results {
		if r.ErrorCode != want[r.User] || r.ErrorMessage == nil {
			t.Errorf("%s: error %d (%v), want %d", r.User, r.ErrorCode, r.ErrorMessage, want[r.User])
		}
	}
}

// TestListTransactions: no transaction exists, so the list is empty at
// every version; state names Kafka does not know come back as unknown.
func TestListTransactions(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	listed, err := kadm.NewClient(cl).ListTransactions(context.Background(), nil, nil)
	if err != nil || len(listed) != 0 {
		t.Fatalf("kadm ListTransactions: %v, %v", listed, err)
	}
	for v := int16(0); v <= 1; v++ {
		req := kmsg.NewPtrListTransactionsRequest()
		req.Version = v
		req.StateFilters = []string{"Ongoing", "ongoing", "Bogus", "PrepareEpochFence", "Bogus"} // a set to Kafka: Bogus is unknown once
		req.DurationFilterMillis = -1
		resp := rawRequest(t, b, req).(*kmsg.ListTransactionsResponse) // not merged by the client
		if resp.ErrorCode != 0 || len(resp.TransactionStates) != 0 {
			t.Fatalf("v%d: error %d, %d transactions", v, resp.ErrorCode, len(resp.TransactionStates))
		}
		if got := resp.UnknownStateFilters; len(got) != 2 || got[0] != "ongoing" || got[1] != "Bogus" {
			t.Fatalf("v%d: unknown state filters %q, want [ongoing Bogus]", v, got)
		}
	}
}

// TestDescribeProducers: the leader lists each idempotent producer of a
// partition with its epoch, last sequence and last batch's max timestamp,
// also after a restart; a partition without one lists none, and an unknown
// partition is UNKNOWN_TOPIC_OR_PARTITION.
func TestDescribeProducers(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	cl := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	createTopic(t, cl, "dp", 2, nil)
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	for i := range 7 {
		r := &kgo.Record{Topic: "dp", Partition: 0, Value: []byte("v"), Timestamp: base.Add(time.Duration(i) * time.Second)}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	id, epoch, err := cl.ProducerID(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	check := func(b *Broker, when string) {
		t.Helper()
		c := newClient(t, b)
		resp := describeProducers(t, b, map[string][]int32{"dp": {0, 1, 2}, "nope": {0}})
		ps := resp.Topics[0].Partitions
		if len(ps) != 3 || ps[0].ErrorCode != 0 || len(ps[0].ActiveProducers) != 1 {
			t.Fatalf("%s: partition 0: %+v", when, ps)
		}
		ap := ps[0].ActiveProducers[0]
		want := kmsg.DescribeProducersResponseTopicPartitionActiveProducer{
			ProducerID: id, ProducerEpoch: int32(epoch), LastSequence: 6,
			LastTimestamp: base.Add(6 * time.Second).UnixMilli(), CoordinatorEpoch: -1, CurrentTxnStartOffset: -1,
		}
		if ap.ProducerID != want.ProducerID || ap.ProducerEpoch != want.ProducerEpoch || ap.LastSequence != want.LastSequence ||
			ap.LastTimestamp != want.LastTimestamp || ap.CoordinatorEpoch != want.CoordinatorEpoch || ap.CurrentTxnStartOffset != want.CurrentTxnStartOffset {
			t.Fatalf("%s: producer %+v, want %+v", when, ap, want)
		}
		if ps[1].ErrorCode != 0 || len(ps[1].ActiveProducers) != 0 {
			t.Fatalf("%s: partition 1 (no producer): %+v", when, ps[1])
		}
		if ps[2].ErrorCode != kerr.UnknownTopicOrPartition.Code || resp.Topics[1].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("%s: unknown partitions answered %d and %d", when, ps[2].ErrorCode, resp.Topics[1].Partitions[0].ErrorCode)
		}
		// A name no topic can have: INVALID_TOPIC_EXCEPTION, as Kafka.
		bad := describeProducers(t, b, map[string][]int32{"no such": {0}, "": {1}})
		for _, bt := range bad.Topics {
			if bp := bt.Partitions[0]; bp.ErrorCode != kerr.InvalidTopicException.Code || bp.ErrorMessage == nil {
				t.Fatalf("%s: invalid topic %q: error %d (%v), want INVALID_TOPIC_EXCEPTION with a message", when, bt.Topic, bp.ErrorCode, bp.ErrorMessage)
			}
		}
		described, err := kadm.NewClient(c).DescribeProducers(context.Background(), kadm.TopicsSet{"dp": {0: {}}})
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		described.EachProducer(func(d kadm.DescribedProducer) {
			got++
			if d.ProducerID != id || d.LastSequence != 6 {
				t.Errorf("%s: kadm: %+v", when, d)
			}
		})
		if got != 1 {
			t.Fatalf("%s: kadm described %d producers", when, got)
		}
	}
	check(b, "running")
	cl.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = startBroker(t, dir, nil)
	defer b.Close()
	waitFor(t, func() bool { p := b.node.Partition("dp", 0); return p != nil && p.Ready() }, "dp-0 to lead again")
	check(b, "after a restart")
}

// TestProducerStateExpires: as in Kafka, a partition forgets an idempotent
// producer whose last batch is older than producer.id.expiration.ms (at the
// retention check), keeps one that is not, and accepts a forgotten one
// that writes again, at the sequence it continues with.
func TestProducerStateExpires(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	createTopic(t, cl, "px", 1, nil)
	produce := func(n int) {
		t.Helper()
		for range n {
			if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "px", Value: []byte("v")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	producers := func() []kmsg.DescribeProducersResponseTopicPartitionActiveProducer {
		t.Helper()
		return describeProducers(t, b, map[string][]int32{"px": {0}}).Topics[0].Partitions[0].ActiveProducers
	}
	produce(3)
	b.node.EnforceRetention(time.Now())
	got := producers()
	if len(got) != 1 || got[0].LastSequence != 2 {
		t.Fatalf("after a check within the expiration: %+v", got)
	}
	pid, epoch := got[0].ProducerID, int16(got[0].ProducerEpoch)
	b.node.EnforceRetention(time.Now().Add(25 * time.Hour)) // a day of Kafka's default later
	if got := producers(); len(got) != 0 {
		t.Fatalf("after the expiration: %+v, want none", got)
	}
	// The leader checks sequences against what it has not forgotten
	// either: the forgotten producer is taken at any sequence, as by a
	// restarted broker, and a repeat of its last batch is a new batch.
	raw := newClient(t, b)
	if rp := produceRaw(t, raw, "px", 0, -1, encodeBatch(time.Now().UnixMilli(), pid, epoch, 2, values(1, "again"))); rp.ErrorCode != 0 || rp.BaseOffset != 3 {
		t.Fatalf("its last sequence again, forgotten: %v at %d, want stored at 3", kerr.ErrorForCode(rp.ErrorCode), rp.BaseOffset)
	}
	b.node.EnforceRetention(time.Now().Add(50 * time.Hour))
	if rp := produceRaw(t, raw, "px", 0, -1, encodeBatch(time.Now().UnixMilli(), pid, epoch, 50, values(1, "gap"))); rp.ErrorCode != 0 {
		t.Fatalf("a gap after being forgotten: %v, want accepted", kerr.ErrorForCode(rp.ErrorCode))
	}
	b.node.EnforceRetention(time.Now().Add(75 * time.Hour))
	produce(2)
	if got := producers(); len(got) != 1 || got[0].LastSequence != 4 {
		t.Fatalf("a forgotten producer writing again: %+v, want its sequence to go on to 4", got)
	}
}

// TestProducerIDExpirationDynamic: producer.id.expiration.ms is a dynamic
// broker config, as in Kafka since 3.5 (DynamicProducerStateManagerConfig):
// set for the cluster or one broker, it takes effect at the next check
// without a restart; a value below 1 is refused.
func TestProducerIDExpirationDynamic(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "pd", 1, nil)
	hourAgo := time.Now().Add(-time.Hour).UnixMilli()
	if rp := produceRaw(t, cl, "pd", 0, -1, encodeBatch(hourAgo, 7, 0, 0, values(1, "v"))); rp.ErrorCode != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(rp.ErrorCode))
	}
	producers := func() int {
		return len(describeProducers(t, b, map[string][]int32{"pd": {0}}).Topics[0].Partitions[0].ActiveProducers)
	}
	b.node.EnforceRetention(time.Now())
	if n := producers(); n != 1 {
		t.Fatalf("%d producers within the default day, want 1", n)
	}
	for _, bad := range []string{"0", "-1", "x", "2147483648"} {
		if code := alterConfig(t, cl, kmsg.ConfigResourceTypeBroker, "", "producer.id.expiration.ms", bad); code != kerr.InvalidRequest.Code {
			t.Errorf("producer.id.expiration.ms=%s: %v, want INVALID_REQUEST", bad, kerr.ErrorForCode(code))
		}
	}
	if code := alterConfig(t, cl, kmsg.ConfigResourceTypeBroker, "", "producer.id.expiration.ms", "7200000"); code != 0 {
		t.Fatalf("cluster-wide producer.id.expiration.ms: %v", kerr.ErrorForCode(code))
	}
	b.node.EnforceRetention(time.Now())
	if n := producers(); n != 1 {
		t.Fatalf("%d producers within two hours, want 1", n)
	}
	if code := alterConfig(t, cl, kmsg.ConfigResourceTypeBroker, "1", "producer.id.expiration.ms", "60000"); code != 0 {
		t.Fatalf("broker producer.id.expiration.ms: %v", kerr.ErrorForCode(code))
	}
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
	rr.ConfigNames = []string{"producer.id.expiration.ms"}
	req.Resources = append(req.Resources, rr)
	c := request[*kmsg.DescribeConfigsResponse](t, cl, req).Resources[0].Configs[0]
	if c.Value == nil || *c.Value != "60000" || c.Source != kmsg.ConfigSourceDynamicBrokerConfig || c.ReadOnly {
		t.Fatalf("described %+v, want 60000 from the broker's dynamic config, not read-only", c)
	}
	b.node.EnforceRetention(time.Now())
	if n := producers(); n != 0 {
		t.Fatalf("%d producers an hour idle with a minute's expiration, want none", n)
	}
}

// describeProducers asks b directly (one broker: no client sharding) about
// the partitions of each topic, in the order of the topics' names.
func describeProducers(t *testing.T, b *Broker, parts map[string][]int32) *kmsg.DescribeProducersResponse {
	t.Helper()
	req := kmsg.NewPtrDescribeProducersRequest()
	for _, topic := range slices.Sorted(maps.Keys(parts)) {
		rt := kmsg.NewDescribeProducersRequestTopic()
		rt.Topic, rt.Partitions = topic, parts[topic]
		req.Topics = append(req.Topics, rt)
	}
	return rawRequest(t, b, req).(*kmsg.DescribeProducersResponse)
}

// TestExpiredProducerNotRestored: a producer that expired while the broker
// was stopped is not brought back from the partition's snapshot and log at
// the start, as Kafka skips expired producers when it loads their state;
// before, it came back until the first retention check.
func TestExpiredProducerNotRestored(t *testing.T) {
	dir := t.TempDir()
	short := func(c *Config) { c.ProducerIDExpirationMs = 1000 }
	b := startBroker(t, dir, short)
	cl := newClient(t, b)
	createTopic(t, cl, "pr", 1, nil)
	if rp := produceRaw(t, cl, "pr", 0, -1, encodeBatch(time.Now().UnixMilli(), 7, 0, 0, values(1, "v"))); rp.ErrorCode != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(rp.ErrorCode))
	}
	if got := describeProducers(t, b, map[string][]int32{"pr": {0}}).Topics[0].Partitions[0].ActiveProducers; len(got) != 1 {
		t.Fatalf("producers before the stop: %+v", got)
	}
	cl.Close()
	b.Close()
	time.Sleep(1500 * time.Millisecond)

	b = startBroker(t, dir, short)
	defer b.Close()
	cl = newClient(t, b)
	waitFor(t, func() bool { p := b.node.Partition("pr", 0); return p != nil && p.Ready() }, "partition pr-0 leading")
	if got := describeProducers(t, b, map[string][]int32{"pr": {0}}).Topics[0].Partitions[0].ActiveProducers; len(got) != 0 {
		t.Fatalf("producers after a start past their expiration: %+v, want none", got)
	}
	// And it is taken at any sequence, as a producer the broker forgot.
	if rp := produceRaw(t, cl, "pr", 0, -1, encodeBatch(time.Now().UnixMilli(), 7, 0, 40, values(1, "w"))); rp.ErrorCode != 0 || rp.BaseOffset != 1 {
		t.Fatalf("the expired producer at sequence 40: %v at %d, want stored at 1", kerr.ErrorForCode(rp.ErrorCode), rp.BaseOffset)
	}
}
