package broker

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDynamicBrokerConfigs: the broker keys that supply topic defaults can
// be changed at run time, for the cluster ("") or for this broker, as with
// kafka-configs --entity-type brokers; this broker's setting wins, topics
// that set nothing follow, the change survives a restart, and static keys
// are refused.
func TestDynamicBrokerConfigs(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	cl := newClient(t, b)
	createTopic(t, cl, "dyn", 1, nil)
	createTopic(t, cl, "dyn-own", 1, map[string]string{"retention.ms": "777"})
	incr := func(name string, validateOnly bool, kv ...string) (int16, string) {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		req.ValidateOnly = validateOnly
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, name
		for i := 0; i < len(kv); i += 2 {
			c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			c.Name, c.Op, c.Value = kv[i], kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(kv[i+1])
			if kv[i+1] == "" {
				c.Op, c.Value = kmsg.IncrementalAlterConfigOpDelete, nil
			}
			rr.Configs = append(rr.Configs, c)
		}
		req.Resources = append(req.Resources, rr)
		r := rawRequest(t, b, req).(*kmsg.IncrementalAlterConfigsResponse).Resources[0]
		msg := ""
		if r.ErrorMessage != nil {
			msg = *r.ErrorMessage
		}
		return r.ErrorCode, msg
	}
	describe := func(b *Broker, typ kmsg.ConfigResourceType, name, key string) (string, kmsg.ConfigSource, bool) {
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.Version = 4
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName, rr.ConfigNames = typ, name, []string{key}
		req.Resources = append(req.Resources, rr)
		res := rawRequest(t, b, req).(*kmsg.DescribeConfigsResponse).Resources[0]
		if res.ErrorCode != 0 {
			t.Fatalf("describe %s %s: %v", name, key, kerr.ErrorForCode(res.ErrorCode))
		}
		if len(res.Configs) == 0 {
			return "", 0, false
		}
		return *res.Configs[0].Value, res.Configs[0].Source, res.Configs[0].ReadOnly
	}
	if code, msg := incr("1", false, "num.partitions", "3"); code != kerr.InvalidRequest.Code {
		t.Fatalf("num.partitions: error %d (%s), want INVALID_REQUEST: it is static", code, msg)
	}
	// Kafka's own broker settings that mean nothing here are refused as
	// Kafka refuses its read-only ones, not kept as if applied.
	for _, kv := range [][2]string{{"process.roles", "broker"}, {"socket.send.buffer.bytes", "-5"}, {"num.io.threads", "16"}, {"zookeeper.connect", "x:2181"}, {"authorizer.class.name", "org.example.Authorizer"}} {
		if code, msg := incr("1", false, kv[0], kv[1]); code != kerr.InvalidRequest.Code || !strings.Contains(msg, kv[0]) {
			t.Errorf("%s=%s: error %d (%s), want INVALID_REQUEST naming it", kv[0], kv[1], code, msg)
		}
		if code, msg := incr("", true, kv[0], kv[1]); code != kerr.InvalidRequest.Code {
			t.Errorf("%s=%s, cluster-wide, validate only: error %d (%s), want INVALID_REQUEST", kv[0], kv[1], code, msg)
		}
	}
	// Deleting one (left by an older version, say) still works.
	if code, msg := incr("1", false, "process.roles", ""); code != 0 {
		t.Errorf("deleting process.roles: error %d (%s)", code, msg)
	}
	// A key that is no setting of ours is kept, as Kafka keeps custom keys,
	// and described as Kafka describes them: sensitive, with no value.
	if code, msg := incr("1", false, "my.plugin.setting", "x"); code != 0 {
		t.Fatalf("a custom key: error %d (%s), want none", code, msg)
	}
	custom := func() []kmsg.DescribeConfigsResponseResourceConfig {
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.Version, req.IncludeSynonyms = 4, true
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName, rr.ConfigNames = kmsg.ConfigResourceTypeBroker, "1", []string{"my.plugin.setting"}
		req.Resources = append(req.Resources, rr)
		return rawRequest(t, b, req).(*kmsg.DescribeConfigsResponse).Resources[0].Configs
	}
	if c := custom(); len(c) != 1 || c[0].Value != nil || !c[0].IsSensitive || c[0].Source != kmsg.ConfigSourceDynamicBrokerConfig || c[0].ReadOnly {
		t.Fatalf("custom key described as %+v", c)
	}
	if code, _ := incr("1", false, "my.plugin.setting", ""); code != 0 {
		t.Fatalf("deleting a custom key: error %d", code)
	}
	if c := custom(); len(c) != 0 {
		t.Fatalf("deleted custom key still described: %+v", c)
	}
	if code, _ := incr("", false, "log.retention.ms", "abc"); code != kerr.InvalidRequest.Code {
		t.Fatalf("a bad value: error %d, want INVALID_REQUEST (Kafka's answer for broker resources)", code)
	}
	if code, _ := incr("", false, "log.retention.ms", "0"); code != kerr.InvalidRequest.Code {
		t.Fatalf("log.retention.ms=0: error %d, want INVALID_REQUEST (Kafka's KafkaConfig refuses it)", code)
	}
	if code, _ := incr("01", false, "log.retention.ms", "5000"); code != kerr.InvalidRequest.Code {
		t.Fatalf("broker \"01\": error %d, want INVALID_REQUEST", code)
	}
	if code, _ := incr("1", false, "num.partitions", ""); code != 0 {
		t.Fatalf("deleting a static key that is not set: error %d, want none (a no-op)", code)
	}
	if code, _ := incr("7", false, "log.retention.ms", "5000"); code != kerr.InvalidRequest.Code {
		t.Fatalf("an unknown broker: error %d, want INVALID_REQUEST", code)
	}
	if code, _ := incr("", true, "log.retention.ms", "5000"); code != 0 {
		t.Fatalf("validate only: error %d", code)
	}
	if v, _, _ := describe(b, kmsg.ConfigResourceTypeTopic, "dyn", "retention.ms"); v != "604800000" {
		t.Fatalf("validate only changed retention.ms to %s", v)
	}

	if code, msg := incr("", false, "log.retention.ms", "5000"); code != 0 {
		t.Fatalf("cluster default: error %d (%s)", code, msg)
	}
	if v, src, _ := describe(b, kmsg.ConfigResourceTypeTopic, "dyn", "retention.ms"); v != "5000" || src != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Errorf("topic following the cluster default: %s from source %d", v, src)
	}
	if v, _, _ := describe(b, kmsg.ConfigResourceTypeTopic, "dyn-own", "retention.ms"); v != "777" {
		t.Errorf("topic with its own retention.ms: %s", v)
	}
	if v, src, ro := describe(b, kmsg.ConfigResourceTypeBroker, "", "log.retention.ms"); v != "5000" || src != kmsg.ConfigSourceDynamicDefaultBrokerConfig || ro {
		t.Errorf("cluster-wide defaults: %s from source %d, read-only %v", v, src, ro)
	}
	if code, _ := incr("1", false, "log.retention.ms", "6000"); code != 0 {
		t.Fatalf("this broker: error %d", code)
	}
	if v, src, _ := describe(b, kmsg.ConfigResourceTypeBroker, "1", "log.retention.ms"); v != "6000" || src != kmsg.ConfigSourceDynamicBrokerConfig {
		t.Errorf("broker 1: %s from source %d, want its own 6000", v, src)
	}
	if got := b.topicInt64(b.node.Controller().State().Topics["dyn"], "retention.ms"); got != 6000 {
		t.Errorf("retention.ms in force for dyn: %d, want 6000", got)
	}

	// It survives a restart, and deleting the broker's setting falls back to
	// the cluster's.
	b.Close()
	b = startBroker(t, dir, nil)
	defer b.Close()
	if v, _, _ := describe(b, kmsg.ConfigResourceTypeTopic, "dyn", "retention.ms"); v != "6000" {
		t.Errorf("after a restart: retention.ms %s, want 6000", v)
	}
	if code, _ := incr("1", false, "log.retention.ms", ""); code != 0 {
		t.Fatalf("delete: error %d", code)
	}
	if v, _, _ := describe(b, kmsg.ConfigResourceTypeTopic, "dyn", "retention.ms"); v != "5000" {
		t.Errorf("after deleting broker 1's setting: %s, want the cluster's 5000", v)
	}
	if _, _, ro := describe(b, kmsg.ConfigResourceTypeBroker, "1", "num.partitions"); !ro {
		t.Errorf("num.partitions is not read-only")
	}
}

