package broker

import (
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// max.connections.per.ip and its overrides change at run time, as Kafka's
// DynamicConnectionQuota: an operator fends off a client that opens too
// many without a restart. A new limit applies to new connections, counting
// those already held; one that would let no one connect is refused.
func TestDynamicConnectionLimits(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	// served opens a connection and reports whether it is answered.
	served := func() bool {
		t.Helper()
		conn := rawConnTo(t, b.Addr())
		defer conn.Close()
		req := kmsg.NewPtrApiVersionsRequest()
		if _, err := conn.Write(rawFormatter.AppendRequest(nil, req, 1)); err != nil {
			return false
		}
		_, _, err := readResponseFrame(conn)
		return err == nil
	}
	var held []net.Conn
	for range 3 {
		c := rawConnTo(t, b.Addr())
		defer c.Close()
		held = append(held, c)
	}
	if !served() {
		t.Fatal("a connection was refused with no limit set")
	}
	set := func(key, value string) int16 {
		t.Helper()
		return alterConfigOp(t, cl, kmsg.ConfigResourceTypeBroker, "", key, value, kmsg.IncrementalAlterConfigOpSet)
	}
	// 127.0.0.1 holds the three, the admin client's and more: past 3.
	if code := set("max.connections.per.ip.overrides", "127.0.0.1:3"); code != 0 {
		t.Fatalf("setting max.connections.per.ip.overrides: %v", kerr.ErrorForCode(code))
	}
	if served() {
		t.Fatal("a connection past the address's new limit was served")
	}
	if code := set("max.connections.per.ip.overrides", "127.0.0.1:100"); code != 0 {
		t.Fatalf("raising the override: %v", kerr.ErrorForCode(code))
	}
	if !served() {
		t.Fatal("a connection under the raised limit was refused")
	}
	// 0 for everyone else, with the override: allowed, and 127.0.0.1 is
	// still served.
	if code := set("max.connections.per.ip", "0"); code != 0 {
		t.Fatalf("max.connections.per.ip=0 with overrides: %v", kerr.ErrorForCode(code))
	}
	if !served() {
		t.Fatal("the overridden address was refused")
	}
	// Taking the override away would lock everyone out.
	if code := alterConfigOp(t, cl, kmsg.ConfigResourceTypeBroker, "", "max.connections.per.ip.overrides", "", kmsg.IncrementalAlterConfigOpDelete); code != kerr.InvalidRequest.Code {
		t.Fatalf("deleting the overrides under max.connections.per.ip=0: %v, want INVALID_REQUEST", kerr.ErrorForCode(code))
	}
	if code := set("max.connections.per.ip", "-1"); code != kerr.InvalidRequest.Code {
		t.Fatalf("max.connections.per.ip=-1: %v, want INVALID_REQUEST", kerr.ErrorForCode(code))
	}
	if code := set("max.connections.per.ip.overrides", "127.0.0.1"); code != kerr.InvalidRequest.Code {
		t.Fatalf("an override without a count: %v, want INVALID_REQUEST", kerr.ErrorForCode(code))
	}
	for _, c := range held {
		if _, err := c.Write(rawFormatter.AppendRequest(nil, kmsg.NewPtrApiVersionsRequest(), 2)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := readResponseFrame(c); err != nil {
			t.Fatalf("a connection held before the limits changed: %v", err)
		}
	}
}
