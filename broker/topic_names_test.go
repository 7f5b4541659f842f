package broker

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// An illegal name is refused with Kafka's message (Topic.validate, as
// ReplicationControlManager answers it), which kafka-topics prints.
func TestCreateTopicsInvalidNameMessages(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	long := strings.Repeat("a", 250)
	for _, tc := range []struct{ name, want string }{
		{"", "Topic name is invalid: the empty string is not allowed"},
		{".", "Topic name is invalid: '.' is not allowed"},
		{"..", "Topic name is invalid: '..' is not allowed"},
		{long, "Topic name is invalid: the length of '" + long + "' is longer than the max allowed length 249"},
		{"bad/name", "Topic name is invalid: 'bad/name' contains one or more characters other than ASCII alphanumerics, '.', '_' and '-'"},
	} {
		got := request[*kmsg.CreateTopicsResponse](t, cl, createReq(tc.name, 1, 1, false, nil)).Topics[0]
		if got.ErrorCode != kerr.InvalidTopicException.Code || deref(got.ErrorMessage) != tc.want {
			t.Errorf("%q: %v %q, want INVALID_TOPIC_EXCEPTION %q", tc.name, kerr.ErrorForCode(got.ErrorCode), deref(got.ErrorMessage), tc.want)
		}
	}
}
