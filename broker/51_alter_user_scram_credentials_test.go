package broker

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"hash"
	"reflect"
	"testing"

	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// scramKeys are the stored and server keys of password for a credential's
// salt and iterations, as a SCRAM client proves them (RFC 5802).
func scramKeys(t *testing.T, h func() hash.Hash, password string, c replication.ScramCredential) (stored, server []byte) {
	t.Helper()
	salted, err := pbkdf2.Key(h, password, c.Salt, int(c.Iterations), h().Size())
	if err != nil {
		t.Fatal(err)
	}
	mac := func(msg string) []byte {
		m := hmac.New(h, salted)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	d := h()
	d.Write(mac("Client Key"))
	return d.Sum(nil), mac("Server Key")
}

// TestAlterUserSCRAMCredentials: credentials set with kadm (which salts
// the password client-side) are kept as the salt, iterations and the keys
// RFC 5802 derives from the salted password, which a client proving the
// password computes; DescribeUserScramCredentials lists each user's
// mechanisms and iterations; a deleted credential is gone; and they are
// still there after the broker restarts.
func TestAlterUserSCRAMCredentials(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	defer func() { b.Close() }()
	adm := kadm.NewClient(newClient(t, b))
	ctx := context.Background()

	for _, up := range [][]kadm.UpsertSCRAM{
		{{User: "alice", Mechanism: kadm.ScramSha256, Iterations: 8192, Password: "alice-secret"}, {User: "bob", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "bob-secret"}},
		{{User: "alice", Mechanism: kadm.ScramSha512, Iterations: 16384, Password: "alice-512"}},
	} {
		res, err := adm.AlterUserSCRAMs(ctx, nil, up)
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Error(); err != nil || len(res) != len(up) {
			t.Fatalf("alter %d users: %v (%+v)", len(up), err, res)
		}
	}
	st := b.node.Controller().State()
	for _, c := range []struct {
		user, mech, password string
		h                    func() hash.Hash
		iterations           int32
	}{
		{"alice", replication.ScramSHA256, "alice-secret", sha256.New, 8192},
		{"alice", replication.ScramSHA512, "alice-512", sha512.New, 16384},
		{"bob", replication.ScramSHA512, "bob-secret", sha512.New, 4096},
	} {
		cred, ok := st.ScramCredential(c.user, c.mech)
		if !ok || cred.Iterations != c.iterations || len(cred.Salt) == 0 {
			t.Fatalf("%s %s: %+v, %v", c.user, c.mech, cred, ok)
		}
		stored, server := scramKeys(t, c.h, c.password, cred)
		if !bytes.Equal(cred.StoredKey, stored) || !bytes.Equal(cred.ServerKey, server) {
			t.Errorf("%s %s: the keys kept are not those of its password", c.user, c.mech)
		}
	}

	described, err := adm.DescribeUserSCRAMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]kadm.CredInfo{
		"alice": {{Mechanism: kadm.ScramSha256, Iterations: 8192}, {Mechanism: kadm.ScramSha512, Iterations: 16384}},
		"bob":   {{Mechanism: kadm.ScramSha512, Iterations: 4096}},
	}
	checkDescribed := func(step string, described kadm.DescribedUserSCRAMs, want map[string][]kadm.CredInfo) {
		t.Helper()
		got := map[string][]kadm.CredInfo{}
		for u, d := range described {
			if d.Err != nil {
				t.Errorf("%s: %s: %v", step, u, d.Err)
			}
			got[u] = d.CredInfos
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: described %v, want %v", step, got, want)
		}
	}
	checkDescribed("all users", described, want)
	described, err = adm.DescribeUserSCRAMs(ctx, "bob", "carol")
	if err != nil {
		t.Fatal(err)
	}
	if d := described["bob"]; d.Err != nil || !reflect.DeepEqual(d.CredInfos, want["bob"]) {
		t.Errorf("bob: %+v", d)
	}
	if d := described["carol"]; !errors.Is(d.Err, kerr.ResourceNotFound) || d.ErrMessage != "Attempt to describe a user credential that does not exist: carol" {
		t.Errorf("carol: %+v", d)
	}

	res, err := adm.AlterUserSCRAMs(ctx, []kadm.DeleteSCRAM{{User: "alice", Mechanism: kadm.ScramSha256}, {User: "bob", Mechanism: kadm.ScramSha256}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res["alice"].Err != nil || !errors.Is(res["bob"].Err, kerr.ResourceNotFound) || res["bob"].ErrMessage != "Attempt to delete a user credential that does not exist" {
		t.Fatalf("delete: %+v", res)
	}
	want = map[string][]kadm.CredInfo{
		"alice": {{Mechanism: kadm.ScramSha512, Iterations: 16384}},
		"bob":   {{Mechanism: kadm.ScramSha512, Iterations: 4096}},
	}
	described, _ = adm.DescribeUserSCRAMs(ctx)
	checkDescribed("after a deletion", described, want)

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = startBroker(t, dir, nil)
	described, err = kadm.NewClient(newClient(t, b)).DescribeUserSCRAMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkDescribed("after a restart", described, want)
}

// TestAlterUserSCRAMCredentialsErrors: each user is checked on its own, with
// Kafka's codes and messages (ScramControlManager): an unknown mechanism,
// iterations outside 4096..16384, an empty user, an empty salted password,
// a deletion of no credential; a user named twice in one request, whatever
// the mechanisms, is DUPLICATE_RESOURCE and none of its changes is made,
// unless its first change was refused, which is then its answer. The
// good users of the request are changed all the same.
func TestAlterUserSCRAMCredentialsErrors(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)

	req := kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	del := func(user string, mech int8) {
		d := kmsg.NewAlterUserSCRAMCredentialsRequestDeletion()
		d.Name, d.Mechanism = user, mech
		req.Deletions = append(req.Deletions, d)
	}
	up := func(user string, mech int8, iterations int32, salted string) {
		u := kmsg.NewAlterUserSCRAMCredentialsRequestUpsertion()
		u.Name, u.Mechanism, u.Iterations = user, mech, iterations
		u.Salt, u.SaltedPassword = []byte("salt-"+user), []byte(salted)
		req.Upsertions = append(req.Upsertions, u)
	}
	up("keep", 1, 4096, "salted") // an existing credential for the deletions below
	if resp := request[*kmsg.AlterUserSCRAMCredentialsResponse](t, cl, req); len(resp.Results) != 1 || resp.Results[0].ErrorCode != 0 {
		t.Fatalf("%+v", resp.Results)
	}

	req = kmsg.NewPtrAlterUserSCRAMCredentialsRequest()
	del("keep", 1)           // good, but keep is upserted again below: duplicate
	del("ghost", 2)          // no such credential
	del("keep-512", 2)       // no such credential, so the upsertion after is not a duplicate...
	del("", 1)               // empty user
	del("delunknown", 3)     // unknown mechanism
	up("keep", 2, 4096, "x") // the duplicate of the deletion of keep
	up("keep-512", 2, 4096, "x")
	up("zero", 0, 4096, "x")
	up("low", 1, 4095, "x")
	up("high", 2, 16385, "x")
	up("nosalted", 1, 4096, "")
	up("twice", 1, 4096, "x")
	up("twice", 2, 4096, "x")
	up("twice", 1, 4096, "x") // a third time: answered once
	up("ok", 2, 16384, "x")
	up("ok-min", 1, 4096, "x")
	resp := request[*kmsg.AlterUserSCRAMCredentialsResponse](t, cl, req)
	type result struct {
		code int16
		msg  string
	}
	got := map[string]result{}
	var order []string
	for _, r := range resp.Results {
		if _, ok := got[r.User]; ok {
			t.Errorf("%s answered twice", r.User)
		}
		var msg string
		if r.ErrorMessage != nil {
			msg = *r.ErrorMessage
		}
		got[r.User] = result{r.ErrorCode, msg}
		order = append(order, r.User)
	}
	dup := result{kerr.DuplicateResource.Code, "A user credential cannot be altered twice in the same request"}
	notFound := result{kerr.ResourceNotFound.Code, "Attempt to delete a user credential that does not exist"}
	wantResults := map[string]result{
		"keep":       dup,
		"ghost":      notFound,
		"keep-512":   notFound,
		"":           {kerr.UnacceptableCredential.Code, "Username must not be empty"},
		"delunknown": {kerr.UnsupportedSaslMechanism.Code, "Unknown SCRAM mechanism"},
		"zero":       {kerr.UnsupportedSaslMechanism.Code, "Unknown SCRAM mechanism"},
		"low":        {kerr.UnacceptableCredential.Code, "Too few iterations"},
		"high":       {kerr.UnacceptableCredential.Code, "Too many iterations"},
		"nosalted":   {kerr.UnknownServerError.Code, ""},
		"twice":      dup,
		"ok":         {},
		"ok-min":     {},
	}
	if !reflect.DeepEqual(got, wantResults) {
		t.Errorf("results\n%v\nwant\n%v", got, wantResults)
	}
	if len(order) > 2 && (order[0] != "ok" || order[1] != "ok-min") {
		t.Errorf("results in the order %q: the changes made come first, as in Kafka", order)
	}

	st := b.node.Controller().State()
	if _, ok := st.ScramCredential("keep", replication.ScramSHA256); !ok {
		t.Error("keep's credential was deleted by a request naming keep twice")
	}
	for _, u := range []string{"keep-512", "twice", "nosalted", "low", "high"} {
		if creds, ok := st.ScramCredentials[u]; ok {
			t.Errorf("%s got credentials %v", u, creds)
		}
	}
	if _, ok := st.ScramCredential("ok", replication.ScramSHA512); !ok {
		t.Error("ok got no credential")
	}

	// Describe: a user named twice is DUPLICATE_RESOURCE, not described.
	dreq := kmsg.NewPtrDescribeUserSCRAMCredentialsRequest()
	for _, n := range []string{"ok", "keep", "ok", "nobody"} {
		u := kmsg.NewDescribeUserSCRAMCredentialsRequestUser()
		u.Name = n
		dreq.Users = append(dreq.Users, u)
	}
	dresp := request[*kmsg.DescribeUserSCRAMCredentialsResponse](t, cl, dreq)
	if len(dresp.Results) != 3 {
		t.Fatalf("%d results: %+v", len(dresp.Results), dresp.Results)
	}
	for _, r := range dresp.Results {
		switch r.User {
		case "ok":
			if r.ErrorCode != kerr.DuplicateResource.Code || len(r.CredentialInfos) != 0 {
				t.Errorf("ok: %+v", r)
			}
		case "keep":
			if r.ErrorCode != 0 || len(r.CredentialInfos) != 1 || r.CredentialInfos[0].Mechanism != 1 || r.CredentialInfos[0].Iterations != 4096 {
				t.Errorf("keep: %+v", r)
			}
		case "nobody":
			if r.ErrorCode != kerr.ResourceNotFound.Code {
				t.Errorf("nobody: %+v", r)
			}
		}
	}
}
