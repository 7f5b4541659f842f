package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

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
					// Kafka's words (ReplicationControlManager.electLeader,
					// as ReplicationControlManagerTest pins them).
					wantMsg := "Leader election not needed for topic partition."
					switch {
					case rt.Topic == "nosuch":
						wantMsg = "No such topic as nosuch"
					case rp.Partition == 9:
						wantMsg = "No such partition as el-9"
					}
					if rp.ErrorMessage == nil || *rp.ErrorMessage != wantMsg {
						t.Errorf("v%d type %d: %s-%d message %v, want %q", version, typ, rt.Topic, rp.Partition, deref(rp.ErrorMessage), wantMsg)
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
	// Naming partitions, Kafka's error response
	// (ElectLeadersRequest.getErrorResponse) gives each the error too.
	rt := kmsg.NewElectLeadersRequestTopic()
	rt.Topic, rt.Partitions = "el", []int32{0, 1}
	bad.Topics = []kmsg.ElectLeadersRequestTopic{rt}
	resp := rawRequest(t, b, bad).(*kmsg.ElectLeadersResponse)
	if resp.ErrorCode != kerr.InvalidRequest.Code || len(resp.Topics) != 1 || resp.Topics[0].Topic != "el" || len(resp.Topics[0].Partitions) != 2 {
		t.Fatalf("election type 5 for el-0 and el-1: error %d, topics %+v", resp.ErrorCode, resp.Topics)
	}
	for i, rp := range resp.Topics[0].Partitions {
		if rp.Partition != int32(i) || rp.ErrorCode != kerr.InvalidRequest.Code || deref(rp.ErrorMessage) != "Unknown election type 5" {
			t.Errorf("election type 5: partition %d error %d %q, want INVALID_REQUEST \"Unknown election type 5\"", rp.Partition, rp.ErrorCode, deref(rp.ErrorMessage))
		}
	}
}
