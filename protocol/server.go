package protocol

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/gokafka/internal/bufpool"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ConnInfo identifies a client connection.
type ConnInfo struct {
	Remote, Local net.Addr
	ID            uint64 // unique within a Server, from 1
	// Listener is the name of the listener the connection came in on
	// (Config.ListenerName, or the name given to AddListener), for the
	// addresses a broker advertises on it.
	Listener string
	// SASL is the Handler's state of the connection's SASL authentication
	// (Config.SASLListeners). Only the handlers of its SaslHandshake and
	// SaslAuthenticate requests touch it: until the connection is
	// authenticated the server takes its requests one at a time.
	SASL any
	// User is the user the connection authenticated as with SASL; "" for
	// one that did not (a PLAINTEXT listener), Kafka's ANONYMOUS. Set by
	// the Handler before it calls Authenticated.
	User string
	// TLS is the connection's TLS state once its handshake is done, on a
	// TLS listener (Config.TLS); nil on a plaintext one.
	TLS *tls.ConnectionState

	mutedUntil  atomic.Int64 // unix nanoseconds; see Mute
	authPending atomic.Bool  // on a SASL listener, not yet authenticated
	rawSASL     atomic.Bool  // SaslHandshake v0: raw tokens follow (RawSASLTokens)
}

// Authenticated ends the connection's SASL authentication: its requests of
// every kind are taken from the next one on.
func (ci *ConnInfo) Authenticated() {
	ci.rawSASL.Store(false)
	ci.authPending.Store(false)
}

// RawSASLTokens says that, as after a SaslHandshake v0, the client's next
// frames are bare SASL tokens, not requests, until it is authenticated:
// each comes to the Handler as a SaslAuthenticate v0 request with
// Request.RawSASL set, and its response's SASLAuthBytes go back as a bare
// token (a response of another kind, or an error, closes the connection).
func (ci *ConnInfo) RawSASLTokens() { ci.rawSASL.Store(true) }

// Authenticating reports whether the connection must still authenticate.
func (ci *ConnInfo) Authenticating() bool { return ci.authPending.Load() }

// Mute holds back the connection's next requests for d: none is handled
// before then (one already being read still comes in, and waits), as
// Kafka mutes the channel of a client it throttles for a quota (KIP-219).
// Responses to requests already handled are not held. A later Mute that
// ends sooner does not shorten an earlier one.
func (ci *ConnInfo) Mute(d time.Duration) {
	until := time.Now().Add(d).UnixNano()
	for {
		cur := ci.mutedUntil.Load()
		if cur >= until || ci.mutedUntil.CompareAndSwap(cur, until) {
			return
		}
	}
}

// MutedFor is how long the connection stays muted from now (0 when not).
func (ci *ConnInfo) MutedFor() time.Duration {
	return max(time.Duration(ci.mutedUntil.Load()-time.Now().UnixNano()), 0)
}

// Request is one decoded client request.
type Request struct {
	Key, Version  int16
	CorrelationID int32
	ClientID      string       // "" when null
	Body          kmsg.Request // decoded, version set; byte fields alias a buffer no one else uses
	Conn          *ConnInfo
	Received      time.Time // when its frame had been read
	Size          int       // bytes of its frame, the size prefix not counted
	// RawSASL marks a bare SASL token read after a SaslHandshake v0
	// (ConnInfo.RawSASLTokens), given as a SaslAuthenticate v0 request.
	RawSASL bool

	// AfterEncode, when the Handler or its Reply sets it (before the Reply
	// returns), runs once the response has been encoded into the frame
	// that is written, so that buffers the response points into go back
	// to a pool before the write, which a slow client may make last
	// (WriteTimeout) and which then holds the frame alone. It does not
	// run when the connection dies first (the garbage collector takes
	// the buffers then).
	AfterEncode func()
	// AfterWrite, likewise, runs once the response has been written to the
	// socket, or, if it never is (the connection ended first), once the
	// connection is closed and its Replies have returned: exactly once.
	AfterWrite func()

	// Earlier is closed once the responses to every earlier request on the
	// connection are written. A request other than Produce is decoded only
	// then, so for it Earlier is already closed; a produce Reply may wait
	// for it.
	Earlier <-chan struct{}

	frame []byte // the buffer Body aliases
}

