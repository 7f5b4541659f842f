package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/testlog"
	"github.com/gokafka/gokafka/internal/testpki"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// set sets Kafka keys on c, failing the test on an error.
func setKeys(t testing.TB, c *Config, kv ...string) {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		if err := c.Set(kv[i], kv[i+1]); err != nil {
			t.Fatalf("%s: %v", kv[i], err)
		}
	}
}

// tlsClient is a franz-go client of the listener named listener, over TLS.
func tlsClient(t *testing.T, b *Broker, listener string, tc *tls.Config, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	return listenerClient(t, b, listener, append([]kgo.Opt{kgo.DialTLSConfig(tc)}, opts...)...)
}

// SSL and SASL_SSL listeners serve Kafka over TLS with a PEM key store
// (ssl.keystore.type=PEM, ssl.keystore.location), as Kafka's: a client
// trusting the CA produces and consumes over SSL, authenticates with SCRAM
// over SASL_SSL (and is refused with a wrong password), and a plaintext
// client on the SSL listener is closed without harming it; the key store's
// private parts are described as Kafka describes PASSWORD keys.
func TestTLSListeners(t *testing.T) {
	pki := testpki.New(t)
	b := startBroker(t, t.TempDir(), func(c *Config) {
		c.Listen = "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0"
		c.SASLEnabledMechanisms = "SCRAM-SHA-256"
		setKeys(t, c, "ssl.keystore.type", "PEM", "ssl.keystore.location", filepath.Join(pki.Dir, "server.pem"),
			"ssl.key.password", "", "ssl.keystore.certificate.chain", "")
	})
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// A plaintext client on the SSL listener: its connection is closed.
	conn := rawConnTo(t, b.ListenerAddr("SSL"))
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(rawFormatter.AppendRequest(nil, kmsg.NewPtrApiVersionsRequest(), 1)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readResponseFrame(conn); err == nil {
		t.Fatal("a plaintext request on the SSL listener was answered")
	}
	conn.Close()

	cl := tlsClient(t, b, "SSL", pki.ClientTLS(), kgo.DefaultProduceTopic("over-ssl"), kgo.ConsumeTopics("over-ssl"), kgo.AllowAutoTopicCreation())
	for i := range 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(strings.Repeat("v", 100<<10*i+1))}).FirstErr(); err != nil {
			t.Fatalf("produce over SSL: %v", err)
		}
	}
	var got int
	for got < 3 {
		fs := cl.PollRecords(ctx, 3)
		if err := fs.Err(); err != nil {
			t.Fatalf("consume over SSL: %v", err)
		}
		got += len(fs.Records())
	}
	// The brokers a client is told of are the listener's own, TLS too.
	md := request[*kmsg.MetadataResponse](t, cl, kmsg.NewPtrMetadataRequest())
	if want := b.ListenerAddr("SSL").(*net.TCPAddr).Port; len(md.Brokers) != 1 || int(md.Brokers[0].Port) != want {
		t.Fatalf("metadata over SSL names brokers %+v, want port %d", md.Brokers, want)
	}

	adm := kadm.NewClient(newClient(t, b))
	res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "alice", Mechanism: kadm.ScramSha256, Iterations: 4096, Password: "alice-secret"}})
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		t.Fatalf("making user alice: %v", err)
	}
	scl := tlsClient(t, b, "SASL_SSL", pki.ClientTLS(), kgo.SASL(scram.Auth{User: "alice", Pass: "alice-secret"}.AsSha256Mechanism()),
		kgo.DefaultProduceTopic("over-sasl-ssl"), kgo.AllowAutoTopicCreation())
	if err := scl.ProduceSync(ctx, &kgo.Record{Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatalf("produce over SASL_SSL as alice: %v", err)
	}
	bad := tlsClient(t, b, "SASL_SSL", pki.ClientTLS(), kgo.SASL(scram.Auth{User: "alice", Pass: "wrong"}.AsSha256Mechanism()))
	if _, err := bad.Request(ctx, kmsg.NewPtrMetadataRequest()); !errors.Is(err, kerr.SaslAuthenticationFailed) {
		t.Fatalf("SASL_SSL with a wrong password: %v, want SASL_AUTHENTICATION_FAILED", err)
	}
	// Without SASL on the SASL_SSL listener: closed unanswered.
	nosasl := tlsClient(t, b, "SASL_SSL", pki.ClientTLS())
	if _, err := nosasl.Request(ctx, kmsg.NewPtrMetadataRequest()); err == nil {
		t.Fatal("a request without SASL on the SASL_SSL listener was answered")
	}

	req := kmsg.NewPtrDescribeConfigsRequest()
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeBroker, "1"
	req.Resources = append(req.Resources, r)
	dc := request[*kmsg.DescribeConfigsResponse](t, newClient(t, b), req)
	seen := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
	for _, c := range dc.Resources[0].Configs {
		seen[c.Name] = c
	}
	if c := seen["ssl.key.password"]; !c.IsSensitive || c.Value != nil || c.ConfigType != kmsg.ConfigTypePassword {
		t.Errorf("ssl.key.password described as %+v, want sensitive with no value", c)
	}
	if c := seen["ssl.keystore.type"]; c.IsSensitive || c.Value == nil || *c.Value != "PEM" || c.Source != kmsg.ConfigSourceStaticBrokerConfig {
		t.Errorf("ssl.keystore.type described as %+v, want PEM", c)
	}
	if c := seen["ssl.enabled.protocols"]; c.Value == nil || *c.Value != "TLSv1.2,TLSv1.3" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("ssl.enabled.protocols described as %+v, want Kafka's default TLSv1.2,TLSv1.3", c)
	}
}

