package compattests

import (
	"github.com/gokafka/gokafka/internal/testpki"
	"strings"
	"testing"
	"time"
)

// librdkafka over TLS: kcat produces and consumes on an SSL listener
// (security.protocol=ssl, the CA in ssl.ca.location, the broker's name
// checked), and on a SASL_SSL one with SASL/PLAIN, whose users are the
// listener's JAAS options.
func TestKcatTLS(t *testing.T) {
	kcatPath(t)
	pki := testpki.New(t)
	caFile, keystore := pki.TrustStore(), pki.KeyStore()
	saslAddr := freePort(t)
	b := startBroker(t, "--listen", "SSL://{kafka},SASL_SSL://"+saslAddr,
		"--ssl-keystore-type", "PEM", "--ssl-keystore-location", keystore,
		"--sasl-enabled-mechanisms", "PLAIN",
		"--override", `listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="alice-secret";`)
	ctx := testCtx(t, 90*time.Second)
	ssl := []string{"-X", "security.protocol=ssl", "-X", "ssl.ca.location=" + caFile, "-X", "ssl.endpoint.identification.algorithm=https"}

	args := func(addr string, extra []string, rest ...string) []string {
		return append(append([]string{"-b", addr}, extra...), rest...)
	}
	kcat(t, ctx, "k1:over-ssl\nk2:again\n", args(b.Addr(), ssl, "-P", "-t", "kcat-ssl", "-K:")...)
	out := kcat(t, ctx, "", args(b.Addr(), ssl, "-C", "-t", "kcat-ssl", "-o", "beginning", "-e", "-f", `%k=%s\n`)...)
	if out != "k1=over-ssl\nk2=again\n" {
		t.Fatalf("kcat -C over SSL returned %q", out)
	}

	saslSSL := []string{"-X", "security.protocol=sasl_ssl", "-X", "ssl.ca.location=" + caFile,
		"-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=alice", "-X", "sasl.password=alice-secret"}
	kcat(t, ctx, "over-sasl-ssl\n", args(saslAddr, saslSSL, "-P", "-t", "kcat-sasl-ssl")...)
	out = kcat(t, ctx, "", args(saslAddr, saslSSL, "-C", "-t", "kcat-sasl-ssl", "-o", "beginning", "-e", "-f", `%s\n`)...)
	if out != "over-sasl-ssl\n" {
		t.Fatalf("kcat -C over SASL_SSL returned %q", out)
	}
	if strings.Contains(b.Logs(), "TLS handshake failed") {
		t.Errorf("a handshake failed:\n%s", b.Logs())
	}
}