// TestBrokerConfigTypes: DescribeConfigs gives each broker key its Kafka
// type and, when asked, its documentation.
func TestBrokerConfigTypes(t *testing.T) {
	for _, o := range Options() {
		if o.typ == 0 {
			t.Errorf("option %s has no config type", o.Key)
		}
	}
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeDocumentation = true
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
	rr.ConfigNames = []string{"log.retention.ms", "auto.create.topics.enable", "num.partitions", "log.dirs", "log.retention.hours", "log.cleanup.policy",
		"log.segment.bytes", "group.min.session.timeout.ms", "offsets.retention.minutes", "producer.id.expiration.ms",
		"default.replication.factor", "offsets.topic.replication.factor"}
	req.Resources = append(req.Resources, rr)
	want := map[string]kmsg.ConfigType{
		"log.retention.ms": kmsg.ConfigTypeLong, "auto.create.topics.enable": kmsg.ConfigTypeBoolean,
		"num.partitions": kmsg.ConfigTypeInt, "log.dirs": kmsg.ConfigTypeString, "log.retention.hours": kmsg.ConfigTypeInt,
		"log.cleanup.policy": kmsg.ConfigTypeList,
		// Kafka's INTs, held in int64s here.
		"log.segment.bytes": kmsg.ConfigTypeInt, "group.min.session.timeout.ms": kmsg.ConfigTypeInt,
		"offsets.retention.minutes": kmsg.ConfigTypeInt, "producer.id.expiration.ms": kmsg.ConfigTypeInt,
		// Kafka's INT held in an int16, and its SHORT.
		"default.replication.factor": kmsg.ConfigTypeInt, "offsets.topic.replication.factor": kmsg.ConfigTypeShort,
	}
	res := request[*kmsg.DescribeConfigsResponse](t, cl, req).Resources[0]
	if len(res.Configs) != len(want) {
		t.Fatalf("%d configs, want %d", len(res.Configs), len(want))
	}
	for _, c := range res.Configs {
		if c.ConfigType != want[c.Name] {
			t.Errorf("%s: type %v, want %v", c.Name, c.ConfigType, want[c.Name])
		}
		if c.Documentation == nil || *c.Documentation == "" {
			t.Errorf("%s: no documentation", c.Name)
		}
	}

	// Every topic key is documented too, as in Kafka.
	createTopic(t, cl, "documented", 1, nil)
	req = kmsg.NewPtrDescribeConfigsRequest()
	req.Version, req.IncludeDocumentation = 3, true
	rr = kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "documented"
	req.Resources = append(req.Resources, rr)
	res = request[*kmsg.DescribeConfigsResponse](t, cl, req).Resources[0]
	if len(res.Configs) < 30 {
		t.Fatalf("%d topic configs described", len(res.Configs))
	}
	for _, c := range res.Configs {
		if c.Documentation == nil || *c.Documentation == "" {
			t.Errorf("topic key %s: no documentation", c.Name)
		}
	}
}

