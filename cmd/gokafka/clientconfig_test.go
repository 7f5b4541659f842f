package main

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gokafka/gokafka/broker"
	"github.com/gokafka/gokafka/internal/testpki"
)

// The tools' client properties file (--command-config, --producer.config,
// --consumer.config) takes gokafka to a SASL_PLAINTEXT listener as it takes
// Kafka's tools: security.protocol, sasl.mechanism and sasl.jaas.config,
// with PLAIN or SCRAM; wrong credentials fail the run with Kafka's error.
func TestClientConfigSASL(t *testing.T) {
	b, _ := startBrokerWith(t, t.TempDir(), func(cfg *broker.Config) {
		cfg.Listen = "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0"
		cfg.SASLEnabledMechanisms = "PLAIN,SCRAM-SHA-512"
		if err := cfg.Set("listener.name.sasl_plaintext.plain.sasl.jaas.config",
			`org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";`); err != nil {
			t.Fatal(err)
		}
	})
	plainAddr, saslAddr := b.ListenerAddr("PLAINTEXT").String(), b.ListenerAddr("SASL_PLAINTEXT").String()
	mustRun(t, plainAddr, "", "user", "scram", "set", "bob", "--mechanism", "SCRAM-SHA-512", "--password", "bob-secret")

	props := func(name, s string) string { return writeProps(t, name, s) }
	// sasl.jaas.config over several lines, as Kafka's documentation
	// writes it.
	scramCfg := props("scram.properties", "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n"+
		"sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n"+
		"    username=\"bob\" \\\n    password=\"bob-secret\";\n")
	plainCfg := props("plain.properties", "# as Kafka's tools take it\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"+
		`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="alice-secret";`+"\n")
	mustRun(t, saslAddr, "", "topic", "create", "s", "--command-config", scramCfg)
	mustRun(t, saslAddr, "a\nb\n", "produce", "--topic", "s", "--producer.config", plainCfg)
	r := mustRun(t, saslAddr, "", "consume", "--topic", "s", "--from-beginning", "--max-messages", "2", "--timeout", "10s", "--consumer.config", scramCfg)
	if got := strings.Fields(r.stdout); strings.Join(got, ",") != "a,b" {
		t.Errorf("consumed %q, want a and b", got)
	}

	wrong := props("wrong.properties", "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"+
		`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="nope";`+"\n")
	if r := gokafka(t, saslAddr, "", "topic", "list", "--command-config", wrong); r.code != 1 || !strings.Contains(r.stderr, "SASL_AUTHENTICATION_FAILED") {
		t.Errorf("wrong password: exit %d, stderr %q; want exit 1 with SASL_AUTHENTICATION_FAILED", r.code, r.stderr)
	}
	// Without the file, the SASL listener closes the connection.
	if r := gokafka(t, saslAddr, "", "topic", "list"); r.code == 0 {
		t.Errorf("no client config on a SASL listener: exit 0, stdout %q", r.stdout)
	}
	bogus := props("bogus.properties", "security.protocol=KERBEROS\n")
	if r := gokafka(t, saslAddr, "", "topic", "list", "--command-config", bogus); r.code == 0 || !strings.Contains(r.stderr, "not supported") {
		t.Errorf("security.protocol=KERBEROS: exit %d, stderr %q", r.code, r.stderr)
	}
}

// A client properties file is read as Kafka's tools read it (Java's
// Properties.load): a line ending in a backslash goes on on the next, as
// the sasl.jaas.config of Kafka's documentation does; escapes are undone.
func TestReadClientConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "client.properties")
	in := "# comment\nsecurity.protocol = SASL_PLAINTEXT\nsasl.mechanism:PLAIN\n" +
		"sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required \\\n" +
		"    username=\"alice\" \\\n" +
		"    password=\"a\\\\b\";\n"
	if err := os.WriteFile(p, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readClientConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"security.protocol": "SASL_PLAINTEXT",
		"sasl.mechanism":    "PLAIN",
		"sasl.jaas.config":  `org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="a\b";`,
	}
	if !maps.Equal(got, want) {
		t.Fatalf("read %q,\nwant %q", got, want)
	}
}

// The client properties file takes gokafka to SSL and SASL_SSL listeners:
// the CA from ssl.truststore.location (PEM), the broker's name checked
// unless ssl.endpoint.identification.algorithm is empty; a CA that did not
// sign the broker's certificate fails the run.
func TestClientConfigTLS(t *testing.T) {
	pki := testpki.New(t)
	caPath, serverPath := pki.TrustStore(), pki.KeyStore()
	b, _ := startBrokerWith(t, t.TempDir(), func(cfg *broker.Config) {
		cfg.Listen = "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0"
		cfg.SASLEnabledMechanisms = "SCRAM-SHA-256"
		for k, v := range map[string]string{"ssl.keystore.type": "PEM", "ssl.keystore.location": serverPath} {
			if err := cfg.Set(k, v); err != nil {
				t.Fatal(err)
			}
		}
	})
	mustRun(t, b.ListenerAddr("PLAINTEXT").String(), "", "user", "scram", "set", "bob", "--mechanism", "SCRAM-SHA-256", "--password", "bob-secret")

	props := func(name, s string) string { return writeProps(t, name, s) }
	sslCfg := props("ssl.properties", "security.protocol=SSL\nssl.truststore.type=PEM\nssl.truststore.location="+caPath+"\n")
	saslSSLCfg := props("sasl_ssl.properties", "security.protocol=SASL_SSL\nssl.truststore.type=PEM\nssl.truststore.location="+caPath+"\n"+
		"sasl.mechanism=SCRAM-SHA-256\n"+`sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="bob" password="bob-secret";`+"\n")
	sslAddr, saslSSLAddr := b.ListenerAddr("SSL").String(), b.ListenerAddr("SASL_SSL").String()
	mustRun(t, sslAddr, "", "topic", "create", "t", "--command-config", sslCfg)
	mustRun(t, saslSSLAddr, "x\n", "produce", "--topic", "t", "--producer.config", saslSSLCfg)
	r := mustRun(t, sslAddr, "", "consume", "--topic", "t", "--from-beginning", "--max-messages", "1", "--timeout", "10s", "--consumer.config", sslCfg)
	if strings.TrimSpace(r.stdout) != "x" {
		t.Errorf("consumed %q over SSL, want x", r.stdout)
	}

	otherCA := testpki.New(t).TrustStore()
	wrong := props("wrong.properties", "security.protocol=SSL\nssl.truststore.location="+otherCA+"\nssl.endpoint.identification.algorithm=\n")
	if r := gokafka(t, sslAddr, "", "topic", "list", "--command-config", wrong); r.code == 0 {
		t.Errorf("a trust store without the broker's CA: exit 0, stdout %q", r.stdout)
	}
}

// writeProps writes a properties file named name holding s in a temporary
// directory of t and returns its path.
func writeProps(t *testing.T, name, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
