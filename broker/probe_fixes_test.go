package broker

import (
	"slices"
	"testing"

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
