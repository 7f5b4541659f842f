package broker

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestQuotaRate: Kafka's sampled rate, over at least ten windows.
func TestQuotaRate(t *testing.T) {
	r := newQuotaRate(11, 1000)
	t0 := int64(1_000_000)
	r.record(12000, t0)
	if rate, win := r.measure(t0); rate != 1200 || win != 10000 {
		t.Errorf("one burst: rate %v over %d ms, want 1200 over 10000", rate, win)
	}
	for i := int64(1); i <= 15; i++ { // one sample a second: 11 are kept
		r.record(1000, t0+i*1000)
	}
	rate, win := r.measure(t0 + 15000)
	if win != 10000 || rate != 1100 { // 11 samples of 1000 (one just begun) over 10 s
		t.Errorf("steady: rate %v over %d ms, want 1100 over 10000", rate, win)
	}
	if rate, _ := r.measure(t0 + 40000); rate != 0 {
		t.Errorf("idle for long: rate %v, want 0", rate)
	}
}

// alterQuota sets (or with remove, removes) key on the entity given as
// type, name pairs (a nil name: the default entity) and returns the entry's
// error.
func alterQuota(t testing.TB, cl *kgo.Client, validateOnly bool, key string, value float64, remove bool, entity ...any) kmsg.AlterClientQuotasResponseEntry {
	t.Helper()
	req := kmsg.NewPtrAlterClientQuotasRequest()
	req.ValidateOnly = validateOnly
	e := kmsg.NewAlterClientQuotasRequestEntry()
	for i := 0; i+1 < len(entity); i += 2 {
		p := kmsg.NewAlterClientQuotasRequestEntryEntity()
		p.Type = entity[i].(string)
		if n, ok := entity[i+1].(string); ok {
			p.Name = &n
		}
		e.Entity = append(e.Entity, p)
	}
	op := kmsg.NewAlterClientQuotasRequestEntryOp()
	op.Key, op.Value, op.Remove = key, value, remove
	e.Ops = append(e.Ops, op)
	req.Entries = append(req.Entries, e)
	resp := request[*kmsg.AlterClientQuotasResponse](t, cl, req)
	if len(resp.Entries) != 1 {
		t.Fatalf("alter quotas: %d entries in the answer", len(resp.Entries))
	}
	return resp.Entries[0]
}

