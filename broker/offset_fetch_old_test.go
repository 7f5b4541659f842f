package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetFetch v0 and v1 have no top-level error code: as Kafka's
// OffsetFetchRequest.getErrorResponse, a coordinator error goes into every
// requested partition, with offset -1, instead of an answer that names no
// partition (which an old client reads as an incomplete response or as no
// offsets committed).
func TestOffsetFetchV1CoordinatorErrorPerPartition(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	// No group was looked up yet: there is no __consumer_offsets, so this
	// broker is not the coordinator, as Kafka answers.
	for _, v := range []int16{0, 1} {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = v
		req.Group = "g"
		req.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "t", Partitions: []int32{0, 1}}}
		resp := rawRequest(t, b, req).(*kmsg.OffsetFetchResponse)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 2 {
			t.Fatalf("v%d: %d topics, want the requested partitions with the error: %+v", v, len(resp.Topics), resp)
		}
		for _, p := range resp.Topics[0].Partitions {
			if p.ErrorCode != kerr.NotCoordinator.Code || p.Offset != -1 {
				t.Fatalf("v%d partition %d: %v offset %d, want NOT_COORDINATOR and -1", v, p.Partition, kerr.ErrorForCode(p.ErrorCode), p.Offset)
			}
		}
	}
}
