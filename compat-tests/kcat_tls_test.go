package compattests

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeTestPKI writes a CA (ca.pem) and a server key store it signed for
// 127.0.0.1 (server.pem: a PKCS#8 key and the certificate chain, Kafka's
// PEM key store) into dir.
func writeTestPKI(t *testing.T, dir string) (caFile, keystoreFile string) {
	t.Helper()
	now := time.Now()
	pemOf := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "compat CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "gokafkad"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pk8, _ := x509.MarshalPKCS8PrivateKey(key)
	caFile, keystoreFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem")
	ks := append(append(pemOf("PRIVATE KEY", pk8), pemOf("CERTIFICATE", der)...), pemOf("CERTIFICATE", caDER)...)
	if err := os.WriteFile(caFile, pemOf("CERTIFICATE", caDER), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keystoreFile, ks, 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, keystoreFile
}

// librdkafka over TLS: kcat produces and consumes on an SSL listener
// (security.protocol=ssl, the CA in ssl.ca.location, the broker's name
// checked), and on a SASL_SSL one with SASL/PLAIN, whose users are the
// listener's JAAS options.
func TestKcatTLS(t *testing.T) {
	kcatPath(t)
	caFile, keystore := writeTestPKI(t, t.TempDir())
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
