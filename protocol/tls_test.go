package protocol

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// selfSigned is a certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// A TLS listener (Config.TLS) runs each connection's handshake on that
// connection's goroutine within HandshakeTimeout: a client that never
// sends its hello holds neither the accept loop (a TLS client is served
// meanwhile, its ConnInfo carrying the TLS state) nor its socket past the
// timeout (logged at debug, as a client that connects and goes), and a
// plaintext client is closed, logged at INFO as Kafka logs a failed SSL
// handshake.
func TestTLSListener(t *testing.T) {
	cert, pool := selfSigned(t)
	var sawTLS atomic.Bool
	var s *Server
	s, logs := startServer(t, Config{
		ListenerName:     "SSL",
		TLS:              map[string]*tls.Config{"SSL": {Certificates: []tls.Certificate{cert}}},
		HandshakeTimeout: 300 * time.Millisecond,
	}, HandlerFunc(func(_ context.Context, req *Request) Reply {
		if st := req.Conn.TLS; st != nil && st.HandshakeComplete {
			sawTLS.Store(true)
		}
		return func() kmsg.Response { return metadataResponse(s, req) }
	}))

	silent := dial(t, s)
	start := time.Now()

	tc := tls.Client(dial(t, s), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	checkServed(t, tc, 1)
	if !sawTLS.Load() {
		t.Error("the handler saw no TLS state on the connection")
	}

	expectClosed(t, silent)
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Fatalf("a silent client was closed after %v, before the handshake timeout", el)
	}
	// A probe that connects and closes: at debug, as Kafka logs an
	// IOException in the handshake.
	dial(t, s).Close()
	waitLog := time.Now().Add(5 * time.Second)
	for strings.Count(logs.String(), "level=DEBUG msg=\"connection closed during the TLS handshake\"") < 2 {
		if time.Now().After(waitLog) {
			t.Fatalf("no DEBUG lines for the silent client and the probe:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if strings.Contains(logs.String(), "level=INFO") {
		t.Fatalf("a silent client or a probe logged at INFO:\n%s", logs)
	}
	checkServed(t, tc, 3) // the TLS client is still served

	plain := dial(t, s)
	writeAll(t, plain, appendRequest(nil, kmsg.NewPtrApiVersionsRequest(), 1))
	expectClosed(t, plain)
	waitLog = time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "level=INFO msg=\"closing connection: TLS handshake failed\"") {
		if time.Now().After(waitLog) {
			t.Fatalf("no INFO line for the failed handshake:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
