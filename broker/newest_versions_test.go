package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// notNewest lists the keys whose newest version kmsg knows is not
// implemented, and why. Every other key is offered up to kmsg's newest.
var notNewest = map[int16]string{
	66: "ListTransactions v2 filters by a Java regular expression, which Go's regexp does not read alike",
}

// TestVersionsReachNewest holds ApiVersions to its promise: every key from
// the oldest version kmsg knows to the newest. A kmsg upgrade that brings
// new versions fails here until they are implemented or listed above.
func TestVersionsReachNewest(t *testing.T) {
	for key, r := range supportedVersions {
		req := kmsg.RequestForKey(key)
		if req == nil {
			t.Errorf("key %d: kmsg does not know it", key)
			continue
		}
		if r.Min != 0 {
			t.Errorf("%s: offered from v%d, not v0", kmsg.NameForKey(key), r.Min)
		}
		if why, ok := notNewest[key]; ok {
			if r.Max >= req.MaxVersion() {
				t.Errorf("%s reaches v%d, kmsg's newest: drop it from notNewest (%s)", kmsg.NameForKey(key), r.Max, why)
			}
			continue
		}
		if r.Max != req.MaxVersion() {
			t.Errorf("%s: offered up to v%d, kmsg knows v%d", kmsg.NameForKey(key), r.Max, req.MaxVersion())
		}
	}
}

// TestProduceByTopicID: Produce v13 names a topic by its id (Kafka 4.1);
// the answer names it the same way, and an id no topic has is
// UNKNOWN_TOPIC_ID.
func TestProduceByTopicID(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "byid", 2, nil)
	id := b.node.Controller().State().Topics["byid"].ID

	produce := func(tid [16]byte, part int32) kmsg.ProduceResponseTopic {
		req := kmsg.NewPtrProduceRequest()
		req.Version, req.Acks, req.TimeoutMillis = 13, -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.TopicID = tid
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = part
		rp.Records = encodeBatch(1000, -1, -1, -1, values(3, "v"))
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return rawRequest(t, b, req).(*kmsg.ProduceResponse).Topics[0]
	}
	for i, want := range []int64{0, 3} {
		got := produce(id, 1)
		if got.TopicID != id || got.Partitions[0].ErrorCode != 0 || got.Partitions[0].BaseOffset != want {
			t.Fatalf("produce %d: topic id %x, error %v, base offset %d; want %x, none, %d", i, got.TopicID, kerr.ErrorForCode(got.Partitions[0].ErrorCode), got.Partitions[0].BaseOffset, id, want)
		}
	}
	if hw := b.node.Partition("byid", 1).HighWatermark(); hw != 6 {
		t.Fatalf("byid-1 high watermark %d, want 6", hw)
	}
	if got := produce([16]byte{1, 2, 3}, 0); got.Partitions[0].ErrorCode != kerr.UnknownTopicID.Code || got.Partitions[0].BaseOffset != -1 {
		t.Fatalf("unknown id: error %v, base offset %d; want UNKNOWN_TOPIC_ID, -1", kerr.ErrorForCode(got.Partitions[0].ErrorCode), got.Partitions[0].BaseOffset)
	}
	if got := produce(id, 2); got.Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("partition 2 of 2: error %v, want UNKNOWN_TOPIC_OR_PARTITION", kerr.ErrorForCode(got.Partitions[0].ErrorCode))
	}
}