// ReleaseFrame returns a function that gives the buffer the request was read
// into (and Body's byte fields alias) back to the server for reuse. Call it
// once nothing refers to those bytes any more, no matter how the request
// ended; a handler that keeps parts of the body (group metadata, say) simply
// never does, and the garbage collector takes the buffer. The function may
// be called at most once; later calls do nothing.
func (r *Request) ReleaseFrame() func() {
	frame := r.frame
	r.frame = nil
	if frame == nil {
		return func() {}
	}
	var once sync.Once
	return func() { once.Do(func() { bufpool.Put(frame) }) }
}

// Reply produces the response to one request. It may block (a long-poll
// fetch, a produce waiting for its raft commit) but must return once the
// Handle ctx is cancelled. A nil response means nothing is sent (produce with
// acks=0). The response's version is set to the request's before encoding.
type Reply func() kmsg.Response

// Hangup is what a Reply returns to send nothing and close the connection
// once every earlier response is written, logging why: Kafka's answer to a
// produce with acks=0 that failed, so that the client, which expects no
// response, learns of it and refreshes its metadata. resp is the response
// the request would have had (its kind is checked as any response's).
func Hangup(resp kmsg.Response, reason string) kmsg.Response {
	return &hangup{Response: resp, reason: reason}
}

type hangup struct {
	kmsg.Response
	reason string
}

// CloseAfter is what a Reply returns to send resp and then close the
// connection, logging why: Kafka's answer to a failed SASL authentication.
func CloseAfter(resp kmsg.Response, reason string) kmsg.Response {
	return &closeAfter{Response: resp, reason: reason}
}

type closeAfter struct {
	kmsg.Response
	reason string
}

// Handler handles every request but ApiVersions.
type Handler interface {
	// Handle runs on the connection's reader goroutine, one request at a
	// time, in arrival order. It does the order-sensitive part of the work
	// before returning (for produce: hand the batches to their partitions),
	// then returns a Reply. Replies of one connection run concurrently with
	// later requests' Handle calls and with each other, but responses are
	// written strictly in request order. A nil Reply sends nothing, like a
	// Reply returning nil. ctx is cancelled when the connection closes or
	// the server stops.
	//
	// A panic in Handle or in a Reply is recovered, logged with its stack,
	// and closes that connection only.
	Handle(ctx context.Context, req *Request) Reply
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *Request) Reply

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, req *Request) Reply { return f(ctx, req) }

// Server serves the Kafka protocol on one listener, or more (AddListener),
// whose connections share its limits.
type Server struct {
	cfg      Config
	h        Handler
	ln       net.Listener // the first listener
	versions versionTable
	queued   *queueBudget                     // nil: no bound
	apiKeys  []kmsg.ApiVersionsResponseApiKey // shared, read-only
	log      *slog.Logger

	ctx    context.Context // cancelled by Close; parent of every conn's ctx
	cancel context.CancelFunc
	wg     sync.WaitGroup // accept loop and every conn
	nextID atomic.Uint64

	mu     sync.Mutex
	closed bool
	lns    []net.Listener // every listener, the first included
	conns  map[*conn]struct{}
	perIP  map[string]int // connections held per remote IP, when MaxConnsPerIP is set
	freed  sync.Cond      // on mu: a connection ended, or the server closed

	// On mu: when a max.connections.per.ip refusal was last logged, and
	// how many were refused since without a line, so that a client
	// reconnecting in a loop (hundreds a second) does not flood the log.
	perIPLogged time.Time
	perIPQuiet  int

	closeOnce sync.Once
	closeErr  error
}

// Listen listens on addr (host:port; port 0 picks a free one) and serves
// until Close.
func Listen(addr string, cfg Config, h Handler) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("protocol: listen %s: %w", addr, err)
	}
	return serve(ln, cfg, h), nil
}

// Serve serves on an existing listener (a TLS listener, say) until Close,
// which closes ln. On error ln is left open.
func Serve(ln net.Listener, cfg Config, h Handler) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return serve(ln, cfg, h), nil
}

func serve(ln net.Listener, cfg Config, h Handler) *Server {
	s := &Server{
		cfg:      cfg,
		h:        h,
		ln:       ln,
		lns:      []net.Listener{ln},
		versions: newVersionTable(cfg.Versions),
		log:      cfg.Logger,
		conns:    make(map[*conn]struct{}),
		perIP:    make(map[string]int),
		queued:   newQueueBudget(cfg.MaxQueuedBytes, cfg.Logger),
	}
	s.freed.L = &s.mu
	s.apiKeys = s.versions.apiKeys()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.acceptLoop(cfg.ListenerName, ln)
	return s
}