// TestClientQuotasAlterDescribe: quotas are checked as Kafka's controller
// checks them, kept across a restart, and described by Kafka's filters.
func TestClientQuotasAlterDescribe(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	cl := newClient(t, b)
	for _, tc := range []struct {
		key    string
		value  float64
		entity []any
		want   string // "" for success, else a word of the message
	}{
		{"producer_byte_rate", 1024, []any{"client-id", "app"}, ""},
		{"consumer_byte_rate", 2048, []any{"user", "ANONYMOUS", "client-id", nil}, ""},
		{"producer_byte_rate", 4096, []any{"user", nil}, ""},
		{"consumer_byte_rate", 1e6, []any{"client-id", nil}, ""},
		{"producer_byte_rate", 0, []any{"client-id", "app"}, "greater than 0"},
		{"producer_byte_rate", -5, []any{"client-id", "app"}, "greater than 0"},
		{"producer_byte_rate", 10.5, []any{"client-id", "app"}, "fractional"},
		{"fetch_rate", 10, []any{"client-id", "app"}, "Invalid configuration key"},
		{"connection_creation_rate", 10, []any{"client-id", "app"}, "Invalid configuration key"},
		{"producer_byte_rate", 10, []any{"ip", "127.0.0.1"}, "Invalid configuration key"},
		{"connection_creation_rate", 10, []any{"ip", "127.0.0.1", "user", "x"}, "combination"},
		{"producer_byte_rate", 10, []any{"group", "g"}, "entity type"},
		{"producer_byte_rate", 10, []any{"client-id", ""}, "Empty client-id"},
		{"producer_byte_rate", 10, []any{"user", "a", "user", "b"}, "duplicate"},
		{"producer_byte_rate", 10, nil, "empty"},
		{"request_percentage", 50, []any{"client-id", "app"}, "not enforced"},
	} {
		e := alterQuota(t, cl, false, tc.key, tc.value, false, tc.entity...)
		msg := ""
		if e.ErrorMessage != nil {
			msg = *e.ErrorMessage
		}
		switch {
		case tc.want == "" && e.ErrorCode != 0:
			t.Errorf("%s=%v on %v: error %d %q", tc.key, tc.value, tc.entity, e.ErrorCode, msg)
		case tc.want != "" && (e.ErrorCode != kerr.InvalidRequest.Code || !strings.Contains(msg, tc.want)):
			t.Errorf("%s=%v on %v: error %d %q, want INVALID_REQUEST saying %q", tc.key, tc.value, tc.entity, e.ErrorCode, msg, tc.want)
		}
	}
	if e := alterQuota(t, cl, true, "producer_byte_rate", 99, false, "client-id", "dry"); e.ErrorCode != 0 {
		t.Errorf("validate only: error %d", e.ErrorCode)
	}
	if e := alterQuota(t, cl, false, "consumer_byte_rate", 0, true, "client-id", nil); e.ErrorCode != 0 {
		t.Errorf("remove: error %d", e.ErrorCode)
	}

	// One request setting two keys of an entity, and naming one twice.
	req := kmsg.NewPtrAlterClientQuotasRequest()
	e := kmsg.NewAlterClientQuotasRequestEntry()
	p := kmsg.NewAlterClientQuotasRequestEntryEntity()
	p.Type, p.Name = "client-id", kmsg.StringPtr("app")
	e.Entity = append(e.Entity, p)
	for _, k := range []string{"consumer_byte_rate", "consumer_byte_rate"} {
		op := kmsg.NewAlterClientQuotasRequestEntryOp()
		op.Key, op.Value = k, 10
		e.Ops = append(e.Ops, op)
	}
	req.Entries = append(req.Entries, e)
	if resp := request[*kmsg.AlterClientQuotasResponse](t, cl, req); resp.Entries[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("a key twice: error %d, want INVALID_REQUEST", resp.Entries[0].ErrorCode)
	}

	check := func(b *Broker) {
		t.Helper()
		adm := kadm.NewClient(newClient(t, b))
		for _, tc := range []struct {
			comps  []kadm.DescribeClientQuotaComponent
			strict bool
			want   string
		}{
			{nil, false, "client-id=app:producer_byte_rate=1024 client-id=<default>,user=ANONYMOUS:consumer_byte_rate=2048 user=<default>:producer_byte_rate=4096"},
			{nil, true, ""},
			{[]kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchType: kmsg.QuotasMatchTypeExact, MatchName: kmsg.StringPtr("app")}}, false, "client-id=app:producer_byte_rate=1024"},
			{[]kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchType: kmsg.QuotasMatchTypeAny}}, false, "client-id=app:producer_byte_rate=1024 client-id=<default>,user=ANONYMOUS:consumer_byte_rate=2048"},
			{[]kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchType: kmsg.QuotasMatchTypeAny}}, true, "client-id=app:producer_byte_rate=1024"},
			{[]kadm.DescribeClientQuotaComponent{{Type: "client-id", MatchType: kmsg.QuotasMatchTypeDefault}}, false, "client-id=<default>,user=ANONYMOUS:consumer_byte_rate=2048"},
			{[]kadm.DescribeClientQuotaComponent{{Type: "user", MatchType: kmsg.QuotasMatchTypeDefault}}, true, "user=<default>:producer_byte_rate=4096"},
			{[]kadm.DescribeClientQuotaComponent{{Type: "ip", MatchType: kmsg.QuotasMatchTypeAny}}, false, ""},
		} {
			got, err := adm.DescribeClientQuotas(context.Background(), tc.strict, tc.comps)
			if err != nil {
				t.Fatalf("describe %+v: %v", tc.comps, err)
			}
			var parts []string
			for _, q := range got {
				var ent []string
				for _, c := range q.Entity {
					name := "<default>"
					if c.Name != nil {
						name = *c.Name
					}
					ent = append(ent, c.Type+"="+name)
				}
				var vals []string
				for _, v := range q.Values {
					vals = append(vals, v.Key+"="+strconv.FormatFloat(v.Value, 'f', -1, 64))
				}
				parts = append(parts, strings.Join(ent, ",")+":"+strings.Join(vals, ","))
			}
			if g := strings.Join(parts, " "); g != tc.want {
				t.Errorf("describe %+v strict %v:\n got %s\nwant %s", tc.comps, tc.strict, g, tc.want)
			}
		}
	}
	check(b)
	b.Close()
	b = startBroker(t, dir, nil) // kept in the cluster metadata
	defer b.Close()
	check(b)
}