// TestOffsetsByTopicID: OffsetCommit and OffsetFetch v10 name topics by id
// (Kafka 4.2). Offsets committed by id read back by name and the other way
// round; an id no topic has is UNKNOWN_TOPIC_ID, each answer in the
// request's order.
func TestOffsetsByTopicID(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	offsetsTopicUp(t, b)
	cl := newClient(t, b)
	createTopic(t, cl, "oid", 2, nil)
	createTopic(t, cl, "oname", 1, nil)
	st := b.node.Controller().State()
	id, nameID := st.Topics["oid"].ID, st.Topics["oname"].ID
	unknown := [16]byte{9, 9, 9}

	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Version, commit.Group, commit.Generation = 10, "g-id", -1
	for _, tid := range [][16]byte{unknown, id} {
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.TopicID = tid
		for _, p := range []int32{0, 1, 5} {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset = p, 40+int64(p)
			rt.Partitions = append(rt.Partitions, rp)
		}
		commit.Topics = append(commit.Topics, rt)
	}
	cr := rawRequest(t, b, commit).(*kmsg.OffsetCommitResponse)
	wantCodes := [][]int16{
		{kerr.UnknownTopicID.Code, kerr.UnknownTopicID.Code, kerr.UnknownTopicID.Code},
		{0, 0, kerr.UnknownTopicOrPartition.Code},
	}
	for i, rt := range cr.Topics {
		if rt.TopicID != commit.Topics[i].TopicID {
			t.Fatalf("commit answer %d names topic %x, want %x", i, rt.TopicID, commit.Topics[i].TopicID)
		}
		for j, rp := range rt.Partitions {
			if rp.ErrorCode != wantCodes[i][j] {
				t.Errorf("commit %x-%d: %v, want %v", rt.TopicID, rp.Partition, kerr.ErrorForCode(rp.ErrorCode), kerr.ErrorForCode(wantCodes[i][j]))
			}
		}
	}
	// The same group, committed to by name at v9.
	byName := kmsg.NewPtrOffsetCommitRequest()
	byName.Version, byName.Group, byName.Generation = 9, "g-id", -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "oname"
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Offset = 7
	rt.Partitions = append(rt.Partitions, rp)
	byName.Topics = append(byName.Topics, rt)
	if code := rawRequest(t, b, byName).(*kmsg.OffsetCommitResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("commit by name: %v", kerr.ErrorForCode(code))
	}

	fetch := func(version int16, topics []kmsg.OffsetFetchRequestGroupTopic) kmsg.OffsetFetchResponseGroup {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = version
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group, g.Topics = "g-id", topics
		req.Groups = append(req.Groups, g)
		return rawRequest(t, b, req).(*kmsg.OffsetFetchResponse).Groups[0]
	}
	topic := func(name string, tid [16]byte, parts ...int32) kmsg.OffsetFetchRequestGroupTopic {
		ft := kmsg.NewOffsetFetchRequestGroupTopic()
		ft.Topic, ft.TopicID, ft.Partitions = name, tid, parts
		return ft
	}
	type got struct {
		offset int64
		code   int16
	}
	flatten := func(g kmsg.OffsetFetchResponseGroup, byID bool) map[string]got {
		out := map[string]got{}
		for _, ft := range g.Topics {
			key := ft.Topic
			if byID {
				key = string(ft.TopicID[:])
			}
			for _, fp := range ft.Partitions {
				out[key+string(rune('0'+fp.Partition))] = got{fp.Offset, fp.ErrorCode}
			}
		}
		return out
	}
	// By id: the id-committed and the name-committed offsets, and the
	// unknown id in its place.
	g := fetch(10, []kmsg.OffsetFetchRequestGroupTopic{topic("", nameID, 0), topic("", unknown, 0), topic("", id, 0, 1)})
	if g.ErrorCode != 0 || len(g.Topics) != 3 || g.Topics[1].TopicID != unknown {
		t.Fatalf("fetch by id: error %v, %d topics (second %x); want none, 3, the unknown id second", kerr.ErrorForCode(g.ErrorCode), len(g.Topics), g.Topics[1].TopicID)
	}
	f := flatten(g, true)
	for k, want := range map[string]got{
		string(nameID[:]) + "0":  {7, 0},
		string(unknown[:]) + "0": {-1, kerr.UnknownTopicID.Code},
		string(id[:]) + "0":      {40, 0},
		string(id[:]) + "1":      {41, 0},
	} {
		if f[k] != want {
			t.Errorf("fetch by id %x-%d: %+v, want %+v", k[:16], k[16]-'0', f[k], want)
		}
	}
	// All of the group's offsets, by id and by name.
	f = flatten(fetch(10, nil), true)
	if len(f) != 3 || f[string(id[:])+"1"] != (got{41, 0}) || f[string(nameID[:])+"0"] != (got{7, 0}) {
		t.Errorf("fetch all by id: %v", f)
	}
	f = flatten(fetch(9, nil), false)
	if len(f) != 3 || f["oid1"] != (got{41, 0}) || f["oname0"] != (got{7, 0}) {
		t.Errorf("fetch all by name: %v", f)
	}
}

