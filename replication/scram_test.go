package replication

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"
)

// NewScramCredential derives the keys RFC 5802 defines, which Kafka's
// ScramFormatter computes: the test vector of RFC 7677 (SCRAM-SHA-256,
// user "user", password "pencil", 4096 iterations) gives the ServerKey its
// server signature is checked with, and a client proof made with its
// ClientKey hashes to the StoredKey.
func TestNewScramCredential(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	salted, err := pbkdf2.Key(sha256.New, "pencil", salt, 4096, sha256.Size)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewScramCredential(ScramSHA256, salt, salted, 4096)
	if err != nil {
		t.Fatal(err)
	}
	authMessage := "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	mac := func(key []byte, msg string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	// v= of the RFC's server-final-message.
	if got := base64.StdEncoding.EncodeToString(mac(c.ServerKey, authMessage)); got != "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" {
		t.Errorf("server signature %s", got)
	}
	// p= of the RFC's client-final-message: ClientKey XOR ClientSignature.
	proof, _ := base64.StdEncoding.DecodeString("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	sig := mac(c.StoredKey, authMessage)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ sig[i]
	}
	if h := sha256.Sum256(clientKey); !bytes.Equal(h[:], c.StoredKey) {
		t.Errorf("stored key %x is not H(ClientKey) %x", c.StoredKey, h)
	}
	if !bytes.Equal(c.Salt, salt) || c.Iterations != 4096 {
		t.Errorf("salt %x iterations %d", c.Salt, c.Iterations)
	}
	c512, err := NewScramCredential(ScramSHA512, salt, salted, 8192)
	if err != nil || len(c512.StoredKey) != sha512.Size || len(c512.ServerKey) != sha512.Size {
		t.Errorf("SCRAM-SHA-512: %d-byte stored key, %d-byte server key, %v", len(c512.StoredKey), len(c512.ServerKey), err)
	}
	if _, err := NewScramCredential("SCRAM-SHA-1", salt, salted, 4096); err == nil {
		t.Error("SCRAM-SHA-1 accepted")
	}
}

// alter_scram_credentials sets and deletes credentials, all or nothing,
// without changing the state it was applied to a copy of (States are
// immutable), and logs the users and mechanisms, never a key.
func TestApplyScramAlterations(t *testing.T) {
	var logs bytes.Buffer
	c := &Controller{logger: slog.New(slog.NewTextHandler(&logs, nil))}
	cred := func(b byte) *ScramCredential {
		return &ScramCredential{Salt: []byte{b}, StoredKey: []byte{b, 1}, ServerKey: []byte{b, 2}, Iterations: 4096 + int32(b)}
	}
	s1 := emptyState()
	if res := c.apply(s1, &Command{Op: OpAlterScramCredentials, Scram: []ScramAlteration{
		{User: "alice", Mechanism: ScramSHA256, Credential: cred(1)},
		{User: "alice", Mechanism: ScramSHA512, Credential: cred(2)},
		{User: "bob", Mechanism: ScramSHA256, Credential: cred(3)},
	}}); res != nil {
		t.Fatal(res)
	}
	s2 := s1.clone()
	if res := c.apply(s2, &Command{Op: OpAlterScramCredentials, Scram: []ScramAlteration{
		{User: "alice", Mechanism: ScramSHA512},
		{User: "bob", Mechanism: ScramSHA256},
		{User: "carol", Mechanism: ScramSHA512, Credential: cred(4)},
	}}); res != nil {
		t.Fatal(res)
	}
	want1 := map[string]map[string]ScramCredential{
		"alice": {ScramSHA256: *cred(1), ScramSHA512: *cred(2)},
		"bob":   {ScramSHA256: *cred(3)},
	}
	want2 := map[string]map[string]ScramCredential{
		"alice": {ScramSHA256: *cred(1)},
		"carol": {ScramSHA512: *cred(4)},
	}
	if !reflect.DeepEqual(s1.ScramCredentials, want1) || !reflect.DeepEqual(s2.ScramCredentials, want2) {
		t.Fatalf("credentials %v then %v", s1.ScramCredentials, s2.ScramCredentials)
	}
	if got, ok := s2.ScramCredential("alice", ScramSHA256); !ok || !reflect.DeepEqual(got, *cred(1)) {
		t.Errorf("alice SCRAM-SHA-256: %v, %v", got, ok)
	}
	if _, ok := s2.ScramCredential("alice", ScramSHA512); ok {
		t.Error("alice's deleted SCRAM-SHA-512 credential is still there")
	}
	for _, bad := range [][]ScramAlteration{
		{{User: "dave", Mechanism: ScramSHA256, Credential: cred(5)}, {User: "", Mechanism: ScramSHA256, Credential: cred(5)}},
		{{User: "dave", Mechanism: ScramSHA256, Credential: cred(5)}, {User: "erin", Mechanism: "SCRAM-SHA-1", Credential: cred(5)}},
	} {
		s3 := s2.clone()
		if res := c.apply(s3, &Command{Op: OpAlterScramCredentials, Scram: bad}); !errors.Is(res.(error), ErrInvalidCommand) {
			t.Errorf("%+v: %v", bad, res)
		}
		if !reflect.DeepEqual(s3.ScramCredentials, want2) {
			t.Errorf("%+v applied in part: %v", bad, s3.ScramCredentials)
		}
	}
	for _, want := range []string{
		`msg="SCRAM credential set" user=alice mechanism=SCRAM-SHA-512`,
		`msg="SCRAM credential deleted" user=bob mechanism=SCRAM-SHA-256`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no line %s in:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "stored") || strings.Contains(logs.String(), "4097") {
		t.Errorf("a credential logged:\n%s", logs.String())
	}
}

