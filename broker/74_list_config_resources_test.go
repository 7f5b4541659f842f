package broker

import (
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// lcrList renders an answer as "error: type/name ..." to compare whole.
func lcrList(resp *kmsg.ListConfigResourcesResponse) string {
	var parts []string
	for _, r := range resp.ConfigResources {
		parts = append(parts, fmt.Sprintf("%d/%s", r.Type, r.Name))
	}
	e := "ok"
	if resp.ErrorCode != 0 {
		e = kerr.ErrorForCode(resp.ErrorCode).(*kerr.Error).Message
	}
	return e + ": " + strings.Join(parts, " ")
}

// TestListConfigResources: ListConfigResources (KIP-1000's
// ListClientMetricsResources at v0, KIP-1142's ListConfigResources at v1),
// which the Java admin's listConfigResources and Kafka 4.1's kafka-configs
// --describe --entity-type groups send, answered as Kafka 4.1's
// KafkaApis.handleListConfigResources: v0 lists client-metrics
// subscriptions only (none can exist here); v1 with no types lists every
// type it knows, grouped in Kafka's order (broker loggers, brokers,
// topics, internal ones included); a type named twice is listed once; a
// type v1 does not list (a cluster, 1, or an unknown one) fails the whole
// request with UNSUPPORTED_VERSION.
func TestListConfigResources(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "lcr-b", 1, nil)
	createTopic(t, cl, "lcr-a", 1, nil)
	offsetsTopicUp(t, b)
	id := b.node.ID()

	list := func(version int16, types ...kmsg.ConfigResourceType) string {
		t.Helper()
		req := kmsg.NewPtrListConfigResourcesRequest()
		req.Version = version
		for _, typ := range types {
			req.ResourceTypes = append(req.ResourceTypes, int8(typ))
		}
		return lcrList(rawRequest(t, b, req).(*kmsg.ListConfigResourcesResponse))
	}
	const (
		topic    = kmsg.ConfigResourceTypeTopic
		broker   = kmsg.ConfigResourceTypeBroker
		logger   = kmsg.ConfigResourceTypeBrokerLogger
		metrics  = kmsg.ConfigResourceTypeClientMetrics
		group    = kmsg.ConfigResourceTypeGroupConfig
		cluster  = kmsg.ConfigResourceType(1)
		unknown  = kmsg.ConfigResourceType(64)
		brokers  = "4/%[1]d"
		loggers  = "8/%[1]d"
		topics   = "2/__consumer_offsets 2/lcr-a 2/lcr-b"
		unsupErr = "UNSUPPORTED_VERSION: "
	)
	for _, c := range []struct {
		version int16
		types   []kmsg.ConfigResourceType
		want    string
	}{
		{0, nil, "ok: "},
		{1, nil, fmt.Sprintf("ok: "+loggers+" "+brokers+" "+topics, id)},
		{1, []kmsg.ConfigResourceType{topic}, "ok: " + topics},
		{1, []kmsg.ConfigResourceType{topic, broker, topic}, fmt.Sprintf("ok: "+brokers+" "+topics, id)},
		{1, []kmsg.ConfigResourceType{logger}, fmt.Sprintf("ok: "+loggers, id)},
		{1, []kmsg.ConfigResourceType{group, metrics}, "ok: "},
		{1, []kmsg.ConfigResourceType{topic, unknown}, unsupErr},
		{1, []kmsg.ConfigResourceType{cluster}, unsupErr},
	} {
		if got := list(c.version, c.types...); got != c.want {
			t.Errorf("v%d %v: %q, want %q", c.version, c.types, got, c.want)
		}
	}

	// Through a client, which picks the version from ApiVersions: v1.
	req := kmsg.NewPtrListConfigResourcesRequest()
	req.ResourceTypes = []int8{int8(topic)}
	resp := request[*kmsg.ListConfigResourcesResponse](t, cl, req)
	if resp.Version != 1 || resp.ErrorCode != 0 || len(resp.ConfigResources) != 3 {
		t.Fatalf("through a client: v%d, %s", resp.Version, lcrList(resp))
	}
}
