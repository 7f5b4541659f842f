package broker

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gokafka/gokafka/internal/testlog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func metadataReq(autoCreate bool, names ...string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = autoCreate
	for _, n := range names {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// Auto-creation answers each name for what it is: created and led, invalid,
// colliding with an existing topic once '.' and '_' are one (INVALID_TOPIC,
// as creating it would be, and nothing created), or unknown when
// auto-creation is not asked for.
func TestMetadataAutoCreateNames(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "a.b_c", 1, nil)

	resp := request[*kmsg.MetadataResponse](t, cl, metadataReq(true, "fresh", "bad/name", "a_b.c", "a.b_c"))
	want := map[string]error{"fresh": nil, "bad/name": kerr.InvalidTopicException, "a_b.c": kerr.InvalidTopicException, "a.b_c": nil}
	if len(resp.Topics) != len(want) {
		t.Fatalf("%d topics in the answer, want %d", len(resp.Topics), len(want))
	}
	for _, mt := range resp.Topics {
		name := *mt.Topic
		if err := kerr.ErrorForCode(mt.ErrorCode); err != want[name] {
			t.Errorf("%s: %v, want %v", name, err, want[name])
		}
		if want[name] == nil && (len(mt.Partitions) != 1 || mt.Partitions[0].Leader != b.node.ID()) {
			t.Errorf("%s: partitions %+v, want one led by this node", name, mt.Partitions)
		}
	}
	if _, ok := b.node.Controller().State().Topics["a_b.c"]; ok {
		t.Error("the colliding name was created")
	}

	// Many new names at once (created side by side): each answered once and
	// led; of two new names that collide, the first asked is created.
	names := []string{"dup", "x.y", "dup", "x_y"}
	for i := range 30 {
		names = append(names, fmt.Sprintf("many-%d", i))
	}
	resp = request[*kmsg.MetadataResponse](t, cl, metadataReq(true, names...))
	if len(resp.Topics) != len(names)-1 {
		t.Fatalf("%d topics in the answer, want %d", len(resp.Topics), len(names)-1)
	}
	for i, mt := range resp.Topics {
		name, want := *mt.Topic, error(nil)
		if name == "x_y" {
			want = kerr.InvalidTopicException
		}
		if err := kerr.ErrorForCode(mt.ErrorCode); err != want {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
		if wantName := names[i+min(i/2, 1)]; i < 3 && name != wantName {
			t.Errorf("answer %d is %s, want %s (request order, the duplicate once)", i, name, wantName)
		}
		if want == nil && (len(mt.Partitions) != 1 || mt.Partitions[0].Leader != b.node.ID()) {
			t.Errorf("%s: partitions %+v, want one led by this node", name, mt.Partitions)
		}
	}

	resp = request[*kmsg.MetadataResponse](t, cl, metadataReq(false, "not-asked"))
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != kerr.UnknownTopicOrPartition {
		t.Errorf("not-asked without auto-creation: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
}

// Metadata v10 and v11 carry a topic id field but do not take ids: as Kafka,
// a request giving one (or a null name) is answered INVALID_REQUEST for
// every topic; v12 looks the id up, and answers by ids alone.
func TestMetadataTopicIDVersions(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "ids", 1, nil)
	id := b.node.Controller().State().Topics["ids"].ID
	for _, v := range []int16{10, 11, 12} {
		req := metadataReq(false, "ids")
		req.Version = v
		byID := kmsg.NewMetadataRequestTopic()
		byID.TopicID = id
		req.Topics = append(req.Topics, byID)
		resp := rawRequest(t, b, req).(*kmsg.MetadataResponse)
		if want := map[bool]int{false: 2, true: 1}[v >= 12]; len(resp.Topics) != want {
			t.Fatalf("v%d: %d topics answered, want %d", v, len(resp.Topics), want)
		}
		for _, mt := range resp.Topics {
			var want error = kerr.InvalidRequest
			if v >= 12 {
				want = nil
			}
			if err := kerr.ErrorForCode(mt.ErrorCode); err != want {
				t.Errorf("v%d: topic %v: %v, want %v", v, mt.TopicID, err, want)
			}
			if v >= 12 && (mt.TopicID != id || len(mt.Partitions) != 1) {
				t.Errorf("v12: %+v, want topic ids with its partition", mt)
			}
		}
	}
	// By name alone, v11 serves as before.
	req := metadataReq(false, "ids")
	req.Version = 11
	if mt := rawRequest(t, b, req).(*kmsg.MetadataResponse).Topics[0]; mt.ErrorCode != 0 || len(mt.Partitions) != 1 {
		t.Fatalf("v11 by name: %+v", mt)
	}
}

// As Kafka (KafkaApis.handleTopicMetadataRequest), a v12+ request giving
// topic ids is answered by its ids alone, each once: its names are not
// answered, nor auto-created.
func TestMetadataByIDsAlone(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "ids", 1, nil)
	id := b.node.Controller().State().Topics["ids"].ID
	unknown := [16]byte{1, 2, 3}
	req := metadataReq(true, "ids", "not-by-id")
	req.Version = 12
	for _, tid := range [][16]byte{id, id, unknown, unknown} {
		rt := kmsg.NewMetadataRequestTopic()
		rt.TopicID = tid
		req.Topics = append(req.Topics, rt)
	}
	resp := rawRequest(t, b, req).(*kmsg.MetadataResponse)
	got := map[[16]byte]int16{}
	for _, mt := range resp.Topics {
		if _, dup := got[mt.TopicID]; dup {
			t.Errorf("topic id %v answered twice", mt.TopicID)
		}
		got[mt.TopicID] = mt.ErrorCode
	}
	if len(resp.Topics) != 2 || got[id] != 0 || got[unknown] != kerr.UnknownTopicID.Code {
		t.Errorf("answered %d topics (%v), want the topic once and the unknown id once, UNKNOWN_TOPIC_ID", len(resp.Topics), got)
	}
	if _, ok := b.node.Controller().State().Topics["not-by-id"]; ok {
		t.Error("a name in a request by ids was auto-created")
	}
}

// A client asking Metadata to auto-create a name it may not (an internal
// topic's) is its own mistake: no warning in the broker's log.
func TestAutoCreateRefusedQuietly(t *testing.T) {
	var logs *testlog.Buffer
	b := startBroker(t, t.TempDir(), func(c *Config) { logs = logTo(c) })
	defer b.Close()
	cl := newClient(t, b)
	resp := request[*kmsg.MetadataResponse](t, cl, metadataReq(true, "__cluster_metadata"))
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode == 0 {
		t.Fatalf("auto-created __cluster_metadata: %+v", resp.Topics)
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("a client's refused auto-creation logged a warning:\n%s", logs.String())
	}
}

// TestMetadataAutoCreateCapped: as Kafka's controller refuses a CreateTopics
// of more than 10,000 partitions, one Metadata request that would
// auto-create more is refused whole and creates nothing (each name answered
// UNKNOWN_TOPIC_OR_PARTITION, as Kafka answers what its controller did not
// create); within the cap it creates them all.
func TestMetadataAutoCreateCapped(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) { c.NumPartitions = 2 })
	defer b.Close()
	var names []string
	for i := range 5001 {
		names = append(names, fmt.Sprintf("auto-%05d", i))
	}
	req := metadataReq(true, names...)
	req.Version = 9
	resp := rawRequest(t, b, req).(*kmsg.MetadataResponse)
	for _, mt := range resp.Topics {
		if mt.ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Fatalf("%s: %v, want UNKNOWN_TOPIC_OR_PARTITION", *mt.Topic, kerr.ErrorForCode(mt.ErrorCode))
		}
	}
	if n := len(b.node.Controller().State().Topics); n != 0 {
		t.Fatalf("%d topics created", n)
	}
	req = metadataReq(true, names[:3]...)
	req.Version = 9
	for _, mt := range rawRequest(t, b, req).(*kmsg.MetadataResponse).Topics {
		if mt.ErrorCode != 0 || len(mt.Partitions) != 2 {
			t.Fatalf("%s within the cap: %v with %d partitions", *mt.Topic, kerr.ErrorForCode(mt.ErrorCode), len(mt.Partitions))
		}
	}
}

