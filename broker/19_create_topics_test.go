package broker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/testlog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func createReq(name string, parts int32, rf int16, validateOnly bool, cfg map[string]string) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.ValidateOnly = validateOnly
	req.TimeoutMillis = 5000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, parts, rf
	for k, v := range cfg {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

func TestCreateDeleteTopics(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) { c.NumPartitions = 4 })
	defer b.Close()
	cl := newClient(t, b)
	for _, tc := range []struct {
		name     string
		req      *kmsg.CreateTopicsRequest
		want     *kerr.Error
		wantPart int32
	}{
		{"defaults", createReq("t-default", -1, -1, false, nil), nil, 4},
		{"exists", createReq("t-default", 1, 1, false, nil), kerr.TopicAlreadyExists, -1},
		{"rf above brokers", createReq("t-rf", 1, 3, false, nil), kerr.InvalidReplicationFactor, -1},
		{"zero partitions", createReq("t-zero", 0, 1, false, nil), kerr.InvalidPartitions, -1},
		{"zero partitions and replicas: the replicas first, as Kafka", createReq("t-zero", 0, 0, false, nil), kerr.InvalidReplicationFactor, -1},
		{"bad name", createReq("bad/name", 1, 1, false, nil), kerr.InvalidTopicException, -1},
		{"unknown config", createReq("t-cfg", 1, 1, false, map[string]string{"no.such.key": "1"}), kerr.InvalidConfig, -1},
		{"bad config value", createReq("t-cfg", 1, 1, false, map[string]string{"retention.ms": "soon"}), kerr.InvalidConfig, -1},
		{"segment under 1 MiB", createReq("t-seg", 1, 1, true, map[string]string{"segment.bytes": "1048575"}), kerr.InvalidConfig, -1},
		{"segment of 1 MiB", createReq("t-seg", 1, 1, true, map[string]string{"segment.bytes": "1048576"}), nil, 1},
		{"segment index under 1 KiB", createReq("t-idx", 1, 1, true, map[string]string{"segment.index.bytes": "1023"}), kerr.InvalidConfig, -1},
		{"segment index of 1 KiB", createReq("t-idx", 1, 1, true, map[string]string{"segment.index.bytes": "1024"}), nil, 1},
		{"internal segment size", createReq("t-seg", 1, 1, true, map[string]string{"internal.segment.bytes": "2048"}), nil, 1},
		{"internal segment size under 14", createReq("t-seg", 1, 1, true, map[string]string{"internal.segment.bytes": "13"}), kerr.InvalidConfig, -1},
		{"null config value", nullConfigReq("t-null", "retention.ms"), kerr.InvalidConfig, -1},
		{"validate only", createReq("t-validate", 2, 1, true, nil), nil, 2},
		{"dotted", createReq("t.dot_x", 1, 1, false, nil), nil, 1},
		{"collides once '.' is '_'", createReq("t_dot.x", 1, 1, false, nil), kerr.InvalidTopicException, -1},
		{"collides, validate only", createReq("t_dot_x", 1, 1, true, nil), kerr.InvalidTopicException, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := request[*kmsg.CreateTopicsResponse](t, cl, tc.req)
			rt := resp.Topics[0]
			want := int16(0)
			if tc.want != nil {
				want = tc.want.Code
			}
			if rt.ErrorCode != want || (want == 0 && rt.NumPartitions != tc.wantPart) {
				t.Fatalf("error %v partitions %d, want %v %d", kerr.ErrorForCode(rt.ErrorCode), rt.NumPartitions, tc.want, tc.wantPart)
			}
		})
	}
	if b.node.Controller().State().Topics["t-validate"] != nil {
		t.Fatal("validate_only created the topic")
	}
	// A name given twice is refused, and answered once, as Kafka does;
	// the other names in the request are created.
	dup := createReq("t-dup", 1, 1, false, nil)
	dup.Topics = append(dup.Topics, dup.Topics[0], createReq("t-other", 1, 1, false, nil).Topics[0])
	if resp := request[*kmsg.CreateTopicsResponse](t, cl, dup); len(resp.Topics) != 2 ||
		resp.Topics[0].Topic != "t-dup" || resp.Topics[0].ErrorCode != kerr.InvalidRequest.Code ||
		resp.Topics[1].Topic != "t-other" || resp.Topics[1].ErrorCode != 0 {
		t.Fatalf("duplicate names: %+v", resp.Topics)
	}
	if st := b.node.Controller().State(); st.Topics["t-dup"] != nil || st.Topics["t-other"] == nil {
		t.Fatal("a duplicated name was created, or the other name was not")
	}
	// Created topics are usable immediately: every partition leads.
	for i := int32(0); i < 4; i++ {
		if p := b.node.Partition("t-default", i); p == nil || !p.Ready() {
			t.Fatalf("partition %d not ready right after CreateTopics", i)
		}
	}

	// CreatePartitions grows the topic; shrinking is refused.
	cp := func(count int32) int16 {
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.TimeoutMillis = 5000
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = "t-default", count
		req.Topics = append(req.Topics, rt)
		return request[*kmsg.CreatePartitionsResponse](t, cl, req).Topics[0].ErrorCode
	}
	if code := cp(6); code != 0 {
		t.Fatalf("create partitions: %v", kerr.ErrorForCode(code))
	}
	if p := b.node.Partition("t-default", 5); p == nil || !p.Ready() {
		t.Fatal("new partition 5 not ready")
	}
	if code := cp(3); code != kerr.InvalidPartitions.Code {
		t.Fatalf("shrink: %v", kerr.ErrorForCode(code))
	}
	twice := kmsg.NewPtrCreatePartitionsRequest()
	twice.TimeoutMillis = 5000
	for range 2 {
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = "t-default", 8
		twice.Topics = append(twice.Topics, rt)
	}
	if resp := request[*kmsg.CreatePartitionsResponse](t, cl, twice); len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("a topic named twice: %+v", resp.Topics)
	}
	if n := len(b.node.Controller().State().Topics["t-default"].Replicas); n != 6 {
		t.Fatalf("a topic named twice grew to %d partitions", n)
	}

	// DeleteTopics by name removes the data from disk; by id (v6) too.
	createTopic(t, cl, "t-byid", 1, nil)
	dir := filepath.Join(b.cfg.DataDir, "t-default-0")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("partition dir missing before delete: %v", err)
	}
	del := kmsg.NewPtrDeleteTopicsRequest()
	del.Version = 5
	del.TopicNames = []string{"t-default", "missing"}
	dresp := rawRequest(t, b, del).(*kmsg.DeleteTopicsResponse)
	if dresp.Topics[0].ErrorCode != 0 || dresp.Topics[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("delete by name: %+v", dresp.Topics)
	}
	id := b.node.Controller().State().Topics["t-byid"].ID
	// A name or an id given twice, or an entry with both, is refused and
	// answered once, as in Kafka; nothing is deleted.
	del = kmsg.NewPtrDeleteTopicsRequest()
	del.Version = 6
	for _, e := range []struct {
		name *string
		id   [16]byte
	}{{kmsg.StringPtr("t-byid"), [16]byte{}}, {nil, id}, {kmsg.StringPtr("t-byid"), [16]byte{}}, {nil, id}, {kmsg.StringPtr("t-byid"), id}} {
		dt := kmsg.NewDeleteTopicsRequestTopic()
		dt.Topic, dt.TopicID = e.name, e.id
		del.Topics = append(del.Topics, dt)
	}
	resp := rawRequest(t, b, del).(*kmsg.DeleteTopicsResponse)
	if len(resp.Topics) != 3 {
		t.Fatalf("duplicates: %d answers, want 3: %+v", len(resp.Topics), resp.Topics)
	}
	for _, rt := range resp.Topics {
		if rt.ErrorCode != kerr.InvalidRequest.Code {
			t.Fatalf("duplicates: %+v", resp.Topics)
		}
	}
	if b.node.Controller().State().Topics["t-byid"] == nil {
		t.Fatal("a duplicated delete deleted the topic")
	}
	// The same topic by name and by id: one answer, on the name, and the
	// topic stays.
	del = kmsg.NewPtrDeleteTopicsRequest()
	del.Version = 6
	for _, e := range []struct {
		name *string
		id   [16]byte
	}{{nil, id}, {kmsg.StringPtr("t-byid"), [16]byte{}}} {
		dt := kmsg.NewDeleteTopicsRequestTopic()
		dt.Topic, dt.TopicID = e.name, e.id
		del.Topics = append(del.Topics, dt)
	}
	resp = rawRequest(t, b, del).(*kmsg.DeleteTopicsResponse)
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != kerr.InvalidRequest.Code || resp.Topics[0].TopicID != id ||
		resp.Topics[0].Topic == nil || *resp.Topics[0].Topic != "t-byid" {
		t.Fatalf("name and id of one topic: %+v", resp.Topics)
	}
	if b.node.Controller().State().Topics["t-byid"] == nil {
		t.Fatal("a delete by name and id deleted the topic")
	}
	del = kmsg.NewPtrDeleteTopicsRequest()
	del.Version = 6
	dt := kmsg.NewDeleteTopicsRequestTopic()
	dt.TopicID = id
	del.Topics = append(del.Topics, dt)
	if resp := rawRequest(t, b, del).(*kmsg.DeleteTopicsResponse); resp.Topics[0].ErrorCode != 0 || resp.Topics[0].Topic == nil || *resp.Topics[0].Topic != "t-byid" {
		t.Fatalf("delete by id: %+v", resp.Topics[0])
	}
	waitFor(t, func() bool {
		_, err := os.Stat(dir)
		return os.IsNotExist(err) && b.node.Partition("t-byid", 0) == nil
	}, "deleted topics' data removed from disk")
	// The name can be reused at once, with a fresh, empty log.
	createTopic(t, cl, "t-default", 1, nil)
	if hw := b.node.Partition("t-default", 0).HighWatermark(); hw != 0 {
		t.Fatalf("recreated topic has high watermark %d", hw)
	}
}

