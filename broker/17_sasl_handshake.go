package broker

import (
	"github.com/gokafka/gokafka/protocol"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxSASLMechanismLog bounds the mechanism logged: SASL mechanism names
// have at most 20 characters (RFC 4422).
const maxSASLMechanismLog = 64

// handleSASLHandshake answers a handshake on a PLAINTEXT listener, or on a
// SASL_PLAINTEXT one once the connection is authenticated (before that,
// saslStep takes it): there is no SASL to take part in. Kafka still lists
// SaslHandshake and SaslAuthenticate on such a listener and answers both
// ILLEGAL_SASL_STATE, so a client configured for SASL against it reports
// an authentication failure, not an unsupported request.
func (b *Broker) handleSASLHandshake(r *kmsg.SASLHandshakeRequest, req *protocol.Request) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.ErrorCode = kerr.IllegalSaslState.Code
	resp.SupportedMechanisms = []string{}
	// The client hears only of a SASL state: the log says what happened,
	// once a minute whatever the mechanism. The mechanism is the client's
	// string (up to 32 KiB): kept and logged for each new one, a client
	// naming a new one each time grew the heap and the log without bound.
	if b.saslWarn.allow("") {
		mech := clip(r.Mechanism, maxSASLMechanismLog)
		b.logger.Warn("a client asked for SASL authentication on a listener without it (PLAINTEXT or SSL, or a SASL one once authenticated): set it to the listener's security.protocol (it sees ILLEGAL_SASL_STATE)",
			append([]any{"mechanism", mech}, clientAttrs(req)...)...)
	}
	return resp
}

// maxClientIDLog bounds a client id logged: a request may make it 32 KiB.
const maxClientIDLog = 128

// clientAttrs names the client of a request in a log line, as the
// protocol package names a connection's: its address and client id, so
// that an operator told of a misconfigured client can find it.
func clientAttrs(req *protocol.Request) []any {
	id := clip(req.ClientID, maxClientIDLog)
	var remote string
	if req.Conn != nil && req.Conn.Remote != nil {
		remote = req.Conn.Remote.String()
	}
	return []any{"remote", remote, "client_id", id}
}
