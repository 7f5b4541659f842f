package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/testlog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// As Kafka on a PLAINTEXT listener: SaslHandshake and SaslAuthenticate are
// listed and answered ILLEGAL_SASL_STATE, so a client set up for SASL
// fails with an authentication error, at once.
func TestSASLOnPlaintextListener(t *testing.T) {
	var logs *testlog.Buffer
	b := startBroker(t, t.TempDir(), func(c *Config) { logs = logTo(c) })
	defer b.Close()
	for v := int16(0); v <= 1; v++ {
		req := kmsg.NewPtrSASLHandshakeRequest()
		req.Version, req.Mechanism = v, "PLAIN"
		if resp := rawRequest(t, b, req).(*kmsg.SASLHandshakeResponse); resp.ErrorCode != kerr.IllegalSaslState.Code {
			t.Errorf("SaslHandshake v%d: %v", v, kerr.ErrorForCode(resp.ErrorCode))
		}
	}
	// The log says why, once for a client retrying.
	if n := strings.Count(logs.String(), "asked for SASL authentication"); n != 1 {
		t.Errorf("%d warnings of SASL handshakes, want 1:\n%s", n, logs.String())
	}
	for v := int16(0); v <= 2; v++ {
		req := kmsg.NewPtrSASLAuthenticateRequest()
		req.Version, req.SASLAuthBytes = v, []byte("\x00user\x00pass")
		if resp := rawRequest(t, b, req).(*kmsg.SASLAuthenticateResponse); resp.ErrorCode != kerr.IllegalSaslState.Code {
			t.Errorf("SaslAuthenticate v%d: %v", v, kerr.ErrorForCode(resp.ErrorCode))
		}
	}
	// The connection is still served afterwards.
	conn := rawConn(t, b)
	defer conn.Close()
	for i, req := range []kmsg.Request{kmsg.NewPtrSASLHandshakeRequest(), kmsg.NewPtrMetadataRequest()} {
		if _, err := conn.Write(rawFormatter.AppendRequest(nil, req, int32(i))); err != nil {
			t.Fatal(err)
		}
		if cid, _, err := readResponseFrame(conn); err != nil || cid != int32(i) {
			t.Fatalf("response %d: correlation %d, %v", i, cid, err)
		}
	}

	cl := newClient(t, b, kgo.SASL(plain.Auth{User: "u", Pass: "p"}.AsMechanism()), kgo.RetryTimeout(2*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := cl.Request(ctx, kmsg.NewPtrMetadataRequest())
	if !errors.Is(err, kerr.IllegalSaslState) {
		t.Fatalf("franz-go with SASL PLAIN: %v, want ILLEGAL_SASL_STATE", err)
	}
}

// The mechanism is the client's string, up to 32 KiB: a client naming a
// new one in each handshake must not have each kept and logged.
func TestSASLHandshakeWarningsBounded(t *testing.T) {
	var logs *testlog.Buffer
	b := startBroker(t, t.TempDir(), func(c *Config) { logs = logTo(c) })
	defer b.Close()
	conn := rawConn(t, b)
	defer conn.Close()
	pad := strings.Repeat("M", 32000)
	for i := int32(0); i < 50; i++ {
		req := kmsg.NewPtrSASLHandshakeRequest()
		req.Version, req.Mechanism = 1, fmt.Sprintf("%05d", i)+pad
		if resp, _ := sendRaw(t, conn, rawFormatter, req, i); resp.(*kmsg.SASLHandshakeResponse).ErrorCode != kerr.IllegalSaslState.Code {
			t.Fatalf("handshake %d: %v", i, kerr.ErrorForCode(resp.(*kmsg.SASLHandshakeResponse).ErrorCode))
		}
	}
	if n := strings.Count(logs.String(), "asked for SASL authentication"); n != 1 {
		t.Errorf("%d warnings of SASL handshakes, want 1", n)
	}
	if n := len(logs.String()); n > 10_000 {
		t.Errorf("%d bytes logged for 50 handshakes", n)
	}
	b.saslWarn.mu.Lock()
	kept := 0
	for k := range b.saslWarn.warned {
		kept += len(k)
	}
	b.saslWarn.mu.Unlock()
	if kept > 1000 {
		t.Errorf("%d bytes of mechanisms kept", kept)
	}
}

// The warnings of a client set up for what gokafkad does not serve (SASL,
// transactions) name that client: its address and client id. They said
// only "a client", once a minute, leaving the operator no way to find it.
func TestUnservedClientWarningsNameTheClient(t *testing.T) {
	var logs *testlog.Buffer
	b := startBroker(t, t.TempDir(), func(c *Config) { logs = logTo(c) })
	defer b.Close()
	conn := rawConn(t, b)
	defer conn.Close()
	local := conn.LocalAddr().String()
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("billing-app"))
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "PLAIN"
	sendRaw(t, conn, f, hs, 1)
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.Version, fc.CoordinatorType, fc.CoordinatorKeys = 4, 1, []string{"txn-1"}
	sendRaw(t, conn, f, fc, 2)
	ip := kmsg.NewPtrInitProducerIDRequest()
	txn := "txn-2"
	ip.Version, ip.TransactionalID = 4, &txn
	sendRaw(t, conn, f, ip, 3)
	for _, want := range []string{"asked for SASL authentication", "transactional_id=txn-1", "transactional_id=txn-2"} {
		var line string
		for l := range strings.Lines(logs.String()) {
			if strings.Contains(l, want) {
				line = l
			}
		}
		if !strings.Contains(line, "remote="+local) || !strings.Contains(line, "client_id=billing-app") {
			t.Errorf("the line with %q does not name the client (remote=%s client_id=billing-app): %q\n%s", want, local, line, logs.String())
		}
	}
}
