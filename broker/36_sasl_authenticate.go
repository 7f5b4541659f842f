package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// As Kafka on a PLAINTEXT listener, or on a SASL_PLAINTEXT one once the
// connection is authenticated (see 17_sasl_handshake.go).
func (b *Broker) handleSASLAuthenticate(r *kmsg.SASLAuthenticateRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	resp.ErrorCode = kerr.IllegalSaslState.Code
	resp.ErrorMessage = kmsg.StringPtr("SaslAuthenticate request received after successful authentication")
	resp.SASLAuthBytes = []byte{}
	return resp
}
