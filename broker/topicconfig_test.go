package broker

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDescribeConfigsSynonyms: a topic key's default is reported under the
// broker key Kafka names for it, whether this broker reads that key
// (log.retention.hours for retention.ms, as Kafka's finer spellings have no
// default) or the default is fixed (log.cleanup.policy); a key the topic
// sets comes first, as a dynamic topic config, and a broker key set in the
// broker's settings before the default; a key with no broker key behind it
// in Kafka (leader.replication.throttled.replicas) has no synonym.
func TestDescribeConfigsSynonyms(t *testing.T) {
	describe := func(b *Broker) map[string][]string {
		t.Helper()
		cl := newClient(t, b)
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.IncludeSynonyms = true
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "syn"
		rr.ConfigNames = []string{"cleanup.policy", "retention.ms", "segment.jitter.ms", "min.cleanable.dirty.ratio",
			"flush.ms", "leader.replication.throttled.replicas", "remote.log.copy.disable"}
		req.Resources = append(req.Resources, rr)
		got := map[string][]string{}
		for _, c := range request[*kmsg.DescribeConfigsResponse](t, cl, req).Resources[0].Configs {
			for _, s := range c.ConfigSynonyms {
				got[c.Name] = append(got[c.Name], fmt.Sprintf("%s=%s %s", s.Name, *s.Value, s.Source))
			}
		}
		return got
	}
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	createTopic(t, newClient(t, b), "syn", 1, map[string]string{"segment.jitter.ms": "5", "remote.log.copy.disable": "true"})
	// Kafka's log.retention.ms and log.roll.jitter.ms default to null: the
	// default is their coarsest spelling's.
	want := map[string][]string{
		"cleanup.policy":            {"log.cleanup.policy=delete DEFAULT_CONFIG"},
		"retention.ms":              {"log.retention.hours=168 DEFAULT_CONFIG"},
		"segment.jitter.ms":         {"segment.jitter.ms=5 DYNAMIC_TOPIC_CONFIG", "log.roll.jitter.hours=0 DEFAULT_CONFIG"},
		"min.cleanable.dirty.ratio": {"log.cleaner.min.cleanable.ratio=0.5 DEFAULT_CONFIG"},
		// Keys no broker key stands behind in Kafka have no synonym but
		// the topic's own setting (flush.ms's log.flush.interval.ms has
		// no default in Kafka, and means fsyncs of raft batches here).
		"remote.log.copy.disable": {"remote.log.copy.disable=true DYNAMIC_TOPIC_CONFIG"},
	}
	if got := describe(b); !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("synonyms:\n got %v\nwant %v", got, want)
	}
	b.Close()

	// The spelling the broker was given is listed as given, before the default.
	b = startBroker(t, dir, func(c *Config) {
		if err := c.Set("log.retention.hours", "24"); err != nil {
			t.Fatal(err)
		}
	})
	defer b.Close()
	want["retention.ms"] = []string{"log.retention.hours=24 STATIC_BROKER_CONFIG", "log.retention.hours=168 DEFAULT_CONFIG"}
	if got := describe(b); !slices.Equal(got["retention.ms"], want["retention.ms"]) {
		t.Errorf("retention.ms with log.retention.hours=24: synonyms %v, want %v", got["retention.ms"], want["retention.ms"])
	}

	// The broker's own keys, likewise: log.retention.ms and minutes are
	// null (Kafka's default for them) with the hours' layers as synonyms,
	// not a value worked out from the hours.
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms = true
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
	rr.ConfigNames = []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"}
	req.Resources = append(req.Resources, rr)
	for _, c := range request[*kmsg.DescribeConfigsResponse](t, newClient(t, b), req).Resources[0].Configs {
		v := "null"
		if c.Value != nil {
			v = *c.Value
		}
		got := fmt.Sprintf("%s=%s %s", c.Name, v, c.Source)
		var syns []string
		for _, s := range c.ConfigSynonyms {
			syns = append(syns, fmt.Sprintf("%s=%s %s", s.Name, *s.Value, s.Source))
		}
		wantValue := map[string]string{"log.retention.ms": "null", "log.retention.minutes": "null", "log.retention.hours": "24"}[c.Name]
		if want := fmt.Sprintf("%s=%s STATIC_BROKER_CONFIG", c.Name, wantValue); got != want {
			t.Errorf("broker %s, want %s", got, want)
		}
		if !slices.Equal(syns, want["retention.ms"]) {
			t.Errorf("broker %s: synonyms %v, want %v", c.Name, syns, want["retention.ms"])
		}
	}
}