// AddListener serves on ln too, its connections named name (ConnInfo's
// Listener) and counted with the others against MaxConns and
// MaxConnsPerIP, as Kafka's limits are the broker's. Close closes ln; on
// error (the server is closed) ln is left open.
func (s *Server) AddListener(name string, ln net.Listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	s.lns = append(s.lns, ln)
	s.wg.Add(1)
	go s.acceptLoop(name, ln)
	return nil
}

// Addr is the address the server's first listener listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close stops accepting, closes every connection and waits for every
// goroutine the server started, including running Replies, which see their
// ctx cancelled. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.freed.Broadcast()
		conns := make([]*conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		lns := s.lns
		s.mu.Unlock()

		for _, ln := range lns {
			if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) && s.closeErr == nil {
				s.closeErr = fmt.Errorf("protocol: close listener %s: %w", ln.Addr(), err)
			}
		}
		s.cancel()
		for _, c := range conns {
			c.close()
		}
		s.wg.Wait()
	})
	return s.closeErr
}

func (s *Server) acceptLoop(name string, ln net.Listener) {
	defer s.wg.Done()
	log := s.log.With("listener", ln.Addr().String())
	var backoff time.Duration
	for {
		if !s.waitBelowMaxConns() {
			return
		}
		nc, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and friends: back off instead of spinning,
			// as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			log.Warn("accept failed", "err", err, "retry_in", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.ctx.Done():
				t.Stop()
				return
			}
			continue
		}
		backoff = 0

		if s.throttled(nc, log) {
			continue
		}
		ip, limit := s.ipLimit(nc.RemoteAddr())
		s.mu.Lock()
		// Another listener's loop may have taken the last slot while this
		// one waited in Accept: this connection waits for the next, as
		// Kafka's acceptor waits for a slot after accepting.
		for s.cfg.MaxConns > 0 && len(s.conns) >= s.cfg.MaxConns && !s.closed {
			s.freed.Wait()
		}
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		if limit >= 0 && s.perIP[ip] >= limit {
			now := time.Now()
			logIt := now.Sub(s.perIPLogged) >= perIPLogInterval
			quiet := s.perIPQuiet
			if logIt {
				s.perIPLogged, s.perIPQuiet = now, 0
			} else {
				s.perIPQuiet++
			}
			s.mu.Unlock()
			if logIt {
				log.Info("rejected a connection: its address already holds the most connections max.connections.per.ip allows (more in the next second are counted, not logged)",
					"remote", nc.RemoteAddr().String(), "max", limit, "unlogged_before", quiet)
			}
			nc.Close()
			continue
		}
		// Every connection is counted, limited or not, so that a limit
		// set later (a dynamic max.connections.per.ip) sees those already
		// held, as Kafka's ConnectionQuotas counts them all.
		counted := ip != ""
		if counted {
			s.perIP[ip]++
		}
		if tc := s.cfg.TLS[name]; tc != nil {
			// Only wrapped here: the handshake runs on the
			// connection's goroutine (conn.handshake), so that a
			// slow or silent client cannot hold the accept loop.
			nc = tls.Server(nc, tc)
		}
		c := newConn(s, nc, name, log)
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			if counted {
				if s.perIP[ip]--; s.perIP[ip] == 0 {
					delete(s.perIP, ip)
				}
			}
			s.freed.Broadcast()
			s.mu.Unlock()
		}()
	}
}

// perIPLogInterval is the least time between two lines logged for
// connections refused by max.connections.per.ip.
const perIPLogInterval = time.Second

// throttled reports whether the connection's address is over its
// connection rate (Config.ConnThrottle); such a connection is closed
// once its throttle time has passed, or the server closes.
func (s *Server) throttled(nc net.Conn, log *slog.Logger) bool {
	ta, ok := nc.RemoteAddr().(*net.TCPAddr)
	if s.cfg.ConnThrottle == nil || !ok {
		return false
	}
	d := s.cfg.ConnThrottle(ta.IP.String())
	if d <= 0 {
		return false
	}
	log.Debug("closing a connection over its address's connection_creation_rate quota", "remote", nc.RemoteAddr().String(), "after", d)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.ctx.Done():
		}
		nc.Close()
	}()
	return true
}