func TestMetadataAutoCreate(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		b := startBroker(t, t.TempDir(), func(c *Config) { c.AutoCreateTopics = enabled; c.NumPartitions = 2 })
		req := kmsg.NewPtrMetadataRequest()
		req.Version = 10
		req.AllowAutoTopicCreation = true
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr("auto")
		req.Topics = append(req.Topics, mt)
		resp := rawRequest(t, b, req).(*kmsg.MetadataResponse)
		top := resp.Topics[0]
		if enabled {
			if top.ErrorCode != 0 || len(top.Partitions) != 2 || top.Partitions[0].Leader != b.node.ID() || top.TopicID == ([16]byte{}) {
				t.Fatalf("auto-created topic: %+v", top)
			}
		} else if top.ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("auto-create disabled: %v", kerr.ErrorForCode(top.ErrorCode))
		}
		if len(resp.Brokers) != 1 || resp.ControllerID != b.node.ID() || resp.ClusterID == nil {
			t.Fatalf("brokers/controller/cluster: %+v", resp)
		}
		b.Close()
	}
}

// TestDeleteTopicDisabled: with delete.topic.enable=false every entry of a
// DeleteTopics is refused, TOPIC_DELETION_DISABLED from v3 and
// INVALID_REQUEST before, and the topic and its data stay.
func TestDeleteTopicDisabled(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) { c.DeleteTopicEnable = false })
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "keep", 1, nil)
	if rp := produceRaw(t, cl, "keep", 0, -1, encodeBatch(1000, -1, -1, -1, values(2, "k"))); rp.ErrorCode != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(rp.ErrorCode))
	}
	for _, v := range []int16{2, 3, 6} {
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.Version, req.TimeoutMillis = v, 5000
		if v >= 6 {
			for _, name := range []string{"keep", "nosuch"} {
				dt := kmsg.NewDeleteTopicsRequestTopic()
				dt.Topic = kmsg.StringPtr(name)
				req.Topics = append(req.Topics, dt)
			}
		} else {
			req.TopicNames = []string{"keep", "nosuch"}
		}
		want := kerr.TopicDeletionDisabled.Code
		if v < 3 {
			want = kerr.InvalidRequest.Code
		}
		resp := rawRequest(t, b, req).(*kmsg.DeleteTopicsResponse)
		if len(resp.Topics) != 2 {
			t.Fatalf("v%d: %d answers, want 2", v, len(resp.Topics))
		}
		for _, rt := range resp.Topics {
			if rt.ErrorCode != want {
				t.Errorf("v%d %s: %v, want %v", v, *rt.Topic, kerr.ErrorForCode(rt.ErrorCode), kerr.ErrorForCode(want))
			}
		}
	}
	if p := b.node.Partition("keep", 0); p == nil || p.HighWatermark() != 2 {
		t.Fatalf("topic keep lost its partition or data")
	}
}

