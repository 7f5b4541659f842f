package protocol

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// closedByServer reports whether the server closed c without a word: a
// read sees EOF (or a reset) well before the deadline.
func closedByServer(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return err == io.EOF || err != nil
}

// max.connections.per.ip: a connection past an address's limit is closed
// at once, the others are served, and a slot freed is taken again.
func TestMaxConnsPerIP(t *testing.T) {
	var s *Server
	limit := 2
	s, logs := startServer(t, Config{MaxConnsPerIP: func(ip string) int {
		if ip != "127.0.0.1" {
			t.Errorf("limit asked for %q", ip)
		}
		return limit
	}}, metadataHandler(&s))
	a, b := dial(t, s), dial(t, s)
	checkServed(t, a, 1)
	checkServed(t, b, 3)
	c := dial(t, s)
	if !closedByServer(t, c) {
		t.Fatal("a third connection from 127.0.0.1 was kept")
	}
	if !strings.Contains(logs.String(), "max.connections.per.ip") {
		t.Errorf("no log line names max.connections.per.ip:\n%s", logs.String())
	}
	checkServed(t, a, 5)
	a.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		d := dial(t, s)
		if !closedByServer(t, d) {
			checkServed(t, d, 7)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no connection accepted after one of the two closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	checkServed(t, b, 9)
}

// A limit of 0 (an override denying an address) refuses every connection.
func TestMaxConnsPerIPZero(t *testing.T) {
	var s *Server
	s, _ = startServer(t, Config{MaxConnsPerIP: func(string) int { return 0 }}, metadataHandler(&s))
	if !closedByServer(t, dial(t, s)) {
		t.Fatal("connection kept with a limit of 0")
	}
}

// max.connections: at the limit the server accepts nothing more until a
// connection closes; the waiting one is then served.
func TestMaxConns(t *testing.T) {
	var s *Server
	s, _ = startServer(t, Config{MaxConns: 2}, metadataHandler(&s))
	a, b := dial(t, s), dial(t, s)
	checkServed(t, a, 1)
	checkServed(t, b, 3)
	c := dial(t, s) // the kernel completes the handshake; the server has not accepted it
	waitsForSlot(t, c, 5, func() { a.Close() })
	checkServed(t, b, 7)
}

// Close does not hang on an accept loop waiting below max.connections.
func TestMaxConnsClose(t *testing.T) {
	var s *Server
	s, _ = startServer(t, Config{MaxConns: 1}, metadataHandler(&s))
	checkServed(t, dial(t, s), 1)
	closeWithin(t, s, 5*time.Second)
}

// A second listener's connections carry its name, count against the
// server's MaxConns with the first's, and close with the server.
func TestAddListener(t *testing.T) {
	var s *Server
	var mu sync.Mutex
	seen := map[string]bool{} // listener names requests came in on
	h := func(ctx context.Context, req *Request) Reply {
		mu.Lock()
		seen[req.Conn.Listener] = true
		mu.Unlock()
		return metadataHandler(&s)(ctx, req)
	}
	s, _ = startServer(t, Config{MaxConns: 2, ListenerName: "FIRST"}, HandlerFunc(h))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddListener("SECOND", ln); err != nil {
		t.Fatal(err)
	}
	a := dial(t, s)
	b, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	checkServed(t, a, 1)
	checkServed(t, b, 3)
	mu.Lock()
	if !seen["FIRST"] || !seen["SECOND"] || len(seen) != 2 {
		t.Errorf("requests came in on listeners %v, want FIRST and SECOND", seen)
	}
	mu.Unlock()
	// Two connections are the server's limit, whichever listener took them.
	waitsForSlot(t, dial(t, s), 5, func() { b.Close() })
	closeWithin(t, s, 5*time.Second)
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("the second listener still accepts after Close")
	}
	if err := s.AddListener("THIRD", ln); !errors.Is(err, net.ErrClosed) {
		t.Errorf("AddListener after Close: %v, want net.ErrClosed", err)
	}
}

// waitsForSlot checks that c, a connection past limit (MaxConns by
// default), is not served until free closes another, and then is.
func waitsForSlot(t *testing.T, c net.Conn, correlationID int32, free func(), limit ...string) {
	t.Helper()
	// checkServed fails the test from its goroutine; served then says
	// false, so that a failed check is not taken for a served connection.
	served := make(chan bool, 1)
	go func() {
		ok := false
		defer func() { served <- ok }()
		checkServed(t, c, correlationID)
		ok = true
	}()
	select {
	case ok := <-served:
		if !ok {
			t.Fatal("the connection past the limit failed before another closed")
		}
		t.Fatalf("a connection past %s was served while the others were open", append(limit, "max.connections")[0])
	case <-time.After(300 * time.Millisecond):
	}
	free()
	select {
	case ok := <-served:
		if !ok {
			t.Fatal("the waiting connection failed once another closed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting connection was not served after another closed")
	}
}

// A client reconnecting in a loop past max.connections.per.ip is refused
// every time, but logged at most once a second: each refusal was a line at
// INFO, 875 in 5 s from one client looping against gokafkad. The next line
// counts those left out.
func TestMaxConnsPerIPRefusalLogBounded(t *testing.T) {
	var s *Server
	s, logs := startServer(t, Config{MaxConnsPerIP: func(string) int { return 0 }}, metadataHandler(&s))
	const tries = 50
	for range tries {
		if !closedByServer(t, dial(t, s)) {
			t.Fatal("connection kept with a limit of 0")
		}
	}
	lines := strings.Count(logs.String(), "max.connections.per.ip allows")
	if lines < 1 || lines > 2 {
		t.Fatalf("%d refusals logged %d lines, want 1 or 2 (at most one a second):\n%s", tries, lines, logs.String())
	}
	time.Sleep(perIPLogInterval)
	if !closedByServer(t, dial(t, s)) {
		t.Fatal("connection kept with a limit of 0")
	}
	out := logs.String()
	last := out[strings.LastIndex(out, "max.connections.per.ip allows"):]
	if strings.Contains(last, "unlogged_before=0") || !strings.Contains(last, "unlogged_before=") {
		t.Errorf("the line after a quiet second does not count the refusals left out:\n%s", out)
	}
}
