package broker

import "testing"

// TestConnectionQuotaAddressSpelling: a connection_creation_rate quota set
// on an address written another way than the connection's (an IPv4-mapped
// IPv6 address here) applies to it, as Kafka keys these quotas by the
// address it resolves the entity name to.
func TestConnectionQuotaAddressSpelling(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	if e := alterQuota(t, cl, false, "connection_creation_rate", 1, false, "ip", "::ffff:10.1.2.3"); e.ErrorCode != 0 {
		t.Fatalf("set quota: error %d", e.ErrorCode)
	}
	throttled := 0
	for range 20 {
		if b.connThrottle("10.1.2.3") > 0 {
			throttled++
		}
	}
	if throttled == 0 {
		t.Fatal("20 connections at once from 10.1.2.3 under a quota of 1/s on ::ffff:10.1.2.3: none throttled")
	}
}

// TestConnectionQuotaHostName: a connection_creation_rate quota set on an
// ip entity named by a host name applies to the addresses the name
// resolves to, as Kafka resolves the name when it applies the quota; it
// matched no connection before.
func TestConnectionQuotaHostName(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	if e := alterQuota(t, cl, false, "connection_creation_rate", 1, false, "ip", "localhost"); e.ErrorCode != 0 {
		t.Fatalf("set quota: error %d", e.ErrorCode)
	}
	throttled := 0
	for range 20 {
		if b.connThrottle("127.0.0.1") > 0 {
			throttled++
		}
	}
	if throttled == 0 {
		t.Fatal("20 connections at once from 127.0.0.1 under a quota of 1/s on localhost: none throttled")
	}
}
