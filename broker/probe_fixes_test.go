package broker

import (
	"context"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/groups"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestOffsetCommitUnknownPartitions: as in Kafka, a commit for a topic or
// partition the metadata does not hold is answered UNKNOWN_TOPIC_OR_PARTITION
// and stored nowhere, while the known partitions of the same request commit.
func TestOffsetCommitUnknownPartitions(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "oc", 2, nil)

	commit := func(topics map[string][]int32, order []string) *kmsg.OffsetCommitResponse {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Version = 8
		req.Group = "oc-group"
		req.Generation = -1
		for _, name := range order {
			rt := kmsg.NewOffsetCommitRequestTopic()
			rt.Topic = name
			for _, p := range topics[name] {
				rp := kmsg.NewOffsetCommitRequestTopicPartition()
				rp.Partition = p
				rp.Offset = 7
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
		}
		return request[*kmsg.OffsetCommitResponse](t, cl, req)
	}
	resp := commit(map[string][]int32{"nosuch": {0}, "oc": {0, 55, 1}}, []string{"nosuch", "oc"})
	want := map[string][]int16{
		"nosuch": {kerr.UnknownTopicOrPartition.Code},
		"oc":     {0, kerr.UnknownTopicOrPartition.Code, 0},
	}
	if len(resp.Topics) != 2 {
		t.Fatalf("answer lists %d topics, want 2", len(resp.Topics))
	}
	for _, rt := range resp.Topics {
		if len(rt.Partitions) != len(want[rt.Topic]) {
			t.Fatalf("%s answers %d partitions, want %d", rt.Topic, len(rt.Partitions), len(want[rt.Topic]))
		}
		for i, rp := range rt.Partitions {
			if rp.ErrorCode != want[rt.Topic][i] {
				t.Errorf("%s-%d: error %d, want %d", rt.Topic, rp.Partition, rp.ErrorCode, want[rt.Topic][i])
			}
		}
	}
	// Only unknown partitions: answered without the coordinator.
	resp = commit(map[string][]int32{"nosuch": {0, 1}}, []string{"nosuch"})
	for _, rp := range resp.Topics[0].Partitions {
		if rp.ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("nosuch-%d: error %d, want UNKNOWN_TOPIC_OR_PARTITION", rp.Partition, rp.ErrorCode)
		}
	}

	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Version = 7
	fetch.Group = "oc-group"
	fetch.Topics = nil // all
	fr := request[*kmsg.OffsetFetchResponse](t, cl, fetch)
	got := map[string][]int32{}
	for _, ft := range fr.Topics {
		for _, fp := range ft.Partitions {
			got[ft.Topic] = append(got[ft.Topic], fp.Partition)
			if fp.Offset != 7 {
				t.Errorf("%s-%d: committed offset %d, want 7", ft.Topic, fp.Partition, fp.Offset)
			}
		}
	}
	if len(got) != 1 || len(got["oc"]) != 2 {
		t.Errorf("the group holds offsets for %v, want oc-0 and oc-1 only", got)
	}
}

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

	// None of it changed anything.
	if v := b.topicValue(b.node.Controller().State().Topics["ac"], "retention.ms"); v != "1000000" {
		t.Errorf("retention.ms = %s after refused requests, want 1000000", v)
	}
}

