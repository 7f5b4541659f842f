// Package broker answers Kafka requests: one handler per API key (files
// named by key, 00_produce.go, 01_fetch.go, ...), routing each request to the
// local partitions and the metadata controller and choosing the Kafka error
// code where the decision is made. It never touches files or raft directly:
// partitions and metadata belong to package replication, frames to protocol.
package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/gokafka/internal/budget"
	"github.com/gokafka/gokafka/internal/version"
	"github.com/gokafka/gokafka/logstore"
	"github.com/gokafka/gokafka/protocol"
	"github.com/gokafka/gokafka/replication"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Broker is one running gokafka node: Kafka listener, raft groups, admin
// HTTP. Start returns once it serves clients; Close stops everything.
type Broker struct {
	cfg     Config
	logger  *slog.Logger
	node    *replication.Node
	server  *protocol.Server
	admin   *http.Server
	adminLn net.Listener
	metrics *metrics
	disk    *diskGuard

	autoCreateWarn autoCreateWarnings
	txnWarn        warnLimiter // transactional ids refused, by id
	saslWarn       warnLimiter // SASL handshakes refused (one key: "")

	listeners []boundListener // the client listeners served, the first first

	sessions   *fetchSessions
	fetchMem   *budget.Budget // the memory of fetch responses in flight
	fetchReads atomic.Int64   // passes of readFetch (tests)
	coord      *coordinator
	quotas     quotas // the rates of clients under byte-rate quotas
	// configMu is held while a config change is worked out from the
	// metadata and committed, as Kafka's controller makes them one at a
	// time: APPEND and SUBTRACT edit the value they read, and requests
	// that read it together each committed their own edit of it, losing
	// the others'. AlterUserScramCredentials holds it too: a deletion is
	// checked against the credentials it finds.
	configMu sync.Mutex
	// connLimits is max.connections.per.ip as last read (connLimitFor).
	connLimits connLimits

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// supportedVersions is exactly what the handlers implement.
var supportedVersions = map[int16]protocol.VersionRange{
	0:  {Min: 0, Max: 13}, // Produce: v0–v2 send magic 0/1 message sets, converted as Kafka 3.x does (Kafka 4 starts at 3); v13 names topics by id
	1:  {Min: 0, Max: 18}, // Fetch: v0–v3 get magic 0/1 messages, converted as Kafka 3.x does (Kafka 4 starts at 4); v17–18 add only followers' fields
	2:  {Min: 0, Max: 11}, // ListOffsets: v10 adds a timeout for tiered storage (none here), v11 -6 (KIP-1023)
	3:  {Min: 0, Max: 13}, // Metadata: v13's top-level error (KIP-1102) is never set: no request is refused whole
	8:  {Min: 0, Max: 10}, // OffsetCommit: v10 names topics by id
	9:  {Min: 0, Max: 10}, // OffsetFetch: v10 names topics by id
	10: {Min: 0, Max: 6},  // FindCoordinator
	11: {Min: 0, Max: 9},  // JoinGroup
	12: {Min: 0, Max: 4},  // Heartbeat
	13: {Min: 0, Max: 5},  // LeaveGroup
	14: {Min: 0, Max: 5},  // SyncGroup
	15: {Min: 0, Max: 6},  // DescribeGroups: v6 answers GROUP_ID_NOT_FOUND for a group that does not exist
	16: {Min: 0, Max: 5},  // ListGroups
	17: {Min: 0, Max: 1},  // SaslHandshake: PLAIN and SCRAM on a SASL_PLAINTEXT listener (v0's exchange in bare tokens), ILLEGAL_SASL_STATE elsewhere, as Kafka
	18: {Min: 0, Max: 5},  // ApiVersions (answered by protocol; v5 checks the cluster and node a client expects)
	19: {Min: 0, Max: 7},  // CreateTopics
	20: {Min: 0, Max: 6},  // DeleteTopics
	21: {Min: 0, Max: 2},  // DeleteRecords
	22: {Min: 0, Max: 5},  // InitProducerID
	23: {Min: 0, Max: 4},  // OffsetForLeaderEpoch
	29: {Min: 0, Max: 3},  // DescribeAcls
	30: {Min: 0, Max: 3},  // CreateAcls
	31: {Min: 0, Max: 3},  // DeleteAcls
	32: {Min: 0, Max: 4},  // DescribeConfigs
	34: {Min: 0, Max: 2},  // AlterReplicaLogDirs: the one log directory is every replica's
	35: {Min: 0, Max: 5},  // DescribeLogDirs
	36: {Min: 0, Max: 2},  // SaslAuthenticate: as SaslHandshake
	33: {Min: 0, Max: 2},  // AlterConfigs
	37: {Min: 0, Max: 3},  // CreatePartitions
	42: {Min: 0, Max: 3},  // DeleteGroups
	43: {Min: 0, Max: 2},  // ElectLeaders
	44: {Min: 0, Max: 1},  // IncrementalAlterConfigs
	45: {Min: 0, Max: 1},  // AlterPartitionReassignments
	46: {Min: 0, Max: 0},  // ListPartitionReassignments
	47: {Min: 0, Max: 0},  // OffsetDelete
	48: {Min: 0, Max: 1},  // DescribeClientQuotas
	49: {Min: 0, Max: 1},  // AlterClientQuotas: byte-rate quotas (others are refused)
	50: {Min: 0, Max: 0},  // DescribeUserScramCredentials
	51: {Min: 0, Max: 0},  // AlterUserScramCredentials: kept in the cluster metadata
	55: {Min: 0, Max: 2},  // DescribeQuorum: the metadata controller's raft group
	60: {Min: 0, Max: 2},  // DescribeCluster
	61: {Min: 0, Max: 0},  // DescribeProducers
	66: {Min: 0, Max: 1},  // ListTransactions: none yet (v2's Java regular expressions are not offered)
	74: {Min: 0, Max: 1},  // ListConfigResources (KIP-1000, KIP-1142): topics, brokers, broker loggers; no group configs or client-metrics subscriptions exist here
	75: {Min: 0, Max: 0},  // DescribeTopicPartitions (KIP-966): Metadata's partitions, paged
}

// Start opens the data directory, starts the raft groups and the listeners,
// and returns once the broker serves clients. cfg.Listen may use port 0;
// Addr reports the bound address.
func Start(ctx context.Context, cfg Config) (*Broker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	b := &Broker{cfg: cfg, logger: cfg.Logger.With("node", cfg.NodeID), sessions: newFetchSessions(int(cfg.FetchSessionCacheSlots)), fetchMem: newFetchBudget(cfg.FetchMaxBytes, cfg.fetchMemory)}
	b.txnWarn.most = 100 // one FindCoordinator may name thousands of ids
	if cfg.flushMessages > 0 && cfg.LogFlushIntervalMs > 0 {
		// Kafka flushes when either bound is reached, so a Kafka file
		// with both (messages=1, ms=1000) asks for a flush per message;
		// the message count is not kept here, and the timer alone would
		// sync less often than the file asks.
		b.logger.Warn("log.flush.interval.ms is not applied because log.flush.interval.messages is set, which is not counted here: every raft batch is synced before it is acknowledged, at least as often as Kafka would flush; remove log.flush.interval.messages to sync on the timer",
			"log.flush.interval.messages", cfg.flushMessages, "log.flush.interval.ms", cfg.LogFlushIntervalMs)
		b.cfg.LogFlushIntervalMs = -1
	}
	// Said when serving: a start in the wrong directory makes a new, empty
	// cluster, which an operator should not have to infer.
	_, err := os.Stat(filepath.Join(cfg.DataDir, "node.db"))
	newCluster := errors.Is(err, fs.ErrNotExist)
	b.metrics = newMetrics(b)
	b.ctx, b.cancel = context.WithCancel(context.Background())

	// Bind the Kafka ports first: the advertised addresses (registered with
	// the controller) may depend on the ports the kernel picked.
	listeners, notServed, err := cfg.ClientListeners()
	if err != nil {
		return nil, err
	}
	if len(notServed) > 0 {
		b.logger.Warn("not serving some listeners: their security protocol is not served",
			"listeners", cfg.Listen, "not_served", strings.Join(notServed, "; "))
	}
	if ctl := cfg.controllerEntries(); len(ctl) > 0 {
		// A Kafka file's CONTROLLER://:9093: said, so that an operator
		// does not look for the port, nor miss the one used instead.
		b.logger.Info("controller listeners are not bound: the metadata raft group listens on raft.listen instead",
			"controller_listeners", strings.Join(ctl, ","), "raft_listen", cfg.RaftListen)
	}
	lns := make([]net.Listener, 0, len(listeners))
	closeListeners := func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
	var endpoints []replication.Endpoint
	var advHost string // the first listener's, registered as the broker's address
	var advPort int32
	for i, l := range listeners {
		ln, err := net.Listen("tcp", l.Listen)
		if err != nil {
			closeListeners()
			if len(listeners) > 1 {
				return nil, fmt.Errorf("listen %s (listener %s): %w", l.Listen, l.Name, err)
			}
			return nil, fmt.Errorf("listen %s: %w", l.Listen, err)
		}
		lns = append(lns, ln)
		adv := l.Advertise
		if host, _, _ := net.SplitHostPort(l.Listen); adv == "" && host != "" && net.ParseIP(host) == nil {
			// A host name (localhost, say) is advertised as given, with
			// the port bound, as Kafka advertises its listeners.
			_, port, _ := net.SplitHostPort(ln.Addr().String())
			adv = net.JoinHostPort(host, port)
		} else if adv == "" {
			adv, err = replication.AdvertiseAddr(ln.Addr())
		} else {
			if host, port, serr := net.SplitHostPort(adv); serr == nil && host == "" {
				// PLAINTEXT://:9092 advertises this machine's name, as
				// Kafka's ListenerInfo.withWildcardHostnamesResolved
				// does (0.0.0.0 is refused, as in Kafka).
				if host, err = os.Hostname(); err != nil {
					err = fmt.Errorf("%q has no host and this machine no host name: %w", adv, err)
				}
				adv = net.JoinHostPort(host, port)
			}
			if err == nil {
				err = replication.CheckAdvertised(adv)
			}
		}
		if err != nil {
			closeListeners()
			return nil, fmt.Errorf("advertised.listeners: %w", err)
		}
		host, portS, _ := net.SplitHostPort(adv)
		port, _ := strconv.Atoi(portS)
		if i == 0 {
			advHost, advPort = host, int32(port)
		} else {
			endpoints = append(endpoints, replication.Endpoint{Listener: l.Name, Host: host, Port: int32(port)})
		}
		b.listeners = append(b.listeners, boundListener{Listener: l, addr: ln.Addr(), advertised: adv})
	}
	primary := listeners[0].Name
	if primary == "PLAINTEXT" {
		primary = "" // as registered before listeners had names here
	}

	b.node, err = replication.StartNode(replication.Config{
		NodeID:                 cfg.NodeID,
		DataDir:                cfg.DataDir,
		RaftListen:             cfg.RaftListen,
		RaftAdvertise:          cfg.RaftAdvertise,
		AdvertisedHost:         advHost,
		AdvertisedPort:         advPort,
		Listener:               primary,
		Endpoints:              endpoints,
		Rack:                   cfg.Rack,
		Logger:                 b.logger,
		LogConfig:              b.logConfig,
		Retention:              b.retention,
		RetentionCheckInterval: durationOf(cfg.LogRetentionCheckMs, time.Millisecond),
		RetentionInitialDelay:  max(durationOf(cfg.LogInitialTaskDelayMs, time.Millisecond), time.Millisecond),
		ProducerIDExpiration:   b.producerIDExpiration,
		RecycleBytes:           cfg.LogSegmentRecycleBytes,
	})
	if err != nil {
		closeListeners()
		return nil, err
	}
	b.disk = newDiskGuard(cfg.DataDir, cfg.LogDirMinFreeBytes, b.logger, b.node.PauseRecycling)
	// Partitions of existing topics must lead again before clients are let
	// in, so that a restarted broker answers with data, not errors.
	b.coord = newCoordinator(b)
	if short := b.filesShort(0); short != "" {
		// They cannot all open: fail now, naming the cause, rather than
		// after a minute of "too many open files" from each partition.
		err = fmt.Errorf("not enough open files for this node's partitions%s", short)
	} else {
		err = b.waitAllReady(ctx)
	}
	if err != nil {
		closeListeners()
		b.cancel()
		b.node.Close()
		return nil, err
	}
	b.coord.start()
	// failStarted undoes a start that failed once the coordinator runs:
	// a failed Start leaves no goroutine and no file behind.
	failStarted := func(err error) (*Broker, error) {
		b.cancel()
		b.coord.close()
		b.node.Close()
		return nil, err
	}
	// The static limits are checked here (their host names resolved);
	// connLimitFor applies them, or their dynamic values.
	if _, err := cfg.connLimit(); err != nil {
		closeListeners()
		return failStarted(err)
	}
	sasl := map[string]bool{}
	tlsConfigs := map[string]*tls.Config{}
	for _, l := range listeners {
		if l.Protocol == "SASL_PLAINTEXT" || l.Protocol == "SASL_SSL" {
			sasl[l.Name] = true
		}
		if isTLSProtocol(l.Protocol) {
			// Checked by Validate; built again here, from the files
			// as they are now.
			tc, err := cfg.serverTLS(l)
			if err != nil {
				closeListeners()
				return failStarted(err)
			}
			if _, ignored := cfg.sslClientAuth(l); ignored {
				// Kafka's warning, word for word.
				b.logger.Warn("Broker configuration 'ssl.client.auth' is applied only to SSL listeners. Listener-prefixed configuration can be used to enable SSL client authentication for SASL_SSL listeners.",
					"listener", l.Name)
			}
			tlsConfigs[l.Name] = tc
		}
	}
	b.server, err = protocol.Serve(lns[0], protocol.Config{
		ListenerName:    listeners[0].Name,
		SASLListeners:   sasl,
		TLS:             tlsConfigs,
		MaxRequestBytes: cfg.SocketRequestMaxBytes,
		MaxQueuedBytes:  cfg.queuedMaxBytes(),
		MaxConnsPerIP:   b.connLimitFor,
		ConnThrottle:    b.connThrottle,
		MaxConns:        cfg.maxConns(),
		IdleTimeout:     cfg.idleTimeout(),
		Versions:        supportedVersions,
		Identity: func() (string, int32) {
			return b.node.Controller().State().ClusterID, b.cfg.NodeID
		},
		Logger:   b.logger,
		Observer: b.metrics,
	}, b)
	if err != nil {
		closeListeners()
		return failStarted(err)
	}
	for i, ln := range lns[1:] {
		b.server.AddListener(listeners[i+1].Name, ln) // the server is not closed yet
	}
	if cfg.AdminListen != "" {
		if err := b.startAdmin(cfg.AdminListen); err != nil {
			b.server.Close()
			return failStarted(err)
		}
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.disk.run(b.ctx)
	}()
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.purgeLoop(b.ctx)
	}()
	admin := ""
	if b.adminLn != nil {
		admin = b.adminLn.Addr().String()
	}
	dataDir := cfg.DataDir
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	attrs := []any{"listen", b.listeners[0].addr.String(), "advertise", b.listeners[0].advertised}
	if len(b.listeners) > 1 {
		var more []string
		for _, l := range b.listeners {
			more = append(more, fmt.Sprintf("%s=%s (advertised %s)", l.Name, l.addr, l.advertised))
		}
		attrs = append(attrs, "listeners", strings.Join(more, ", "))
	}
	b.logger.Info("gokafkad serving", append(attrs,
		"version", version.String(), "raft", b.node.RaftAddr(), "admin", admin, "data", dataDir, "cluster", b.node.Controller().State().ClusterID, "new_cluster", newCluster)...)
	return b, nil
}

