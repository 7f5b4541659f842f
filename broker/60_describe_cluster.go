package broker

import (
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// KIP-919 endpoint types: this listener serves brokers' clients.
const (
	endpointBroker     = 1
	endpointController = 2
)

func (b *Broker) handleDescribeCluster(req *kmsg.DescribeClusterRequest, listener string) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	st := b.node.Controller().State()
	resp.ClusterID = st.ClusterID
	resp.ControllerID = b.node.ID()
	resp.EndpointType = endpointBroker
	if req.Version >= 1 && req.EndpointType != endpointBroker {
		// As Kafka: controllers are not asked here, and other types are
		// unknown.
		code := kerr.UnsupportedEndpointType
		if req.EndpointType == endpointController {
			code = kerr.MismatchedEndpointType
		}
		resp.ErrorCode = code.Code
		msg := code.Description
		resp.ErrorMessage = &msg
		resp.ClusterAuthorizedOperations = math.MinInt32
		return resp
	}
	resp.ClusterAuthorizedOperations = authorizedOps(req.IncludeClusterAuthorizedOperations, clusterOps)
	for _, br := range st.SortedBrokers() {
		host, port, ok := br.Endpoint(listener)
		if !ok {
			continue
		}
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID = br.ID
		rb.Host = host
		rb.Port = port
		if br.Rack != "" {
			r := br.Rack
			rb.Rack = &r
		}
		// v2's IsFenced (KIP-1073) stays false, so IncludeFencedBrokers
		// changes nothing: a broker is listed once registered, and none
		// is fenced here.
		resp.Brokers = append(resp.Brokers, rb)
	}
	return resp
}