// TestCreateTopicsHeldToFileLimit: partitions this node could not open the
// files of are refused (POLICY_VIOLATION, naming the limit), validate-only
// or not, and by CreatePartitions too, instead of leaving the node out of
// files: clients could no longer connect and partitions not start.
func TestCreateTopicsHeldToFileLimit(t *testing.T) {
	if _, _, ok := openFiles(); !ok {
		t.Skip("open files cannot be counted here")
	}
	_, limit, _ := openFiles()
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	n := int32(min(limit/filesPerPartition+1, 1<<30))
	for _, validate := range []bool{true, false} {
		resp := request[*kmsg.CreateTopicsResponse](t, cl, createReq("toomany", n, 1, validate, nil))
		if rt := resp.Topics[0]; rt.ErrorCode != kerr.PolicyViolation.Code || rt.ErrorMessage == nil || !strings.Contains(*rt.ErrorMessage, "open files") {
			t.Fatalf("validate %v: %d partitions: %v %v, want POLICY_VIOLATION about open files", validate, n, kerr.ErrorForCode(rt.ErrorCode), rt.ErrorMessage)
		}
	}
	if b.node.Controller().State().Topics["toomany"] != nil {
		t.Fatal("the refused topic exists")
	}
	createTopic(t, cl, "few", 1, nil)
	cp := kmsg.NewPtrCreatePartitionsRequest()
	cp.TimeoutMillis = 5000
	ct := kmsg.NewCreatePartitionsRequestTopic()
	ct.Topic, ct.Count = "few", n
	cp.Topics = append(cp.Topics, ct)
	if rt := request[*kmsg.CreatePartitionsResponse](t, cl, cp).Topics[0]; rt.ErrorCode != kerr.PolicyViolation.Code {
		t.Fatalf("CreatePartitions to %d: %v, want POLICY_VIOLATION", n, kerr.ErrorForCode(rt.ErrorCode))
	}
	if got := len(b.node.Controller().State().Topics["few"].Replicas); got != 1 {
		t.Fatalf("topic few has %d partitions after the refused growth", got)
	}
}

