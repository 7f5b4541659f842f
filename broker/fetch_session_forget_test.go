package broker

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Forgetting a session's partitions costs time in proportion to the
// session and the request, as Kafka's linked hash collection does, not to
// their product: one fetch of a few MB naming tens of thousands of
// partitions, then one forgetting them, must not pin a core for many
// seconds (it held the session, and any client could send it).
func TestFetchSessionForgetManyIsLinear(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "many", 1, nil)
	id := b.node.Controller().State().Topics["many"].ID

	const n = 60000
	full := kmsg.NewPtrFetchRequest()
	full.Version, full.ReplicaID, full.MaxBytes, full.SessionEpoch = 13, -1, 1<<20, 0
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = id
	ft := kmsg.NewFetchRequestForgottenTopic()
	ft.TopicID = id
	for p := range int32(n) {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.PartitionMaxBytes = p, -1, 1<<10
		rt.Partitions = append(rt.Partitions, rp)
		ft.Partitions = append(ft.Partitions, p)
	}
	full.Topics = append(full.Topics, rt)
	// Each request's answer gets a minute: under -race on a loaded 2-core
	// machine the full fetch of 60,000 partitions took over rawRequest's
	// 10 s. Forgetting them one pass at a time takes under a second idle;
	// the quadratic pass this test guards against took minutes.
	slowRequest := func(req kmsg.Request) *kmsg.FetchResponse {
		conn := rawConn(t, b)
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(time.Minute))
		resp, _ := sendRaw(t, conn, rawFormatter, req, 42)
		return resp.(*kmsg.FetchResponse)
	}
	resp := slowRequest(full)
	if resp.ErrorCode != 0 || resp.SessionID <= 0 {
		t.Fatalf("full fetch: error %d session %d", resp.ErrorCode, resp.SessionID)
	}

	forget := kmsg.NewPtrFetchRequest()
	forget.Version, forget.ReplicaID, forget.MaxBytes = 13, -1, 1<<20
	forget.SessionID, forget.SessionEpoch = resp.SessionID, 1
	forget.ForgottenTopics = append(forget.ForgottenTopics, ft)
	start := time.Now()
	got := slowRequest(forget)
	took := time.Since(start)
	if got.ErrorCode != 0 || got.SessionID != 0 {
		t.Fatalf("forgetting every partition: error %d session %d, want the session closed", got.ErrorCode, got.SessionID)
	}
	if took > 20*time.Second {
		t.Fatalf("forgetting %d partitions took %v", n, took)
	}
}
