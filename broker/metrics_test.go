package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Request latency buckets reach past the 5 minutes a JoinGroup may wait
// out a rebalance (max.poll.interval.ms' default), so that its quantiles
// can be read: they stopped at 13 s.
func TestRequestLatencyBucketsReachRebalances(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	rawRequest(t, b, kmsg.NewPtrApiVersionsRequest())
	// Observed once the answer is written, which the client may read first.
	var top float64 // the top finite bucket's bound
	waitFor(t, func() bool {
		mfs, err := b.metrics.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "gokafka_request_duration_seconds" {
				bs := mf.GetMetric()[0].GetHistogram().GetBucket()
				top = bs[len(bs)-1].GetUpperBound()
				return true
			}
		}
		return false
	}, "a request latency observed")
	if top < 300 {
		t.Fatalf("the top finite bucket is %v s, want 300 s or more", top)
	}
}