// A partition count or index is only a number in the request: the broker
// must refuse huge ones as Kafka does, before it allocates anything for
// them (2,000,000,000 partitions once ran it out of memory).
func TestCreateHugePartitionCounts(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) { c.NumPartitions = 6000 })
	defer b.Close()
	cl := newClient(t, b)
	codes := func(resp *kmsg.CreateTopicsResponse) []int16 {
		var out []int16
		for _, rt := range resp.Topics {
			out = append(out, rt.ErrorCode)
		}
		return out
	}
	two := func(a, b *kmsg.CreateTopicsRequest) *kmsg.CreateTopicsRequest {
		a.Topics = append(a.Topics, b.Topics...)
		return a
	}
	assign := func(name string, parts ...int32) *kmsg.CreateTopicsRequest {
		req := createReq(name, -1, -1, false, nil)
		for _, p := range parts {
			a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			a.Partition, a.Replicas = p, []int32{b.cfg.NodeID}
			req.Topics[0].ReplicaAssignment = append(req.Topics[0].ReplicaAssignment, a)
		}
		return req
	}
	policy, badAssign := kerr.PolicyViolation.Code, kerr.InvalidReplicaAssignment.Code
	// The cap passes, unless this process's file limit cannot hold that
	// many partitions (checkFiles).
	capWant := int16(0)
	if checkFiles(10_000, false) != nil {
		capWant = policy
	}
	for _, tc := range []struct {
		name string
		req  *kmsg.CreateTopicsRequest
		want []int16
	}{
		{"two billion", createReq("huge", 2_000_000_000, 1, false, nil), []int16{policy}},
		{"two billion, validate only", createReq("huge", 2_000_000_000, 1, true, nil), []int16{policy}},
		{"the cap, validate only", createReq("cap", 10_000, 1, true, nil), []int16{capWant}},
		{"over the cap in two topics", two(createReq("a", 5_000, 1, true, nil), createReq("b", 5_001, 1, true, nil)), []int16{policy, policy}},
		{"defaults count", two(createReq("a", -1, -1, true, nil), createReq("b", -1, -1, true, nil)), []int16{policy, policy}},
		{"duplicates do not count", two(createReq("a", 9_000, 1, true, nil), createReq("a", 9_000, 1, true, nil)), []int16{kerr.InvalidRequest.Code}}, // answered once
		{"assignment index two billion", assign("x", 2_000_000_000), []int16{badAssign}},
		{"negative assignment index", assign("x", -1), []int16{badAssign}},
		{"assignment with a gap", assign("x", 0, 2), []int16{badAssign}},
		{"partition assigned twice", assign("x", 0, 0), []int16{badAssign}},
		{"assignment out of order", assign("x", 1, 0), []int16{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := codes(request[*kmsg.CreateTopicsResponse](t, cl, tc.req))
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("codes %v, want %v", got, tc.want)
			}
		})
	}
	if n := len(b.node.Controller().State().Topics["x"].Replicas); n != 2 {
		t.Fatalf("topic x has %d partitions, want 2", n)
	}

	createTopic(t, cl, "grow", 1, nil)
	cp := func(topics ...string) []int16 {
		req := kmsg.NewPtrCreatePartitionsRequest()
		req.TimeoutMillis = 5000
		for _, name := range topics {
			rt := kmsg.NewCreatePartitionsRequestTopic()
			rt.Topic, rt.Count = name, 2_000_000_000
			if name == "grow" {
				rt.Count = 2
			}
			req.Topics = append(req.Topics, rt)
		}
		var out []int16
		for _, rt := range request[*kmsg.CreatePartitionsResponse](t, cl, req).Topics {
			out = append(out, rt.ErrorCode)
		}
		return out
	}
	if got := cp("x", "grow"); fmt.Sprint(got) != fmt.Sprint([]int16{policy, policy}) {
		t.Fatalf("create partitions to two billion: %v", got)
	}
	if got := cp("grow", "grow"); fmt.Sprint(got) != fmt.Sprint([]int16{kerr.InvalidRequest.Code}) {
		t.Fatalf("topic twice: %v", got)
	}
	if got := cp("grow"); got[0] != 0 {
		t.Fatalf("grow to 2: %v", kerr.ErrorForCode(got[0]))
	}
}

