package replication

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hashicorp/yamux"
)

// Mux carries every raft group of this node over one listening address and,
// towards each peer, over one TCP connection. Each raft connection a group
// opens is a yamux stream on the shared session to that peer; the stream
// starts with the group's id so the accepting side can hand it to the right
// group. Idle groups therefore cost no sockets and no extra handshakes.
type Mux struct {
	ln     net.Listener
	logger *slog.Logger

	mu       sync.Mutex
	groups   map[string]*groupLayer
	sessions map[string]*yamux.Session // by peer address, outgoing
	inbound  map[*yamux.Session]struct{}
	closed   bool

	wg sync.WaitGroup

	lastRefusal     atomic.Int64 // unix ns of the last refused stream logged
	lastConnRefusal atomic.Int64 // unix ns of the last refused connection logged
}

// ErrMuxClosed is returned by Accept and Dial once the mux is closed.
var ErrMuxClosed = errors.New("raft mux closed")

// maxGroupID bounds the group-id header a peer may send us.
const maxGroupID = 1024

// maxInboundSessions bounds the connections the raft port keeps open at
// once. A peer keeps one (a cluster has at most a few peers, and a peer's
// reconnection replaces its old connection within a keepalive), so the
// bound is only ever met by something that is not a peer: a flood of
// connections, which must not take every file descriptor of the process
// (and with them the Kafka listener's).
const maxInboundSessions = 64

// maxRoutingStreams bounds the streams of one connection whose group-id
// header is awaited or whose group has yet to take them. Past it the
// connection's next stream waits to be accepted (and yamux refuses what
// overflows its backlog), so a flood of streams costs a bounded number of
// goroutines; a peer's streams route in well under a millisecond each.
const maxRoutingStreams = 256

// ListenMux starts accepting raft connections on addr.
func ListenMux(addr string, logger *slog.Logger) (*Mux, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("raft listen %s: %w", addr, err)
	}
	return serveMux(ln, logger), nil
}

// serveMux accepts raft connections on ln.
func serveMux(ln net.Listener, logger *slog.Logger) *Mux {
	m := &Mux{
		ln:       ln,
		logger:   logger,
		groups:   make(map[string]*groupLayer),
		sessions: make(map[string]*yamux.Session),
		inbound:  make(map[*yamux.Session]struct{}),
	}
	m.wg.Add(1)
	go m.acceptLoop()
	return m
}

// Addr is the address the mux listens on.
func (m *Mux) Addr() net.Addr { return m.ln.Addr() }

func yamuxConfig() *yamux.Config {
	c := yamux.DefaultConfig()
	c.LogOutput = io.Discard
	c.EnableKeepAlive = true
	c.KeepAliveInterval = 10 * time.Second
	c.ConnectionWriteTimeout = 10 * time.Second
	return c
}

func (m *Mux) acceptLoop() {
	defer m.wg.Done()
	var backoff time.Duration
	for {
		conn, err := m.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and friends: back off and go on, as the Kafka
			// listener does; returning would leave the port open
			// with no one accepting, for good.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			m.logger.Warn("raft accept failed", "err", err, "retry_in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			conn.Close()
			return
		}
		if len(m.inbound) >= maxInboundSessions {
			// Refused before a session is made on it: a session would
			// answer the peer (a ping, a stream) until it is closed.
			m.mu.Unlock()
			conn.Close()
			m.logConnRefusal(conn.RemoteAddr())
			continue
		}
		sess, err := yamux.Server(conn, yamuxConfig())
		if err != nil {
			m.mu.Unlock()
			conn.Close()
			continue
		}
		m.inbound[sess] = struct{}{}
		m.mu.Unlock()
		m.wg.Add(1)
		go m.serveSession(sess)
	}
}

func (m *Mux) serveSession(sess *yamux.Session) {
	defer m.wg.Done()
	defer func() {
		m.mu.Lock()
		delete(m.inbound, sess)
		m.mu.Unlock()
		sess.Close()
	}()
	slots := make(chan struct{}, maxRoutingStreams)
	for {
		select {
		case slots <- struct{}{}:
		case <-sess.CloseChan():
			return
		}
		stream, err := sess.Accept()
		if err != nil {
			return
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			defer func() { <-slots }()
			m.route(stream)
		}()
	}
}

// route reads the group id header of a new stream and hands it to the group.
func (m *Mux) route(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		c.Close()
		return
	}
	n := binary.BigEndian.Uint16(hdr[:])
	if n == 0 || n > maxGroupID {
		c.Close()
		return
	}
	id := make([]byte, n)
	if _, err := io.ReadFull(c, id); err != nil {
		c.Close()
		return
	}
	c.SetReadDeadline(time.Time{})
	m.mu.Lock()
	g := m.groups[string(id)]
	m.mu.Unlock()
	if g == nil {
		m.logger.Debug("raft stream for unknown group", "group", string(id))
		c.Close()
		return
	}
	if g.solo {
		m.logRefusal(g.id, c.RemoteAddr())
		c.Close()
		return
	}
	select {
	case g.accept <- c:
	case <-g.done:
		c.Close()
	case <-time.After(10 * time.Second):
		c.Close()
	}
}

