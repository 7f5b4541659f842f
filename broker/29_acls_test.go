package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestACLsWithoutAuthorizer: every version of the three ACL requests is
// answered SECURITY_DISABLED with the message Kafka's AclApis gives when
// no authorizer is configured, which kafka-acls prints.
func TestACLsWithoutAuthorizer(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	check := func(what string, code int16, msg *string, want string) {
		t.Helper()
		if code != kerr.SecurityDisabled.Code || msg == nil || *msg != want {
			got := "null"
			if msg != nil {
				got = *msg
			}
			t.Errorf("%s: error %d (%q), want SECURITY_DISABLED (%q)", what, code, got, want)
		}
	}
	for v := int16(0); v <= 3; v++ {
		d := kmsg.NewPtrDescribeACLsRequest()
		d.Version = v
		dr := rawRequest(t, b, d).(*kmsg.DescribeACLsResponse)
		check("DescribeAcls", dr.ErrorCode, dr.ErrorMessage, "No Authorizer is configured on the broker")

		c := kmsg.NewPtrCreateACLsRequest()
		c.Version = v
		c.Creations = []kmsg.CreateACLsRequestCreation{{ResourceType: kmsg.ACLResourceTypeTopic, ResourceName: "t", ResourcePatternType: kmsg.ACLResourcePatternTypeLiteral,
			Principal: "User:a", Host: "*", Operation: kmsg.ACLOperationRead, PermissionType: kmsg.ACLPermissionTypeAllow}}
		cr := rawRequest(t, b, c).(*kmsg.CreateACLsResponse)
		if len(cr.Results) != 1 {
			t.Fatalf("CreateAcls v%d: %d results", v, len(cr.Results))
		}
		check("CreateAcls", cr.Results[0].ErrorCode, cr.Results[0].ErrorMessage, "No Authorizer is configured.")

		del := kmsg.NewPtrDeleteACLsRequest()
		del.Version = v
		del.Filters = []kmsg.DeleteACLsRequestFilter{{ResourceType: kmsg.ACLResourceTypeAny, ResourcePatternType: kmsg.ACLResourcePatternTypeLiteral,
			Operation: kmsg.ACLOperationAny, PermissionType: kmsg.ACLPermissionTypeAny}}
		delr := rawRequest(t, b, del).(*kmsg.DeleteACLsResponse)
		if len(delr.Results) != 1 {
			t.Fatalf("DeleteAcls v%d: %d results", v, len(delr.Results))
		}
		check("DeleteAcls", delr.Results[0].ErrorCode, delr.Results[0].ErrorMessage, "No Authorizer is configured.")
	}
}
