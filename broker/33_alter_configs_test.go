package broker

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAlterConfigsRequestChecks: Kafka's checks before any change: a
// resource named twice (both requests), a key named twice or a null value
// to set (IncrementalAlterConfigs) make an INVALID_REQUEST, and nothing
// changes.
func TestAlterConfigsRequestChecks(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "ac", 1, map[string]string{"retention.ms": "1000000"})
	str := func(s string) *string { return &s }
	type op struct {
		name string
		op   kmsg.IncrementalAlterConfigOp
		val  *string
	}
	incr := func(resources ...[]op) []int16 {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		for _, ops := range resources {
			rr := kmsg.NewIncrementalAlterConfigsRequestResource()
			rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "ac"
			for _, o := range ops {
				c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
				c.Name, c.Op, c.Value = o.name, o.op, o.val
				rr.Configs = append(rr.Configs, c)
			}
			req.Resources = append(req.Resources, rr)
		}
		var codes []int16
		for _, r := range request[*kmsg.IncrementalAlterConfigsResponse](t, cl, req).Resources {
			codes = append(codes, r.ErrorCode)
		}
		return codes
	}
	inv := kerr.InvalidRequest.Code
	for name, tc := range map[string]struct {
		resources [][]op
		want      []int16
	}{
		"resource twice": {[][]op{{{"retention.ms", kmsg.IncrementalAlterConfigOpSet, str("5")}}, {{"segment.ms", kmsg.IncrementalAlterConfigOpSet, str("60000")}}}, []int16{inv, inv}},
		"key twice":      {[][]op{{{"retention.ms", kmsg.IncrementalAlterConfigOpSet, str("5")}, {"retention.ms", kmsg.IncrementalAlterConfigOpDelete, nil}}}, []int16{inv}},
		"null set":       {[][]op{{{"retention.ms", kmsg.IncrementalAlterConfigOpSet, nil}}}, []int16{inv}},
		"null append":    {[][]op{{{"cleanup.policy", kmsg.IncrementalAlterConfigOpAppend, nil}}}, []int16{inv}},
		// Deleting a key that does not exist is a no-op; setting one is not.
		"delete unknown": {[][]op{{{"no.such.key", kmsg.IncrementalAlterConfigOpDelete, nil}}}, []int16{0}},
		"set unknown":    {[][]op{{{"no.such.key", kmsg.IncrementalAlterConfigOpSet, str("1")}}}, []int16{kerr.InvalidConfig.Code}},
	} {
		if got := incr(tc.resources...); !slices.Equal(got, tc.want) {
			t.Errorf("%s: codes %v, want %v", name, got, tc.want)
		}
	}

	legacy := kmsg.NewPtrAlterConfigsRequest()
	for range 2 {
		rr := kmsg.NewAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "ac"
		c := kmsg.NewAlterConfigsRequestResourceConfig()
		c.Name, c.Value = "retention.ms", str("5")
		rr.Configs = append(rr.Configs, c)
		legacy.Resources = append(legacy.Resources, rr)
	}
	for _, r := range request[*kmsg.AlterConfigsResponse](t, cl, legacy).Resources {
		if r.ErrorCode != inv {
			t.Errorf("AlterConfigs, resource twice: error %v, want INVALID_REQUEST", kerr.ErrorForCode(r.ErrorCode))
		}
	}

	// Legacy AlterConfigs: a key named twice in one resource is refused
	// too, not applied with its last value.
	legacy = kmsg.NewPtrAlterConfigsRequest()
	rr := kmsg.NewAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "ac"
	for _, v := range []string{"5", "7"} {
		c := kmsg.NewAlterConfigsRequestResourceConfig()
		c.Name, c.Value = "retention.ms", str(v)
		rr.Configs = append(rr.Configs, c)
	}
	legacy.Resources = append(legacy.Resources, rr)
	r := request[*kmsg.AlterConfigsResponse](t, cl, legacy).Resources[0]
	if r.ErrorCode != inv || r.ErrorMessage == nil || *r.ErrorMessage != "Error due to duplicate config keys" {
		t.Errorf("AlterConfigs, key twice: error %v (%v), want INVALID_REQUEST", kerr.ErrorForCode(r.ErrorCode), r.ErrorMessage)
	}

	// None of it changed anything.
	if v := b.topicValue(b.node.Controller().State().Topics["ac"], "retention.ms"); v != "1000000" {
		t.Errorf("retention.ms = %s after refused requests, want 1000000", v)
	}
}

