package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/testlog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// startSASLBroker starts a broker with a PLAINTEXT listener and a
// SASL_PLAINTEXT one offering both SCRAM mechanisms, and makes user alice
// with a credential for each (through the PLAINTEXT listener, as an
// operator's first user is made).
func startSASLBroker(t *testing.T) (*Broker, *testlog.Buffer) {
	t.Helper()
	var logs *testlog.Buffer
	b := startBroker(t, t.TempDir(), func(c *Config) {
		logs = logTo(c)
		c.Listen = "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0"
		c.SASLEnabledMechanisms = "SCRAM-SHA-256,SCRAM-SHA-512"
	})
	adm := kadm.NewClient(newClient(t, b))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// One mechanism a request: Kafka refuses a user named twice in one.
	for _, u := range []kadm.UpsertSCRAM{
		{User: "alice", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "alice-secret"},
		{User: "alice", Mechanism: kadm.ScramSha512, Iterations: 8192, Password: "alice-secret"},
	} {
		res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{u})
		if err == nil {
			err = res.Error()
		}
		if err != nil {
			b.Close()
			t.Fatalf("making user alice: %v", err)
		}
	}
	return b, logs
}

// listenerClient is a franz-go client of b's listener named listener,
// giving up on a request soon (clients refused are expected).
func listenerClient(t *testing.T, b *Broker, listener string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(b.ListenerAddr(listener).String()), kgo.RetryTimeout(2 * time.Second), kgo.MaxVersions(byNameVersions())}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// saslClient is a franz-go client of b's SASL_PLAINTEXT listener.
func saslClient(t *testing.T, b *Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return listenerClient(t, b, "SASL_PLAINTEXT", opts...)
}

// A SASL_PLAINTEXT listener authenticates clients with SCRAM-SHA-256 and
// SCRAM-SHA-512 against the credentials AlterUserScramCredentials made, as
// Kafka's: an authenticated client produces and consumes; a wrong
// password, an unknown user or a mechanism not enabled is refused with
// Kafka's error, and the connection closed.
func TestSASLScram(t *testing.T) {
	b, logs := startSASLBroker(t)
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	for _, mech := range []struct {
		name string
		m    func(scram.Auth) kgo.Opt
	}{
		{"SCRAM-SHA-256", func(a scram.Auth) kgo.Opt { return kgo.SASL(a.AsSha256Mechanism()) }},
		{"SCRAM-SHA-512", func(a scram.Auth) kgo.Opt { return kgo.SASL(a.AsSha512Mechanism()) }},
	} {
		t.Run(mech.name, func(t *testing.T) {
			topic := "scram-" + strings.ToLower(mech.name[len("SCRAM-"):])
			cl := saslClient(t, b, mech.m(scram.Auth{User: "alice", Pass: "alice-secret"}),
				kgo.DefaultProduceTopic(topic), kgo.ConsumeTopics(topic), kgo.AllowAutoTopicCreation())
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
				t.Fatalf("produce as alice: %v", err)
			}
			fs := cl.PollRecords(ctx, 1)
			if err := fs.Err(); err != nil || len(fs.Records()) != 1 {
				t.Fatalf("consume as alice: %v, %d records", err, len(fs.Records()))
			}

			for _, bad := range []scram.Auth{{User: "alice", Pass: "wrong"}, {User: "mallory", Pass: "alice-secret"}} {
				cl := saslClient(t, b, mech.m(bad))
				_, err := cl.Request(ctx, kmsg.NewPtrMetadataRequest())
				if !errors.Is(err, kerr.SaslAuthenticationFailed) || !strings.Contains(err.Error(), "invalid credentials with SASL mechanism "+mech.name) {
					t.Errorf("%s with password %q: %v, want SASL_AUTHENTICATION_FAILED", bad.User, bad.Pass, err)
				}
			}
		})
	}
	if !strings.Contains(logs.String(), "SASL authentication failed") {
		t.Error("no log line of the failed authentications")
	}
}

