package replication

import (
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hashicorp/yamux"
)

// failOnce is a listener whose first Accept fails as one does when the
// process is out of file descriptors.
type failOnce struct {
	net.Listener
	once sync.Once
}

func (l *failOnce) Accept() (net.Conn, error) {
	var err error
	l.once.Do(func() {
		err = &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	})
	if err != nil {
		return nil, err
	}
	return l.Listener.Accept()
}

// A failed Accept (EMFILE while a flood of connections holds every file
// descriptor) does not stop the mux accepting: the raft port must serve
// again once the flood is gone.
func TestMuxAcceptsAfterAcceptError(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := serveMux(&failOnce{Listener: ln}, log)
	defer b.Close()
	a, err := ListenMux("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	lb, err := b.Layer("g")
	if err != nil {
		t.Fatal(err)
	}
	la, err := a.Layer("g")
	if err != nil {
		t.Fatal(err)
	}
	c, err := la.Dial(raft.ServerAddress(b.Addr().String()), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := lb.Accept(); err == nil {
			accepted <- c
		}
	}()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("no stream accepted after one failed Accept")
	}
}

// The raft port keeps at most maxInboundSessions connections: a flood of
// them is refused (and cannot take every file descriptor), and once it is
// gone a connection is served again.
func TestMuxBoundsInboundConnections(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := ListenMux("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dial := func() (*yamux.Session, error) {
		s := dialSession(t, m.Addr().String())
		_, err := s.Ping()
		return s, err
	}
	var held []*yamux.Session
	defer func() {
		for _, s := range held {
			s.Close()
		}
	}()
	for i := 0; i < maxInboundSessions; i++ {
		s, err := dial()
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		held = append(held, s)
	}
	s, err := dial()
	if err == nil {
		s.Close()
		t.Fatalf("connection %d served, want it refused", maxInboundSessions+1)
	}
	s.Close()
	held[0].Close()
	held = held[1:]
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, err := dial()
		if err == nil {
			held = append(held, s)
			break
		}
		s.Close()
		if time.Now().After(deadline) {
			t.Fatalf("no connection served after one was closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A connection that opens streams and never names their group holds at
// most maxRoutingStreams goroutines waiting for the names, however many
// streams it opens.
func TestMuxBoundsStreamsAwaitingRoute(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := ListenMux("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c, err := net.Dial("tcp", m.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	cfg.StreamOpenTimeout = 0 // no goroutine of this side's per stream
	s, err := yamux.Client(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Ping(); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	const streams = 3 * maxRoutingStreams
	for i := 0; i < streams; i++ {
		st, err := s.OpenStream()
		if err != nil {
			break // the server reset what overflowed its backlog
		}
		defer st.Close()
	}
	time.Sleep(500 * time.Millisecond)
	if grown := runtime.NumGoroutine() - before; grown > maxRoutingStreams+16 {
		t.Fatalf("%d streams that never named a group hold %d more goroutines, want at most %d", streams, grown, maxRoutingStreams+16)
	}
}

// A connection past maxInboundSessions is refused before the mux answers
// anything on it: a yamux session made first answered the peer's ping
// until it was closed, so a refused connection could look served (1 in
// about 1,500 runs of TestMuxBoundsInboundConnections on a loaded
// machine). Holding m.mu stands for the mux being busy (route and session
// take it) while the connection comes in.
func TestMuxRefusedConnectionNotAnswered(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := ListenMux("127.0.0.1:0", log)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	dial := func() *yamux.Session { return dialSession(t, m.Addr().String()) }
	for i := 0; i < maxInboundSessions; i++ {
		s := dial()
		defer s.Close()
		if _, err := s.Ping(); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	m.mu.Lock()
	s := dial()
	defer s.Close()
	pinged := make(chan error, 1)
	go func() {
		_, err := s.Ping()
		pinged <- err
	}()
	select {
	case err := <-pinged:
		m.mu.Unlock()
		if err == nil {
			t.Fatalf("connection %d answered a ping, want it refused", maxInboundSessions+1)
		}
		return
	case <-time.After(time.Second):
	}
	m.mu.Unlock()
	select {
	case err := <-pinged:
		if err == nil {
			t.Fatalf("connection %d answered a ping, want it refused", maxInboundSessions+1)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("connection %d neither answered nor closed", maxInboundSessions+1)
	}
}

// dialSession opens a yamux client session to addr (the mux's).
func dialSession(t *testing.T, addr string) *yamux.Session {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	s, err := yamux.Client(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
