package broker

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestQuotaRateOverlappingSample: as Kafka's Rate since 3.8, a sample is
// dropped once its last value, not its start, is quota.window.num windows
// old: what a client sent late in a sample that began just before the
// windows measured still counts, over the time since that sample began.
// Dropped by its start, the client's 1000 bytes were forgotten a window
// early, and 600 more bytes went unthrottled.
func TestQuotaRateOverlappingSample(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	if e := alterQuota(t, cl, false, "producer_byte_rate", 100, false, "client-id", "c"); e.ErrorCode != 0 {
		t.Fatalf("set quota: error %d", e.ErrorCode)
	}
	var nowMs atomic.Int64
	b.quotas.mu.Lock()
	b.quotas.now = func() time.Time { return time.UnixMilli(nowMs.Load()) }
	b.quotas.mu.Unlock()

	nowMs.Store(1_000_000)
	if ms := b.throttle(quotaProduce, quotaClient{quotaPrincipal, "c"}, 500, false); ms != 0 {
		t.Fatalf("first produce throttled %d ms", ms)
	}
	nowMs.Store(1_000_900) // 1000 B over 10.9 s: 92 B/s
	if ms := b.throttle(quotaProduce, quotaClient{quotaPrincipal, "c"}, 500, false); ms != 0 {
		t.Fatalf("second produce throttled %d ms", ms)
	}
	// 11.5 s after the first sample began, 10.6 s after its last bytes:
	// 1600 B over 11.5 s is 139 B/s, and Kafka's throttle is
	// (139 - 100) / 100 * 11500 ms.
	nowMs.Store(1_011_500)
	if ms := b.throttle(quotaProduce, quotaClient{quotaPrincipal, "c"}, 600, false); ms != 4500 {
		t.Errorf("throttle %d ms, want Kafka's 4500", ms)
	}
}