// Before it authenticates, a connection to a SASL listener is taken one
// request at a time, and only ApiVersions, SaslHandshake and
// SaslAuthenticate: any other request closes it unanswered, as Kafka's
// SaslServerAuthenticator does, and so does a mechanism not enabled (after
// its answer, which lists the enabled ones).
func TestSASLListenerBeforeAuthentication(t *testing.T) {
	b, _ := startSASLBroker(t)
	defer b.Close()
	addr := b.ListenerAddr("SASL_PLAINTEXT")

	conn := rawConnTo(t, addr)
	defer conn.Close()
	if resp, _ := sendRaw(t, conn, rawFormatter, kmsg.NewPtrApiVersionsRequest(), 1); resp.(*kmsg.ApiVersionsResponse).ErrorCode != 0 {
		t.Fatal("ApiVersions before authentication was refused")
	}
	if _, err := conn.Write(rawFormatter.AppendRequest(nil, kmsg.NewPtrMetadataRequest(), 2)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readResponseFrame(conn); err == nil {
		t.Fatal("Metadata before authentication was answered")
	}

	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "PLAIN"
	conn = rawConnTo(t, addr)
	defer conn.Close()
	resp, _ := sendRaw(t, conn, rawFormatter, hs, 1)
	if r := resp.(*kmsg.SASLHandshakeResponse); r.ErrorCode != kerr.UnsupportedSaslMechanism.Code ||
		strings.Join(r.SupportedMechanisms, ",") != "SCRAM-SHA-256,SCRAM-SHA-512" {
		t.Fatalf("handshake for PLAIN: %v, mechanisms %v", kerr.ErrorForCode(r.ErrorCode), r.SupportedMechanisms)
	}
	if _, _, err := readResponseFrame(conn); err == nil {
		t.Fatal("the connection stayed open after a mechanism not enabled")
	}

	// The PLAINTEXT listener asks for nothing.
	if _, err := newClient(t, b).Request(context.Background(), kmsg.NewPtrMetadataRequest()); err != nil {
		t.Fatalf("metadata on the PLAINTEXT listener: %v", err)
	}
}

// A SASL_PLAINTEXT listener needs mechanisms that are served: Kafka's
// default (GSSAPI) and PLAIN are refused at the start, not at the first
// client.
func TestSASLMechanismsChecked(t *testing.T) {
	for _, mechs := range []string{"GSSAPI", "SCRAM-SHA-256,PLAIN", ""} {
		cfg := DefaultConfig()
		cfg.Listen = "SASL_PLAINTEXT://127.0.0.1:0"
		cfg.SASLEnabledMechanisms = mechs
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "sasl.enabled.mechanisms") {
			t.Errorf("sasl.enabled.mechanisms=%q: %v, want it refused", mechs, err)
		}
	}
	cfg := DefaultConfig()
	cfg.Listen = "PLAINTEXT://127.0.0.1:0" // no SASL listener: GSSAPI, the default, is fine
	if err := cfg.Validate(); err != nil {
		t.Errorf("PLAINTEXT only: %v", err)
	}
}

// The user a client authenticated as is the user its quotas name, as
// Kafka's principal: a producer_byte_rate on user alice throttles alice's
// produce on the SASL listener, and not the ANONYMOUS one on PLAINTEXT.
func TestSASLUserQuota(t *testing.T) {
	b, _ := startSASLBroker(t)
	defer b.Close()
	plainCl := newClient(t, b)
	createTopic(t, plainCl, "q", 1, nil)
	if e := alterQuota(t, plainCl, false, "producer_byte_rate", 100, false, "user", "alice"); e.ErrorCode != 0 {
		t.Fatalf("set quota: %v", kerr.ErrorForCode(e.ErrorCode))
	}
	aliceCl := saslClient(t, b, kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha256Mechanism()))
	batch := encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(10, strings.Repeat("x", 100)))
	for _, c := range []struct {
		who       string
		cl        *kgo.Client
		throttled bool
	}{{"ANONYMOUS", plainCl, false}, {"alice", aliceCl, true}} {
		resp := request[*kmsg.ProduceResponse](t, c.cl, produceReq("q", -1, 5000, batch))
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 {
			t.Fatalf("%s: produce: %v", c.who, kerr.ErrorForCode(p.ErrorCode))
		}
		if got := resp.ThrottleMillis > 0; got != c.throttled {
			t.Errorf("%s: throttled %d ms, want throttled %v", c.who, resp.ThrottleMillis, c.throttled)
		}
	}
}

// SASL/PLAIN checks a user's password against the user_NAME options of the
// listener's listener.name.NAME.plain.sasl.jaas.config, as Kafka's
// PlainServerCallbackHandler, and says why it refuses, in Kafka's words.
func TestSASLPlain(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) {
		c.Listen = "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0"
		c.SASLEnabledMechanisms = "PLAIN,SCRAM-SHA-256"
		if err := c.Set("listener.name.sasl_plaintext.plain.sasl.jaas.config",
			`org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret" user_admin="admin-secret" user_bob="b\"ob;pw";`); err != nil {
			t.Fatal(err)
		}
	})
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, u := range []plain.Auth{{User: "admin", Pass: "admin-secret"}, {User: "bob", Pass: `b"ob;pw`}, {User: "bob", Pass: "x", Zid: "bob"}} {
		cl := saslClient(t, b, kgo.SASL(u.AsMechanism()))
		_, err := cl.Request(ctx, kmsg.NewPtrMetadataRequest())
		if wantOK := u.Pass != "x"; (err == nil) != wantOK {
			t.Errorf("%s/%q: %v, want success %v", u.User, u.Pass, err, wantOK)
		}
	}
	for _, c := range []struct {
		auth plain.Auth
		want string
	}{
		{plain.Auth{User: "bob", Pass: "wrong"}, "Authentication failed: Invalid username or password"},
		{plain.Auth{User: "nobody", Pass: "admin-secret"}, "Authentication failed: Invalid username or password"},
		{plain.Auth{User: "admin", Pass: "admin-secret", Zid: "bob"}, "Authentication failed: Client requested an authorization id that is different from username"},
	} {
		cl := saslClient(t, b, kgo.SASL(c.auth.AsMechanism()))
		_, err := cl.Request(ctx, kmsg.NewPtrMetadataRequest())
		if !errors.Is(err, kerr.SaslAuthenticationFailed) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want SASL_AUTHENTICATION_FAILED: %s", c.auth, err, c.want)
		}
	}
}