// TestBrokerCleanupPolicy: log.cleanup.policy is the dynamic broker key
// behind cleanup.policy, a LIST as in Kafka: topics that set none follow
// it (a compact-only default refuses DeleteRecords, as the topic key
// does), APPEND starts from the resource's own value or the built-in
// default, and a topic's own setting wins.
func TestBrokerCleanupPolicy(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "follows", 1, nil)
	createTopic(t, cl, "own", 1, map[string]string{"cleanup.policy": "delete"})
	topicPolicy := func(topic string) (string, kmsg.ConfigSource) {
		req := kmsg.NewPtrDescribeConfigsRequest()
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName, rr.ConfigNames = kmsg.ConfigResourceTypeTopic, topic, []string{"cleanup.policy"}
		req.Resources = append(req.Resources, rr)
		c := request[*kmsg.DescribeConfigsResponse](t, cl, req).Resources[0].Configs[0]
		return *c.Value, c.Source
	}
	if v, src := topicPolicy("follows"); v != "delete" || src != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("default cleanup.policy = %q from %v", v, src)
	}
	if code := alterConfig(t, cl, kmsg.ConfigResourceTypeBroker, "", "log.cleanup.policy", "Compact"); code != kerr.InvalidRequest.Code {
		t.Fatalf("log.cleanup.policy=Compact: error %v, want INVALID_REQUEST", kerr.ErrorForCode(code))
	}
	if code := alterConfig(t, cl, kmsg.ConfigResourceTypeBroker, "", "log.cleanup.policy", "compact"); code != 0 {
		t.Fatalf("log.cleanup.policy=compact: %v", kerr.ErrorForCode(code))
	}
	if v, src := topicPolicy("follows"); v != "compact" || src != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Fatalf("after the cluster default changed, cleanup.policy = %q from %v", v, src)
	}
	if v, _ := topicPolicy("own"); v != "delete" {
		t.Fatalf("a topic's own cleanup.policy became %q", v)
	}
	if got := deleteRecords(t, cl, "follows", 0); got.ErrorCode != kerr.PolicyViolation.Code {
		t.Fatalf("DeleteRecords on a topic compact-only by default: %v, want POLICY_VIOLATION", kerr.ErrorForCode(got.ErrorCode))
	}
	if got := deleteRecords(t, cl, "own", 0); got.ErrorCode != 0 {
		t.Fatalf("DeleteRecords on a topic with its own delete policy: %v", kerr.ErrorForCode(got.ErrorCode))
	}

	// APPEND on broker 1, which sets nothing itself, starts from the
	// built-in default (delete), not from the cluster default, as in
	// Kafka's controller.
	if code := alterConfigOp(t, cl, kmsg.ConfigResourceTypeBroker, "1", "log.cleanup.policy", "delete", kmsg.IncrementalAlterConfigOpAppend); code != 0 {
		t.Fatalf("APPEND delete to broker 1's log.cleanup.policy: %v", kerr.ErrorForCode(code))
	}
	if v, src := topicPolicy("follows"); v != "delete" || src != kmsg.ConfigSourceDynamicBrokerConfig {
		t.Fatalf("after APPEND on broker 1, cleanup.policy = %q from %v, want delete from broker 1", v, src)
	}
	if got := deleteRecords(t, cl, "follows", 0); got.ErrorCode != 0 {
		t.Fatalf("DeleteRecords once the default deletes again: %v", kerr.ErrorForCode(got.ErrorCode))
	}

	// APPEND and SUBTRACT on a topic that sets nothing start from the
	// built-in default (delete), not from the broker's, as in Kafka.
	createTopic(t, cl, "edit-sub", 1, nil)
	createTopic(t, cl, "edit-app", 1, nil)
	if code := alterConfigOp(t, cl, kmsg.ConfigResourceTypeTopic, "edit-sub", "cleanup.policy", "compact", kmsg.IncrementalAlterConfigOpSubtract); code != 0 {
		t.Fatalf("SUBTRACT compact: %v", kerr.ErrorForCode(code))
	}
	if code := alterConfigOp(t, cl, kmsg.ConfigResourceTypeTopic, "edit-app", "cleanup.policy", "delete", kmsg.IncrementalAlterConfigOpAppend); code != 0 {
		t.Fatalf("APPEND delete: %v", kerr.ErrorForCode(code))
	}
	for _, name := range []string{"edit-sub", "edit-app"} {
		if v, src := topicPolicy(name); v != "delete" || src != kmsg.ConfigSourceDynamicTopicConfig {
			t.Errorf("%s: cleanup.policy = %q from %v, want delete, the topic's own", name, v, src)
		}
	}
}

