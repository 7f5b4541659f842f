package broker

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/gokafka/gokafka/protocol"
	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// failedAuthDelay is Kafka's connection.failed.authentication.delay.ms:
// the answer to a failed authentication, and the close after it, wait this
// long, which slows a client guessing passwords.
const failedAuthDelay = 100 * time.Millisecond

// saslSession is a SASL_PLAINTEXT connection's authentication while it
// runs (protocol.ConnInfo.SASL), as Kafka's SaslServerAuthenticator: a
// SaslHandshake names the mechanism, then SaslAuthenticate requests carry
// its exchange until it succeeds, which lets the connection's other
// requests through (protocol holds them back until then), or fails, which
// closes the connection.
type saslSession struct {
	mechanism string
	server    saslServer // nil until the handshake
}

// saslServer is the server side of one SASL mechanism's exchange.
type saslServer interface {
	// step takes the client's next message and returns the answer; an
	// error ends the exchange (a saslFailure's text is the client's).
	step(msg []byte) ([]byte, error)
	// done reports whether the exchange succeeded, once step returned.
	done() bool
	// user is the user the client named.
	user() string
}

// saslStep answers a SaslHandshake or SaslAuthenticate on a connection that
// is still authenticating.
func (b *Broker) saslStep(ctx context.Context, req *protocol.Request) protocol.Reply {
	s, _ := req.Conn.SASL.(*saslSession)
	if s == nil {
		s = &saslSession{}
		req.Conn.SASL = s
	}
	switch r := req.Body.(type) {
	case *kmsg.SASLHandshakeRequest:
		resp := r.ResponseKind().(*kmsg.SASLHandshakeResponse)
		mechs := b.cfg.saslMechanisms()
		resp.SupportedMechanisms = mechs
		if s.server != nil {
			// As Kafka: a second handshake is out of order.
			resp.ErrorCode = kerr.IllegalSaslState.Code
			return now(protocol.CloseAfter(resp, "a second SASL handshake"))
		}
		if !slices.Contains(mechs, r.Mechanism) {
			resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
			return now(protocol.CloseAfter(resp, "SASL mechanism not enabled: "+clip(r.Mechanism, maxSASLMechanismLog)))
		}
		mech := r.Mechanism
		s.mechanism = mech
		if mech == "PLAIN" {
			s.server = &plainServer{users: b.cfg.plainUsers(req.Conn.Listener)}
		} else {
			s.server = &scramServer{mechanism: mech, lookup: func(user string) (replication.ScramCredential, bool) {
				return b.node.Controller().State().ScramCredential(user, mech)
			}}
		}
		if r.Version == 0 {
			// The exchange follows in bare tokens, outside Kafka's
			// framing, as clients before Kafka 1.0 (and kafka-python
			// 2.0) send it; protocol hands each in as a
			// SaslAuthenticate v0 with RawSASL set.
			req.Conn.RawSASLTokens()
		}
		return now(resp)
	case *kmsg.SASLAuthenticateRequest:
		resp := r.ResponseKind().(*kmsg.SASLAuthenticateResponse)
		resp.SASLAuthBytes = []byte{}
		if s.server == nil {
			resp.ErrorCode = kerr.IllegalSaslState.Code
			resp.ErrorMessage = kmsg.StringPtr("Unexpected SaslAuthenticate request before a SaslHandshake")
			return now(protocol.CloseAfter(resp, "SaslAuthenticate before a SaslHandshake"))
		}
		out, err := s.server.step(r.SASLAuthBytes)
		if err != nil {
			msg := "Authentication failed during authentication due to invalid credentials with SASL mechanism " + s.mechanism
			var f saslFailure
			if errors.As(err, &f) {
				msg = string(f)
			}
			resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
			resp.ErrorMessage = kmsg.StringPtr(msg)
			b.logger.Info("SASL authentication failed", append([]any{"mechanism", s.mechanism, "user", clip(s.server.user(), maxClientIDLog), "reason", err}, clientAttrs(req)...)...)
			return func() kmsg.Response {
				t := time.NewTimer(failedAuthDelay)
				defer t.Stop()
				select {
				case <-t.C:
				case <-ctx.Done():
				}
				if req.RawSASL {
					// A bare token has no error answer: the close says it.
					return protocol.Hangup(resp, "SASL authentication failed")
				}
				return protocol.CloseAfter(resp, "SASL authentication failed")
			}
		}
		resp.SASLAuthBytes = out
		if s.server.done() {
			req.Conn.User = s.server.user()
			req.Conn.Authenticated()
			req.Conn.SASL = nil
			b.logger.Debug("SASL authentication succeeded", append([]any{"mechanism", s.mechanism, "user", req.Conn.User}, clientAttrs(req)...)...)
		}
		return now(resp)
	}
	return nil
}

// clip bounds a client's string for a log line.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
