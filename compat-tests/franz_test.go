package compattests

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// newKgo returns a franz-go client for addr, closed at cleanup.
func newKgo(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.RetryTimeout(20 * time.Second),
		kgo.RequestTimeoutOverhead(5 * time.Second),
	}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func newAdm(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	return kadm.NewClient(newKgo(t, addr))
}

// createTopic creates topic with the given partitions (rf 1) and fails the
// test on any error.
func createTopic(t *testing.T, ctx context.Context, adm *kadm.Client, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, topic)
	if err != nil {
		t.Fatalf("CreateTopic %s: %v (%s)", topic, err, resp.ErrMessage)
	}
}

// consumeExactly reads partition p of topic from its start until it has n
// records, then fails if any more arrive within a short grace period.
func consumeExactly(t *testing.T, ctx context.Context, addr, topic string, p int32, n int) []*kgo.Record {
	t.Helper()
	return consumeFrom(t, ctx, addr, topic, p, kgo.NewOffset().AtStart(), n)
}

func consumeFrom(t *testing.T, ctx context.Context, addr, topic string, p int32, at kgo.Offset, n int) []*kgo.Record {
	t.Helper()
	cl := newKgo(t, addr,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: at}}),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	defer cl.Close()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consume %s/%d: got %d of %d records before %v", topic, p, len(out), n, err)
		}
		for _, e := range fs.Errors() {
			t.Fatalf("consume %s/%d: fetch error: %v", e.Topic, e.Partition, e.Err)
		}
		out = append(out, fs.Records()...)
	}
	// Anything more than n is a broker bug (duplicates or phantom records).
	grace, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	fs := cl.PollFetches(grace)
	out = append(out, fs.Records()...)
	if len(out) != n {
		t.Fatalf("consume %s/%d: got %d records, want exactly %d", topic, p, len(out), n)
	}
	return out
}

