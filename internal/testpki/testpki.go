// Package testpki makes, for tests, a CA and the certificates it signs: a
// server's for 127.0.0.1 and localhost, and a client's, in the PEM files a
// Kafka PEM key store and trust store take.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// PKI is a test CA and what it signed.
type PKI struct {
	CA         *x509.CertPool
	CAPEM      string
	ServerCert string          // PEM: the chain, the server's certificate then the CA's
	ServerKey  string          // PEM: the server's PKCS#8 key
	Client     tls.Certificate // a client certificate, for ssl.client.auth
	// Dir holds server.pem (ServerKey and ServerCert: Kafka's PEM key
	// store) and ca.pem (CAPEM: a PEM trust store).
	Dir string
}

// New makes a PKI, its files in a temporary directory of t.
func New(t testing.TB) *PKI {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	pemOf := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	now := time.Now()
	caKey := newKey()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gokafka test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		k := newKey()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	p := &PKI{CA: x509.NewCertPool(), CAPEM: pemOf("CERTIFICATE", caDER), Dir: t.TempDir()}
	p.CA.AddCert(caCert)
	srvDER, srvKey := leaf(2, "broker", x509.ExtKeyUsageServerAuth)
	pk8, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	p.ServerCert, p.ServerKey = pemOf("CERTIFICATE", srvDER)+p.CAPEM, pemOf("PRIVATE KEY", pk8)
	cliDER, cliKey := leaf(3, "alice", x509.ExtKeyUsageClientAuth)
	p.Client = tls.Certificate{Certificate: [][]byte{cliDER}, PrivateKey: cliKey}
	for name, content := range map[string]string{"server.pem": p.ServerKey + p.ServerCert, "ca.pem": p.CAPEM} {
		if err := os.WriteFile(filepath.Join(p.Dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// KeyStore is the path of server.pem, Kafka's PEM key store of the server.
func (p *PKI) KeyStore() string { return filepath.Join(p.Dir, "server.pem") }

// TrustStore is the path of ca.pem, a PEM trust store of the CA.
func (p *PKI) TrustStore() string { return filepath.Join(p.Dir, "ca.pem") }

// ClientTLS is a client's TLS trusting the CA, with certs as its own.
func (p *PKI) ClientTLS(certs ...tls.Certificate) *tls.Config {
	return &tls.Config{RootCAs: p.CA, Certificates: certs}
}