// TestAuthorizedOperations: with no authorizer, what a request asks for
// (KIP-430) is every operation the resource type supports, as Kafka
// answers; unasked it is math.MinInt32.
func TestAuthorizedOperations(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "ops", 1, nil)
	// READ WRITE CREATE DELETE ALTER DESCRIBE DESCRIBE_CONFIGS ALTER_CONFIGS
	const topic = 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8 | 1<<10 | 1<<11
	// CREATE CLUSTER_ACTION DESCRIBE_CONFIGS ALTER_CONFIGS IDEMPOTENT_WRITE ALTER DESCRIBE
	const cluster = 1<<5 | 1<<9 | 1<<10 | 1<<11 | 1<<12 | 1<<7 | 1<<8
	const group = 1<<3 | 1<<6 | 1<<8 // READ DELETE DESCRIBE
	for _, asked := range []bool{false, true} {
		want := func(ops int32) int32 {
			if asked {
				return ops
			}
			return math.MinInt32
		}
		md := kmsg.NewPtrMetadataRequest()
		md.Version = 10
		name := "ops"
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = &name
		md.Topics = append(md.Topics, mt)
		md.IncludeClusterAuthorizedOperations, md.IncludeTopicAuthorizedOperations = asked, asked
		mr := rawRequest(t, b, md).(*kmsg.MetadataResponse)
		if got := mr.Topics[0].AuthorizedOperations; got != want(topic) {
			t.Errorf("asked %v: Metadata topic operations %d, want %d", asked, got, want(topic))
		}
		if mr.AuthorizedOperations != want(cluster) {
			t.Errorf("asked %v: Metadata cluster operations %d, want %d", asked, mr.AuthorizedOperations, want(cluster))
		}
		dc := kmsg.NewPtrDescribeClusterRequest()
		dc.IncludeClusterAuthorizedOperations = asked
		if got := request[*kmsg.DescribeClusterResponse](t, cl, dc).ClusterAuthorizedOperations; got != want(cluster) {
			t.Errorf("asked %v: DescribeCluster operations %d, want %d", asked, got, want(cluster))
		}
		dg := kmsg.NewPtrDescribeGroupsRequest()
		dg.Groups = []string{"ops-group"}
		dg.IncludeAuthorizedOperations = asked
		if got := request[*kmsg.DescribeGroupsResponse](t, cl, dg).Groups[0].AuthorizedOperations; got != want(group) {
			t.Errorf("asked %v: DescribeGroups operations %d, want %d", asked, got, want(group))
		}
	}
	// KIP-919: this listener is a broker's; asking it for controllers, or
	// for an unknown endpoint type, is an error.
	for typ, code := range map[int8]int16{2: kerr.MismatchedEndpointType.Code, 7: kerr.UnsupportedEndpointType.Code, 1: 0} {
		dc := kmsg.NewPtrDescribeClusterRequest()
		dc.Version = 1
		dc.EndpointType = typ
		r := rawRequest(t, b, dc).(*kmsg.DescribeClusterResponse)
		if r.ErrorCode != code || (code == 0 && len(r.Brokers) != 1) {
			t.Errorf("DescribeCluster endpoint type %d: error %d with %d brokers, want %d", typ, r.ErrorCode, len(r.Brokers), code)
		}
	}
}

// TestElectLeaders: every partition here is led by its preferred (only)
// replica, so an election for it is not needed, as Kafka answers; unknown
// partitions are UNKNOWN_TOPIC_OR_PARTITION, and a request for all
// partitions lists none.
func TestElectLeaders(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "el", 2, nil)
	for _, version := range []int16{0, 1, 2} {
		for _, typ := range []int8{electPreferred, electUnclean} {
			if version == 0 && typ == electUnclean {
				continue
			}
			req := kmsg.NewPtrElectLeadersRequest()
			req.Version = version
			req.ElectionType = typ
			for _, name := range []string{"el", "nosuch"} {
				rt := kmsg.NewElectLeadersRequestTopic()
				rt.Topic = name
				rt.Partitions = []int32{0, 1, 9}
				req.Topics = append(req.Topics, rt)
			}
			resp := rawRequest(t, b, req).(*kmsg.ElectLeadersResponse)
			want := map[string][]int16{
				"el":     {kerr.ElectionNotNeeded.Code, kerr.ElectionNotNeeded.Code, kerr.UnknownTopicOrPartition.Code},
				"nosuch": {kerr.UnknownTopicOrPartition.Code, kerr.UnknownTopicOrPartition.Code, kerr.UnknownTopicOrPartition.Code},
			}
			if resp.ErrorCode != 0 || len(resp.Topics) != 2 {
				t.Fatalf("v%d type %d: error %d, %d topics", version, typ, resp.ErrorCode, len(resp.Topics))
			}
			for _, rt := range resp.Topics {
				if len(rt.Partitions) != len(want[rt.Topic]) {
					t.Fatalf("v%d type %d: %s answers %d partitions, want %d", version, typ, rt.Topic, len(rt.Partitions), len(want[rt.Topic]))
				}
				for i, rp := range rt.Partitions {
					if rp.ErrorCode != want[rt.Topic][i] {
						t.Errorf("v%d type %d: %s-%d error %d, want %d", version, typ, rt.Topic, rp.Partition, rp.ErrorCode, want[rt.Topic][i])
					}
				}
			}
		}
	}
	all := kmsg.NewPtrElectLeadersRequest()
	all.Version = 2
	all.Topics = nil
	if resp := rawRequest(t, b, all).(*kmsg.ElectLeadersResponse); resp.ErrorCode != 0 || len(resp.Topics) != 0 {
		t.Errorf("all partitions: error %d, %d topics listed, want none", resp.ErrorCode, len(resp.Topics))
	}
	bad := kmsg.NewPtrElectLeadersRequest()
	bad.Version = 1
	bad.ElectionType = 5
	if resp := rawRequest(t, b, bad).(*kmsg.ElectLeadersResponse); resp.ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("election type 5: error %d, want INVALID_REQUEST", resp.ErrorCode)
	}
}

