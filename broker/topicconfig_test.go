package broker

import (
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDescribeConfigsSynonyms: a topic key's default is reported under the
// broker key Kafka names for it, whether this broker reads that key
// (log.retention.ms) or the default is fixed (log.cleanup.policy); a key
// the topic sets comes first, as a dynamic topic config.
func TestDescribeConfigsSynonyms(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "syn", 1, map[string]string{"segment.jitter.ms": "5"})
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms = true
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "syn"
	rr.ConfigNames = []string{"cleanup.policy", "retention.ms", "segment.jitter.ms", "min.cleanable.dirty.ratio"}
	req.Resources = append(req.Resources, rr)
	want := map[string][]string{
		"cleanup.policy":            {"log.cleanup.policy"},
		"retention.ms":              {"log.retention.ms"},
		"segment.jitter.ms":         {"segment.jitter.ms", "log.roll.jitter.ms"},
		"min.cleanable.dirty.ratio": {"log.cleaner.min.cleanable.ratio"},
	}
	res := request[*kmsg.DescribeConfigsResponse](t, cl, req).Resources[0]
	if len(res.Configs) != len(want) {
		t.Fatalf("%d configs, want %d", len(res.Configs), len(want))
	}
	for _, c := range res.Configs {
		var names []string
		for _, s := range c.ConfigSynonyms {
			names = append(names, s.Name)
		}
		if !slices.Equal(names, want[c.Name]) {
			t.Errorf("%s: synonyms %v, want %v", c.Name, names, want[c.Name])
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
	}
	if code := create("kc", good); code != 0 {
		t.Fatalf("create with Kafka's topic keys: %v", kerr.ErrorForCode(code))
	}
	for k, v := range good {
		if got := b.topicValue(b.node.Controller().State().Topics["kc"], k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	for k, v := range map[string]string{
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
