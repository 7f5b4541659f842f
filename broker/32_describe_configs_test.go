package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func describeTopicConfigs(t *testing.T, b *Broker, topic string, names ...string) map[string]kmsg.DescribeConfigsResponseResourceConfig {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.Version = 4
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, topic
	if len(names) > 0 {
		rr.ConfigNames = names
	}
	req.Resources = append(req.Resources, rr)
	resp := rawRequest(t, b, req).(*kmsg.DescribeConfigsResponse)
	if code := resp.Resources[0].ErrorCode; code != 0 {
		t.Fatalf("describe %s: %v", topic, kerr.ErrorForCode(code))
	}
	out := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
	for _, c := range resp.Resources[0].Configs {
		out[c.Name] = c
	}
	return out
}

func TestConfigs(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) { c.LogRetentionMs = 1234567 })
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "c", 1, map[string]string{"cleanup.policy": "delete"})

	cfg := describeTopicConfigs(t, b, "c")
	if c := cfg["retention.ms"]; *c.Value != "1234567" || c.Source != kmsg.ConfigSourceStaticBrokerConfig {
		t.Fatalf("retention.ms default from the broker: %+v", c)
	}
	if c := cfg["cleanup.policy"]; *c.Value != "delete" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("cleanup.policy set at creation: %+v", c)
	}
	// Nothing set it anywhere: Kafka's built-in default, as Kafka reports it
	// (tools such as sarama's ListTopics show non-defaults as overrides).
	if c := cfg["segment.bytes"]; *c.Value != "1073741824" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Fatalf("segment.bytes left at its default: %+v", c)
	}
	if len(describeTopicConfigs(t, b, "c", "segment.bytes")) != 1 {
		t.Fatal("named config filter ignored")
	}
	// An empty list of names asks for every config, as a null one does.
	for _, typ := range []kmsg.ConfigResourceType{kmsg.ConfigResourceTypeTopic, kmsg.ConfigResourceTypeBroker} {
		req := kmsg.NewPtrDescribeConfigsRequest()
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName, rr.ConfigNames = typ, "c", []string{}
		if typ == kmsg.ConfigResourceTypeBroker {
			rr.ResourceName = "1"
		}
		req.Resources = append(req.Resources, rr)
		got := rawRequest(t, b, req).(*kmsg.DescribeConfigsResponse).Resources[0]
		if got.ErrorCode != 0 || len(got.Configs) < 10 {
			t.Fatalf("%v configs described for an empty list of names: %d (%v)", typ, len(got.Configs), kerr.ErrorForCode(got.ErrorCode))
		}
	}
	// A topic that does not exist, described or altered: unknown, or an
	// invalid name, as Kafka.
	for name, want := range map[string]int16{"absent": kerr.UnknownTopicOrPartition.Code, "bad/name": kerr.InvalidTopicException.Code} {
		req := kmsg.NewPtrDescribeConfigsRequest()
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, name
		req.Resources = append(req.Resources, rr)
		if code := rawRequest(t, b, req).(*kmsg.DescribeConfigsResponse).Resources[0].ErrorCode; code != want {
			t.Errorf("describe %q: %v, want %v", name, kerr.ErrorForCode(code), kerr.ErrorForCode(want))
		}
		alter := kmsg.NewPtrIncrementalAlterConfigsRequest()
		ar := kmsg.NewIncrementalAlterConfigsRequestResource()
		ar.ResourceType, ar.ResourceName = kmsg.ConfigResourceTypeTopic, name
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value = "retention.ms", kmsg.StringPtr("1000")
		ar.Configs = append(ar.Configs, c)
		alter.Resources = append(alter.Resources, ar)
		if code := rawRequest(t, b, alter).(*kmsg.IncrementalAlterConfigsResponse).Resources[0].ErrorCode; code != want {
			t.Errorf("alter %q: %v, want %v", name, kerr.ErrorForCode(code), kerr.ErrorForCode(want))
		}
	}
	// Internal keys, as Kafka's, are never listed.
	if _, ok := cfg["internal.segment.bytes"]; ok {
		t.Fatal("internal.segment.bytes described")
	}
	if n := len(describeTopicConfigs(t, b, "c", "internal.segment.bytes")); n != 0 {
		t.Fatalf("internal.segment.bytes described when asked for: %d", n)
	}

	// Incremental: set, append to a list, delete.
	inc := kmsg.NewPtrIncrementalAlterConfigsRequest()
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "c"
	set := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	set.Name, set.Op, set.Value = "retention.ms", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("60000")
	app := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	app.Name, app.Op, app.Value = "cleanup.policy", kmsg.IncrementalAlterConfigOpAppend, kmsg.StringPtr("compact")
	rr.Configs = append(rr.Configs, set, app)
	inc.Resources = append(inc.Resources, rr)
	if code := request[*kmsg.IncrementalAlterConfigsResponse](t, cl, inc).Resources[0].ErrorCode; code != 0 {
		t.Fatalf("incremental alter: %v", kerr.ErrorForCode(code))
	}
	cfg = describeTopicConfigs(t, b, "c")
	if *cfg["retention.ms"].Value != "60000" || *cfg["cleanup.policy"].Value != "delete,compact" {
		t.Fatalf("after incremental alter: retention.ms=%s cleanup.policy=%s", *cfg["retention.ms"].Value, *cfg["cleanup.policy"].Value)
	}

	// Legacy AlterConfigs replaces the whole set: cleanup.policy goes back to its default.
	alt := kmsg.NewPtrAlterConfigsRequest()
	ar := kmsg.NewAlterConfigsRequestResource()
	ar.ResourceType, ar.ResourceName = kmsg.ConfigResourceTypeTopic, "c"
	ac := kmsg.NewAlterConfigsRequestResourceConfig()
	ac.Name, ac.Value = "segment.bytes", kmsg.StringPtr("1048576")
	ar.Configs = append(ar.Configs, ac)
	alt.Resources = append(alt.Resources, ar)
	if code := request[*kmsg.AlterConfigsResponse](t, cl, alt).Resources[0].ErrorCode; code != 0 {
		t.Fatalf("alter: %v", kerr.ErrorForCode(code))
	}
	cfg = describeTopicConfigs(t, b, "c")
	if *cfg["segment.bytes"].Value != "1048576" || *cfg["cleanup.policy"].Value != "delete" || *cfg["retention.ms"].Value != "1234567" {
		t.Fatalf("after alter: %s %s %s", *cfg["segment.bytes"].Value, *cfg["cleanup.policy"].Value, *cfg["retention.ms"].Value)
	}

	// Errors: bad value, unknown topic, broker configs are static.
	bad := kmsg.NewPtrIncrementalAlterConfigsRequest()
	br := kmsg.NewIncrementalAlterConfigsRequestResource()
	br.ResourceType, br.ResourceName = kmsg.ConfigResourceTypeTopic, "c"
	bc := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	bc.Name, bc.Op, bc.Value = "retention.ms", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("-5")
	br.Configs = append(br.Configs, bc)
	bad.Resources = append(bad.Resources, br)
	if code := request[*kmsg.IncrementalAlterConfigsResponse](t, cl, bad).Resources[0].ErrorCode; code != kerr.InvalidConfig.Code {
		t.Fatalf("bad value: %v", kerr.ErrorForCode(code))
	}
	req := kmsg.NewPtrDescribeConfigsRequest()
	rq := kmsg.NewDescribeConfigsRequestResource()
	rq.ResourceType, rq.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
	req.Resources = append(req.Resources, rq)
	resp := request[*kmsg.DescribeConfigsResponse](t, cl, req)
	found := false
	for _, c := range resp.Resources[0].Configs {
		if c.Name == "log.retention.ms" && *c.Value == "1234567" {
			found = true
		}
	}
	if resp.Resources[0].ErrorCode != 0 || !found {
		t.Fatalf("broker configs: %+v", resp.Resources[0])
	}
	// The empty name is the cluster-wide dynamic defaults (kadm's
	// DescribeBrokerConfigs with no broker): there are none here.
	rq.ResourceName = ""
	req.Resources = []kmsg.DescribeConfigsRequestResource{rq}
	resp = request[*kmsg.DescribeConfigsResponse](t, cl, req)
	if r := resp.Resources[0]; r.ErrorCode != 0 || len(r.Configs) != 0 {
		t.Fatalf("cluster-wide broker defaults: error %d, %d configs, want none", r.ErrorCode, len(r.Configs))
	}
}