// TestDeletedTopicOffsets: deleting a topic removes the groups' committed
// offsets of it, as Kafka does, so a topic created again under the name
// does not inherit them.
func TestDeletedTopicOffsets(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "dt", 2, nil)
	createTopic(t, cl, "dt-kept", 1, nil)
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.Generation = "dt-group", -1
	for _, name := range []string{"dt", "dt-kept"} {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = name
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Offset = 3
		rt.Partitions = append(rt.Partitions, rp)
		commit.Topics = append(commit.Topics, rt)
	}
	for _, rt := range request[*kmsg.OffsetCommitResponse](t, cl, commit).Topics {
		if rt.Partitions[0].ErrorCode != 0 {
			t.Fatalf("commit %s: %v", rt.Topic, kerr.ErrorForCode(rt.Partitions[0].ErrorCode))
		}
	}
	committed := func() map[string]int64 {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = 7
		req.Group = "dt-group"
		out := map[string]int64{}
		for _, ft := range request[*kmsg.OffsetFetchResponse](t, cl, req).Topics {
			for _, fp := range ft.Partitions {
				out[ft.Topic] = fp.Offset
			}
		}
		return out
	}
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.TopicNames = []string{"dt"}
	rdt := kmsg.NewDeleteTopicsRequestTopic()
	name := "dt"
	rdt.Topic = &name
	del.Topics = append(del.Topics, rdt)
	if code := request[*kmsg.DeleteTopicsResponse](t, cl, del).Topics[0].ErrorCode; code != 0 {
		t.Fatalf("delete: %v", kerr.ErrorForCode(code))
	}
	waitFor(t, func() bool { _, ok := committed()["dt"]; return !ok }, "the deleted topic's offsets to go")
	createTopic(t, cl, "dt", 2, nil)
	if got := committed(); got["dt-kept"] != 3 || len(got) != 1 {
		t.Fatalf("after deleting and creating dt again the group holds %v, want only dt-kept at 3", got)
	}
}

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