// nullConfigReq asks for topic name with a null value for config key.
func nullConfigReq(name, key string) *kmsg.CreateTopicsRequest {
	req := createReq(name, 1, 1, false, nil)
	c := kmsg.NewCreateTopicsRequestTopicConfig()
	c.Name = key
	req.Topics[0].Configs = append(req.Topics[0].Configs, c)
	return req
}

// Kafka's reserved names: __cluster_metadata cannot be created
// (INVALID_REQUEST); __transaction_state, whoever creates it, is an
// internal topic: flagged in Metadata and closed to produce.
func TestReservedTopicNames(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	req := kmsg.NewPtrCreateTopicsRequest()
	for _, name := range []string{"__cluster_metadata", "__transaction_state"} {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
		req.Topics = append(req.Topics, rt)
	}
	resp := request[*kmsg.CreateTopicsResponse](t, cl, req)
	if code := resp.Topics[0].ErrorCode; code != kerr.InvalidRequest.Code {
		t.Errorf("__cluster_metadata: %v, want INVALID_REQUEST", kerr.ErrorForCode(code))
	}
	if code := resp.Topics[1].ErrorCode; code != 0 {
		t.Fatalf("__transaction_state: %v", kerr.ErrorForCode(code))
	}
	if mt := request[*kmsg.MetadataResponse](t, cl, metadataReq(false, "__transaction_state")).Topics[0]; !mt.IsInternal {
		t.Error("__transaction_state is not internal in Metadata")
	}
	if got := produceRaw(t, cl, "__transaction_state", 0, -1, encodeBatch(1700000000000, -1, -1, -1, values(1, "x"))); got.ErrorCode != kerr.InvalidTopicException.Code {
		t.Errorf("produce to __transaction_state: %v, want INVALID_TOPIC_EXCEPTION", kerr.ErrorForCode(got.ErrorCode))
	}
}

// A topic made compact-only is created (tools and clients expect to), and
// the log warns that it will not be compacted, so keeps every record.
func TestCompactTopicWarns(t *testing.T) {
	var logs *testlog.Buffer
	b := startBroker(t, t.TempDir(), func(c *Config) { logs = logTo(c) })
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "plain", 1, nil)
	createTopic(t, cl, "compacted", 1, map[string]string{"cleanup.policy": "compact"})
	warned := func() []string {
		var w []string
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "compaction is not performed yet") {
				w = append(w, l)
			}
		}
		return w
	}
	if w := warned(); len(w) != 1 || !strings.Contains(w[0], "topic=compacted") {
		t.Fatalf("want one warning, for the compacted topic: %q", w)
	}

	// A topic altered to compact-only warns once, when it becomes so.
	alter := func(k, v string) {
		if code := alterConfig(t, cl, kmsg.ConfigResourceTypeTopic, "plain", k, v); code != 0 {
			t.Fatalf("alter %s=%s: %v", k, v, kerr.ErrorForCode(code))
		}
	}
	alter("cleanup.policy", "compact")
	alter("retention.ms", "1000")
	if w := warned(); len(w) != 2 || !strings.Contains(w[1], "topic=plain") {
		t.Fatalf("want a second warning, for the altered topic, and no third: %q", w)
	}
}

// The files kept for connections leave room for partitions under any limit.
func TestFileReserve(t *testing.T) {
	for _, tc := range []struct{ limit, want int }{{1024, 512}, {4096, 1024}, {20000, 2000}, {1 << 20, 1 << 20 / 10}} {
		if got := fileReserve(tc.limit); got != tc.want {
			t.Errorf("limit %d: reserve %d, want %d", tc.limit, got, tc.want)
		}
	}
}

