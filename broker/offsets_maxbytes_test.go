package broker

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A group's records are held to the offsets topic's max.message.bytes, as
// Kafka's log holds them: a group whose metadata record would pass it
// cannot sync (UNKNOWN_SERVER_ERROR, as Kafka's coordinator answers), and
// an offset commit that would is INVALID_COMMIT_OFFSET_SIZE. Unbounded, a
// member with 8 MB of protocol metadata made every rebalance, and every
// restart of another, static, member (a JoinGroup of a few bytes), write
// 8 MB more into __consumer_offsets.
func TestGroupRecordsHeldToMaxMessageBytes(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	offsetsTopicUp(t, b)
	cl := newClient(t, b)
	createTopic(t, cl, "t", 1, nil)

	joinAndSync := func(group string, metadata int) int16 {
		t.Helper()
		j := kmsg.NewPtrJoinGroupRequest()
		j.Version = 5
		j.Group = group
		j.InstanceID = kmsg.StringPtr("i")
		j.SessionTimeoutMillis, j.RebalanceTimeoutMillis = 30000, 30000
		j.ProtocolType = "consumer"
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name, p.Metadata = "range", make([]byte, metadata)
		j.Protocols = append(j.Protocols, p)
		jr := request[*kmsg.JoinGroupResponse](t, cl, j)
		if jr.ErrorCode != 0 {
			t.Fatalf("join %s: %v", group, kerr.ErrorForCode(jr.ErrorCode))
		}
		s := kmsg.NewPtrSyncGroupRequest()
		s.Version = 3
		s.Group, s.Generation, s.MemberID, s.InstanceID = group, jr.Generation, jr.MemberID, j.InstanceID
		return request[*kmsg.SyncGroupResponse](t, cl, s).ErrorCode
	}
	if code := joinAndSync("small", 1000); code != 0 {
		t.Fatalf("sync of a small group: %v", kerr.ErrorForCode(code))
	}
	if code := joinAndSync("big", 2<<20); code != kerr.UnknownServerError.Code {
		t.Fatalf("sync of a group whose record passes max.message.bytes: %v, want UNKNOWN_SERVER_ERROR", kerr.ErrorForCode(code))
	}

	commit := func(n int) []int16 {
		t.Helper()
		c := kmsg.NewPtrOffsetCommitRequest()
		c.Version = 8
		c.Group, c.Generation = "simple", -1
		ct := kmsg.NewOffsetCommitRequestTopic()
		ct.Topic = "t"
		for range n { // one partition named n times: n records
			cp := kmsg.NewOffsetCommitRequestTopicPartition()
			cp.Offset, cp.Metadata = 1, kmsg.StringPtr(strings.Repeat("m", 4000))
			ct.Partitions = append(ct.Partitions, cp)
		}
		c.Topics = append(c.Topics, ct)
		var codes []int16
		for _, p := range request[*kmsg.OffsetCommitResponse](t, cl, c).Topics[0].Partitions {
			codes = append(codes, p.ErrorCode)
		}
		return codes
	}
	for _, code := range commit(10) {
		if code != 0 {
			t.Fatalf("commit of 40 KB: %v", kerr.ErrorForCode(code))
		}
	}
	for _, code := range commit(300) {
		if code != kerr.InvalidCommitOffsetSize.Code {
			t.Fatalf("commit of 1.2 MB: %v, want INVALID_COMMIT_OFFSET_SIZE", kerr.ErrorForCode(code))
		}
	}
}
