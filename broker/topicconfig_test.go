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
// broker key Kafka names for it (log.cleanup.policy); a key the topic sets
// comes first, as a dynamic topic config, and a broker key set in the
// broker's settings before the default; a key with no broker key behind it
// in Kafka (leader.replication.throttled.replicas) has no synonym. As in
// Kafka's ConfigHelper.configSynonyms, the broker layers before the first
// of the broker key's own spelling are dropped: retention.ms, with
// log.retention.ms set nowhere (its default is null), has no synonym and is
// a DEFAULT_CONFIG, whether log.retention.hours is given or not (KafkaJS's
// own suite asks this of Kafka 2.4).
func TestDescribeConfigsSynonyms(t *testing.T) {
	str := func(name string, v *string, src kmsg.ConfigSource) string {
		val := "null"
		if v != nil {
			val = *v
		}
		return fmt.Sprintf("%s=%s %s", name, val, src)
	}
	// describe returns each config's value and source and its synonyms.
	describe := func(b *Broker, typ kmsg.ConfigResourceType, name string, keys ...string) (map[string]string, map[string][]string) {
		t.Helper()
		cl := newClient(t, b)
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.IncludeSynonyms = true
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = typ, name
		rr.ConfigNames = keys
		req.Resources = append(req.Resources, rr)
		vals, syns := map[string]string{}, map[string][]string{}
		for _, c := range request[*kmsg.DescribeConfigsResponse](t, cl, req).Resources[0].Configs {
			vals[c.Name] = str(c.Name, c.Value, c.Source)
			for _, s := range c.ConfigSynonyms {
				syns[c.Name] = append(syns[c.Name], str(s.Name, s.Value, s.Source))
			}
		}
		return vals, syns
	}
	topicKeys := []string{"cleanup.policy", "retention.ms", "segment.ms", "segment.jitter.ms", "min.cleanable.dirty.ratio",
		"flush.ms", "leader.replication.throttled.replicas", "remote.log.copy.disable"}
	brokerKeys := []string{"log.retention.ms", "log.retention.minutes", "log.retention.hours"}
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	createTopic(t, newClient(t, b), "syn", 1, map[string]string{"segment.jitter.ms": "5", "remote.log.copy.disable": "true"})
	want := map[string][]string{
		"cleanup.policy":            {"log.cleanup.policy=delete DEFAULT_CONFIG"},
		"segment.jitter.ms":         {"segment.jitter.ms=5 DYNAMIC_TOPIC_CONFIG"},
		"min.cleanable.dirty.ratio": {"log.cleaner.min.cleanable.ratio=0.5 DEFAULT_CONFIG"},
		// Keys no broker key stands behind in Kafka have no synonym but
		// the topic's own setting (flush.ms's log.flush.interval.ms has
		// no default in Kafka, and means fsyncs of raft batches here).
		"remote.log.copy.disable": {"remote.log.copy.disable=true DYNAMIC_TOPIC_CONFIG"},
	}
	vals, got := describe(b, kmsg.ConfigResourceTypeTopic, "syn", topicKeys...)
	if !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("synonyms:\n got %v\nwant %v", got, want)
	}
	for k, w := range map[string]string{"retention.ms": "retention.ms=604800000 DEFAULT_CONFIG", "segment.ms": "segment.ms=604800000 DEFAULT_CONFIG"} {
		if vals[k] != w {
			t.Errorf("%s, want %s", vals[k], w)
		}
	}
	b.Close()

	// log.retention.hours given: retention.ms takes its value, and is
	// still a DEFAULT_CONFIG with no synonym, as in Kafka; the broker's
	// log.retention.ms and minutes are null DEFAULT_CONFIGs, and its
	// log.retention.hours lists the setting before the default.
	b = startBroker(t, dir, func(c *Config) {
		if err := c.Set("log.retention.hours", "24"); err != nil {
			t.Fatal(err)
		}
	})
	vals, got = describe(b, kmsg.ConfigResourceTypeTopic, "syn", "retention.ms")
	if w := "retention.ms=86400000 DEFAULT_CONFIG"; vals["retention.ms"] != w || len(got["retention.ms"]) != 0 {
		t.Errorf("with log.retention.hours=24: %s %v, want %s and no synonyms", vals["retention.ms"], got["retention.ms"], w)
	}
	vals, got = describe(b, kmsg.ConfigResourceTypeBroker, "1", brokerKeys...)
	wantVals := map[string]string{
		"log.retention.ms":      "log.retention.ms=null DEFAULT_CONFIG",
		"log.retention.minutes": "log.retention.minutes=null DEFAULT_CONFIG",
		"log.retention.hours":   "log.retention.hours=24 STATIC_BROKER_CONFIG",
	}
	want = map[string][]string{"log.retention.hours": {"log.retention.hours=24 STATIC_BROKER_CONFIG", "log.retention.hours=168 DEFAULT_CONFIG"}}
	if !maps.Equal(vals, wantVals) || !maps.EqualFunc(got, want, slices.Equal) {
		t.Errorf("broker with log.retention.hours=24:\n got %v %v\nwant %v %v", vals, got, wantVals, want)
	}
	b.Close()

	// log.retention.ms given: it leads the synonyms of retention.ms and of
	// the broker's log.retention.ms, then the hours' default.
	b = startBroker(t, dir, func(c *Config) {
		if err := c.Set("log.retention.ms", "5000"); err != nil {
			t.Fatal(err)
		}
	})
	defer b.Close()
	wantSyns := []string{"log.retention.ms=5000 STATIC_BROKER_CONFIG", "log.retention.hours=168 DEFAULT_CONFIG"}
	vals, got = describe(b, kmsg.ConfigResourceTypeTopic, "syn", "retention.ms")
	if w := "retention.ms=5000 STATIC_BROKER_CONFIG"; vals["retention.ms"] != w || !slices.Equal(got["retention.ms"], wantSyns) {
		t.Errorf("with log.retention.ms=5000: %s %v, want %s %v", vals["retention.ms"], got["retention.ms"], w, wantSyns)
	}
	vals, got = describe(b, kmsg.ConfigResourceTypeBroker, "1", "log.retention.ms")
	if w := "log.retention.ms=5000 STATIC_BROKER_CONFIG"; vals["log.retention.ms"] != w || !slices.Equal(got["log.retention.ms"], wantSyns) {
		t.Errorf("broker with log.retention.ms=5000: %s %v, want %s %v", vals["log.retention.ms"], got["log.retention.ms"], w, wantSyns)
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
