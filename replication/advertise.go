package replication

import (
	"fmt"
	"net"
	"os"
	"strconv"
)

// AdvertiseAddr is the address to give others for a socket bound to addr
// when none is configured: the bound address itself, or, for a wildcard
// bind (0.0.0.0, ::), this machine's host name, as Kafka advertises a
// listener with no host. A wildcard is no address a peer can dial.
func AdvertiseAddr(addr net.Addr) (string, error) {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		if host, err = os.Hostname(); err != nil {
			return "", fmt.Errorf("listening on all addresses and no host name to advertise: %w", err)
		}
	}
	return net.JoinHostPort(host, port), nil
}

// CheckAdvertised refuses a configured address others cannot dial: no host,
// a wildcard host (Kafka refuses 0.0.0.0 in advertised.listeners too), or a
// port outside 1-65535.
func CheckAdvertised(adv string) error {
	host, port, err := net.SplitHostPort(adv)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("%q: a wildcard or empty host is not an address clients can dial; give a routable host", adv)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q: port must be 1-65535", adv)
	}
	return nil
}