// TestKafkaTopicConfigsAccepted: the topic keys of Kafka 3.8-4.x that tools
// set (compression levels, tiered storage, replication throttles) are
// validated and stored as Kafka would; tiered storage cannot be enabled.
func TestKafkaTopicConfigsAccepted(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	create := func(name string, cfg map[string]string) int16 {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
		for k, v := range cfg {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = k, kmsg.StringPtr(v)
			rt.Configs = append(rt.Configs, c)
		}
		req.Topics = append(req.Topics, rt)
		return request[*kmsg.CreateTopicsResponse](t, cl, req).Topics[0].ErrorCode
	}
	good := map[string]string{
		"compression.gzip.level": "9", "compression.lz4.level": "17", "compression.zstd.level": "-5",
		"local.retention.ms": "-2", "local.retention.bytes": "1000",
		"leader.replication.throttled.replicas": "0:1,1:1", "follower.replication.throttled.replicas": "*",
		"remote.storage.enable": "false", "remote.log.copy.disable": "true", "remote.log.delete.on.disable": "false",
		"retention.bytes": "-2", // Kafka defines retention.bytes with no lower bound
	}
	if code := create("kc", good); code != 0 {
		t.Fatalf("create with Kafka's topic keys: %v", kerr.ErrorForCode(code))
	}
	for k, v := range good {
		if got := b.topicValue(b.node.Controller().State().Topics["kc"], k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if _, bytes := b.retention(b.node.Controller().State(), b.node.Controller().State().Topics["kc"]); bytes >= 0 {
		t.Errorf("retention.bytes=-2: size retention %d, want none", bytes)
	}
	if code := alterConfig(t, cl, kmsg.ConfigResourceTypeBroker, "", "log.retention.bytes", "-5"); code != 0 {
		t.Errorf("broker log.retention.bytes=-5: %v", kerr.ErrorForCode(code))
	}
	for k, v := range map[string]string{
		"retention.bytes":        "x",
		"compression.gzip.level": "0", "compression.lz4.level": "18", "compression.zstd.level": "23",
		"local.retention.ms": "-3", "leader.replication.throttled.replicas": "0-1",
		"remote.storage.enable": "true",
	} {
		if code := create("kc-bad", map[string]string{k: v}); code != kerr.InvalidConfig.Code {
			t.Errorf("%s=%s: error %v, want INVALID_CONFIG", k, v, kerr.ErrorForCode(code))
		}
	}
}

// TestConfigEnumsExact: a key that takes one of a set of names takes it
// exactly as Kafka's ValidString does (case matters, one name), and a list
// takes only those names: each value the broker would accept and then read
// as something else is refused, at topic and broker level.
func TestConfigEnumsExact(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	create := func(name, k, v string) int16 {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, c)
		req.Topics = append(req.Topics, rt)
		return request[*kmsg.CreateTopicsResponse](t, cl, req).Topics[0].ErrorCode
	}
	alterBroker := func(k, v string) int16 {
		return alterConfig(t, cl, kmsg.ConfigResourceTypeBroker, "", k, v)
	}
	for _, c := range []struct{ k, v string }{
		{"message.timestamp.type", "logappendtime"},
		{"message.timestamp.type", "CreateTime,LogAppendTime"},
		{"compression.type", "GZIP"},
		{"compression.type", "gzip,lz4"},
		{"cleanup.policy", "COMPACT"},
		{"cleanup.policy", "compact,remove"},
	} {
		if code := create("enum-bad", c.k, c.v); code != kerr.InvalidConfig.Code {
			t.Errorf("topic %s=%s: %v, want INVALID_CONFIG", c.k, c.v, kerr.ErrorForCode(code))
		}
	}
	for i, c := range []struct{ k, v string }{
		{"message.timestamp.type", "LogAppendTime"},
		{"compression.type", "gzip"},
		{"cleanup.policy", "compact, delete"},
		{"cleanup.policy", ""},
	} {
		if code := create(fmt.Sprintf("enum-ok-%d", i), c.k, c.v); code != 0 {
			t.Errorf("topic %s=%s: %v", c.k, c.v, kerr.ErrorForCode(code))
		}
	}
	if ms, _ := b.retention(b.node.Controller().State(), b.node.Controller().State().Topics["enum-ok-2"]); ms == -1 {
		t.Errorf("cleanup.policy=\"compact, delete\": no time retention")
	}
	// An empty cleanup.policy (Kafka 4.2, KAFKA-19112): nothing is
	// deleted by time or size, as a topic that only compacts here.
	if ms, bytes := b.retention(b.node.Controller().State(), b.node.Controller().State().Topics["enum-ok-3"]); ms != -1 || bytes != -1 {
		t.Errorf("cleanup.policy=\"\": retention %d ms, %d bytes, want none", ms, bytes)
	}
	// Taking the last value away leaves it empty.
	sub := kmsg.NewPtrIncrementalAlterConfigsRequest()
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "enum-ok-1"
	for _, op := range []struct {
		op kmsg.IncrementalAlterConfigOp
		v  string
	}{{kmsg.IncrementalAlterConfigOpSet, "delete"}, {kmsg.IncrementalAlterConfigOpSubtract, "delete"}} {
		rr.Configs = rr.Configs[:0]
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = "cleanup.policy", op.op, kmsg.StringPtr(op.v)
		rr.Configs = append(rr.Configs, c)
		sub.Resources = []kmsg.IncrementalAlterConfigsRequestResource{rr}
		if code := request[*kmsg.IncrementalAlterConfigsResponse](t, cl, sub).Resources[0].ErrorCode; code != 0 {
			t.Fatalf("cleanup.policy %v %s: %v", op.op, op.v, kerr.ErrorForCode(code))
		}
	}
	if v, ok := b.node.Controller().State().Topics["enum-ok-1"].Configs["cleanup.policy"]; !ok || v != "" {
		t.Errorf("after subtracting delete, cleanup.policy %q (set %v), want empty", v, ok)
	}
	for _, c := range []struct{ k, v string }{
		{"log.message.timestamp.type", "logappendtime"},
		{"compression.type", "Zstd"},
	} {
		// INVALID_REQUEST: Kafka's answer to a bad broker value.
		if code := alterBroker(c.k, c.v); code != kerr.InvalidRequest.Code {
			t.Errorf("broker %s=%s: %v, want INVALID_REQUEST", c.k, c.v, kerr.ErrorForCode(code))
		}
	}
}
