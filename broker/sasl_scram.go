package broker

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"strconv"
	"strings"

	"github.com/gokafka/gokafka/replication"
)

// scramMechanisms are the SCRAM mechanisms served (RFC 5802, RFC 7677), by
// their SASL names, with the least iteration count Kafka's ScramMechanism
// accepts for a credential.
var scramMechanisms = map[string]struct {
	hash          func() hash.Hash
	minIterations int32
}{
	"SCRAM-SHA-256": {sha256.New, 4096},
	"SCRAM-SHA-512": {sha512.New, 4096},
}

// errScramCredentials is a SCRAM exchange that failed for its credentials
// (unknown user, wrong proof): Kafka tells the client no more than that.
var errScramCredentials = errors.New("invalid credentials")

// saslFailure is a failed authentication whose text the client is told, as
// Kafka's SaslAuthenticationException; for any other error it is told only
// that its credentials were invalid, which says nothing of whether the user
// exists.
type saslFailure string

func (f saslFailure) Error() string { return string(f) }

// scramServer is the server side of one SCRAM exchange, as Kafka's
// ScramSaslServer runs it: a client-first message answered with the
// server-first, a client-final answered with the server-final, which proves
// the server knew the credential. No channel binding and no extension
// (Kafka's only one, tokenauth, is for delegation tokens, not served).
type scramServer struct {
	mechanism string
	lookup    func(user string) (replication.ScramCredential, bool)

	username                  string
	cred                      replication.ScramCredential
	clientFirstBare           string
	serverFirst               string
	nonce                     string // the client's and the server's, together
	serverFirstSent, finished bool
}

func (s *scramServer) done() bool   { return s.finished }
func (s *scramServer) user() string { return s.username }

// step takes the client's next message and returns the server's answer.
// An error ends the exchange: errScramCredentials, or another describing
// a malformed message.
func (s *scramServer) step(msg []byte) ([]byte, error) {
	switch {
	case s.finished:
		return nil, errors.New("the exchange is over")
	case !s.serverFirstSent:
		return s.clientFirst(string(msg))
	default:
		return s.clientFinal(string(msg))
	}
}

func (s *scramServer) clientFirst(m string) ([]byte, error) {
	// gs2-header: n or y (no channel binding), an optional authzid.
	flag, rest, ok := strings.Cut(m, ",")
	if !ok || (flag != "n" && flag != "y") {
		return nil, errors.New("invalid client first message: channel binding is not supported")
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok || (authz != "" && !strings.HasPrefix(authz, "a=")) {
		return nil, errors.New("invalid client first message: bad authorization id")
	}
	fields := strings.Split(bare, ",")
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "n=") || !strings.HasPrefix(fields[1], "r=") || len(fields[1]) == 2 {
		return nil, errors.New("invalid client first message: no user name and nonce")
	}
	if len(fields) > 2 {
		return nil, errors.New("unsupported extensions in the client first message")
	}
	user, err := saslName(fields[0][2:])
	if err != nil || user == "" {
		return nil, errors.New("invalid client first message: bad user name")
	}
	if authz != "" {
		a, err := saslName(authz[2:])
		if err != nil {
			return nil, errors.New("invalid client first message: bad authorization id")
		}
		if a != user {
			return nil, saslFailure("Authentication failed: Client requested an authorization id that is different from username")
		}
	}
	cred, ok := s.lookup(user)
	if !ok || cred.Iterations < scramMechanisms[s.mechanism].minIterations {
		return nil, errScramCredentials
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	s.username, s.cred, s.clientFirstBare = user, cred, bare
	s.nonce = fields[1][2:] + base64.RawURLEncoding.EncodeToString(b[:])
	s.serverFirst = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(cred.Salt) + ",i=" + strconv.Itoa(int(cred.Iterations))
	s.serverFirstSent = true
	return []byte(s.serverFirst), nil
}

func (s *scramServer) clientFinal(m string) ([]byte, error) {
	s.finished = true
	without, proofField, ok := strings.Cut(m, ",p=")
	if !ok || strings.Contains(proofField, ",") {
		return nil, errors.New("invalid client final message")
	}
	fields := strings.Split(without, ",")
	if len(fields) != 2 || !strings.HasPrefix(fields[0], "c=") || !strings.HasPrefix(fields[1], "r=") {
		return nil, errors.New("invalid client final message")
	}
	// As Kafka's check (endsWith): librdkafka sends its own nonce again
	// in front of the server's whole one.
	if !strings.HasSuffix(fields[1][2:], s.nonce) {
		return nil, errors.New("invalid client nonce in the final client message")
	}
	proof, err := base64.StdEncoding.DecodeString(proofField)
	if err != nil {
		return nil, errors.New("invalid client final message: bad proof")
	}
	h := scramMechanisms[s.mechanism].hash
	authMessage := []byte(s.clientFirstBare + "," + s.serverFirst + "," + without)
	clientSig := hmacOf(h, s.cred.StoredKey, authMessage)
	if len(proof) != len(clientSig) {
		return nil, errScramCredentials
	}
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ clientSig[i]
	}
	stored := h()
	stored.Write(clientKey)
	if subtle.ConstantTimeCompare(stored.Sum(nil), s.cred.StoredKey) != 1 {
		return nil, errScramCredentials
	}
	return []byte("v=" + base64.StdEncoding.EncodeToString(hmacOf(h, s.cred.ServerKey, authMessage))), nil
}

func hmacOf(h func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}

// saslName decodes a SCRAM saslname: "=2C" is a comma, "=3D" an equals
// sign, and any other '=' is invalid (RFC 5802).
func saslName(s string) (string, error) {
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", errors.New("invalid saslname")
		}
		i += 2
	}
	return b.String(), nil
}
