package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDescribeUserSCRAMCredentials answers as Kafka does for users that
// hold no SCRAM credential, which is every user here: the listener is
// PLAINTEXT and AlterUserScramCredentials is not offered. Describing all
// users gives an empty list; each user named gets RESOURCE_NOT_FOUND, or
// DUPLICATE_RESOURCE when named twice, with Kafka's messages, so admin
// clients and UIs list no users instead of failing on a missing API.
func (b *Broker) handleDescribeUserSCRAMCredentials(r *kmsg.DescribeUserSCRAMCredentialsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	resp.Results = []kmsg.DescribeUserSCRAMCredentialsResponseResult{}
	named := map[string]int{}
	var order []string
	for _, u := range r.Users {
		if named[u.Name] == 0 {
			order = append(order, u.Name)
		}
		named[u.Name]++
	}
	for _, name := range order {
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = name
		if named[name] > 1 {
			res.ErrorCode = kerr.DuplicateResource.Code
			res.ErrorMessage = kmsg.StringPtr("Cannot describe SCRAM credentials for the same user twice in a single request: " + name)
		} else {
			res.ErrorCode = kerr.ResourceNotFound.Code
			res.ErrorMessage = kmsg.StringPtr("Attempt to describe a user credential that does not exist: " + name)
		}
		resp.Results = append(resp.Results, res)
	}
	return resp
}