// TestProduceQuotaThrottles: a client over its producer_byte_rate is told
// how long to wait; from produce v6 the answer goes at once and the
// connection's next request waits that long (KIP-219), before v6 the
// answer itself waits. Another client id is not held.
func TestProduceQuotaThrottles(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "pq", 1, nil)
	if e := alterQuota(t, cl, false, "producer_byte_rate", 1000, false, "client-id", "raw"); e.ErrorCode != 0 {
		t.Fatalf("set quota: error %d", e.ErrorCode)
	}
	// 13 KB against 1000 B/s measured over 10 s: about 3 s over, long
	// enough to tell an answer held back from a slow write and sync.
	batch := encodeBatch(time.Now().UnixMilli(), -1, -1, 0, []testRecord{{value: bytes.Repeat([]byte("q"), 13000)}})
	conn := rawConn(t, b)
	defer conn.Close()
	sent := time.Now()
	resp, at := sendRaw(t, conn, rawFormatter, produceReq("pq", -1, 5000, batch), 1)
	pr := resp.(*kmsg.ProduceResponse)
	if pr.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("produce: error %d", pr.Topics[0].Partitions[0].ErrorCode)
	}
	throttle := time.Duration(pr.ThrottleMillis) * time.Millisecond
	if throttle < 2*time.Second || throttle > 5*time.Second {
		t.Fatalf("throttle %v, want about 3 s", throttle)
	}
	if d := at.Sub(sent); d > throttle/2 {
		t.Errorf("v9 answer took %v: it should not wait out the throttle of %v", d, throttle)
	}
	_, at2 := sendRaw(t, conn, rawFormatter, kmsg.NewPtrMetadataRequest(), 2)
	if d := at2.Sub(sent); d < throttle-100*time.Millisecond {
		t.Errorf("next request answered %v after the produce, before the throttle of %v ended", d, throttle)
	}

	// Another client is not held.
	other := kmsg.NewRequestFormatter(kmsg.FormatterClientID("other"))
	oc := rawConn(t, b)
	defer oc.Close()
	resp, _ = sendRaw(t, oc, other, produceReq("pq", -1, 5000, batch), 1)
	if ms := resp.(*kmsg.ProduceResponse).ThrottleMillis; ms != 0 {
		t.Errorf("client without a quota: throttle %d ms", ms)
	}

	// Produce v5, from before KIP-219: as Kafka since 2.0, the answer
	// still goes at once and the connection is muted. (Held back, it
	// would make a client that waits out the throttle itself, as sarama
	// does at every version, wait twice.)
	small := encodeBatch(time.Now().UnixMilli(), -1, -1, 0, []testRecord{{value: bytes.Repeat([]byte("x"), 200)}})
	old := produceReq("pq", -1, 5000, small)
	old.Version = 5
	c5 := rawConn(t, b)
	defer c5.Close()
	sent = time.Now()
	resp, at = sendRaw(t, c5, rawFormatter, old, 1)
	throttle = time.Duration(resp.(*kmsg.ProduceResponse).ThrottleMillis) * time.Millisecond
	if throttle < 2*time.Second {
		t.Fatalf("v5: throttle %v, want the client still about 3 s over its quota", throttle)
	}
	if d := at.Sub(sent); d > throttle/2 {
		t.Errorf("v5 answer took %v: it should not wait out the throttle of %v", d, throttle)
	}
	_, at2 = sendRaw(t, c5, rawFormatter, kmsg.NewPtrMetadataRequest(), 2)
	if d := at2.Sub(sent); d < throttle-100*time.Millisecond {
		t.Errorf("v5: next request answered %v after the produce, before the throttle of %v ended", d, throttle)
	}
}