// TestConfigValueChecks: booleans are true or false in any case, as Kafka's
// BOOLEAN (not Go's 1 or t), and min.cleanable.dirty.ratio is in [0, 1].
func TestConfigValueChecks(t *testing.T) {
	for _, c := range []struct {
		key, value string
		ok         bool
	}{
		{"preallocate", "TRUE", true}, {"preallocate", "False", true},
		{"preallocate", "1", false}, {"preallocate", "t", false}, {"preallocate", "", false},
		{"unclean.leader.election.enable", "0", false},
		{"remote.storage.enable", "FALSE", true}, {"remote.storage.enable", "tRuE", false},
		{"min.cleanable.dirty.ratio", "0", true}, {"min.cleanable.dirty.ratio", "1", true}, {"min.cleanable.dirty.ratio", "0.25", true},
		{"min.cleanable.dirty.ratio", "1.5", false}, {"min.cleanable.dirty.ratio", "-0.5", false}, {"min.cleanable.dirty.ratio", "NaN", false},
	} {
		v := c.value
		if err := validateTopicConfig(c.key, &v); (err == nil) != c.ok {
			t.Errorf("%s=%q: error %v, want ok=%v", c.key, c.value, err, c.ok)
		}
	}
}

// TestConfigValuesNormalized: values are read as Kafka reads them, and kept
// and described so: spaces around a value or a list's elements dropped,
// booleans in lower case, whole numbers in their plain form.
func TestConfigValuesNormalized(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "norm", 1, map[string]string{
		"retention.ms": " 1000 ", "preallocate": "TRUE", "cleanup.policy": " delete , compact ", "segment.ms": "+0600000",
	})
	if code := alterConfig(t, cl, kmsg.ConfigResourceTypeBroker, "", "log.retention.bytes", " 5000\t"); code != 0 {
		t.Fatalf("log.retention.bytes with spaces: %v", kerr.ErrorForCode(code))
	}
	want := map[string]string{"retention.ms": "1000", "preallocate": "true", "cleanup.policy": "delete,compact", "segment.ms": "600000", "retention.bytes": "5000"}
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "norm"
	for k := range want {
		rr.ConfigNames = append(rr.ConfigNames, k)
	}
	req.Resources = append(req.Resources, rr)
	res := request[*kmsg.DescribeConfigsResponse](t, cl, req).Resources[0]
	if len(res.Configs) != len(want) {
		t.Fatalf("%d configs described, want %d", len(res.Configs), len(want))
	}
	for _, c := range res.Configs {
		if *c.Value != want[c.Name] {
			t.Errorf("%s = %q, want %q", c.Name, *c.Value, want[c.Name])
		}
	}
	// The topic acts on them: retention.ms is 1000, not unreadable.
	topic := b.node.Controller().State().Topics["norm"]
	if got := b.topicInt64(topic, "retention.ms"); got != 1000 {
		t.Fatalf("retention.ms in force: %d", got)
	}
	if code := alterConfig(t, cl, kmsg.ConfigResourceTypeTopic, "norm", "preallocate", " yes "); code != kerr.InvalidConfig.Code {
		t.Fatalf("preallocate=yes: %v, want INVALID_CONFIG", kerr.ErrorForCode(code))
	}
}

