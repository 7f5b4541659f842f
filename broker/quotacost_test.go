package broker

import "testing"

// TestQuotaLookupFreeWithoutKey: a produce or fetch looks up its client's
// quota without allocating when no entity has a quota of that kind (only
// a connection_creation_rate here): quotas of other kinds cost the hot
// paths nothing.
func TestQuotaLookupFreeWithoutKey(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	if e := alterQuota(t, cl, false, "connection_creation_rate", 5, false, "ip", "10.0.0.1"); e.ErrorCode != 0 {
		t.Fatalf("set quota: error %d", e.ErrorCode)
	}
	st := b.node.Controller().State()
	allocs := testing.AllocsPerRun(100, func() {
		resolveQuota(st, "producer_byte_rate", quotaPrincipal, "my-client-id")
	})
	if allocs != 0 {
		t.Errorf("%v allocations per lookup with no producer_byte_rate set anywhere", allocs)
	}
	if _, _, _, ok := resolveQuota(st, "connection_creation_rate", quotaPrincipal, "x"); ok {
		t.Error("a user/client lookup found an ip quota")
	}
}