// TestProduceQuotaFranz: franz-go, under a producer_byte_rate quota, is
// throttled after the answers (KIP-219) and slowed to about its rate.
func TestProduceQuotaFranz(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	admin := newClient(t, b)
	createTopic(t, admin, "pf", 1, nil)
	if e := alterQuota(t, admin, false, "producer_byte_rate", 2000, false, "client-id", nil); e.ErrorCode != 0 {
		t.Fatalf("set quota: error %d", e.ErrorCode)
	}
	var throttles atomic.Int64
	hook := throttleHook(func(d time.Duration, after bool) {
		if after {
			throttles.Add(int64(d))
		}
	})
	cl := newClient(t, b, kgo.ClientID("slowpoke"), kgo.WithHooks(hook), kgo.DefaultProduceTopic("pf"), kgo.ProducerLinger(0))
	start := time.Now()
	for i := range 22 { // 22 KB against 2000 B/s over 10 s: 2 KB over
		v := make([]byte, 1000) // random: the client compresses
		rand.Read(v)
		r := &kgo.Record{Value: v}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	el := time.Since(start)
	got := time.Duration(throttles.Load())
	if got < 500*time.Millisecond {
		t.Fatalf("franz-go was throttled %v in all, want at least half a second", got)
	}
	if el < got/2 {
		t.Errorf("22 KB took %v, though told to wait %v", el, got)
	}
}

type throttleHook func(d time.Duration, after bool)

func (h throttleHook) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, after bool) {
	h(d, after)
}

// TestFetchQuotaThrottles: a client under a consumer_byte_rate quota gets
// at most what the quota allows over ten windows in one fetch, and once
// over it an empty answer with the time to wait; a new session is not
// kept then.
func TestFetchQuotaThrottles(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "fq", 1, nil)
	for range 4 {
		batch := encodeBatch(time.Now().UnixMilli(), -1, -1, 0, []testRecord{{value: bytes.Repeat([]byte("f"), 6000)}})
		if rp := produceRaw(t, cl, "fq", 0, -1, batch); rp.ErrorCode != 0 {
			t.Fatalf("produce: error %d", rp.ErrorCode)
		}
	}
	if e := alterQuota(t, cl, false, "consumer_byte_rate", 1000, false, "client-id", "raw"); e.ErrorCode != 0 {
		t.Fatalf("set quota: error %d", e.ErrorCode)
	}
	fetch := func(conn net.Conn, offset int64, sessionEpoch int32) *kmsg.FetchResponse {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.MaxBytes, req.SessionEpoch = 11, 1<<20, sessionEpoch
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = "fq"
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.FetchOffset, rp.PartitionMaxBytes = offset, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, _ := sendRaw(t, conn, rawFormatter, req, 1)
		return resp.(*kmsg.FetchResponse)
	}
	c1 := rawConn(t, b)
	defer c1.Close()
	resp := fetch(c1, 0, -1)
	if resp.ThrottleMillis != 0 || len(resp.Topics) != 1 {
		t.Fatalf("first fetch: throttle %d, %d topics", resp.ThrottleMillis, len(resp.Topics))
	}
	if n := len(resp.Topics[0].Partitions[0].RecordBatches); n < 6000 || n > 10000 {
		t.Fatalf("first fetch: %d bytes, want one batch: at most the 10,000 the quota allows", n)
	}
	c2 := rawConn(t, b)
	defer c2.Close()
	resp = fetch(c2, 1, 0) // a new session, over the quota
	if resp.ThrottleMillis < 500 || len(resp.Topics) != 0 || resp.SessionID != 0 {
		t.Fatalf("fetch over the quota: throttle %d ms, %d topics, session %d; want a throttle, nothing, no session",
			resp.ThrottleMillis, len(resp.Topics), resp.SessionID)
	}
}