// ssl.client.auth=required refuses a client without a certificate and
// takes one with a certificate the trust store (inline,
// ssl.truststore.certificates) trusts. As in Kafka (KIP-684), the
// broker-wide key applies to SSL listeners only: a SASL_SSL listener
// keeps none unless its listener.name.L.ssl.client.auth says otherwise,
// and an SSL listener's own key wins over the broker-wide one. The key
// store is inline too (ssl.keystore.key, ssl.keystore.certificate.chain),
// its lines joined as a properties file's continued value joins them.
func TestTLSClientAuthRequired(t *testing.T) {
	pki := testpki.New(t)
	oneLine := func(s string) string { return strings.ReplaceAll(s, "\n", " ") }
	var logs *testlog.Buffer
	b := startBroker(t, t.TempDir(), func(c *Config) {
		logs = logTo(c)
		c.Listen = "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,OPEN://127.0.0.1:0,SASL_SSL://127.0.0.1:0"
		c.ListenerSecurityProtocolMap = "OPEN:SSL"
		c.SASLEnabledMechanisms = "PLAIN"
		setKeys(t, c, "ssl.keystore.type", "PEM", "ssl.keystore.key", oneLine(pki.ServerKey),
			"ssl.keystore.certificate.chain", oneLine(pki.ServerCert),
			"ssl.truststore.type", "PEM", "ssl.truststore.certificates", pki.CAPEM,
			"ssl.client.auth", "required", "listener.name.open.ssl.client.auth", "none",
			"listener.name.sasl_ssl.plain.sasl.jaas.config", plainLoginModule+` required user_alice="alice-secret";`)
	})
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	anon := tlsClient(t, b, "SSL", pki.ClientTLS())
	if _, err := anon.Request(ctx, kmsg.NewPtrMetadataRequest()); err == nil {
		t.Fatal("a client without a certificate was served with ssl.client.auth=required")
	}
	withCert := tlsClient(t, b, "SSL", pki.ClientTLS(pki.Client))
	if _, err := withCert.Request(ctx, kmsg.NewPtrMetadataRequest()); err != nil {
		t.Fatalf("a client with a trusted certificate: %v", err)
	}
	open := tlsClient(t, b, "OPEN", pki.ClientTLS())
	if _, err := open.Request(ctx, kmsg.NewPtrMetadataRequest()); err != nil {
		t.Fatalf("a client without a certificate on the listener whose own ssl.client.auth is none: %v", err)
	}
	sasl := tlsClient(t, b, "SASL_SSL", pki.ClientTLS(), kgo.SASL(plain.Auth{User: "alice", Pass: "alice-secret"}.AsMechanism()))
	if _, err := sasl.Request(ctx, kmsg.NewPtrMetadataRequest()); err != nil {
		t.Fatalf("a SASL_SSL client without a certificate (the broker-wide ssl.client.auth is not the SASL_SSL listener's): %v", err)
	}
	if !strings.Contains(logs.String(), "Broker configuration 'ssl.client.auth' is applied only to SSL listeners") {
		t.Error("no warning that the broker-wide ssl.client.auth passes over the SASL_SSL listener")
	}
}