func (b *Broker) waitAllReady(parent context.Context) error {
	ctx, cancel := context.WithTimeout(parent, 60*time.Second)
	defer cancel()
	for _, name := range b.node.Controller().State().SortedTopics() {
		if err := b.node.WaitTopicReady(ctx, name); err != nil && !errors.Is(err, replication.ErrUnknownTopic) {
			if cerr := context.Cause(parent); cerr != nil {
				// The caller gave up, not the partitions.
				return fmt.Errorf("start stopped while the partitions loaded (topic %s not yet ready): %w", name, cerr)
			}
			return fmt.Errorf("topic %s did not become ready: %w%s", name, err, b.filesShort(-1))
		}
	}
	return nil
}

// filesShort says, for a start that failed, when this node's partitions
// need more open files than the process may hold (RLIMIT_NOFILE lowered
// since they were made): each then fails with "too many open files", over
// and over, until the start gives up, and the cause is worth naming.
// reserve is the files kept for the rest (-1: fileReserve's, as when
// partitions are made).
func (b *Broker) filesShort(reserve int) string {
	_, limit, ok := openFiles()
	if !ok {
		return ""
	}
	n := 0
	for _, t := range b.node.Controller().State().Topics {
		n += b.replicasHere(t.Replicas)
	}
	return filesShortFor(n, limit, reserve)
}