// TestAlterConfigsNullValue: legacy AlterConfigs refuses a null value, as
// Kafka does, rather than dropping the key.
func TestAlterConfigsNullValue(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "nv", 1, map[string]string{"retention.ms": "1000000"})
	req := kmsg.NewPtrAlterConfigsRequest()
	rr := kmsg.NewAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "nv"
	c := kmsg.NewAlterConfigsRequestResourceConfig()
	c.Name = "retention.ms"
	rr.Configs = append(rr.Configs, c)
	req.Resources = append(req.Resources, rr)
	if code := request[*kmsg.AlterConfigsResponse](t, cl, req).Resources[0].ErrorCode; code != kerr.InvalidRequest.Code {
		t.Fatalf("null value: error %v, want INVALID_REQUEST", kerr.ErrorForCode(code))
	}
	if v := b.topicValue(b.node.Controller().State().Topics["nv"], "retention.ms"); v != "1000000" {
		t.Errorf("retention.ms = %s after a refused request", v)
	}
}

// TestAlteredSegmentSettingsApply: a topic's new segment size reaches its
// open log, as in Kafka: later batches roll segments by it, with no
// restart.
func TestAlteredSegmentSettingsApply(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "seg", 1, nil)
	segments := func() int {
		ents, err := os.ReadDir(filepath.Join(dir, "seg-0"))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".log") {
				n++
			}
		}
		return n
	}
	produce := func() {
		if p := produceRaw(t, cl, "seg", 0, -1, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(40, strings.Repeat("x", 60)))); p.ErrorCode != 0 {
			t.Fatalf("produce: %v", kerr.ErrorForCode(p.ErrorCode))
		}
	}
	for range 3 {
		produce()
	}
	if n := segments(); n != 1 {
		t.Fatalf("%d segments under the default segment size, want 1", n)
	}
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, "seg"
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Op, c.Value = "internal.segment.bytes", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("4096")
	rr.Configs = append(rr.Configs, c)
	req.Resources = append(req.Resources, rr)
	if code := request[*kmsg.IncrementalAlterConfigsResponse](t, cl, req).Resources[0].ErrorCode; code != 0 {
		t.Fatalf("alter: %v", kerr.ErrorForCode(code))
	}
	// The log takes the setting once the broker has seen the change; each
	// batch (about 2.7 KB) then takes a 4 KB segment of its own.
	waitFor(t, func() bool { produce(); return segments() >= 3 }, "batches to roll segments by the new size")
}

