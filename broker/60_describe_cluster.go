package broker

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleDescribeCluster(req *kmsg.DescribeClusterRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	st := b.node.Controller().State()
	resp.ClusterID = st.ClusterID
	resp.ControllerID = b.node.ID()
	resp.EndpointType = req.EndpointType
	if resp.EndpointType == 0 {
		resp.EndpointType = 1
	}
	if !req.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = -2147483648
	}
	for _, br := range st.SortedBrokers() {
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID = br.ID
		rb.Host = br.Host
		rb.Port = br.Port
		if br.Rack != "" {
			r := br.Rack
			rb.Rack = &r
		}
		resp.Brokers = append(resp.Brokers, rb)
	}
	return resp
}