// TestMutationQuota: controller_mutation_rate (KIP-599) takes the
// partitions a request creates or deletes from a bucket of eleven seconds'
// worth; a strict version's topic that finds the bucket in deficit is
// refused with THROTTLING_QUOTA_EXCEEDED, an older version's goes ahead and
// its answer waits out the deficit.
func TestMutationQuota(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	if e := alterQuota(t, cl, false, "controller_mutation_rate", 2, false, "client-id", "raw"); e.ErrorCode != 0 {
		t.Fatalf("set quota: error %d", e.ErrorCode)
	}
	create := func(conn net.Conn, version int16, name string, parts int32) (*kmsg.CreateTopicsResponse, time.Duration) {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Version, req.TimeoutMillis = version, 10000
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, parts, 1
		req.Topics = append(req.Topics, rt)
		start := time.Now()
		resp, at := sendRaw(t, conn, rawFormatter, req, 1)
		return resp.(*kmsg.CreateTopicsResponse), at.Sub(start)
	}
	c1 := rawConn(t, b)
	defer c1.Close()
	// A burst of 22: three in deficit, 1.5 s at 2 a second, so that what
	// follows still finds a deficit after a slow creation of m1 (0.43 s
	// once, on a busy machine, when one partition in deficit was 0.5 s).
	resp, _ := create(c1, 7, "m1", 25)
	if resp.Topics[0].ErrorCode != 0 || resp.ThrottleMillis != 0 {
		t.Fatalf("m1: error %d, throttle %d", resp.Topics[0].ErrorCode, resp.ThrottleMillis)
	}
	c2 := rawConn(t, b)
	defer c2.Close()
	resp, _ = create(c2, 7, "m2", 1)
	if resp.Topics[0].ErrorCode != kerr.ThrottlingQuotaExceeded.Code || resp.ThrottleMillis < 200 {
		t.Fatalf("m2 in deficit: error %d, throttle %d; want THROTTLING_QUOTA_EXCEEDED and a throttle", resp.Topics[0].ErrorCode, resp.ThrottleMillis)
	}
	c3 := rawConn(t, b)
	defer c3.Close()
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.Version, del.TimeoutMillis = 5, 10000
	del.TopicNames = []string{"m1"}
	dr, _ := sendRaw(t, c3, rawFormatter, del, 1)
	if code := dr.(*kmsg.DeleteTopicsResponse).Topics[0].ErrorCode; code != kerr.ThrottlingQuotaExceeded.Code {
		t.Errorf("delete in deficit: error %d, want THROTTLING_QUOTA_EXCEEDED", code)
	}
	c4 := rawConn(t, b)
	defer c4.Close()
	sent := time.Now()
	resp, _ = create(c4, 5, "m3", 1) // v5 knows no such error: created, then throttled
	throttle := time.Duration(resp.ThrottleMillis) * time.Millisecond
	if resp.Topics[0].ErrorCode != 0 || throttle < 200*time.Millisecond {
		t.Fatalf("m3 at v5: error %d, throttle %v; want it created and throttled", resp.Topics[0].ErrorCode, throttle)
	}
	if _, at := sendRaw(t, c4, rawFormatter, kmsg.NewPtrMetadataRequest(), 2); at.Sub(sent) < throttle-100*time.Millisecond {
		t.Errorf("the next request was answered %v after, before the throttle of %v ended", at.Sub(sent), throttle)
	}
}

