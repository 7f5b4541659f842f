package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestReassignmentsAndQuotas: no partition is ever being reassigned, and
// with no client quota set, both lists are empty, as a Kafka without
// either answers; DescribeClientQuotas makes Kafka's filter checks.
func TestReassignmentsAndQuotas(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "rq", 1, nil)
	for _, topics := range [][]string{nil, {"rq", "nosuch"}} {
		req := kmsg.NewPtrListPartitionReassignmentsRequest()
		for _, name := range topics {
			rt := kmsg.NewListPartitionReassignmentsRequestTopic()
			rt.Topic, rt.Partitions = name, []int32{0}
			req.Topics = append(req.Topics, rt)
		}
		if resp := request[*kmsg.ListPartitionReassignmentsResponse](t, cl, req); resp.ErrorCode != 0 || len(resp.Topics) != 0 {
			t.Errorf("reassignments of %v: error %d, %d topics, want none", topics, resp.ErrorCode, len(resp.Topics))
		}
	}
	type comp struct {
		typ   string
		match kmsg.QuotasMatchType
		name  *string
	}
	alice := kmsg.StringPtr("alice")
	for _, tc := range []struct {
		comps []comp
		want  *kerr.Error
	}{
		{nil, nil},
		{[]comp{{"user", kmsg.QuotasMatchTypeExact, alice}, {"client-id", kmsg.QuotasMatchTypeAny, nil}}, nil},
		{[]comp{{"ip", kmsg.QuotasMatchTypeDefault, nil}}, nil},
		{[]comp{{"", kmsg.QuotasMatchTypeAny, nil}}, kerr.InvalidRequest},
		{[]comp{{"user", kmsg.QuotasMatchTypeAny, nil}, {"user", kmsg.QuotasMatchTypeDefault, nil}}, kerr.InvalidRequest},
		{[]comp{{"group", kmsg.QuotasMatchTypeAny, nil}}, kerr.UnsupportedVersion},
		{[]comp{{"user", kmsg.QuotasMatchTypeExact, nil}}, kerr.InvalidRequest},
		{[]comp{{"user", kmsg.QuotasMatchTypeDefault, alice}}, kerr.InvalidRequest},
		{[]comp{{"user", 7, nil}}, kerr.InvalidRequest}, // as Kafka's ClientQuotasImage

		{[]comp{{"ip", kmsg.QuotasMatchTypeAny, nil}, {"user", kmsg.QuotasMatchTypeAny, nil}}, kerr.InvalidRequest},
	} {
		req := kmsg.NewPtrDescribeClientQuotasRequest()
		for _, c := range tc.comps {
			rc := kmsg.NewDescribeClientQuotasRequestComponent()
			rc.EntityType, rc.MatchType, rc.Match = c.typ, c.match, c.name
			req.Components = append(req.Components, rc)
		}
		resp := request[*kmsg.DescribeClientQuotasResponse](t, cl, req)
		if err := kerr.ErrorForCode(resp.ErrorCode); err != tc.want && !(tc.want == nil && err == nil) {
			t.Errorf("quotas %+v: error %v, want %v", tc.comps, err, tc.want)
		}
		if tc.want == nil && (resp.Entries == nil || len(resp.Entries) != 0) {
			t.Errorf("quotas %+v: entries %v, want an empty list", tc.comps, resp.Entries)
		}
	}
}
