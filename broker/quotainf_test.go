package broker

import (
	"math"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestQuotaInfinityRefused: an infinite controller_mutation_rate (a double
// key, which no bound stops) cannot go into the metadata (JSON has no
// Infinity): it is refused as an invalid request, not answered
// REQUEST_TIMED_OUT, which clients take as worth retrying.
func TestQuotaInfinityRefused(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	e := alterQuota(t, cl, false, "controller_mutation_rate", math.Inf(1), false, "client-id", "x")
	if e.ErrorCode != kerr.InvalidRequest.Code {
		msg := ""
		if e.ErrorMessage != nil {
			msg = *e.ErrorMessage
		}
		t.Fatalf("error %d %q, want INVALID_REQUEST", e.ErrorCode, msg)
	}
}