// TestMutationQuotaThrottleCounted: a request whose several topics find the
// controller_mutation_rate bucket in deficit is throttled once, for the
// largest deficit, and the throttle-time counter adds that once: it used to
// add the throttle again for every topic.
func TestMutationQuotaThrottleCounted(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	if e := alterQuota(t, cl, false, "controller_mutation_rate", 2, false, "client-id", "raw"); e.ErrorCode != 0 {
		t.Fatalf("set quota: error %d", e.ErrorCode)
	}
	throttled := func() float64 {
		return metricValues(t, b, "gokafka_quota_throttle_seconds_total")["controller_mutation_rate"]
	}
	create := func(names ...string) *kmsg.CreateTopicsResponse {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.Version, req.TimeoutMillis = 7, 10000
		for _, name := range names {
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
			if name == "burst" {
				rt.NumPartitions = 25 // a burst of 22: three in deficit (1.5 s), outlasting a slow creation
			}
			req.Topics = append(req.Topics, rt)
		}
		c := rawConn(t, b)
		defer c.Close()
		resp, _ := sendRaw(t, c, rawFormatter, req, 1)
		return resp.(*kmsg.CreateTopicsResponse)
	}
	if resp := create("burst"); resp.Topics[0].ErrorCode != 0 || resp.ThrottleMillis != 0 {
		t.Fatalf("burst: error %d, throttle %d", resp.Topics[0].ErrorCode, resp.ThrottleMillis)
	}
	before := throttled()
	resp := create("q1", "q2", "q3")
	for _, rt := range resp.Topics {
		if rt.ErrorCode != kerr.ThrottlingQuotaExceeded.Code {
			t.Fatalf("%s in deficit: error %d, want THROTTLING_QUOTA_EXCEEDED", rt.Topic, rt.ErrorCode)
		}
	}
	if resp.ThrottleMillis <= 0 {
		t.Fatalf("throttle %d ms, want one", resp.ThrottleMillis)
	}
	if got, want := throttled()-before, float64(resp.ThrottleMillis)/1000; math.Abs(got-want) > 1e-9 {
		t.Errorf("throttle time counted %vs for a request throttled %vs", got, want)
	}
}

// TestConnectionQuota: connection_creation_rate on an address (KIP-612):
// a connection past the rate is not served and is closed after the
// throttle time, at most a second; the ones before it are served.
func TestConnectionQuota(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	if e := alterQuota(t, cl, false, "connection_creation_rate", 1, false, "ip", "127.0.0.1"); e.ErrorCode != 0 {
		t.Fatalf("set quota: error %d", e.ErrorCode)
	}
	apiVersions := kmsg.NewPtrApiVersionsRequest()
	for i := range 10 { // ten in a moment: 1 a second over the ten-second window
		c := rawConn(t, b)
		if _, err := c.Write(rawFormatter.AppendRequest(nil, apiVersions, 1)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := readResponseFrame(c); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		c.Close()
	}
	c := rawConn(t, b)
	defer c.Close()
	start := time.Now()
	c.Write(rawFormatter.AppendRequest(nil, apiVersions, 1))
	if _, _, err := readResponseFrame(c); err == nil {
		t.Fatal("the eleventh connection was served")
	}
	if d := time.Since(start); d < 500*time.Millisecond || d > 3*time.Second {
		t.Errorf("the eleventh connection was closed after %v, want about a second", d)
	}
}

// TestQuotaWindowConfig: quota.window.num and quota.window.size.seconds
// shape the rate, as in Kafka: with 2 samples of 1 s, 1.5 KB against
// 1000 B/s is over at once.
func TestQuotaWindowConfig(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) {
		if err := c.Set("quota.window.num", "2"); err != nil {
			t.Fatal(err)
		}
	})
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "qw", 1, nil)
	if e := alterQuota(t, cl, false, "producer_byte_rate", 1000, false, "client-id", "raw"); e.ErrorCode != 0 {
		t.Fatalf("set quota: error %d", e.ErrorCode)
	}
	batch := encodeBatch(time.Now().UnixMilli(), -1, -1, 0, []testRecord{{value: bytes.Repeat([]byte("w"), 1500)}})
	resp := rawRequest(t, b, produceReq("qw", -1, 5000, batch)).(*kmsg.ProduceResponse)
	if resp.ThrottleMillis < 300 {
		t.Errorf("throttle %d ms with 2 samples: want the 1.5 KB over a 1 s window", resp.ThrottleMillis)
	}
}