// PLAIN needs its JAAS entry, with PLAIN's login module, and a JAAS value
// must parse, as Kafka refuses to start otherwise.
func TestSASLPlainConfigChecked(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Listen = "SASL_PLAINTEXT://127.0.0.1:0"
	cfg.SASLEnabledMechanisms = "PLAIN"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "listener.name.sasl_plaintext.plain.sasl.jaas.config") {
		t.Errorf("PLAIN without its JAAS entry: %v", err)
	}
	if err := cfg.Set("listener.name.sasl_plaintext.plain.sasl.jaas.config", `org.apache.kafka.common.security.scram.ScramLoginModule required;`); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "login module") {
		t.Errorf("PLAIN with SCRAM's login module: %v", err)
	}
	for _, bad := range []string{
		`org.apache.kafka.common.security.plain.PlainLoginModule required user_a="x"`, // no ;
		`org.apache.kafka.common.security.plain.PlainLoginModule maybe;`,
		`org.apache.kafka.common.security.plain.PlainLoginModule required user_a="x;`,
		`a required; b required;`,
		`org.apache.kafka.common.security.plain.PlainLoginModule required user_a;`,
	} {
		if err := cfg.Set("listener.name.sasl_plaintext.plain.sasl.jaas.config", bad); err == nil {
			t.Errorf("JAAS %q taken", bad)
		}
	}
}

// After a SaslHandshake v0 the exchange comes in bare tokens, outside
// Kafka's framing, as Kafka takes it from clients before 1.0 and from
// kafka-python 2.0: PLAIN's one token is answered with an empty one, and
// requests follow; a wrong password closes the connection, unanswered.
func TestSASLHandshakeV0RawTokens(t *testing.T) {
	var logs *testlog.Buffer
	b := startBroker(t, t.TempDir(), func(c *Config) {
		logs = logTo(c)
		c.Listen = "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0"
		c.SASLEnabledMechanisms = "PLAIN"
		if err := c.Set("listener.name.sasl_plaintext.plain.sasl.jaas.config",
			`org.apache.kafka.common.security.plain.PlainLoginModule required user_u="pw";`); err != nil {
			t.Fatal(err)
		}
	})
	defer b.Close()
	for _, pass := range []string{"pw", "wrong"} {
		conn := rawConnTo(t, b.ListenerAddr("SASL_PLAINTEXT"))
		defer conn.Close()
		hs := kmsg.NewPtrSASLHandshakeRequest()
		hs.Version, hs.Mechanism = 0, "PLAIN"
		if resp, _ := sendRaw(t, conn, rawFormatter, hs, 1); resp.(*kmsg.SASLHandshakeResponse).ErrorCode != 0 {
			t.Fatalf("handshake v0: %v", kerr.ErrorForCode(resp.(*kmsg.SASLHandshakeResponse).ErrorCode))
		}
		token := "\x00u\x00" + pass // short: below a request header's size
		if _, err := conn.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(token))), token...)); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		var size [4]byte
		_, err := io.ReadFull(conn, size[:])
		if pass == "wrong" {
			if err == nil {
				t.Fatal("a wrong password was answered, want the connection closed")
			}
			continue
		}
		if err != nil || binary.BigEndian.Uint32(size[:]) != 0 {
			t.Fatalf("PLAIN's answer: %v, %d bytes; want an empty token\n%s", err, binary.BigEndian.Uint32(size[:]), logs.String())
		}
		if resp, _ := sendRaw(t, conn, rawFormatter, kmsg.NewPtrMetadataRequest(), 2); len(resp.(*kmsg.MetadataResponse).Brokers) != 1 {
			t.Fatalf("metadata after authenticating: %+v", resp)
		}
	}
}

// A client that has not authenticated may send no frame over Kafka's
// sasl.server.max.receive.size (512 KiB): a large produce before
// authenticating closes the connection before it is read.
func TestSASLUnauthenticatedFrameBounded(t *testing.T) {
	b, logs := startSASLBroker(t)
	defer b.Close()
	conn := rawConnTo(t, b.ListenerAddr("SASL_PLAINTEXT"))
	defer conn.Close()
	req := produceReq("x", -1, 1000, make([]byte, 600<<10))
	// The broker may close the connection while this is still written.
	conn.Write(rawFormatter.AppendRequest(nil, req, 1))
	if _, _, err := readResponseFrame(conn); err == nil {
		t.Fatal("a 600 KiB frame before authenticating was answered")
	}
	waitFor(t, func() bool { return strings.Contains(logs.String(), "allowed 8..524288") }, "the frame refused for its size")
}
