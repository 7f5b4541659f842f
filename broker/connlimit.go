package broker

import (
	"net"
	"strconv"
	"strings"
	"sync"
)

// connLimits holds the per-address connection limit in force, made from
// max.connections.per.ip and its overrides as they were last read.
type connLimits struct {
	mu               sync.Mutex
	made             bool
	perIP, overrides string              // the values limit was made from
	limit            func(ip string) int // nil: no bound
}

// connLimitFor is protocol.Config.MaxConnsPerIP: how many connections ip
// may hold under max.connections.per.ip and its overrides, static or set
// at run time (cluster-wide or for this broker), as Kafka lets an operator
// fend off a client that opens too many without a restart. A new limit
// applies to new connections; those held stay, as in Kafka.
func (b *Broker) connLimitFor(ip string) int {
	st := b.node.Controller().State()
	perIP := b.brokerValue(st, "max.connections.per.ip")
	overrides := b.brokerValue(st, "max.connections.per.ip.overrides")
	c := &b.connLimits
	c.mu.Lock()
	if !c.made || perIP != c.perIP || overrides != c.overrides {
		// Made again only when a value changes: the overrides' host names
		// are looked up here.
		n, err := strconv.ParseInt(strings.TrimSpace(perIP), 10, 64)
		var limit func(string) int
		if err == nil {
			limit, err = connLimitOf(n, overrides, net.LookupIP)
		}
		if err != nil {
			b.logger.Warn("max.connections.per.ip: keeping the limits in force", "err", err)
		} else {
			c.limit = limit
		}
		c.made, c.perIP, c.overrides = true, perIP, overrides
	}
	limit := c.limit
	c.mu.Unlock()
	if limit == nil {
		return -1
	}
	return limit(ip)
}