// TestReassignmentsAndQuotas: no partition is ever being reassigned and no
// client quota can be set, so both lists are empty, as a Kafka without
// either answers; DescribeClientQuotas still makes Kafka's filter checks.
func TestReassignmentsAndQuotas(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "rq", 1, nil)
	for _, topics := range [][]string{nil, {"rq", "nosuch"}} {
		req := kmsg.NewPtrListPartitionReassignmentsRequest()
		for _, name := range topics {
			rt := kmsg.NewListPartitionReassignmentsRequestTopic()
			rt.Topic, rt.Partitions = name, []int32{0}
			req.Topics = append(req.Topics, rt)
		}
		if resp := request[*kmsg.ListPartitionReassignmentsResponse](t, cl, req); resp.ErrorCode != 0 || len(resp.Topics) != 0 {
			t.Errorf("reassignments of %v: error %d, %d topics, want none", topics, resp.ErrorCode, len(resp.Topics))
		}
	}
	type comp struct {
		typ   string
		match kmsg.QuotasMatchType
		name  *string
	}
	alice := kmsg.StringPtr("alice")
	for _, tc := range []struct {
		comps []comp
		want  *kerr.Error
	}{
		{nil, nil},
		{[]comp{{"user", kmsg.QuotasMatchTypeExact, alice}, {"client-id", kmsg.QuotasMatchTypeAny, nil}}, nil},
		{[]comp{{"ip", kmsg.QuotasMatchTypeDefault, nil}}, nil},
		{[]comp{{"", kmsg.QuotasMatchTypeAny, nil}}, kerr.InvalidRequest},
		{[]comp{{"user", kmsg.QuotasMatchTypeAny, nil}, {"user", kmsg.QuotasMatchTypeDefault, nil}}, kerr.InvalidRequest},
		{[]comp{{"group", kmsg.QuotasMatchTypeAny, nil}}, kerr.UnsupportedVersion},
		{[]comp{{"user", kmsg.QuotasMatchTypeExact, nil}}, kerr.InvalidRequest},
		{[]comp{{"user", kmsg.QuotasMatchTypeDefault, alice}}, kerr.InvalidRequest},
		{[]comp{{"user", 7, nil}}, kerr.UnsupportedVersion},
		{[]comp{{"ip", kmsg.QuotasMatchTypeAny, nil}, {"user", kmsg.QuotasMatchTypeAny, nil}}, kerr.InvalidRequest},
	} {
		req := kmsg.NewPtrDescribeClientQuotasRequest()
		for _, c := range tc.comps {
			rc := kmsg.NewDescribeClientQuotasRequestComponent()
			rc.EntityType, rc.MatchType, rc.Match = c.typ, c.match, c.name
			req.Components = append(req.Components, rc)
		}
		resp := request[*kmsg.DescribeClientQuotasResponse](t, cl, req)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != tc.want && !(tc.want == nil && err == nil) {
			t.Errorf("quotas %+v: error %v, want %v", tc.comps, err, tc.want)
		}
		if tc.want == nil && (resp.Entries == nil || len(resp.Entries) != 0) {
			t.Errorf("quotas %+v: entries %v, want an empty list", tc.comps, resp.Entries)
		}
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
	rr.ConfigNames = []string{"log.retention.ms", "auto.create.topics.enable", "num.partitions", "log.dirs", "log.retention.hours"}
	req.Resources = append(req.Resources, rr)
	want := map[string]kmsg.ConfigType{
		"log.retention.ms": kmsg.ConfigTypeLong, "auto.create.topics.enable": kmsg.ConfigTypeBoolean,
		"num.partitions": kmsg.ConfigTypeInt, "log.dirs": kmsg.ConfigTypeString, "log.retention.hours": kmsg.ConfigTypeInt,
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
	c.Name, c.Op, c.Value = "internal.segment.bytes", kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr("2048")
	rr.Configs = append(rr.Configs, c)
	req.Resources = append(req.Resources, rr)
	if code := request[*kmsg.IncrementalAlterConfigsResponse](t, cl, req).Resources[0].ErrorCode; code != 0 {
		t.Fatalf("alter: %v", kerr.ErrorForCode(code))
	}
	// The log takes the setting once the broker has seen the change; each
	// batch (about 2.7 KB) then fills a 2 KB segment.
	waitFor(t, func() bool { produce(); return segments() >= 3 }, "batches to roll segments by the new size")
}

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
	if code, _ := incr("", false, "log.retention.ms", "abc"); code != kerr.InvalidRequest.Code {
		t.Fatalf("a bad value: error %d, want INVALID_REQUEST (Kafka's answer for broker resources)", code)
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

// TestBrokerLoggers: the root broker logger is listed with its log4j level
// and set at run time through IncrementalAlterConfigs, with Kafka's checks.
func TestBrokerLoggers(t *testing.T) {
	level := new(slog.LevelVar)
	b := startBroker(t, t.TempDir(), func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: level}))
		c.LogLevel = level
	})
	defer b.Close()
	describe := func() (string, bool) {
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.Version = 4
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBrokerLogger, "1"
		req.Resources = append(req.Resources, rr)
		res := rawRequest(t, b, req).(*kmsg.DescribeConfigsResponse).Resources[0]
		if res.ErrorCode != 0 || len(res.Configs) != 1 || res.Configs[0].Name != "root" {
			t.Fatalf("describe loggers: error %d, %+v", res.ErrorCode, res.Configs)
		}
		return *res.Configs[0].Value, res.Configs[0].ReadOnly
	}
	set := func(name string, validateOnly bool, logger string, op kmsg.IncrementalAlterConfigOp, v *string) int16 {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		req.ValidateOnly = validateOnly
		rr := kmsg.NewIncrementalAlterConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBrokerLogger, name
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Op, c.Value = logger, op, v
		rr.Configs = append(rr.Configs, c)
		req.Resources = append(req.Resources, rr)
		return rawRequest(t, b, req).(*kmsg.IncrementalAlterConfigsResponse).Resources[0].ErrorCode
	}
	if v, ro := describe(); v != "INFO" || ro {
		t.Fatalf("root logger: %s, read-only %v; want INFO, settable", v, ro)
	}
	s := kmsg.StringPtr
	for _, tc := range []struct {
		name, logger string
		op           kmsg.IncrementalAlterConfigOp
		v            *string
		want         *kerr.Error
	}{
		{"1", "root", kmsg.IncrementalAlterConfigOpSet, s("LOUD"), kerr.InvalidConfig},
		{"1", "kafka.server", kmsg.IncrementalAlterConfigOpSet, s("DEBUG"), kerr.InvalidConfig},
		{"1", "root", kmsg.IncrementalAlterConfigOpDelete, nil, kerr.InvalidRequest},
		{"1", "root", kmsg.IncrementalAlterConfigOpAppend, s("DEBUG"), kerr.InvalidRequest},
		{"2", "root", kmsg.IncrementalAlterConfigOpSet, s("DEBUG"), kerr.InvalidRequest},
	} {
		if code := set(tc.name, false, tc.logger, tc.op, tc.v); code != tc.want.Code {
			t.Errorf("%s %s %v %v: error %d, want %v", tc.name, tc.logger, tc.op, tc.v, code, tc.want)
		}
	}
	if code := set("1", true, "root", kmsg.IncrementalAlterConfigOpSet, s("DEBUG")); code != 0 {
		t.Fatalf("validate only: error %d", code)
	}
	if v, _ := describe(); v != "INFO" {
		t.Fatalf("validate only changed the level to %s", v)
	}
	if code := set("1", false, "root", kmsg.IncrementalAlterConfigOpSet, s("DEBUG")); code != 0 {
		t.Fatalf("set DEBUG: error %d", code)
	}
	if v, _ := describe(); v != "DEBUG" || !b.logger.Enabled(context.Background(), slog.LevelDebug) {
		t.Fatalf("after setting DEBUG: %s, debug enabled %v", v, b.logger.Enabled(context.Background(), slog.LevelDebug))
	}
	legacy := kmsg.NewPtrAlterConfigsRequest()
	lr := kmsg.NewAlterConfigsRequestResource()
	lr.ResourceType, lr.ResourceName = kmsg.ConfigResourceTypeBrokerLogger, "1"
	lc := kmsg.NewAlterConfigsRequestResourceConfig()
	lc.Name, lc.Value = "root", s("WARN")
	lr.Configs = append(lr.Configs, lc)
	legacy.Resources = append(legacy.Resources, lr)
	if code := rawRequest(t, b, legacy).(*kmsg.AlterConfigsResponse).Resources[0].ErrorCode; code != kerr.InvalidRequest.Code {
		t.Errorf("legacy AlterConfigs of a logger: error %d, want INVALID_REQUEST", code)
	}
}

