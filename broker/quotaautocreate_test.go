package broker

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestMutationQuotaAutoCreate: the topics a Metadata request auto-creates
// count against the client's controller_mutation_rate, strictly, as Kafka
// forwards them to its controller as a CreateTopics of the latest version:
// past the budget a topic is not created, and is answered as unknown. They
// used to be created whatever the quota.
func TestMutationQuotaAutoCreate(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) {
		if err := c.Set("num.partitions", "10"); err != nil {
			t.Fatal(err)
		}
	})
	defer b.Close()
	cl := newClient(t, b)
	if e := alterQuota(t, cl, false, "controller_mutation_rate", 2, false, "client-id", "raw"); e.ErrorCode != 0 {
		t.Fatalf("set quota: error %d", e.ErrorCode)
	}
	req := kmsg.NewPtrMetadataRequest()
	req.AllowAutoTopicCreation = true
	for i := range 5 {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(fmt.Sprintf("auto-%d", i))
		req.Topics = append(req.Topics, rt)
	}
	resp := rawRequest(t, b, req).(*kmsg.MetadataResponse)
	// A burst of 22 (2 a second over 11 one-second windows): auto-0 and
	// auto-1 leave 2, auto-2 finds the budget not yet spent and takes it
	// to -8, and the rest are refused.
	st := b.node.Controller().State()
	for i, mt := range resp.Topics {
		_, exists := st.Topics[*mt.Topic]
		if i < 3 {
			if mt.ErrorCode != 0 || !exists {
				t.Errorf("%s: %v, created %v; want it created", *mt.Topic, kerr.ErrorForCode(mt.ErrorCode), exists)
			}
			continue
		}
		if mt.ErrorCode != kerr.UnknownTopicOrPartition.Code || exists {
			t.Errorf("%s past the quota: %v, created %v; want UNKNOWN_TOPIC_OR_PARTITION and not created", *mt.Topic, kerr.ErrorForCode(mt.ErrorCode), exists)
		}
	}
	// The auto-created partitions came out of the same budget as an
	// explicit CreateTopics: the next one is refused.
	ct := kmsg.NewPtrCreateTopicsRequest()
	ct.Version, ct.TimeoutMillis = 7, 10000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "explicit", 1, 1
	ct.Topics = append(ct.Topics, rt)
	cr := rawRequest(t, b, ct).(*kmsg.CreateTopicsResponse)
	if code := cr.Topics[0].ErrorCode; code != kerr.ThrottlingQuotaExceeded.Code {
		t.Errorf("CreateTopics after the auto-creations: %v, want THROTTLING_QUOTA_EXCEEDED", kerr.ErrorForCode(code))
	}
}
