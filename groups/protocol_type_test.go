package groups

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// As Kafka's supportsProtocols: a group that is not Empty takes only joins
// of its protocol type, its sole member's rejoin too. Taken, the rejoin
// left the group of one type with the other's protocol and metadata: its
// JoinGroup answer named the old type, and every SyncGroup v5 the member
// sent with its own was INCONSISTENT_GROUP_PROTOCOL.
func TestSoleMemberRejoinOtherProtocolType(t *testing.T) {
	e := newEnv(t, nil)
	f := e.form("g", 1, false)
	req := joinReq("g", joinOpt{version: 5, member: f.members[0]})
	req.ProtocolType = "connect"
	wantCode(t, "rejoin with another protocol type", e.join(req).ErrorCode, kerr.InconsistentGroupProtocol)
	if gi := e.info("g"); gi.State != "Stable" || gi.ProtocolType != "consumer" {
		t.Fatalf("group after the refused rejoin: %+v", gi)
	}
}