// waitBelowMaxConns waits while the server holds MaxConns connections; it
// reports false once the server is closed.
func (s *Server) waitBelowMaxConns() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.cfg.MaxConns > 0 && len(s.conns) >= s.cfg.MaxConns && !s.closed {
		s.freed.Wait()
	}
	return !s.closed
}

// ipLimit returns the remote IP of a connection and how many connections
// it may hold (negative: any number).
func (s *Server) ipLimit(remote net.Addr) (string, int) {
	ta, ok := remote.(*net.TCPAddr)
	if s.cfg.MaxConnsPerIP == nil || !ok {
		return "", -1
	}
	ip := ta.IP.String()
	return ip, s.cfg.MaxConnsPerIP(ip)
}

// apiVersions answers an ApiVersions request from the configured table.
func (s *Server) apiVersions(req *Request, unsupported bool, log *slog.Logger) kmsg.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	if unsupported {
		// As Kafka (KIP-511): error 35 encoded as v0, listing the
		// ApiVersions range only, so the client retries with the highest
		// version we speak. Clients read key 18's max from it (kgo,
		// librdkafka, the Java client); those predating KIP-511 never
		// send a version we lack.
		log.Debug("unsupported ApiVersions version", "version", req.Version)
		resp.ErrorCode = 35 // UNSUPPORTED_VERSION
		for _, k := range s.apiKeys {
			if k.ApiKey == apiVersionsKey {
				resp.ApiKeys = []kmsg.ApiVersionsResponseApiKey{k}
			}
		}
		resp.SetVersion(0)
		return resp
	}
	resp.SetVersion(req.Version)
	if body, ok := req.Body.(*kmsg.ApiVersionsRequest); ok && req.Version >= 3 {
		log.Debug("client software", "client_id", clipLogged(req.ClientID),
			"software_name", clipLogged(body.ClientSoftwareName), "software_version", clipLogged(body.ClientSoftwareVersion))
		if !validSoftware(body.ClientSoftwareName) || !validSoftware(body.ClientSoftwareVersion) {
			// As Kafka: v3 and later must name the software in its
			// pattern; the Java client and librdkafka replace what does
			// not fit before they send it.
			log.Info("ApiVersions names its client software outside Kafka's pattern; answered INVALID_REQUEST",
				"client_id", clipLogged(req.ClientID), "software_name", clipLogged(body.ClientSoftwareName),
				"software_version", clipLogged(body.ClientSoftwareVersion))
			resp.ErrorCode = kerr.InvalidRequest.Code // and, as Kafka, no keys
			return resp
		}
		if code := s.checkIdentity(body); code != 0 {
			var cluster any // nil: the client named none
			if body.ClusterID != nil {
				cluster = clipLogged(*body.ClusterID)
			}
			log.Info("ApiVersions names another broker; answered with an error", "client_id", clipLogged(req.ClientID),
				"cluster_id", cluster, "node_id", body.NodeID, "error", kerr.ErrorForCode(code))
			resp.ErrorCode = code // and, as Kafka, no keys
			return resp
		}
	}
	resp.ApiKeys = s.apiKeys
	return resp
}

// validSoftware says whether s fits Kafka's pattern for an ApiVersions
// client software name or version, [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?:
// letters, digits, '-' and '.', starting and ending with a letter or digit.
func validSoftware(s string) bool {
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	if s == "" || !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !alnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// checkIdentity applies Kafka's check of an ApiVersions v5 request's
// cluster and node (KIP-1242): a node without a cluster is
// INVALID_REQUEST, and a cluster or node that is not this broker's is
// REBOOTSTRAP_REQUIRED, which tells the client its address for the node
// reached another broker. Both unset, as from a client dialing its seeds,
// passes.
func (s *Server) checkIdentity(body *kmsg.ApiVersionsRequest) int16 {
	if body.Version < 5 {
		return 0
	}
	if body.ClusterID == nil {
		if body.NodeID != -1 {
			return kerr.InvalidRequest.Code
		}
		return 0
	}
	if s.cfg.Identity == nil {
		return 0
	}
	cluster, node := s.cfg.Identity()
	if *body.ClusterID != cluster || body.NodeID != node {
		return kerr.RebootstrapRequired.Code
	}
	return 0
}

// clipLogged shortens a client's string for the log: a field a request
// may make megabytes long is logged as its first 128 bytes.
func clipLogged(s string) string {
	if len(s) > 128 {
		return s[:128] + "..."
	}
	return s
}
