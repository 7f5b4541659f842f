package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// No authorizer is configured (there is no authentication yet either), so
// the ACL requests get what Kafka answers without one: SECURITY_DISABLED,
// for the request (DescribeAcls) or for each creation and filter, with
// Kafka's messages (AclApis.scala words the two differently).

const (
	noAuthorizer         = "No Authorizer is configured."
	noAuthorizerDescribe = "No Authorizer is configured on the broker"
)

func (b *Broker) handleDescribeACLs(r *kmsg.DescribeACLsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeACLsResponse)
	resp.ErrorCode = kerr.SecurityDisabled.Code
	resp.ErrorMessage = kmsg.StringPtr(noAuthorizerDescribe)
	return resp
}

func (b *Broker) handleCreateACLs(r *kmsg.CreateACLsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.CreateACLsResponse)
	for range r.Creations {
		res := kmsg.NewCreateACLsResponseResult()
		res.ErrorCode = kerr.SecurityDisabled.Code
		res.ErrorMessage = kmsg.StringPtr(noAuthorizer)
		resp.Results = append(resp.Results, res)
	}
	return resp
}

func (b *Broker) handleDeleteACLs(r *kmsg.DeleteACLsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DeleteACLsResponse)
	for range r.Filters {
		res := kmsg.NewDeleteACLsResponseResult()
		res.ErrorCode = kerr.SecurityDisabled.Code
		res.ErrorMessage = kmsg.StringPtr(noAuthorizer)
		resp.Results = append(resp.Results, res)
	}
	return resp
}