func filesShortFor(partitions, limit, reserve int) string {
	if reserve < 0 {
		reserve = fileReserve(limit)
	}
	if need := partitions * filesPerPartition; need > limit-reserve {
		return fmt.Sprintf(": this node holds %d partitions, which need about %d open files, and its limit is %d (RLIMIT_NOFILE): raise the limit",
			partitions, need, limit)
	}
	return ""
}

// maxAdminConns bounds the connections the admin HTTP port keeps open at
// once; a scraper, a health check and a profiler need a few.
const maxAdminConns = 64

// adminIdleTimeout closes a kept-alive admin connection that sends no
// request for this long (longer than the usual scrape intervals).
const adminIdleTimeout = 2 * time.Minute

func (b *Broker) startAdmin(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("admin listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	// A metric that fails to gather is left out of the scrape and logged,
	// not made the scrape's failure: one bad series (a label a client
	// chose) must not blind the whole of monitoring.
	mux.Handle("/metrics", promhttp.HandlerFor(b.metrics.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(b.logger.With("component", "metrics").Handler(), slog.LevelWarn),
	}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		fmt.Fprintln(w, "ok")
	})
	b.adminLn = ln
	var open atomic.Int64
	var lastRefusal atomic.Int64
	b.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		// A kept-alive connection with no request is closed, as a
		// scraper's next scrape opens one again: with no timeout, idle
		// connections were kept for good.
		IdleTimeout: adminIdleTimeout,
		// At most maxAdminConns at once: more are closed, so that a flood
		// of connections cannot take every file descriptor of the process
		// (and with them the Kafka listener's and the partitions').
		ConnState: func(c net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				if open.Add(1) > maxAdminConns {
					c.Close()
					now := time.Now().UnixNano()
					if last := lastRefusal.Load(); now-last >= int64(time.Second) && lastRefusal.CompareAndSwap(last, now) {
						b.logger.Warn("refused an admin HTTP connection: the admin port already holds its most connections (more in the next second are not logged)",
							"max", maxAdminConns, "remote", c.RemoteAddr().String())
					}
				}
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		},
		// Its complaints (a bad request, a TLS handshake on the plain
		// port) go to the broker's log, in its format.
		ErrorLog: slog.NewLogLogger(b.logger.With("component", "admin-http").Handler(), slog.LevelWarn)}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.admin.Serve(ln)
	}()
	return nil
}