// A manual assignment's errors carry Kafka's messages.
func TestCreateTopicsAssignmentMessages(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	me := b.cfg.NodeID
	for _, tc := range []struct {
		replicas [][]int32
		want     string
	}{
		{[][]int32{{me + 4}}, fmt.Sprintf("The manual partition assignment includes broker %d, but no such broker is registered.", me+4)},
		{[][]int32{{me, me}}, fmt.Sprintf("The manual partition assignment includes the broker %d more than once.", me)},
		{[][]int32{{me}, {}}, "The manual partition assignment includes an empty replica list."},
	} {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 5000
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "assigned", -1, -1
		for i, reps := range tc.replicas {
			a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
			a.Partition, a.Replicas = int32(i), reps
			rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
		}
		req.Topics = append(req.Topics, rt)
		got := request[*kmsg.CreateTopicsResponse](t, cl, req).Topics[0]
		if got.ErrorCode != kerr.InvalidReplicaAssignment.Code || got.ErrorMessage == nil || *got.ErrorMessage != tc.want {
			t.Errorf("%v: %v %v, want INVALID_REPLICA_ASSIGNMENT %q", tc.replicas, kerr.ErrorForCode(got.ErrorCode), got.ErrorMessage, tc.want)
		}
	}
}

// TestCreateTopicsErrorMessages: the messages of an existing topic and of a
// replication factor above the brokers are Kafka's (ReplicationControlManager,
// StripedReplicaPlacer), as kafka-topics and librdkafka show them.
func TestCreateTopicsErrorMessages(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	create := func(name string, rf int16) kmsg.CreateTopicsResponseTopic {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 5000
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, rf
		req.Topics = append(req.Topics, rt)
		return request[*kmsg.CreateTopicsResponse](t, cl, req).Topics[0]
	}
	if got := create("exists", 1); got.ErrorCode != 0 {
		t.Fatalf("create: %v", kerr.ErrorForCode(got.ErrorCode))
	}
	for _, tc := range []struct {
		name string
		rf   int16
		code *kerr.Error
		want string
	}{
		{"exists", 1, kerr.TopicAlreadyExists, "Topic 'exists' already exists."},
		{"too-many-replicas", 3, kerr.InvalidReplicationFactor,
			"Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot be reached because only 1 broker(s) are registered."},
	} {
		got := create(tc.name, tc.rf)
		if got.ErrorCode != tc.code.Code || got.ErrorMessage == nil || *got.ErrorMessage != tc.want {
			t.Errorf("%s rf %d: %v %v, want %v %q", tc.name, tc.rf, kerr.ErrorForCode(got.ErrorCode), got.ErrorMessage, tc.code, tc.want)
		}
	}
}

// A CreateTopics request is answered within its timeout_ms, as Kafka's
// controller answers it: topics whose turn comes after it are answered
// REQUEST_TIMED_OUT and not created, so a client does not give up on the
// request, retry it, and find its own topics already there.
func TestCreateTopicsHonoursTimeout(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b, kgo.RequestTimeoutOverhead(2*time.Minute))
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 200
	for i := range 600 {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = fmt.Sprintf("many-%03d", i), 1, 1
		req.Topics = append(req.Topics, rt)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	kresp, err := cl.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	st := b.node.Controller().State()
	var created, timedOut int
	for _, rt := range kresp.(*kmsg.CreateTopicsResponse).Topics {
		switch _, exists := st.Topics[rt.Topic]; {
		case rt.ErrorCode == 0 && exists:
			created++
		case rt.ErrorCode == kerr.RequestTimedOut.Code && !exists:
			timedOut++
		default:
			t.Errorf("%s: %v, exists: %v", rt.Topic, kerr.ErrorForCode(rt.ErrorCode), exists)
		}
	}
	if created == 0 || timedOut == 0 || took > 5*time.Second {
		t.Errorf("created %d and timed out %d of 600 topics in %v, want some of each, answered near the 200 ms timeout", created, timedOut, took)
	}
}

// TestCheckFilesCountsWhatItLetsIn: the open-file count is read again only
// now and then, so the partitions checkFiles lets in (take) count against
// the limit until then; a check alone (validate-only) takes nothing.
func TestCheckFilesCountsWhatItLetsIn(t *testing.T) {
	open, limit, ok := openFiles()
	if !ok {
		t.Skip("open files cannot be counted here")
	}
	fileCount.Lock()
	fileCount.at = time.Time{} // count afresh at the next check
	fileCount.Unlock()
	room := (limit-fileReserve(limit)-open)/filesPerPartition - 64 // some slack for other files
	if room < 400 {
		t.Skipf("limit %d leaves too little room to test with %d files open", limit, open)
	}
	half := room * 2 / 3 // twice is past the room and the slack
	if err := checkFiles(half, false); err != nil {
		t.Fatalf("checking %d partitions with room for %d: %v", half, room, err)
	}
	if err := checkFiles(half, true); err != nil {
		t.Fatalf("taking %d partitions with room for %d: %v", half, room, err)
	}
	if err := checkFiles(half, false); err == nil {
		t.Fatalf("%d more partitions let in after %d of the room for about %d were taken", half, half, room)
	}
	filesStarted(half)
	fileCount.Lock()
	fileCount.at = time.Time{} // nothing was opened: a recount gives the room back
	fileCount.Unlock()
	if err := checkFiles(half, false); err != nil {
		t.Fatalf("after a recount: %v", err)
	}
}