// TestDescribeBrokerResourceNames: the names of BROKER and BROKER_LOGGER
// resources are checked as Kafka's ConfigHelper checks them: a broker
// logger resource names a broker (there is no cluster-wide one), and a
// broker's id is read as an integer.
func TestDescribeBrokerResourceNames(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	describe := func(typ kmsg.ConfigResourceType, name string) kmsg.DescribeConfigsResponseResource {
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.Version = 4
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = typ, name
		req.Resources = append(req.Resources, rr)
		return rawRequest(t, b, req).(*kmsg.DescribeConfigsResponse).Resources[0]
	}
	L, B := kmsg.ConfigResourceTypeBrokerLogger, kmsg.ConfigResourceTypeBroker
	for _, tc := range []struct {
		typ  kmsg.ConfigResourceType
		name string
		msg  string // "" for success
	}{
		{L, "", "Broker id must not be empty"},
		{L, "abc", "Broker id must be an integer, but it is: abc"},
		{L, "2", "Unexpected broker id, expected 1 but received 2"},
		{L, "1", ""},
		{L, "01", ""},
		{B, "abc", "Broker id must be an integer, but it is: abc"},
		{B, "-1", "Unexpected broker id, expected 1 or empty string, but received -1"},
		{B, "01", ""},
		{B, "", ""},
	} {
		res := describe(tc.typ, tc.name)
		switch {
		case tc.msg == "" && res.ErrorCode != 0:
			t.Errorf("%v %q: %v %v, want success", tc.typ, tc.name, kerr.ErrorForCode(res.ErrorCode), res.ErrorMessage)
		case tc.msg != "" && (res.ErrorCode != kerr.InvalidRequest.Code || res.ErrorMessage == nil || *res.ErrorMessage != tc.msg):
			t.Errorf("%v %q: %d %v, want INVALID_REQUEST %q", tc.typ, tc.name, res.ErrorCode, res.ErrorMessage, tc.msg)
		}
	}
	// "01" is broker 1, with its own settings.
	if res := describe(B, "01"); len(res.Configs) < 10 {
		t.Fatalf("broker 01: %d configs", len(res.Configs))
	}
}