// boundListener is a client listener as served.
type boundListener struct {
	Listener
	addr       net.Addr
	advertised string
}

// Addr is the bound address of the first Kafka listener.
func (b *Broker) Addr() net.Addr { return b.server.Addr() }

// ListenerAddr is the bound address of the client listener named name
// (Config.ClientListeners), or nil when there is none.
func (b *Broker) ListenerAddr(name string) net.Addr {
	for _, l := range b.listeners {
		if l.Name == strings.ToUpper(name) {
			return l.addr
		}
	}
	return nil
}

// AdminAddr is the bound admin HTTP address, or nil when disabled.
func (b *Broker) AdminAddr() net.Addr {
	if b.adminLn == nil {
		return nil
	}
	return b.adminLn.Addr()
}

// Close stops serving, stops every raft group and closes every file. Data
// is flushed; a new Start on the same directory recovers everything.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() { b.closeErr = b.close() })
	return b.closeErr
}

func (b *Broker) close() error {
	b.cancel()
	if b.admin != nil {
		b.admin.Close()
	}
	err := b.server.Close()
	b.wg.Wait()
	b.coord.close()
	if nerr := b.node.Close(); err == nil {
		err = nerr
	}
	return err
}

// segmentBytes is the size at which topic t's segments roll: segment.bytes,
// or internal.segment.bytes where a test set it.
func (b *Broker) segmentBytes(t *replication.Topic) int64 {
	return b.segmentBytesIn(b.node.Controller().State(), t)
}

