package broker

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
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
		{"bad name", createReq("bad/name", 1, 1, false, nil), kerr.InvalidTopicException, -1},
		{"unknown config", createReq("t-cfg", 1, 1, false, map[string]string{"no.such.key": "1"}), kerr.InvalidConfig, -1},
		{"bad config value", createReq("t-cfg", 1, 1, false, map[string]string{"retention.ms": "soon"}), kerr.InvalidConfig, -1},
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
