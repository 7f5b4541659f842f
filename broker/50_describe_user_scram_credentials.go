package broker

import (
	"maps"
	"slices"

	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDescribeUserSCRAMCredentials lists users' SCRAM mechanisms and
// iterations (never a salt or key), as Kafka's ScramImage.describe does:
// every user holding a credential when the request names none (null or
// empty); otherwise each user named once, RESOURCE_NOT_FOUND for one
// holding none and DUPLICATE_RESOURCE for one named twice, with Kafka's
// messages.
func (b *Broker) handleDescribeUserSCRAMCredentials(r *kmsg.DescribeUserSCRAMCredentialsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	resp.Results = []kmsg.DescribeUserSCRAMCredentialsResponseResult{}
	st := b.node.Controller().State()
	named := map[string]int{}
	var order []string
	for _, u := range r.Users {
		if named[u.Name] == 0 {
			order = append(order, u.Name)
		}
		named[u.Name]++
	}
	if len(r.Users) == 0 {
		order = slices.Sorted(maps.Keys(st.ScramCredentials))
	}
	for _, name := range order {
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = name
		for i, mech := range replication.ScramMechanisms {
			if c, ok := st.ScramCredential(name, mech); ok {
				info := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
				info.Mechanism, info.Iterations = int8(i+1), c.Iterations
				res.CredentialInfos = append(res.CredentialInfos, info)
			}
		}
		switch {
		case named[name] > 1:
			res.CredentialInfos = nil
			res.ErrorCode = kerr.DuplicateResource.Code
			res.ErrorMessage = kmsg.StringPtr("Cannot describe SCRAM credentials for the same user twice in a single request: " + name)
		case len(res.CredentialInfos) == 0:
			res.ErrorCode = kerr.ResourceNotFound.Code
			res.ErrorMessage = kmsg.StringPtr("Attempt to describe a user credential that does not exist: " + name)
		}
		resp.Results = append(resp.Results, res)
	}
	return resp
}
