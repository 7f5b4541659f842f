package broker

import "testing"

// TestConnectionQuotaEntityName: a connection_creation_rate quota set on
// an ip entity applies to the connections of the address it names however
// it is written: another spelling of the address (an IPv4-mapped IPv6
// address here), or a host name, resolved to its addresses. Kafka keys
// these quotas by the address (InetAddress) it resolves the entity name to;
// before, each matched no connection.
func TestConnectionQuotaEntityName(t *testing.T) {
	for _, tc := range []struct{ entity, conn string }{
		{"::ffff:10.1.2.3", "10.1.2.3"},
		{"localhost", "127.0.0.1"},
	} {
		t.Run(tc.entity, func(t *testing.T) {
			b := startBroker(t, t.TempDir(), nil)
			defer b.Close()
			cl := newClient(t, b)
			if e := alterQuota(t, cl, false, "connection_creation_rate", 1, false, "ip", tc.entity); e.ErrorCode != 0 {
				t.Fatalf("set quota: error %d", e.ErrorCode)
			}
			throttled := 0
			for range 20 {
				if b.connThrottle(tc.conn) > 0 {
					throttled++
				}
			}
			if throttled == 0 {
				t.Fatalf("20 connections at once from %s under a quota of 1/s on %s: none throttled", tc.conn, tc.entity)
			}
		})
	}
}