// segmentBytesIn is segmentBytes in the cluster state st.
func (b *Broker) segmentBytesIn(st *replication.State, t *replication.Topic) int64 {
	if n := b.topicInt64In(st, t, "internal.segment.bytes"); n > 0 {
		return n
	}
	// The floor holds for topics whose configs were stored before it did.
	return max(b.topicInt64In(st, t, "segment.bytes"), minSegmentBytes)
}

func (b *Broker) logConfig(st *replication.State, t *replication.Topic) logstore.Config {
	// The floors hold for topics whose configs were stored before they did.
	c := logstore.Config{
		SegmentBytes:       b.segmentBytesIn(st, t),
		SegmentMs:          b.topicInt64In(st, t, "segment.ms"),
		SegmentJitterMs:    b.topicInt64In(st, t, "segment.jitter.ms"),
		IndexIntervalBytes: int(b.topicInt64In(st, t, "index.interval.bytes")),
		SegmentIndexBytes:  max(b.topicInt64In(st, t, "segment.index.bytes"), minSegmentIndexBytes),
		OnSync:             func(d time.Duration) { b.metrics.fsyncLat.Observe(d.Seconds()) },
		SyncFile:           b.cfg.syncFile,
	}
	if b.cfg.LogFlushIntervalMs > 0 {
		// Capped, not wrapped: Long.MAX, Kafka's "never", made a
		// negative interval, and with it no sync at all by any path.
		c.FsyncInterval = durationOf(b.cfg.LogFlushIntervalMs, time.Millisecond)
	}
	return c
}