// produceSync produces rs and fails on any error.
func produceSync(t *testing.T, ctx context.Context, cl *kgo.Client, rs ...*kgo.Record) {
	t.Helper()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// sameRecord compares what a client can observe of a record.
func sameRecord(t *testing.T, i int, got, want *kgo.Record) {
	t.Helper()
	if string(got.Key) != string(want.Key) || string(got.Value) != string(want.Value) {
		t.Errorf("record %d: key/value %q/%q, want %q/%q", i, got.Key, got.Value, want.Key, want.Value)
	}
	if len(got.Headers) != len(want.Headers) {
		t.Errorf("record %d: %d headers %v, want %v", i, len(got.Headers), got.Headers, want.Headers)
		return
	}
	for h := range want.Headers {
		if got.Headers[h].Key != want.Headers[h].Key || string(got.Headers[h].Value) != string(want.Headers[h].Value) {
			t.Errorf("record %d header %d: %q=%q, want %q=%q", i, h,
				got.Headers[h].Key, got.Headers[h].Value, want.Headers[h].Key, want.Headers[h].Value)
		}
	}
}

func TestFranz(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 90*time.Second)
	adm := newAdm(t, b.Addr())

	t.Run("RoundTripKeysHeaders", func(t *testing.T) {
		const topic = "roundtrip"
		createTopic(t, ctx, adm, topic, 3, nil)
		cl := newKgo(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		var want [3][]*kgo.Record
		for i := 0; i < 30; i++ {
			r := &kgo.Record{
				Topic:     topic,
				Partition: int32(i % 3),
				Key:       []byte("key-" + strconv.Itoa(i)),
				Value:     []byte(fmt.Sprintf("value-%d-%s", i, string(make([]byte, i)))),
				Headers: []kgo.RecordHeader{
					{Key: "h1", Value: []byte("v" + strconv.Itoa(i))},
					{Key: "empty", Value: nil},
					{Key: "h1", Value: []byte("dup-key")},
				},
			}
			if i == 7 {
				r.Key = nil // a null key must stay null
			}
			want[i%3] = append(want[i%3], r)
		}
		for p := range want {
			produceSync(t, ctx, cl, want[p]...)
		}
		for p := range want {
			got := consumeExactly(t, ctx, b.Addr(), topic, int32(p), len(want[p]))
			for i, r := range got {
				if r.Offset != int64(i) || r.Partition != int32(p) {
					t.Errorf("p%d record %d at %d/%d", p, i, r.Partition, r.Offset)
				}
				sameRecord(t, i, r, want[p][i])
				if want[p][i].Key == nil && r.Key != nil {
					t.Errorf("p%d record %d: null key came back as %q", p, i, r.Key)
				}
			}
		}
	})

	t.Run("Codecs", func(t *testing.T) {
		codecs := []struct {
			name  string
			codec kgo.CompressionCodec
		}{
			{"none", kgo.NoCompression()},
			{"gzip", kgo.GzipCompression()},
			{"snappy", kgo.SnappyCompression()},
			{"lz4", kgo.Lz4Compression()},
			{"zstd", kgo.ZstdCompression()},
		}
		for _, c := range codecs {
			t.Run(c.name, func(t *testing.T) {
				topic := "codec-" + c.name
				createTopic(t, ctx, adm, topic, 1, nil)
				cl := newKgo(t, b.Addr(), kgo.ProducerBatchCompression(c.codec), kgo.ProducerLinger(50*time.Millisecond))
				const n = 200
				var want []*kgo.Record
				for i := 0; i < n; i++ {
					want = append(want, &kgo.Record{
						Topic:   topic,
						Key:     []byte("k" + strconv.Itoa(i%7)),
						Value:   []byte(fmt.Sprintf("%s compressible payload %05d %05d %05d", c.name, i, i, i)),
						Headers: []kgo.RecordHeader{{Key: "codec", Value: []byte(c.name)}},
					})
				}
				produceSync(t, ctx, cl, want...)
				got := consumeExactly(t, ctx, b.Addr(), topic, 0, n)
				for i, r := range got {
					if r.Offset != int64(i) {
						t.Fatalf("record %d at offset %d", i, r.Offset)
					}
					sameRecord(t, i, r, want[i])
				}
			})
		}
	})

	t.Run("Idempotent2000", func(t *testing.T) {
		const topic, n = "idem", 2000
		createTopic(t, ctx, adm, topic, 1, nil)
		cl := newKgo(t, b.Addr(), kgo.MaxBufferedRecords(16), kgo.ProducerLinger(0))
		var (
			mu   sync.Mutex
			errs []error
		)
		for i := 0; i < n; i++ {
			r := &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(i))}
			// Produce blocks while MaxBufferedRecords are in flight.
			cl.Produce(ctx, r, func(r *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		if err := cl.Flush(ctx); err != nil {
			t.Fatalf("flush: %v", err)
		}
		if len(errs) > 0 {
			t.Fatalf("%d produce errors, first: %v", len(errs), errs[0])
		}
		got := consumeExactly(t, ctx, b.Addr(), topic, 0, n)
		for i, r := range got {
			if r.Offset != int64(i) || string(r.Value) != strconv.Itoa(i) {
				t.Fatalf("record %d: offset %d value %q; want offset %d value %d", i, r.Offset, r.Value, i, i)
			}
			if r.ProducerID < 0 {
				t.Fatalf("record %d has no producer id: the idempotent producer was not used", i)
			}
		}
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		if o, _ := ends.Lookup(topic, 0); o.Offset != n {
			t.Fatalf("end offset %d (err %v), want %d", o.Offset, o.Err, n)
		}
	})

	t.Run("ListOffsetsByTime", func(t *testing.T) {
		const topic = "bytime"
		createTopic(t, ctx, adm, topic, 1, nil)
		cl := newKgo(t, b.Addr())
		t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
		for i := 0; i < 3; i++ {
			produceSync(t, ctx, cl, &kgo.Record{Topic: topic, Value: []byte{byte('a' + i)}, Timestamp: t0.Add(time.Duration(i) * time.Second)})
		}
		for _, c := range []struct {
			at   time.Time
			want int64
		}{
			{t0.Add(-time.Second), 0},
			{t0, 0},
			{t0.Add(500 * time.Millisecond), 1},
			{t0.Add(1000 * time.Millisecond), 1},
			{t0.Add(1001 * time.Millisecond), 2},
			{t0.Add(2000 * time.Millisecond), 2},
			{t0.Add(2500 * time.Millisecond), 3}, // after every record: the end offset
		} {
			lo, err := adm.ListOffsetsAfterMilli(ctx, c.at.UnixMilli(), topic)
			if err != nil {
				t.Fatal(err)
			}
			o, ok := lo.Lookup(topic, 0)
			if !ok || o.Err != nil || o.Offset != c.want {
				t.Errorf("offset after t0%+dms: %d (ok %v, err %v), want %d", c.at.Sub(t0).Milliseconds(), o.Offset, ok, o.Err, c.want)
			}
		}
		got := consumeExactly(t, ctx, b.Addr(), topic, 0, 3)
		for i, r := range got {
			if want := t0.Add(time.Duration(i) * time.Second); !r.Timestamp.Equal(want) {
				t.Errorf("record %d timestamp %v, want %v", i, r.Timestamp, want)
			}
		}
	})

	t.Run("StartEndDeleteRecords", func(t *testing.T) {
		const topic = "delrec"
		createTopic(t, ctx, adm, topic, 2, nil)
		cl := newKgo(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		for i := 0; i < 10; i++ {
			produceSync(t, ctx, cl, &kgo.Record{Topic: topic, Partition: 0, Value: []byte(strconv.Itoa(i))})
		}
		for i := 0; i < 4; i++ {
			produceSync(t, ctx, cl, &kgo.Record{Topic: topic, Partition: 1, Value: []byte(strconv.Itoa(i))})
		}
		checkOffsets := func(what string, list func(context.Context, ...string) (kadm.ListedOffsets, error), want map[int32]int64) {
			t.Helper()
			lo, err := list(ctx, topic)
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			for p, w := range want {
				o, ok := lo.Lookup(topic, p)
				if !ok || o.Err != nil || o.Offset != w {
					t.Errorf("%s p%d: %d (ok %v, err %v), want %d", what, p, o.Offset, ok, o.Err, w)
				}
			}
		}
		checkOffsets("start", adm.ListStartOffsets, map[int32]int64{0: 0, 1: 0})
		checkOffsets("end", adm.ListEndOffsets, map[int32]int64{0: 10, 1: 4})

		var del kadm.Offsets
		del.Add(kadm.Offset{Topic: topic, Partition: 0, At: 6, LeaderEpoch: -1})
		resp, err := adm.DeleteRecords(ctx, del)
		if err != nil {
			t.Fatalf("DeleteRecords: %v", err)
		}
		if err := resp.Error(); err != nil {
			t.Fatalf("DeleteRecords: %v", err)
		}
		if r, ok := resp.Lookup(topic, 0); !ok || r.LowWatermark != 6 {
			t.Errorf("DeleteRecords low watermark %d (ok %v), want 6", r.LowWatermark, ok)
		}
		checkOffsets("start after delete", adm.ListStartOffsets, map[int32]int64{0: 6, 1: 0})
		checkOffsets("end after delete", adm.ListEndOffsets, map[int32]int64{0: 10, 1: 4})
		got := consumeExactly(t, ctx, b.Addr(), topic, 0, 4)
		for i, r := range got {
			if r.Offset != int64(6+i) || string(r.Value) != strconv.Itoa(6+i) {
				t.Errorf("after delete, record %d: offset %d value %q", i, r.Offset, r.Value)
			}
		}
	})

	t.Run("TopicConfigs", func(t *testing.T) {
		const topic = "configs"
		createTopic(t, ctx, adm, topic, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("delete")})
		rc, err := adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			t.Fatalf("DescribeTopicConfigs: %v", err)
		}
		if len(rc) != 1 || rc[0].Err != nil {
			t.Fatalf("DescribeTopicConfigs: %+v", rc)
		}
		if v := configValue(rc[0], "retention.ms"); v == nil {
			t.Errorf("retention.ms not described; got keys %v", configKeys(rc[0]))
		}
		alt, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
			{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("123456789")},
		}, topic)
		if err != nil {
			t.Fatalf("AlterTopicConfigs: %v", err)
		}
		for _, r := range alt {
			if r.Err != nil {
				t.Fatalf("AlterTopicConfigs %s: %v %s", r.Name, r.Err, r.ErrMessage)
			}
		}
		rc, err = adm.DescribeTopicConfigs(ctx, topic)
		if err != nil {
			t.Fatalf("DescribeTopicConfigs: %v", err)
		}
		if v := configValue(rc[0], "retention.ms"); v == nil || *v != "123456789" {
			t.Errorf("retention.ms after alter: %v, want 123456789", deref(v))
		}
		for _, c := range rc[0].Configs {
			if c.Key == "retention.ms" && c.Source.String() != "DYNAMIC_TOPIC_CONFIG" {
				t.Errorf("retention.ms source %v, want DYNAMIC_TOPIC_CONFIG", c.Source)
			}
		}
		if v := configValue(rc[0], "cleanup.policy"); v == nil || *v != "delete" {
			t.Errorf("cleanup.policy: %v, want delete", deref(v))
		}
	})

	t.Run("CreatePartitions", func(t *testing.T) {
		const topic = "growing"
		createTopic(t, ctx, adm, topic, 3, nil)
		resp, err := adm.CreatePartitions(ctx, 2, topic)
		if err != nil {
			t.Fatalf("CreatePartitions: %v", err)
		}
		if err := resp.Error(); err != nil {
			t.Fatalf("CreatePartitions: %v", err)
		}
		md := waitPartitions(t, ctx, adm, topic, 5)
		if n := len(md.Partitions); n != 5 {
			t.Fatalf("after adding 2 to 3, %d partitions", n)
		}
		cl := newKgo(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		produceSync(t, ctx, cl, &kgo.Record{Topic: topic, Partition: 4, Value: []byte("new partition")})
		got := consumeExactly(t, ctx, b.Addr(), topic, 4, 1)
		if string(got[0].Value) != "new partition" || got[0].Offset != 0 {
			t.Errorf("partition 4: %q at %d", got[0].Value, got[0].Offset)
		}
	})

	t.Run("DeleteTopics", func(t *testing.T) {
		const topic = "doomed"
		createTopic(t, ctx, adm, topic, 2, nil)
		resp, err := adm.DeleteTopics(ctx, topic)
		if err != nil {
			t.Fatalf("DeleteTopics: %v", err)
		}
		if err := resp.Error(); err != nil {
			t.Fatalf("DeleteTopics: %v", err)
		}
		md, err := adm.Metadata(ctx) // all topics
		if err != nil {
			t.Fatalf("Metadata: %v", err)
		}
		if _, ok := md.Topics[topic]; ok {
			t.Errorf("deleted topic %q still listed in Metadata: %v", topic, md.Topics.Names())
		}
		if !slices.Contains(md.Topics.Names(), "roundtrip") {
			t.Errorf("Metadata lost other topics: %v", md.Topics.Names())
		}
	})

	t.Run("CreateExisting", func(t *testing.T) {
		const topic = "twice"
		createTopic(t, ctx, adm, topic, 1, nil)
		_, err := adm.CreateTopic(ctx, 1, 1, nil, topic)
		if !errors.Is(err, kerr.TopicAlreadyExists) {
			t.Errorf("second CreateTopic: %v, want TOPIC_ALREADY_EXISTS", err)
		}
	})

	t.Run("ReplicationFactorTooHigh", func(t *testing.T) {
		_, err := adm.CreateTopic(ctx, 1, 3, nil, "rf3")
		if !errors.Is(err, kerr.InvalidReplicationFactor) {
			t.Errorf("CreateTopic rf 3 on one broker: %v, want INVALID_REPLICATION_FACTOR", err)
		}
		md, err := adm.Metadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := md.Topics["rf3"]; ok {
			t.Errorf("the failed rf-3 topic exists")
		}
	})

	t.Run("ACLsWithoutAuthorizer", func(t *testing.T) {
		// As Kafka with no authorizer: SECURITY_DISABLED, not unsupported.
		b := kadm.NewACLs().Topics("any").Allow("User:alice").AllowHosts("*").Operations(kadm.OpRead)
		created, err := adm.CreateACLs(ctx, b)
		if err != nil || len(created) != 1 || !errors.Is(created[0].Err, kerr.SecurityDisabled) {
			t.Errorf("CreateACLs: %v %+v, want one SECURITY_DISABLED result", err, created)
		}
		described, err := adm.DescribeACLs(ctx, b)
		if err != nil || len(described) != 1 || !errors.Is(described[0].Err, kerr.SecurityDisabled) {
			t.Errorf("DescribeACLs: %v %+v, want SECURITY_DISABLED", err, described)
		}
		deleted, err := adm.DeleteACLs(ctx, b)
		if err != nil || len(deleted) != 1 || !errors.Is(deleted[0].Err, kerr.SecurityDisabled) {
			t.Errorf("DeleteACLs: %v %+v, want one SECURITY_DISABLED result", err, deleted)
		}
	})

	t.Run("LogDirs", func(t *testing.T) {
		const topic = "logdirs"
		createTopic(t, ctx, adm, topic, 2, nil)
		cl := newKgo(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		produceSync(t, ctx, cl, &kgo.Record{Topic: topic, Partition: 1, Value: []byte("on disk")})
		all, err := adm.DescribeAllLogDirs(ctx, nil)
		if err != nil {
			t.Fatalf("DescribeAllLogDirs: %v", err)
		}
		dirs := all.Sorted()
		if len(dirs) != 1 || dirs[0].Dir != b.DataDir() || dirs[0].Err != nil || dirs[0].TotalBytes <= 0 {
			t.Fatalf("log dirs %+v, want one: %s", dirs, b.DataDir())
		}
		p0, ok0 := dirs[0].Topics.Lookup(topic, 0)
		p1, ok1 := dirs[0].Topics.Lookup(topic, 1)
		if !ok0 || !ok1 || p0.Size != 0 || p1.Size <= 0 {
			t.Errorf("%s sizes: p0 %d (%v), p1 %d (%v); want 0 and the one batch", topic, p0.Size, ok0, p1.Size, ok1)
		}
	})
}

// waitPartitions polls metadata until topic has want partitions (metadata
// may lag a CreatePartitions answer briefly) or ctx ends.
func waitPartitions(t *testing.T, ctx context.Context, adm *kadm.Client, topic string, want int) kadm.TopicDetail {
	t.Helper()
	var last kadm.TopicDetail
	for i := 0; i < 50; i++ {
		md, err := adm.Metadata(ctx, topic)
		if err != nil {
			t.Fatalf("Metadata: %v", err)
		}
		last = md.Topics[topic]
		if len(last.Partitions) == want {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("topic %s has %d partitions, want %d", topic, len(last.Partitions), want)
	return last
}

func configValue(rc kadm.ResourceConfig, key string) *string {
	for _, c := range rc.Configs {
		if c.Key == key {
			if c.Value == nil {
				s := "<null>"
				return &s
			}
			return c.Value
		}
	}
	return nil
}

func configKeys(rc kadm.ResourceConfig) []string {
	var ks []string
	for _, c := range rc.Configs {
		ks = append(ks, c.Key)
	}
	return ks
}

func deref(s *string) string {
	if s == nil {
		return "<absent>"
	}
	return *s
}