// TestGroupNotFoundFromV6: DescribeGroups v6 answers GROUP_ID_NOT_FOUND,
// with a message, for a group that does not exist (KIP-1043), where v5
// described it as Dead; DeleteGroups v3 gives its error a message.
func TestGroupNotFoundFromV6(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	offsetsTopicUp(t, b)
	for _, v := range []int16{5, 6} {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Version = v
		req.Groups = []string{"ghost"}
		g := rawRequest(t, b, req).(*kmsg.DescribeGroupsResponse).Groups[0]
		want := int16(0)
		if v >= 6 {
			want = kerr.GroupIDNotFound.Code
			// Kafka's message, as its DescribeGroupsRequestTest asserts.
			if msg := g.ErrorMessage; msg == nil || *msg != "Group ghost not found." {
				t.Errorf("v%d: error message %v, want %q", v, kerr.ErrorForCode(g.ErrorCode), "Group ghost not found.")
				if msg != nil {
					t.Errorf("v%d: got message %q", v, *msg)
				}
			}
		}
		if g.ErrorCode != want || g.State != "Dead" {
			t.Errorf("v%d: error %v, state %q; want %v, Dead", v, kerr.ErrorForCode(g.ErrorCode), g.State, kerr.ErrorForCode(want))
		}
	}
	del := kmsg.NewPtrDeleteGroupsRequest()
	del.Version = 3
	del.Groups = []string{"ghost"}
	g := rawRequest(t, b, del).(*kmsg.DeleteGroupsResponse).Groups[0]
	if g.ErrorCode != kerr.GroupIDNotFound.Code || g.ErrorMessage == nil {
		t.Errorf("delete: error %v, message %v; want GROUP_ID_NOT_FOUND with a message", kerr.ErrorForCode(g.ErrorCode), g.ErrorMessage)
	}
}

// TestApiVersionsChecksIdentity: ApiVersions v5 carries the cluster and
// node the client expects (KIP-1242). Both unset passes; a mismatch of
// either is REBOOTSTRAP_REQUIRED and a node without a cluster
// INVALID_REQUEST, both with no keys, as Kafka answers.
func TestApiVersionsChecksIdentity(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cluster := b.node.Controller().State().ClusterID
	other := "not-" + cluster
	for _, tc := range []struct {
		name    string
		cluster *string
		node    int32
		want    int16
	}{
		{"unset", nil, -1, 0},
		{"this broker", &cluster, b.cfg.NodeID, 0},
		{"other cluster", &other, b.cfg.NodeID, kerr.RebootstrapRequired.Code},
		{"other node", &cluster, b.cfg.NodeID + 1, kerr.RebootstrapRequired.Code},
		{"node without cluster", nil, b.cfg.NodeID, kerr.InvalidRequest.Code},
	} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = 5
		req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1"
		req.ClusterID, req.NodeID = tc.cluster, tc.node
		resp := rawRequest(t, b, req).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != tc.want || (tc.want == 0) != (len(resp.ApiKeys) > 0) {
			t.Errorf("%s: error %v with %d keys, want %v", tc.name, kerr.ErrorForCode(resp.ErrorCode), len(resp.ApiKeys), kerr.ErrorForCode(tc.want))
		}
	}
}

// TestDescribeClusterV2: the brokers listed are not fenced, whether or not
// fenced ones are asked for (KIP-1073).
func TestDescribeClusterV2(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	for _, fenced := range []bool{false, true} {
		req := kmsg.NewPtrDescribeClusterRequest()
		req.Version = 2
		req.IncludeFencedBrokers = fenced
		resp := rawRequest(t, b, req).(*kmsg.DescribeClusterResponse)
		if resp.ErrorCode != 0 || len(resp.Brokers) != 1 || resp.Brokers[0].IsFenced || resp.Brokers[0].NodeID != b.cfg.NodeID {
			t.Errorf("include fenced %v: error %d, brokers %+v", fenced, resp.ErrorCode, resp.Brokers)
		}
	}
}