// TestSegmentSettingsReachOpenLogs: a change of a topic's segment settings,
// or of the broker's default a topic follows, applies to its partitions
// already open, as in Kafka; a topic with its own value keeps it.
func TestSegmentSettingsReachOpenLogs(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "roll-default", 1, nil)
	createTopic(t, cl, "roll-own", 1, map[string]string{"segment.ms": "604800000"})
	segments := func(topic string) int {
		logs, _ := filepath.Glob(filepath.Join(dir, topic+"-0", "*.log"))
		return len(logs)
	}
	produce := func(topic string) {
		if rp := produceRaw(t, cl, topic, 0, -1, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(1, "r"))); rp.ErrorCode != 0 {
			t.Fatalf("%s: %v", topic, kerr.ErrorForCode(rp.ErrorCode))
		}
	}
	produce("roll-default")
	produce("roll-own")
	rolls := func(topic string) {
		t.Helper()
		waitFor(t, func() bool {
			produce(topic)
			return segments(topic) > 1
		}, topic+" to roll a new segment")
	}
	if code := alterConfigOp(t, cl, kmsg.ConfigResourceTypeBroker, "", "log.roll.ms", "1", kmsg.IncrementalAlterConfigOpSet); code != 0 {
		t.Fatalf("log.roll.ms: %v", kerr.ErrorForCode(code))
	}
	rolls("roll-default")
	for range 3 {
		time.Sleep(5 * time.Millisecond)
		produce("roll-own")
	}
	if n := segments("roll-own"); n != 1 {
		t.Fatalf("a topic with its own segment.ms rolled %d segments after the broker's default changed", n)
	}
	if code := alterConfigOp(t, cl, kmsg.ConfigResourceTypeTopic, "roll-own", "segment.ms", "1", kmsg.IncrementalAlterConfigOpSet); code != 0 {
		t.Fatalf("segment.ms: %v", kerr.ErrorForCode(code))
	}
	rolls("roll-own")
}