// TestCheckFilesCountsStartingPartitions: partitions let in and still
// starting hold some of their files, or none, so the open files are not
// counted again until their creation says they have started. A recount
// used to forget them: a CreateTopics of 64 topics of 4
// partitions, created 16 at a time, under a limit of 1024 files let in 140
// partitions where there was room for 99.
func TestCheckFilesCountsStartingPartitions(t *testing.T) {
	open, limit, ok := openFiles()
	if !ok {
		t.Skip("open files cannot be counted here")
	}
	room := (limit-fileReserve(limit)-open)/filesPerPartition - 64 // some slack for other files
	if room < 400 {
		t.Skipf("limit %d leaves too little room to test with %d files open", limit, open)
	}
	recount := func() {
		fileCount.Lock()
		fileCount.at = time.Time{}
		fileCount.Unlock()
	}
	recount()
	half := room * 2 / 3 // twice is past the room and the slack
	if err := checkFiles(half, true); err != nil {
		t.Fatalf("taking %d partitions with room for %d: %v", half, room, err)
	}
	recount() // not while they start: their files are not open yet
	if err := checkFiles(half, false); err == nil {
		t.Fatalf("%d more partitions let in after a recount while %d of the room for about %d were starting", half, half, room)
	}
	filesStarted(half)
	recount() // started holding nothing: the room is back
	if err := checkFiles(half, false); err != nil {
		t.Fatalf("once they started: %v", err)
	}
}

// BenchmarkCreateTopics creates 100 topics of one partition in one
// CreateTopics request, each returning once it leads, as kadm and
// kafka-topics send a bulk creation.
func BenchmarkCreateTopics(b *testing.B) {
	br := startBroker(b, b.TempDir(), nil)
	defer br.Close()
	cl := newClient(b, br)
	const n = 100
	for i := 0; b.Loop(); i++ {
		createMany(b, cl, fmt.Sprintf("bench-%d", i), n)
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*n), "ms/topic")
}

// createMany creates one-partition topics prefix-0 to prefix-(n-1) in one
// CreateTopics request and returns their names.
func createMany(t testing.TB, cl *kgo.Client, prefix string, n int) []string {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 60_000
	var names []string
	for j := range n {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = fmt.Sprintf("%s-%d", prefix, j), 1, 1
		req.Topics = append(req.Topics, rt)
		names = append(names, rt.Topic)
	}
	for _, rt := range request[*kmsg.CreateTopicsResponse](t, cl, req).Topics {
		if rt.ErrorCode != 0 {
			t.Fatalf("%s: %v", rt.Topic, kerr.ErrorForCode(rt.ErrorCode))
		}
	}
	return names
}

// TestCreateTopicsManyInOneRequest: the topics of one request are created
// several at a time, yet answered in the request's order, each usable once
// answered, and of two names that collide once '.' and '_' are one the
// first asked is created, as one at a time.
func TestCreateTopicsManyInOneRequest(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "old", 1, nil)
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 60_000
	want := map[string]int16{}
	add := func(name string, parts int32, code int16) {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, parts, 1
		req.Topics = append(req.Topics, rt)
		want[name] = code
	}
	add("old", 1, kerr.TopicAlreadyExists.Code)
	for i := range 30 {
		add(fmt.Sprintf("pair.%02d", i), 1, 0)
		add(fmt.Sprintf("solo-%02d", i), int32(1+i%3), 0)
		add(fmt.Sprintf("pair_%02d", i), 1, kerr.InvalidTopicException.Code)
	}
	add("bad/name", 1, kerr.InvalidTopicException.Code)
	resp := request[*kmsg.CreateTopicsResponse](t, cl, req)
	if len(resp.Topics) != len(req.Topics) {
		t.Fatalf("%d answers to %d topics", len(resp.Topics), len(req.Topics))
	}
	st := b.node.Controller().State()
	for i, rt := range resp.Topics {
		name := req.Topics[i].Topic
		if rt.Topic != name {
			t.Fatalf("answer %d names %s, want %s (the request's order)", i, rt.Topic, name)
		}
		if rt.ErrorCode != want[name] {
			t.Errorf("%s: %v, want %v", name, kerr.ErrorForCode(rt.ErrorCode), kerr.ErrorForCode(want[name]))
			continue
		}
		if rt.ErrorCode != 0 || name == "old" {
			if name != "old" && st.Topics[name] != nil {
				t.Errorf("%s was refused but exists", name)
			}
			continue
		}
		for p := range req.Topics[i].NumPartitions {
			if pt := b.node.Partition(name, p); pt == nil || !pt.Ready() {
				t.Errorf("%s-%d does not lead once answered", name, p)
			}
		}
	}
}

