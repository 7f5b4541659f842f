package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestOffsetFetchUnknownTopicIDPartition: OffsetFetch v10 answers a topic
// id no topic has with UNKNOWN_TOPIC_ID on each partition asked for, and
// otherwise as a partition with no offset: offset -1, leader epoch -1 and
// empty metadata, not null (Kafka's OffsetFetchRequestTest
// testSingleGroupOffsetFetch expects the partition's defaults).
func TestOffsetFetchUnknownTopicIDPartition(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	offsetsTopicUp(t, b)
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 10
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = "g"
	ft := kmsg.NewOffsetFetchRequestGroupTopic()
	ft.TopicID, ft.Partitions = [16]byte{1, 2, 3}, []int32{1}
	g.Topics = append(g.Topics, ft)
	req.Groups = append(req.Groups, g)
	resp := rawRequest(t, b, req).(*kmsg.OffsetFetchResponse)
	if len(resp.Groups) != 1 || len(resp.Groups[0].Topics) != 1 || len(resp.Groups[0].Topics[0].Partitions) != 1 {
		t.Fatalf("answer %+v, want one group, topic and partition", resp.Groups)
	}
	p := resp.Groups[0].Topics[0].Partitions[0]
	if p.ErrorCode != kerr.UnknownTopicID.Code || p.Partition != 1 || p.Offset != -1 || p.LeaderEpoch != -1 {
		t.Errorf("partition %d: error %v, offset %d, epoch %d; want 1, UNKNOWN_TOPIC_ID, -1, -1", p.Partition, kerr.ErrorForCode(p.ErrorCode), p.Offset, p.LeaderEpoch)
	}
	if p.Metadata == nil || *p.Metadata != "" {
		t.Errorf("metadata %v, want empty, not null", p.Metadata)
	}
}
