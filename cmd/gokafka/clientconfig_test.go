package main

import (
	"context"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/broker"
	"github.com/gokafka/gokafka/internal/testlog"
)

// The tools' client properties file (--command-config, --producer.config,
// --consumer.config) takes gokafka to a SASL_PLAINTEXT listener as it takes
// Kafka's tools: security.protocol, sasl.mechanism and sasl.jaas.config,
// with PLAIN or SCRAM; wrong credentials fail the run with Kafka's error.
func TestClientConfigSASL(t *testing.T) {
	var logs testlog.Buffer
	cfg := broker.DefaultConfig()
	cfg.Listen = "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0"
	cfg.SASLEnabledMechanisms = "PLAIN,SCRAM-SHA-512"
	if err := cfg.Set("listener.name.sasl_plaintext.plain.sasl.jaas.config",
		`org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";`); err != nil {
		t.Fatal(err)
	}
	cfg.RaftListen, cfg.AdminListen, cfg.DataDir = "127.0.0.1:0", "", t.TempDir()
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := broker.Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	plainAddr, saslAddr := b.ListenerAddr("PLAINTEXT").String(), b.ListenerAddr("SASL_PLAINTEXT").String()
	mustRun(t, plainAddr, "", "user", "scram", "set", "bob", "--mechanism", "SCRAM-SHA-512", "--password", "bob-secret")

	props := func(name, s string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
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
	ssl := props("ssl.properties", "security.protocol=SSL\n")
	if r := gokafka(t, saslAddr, "", "topic", "list", "--command-config", ssl); r.code == 0 || !strings.Contains(r.stderr, "not supported") {
		t.Errorf("security.protocol=SSL: exit %d, stderr %q", r.code, r.stderr)
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