// retention returns the time and size limits that delete whole segments.
// Like Kafka, a topic whose cleanup.policy lacks "delete" (compact only, as
// __consumer_offsets) is never trimmed by them.
func (b *Broker) retention(st *replication.State, t *replication.Topic) (int64, int64) {
	if !listHas(b.topicValueIn(st, t, "cleanup.policy"), "delete") {
		return -1, -1
	}
	return b.topicInt64In(st, t, "retention.ms"), b.topicInt64In(st, t, "retention.bytes")
}

// Handle implements protocol.Handler.
func (b *Broker) Handle(ctx context.Context, req *protocol.Request) protocol.Reply {
	reply := b.handle(ctx, req)
	if reply == nil {
		return nil
	}
	return func() kmsg.Response {
		resp := reply()
		b.metrics.countErrors(resp)
		return resp
	}
}

func (b *Broker) handle(ctx context.Context, req *protocol.Request) protocol.Reply {
	switch req.Body.(type) {
	case *kmsg.ProduceRequest:
		// Produce hands its batches over here, in request order, and keeps
		// its pipelining.
		return b.dispatch(ctx, req)
	}
	// Any other request comes only once every earlier response of its
	// connection is written (the protocol layer decodes it only then, as
	// Kafka reads a connection's next request only once the last is
	// answered), so a connection builds and holds one such answer at a
	// time. It is handled off the reader, which goes on reading produce.
	return goReply(func() kmsg.Response {
		reply := b.dispatch(ctx, req)
		if reply == nil {
			return nil
		}
		return reply()
	})
}