// broker.rack is given to clients in Metadata and DescribeCluster, and a
// restart with another rack registers the new one.
func TestBrokerRack(t *testing.T) {
	dir := t.TempDir()
	for _, rack := range []string{"rack-a", "rack-b", ""} {
		b := startBroker(t, dir, func(c *Config) {
			if err := c.Set("broker.rack", rack); err != nil {
				t.Fatal(err)
			}
		})
		cl := newClient(t, b)
		md := request[*kmsg.MetadataResponse](t, cl, kmsg.NewPtrMetadataRequest())
		dc := request[*kmsg.DescribeClusterResponse](t, cl, kmsg.NewPtrDescribeClusterRequest())
		cl.Close()
		b.Close()
		if len(md.Brokers) != 1 || len(dc.Brokers) != 1 {
			t.Fatalf("brokers: metadata %d, describe cluster %d", len(md.Brokers), len(dc.Brokers))
		}
		got := func(r *string) string {
			if r == nil {
				return ""
			}
			return *r
		}
		if m, d := got(md.Brokers[0].Rack), got(dc.Brokers[0].Rack); m != rack || d != rack {
			t.Errorf("rack %q: metadata %q, describe cluster %q", rack, m, d)
		}
	}
}

// The internal topics of coordinators this broker does not have yet
// (transactions, share groups) are not auto-created as ordinary topics: one
// would be sized wrong and, internal, could not be deleted. The client is
// told they are unknown, as Kafka's failed creation of them leaves it.
func TestMetadataDoesNotAutoCreateOtherInternalTopics(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	resp := request[*kmsg.MetadataResponse](t, cl, metadataReq(true, "__transaction_state", "__share_group_state", "ordinary"))
	for _, mt := range resp.Topics {
		var want error = kerr.UnknownTopicOrPartition
		if *mt.Topic == "ordinary" {
			want = nil
		}
		if err := kerr.ErrorForCode(mt.ErrorCode); err != want {
			t.Errorf("%s: %v, want %v", *mt.Topic, err, want)
		}
	}
	for _, name := range []string{"__transaction_state", "__share_group_state"} {
		if _, ok := b.node.Controller().State().Topics[name]; ok {
			t.Errorf("%s was auto-created", name)
		}
	}
}
