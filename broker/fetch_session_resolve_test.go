package broker

import (
	"testing"
	"time"

	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A partition a v13 session took of a topic id this broker did not know
// yet (a client may learn of a topic first) is served once the id is
// known, as Kafka's session resolves it at each fetch
// (FetchSessionTest.testResolveUnknownPartitions), not answered
// UNKNOWN_TOPIC_ID until the client, which has no reason to, forgets it;
// and the request naming it again by id updates it, it does not add a
// second partition beside the unresolved one.
func TestFetchSessionResolvesUnknownTopicID(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "known", 1, nil)
	known := b.node.Controller().State().Topics["known"].ID
	late := replication.NewTopicID()

	req := fetchKnownAndID(known, late)
	answers := func(resp *kmsg.FetchResponse) []kmsg.FetchResponseTopicPartition {
		var out []kmsg.FetchResponseTopicPartition
		for _, rt := range resp.Topics {
			if rt.TopicID == late {
				out = append(out, rt.Partitions...)
			}
		}
		return out
	}
	full := rawRequest(t, b, req).(*kmsg.FetchResponse)
	if a := answers(full); full.SessionID <= 0 || len(a) != 1 || a[0].ErrorCode != kerr.UnknownTopicID.Code {
		t.Fatalf("full fetch: session %d, unknown id answered %+v", full.SessionID, a)
	}
	id := full.SessionID

	// The topic becomes known under that id, with records.
	topic := &replication.Topic{Name: "late", ID: late, Replicas: [][]int32{{b.cfg.NodeID}}, Configs: map[string]string{}}
	if err := b.createTopic(t.Context(), topic); err != nil {
		t.Fatal(err)
	}
	if p := produceRaw(t, cl, "late", 0, -1, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(3, "l"))); p.ErrorCode != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(p.ErrorCode))
	}

	inc := rawRequest(t, b, fetchByID(id, 1, known, nil)).(*kmsg.FetchResponse)
	a := answers(inc)
	if inc.ErrorCode != 0 || len(a) != 1 || a[0].ErrorCode != 0 || a[0].HighWatermark != 3 || len(a[0].RecordBatches) == 0 {
		t.Fatalf("incremental once the id is known: %v, its partition answered %+v; want its records, hw 3", kerr.ErrorForCode(inc.ErrorCode), a)
	}

	// Named again by its id, at the end of its records: the one partition
	// is updated, and has no news.
	again := fetchByID(id, 2, late, map[int32]int64{0: 3})
	inc = rawRequest(t, b, again).(*kmsg.FetchResponse)
	if a := answers(inc); inc.ErrorCode != 0 || len(a) != 0 {
		t.Fatalf("incremental naming it by id at its end: %v, answered %+v; want nothing (no second, unresolved partition)", kerr.ErrorForCode(inc.ErrorCode), a)
	}
}