// min.compaction.lag.ms may not pass max.compaction.lag.ms, on create or
// alter, counting the keys the topic already has, as Kafka's LogConfig
// checks the two together.
func TestCompactionLagsChecked(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "lags", 1, 1
	for k, v := range map[string]string{"min.compaction.lag.ms": "5000", "max.compaction.lag.ms": "1000"} {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	if code := request[*kmsg.CreateTopicsResponse](t, cl, req).Topics[0].ErrorCode; code != kerr.InvalidConfig.Code {
		t.Errorf("create with min lag 5000 > max lag 1000: %v, want INVALID_CONFIG", kerr.ErrorForCode(code))
	}
	createTopic(t, cl, "lags", 1, map[string]string{"max.compaction.lag.ms": "1000"})
	if code := alterConfigOp(t, cl, kmsg.ConfigResourceTypeTopic, "lags", "min.compaction.lag.ms", "9000", kmsg.IncrementalAlterConfigOpSet); code != kerr.InvalidConfig.Code {
		t.Errorf("min lag 9000 over the topic's max lag 1000: %v, want INVALID_CONFIG", kerr.ErrorForCode(code))
	}
	if code := alterConfigOp(t, cl, kmsg.ConfigResourceTypeTopic, "lags", "min.compaction.lag.ms", "900", kmsg.IncrementalAlterConfigOpSet); code != 0 {
		t.Errorf("min lag 900 under max lag 1000: %v", kerr.ErrorForCode(code))
	}
	// Deleting the max lag leaves the default (Long.MAX_VALUE) above 900.
	if code := alterConfigOp(t, cl, kmsg.ConfigResourceTypeTopic, "lags", "max.compaction.lag.ms", "", kmsg.IncrementalAlterConfigOpDelete); code != 0 {
		t.Errorf("deleting max lag: %v", kerr.ErrorForCode(code))
	}
}

// IncrementalAlterConfigs APPENDs to one list key on several connections
// at once are all kept, as Kafka's controller, which applies config
// changes one at a time, keeps them: each edited the value it read, and
// the last to commit wrote back its own edit alone.
func TestConcurrentAppendsKept(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	createTopic(t, newClient(t, b), "lists", 1, nil)
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		cl := newClient(t, b)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code := alterConfigOp(t, cl, kmsg.ConfigResourceTypeTopic, "lists", "leader.replication.throttled.replicas", fmt.Sprintf("%d:1", i), kmsg.IncrementalAlterConfigOpAppend); code != 0 {
				t.Errorf("APPEND %d:1: %v", i, kerr.ErrorForCode(code))
			}
		}()
	}
	wg.Wait()
	v := b.node.Controller().State().Topics["lists"].Configs["leader.replication.throttled.replicas"]
	if got := strings.Split(v, ","); len(got) != n {
		t.Errorf("%d of %d appended entries kept: %q", len(got), n, v)
	}
}

// TestTopicAlterChecksInKafkaOrder: a topic resource's name, then its
// values, then the topic's existence are checked, in that order, with
// Kafka's errors: the empty name (the "default topic") is an invalid
// request, and a bad value is INVALID_CONFIG even for a topic that does
// not exist, as Kafka's controller validates before it looks the topic up.
func TestTopicAlterChecksInKafkaOrder(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	s := kmsg.StringPtr
	incremental := func(name, key string, v *string) (int16, string) {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, name
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value = key, v
		rr.Configs = append(rr.Configs, c)
		req.Resources = append(req.Resources, rr)
		res := rawRequest(t, b, req).(*kmsg.IncrementalAlterConfigsResponse).Resources[0]
		return res.ErrorCode, *res.ErrorMessage
	}
	legacy := func(name, key string, v *string) (int16, string) {
		req := kmsg.NewPtrAlterConfigsRequest()
		rr := kmsg.NewAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, name
		c := kmsg.NewAlterConfigsRequestResourceConfig()
		c.Name, c.Value = key, v
		rr.Configs = append(rr.Configs, c)
		req.Resources = append(req.Resources, rr)
		res := rawRequest(t, b, req).(*kmsg.AlterConfigsResponse).Resources[0]
		return res.ErrorCode, *res.ErrorMessage
	}
	for _, tc := range []struct {
		name, key string
		v         *string
		code      int16
		msg       string
	}{
		{"", "retention.ms", s("1000"), kerr.InvalidRequest.Code, "Default topic resources are not allowed."},
		{"(<-invalid->)", "retention.ms", s("1000"), kerr.InvalidTopicException.Code, "Topic name is invalid: '(<-invalid->)' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'"},
		{"absent", "foobar", s("abc"), kerr.InvalidConfig.Code, "Unknown topic config name: foobar"},
		{"absent", "compression.type", s("zip"), kerr.InvalidConfig.Code, "Invalid value zip for configuration compression.type: must be one of producer, uncompressed, gzip, snappy, lz4, zstd"},
		{"absent", "retention.ms", s("1000"), kerr.UnknownTopicOrPartition.Code, "The topic 'absent' does not exist."},
	} {
		for api, alter := range map[string]func(string, string, *string) (int16, string){"IncrementalAlterConfigs": incremental, "AlterConfigs": legacy} {
			if code, msg := alter(tc.name, tc.key, tc.v); code != tc.code || msg != tc.msg {
				t.Errorf("%s %q %s=%s: %d %q, want %d %q", api, tc.name, tc.key, *tc.v, code, msg, tc.code, tc.msg)
			}
		}
	}
}