// BenchmarkCreateTopicAmong creates one topic at a time, each in its
// own CreateTopics request, on a node already holding none or 2,000
// topics: what a topic costs once a cluster has many.
func BenchmarkCreateTopicAmong(b *testing.B) {
	for _, held := range []int{0, 2000} {
		b.Run(fmt.Sprint(held), func(b *testing.B) {
			br := startBroker(b, b.TempDir(), nil)
			defer br.Close()
			cl := newClient(b, br)
			for i := range held / 100 {
				createMany(b, cl, fmt.Sprintf("base-%d", i), 100)
			}
			for i := 0; b.Loop(); i++ {
				createTopic(b, cl, fmt.Sprintf("bench-%d", i), 1, nil)
			}
		})
	}
}

// A topic's errors are checked in the order of Kafka's controller
// (ReplicationControlManager.createTopics, then createTopic): its name, its
// existence, its configs, then partitions and replication factor against a
// manual assignment, then each assignment as given, then their indexes. So
// an existing topic is TOPIC_ALREADY_EXISTS whatever else is wrong.
func TestCreateTopicsValidationOrder(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "exists", 1, nil)
	me := b.cfg.NodeID
	topic := func(name string, parts int32, rf int16, assign map[int32][]int32, cfg ...*string) kmsg.CreateTopicsRequestTopic {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, parts, rf
		for p := range int32(len(assign) + 2) {
			if reps, ok := assign[p]; ok {
				a := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
				a.Partition, a.Replicas = p, reps
				rt.ReplicaAssignment = append(rt.ReplicaAssignment, a)
			}
		}
		for i := 0; i+1 < len(cfg); i += 2 {
			c := kmsg.NewCreateTopicsRequestTopicConfig()
			c.Name, c.Value = *cfg[i], cfg[i+1]
			rt.Configs = append(rt.Configs, c)
		}
		return rt
	}
	s := kmsg.StringPtr
	for _, tc := range []struct {
		what string
		rt   kmsg.CreateTopicsRequestTopic
		code *kerr.Error
		msg  string // "": not checked
	}{
		{"exists, with partitions and an assignment", topic("exists", 10, 3, map[int32][]int32{0: {me}}), kerr.TopicAlreadyExists, "Topic 'exists' already exists."},
		{"exists, with a gap in its assignment", topic("exists", -1, -1, map[int32][]int32{0: {me}, 2: {me}}), kerr.TopicAlreadyExists, ""},
		{"exists, with a null config", topic("exists", 1, 1, nil, s("retention.ms"), nil), kerr.TopicAlreadyExists, ""},
		{"bad name, with partitions and an assignment", topic("bad/name", 10, 3, map[int32][]int32{0: {me}}), kerr.InvalidTopicException, ""},
		{"bad config, with partitions and an assignment", topic("new-1", 10, 3, map[int32][]int32{0: {me}}, s("not.a.property"), s("x")), kerr.InvalidConfig, ""},
		{"null configs, all named", topic("new-2", 1, 1, nil, s("retention.ms"), nil, s("segment.bytes"), nil), kerr.InvalidConfig,
			"Null value not supported for topic configs: retention.ms,segment.bytes"},
		{"replication factor with an assignment", topic("new-3", 10, 3, map[int32][]int32{0: {me}}), kerr.InvalidRequest,
			"A manual partition assignment was specified, but replication factor was not set to -1."},
		{"partitions with an assignment", topic("new-4", 10, -1, map[int32][]int32{0: {me}}), kerr.InvalidRequest,
			"A manual partition assignment was specified, but numPartitions was not set to -1."},
		{"an assignment's replicas before the indexes", topic("new-5", -1, -1, map[int32][]int32{0: {me}, 2: {me, me}}), kerr.InvalidReplicaAssignment,
			fmt.Sprintf("The manual partition assignment includes the broker %d more than once.", me)},
		{"replicas checked in broker order", topic("new-6", -1, -1, map[int32][]int32{0: {me + 4, me, me}}), kerr.InvalidReplicaAssignment,
			fmt.Sprintf("The manual partition assignment includes the broker %d more than once.", me)},
	} {
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 5000
		req.Topics = append(req.Topics, tc.rt)
		got := request[*kmsg.CreateTopicsResponse](t, cl, req).Topics[0]
		if got.ErrorCode != tc.code.Code || tc.msg != "" && (got.ErrorMessage == nil || *got.ErrorMessage != tc.msg) {
			t.Errorf("%s: %v %q, want %v %q", tc.what, kerr.ErrorForCode(got.ErrorCode), deref(got.ErrorMessage), tc.code, tc.msg)
		}
	}
}
