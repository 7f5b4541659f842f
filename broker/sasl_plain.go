package broker

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"github.com/gokafka/gokafka/internal/jaas"
)

// plainLoginModule is the JAAS login module of SASL/PLAIN, whose options
// user_NAME="password" are the users a listener's PLAIN accepts (Kafka's
// PlainServerCallbackHandler).
const plainLoginModule = "org.apache.kafka.common.security.plain.PlainLoginModule"

// plainServer is the server side of SASL/PLAIN (RFC 4616), as Kafka's
// PlainSaslServer: one message, authzid NUL user NUL password, checked
// against the users of the listener's JAAS configuration.
type plainServer struct {
	users    map[string]string
	username string
	finished bool
}

func (s *plainServer) step(msg []byte) ([]byte, error) {
	if s.finished {
		return nil, errors.New("the exchange is over")
	}
	s.finished = true
	tokens := strings.Split(string(msg), "\x00")
	if len(tokens) != 3 {
		return nil, fmt.Errorf("Invalid SASL/PLAIN response: expected 3 tokens, got %d", len(tokens))
	}
	authz, user, pass := tokens[0], tokens[1], tokens[2]
	if user == "" {
		return nil, saslFailure("Authentication failed: username not specified")
	}
	if pass == "" {
		return nil, saslFailure("Authentication failed: password not specified")
	}
	s.username = user
	want, ok := s.users[user]
	// Digests compared in constant time: neither the password's length
	// nor where it first differs shows in the time taken.
	w, g := sha256.Sum256([]byte(want)), sha256.Sum256([]byte(pass))
	if subtle.ConstantTimeCompare(w[:], g[:]) != 1 || !ok {
		return nil, saslFailure("Authentication failed: Invalid username or password")
	}
	if authz != "" && authz != user {
		return nil, saslFailure("Authentication failed: Client requested an authorization id that is different from username")
	}
	return []byte{}, nil
}

func (s *plainServer) done() bool   { return s.finished }
func (s *plainServer) user() string { return s.username }

// plainUsers are the users of a PLAIN JAAS entry: its user_NAME options.
func plainUsers(e jaas.Entry) map[string]string {
	users := map[string]string{}
	for k, v := range e.Options {
		if name, ok := strings.CutPrefix(k, "user_"); ok {
			users[name] = v
		}
	}
	return users
}
