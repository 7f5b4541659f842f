package broker

import (
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// listableConfigTypes are the resource types ListConfigResources lists at
// each version, as Kafka's ListConfigResourcesRequest.supportedResourceTypes:
// v0 (KIP-1000's ListClientMetricsResources) client-metrics subscriptions
// only; v1 (KIP-1142, Kafka 4.1) topics, brokers, broker loggers,
// client-metrics subscriptions and groups.
func listableConfigTypes(version int16) []kmsg.ConfigResourceType {
	if version == 0 {
		return []kmsg.ConfigResourceType{kmsg.ConfigResourceTypeClientMetrics}
	}
	return []kmsg.ConfigResourceType{
		kmsg.ConfigResourceTypeTopic,
		kmsg.ConfigResourceTypeBroker,
		kmsg.ConfigResourceTypeBrokerLogger,
		kmsg.ConfigResourceTypeClientMetrics,
		kmsg.ConfigResourceTypeGroupConfig,
	}
}

// handleListConfigResources answers ListConfigResources (key 74), which the
// Java admin's listConfigResources and Kafka 4.1's kafka-configs.sh
// (--describe --entity-type groups or client-metrics) send, as Kafka 4.1's
// KafkaApis.handleListConfigResources does: no types (and always at v0)
// means every type the version lists; a type outside them fails the whole
// request with UNSUPPORTED_VERSION; a type named twice is listed once; the
// resources come grouped by type in Kafka's order (groups, client
// metrics, broker loggers, brokers, topics) whatever order the request
// names them in.
//
// Kafka lists the groups that have a dynamic group config
// (GroupConfigManager.groupIds, not every group: those are ListGroups'),
// the client-metrics subscriptions, the brokers with an endpoint on the
// request's listener (getBrokerNodes, once as broker loggers and once as
// brokers), and every topic in its metadata, internal ones included
// (getAllTopics). Here no group config or client-metrics subscription can
// be set (DescribeConfigs and the alter requests refuse both types), so
// those lists are empty; topics are sorted by name and brokers by id,
// where Kafka's order is its maps'.
//
// Kafka asks for DESCRIBE_CONFIGS on the cluster first; with no
// authorizer, as here, that is always allowed.
func (b *Broker) handleListConfigResources(req *kmsg.ListConfigResourcesRequest, listener string) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.ListConfigResourcesResponse)
	supported := listableConfigTypes(req.Version)
	wanted := supported
	if req.Version >= 1 && len(req.ResourceTypes) > 0 {
		wanted = nil
		for _, t := range req.ResourceTypes {
			typ := kmsg.ConfigResourceType(t)
			if !slices.Contains(supported, typ) {
				resp.ErrorCode = kerr.UnsupportedVersion.Code
				return resp
			}
			wanted = append(wanted, typ)
		}
	}
	add := func(typ kmsg.ConfigResourceType, name string) {
		r := kmsg.NewListConfigResourcesResponseConfigResource()
		r.Name, r.Type = name, int8(typ)
		resp.ConfigResources = append(resp.ConfigResources, r)
	}
	st := b.node.Controller().State()
	var brokers []string
	for _, br := range st.SortedBrokers() {
		if _, _, ok := br.Endpoint(listener); ok {
			brokers = append(brokers, strconv.Itoa(int(br.ID)))
		}
	}
	// Kafka's order. Groups and client-metrics subscriptions: none can
	// be configured here.
	for _, typ := range []kmsg.ConfigResourceType{kmsg.ConfigResourceTypeBrokerLogger, kmsg.ConfigResourceTypeBroker} {
		if slices.Contains(wanted, typ) {
			for _, id := range brokers {
				add(typ, id)
			}
		}
	}
	if slices.Contains(wanted, kmsg.ConfigResourceTypeTopic) {
		for _, name := range st.SortedTopics() {
			add(kmsg.ConfigResourceTypeTopic, name)
		}
	}
	return resp
}
