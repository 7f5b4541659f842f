package broker

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func describeQuorumReq(version int16, topic string, partitions ...int32) *kmsg.DescribeQuorumRequest {
	req := kmsg.NewPtrDescribeQuorumRequest()
	req.Version = version
	rt := kmsg.NewDescribeQuorumRequestTopic()
	rt.Topic = topic
	for _, p := range partitions {
		rp := kmsg.NewDescribeQuorumRequestTopicPartition()
		rp.Partition = p
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

// DescribeQuorum (kafka-metadata-quorum describe --status/--replication)
// reports the metadata controller's raft group at every version: this node
// leads it, its high watermark counts the committed changes and grows with
// them, it is the one voter, caught up now, and from v2 its node lists the
// client listener. Anything but __cluster_metadata-0 alone is
// UNKNOWN_TOPIC_OR_PARTITION for each partition asked for, as Kafka's
// KafkaRaftClient answers.
func TestDescribeQuorum(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	host, portStr, _ := net.SplitHostPort(b.Addr().String())
	port, _ := strconv.Atoi(portStr)

	describe := func(version int16) kmsg.DescribeQuorumResponseTopicPartition {
		t.Helper()
		resp := rawRequest(t, b, describeQuorumReq(version, "__cluster_metadata", 0)).(*kmsg.DescribeQuorumResponse)
		if resp.ErrorCode != 0 || len(resp.Topics) != 1 || resp.Topics[0].Topic != "__cluster_metadata" || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("v%d: %+v", version, resp)
		}
		p := resp.Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.Partition != 0 || p.LeaderID != b.node.ID() || p.LeaderEpoch < 1 || p.HighWatermark < 1 ||
			len(p.CurrentVoters) != 1 || len(p.Observers) != 0 {
			t.Fatalf("v%d: %+v", version, p)
		}
		v := p.CurrentVoters[0]
		if v.ReplicaID != b.node.ID() || v.LogEndOffset < p.HighWatermark {
			t.Errorf("v%d: voter %+v, high watermark %d", version, v, p.HighWatermark)
		}
		if ts := v.LastCaughtUpTimestamp; version >= 1 && (time.Since(time.UnixMilli(ts)).Abs() > time.Minute || v.LastFetchTimestamp != ts) {
			t.Errorf("v%d: voter timestamps %d %d, want now", version, v.LastFetchTimestamp, ts)
		}
		if version >= 2 {
			want := fmt.Sprintf("[{%d [{PLAINTEXT %s %d}]}]", b.node.ID(), host, port)
			var got []string
			for _, n := range resp.Nodes {
				for _, l := range n.Listeners {
					got = append(got, fmt.Sprintf("{%s %s %d}", l.Name, l.Host, l.Port))
				}
				got = []string{fmt.Sprintf("{%d %v}", n.NodeID, got)}
			}
			if fmt.Sprint(got) != want {
				t.Errorf("v%d: nodes %v, want %s", version, got, want)
			}
		}
		return p
	}
	for version := int16(0); version <= 2; version++ {
		describe(version)
	}
	before := describe(2).HighWatermark
	createTopic(t, cl, "quorum-grows", 1, nil)
	if after := describe(2).HighWatermark; after <= before {
		t.Errorf("high watermark %d after a topic was created, %d before", after, before)
	}

	for _, req := range []*kmsg.DescribeQuorumRequest{
		describeQuorumReq(1, "__cluster_metadata", 1),
		describeQuorumReq(1, "__cluster_metadata", 0, 0),
		describeQuorumReq(1, "quorum-grows", 0),
	} {
		resp := rawRequest(t, b, req).(*kmsg.DescribeQuorumResponse)
		var got []string
		for _, rt := range resp.Topics {
			for _, p := range rt.Partitions {
				got = append(got, fmt.Sprintf("%s-%d:%v", rt.Topic, p.Partition, kerr.ErrorForCode(p.ErrorCode)))
			}
		}
		if len(got) != len(req.Topics[0].Partitions) {
			t.Errorf("%s %v: %v", req.Topics[0].Topic, req.Topics[0].Partitions, got)
		}
		for _, g := range got {
			if want := kerr.UnknownTopicOrPartition.Error(); g[len(g)-len(want):] != want {
				t.Errorf("%s %v: %v, want each %s", req.Topics[0].Topic, req.Topics[0].Partitions, got, want)
			}
		}
	}
}
