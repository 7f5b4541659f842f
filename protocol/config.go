package protocol

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Defaults, named after the Kafka settings they mirror.
const (
	DefaultMaxRequestBytes = 100 << 20 // socket.request.max.bytes
	DefaultIdleTimeout     = 10 * time.Minute
	DefaultMaxInFlight     = 32
	// DefaultMaxPendingBytes bounds the frames of one connection read
	// ahead of their responses.
	DefaultMaxPendingBytes = 64 << 20
	// DefaultMaxQueuedBytes bounds the frames of all connections read
	// ahead of their responses: five of the largest requests by default.
	DefaultMaxQueuedBytes = 5 * DefaultMaxRequestBytes
	DefaultWriteTimeout   = 30 * time.Second
	// DefaultHandshakeTimeout bounds a TLS listener's handshake.
	DefaultHandshakeTimeout = 10 * time.Second

	// DefaultApiVersionsMax is the ApiVersions range advertised when
	// Config.Versions does not name key 18 itself.
	DefaultApiVersionsMax = 5
)

// maxUnauthenticatedBytes bounds the frames of a connection that must still
// authenticate (Config.SASLListeners), as Kafka's
// sasl.server.max.receive.size (default 512 KiB).
const maxUnauthenticatedBytes = 512 << 10

const (
	apiVersionsKey      = 18
	produceKey          = 0
	saslHandshakeKey    = 17
	saslAuthenticateKey = 36
)

// VersionRange is an inclusive range of request versions.
type VersionRange struct{ Min, Max int16 }

// Config configures a Server. The zero value of every field means its default.
type Config struct {
	// MaxRequestBytes is socket.request.max.bytes: a frame announcing more
	// closes the connection. Default 100 MiB.
	MaxRequestBytes int32
	// MaxNonProduceBytes bounds every request but Produce (whose size is
	// record bytes, decoded as one slice). kmsg decodes a frame into structs
	// that can take ~25 times its size (arrays of tiny elements), so a
	// 100 MiB Metadata request could cost gigabytes; no real client sends
	// anything but Produce this large. Default min(MaxRequestBytes, 8 MiB).
	MaxNonProduceBytes int32
	// IdleTimeout is connections.max.idle.ms: a connection with no request
	// read and no response written for this long, and nothing outstanding,
	// is closed. Default 10 minutes; negative disables it.
	IdleTimeout time.Duration
	// WriteTimeout closes a connection whose client reads nothing of a
	// response for this long (no byte of it written under one write
	// deadline), so that one that stops reading cannot pin the
	// connection's goroutines; a slow reader that keeps reading is served.
	// Default 30 s.
	WriteTimeout time.Duration
	// MaxInFlight bounds the requests of one connection read ahead of their
	// responses. Default 32.
	MaxInFlight int
	// MaxPendingBytes bounds the bytes of those requests' frames: the
	// reader reads no further frame while the unanswered ones hold this
	// much (one frame always goes through). Kafka reads a connection's
	// next request only once the last is answered; this keeps produce
	// pipelining while bounding what one connection pins to about Kafka's
	// one request. (Other requests are read ahead but decoded one at a
	// time, once those before them are answered.) Default
	// DefaultMaxPendingBytes.
	MaxPendingBytes int
	// MaxQueuedBytes is queued.max.request.bytes: it bounds the bytes of
	// the frames of all connections being read or awaiting their
	// response. While they hold this much, every connection waits before
	// reading more than a frame's size, as Kafka mutes its channels while
	// its memory pool is empty; a frame goes through while anything is
	// left, whatever its size. Default DefaultMaxQueuedBytes (Kafka's is
	// no bound); negative bounds nothing.
	MaxQueuedBytes int64
	// MaxConnsPerIP is max.connections.per.ip and its overrides: how many
	// connections the remote address ip (as net.IP.String writes it) may
	// hold; a new one past that is closed at once, as Kafka's acceptor
	// does. 0 allows none; nil or a negative answer, any number.
	MaxConnsPerIP func(ip string) int
	// ConnThrottle, when set, is asked about each new connection, by its
	// remote address: a positive answer means the address opens
	// connections faster than its quota allows, and the connection is
	// not served but closed after that long, as Kafka's acceptor delays
	// closing a throttled one (KIP-612).
	ConnThrottle func(ip string) time.Duration
	// MaxConns is max.connections: while the server holds this many
	// connections it accepts no more (they wait in the listen backlog), as
	// Kafka's acceptor waits. 0 (the default) bounds nothing.
	MaxConns int
	// Versions maps each API key this broker really implements to the
	// versions it implements. ApiVersions advertises exactly these, sorted
	// by key; a request for another key or version closes the connection.
	// If key 18 (ApiVersions) is absent, 0..DefaultApiVersionsMax is added.
	Versions map[int16]VersionRange
	// Identity, if set, names this broker's cluster and node for
	// ApiVersions v5 (KIP-1242): a client that names another cluster or
	// node is answered REBOOTSTRAP_REQUIRED, as Kafka answers a connection
	// routed to the wrong broker. Without it the names are not checked.
	Identity func() (clusterID string, nodeID int32)
	// SASLListeners names the listeners (ConnInfo.Listener) whose
	// connections must authenticate with SASL before anything else, as
	// Kafka's SaslServerAuthenticator has them: until the Handler calls
	// ConnInfo.Authenticated, a connection is taken one request at a time
	// and closed at any request but ApiVersions, SaslHandshake and
	// SaslAuthenticate.
	SASLListeners map[string]bool
	// TLS gives the listeners (ConnInfo.Listener) whose connections are
	// TLS, as Kafka's SSL and SASL_SSL listeners: each accepted connection
	// is wrapped with crypto/tls and its handshake run on the connection's
	// own goroutine, within HandshakeTimeout, before its first request is
	// read (SASL, if the listener has it too, comes after). A failed
	// handshake closes that connection alone. Other listeners are
	// plaintext.
	TLS map[string]*tls.Config
	// HandshakeTimeout bounds a TLS handshake. Default 10 s.
	HandshakeTimeout time.Duration
	// ListenerName names the listener Listen or Serve is given, in the
	// ConnInfo of its connections (Server.AddListener names the others).
	ListenerName string
	// Logger receives connection-level events. Default slog.Default().
	Logger *slog.Logger
	// Observer, if set, is told about connections and finished requests.
	Observer Observer
}

