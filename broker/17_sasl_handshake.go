package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxSASLMechanismLog bounds the mechanism logged: SASL mechanism names
// have at most 20 characters (RFC 4422).
const maxSASLMechanismLog = 64

// The listener is PLAINTEXT: there is no SASL to take part in. Kafka still
// lists SaslHandshake and SaslAuthenticate on such a listener and answers
// both ILLEGAL_SASL_STATE, so a client configured for SASL against it
// reports an authentication failure, not an unsupported request.
func (b *Broker) handleSASLHandshake(r *kmsg.SASLHandshakeRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
	resp.ErrorCode = kerr.IllegalSaslState.Code
	resp.SupportedMechanisms = []string{}
	// The client hears only of a SASL state: the log says what happened,
	// once a minute whatever the mechanism. The mechanism is the client's
	// string (up to 32 KiB): kept and logged for each new one, a client
	// naming a new one each time grew the heap and the log without bound.
	if b.saslWarn.allow("") {
		mech := r.Mechanism
		if len(mech) > maxSASLMechanismLog {
			mech = mech[:maxSASLMechanismLog] + "..."
		}
		b.logger.Warn("a client asked for SASL authentication, which gokafkad does not serve yet: set it to security.protocol=PLAINTEXT (it sees ILLEGAL_SASL_STATE)", "mechanism", mech)
	}
	return resp
}