// TestQuotaOneWindow: with quota.window.num 1 a sample's first bytes are
// measured over a millisecond, as Kafka's Rate does, not over no time (an
// infinite rate, and a throttle of 24 days).
func TestQuotaOneWindow(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) {
		if err := c.Set("quota.window.num", "1"); err != nil {
			t.Fatal(err)
		}
	})
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "q1", 1, nil)
	if e := alterQuota(t, cl, false, "producer_byte_rate", 1000, false, "client-id", "raw"); e.ErrorCode != 0 {
		t.Fatalf("set quota: error %d", e.ErrorCode)
	}
	batch := encodeBatch(time.Now().UnixMilli(), -1, -1, 0, []testRecord{{value: bytes.Repeat([]byte("o"), 1500)}})
	resp := rawRequest(t, b, produceReq("q1", -1, 5000, batch)).(*kmsg.ProduceResponse)
	if resp.ThrottleMillis <= 0 || resp.ThrottleMillis > 5000 {
		t.Errorf("throttle %d ms for 1.5 KB against 1000 B/s in one 1 s window, want about 1.5 s", resp.ThrottleMillis)
	}
}

// TestFetchQuotaUndoSameSample: a throttled fetch's bytes are taken back
// from the sample they went into, as Kafka unrecords them at the time it
// recorded them: taken back a moment later, past a window's edge, they
// would land in a sample of their own, negative, which outlives the one
// holding them and lets the client fetch past its quota.
func TestFetchQuotaUndoSameSample(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	if e := alterQuota(t, cl, false, "consumer_byte_rate", 100, false, "client-id", "c"); e.ErrorCode != 0 {
		t.Fatalf("set quota: error %d", e.ErrorCode)
	}
	// Every read of the clock is a millisecond later: anything read
	// twice is read in two instants.
	var nowMs atomic.Int64
	b.quotas.mu.Lock()
	b.quotas.now = func() time.Time { return time.UnixMilli(nowMs.Add(1)) }
	b.quotas.mu.Unlock()
	set := func(ms int64) { nowMs.Store(ms - 1) }

	set(1_000_000)
	if ms := b.throttle(quotaFetch, quotaClient{quotaPrincipal, "c"}, 600, true); ms != 0 { // 60 B/s over 10 s
		t.Fatalf("first fetch throttled %d ms", ms)
	}
	set(1_000_999) // the last millisecond of the first window
	if ms := b.throttle(quotaFetch, quotaClient{quotaPrincipal, "c"}, 1000, true); ms == 0 {
		t.Fatal("fetch taking the client to 160 B/s was not throttled")
	}
	// Once the first window has gone, nothing the client fetched counts:
	// 2000 bytes are 200 B/s over ten windows, twice the quota.
	set(1_011_000)
	if ms := b.throttle(quotaFetch, quotaClient{quotaPrincipal, "c"}, 2000, true); ms == 0 {
		t.Error("2000 bytes at once, twice the quota over ten windows, were not throttled: the throttled fetch's bytes were taken back from a later sample")
	}
}

// A strict controller_mutation_rate quota refuses the topics of a request
// past its budget in request order, as Kafka's controller charges them,
// though the topics are created several at a time.
func TestMutationQuotaInRequestOrder(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	if e := alterQuota(t, cl, false, "controller_mutation_rate", 2, false, "client-id", "raw"); e.ErrorCode != 0 {
		t.Fatalf("set quota: error %d", e.ErrorCode)
	}
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Version, req.TimeoutMillis = 7, 30000
	for i := range 40 {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = fmt.Sprintf("ordered-%02d", i), 1, 1
		req.Topics = append(req.Topics, rt)
	}
	c := rawConn(t, b)
	defer c.Close()
	resp, _ := sendRaw(t, c, rawFormatter, req, 1)
	// A burst of 22 (2 a second over 11 one-second windows): the 23rd
	// takes the budget below zero, and every later one is refused.
	for i, rt := range resp.(*kmsg.CreateTopicsResponse).Topics {
		want := int16(0)
		if i >= 23 {
			want = kerr.ThrottlingQuotaExceeded.Code
		}
		if rt.ErrorCode != want {
			t.Errorf("%s: %v, want %v", rt.Topic, kerr.ErrorForCode(rt.ErrorCode), kerr.ErrorForCode(want))
		}
	}
}