// TestStrayOffsetsDroppedOnLoad: offsets of a topic the metadata does not
// hold (deleted while no cleanup ran, or committed before commits were
// checked) are dropped when a coordinator shard loads.
func TestStrayOffsetsDroppedOnLoad(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	cl := newClient(t, b)
	createTopic(t, cl, "real", 1, nil)
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.Generation = "stray-g", -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "real"
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Offset = 4
	rt.Partitions = append(rt.Partitions, rp)
	commit.Topics = append(commit.Topics, rt)
	if code := request[*kmsg.OffsetCommitResponse](t, cl, commit).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(code))
	}
	// A commit for "ghost", written straight into the group's shard.
	key := kmsg.NewOffsetCommitKey()
	key.Version, key.Group, key.Topic = 1, "stray-g", "ghost"
	val := kmsg.NewOffsetCommitValue()
	val.Version, val.Offset, val.CommitTimestamp = 3, 9, time.Now().UnixMilli()
	part := b.node.Partition(offsetsTopic, shardIndex("stray-g", b.coord.numShards()))
	if err := (&offsetsStore{part: part}).Append([]groups.Record{{Key: key.AppendTo(nil), Value: val.AppendTo(nil)}})(); err != nil {
		t.Fatal(err)
	}
	b.Close()

	b = startBroker(t, dir, nil)
	defer b.Close()
	cl = newClient(t, b)
	fetchAll := func() map[string]int64 {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = 7
		req.Group = "stray-g"
		out := map[string]int64{}
		for _, ft := range request[*kmsg.OffsetFetchResponse](t, cl, req).Topics {
			for _, fp := range ft.Partitions {
				out[ft.Topic] = fp.Offset
			}
		}
		return out
	}
	waitFor(t, func() bool { got := fetchAll(); _, ghost := got["ghost"]; return !ghost && got["real"] == 4 }, "the ghost topic's offset to go and real's to stay")
}
