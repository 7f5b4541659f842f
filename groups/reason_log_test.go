package groups

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/gokafka/gokafka/internal/testlog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Each "preparing rebalance" line says why, as Kafka's "Preparing to
// rebalance group ... (reason: ...)", with the client's own reason
// (KIP-800) when it gave one: the line gave the generation and member
// count only, so of two rebalances in a row (a cooperative assignor's
// usual pair, a flapping consumer) the log could not say which member
// caused which.
func TestRebalanceReasonLogged(t *testing.T) {
	logs := new(testlog.Buffer)
	e := newEnv(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(logs, nil)) })
	f := e.form("g", 2, false)
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Version, leave.Group = 5, "g"
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: f.members[1], Reason: kmsg.StringPtr("the consumer is being closed")}}
	wantCode(t, "leave", e.s.LeaveGroup(context.Background(), leave).ErrorCode, nil)

	e.form("h", 2, false)
	o := joinOpt{version: 8}
	r := e.join(joinReq("h", o))
	wantCode(t, "first join", r.ErrorCode, kerr.MemberIDRequired)
	o.member = r.MemberID
	req := joinReq("h", o)
	req.Reason = kmsg.StringPtr("scaling out")
	e.goJoin(req)
	e.waitJoining("h", 1)

	var reasons []string
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, `msg="preparing rebalance"`) {
			_, reason, _ := strings.Cut(l, " reason=")
			reasons = append(reasons, strings.TrimSpace(reason))
		}
	}
	for _, want := range []string{
		`"removing member ` + f.members[1] + ` on LeaveGroup; client reason: the consumer is being closed"`,
		`"adding new member ` + o.member + `; client reason: scaling out"`,
	} {
		found := false
		for _, r := range reasons {
			found = found || r == want
		}
		if !found {
			t.Errorf("no rebalance with reason=%s; reasons: %q\n%s", want, reasons, logs.String())
		}
	}
	for _, r := range reasons {
		if r == "" {
			t.Errorf("a rebalance logged with no reason:\n%s", logs.String())
		}
	}
}
