package broker

import (
	"strconv"
	"testing"
	"time"
)

// TestQuotaStatePurged: the per-client buckets of controller_mutation_rate
// and the per-address rates of connection_creation_rate are dropped once
// unused for quotaSensorIdle, as the byte rates are, even when no byte-rate
// quota is set: client ids and addresses are the clients' to choose, and
// under a default entity's quota each has its own.
func TestQuotaStatePurged(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	if e := alterQuota(t, cl, false, "controller_mutation_rate", 100, false, "client-id", nil); e.ErrorCode != 0 {
		t.Fatalf("set quota: error %d", e.ErrorCode)
	}
	if e := alterQuota(t, cl, false, "connection_creation_rate", 100, false, "ip", nil); e.ErrorCode != 0 {
		t.Fatalf("set quota: error %d", e.ErrorCode)
	}
	for i := range 100 {
		mq := &mutationQuota{b: b, qc: quotaClient{quotaPrincipal, "c" + strconv.Itoa(i)}, strict: true}
		if err := mq.take(1); err != nil {
			t.Fatal(err)
		}
		b.connThrottle("10.0.0." + strconv.Itoa(i))
	}
	q := &b.quotas
	q.mu.Lock()
	if len(q.buckets) != 100 || len(q.rates) != 100 {
		t.Fatalf("%d buckets, %d rates; want 100 of each", len(q.buckets), len(q.rates))
	}
	old := time.Now().Add(-2 * quotaSensorIdle)
	for _, bk := range q.buckets {
		bk.at = old
	}
	for _, r := range q.rates {
		r.last = old
	}
	q.lastPurge = time.Time{}
	q.mu.Unlock()

	(&mutationQuota{b: b, qc: quotaClient{quotaPrincipal, "new"}, strict: true}).take(1)
	b.connThrottle("10.0.1.1")
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.buckets) != 1 || len(q.rates) != 1 {
		t.Errorf("%d buckets, %d rates after an hour unused; want only the new ones", len(q.buckets), len(q.rates))
	}
}

// TestQuotaStatePurgedWithoutTraffic: idle rates are dropped on the
// broker's own timer, as Kafka's sensors expire whether clients come or
// not. Purged only when a client under a quota was counted, the rate of
// every client id seen before the default client quota was removed was
// kept for good: nothing is counted once there is no quota.
func TestQuotaStatePurgedWithoutTraffic(t *testing.T) {
	defer func(d time.Duration) { quotaPurgeEvery = d }(quotaPurgeEvery)
	quotaPurgeEvery = 10 * time.Millisecond
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	if e := alterQuota(t, cl, false, "producer_byte_rate", 1e12, false, "client-id", nil); e.ErrorCode != 0 {
		t.Fatalf("set quota: error %d", e.ErrorCode)
	}
	for i := range 100 {
		if ms := b.throttle(quotaProduce, quotaClient{quotaPrincipal, "c" + strconv.Itoa(i)}, 1, false); ms != 0 {
			t.Fatalf("throttled %d ms under a quota of 1e12 bytes/s", ms)
		}
	}
	if e := alterQuota(t, cl, false, "producer_byte_rate", 0, true, "client-id", nil); e.ErrorCode != 0 {
		t.Fatalf("remove quota: error %d", e.ErrorCode)
	}
	q := &b.quotas
	q.mu.Lock()
	if len(q.rates) != 100 {
		q.mu.Unlock()
		t.Fatalf("%d rates; want 100", len(q.rates))
	}
	q.now = func() time.Time { return time.Now().Add(2 * quotaSensorIdle) }
	q.mu.Unlock()

	deadline := time.Now().Add(5 * time.Second)
	for {
		q.mu.Lock()
		n := len(q.rates)
		q.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rates still held an hour after their last use, with no quota left", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