// TestClusterDefaultsSynonyms: describing the cluster-wide defaults (the
// broker resource "") lists, for each key, only the synonyms that are
// cluster-wide defaults, as Kafka's ConfigHelper filters them; a broker's
// own describe lists every layer.
func TestClusterDefaultsSynonyms(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) {
		c.MessageMaxBytes = 2000000
		c.explicit = map[string]bool{"message.max.bytes": true}
	})
	defer b.Close()
	cl := newClient(t, b)
	for _, key := range []string{"log.retention.ms", "message.max.bytes"} {
		if code := alterConfig(t, cl, kmsg.ConfigResourceTypeBroker, "", key, "3000000"); code != 0 {
			t.Fatalf("%s: error %d", key, code)
		}
	}
	synonyms := func(name string) map[string][]kmsg.ConfigSource {
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.Version, req.IncludeSynonyms = 4, true
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, name
		rr.ConfigNames = []string{"log.retention.ms", "message.max.bytes"}
		req.Resources = append(req.Resources, rr)
		out := map[string][]kmsg.ConfigSource{}
		for _, c := range rawRequest(t, b, req).(*kmsg.DescribeConfigsResponse).Resources[0].Configs {
			for _, s := range c.ConfigSynonyms {
				out[c.Name] = append(out[c.Name], s.Source)
			}
		}
		return out
	}
	dd := kmsg.ConfigSourceDynamicDefaultBrokerConfig
	got := synonyms("")
	for _, key := range []string{"log.retention.ms", "message.max.bytes"} {
		if s := got[key]; len(s) != 1 || s[0] != dd {
			t.Errorf("cluster-wide %s: synonyms from %v, want only the cluster default", key, s)
		}
	}
	got = synonyms("1")
	if s := got["message.max.bytes"]; len(s) != 2 || s[0] != dd || s[1] != kmsg.ConfigSourceStaticBrokerConfig {
		t.Errorf("broker 1 message.max.bytes: synonyms from %v, want the cluster default, then the static one", s)
	}
	if s := got["log.retention.ms"]; len(s) != 2 || s[0] != dd || s[1] != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("broker 1 log.retention.ms: synonyms from %v, want the cluster default, then log.retention.hours's default", s)
	}
}