// Observer receives metrics hooks. Its methods are called from connection
// goroutines concurrently and must not block.
type Observer interface {
	ConnOpened()
	ConnClosed()
	// RequestDone reports a request whose response was written (or, for a
	// nil response, whose Reply returned; for a Hangup, whose connection
	// is being closed; for one whose connection ended before its response
	// was written, once the connection's Replies have returned). elapsed
	// runs from the moment its frame was read to the moment its response
	// was written.
	RequestDone(key, version int16, elapsed time.Duration)
}

// withDefaults returns cfg with defaults applied and Versions validated and
// copied, so later changes to the caller's map do not reach the server.
func (cfg Config) withDefaults() (Config, error) {
	switch {
	case cfg.MaxRequestBytes == 0:
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	case cfg.MaxRequestBytes < minHeaderSize:
		return cfg, fmt.Errorf("protocol: MaxRequestBytes %d below the minimal request header (%d)", cfg.MaxRequestBytes, minHeaderSize)
	}
	switch {
	case cfg.MaxNonProduceBytes <= 0:
		cfg.MaxNonProduceBytes = min(cfg.MaxRequestBytes, 8<<20)
	case cfg.MaxNonProduceBytes > cfg.MaxRequestBytes:
		cfg.MaxNonProduceBytes = cfg.MaxRequestBytes
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.MaxPendingBytes <= 0 {
		cfg.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if cfg.MaxQueuedBytes == 0 {
		cfg.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxConns < 0 {
		return cfg, fmt.Errorf("protocol: MaxConns %d must not be negative", cfg.MaxConns)
	}
	versions := make(map[int16]VersionRange, len(cfg.Versions)+1)
	for key, r := range cfg.Versions {
		req := kmsg.RequestForKey(key)
		if req == nil {
			return cfg, fmt.Errorf("protocol: Versions: unknown api key %d", key)
		}
		if r.Min < 0 || r.Min > r.Max || r.Max > req.MaxVersion() {
			return cfg, fmt.Errorf("protocol: Versions: %s (key %d) range %d..%d not within 0..%d (kmsg max)",
				kmsg.NameForKey(key), key, r.Min, r.Max, req.MaxVersion())
		}
		versions[key] = r
	}
	if r, ok := versions[apiVersionsKey]; !ok {
		versions[apiVersionsKey] = VersionRange{0, DefaultApiVersionsMax}
	} else if r.Min != 0 {
		// Clients fall back to ApiVersions v0 when they see
		// UNSUPPORTED_VERSION; every Kafka broker accepts it.
		return cfg, fmt.Errorf("protocol: Versions: ApiVersions must start at version 0, not %d", r.Min)
	}
	cfg.Versions = versions
	return cfg, nil
}

// versionTable is Config.Versions indexed by key, for the per-request lookup.
type versionTable []struct {
	ok  bool
	rng VersionRange
}

func newVersionTable(versions map[int16]VersionRange) versionTable {
	var maxKey int16
	for k := range versions {
		maxKey = max(maxKey, k)
	}
	t := make(versionTable, int(maxKey)+1)
	for k, r := range versions {
		t[k].ok = true
		t[k].rng = r
	}
	return t
}

// lookup reports the range for key, if the broker implements key.
func (t versionTable) lookup(key int16) (VersionRange, bool) {
	if key < 0 || int(key) >= len(t) || !t[key].ok {
		return VersionRange{}, false
	}
	return t[key].rng, true
}

// apiKeys is the ApiVersions table: every implemented key, sorted.
func (t versionTable) apiKeys() []kmsg.ApiVersionsResponseApiKey {
	var keys []kmsg.ApiVersionsResponseApiKey
	for k, e := range t {
		if !e.ok {
			continue
		}
		ak := kmsg.NewApiVersionsResponseApiKey()
		ak.ApiKey, ak.MinVersion, ak.MaxVersion = int16(k), e.rng.Min, e.rng.Max
		keys = append(keys, ak)
	}
	slices.SortFunc(keys, func(a, b kmsg.ApiVersionsResponseApiKey) int { return int(a.ApiKey) - int(b.ApiKey) })
	return keys
}