// A TLS listener whose key store is missing or cannot be used fails the
// start with the reason, as Kafka's DefaultSslEngineFactory refuses it;
// JKS and PKCS12 (Kafka's default type is JKS) are refused naming PEM.
func TestTLSConfigRefused(t *testing.T) {
	pki := testpki.New(t)
	keystore := filepath.Join(pki.Dir, "server.pem")
	for _, tc := range []struct {
		name string
		kv   []string
		want string
	}{
		{"no key store", nil, "no key store: set ssl.keystore.type=PEM"},
		{"JKS", []string{"ssl.keystore.location", "/etc/kafka/server.jks", "ssl.keystore.password", "x"}, "ssl.keystore.type JKS is not supported by gokafkad, only PEM"},
		{"missing file", []string{"ssl.keystore.type", "PEM", "ssl.keystore.location", filepath.Join(pki.Dir, "absent.pem")}, "failed to load PEM SSL keystore"},
		{"not PEM", []string{"ssl.keystore.type", "PEM", "ssl.keystore.location", filepath.Join(pki.Dir, "ca.pem")}, "no PRIVATE KEY"},
		{"key store password", []string{"ssl.keystore.type", "PEM", "ssl.keystore.location", keystore, "ssl.keystore.password", "x"}, "SSL key store password cannot be specified with PEM format"},
		{"encrypted key", []string{"ssl.keystore.type", "PEM", "ssl.keystore.location", keystore, "ssl.key.password", "x"}, "encrypted private keys are not supported"},
		{"key without chain", []string{"ssl.keystore.type", "PEM", "ssl.keystore.key", pki.ServerKey}, "certificate chain is not specified"},
		{"mismatched key", []string{"ssl.keystore.type", "PEM", "ssl.keystore.key", pki.ServerKey, "ssl.keystore.certificate.chain", pki.CAPEM}, "does not match"},
		{"JKS trust store", []string{"ssl.keystore.type", "PEM", "ssl.keystore.location", keystore, "ssl.truststore.location", "/etc/kafka/trust.jks"}, "ssl.truststore.type JKS is not supported"},
		{"client auth", []string{"ssl.keystore.type", "PEM", "ssl.keystore.location", keystore, "ssl.client.auth", "always"}, "String must be one of: required, requested, none"},
		{"protocols", []string{"ssl.keystore.type", "PEM", "ssl.keystore.location", keystore, "ssl.enabled.protocols", "SSLv3"}, "SSLv3 is not supported"},
		{"listener override", []string{"ssl.keystore.type", "PEM", "ssl.keystore.location", keystore, "listener.name.sasl_ssl.ssl.keystore.type", "PKCS12"}, "listener SASL_SSL (SASL_SSL): ssl.keystore.type PKCS12"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			c.Listen, c.DataDir = "SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0", t.TempDir()
			c.SASLEnabledMechanisms = "SCRAM-SHA-256"
			c.RaftListen, c.AdminListen = "127.0.0.1:0", ""
			setKeys(t, &c, tc.kv...)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			b, err := Start(ctx, c)
			if err == nil {
				b.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q, want %q in it", err, tc.want)
			}
		})
	}
}