// dispatch hands req to its handler.
func (b *Broker) dispatch(ctx context.Context, req *protocol.Request) protocol.Reply {
	switch r := req.Body.(type) {
	case *kmsg.ProduceRequest:
		return b.handleProduce(ctx, req, r)
	case *kmsg.FetchRequest:
		return b.handleFetch(ctx, req, r)
	case *kmsg.ListOffsetsRequest:
		return now(b.handleListOffsets(r))
	case *kmsg.MetadataRequest:
		return b.async(ctx, func() kmsg.Response {
			// Topics it auto-creates count against the client's
			// controller_mutation_rate, strictly: Kafka forwards them to
			// its controller as a CreateTopics of the latest version.
			return b.handleMetadata(ctx, r, req.Conn.Listener, b.newMutationQuota(req, 0))
		})
	case *kmsg.CreateTopicsRequest:
		return b.async(ctx, func() kmsg.Response {
			mq := b.newMutationQuota(req, 6)
			return mq.finish(req, b.handleCreateTopics(ctx, r, mq))
		})
	case *kmsg.DeleteTopicsRequest:
		return b.async(ctx, func() kmsg.Response {
			mq := b.newMutationQuota(req, 5)
			return mq.finish(req, b.handleDeleteTopics(ctx, r, mq))
		})
	case *kmsg.AlterPartitionAssignmentsRequest:
		return now(b.handleAlterPartitionReassignments(r))
	case *kmsg.ListPartitionReassignmentsRequest:
		return now(b.handleListPartitionReassignments(r))
	case *kmsg.DescribeClientQuotasRequest:
		return now(b.handleDescribeClientQuotas(r))
	case *kmsg.AlterClientQuotasRequest:
		return b.async(ctx, func() kmsg.Response { return b.handleAlterClientQuotas(ctx, r) })
	case *kmsg.DescribeUserSCRAMCredentialsRequest:
		return now(b.handleDescribeUserSCRAMCredentials(r))
	case *kmsg.AlterUserSCRAMCredentialsRequest:
		return b.async(ctx, func() kmsg.Response { return b.handleAlterUserSCRAMCredentials(ctx, r) })
	case *kmsg.ListTransactionsRequest:
		return now(b.handleListTransactions(r))
	case *kmsg.DescribeProducersRequest:
		return now(b.handleDescribeProducers(r))
	case *kmsg.ElectLeadersRequest:
		return now(b.handleElectLeaders(r))
	case *kmsg.DeleteRecordsRequest:
		return b.async(ctx, func() kmsg.Response { return b.handleDeleteRecords(ctx, r) })
	case *kmsg.InitProducerIDRequest:
		return b.async(ctx, func() kmsg.Response { return b.handleInitProducerID(ctx, r, req) })
	case *kmsg.OffsetForLeaderEpochRequest:
		return now(b.handleOffsetForLeaderEpoch(r))
	case *kmsg.DescribeACLsRequest:
		return now(b.handleDescribeACLs(r))
	case *kmsg.CreateACLsRequest:
		return now(b.handleCreateACLs(r))
	case *kmsg.DeleteACLsRequest:
		return now(b.handleDeleteACLs(r))
	case *kmsg.DescribeLogDirsRequest:
		return now(b.handleDescribeLogDirs(r))
	case *kmsg.AlterReplicaLogDirsRequest:
		return now(b.handleAlterReplicaLogDirs(r))
	case *kmsg.DescribeConfigsRequest:
		return now(b.handleDescribeConfigs(r))
	case *kmsg.AlterConfigsRequest:
		return b.async(ctx, func() kmsg.Response { return b.handleAlterConfigs(ctx, r) })
	case *kmsg.IncrementalAlterConfigsRequest:
		return b.async(ctx, func() kmsg.Response { return b.handleIncrementalAlterConfigs(ctx, r) })
	case *kmsg.CreatePartitionsRequest:
		return b.async(ctx, func() kmsg.Response {
			mq := b.newMutationQuota(req, 3)
			return mq.finish(req, b.handleCreatePartitions(ctx, r, mq))
		})
	case *kmsg.DescribeQuorumRequest:
		return now(b.handleDescribeQuorum(r))
	case *kmsg.DescribeClusterRequest:
		return now(b.handleDescribeCluster(r, req.Conn.Listener))
	case *kmsg.DescribeTopicPartitionsRequest:
		return now(b.handleDescribeTopicPartitions(r))
	case *kmsg.ListConfigResourcesRequest:
		return now(b.handleListConfigResources(r, req.Conn.Listener))
	case *kmsg.FindCoordinatorRequest:
		return now(b.handleFindCoordinator(r, req))
	case *kmsg.JoinGroupRequest:
		return b.async(ctx, func() kmsg.Response { return b.handleJoinGroup(ctx, req, r) })
	case *kmsg.SyncGroupRequest:
		return b.async(ctx, func() kmsg.Response { return b.handleSyncGroup(ctx, r) })
	case *kmsg.HeartbeatRequest:
		return now(b.handleHeartbeat(r))
	case *kmsg.LeaveGroupRequest:
		return b.async(ctx, func() kmsg.Response { return b.handleLeaveGroup(ctx, r) })
	case *kmsg.OffsetCommitRequest:
		return b.async(ctx, func() kmsg.Response { return b.handleOffsetCommit(ctx, r) })
	case *kmsg.OffsetFetchRequest:
		return now(b.handleOffsetFetch(r))
	case *kmsg.DescribeGroupsRequest:
		return now(b.handleDescribeGroups(r))
	case *kmsg.ListGroupsRequest:
		return now(b.handleListGroups(r))
	case *kmsg.DeleteGroupsRequest:
		return b.async(ctx, func() kmsg.Response { return b.handleDeleteGroups(ctx, r) })
	case *kmsg.OffsetDeleteRequest:
		return b.async(ctx, func() kmsg.Response { return b.handleOffsetDelete(ctx, r) })
	case *kmsg.SASLHandshakeRequest:
		if req.Conn != nil && req.Conn.Authenticating() {
			return b.saslStep(ctx, req)
		}
		return now(b.handleSASLHandshake(r, req))
	case *kmsg.SASLAuthenticateRequest:
		if req.Conn != nil && req.Conn.Authenticating() {
			return b.saslStep(ctx, req)
		}
		return now(b.handleSASLAuthenticate(r))
	}
	// protocol only passes keys in supportedVersions; reaching here is a bug.
	b.logger.Error("no handler for request", "key", req.Key, "version", req.Version)
	return nil
}

// now wraps a response computed on the reader goroutine.
func now(resp kmsg.Response) protocol.Reply { return func() kmsg.Response { return resp } }

// async runs fn off the reader goroutine (it may wait for raft), so later
// requests on the connection are read meanwhile; protocol keeps responses in
// order.
func (b *Broker) async(ctx context.Context, fn func() kmsg.Response) protocol.Reply {
	return goReply(fn)
}

// goReply runs fn on a goroutine of its own and returns the Reply that
// waits for its response. A panic in fn goes, with its stack, to the
// Reply, which protocol turns into a log line and the end of this one
// connection: the broker goes on serving everyone else, where a panic on
// a goroutine of its own would end the process.
func goReply(fn func() kmsg.Response) protocol.Reply {
	type result struct {
		resp     kmsg.Response
		panicked any
	}
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				ch <- result{panicked: fmt.Sprintf("%v\n%s", r, debug.Stack())}
			}
		}()
		ch <- result{resp: fn()}
	}()
	return func() kmsg.Response {
		r := <-ch
		if r.panicked != nil {
			panic(r.panicked)
		}
		return r.resp
	}
}