// The credentials are kept in the state file and the snapshot: they are
// there after the node restarts, and a state file written before they
// existed loads without any.
func TestScramCredentialsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{NodeID: 1, DataDir: dir, RaftListen: "127.0.0.1:0"}
	n, err := StartNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c256, _ := NewScramCredential(ScramSHA256, []byte("salt-a"), []byte("salted-a"), 8192)
	c512, _ := NewScramCredential(ScramSHA512, []byte("salt-b"), []byte("salted-b"), 4096)
	if _, err := n.Controller().Propose(ctx, Command{Op: OpAlterScramCredentials, Scram: []ScramAlteration{
		{User: "alice", Mechanism: ScramSHA256, Credential: &c256},
		{User: "bob", Mechanism: ScramSHA512, Credential: &c512},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Controller().Propose(ctx, Command{Op: OpAlterScramCredentials, Scram: []ScramAlteration{
		{User: "bob", Mechanism: ScramSHA512},
	}}); err != nil {
		t.Fatal(err)
	}
	snap := n.Controller().enc.encode(n.Controller().State())
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n, err = StartNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	st := n.Controller().State()
	if got, ok := st.ScramCredential("alice", ScramSHA256); !ok || !reflect.DeepEqual(got, c256) {
		t.Errorf("after a restart alice's credential is %+v, %v; want %+v", got, ok, c256)
	}
	if _, ok := st.ScramCredential("bob", ScramSHA512); ok || len(st.ScramCredentials) != 1 {
		t.Errorf("after a restart: %v", st.ScramCredentials)
	}

	// From a snapshot, as a node restores one.
	restored := emptyState()
	if err := decodeState(snap, restored); err != nil {
		t.Fatal(err)
	}
	if got, ok := restored.ScramCredential("alice", ScramSHA256); !ok || !reflect.DeepEqual(got, c256) {
		t.Errorf("from the snapshot: %+v, %v", got, ok)
	}
	// A state file of a version without SCRAM credentials.
	var f map[string]any
	json.Unmarshal(snap, &f)
	delete(f, "scram_credentials")
	old, _ := json.Marshal(f)
	if bytes.Contains(old, []byte("scram")) {
		t.Fatalf("%s", old)
	}
	restored = emptyState()
	if err := decodeState(old, restored); err != nil || restored.ScramCredentials != nil || restored.ClusterID != st.ClusterID {
		t.Errorf("an old state file: %v, %v", restored.ScramCredentials, err)
	}
	if _, ok := restored.ScramCredential("alice", ScramSHA256); ok {
		t.Error("a credential from nowhere")
	}
}
