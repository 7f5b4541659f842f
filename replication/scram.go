package replication

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"hash"
	"maps"
	"slices"
)

// SCRAM mechanisms, as Kafka names them.
const (
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA512 = "SCRAM-SHA-512"
)

// ScramMechanisms are the SCRAM mechanisms, in the order of their Kafka
// type (1 and 2).
var ScramMechanisms = []string{ScramSHA256, ScramSHA512}

// ScramCredential is one user's credential for one SCRAM mechanism, as Kafka keeps it
// (ScramCredential: salt, stored key, server key, iterations).
type ScramCredential struct {
	Salt       []byte `json:"salt"`
	StoredKey  []byte `json:"stored_key"`
	ServerKey  []byte `json:"server_key"`
	Iterations int32  `json:"iterations"`
}

// ScramAlteration is one change of a user's SCRAM credentials: Credential
// replaces the user's credential for Mechanism, or, nil, deletes it.
type ScramAlteration struct {
	User       string           `json:"user"`
	Mechanism  string           `json:"mechanism"`
	Credential *ScramCredential `json:"credential,omitempty"`
}

// scramHash returns mechanism's hash function, or nil for a mechanism that
// is not SCRAM's.
func scramHash(mechanism string) func() hash.Hash {
	switch mechanism {
	case ScramSHA256:
		return sha256.New
	case ScramSHA512:
		return sha512.New
	}
	return nil
}

// NewScramCredential derives the credential kept for a salted password
// (Hi(password, salt, iterations), which a client sends in
// AlterUserScramCredentials) as RFC 5802 and Kafka's ScramFormatter do:
// StoredKey = H(HMAC(salted, "Client Key")), ServerKey = HMAC(salted,
// "Server Key"). The salted password itself is not kept.
func NewScramCredential(mechanism string, salt, saltedPassword []byte, iterations int32) (ScramCredential, error) {
	h := scramHash(mechanism)
	if h == nil {
		return ScramCredential{}, errors.New("unknown SCRAM mechanism " + mechanism)
	}
	mac := func(msg string) []byte {
		m := hmac.New(h, saltedPassword)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	d := h()
	d.Write(mac("Client Key"))
	return ScramCredential{
		Salt:       slices.Clone(salt),
		StoredKey:  d.Sum(nil),
		ServerKey:  mac("Server Key"),
		Iterations: iterations,
	}, nil
}

// ScramCredential returns user's credential for mechanism ("SCRAM-SHA-256" or "SCRAM-SHA-512") in the state.
func (s *State) ScramCredential(user, mechanism string) (ScramCredential, bool) {
	c, ok := s.ScramCredentials[user][mechanism]
	return c, ok
}

// checkScramAlterations reports whether every alteration names a user and
// a SCRAM mechanism, and every upsertion carries a credential.
func checkScramAlterations(alts []ScramAlteration) bool {
	for _, a := range alts {
		if a.User == "" || scramHash(a.Mechanism) == nil {
			return false
		}
	}
	return true
}

// applyScramAlterations applies alts, already checked by the broker, to
// s.ScramCredentials (a copy of the old map, and of each user's changed,
// as States are immutable). Deleting a credential that does not exist
// changes nothing.
func applyScramAlterations(s *State, alts []ScramAlteration) {
	next := maps.Clone(s.ScramCredentials)
	if next == nil {
		next = map[string]map[string]ScramCredential{}
	}
	copied := map[string]bool{}
	for _, a := range alts {
		if !copied[a.User] {
			next[a.User] = maps.Clone(next[a.User])
			copied[a.User] = true
		}
		if a.Credential == nil {
			delete(next[a.User], a.Mechanism)
		} else {
			if next[a.User] == nil {
				next[a.User] = map[string]ScramCredential{}
			}
			next[a.User][a.Mechanism] = *a.Credential
		}
		if len(next[a.User]) == 0 {
			delete(next, a.User)
		}
	}
	if len(next) == 0 {
		next = nil
	}
	s.ScramCredentials = next
}