// session returns the shared outgoing session to addr, dialing it if needed.
func (m *Mux) session(addr string, timeout time.Duration) (*yamux.Session, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrMuxClosed
	}
	if s := m.sessions[addr]; s != nil && !s.IsClosed() {
		m.mu.Unlock()
		return s, nil
	}
	m.mu.Unlock()

	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	s, err := yamux.Client(conn, yamuxConfig())
	if err != nil {
		conn.Close()
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		s.Close()
		return nil, ErrMuxClosed
	}
	if old := m.sessions[addr]; old != nil && !old.IsClosed() {
		// Another dialer won the race; keep one connection per peer.
		s.Close()
		return old, nil
	}
	m.sessions[addr] = s
	return s, nil
}

// oncePerSecond says whether a line may be logged now, at most once a
// second per last (the unix ns of the last one), so that a flood of what
// it reports cannot flood the log too.
func oncePerSecond(last *atomic.Int64) bool {
	now := time.Now().UnixNano()
	at := last.Load()
	return now-at >= int64(time.Second) && last.CompareAndSwap(at, now)
}

// logRefusal logs a refused stream, at most once a second.
func (m *Mux) logRefusal(group string, remote net.Addr) {
	if oncePerSecond(&m.lastRefusal) {
		m.logger.Warn("refused a raft stream: this node is its group's only voter, so no peer has one to open (more in the next second are not logged)",
			"group", group, "remote", remote.String())
	}
}

// logConnRefusal logs a connection refused for maxInboundSessions, at most
// once a second.
func (m *Mux) logConnRefusal(remote net.Addr) {
	if oncePerSecond(&m.lastConnRefusal) {
		m.logger.Warn("refused a raft connection: the raft port already holds its most connections (more in the next second are not logged)",
			"max", maxInboundSessions, "remote", remote.String())
	}
}

// Layer returns the raft.StreamLayer of one group. Close the layer when the
// group stops.
func (m *Mux) Layer(group string) (raft.StreamLayer, error) { return m.layer(group, false) }

// SoloLayer is Layer for a group whose only voter is this node. raft sends
// such a group no RPC, so every stream opened to it is refused: raft
// believes any RPC it is handed (an AppendEntries claiming a higher term
// deposes the leader and truncates its log to make room for the claimed
// entries), so a stranger who could reach the raft port could otherwise
// take leadership away and delete acknowledged records.
func (m *Mux) SoloLayer(group string) (raft.StreamLayer, error) { return m.layer(group, true) }

func (m *Mux) layer(group string, solo bool) (raft.StreamLayer, error) {
	if len(group) == 0 || len(group) > maxGroupID {
		return nil, fmt.Errorf("bad raft group id %q", group)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrMuxClosed
	}
	if _, ok := m.groups[group]; ok {
		return nil, fmt.Errorf("raft group %q already registered", group)
	}
	g := &groupLayer{m: m, id: group, solo: solo, accept: make(chan net.Conn), done: make(chan struct{})}
	m.groups[group] = g
	return g, nil
}

// Close stops the listener, every session and every group layer.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	err := m.ln.Close()
	for _, s := range m.sessions {
		s.Close()
	}
	for s := range m.inbound {
		s.Close()
	}
	for _, g := range m.groups {
		g.closeLocked()
	}
	m.mu.Unlock()
	m.wg.Wait()
	return err
}

type groupLayer struct {
	m      *Mux
	id     string
	solo   bool // refuses every inbound stream (SoloLayer)
	accept chan net.Conn
	done   chan struct{}
	once   sync.Once
}

func (g *groupLayer) Accept() (net.Conn, error) {
	select {
	case c := <-g.accept:
		return c, nil
	case <-g.done:
		return nil, ErrMuxClosed
	}
}

func (g *groupLayer) closeLocked() {
	g.once.Do(func() { close(g.done) })
	if g.m.groups[g.id] == g {
		delete(g.m.groups, g.id)
	}
}

func (g *groupLayer) Close() error {
	g.m.mu.Lock()
	g.closeLocked()
	g.m.mu.Unlock()
	return nil
}

func (g *groupLayer) Addr() net.Addr { return g.m.ln.Addr() }

func (g *groupLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	s, err := g.m.session(string(address), timeout)
	if err != nil {
		return nil, err
	}
	c, err := s.Open()
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriterSize(c, 2+len(g.id))
	var hdr [2]byte
	binary.BigEndian.PutUint16(hdr[:], uint16(len(g.id)))
	w.Write(hdr[:])
	w.WriteString(g.id)
	if err := w.Flush(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}
