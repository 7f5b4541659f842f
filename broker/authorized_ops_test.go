package broker

import (
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAuthorizedOperations: with no authorizer, what a request asks for
// (KIP-430) is every operation the resource type supports, as Kafka
// answers; unasked it is math.MinInt32.
func TestAuthorizedOperations(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	offsetsTopicUp(t, b)
	cl := newClient(t, b)
	createTopic(t, cl, "ops", 1, nil)
	// READ WRITE CREATE DELETE ALTER DESCRIBE DESCRIBE_CONFIGS ALTER_CONFIGS
	const topic = 1<<3 | 1<<4 | 1<<5 | 1<<6 | 1<<7 | 1<<8 | 1<<10 | 1<<11
	// CREATE CLUSTER_ACTION DESCRIBE_CONFIGS ALTER_CONFIGS IDEMPOTENT_WRITE ALTER DESCRIBE
	const cluster = 1<<5 | 1<<9 | 1<<10 | 1<<11 | 1<<12 | 1<<7 | 1<<8
	const group = 1<<3 | 1<<6 | 1<<8 // READ DELETE DESCRIBE
	for _, asked := range []bool{false, true} {
		want := func(ops int32) int32 {
			if asked {
				return ops
			}
			return math.MinInt32
		}
		md := kmsg.NewPtrMetadataRequest()
		md.Version = 10
		name := "ops"
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = &name
		md.Topics = append(md.Topics, mt)
		md.IncludeClusterAuthorizedOperations, md.IncludeTopicAuthorizedOperations = asked, asked
		mr := rawRequest(t, b, md).(*kmsg.MetadataResponse)
		if got := mr.Topics[0].AuthorizedOperations; got != want(topic) {
			t.Errorf("asked %v: Metadata topic operations %d, want %d", asked, got, want(topic))
		}
		if mr.AuthorizedOperations != want(cluster) {
			t.Errorf("asked %v: Metadata cluster operations %d, want %d", asked, mr.AuthorizedOperations, want(cluster))
		}
		dc := kmsg.NewPtrDescribeClusterRequest()
		dc.IncludeClusterAuthorizedOperations = asked
		if got := request[*kmsg.DescribeClusterResponse](t, cl, dc).ClusterAuthorizedOperations; got != want(cluster) {
			t.Errorf("asked %v: DescribeCluster operations %d, want %d", asked, got, want(cluster))
		}
		// v5: from v6 a group that does not exist is an error, and an
		// error carries no operations.
		dg := kmsg.NewPtrDescribeGroupsRequest()
		dg.Version = 5
		dg.Groups = []string{"ops-group"}
		dg.IncludeAuthorizedOperations = asked
		if got := rawRequest(t, b, dg).(*kmsg.DescribeGroupsResponse).Groups[0].AuthorizedOperations; got != want(group) {
			t.Errorf("asked %v: DescribeGroups operations %d, want %d", asked, got, want(group))
		}
	}
	// KIP-919: this listener is a broker's; asking it for controllers, or
	// for an unknown endpoint type, is an error.
	for typ, code := range map[int8]int16{2: kerr.MismatchedEndpointType.Code, 7: kerr.UnsupportedEndpointType.Code, 1: 0} {
		dc := kmsg.NewPtrDescribeClusterRequest()
		dc.Version = 1
		dc.EndpointType = typ
		r := rawRequest(t, b, dc).(*kmsg.DescribeClusterResponse)
		if r.ErrorCode != code || (code == 0 && len(r.Brokers) != 1) {
			t.Errorf("DescribeCluster endpoint type %d: error %d with %d brokers, want %d", typ, r.ErrorCode, len(r.Brokers), code)
		}
	}
}
