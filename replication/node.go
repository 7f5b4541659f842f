package replication

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gokafka/gokafka/logstore"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// Config is what a node needs to run its raft groups.
type Config struct {
	NodeID         int32
	DataDir        string
	RaftListen     string // address the raft mux listens on
	RaftAdvertise  string // address peers dial; default: the bound listen address
	AdvertisedHost string // Kafka listener, as registered in the cluster metadata
	AdvertisedPort int32
	Listener       string     // the name of that listener ("" for PLAINTEXT)
	Endpoints      []Endpoint // the other client listeners, as registered
	Rack           string     // broker.rack, registered with the broker
	Logger         *slog.Logger

	// ControllerTimings and PartitionTimings are the raft timers of the
	// metadata group and of partition groups with more than one replica.
	ControllerTimings RaftTimings
	PartitionTimings  RaftTimings

	// LogConfig returns the log settings of a topic's partitions in the
	// cluster state st. Of st it may read only BrokerConfigs: the node
	// keeps each topic's segment limits until the topic or those change.
	LogConfig func(st *State, t *Topic) logstore.Config
	// Retention returns a topic's retention.ms and retention.bytes (-1: none)
	// in the cluster state st.
	Retention func(st *State, t *Topic) (ms, bytes int64)
	// RetentionCheckInterval is log.retention.check.interval.ms.
	RetentionCheckInterval time.Duration
	// RetentionInitialDelay is log.initial.task.delay.ms: the first check
	// comes this long after the start (at most one interval), so that a
	// node restarted more often than the interval still applies retention.
	// 0: 30 s, Kafka's default.
	RetentionInitialDelay time.Duration
	// ProducerIDExpiration returns producer.id.expiration.ms in the
	// cluster state st (a dynamic broker config, as in Kafka): a partition
	// forgets an idempotent producer whose last batch is older, checked
	// with retention; 0 (or a nil func) never forgets.
	ProducerIDExpiration func(st *State) time.Duration
	// RecycleBytes is how much of deleted partitions' segment files the node keeps,
	// zeroed, for new segments (logstore.Recycler, in <DataDir>/recycle);
	// 0 keeps none.
	RecycleBytes int64
}

// DefaultRaftTimings are hashicorp/raft's defaults.
var DefaultRaftTimings = RaftTimings{
	HeartbeatTimeout:   time.Second,
	ElectionTimeout:    time.Second,
	LeaderLeaseTimeout: 500 * time.Millisecond,
	CommitTimeout:      50 * time.Millisecond,
}

// Node owns every raft group of one broker: the metadata controller and the
// replicas of the partitions assigned to it, all on one mux.
type Node struct {
	cfg        Config
	logger     *slog.Logger
	raftLogger hclog.Logger
	db         *bolt.DB
	reserve    *diskReserve // disk space given up when a node.db write finds the disk full
	commits    *commitGroup // raft's term and vote writes to db, group-committed
	mux        *Mux
	recycler   *logstore.Recycler  // nil when RecycleBytes is 0
	syncGroup  *logstore.SyncGroup // the partition logs' deferred fsyncs, synced together
	swept      chan struct{}       // closed once removeStrays has run (tests wait for it)

	controller     *Controller
	controllerRaft *raft.Raft
	controllerTr   *raft.NetworkTransport

	mu         sync.Mutex
	partitions map[string]map[int32]*Partition // topic -> index -> replica
	// failed holds the replicas whose start failed (out of file
	// descriptors, say), with their topic's id: reconcile starts them
	// again, and removes their directories once their topic is gone.
	failed  map[partKey]failedStart
	readyCh chan struct{} // closed and replaced on any readiness change
	// limitsOf holds each topic's segment limits as reconcile last worked
	// them out, by the *Topic (a change of a topic replaces it), for the
	// broker configs of limitsAt; reconcile's goroutine alone uses them. Working them out for every topic at
	// every change of the metadata was a tenth of a topic creation's CPU
	// on a node of 2,000 topics.
	limitsOf map[*Topic]logstore.Limits
	limitsAt uint64
	pidNext  int64 // next producer id of the block held
	pidEnd   int64
	// pidAlloc is held while a block of producer ids is asked for, so that
	// callers that find the block spent together wait for one block: each
	// asked for its own, a controller write each, and most of each went
	// unused.
	pidAlloc chan struct{}

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// StartNode opens the node's state and starts its raft groups.
func StartNode(cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ControllerTimings == (RaftTimings{}) {
		cfg.ControllerTimings = DefaultRaftTimings
	}
	if cfg.PartitionTimings == (RaftTimings{}) {
		cfg.PartitionTimings = DefaultRaftTimings
	}
	if cfg.LogConfig == nil {
		cfg.LogConfig = func(*State, *Topic) logstore.Config { return logstore.Config{} }
	}
	if cfg.Retention == nil {
		cfg.Retention = func(*State, *Topic) (int64, int64) { return -1, -1 }
	}
	if cfg.RetentionCheckInterval <= 0 {
		cfg.RetentionCheckInterval = 5 * time.Minute
	}
	if cfg.RetentionInitialDelay <= 0 {
		cfg.RetentionInitialDelay = 30 * time.Second
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		// The path alone does not say it is log.dirs that is wrong.
		return nil, fmt.Errorf("cannot create the data directory (log.dirs) %s: %w", cfg.DataDir, err)
	}
	n := &Node{
		cfg:        cfg,
		logger:     cfg.Logger,
		partitions: map[string]map[int32]*Partition{},
		failed:     map[partKey]failedStart{},
		readyCh:    make(chan struct{}),
		pidAlloc:   make(chan struct{}, 1),
		swept:      make(chan struct{}),
		stop:       make(chan struct{}),
		raftLogger: hclog.New(&hclog.LoggerOptions{
			Name: "raft",
			// Single-voter groups log every election at Warn; what an
			// operator must see from raft is logged at Error.
			Level:  hclog.Error,
			Output: raftLogWriter{cfg.Logger},
		}),
	}
	dbPath := filepath.Join(cfg.DataDir, "node.db")
	if err := checkMetadataPresent(cfg.DataDir, dbPath); err != nil {
		return nil, err
	}
	db, err := openNodeDB(dbPath)
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("%s is in use: another gokafkad runs on data directory %s", dbPath, cfg.DataDir)
	}
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
		// Not damage: the file or its directory cannot be written.
		return nil, fmt.Errorf("%s: %w: gokafkad must be able to write its data directory (check its permissions, attributes and mount)", dbPath, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w: gokafkad cannot start without the cluster's metadata; restore the file from a backup", dbPath, err)
	}
	if err := checkNodeID(db, cfg.NodeID, cfg.DataDir); err != nil {
		db.Close()
		return nil, err
	}
	if err := renameHexStableBuckets(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", dbPath, err)
	}
	n.db = db
	n.commits = newCommitGroup(db)
	n.reserve = openReserve(cfg.DataDir, n.logger, n.stop)
	dir := filepath.Join(cfg.DataDir, recycleDir)
	if cfg.RecycleBytes > 0 {
		if n.recycler, err = logstore.OpenRecycler(dir, cfg.RecycleBytes, n.logger); err != nil {
			db.Close()
			return nil, err
		}
	} else {
		os.RemoveAll(dir) // what an earlier run kept
	}
	n.removeLeftovers()
	n.mux, err = ListenMux(cfg.RaftListen, n.logger)
	if err != nil {
		n.recycler.Close()
		db.Close()
		return nil, err
	}
	if n.cfg.RaftAdvertise == "" {
		n.cfg.RaftAdvertise, err = AdvertiseAddr(n.mux.Addr())
	} else {
		err = CheckAdvertised(n.cfg.RaftAdvertise)
	}
	if err != nil {
		n.mux.Close()
		n.recycler.Close()
		db.Close()
		return nil, fmt.Errorf("raft.advertise: %w", err)
	}
	if err := n.startController(); err != nil {
		// Its transport (and raft, once made) run until stopped: left
		// on the closed mux, the transport's accept loop logged an error
		// every second for good.
		if n.controllerRaft != nil {
			n.controllerRaft.Shutdown().Error()
		}
		if n.controllerTr != nil {
			n.controllerTr.Close()
		}
		n.mux.Close()
		n.recycler.Close()
		db.Close()
		return nil, err
	}
	n.syncGroup = logstore.NewSyncGroup()
	n.wg.Add(2)
	go n.reconcileLoop()
	go n.retentionLoop()
	return n, nil
}

// RaftAddr is the address the raft mux is bound to.
func (n *Node) RaftAddr() string { return n.mux.Addr().String() }

func (n *Node) raftConfig(t RaftTimings) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = brokerIDString(n.cfg.NodeID)
	c.HeartbeatTimeout = t.HeartbeatTimeout
	c.ElectionTimeout = t.ElectionTimeout
	c.LeaderLeaseTimeout = t.LeaderLeaseTimeout
	c.CommitTimeout = t.CommitTimeout
	c.Logger = n.raftLogger
	c.MaxAppendEntries = 512
	c.BatchApplyCh = true
	// The partition log is the raft log: raft must never compact it; Kafka
	// retention decides what is deleted.
	c.TrailingLogs = 1<<63 - 1
	c.NoLegacyTelemetry = true
	return c
}

func (n *Node) startController() error {
	c, err := newController(n.db, n.reserve, n.logger)
	if err != nil {
		return err
	}
	n.controller = c
	logs, err := newBoltLogStore(n.db, n.reserve, controllerGroup)
	if err != nil {
		return err
	}
	stable := newStableStore(n.db, n.commits, n.reserve, controllerGroup)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(n.cfg.DataDir, "controller-snapshots"), 2, n.raftLogger)
	if err != nil {
		return err
	}
	// This node is the controller's only voter (onlyMe below).
	layer, err := n.mux.SoloLayer(controllerGroup)
	if err != nil {
		return err
	}
	n.controllerTr = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: layer, MaxPool: 3, Timeout: 10 * time.Second, Logger: n.raftLogger,
	})
	conf := n.raftConfig(soloTimings)
	// The controller log lives in bbolt: let raft compact it after snapshots.
	conf.TrailingLogs = 1024
	conf.SnapshotThreshold = 1024
	onlyMe := func() (raft.Configuration, error) {
		return raft.Configuration{Servers: []raft.Server{{
			ID: brokerIDString(n.cfg.NodeID), Address: raft.ServerAddress(n.cfg.RaftAdvertise),
		}}}, nil
	}
	if _, err := bootstrapGroup(n.logger.With("group", controllerGroup), conf, logs, stable, snaps, n.controllerTr, onlyMe); err != nil {
		return fmt.Errorf("bootstrap controller: %w", err)
	}
	r, err := raft.NewRaft(conf, c, logs, stable, snaps, n.controllerTr)
	if err != nil {
		return fmt.Errorf("controller raft: %w", err)
	}
	c.raft = r
	n.controllerRaft = r
	if err := kickElection(r); err != nil {
		n.logger.Warn("cannot hasten the controller's first election; it comes after the heartbeat timeout", "err", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if n.controller.State().ClusterID == "" {
		if _, err := c.Propose(ctx, Command{Op: OpInitCluster, ClusterID: newClusterID()}); err != nil {
			return fmt.Errorf("init cluster: %w", err)
		}
	}
	self := BrokerInfo{ID: n.cfg.NodeID, Host: n.cfg.AdvertisedHost, Port: n.cfg.AdvertisedPort,
		Listener: n.cfg.Listener, Endpoints: n.cfg.Endpoints, RaftAddr: n.cfg.RaftAdvertise, Rack: n.cfg.Rack}
	if cur, ok := n.controller.State().Brokers[self.ID]; !ok || !cur.Equal(self) {
		if _, err := c.Propose(ctx, Command{Op: OpRegisterBroker, Broker: &self}); err != nil {
			return fmt.Errorf("register broker: %w", err)
		}
	}
	return nil
}

// newClusterID returns a Kafka-style cluster id: 16 random bytes, base64url.
func newClusterID() string {
	id := NewTopicID()
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var sb strings.Builder
	var acc, bits uint
	for _, b := range id {
		acc = acc<<8 | uint(b)
		bits += 8
		for bits >= 6 {
			bits -= 6
			sb.WriteByte(enc[(acc>>bits)&63])
		}
	}
	if bits > 0 {
		sb.WriteByte(enc[(acc<<(6-bits))&63])
	}
	return sb.String()
}

// Controller returns the metadata controller.
func (n *Node) Controller() *Controller { return n.controller }

// ControllerCaughtUp waits until the metadata state holds every change the
// cluster has committed (a raft barrier on the controller's leader) and
// reports whether it does: false on any other node, or if the wait failed.
func (n *Node) ControllerCaughtUp(timeout time.Duration) bool {
	if n.controllerRaft.State() != raft.Leader {
		return false
	}
	return n.controllerRaft.Barrier(timeout).Error() == nil
}

// ID is this node's broker id.
func (n *Node) ID() int32 { return n.cfg.NodeID }

// Partition returns this node's replica of topic/index, or nil. A replica
// of a deleted topic that reconcile has not stopped yet is not the topic's,
// though the name may be again (deleted and made anew): it would take
// writes that its removal loses, serve the old topic's records, and count
// as the new topic's ready leader.
func (n *Node) Partition(topic string, index int32) *Partition {
	t := n.controller.State().Topics[topic]
	n.mu.Lock()
	p := n.partitions[topic][index]
	n.mu.Unlock()
	if p == nil || t == nil || t.ID != p.TopicID {
		return nil
	}
	return p
}

// PauseRecycling stops keeping deleted partitions' segment files for reuse
// (and frees those kept), or resumes it: the broker pauses it while the
// disk is nearly full.
func (n *Node) PauseRecycling(paused bool) { n.recycler.Pause(paused) }

// Partitions returns every local replica.
func (n *Node) Partitions() []*Partition {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []*Partition
	for _, ps := range n.partitions {
		for _, p := range ps {
			out = append(out, p)
		}
	}
	return out
}

func (n *Node) readinessChanged() {
	n.mu.Lock()
	close(n.readyCh)
	n.readyCh = make(chan struct{})
	n.mu.Unlock()
}

// ReadyChanged returns a channel closed at the next change of any local
// partition's readiness (leadership gained or lost, replica started or
// stopped).
func (n *Node) ReadyChanged() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.readyCh
}

// failedStart is a replica whose start failed: its topic's id and why.
type failedStart struct {
	topicID TopicID
	err     error
}

// errCannotOpen marks a replica whose files this process may not open
// or write (permissions, a read-only filesystem): retrying will not help.
var errCannotOpen = errors.New("cannot open its files")

// WaitTopicReady waits until every partition of the topic (as of the current
// metadata) has a ready leader on this node, or ctx ends. A replica that
// cannot open its files (permissions, a read-only filesystem) ends the
// wait at once, as Kafka stops on a log directory it cannot use.
func (n *Node) WaitTopicReady(ctx context.Context, topic string) error {
	for {
		n.mu.Lock()
		ch := n.readyCh
		for k, f := range n.failed {
			if k.topic == topic && (errors.Is(f.err, fs.ErrPermission) || errors.Is(f.err, syscall.EROFS)) {
				n.mu.Unlock()
				return fmt.Errorf("partition %s-%d %w: %v (give the data directory, and everything in it, to the user gokafkad runs as)", k.topic, k.idx, errCannotOpen, f.err)
			}
		}
		n.mu.Unlock()
		changed := n.controller.Changed()
		t := n.controller.State().Topics[topic]
		if t == nil {
			return ErrUnknownTopic
		}
		var waiting []int32
		for i := range t.Replicas {
			// A lost partition will not lead: not waited for, so that
			// the rest are served (its clients get LEADER_NOT_AVAILABLE).
			if p := n.Partition(topic, int32(i)); p == nil || !p.Ready() && !p.Lost() {
				waiting = append(waiting, int32(i))
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: partitions %v of %s have no ready leader (the log says why)", ctx.Err(), waiting, topic)
		case <-ch:
		case <-changed:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// NextProducerID hands out a producer id, reserving blocks of ids from the
// controller so that ids stay unique across brokers and restarts.
func (n *Node) NextProducerID(ctx context.Context) (int64, error) {
	if id, ok := n.takeProducerID(); ok {
		return id, nil
	}
	select {
	case n.pidAlloc <- struct{}{}:
	case <-ctx.Done():
		return -1, ctx.Err()
	}
	defer func() { <-n.pidAlloc }()
	if id, ok := n.takeProducerID(); ok { // a block came while this waited
		return id, nil
	}
	const block = 1000
	res, err := n.controller.Propose(ctx, Command{Op: OpAllocProducerIDs, Count: block})
	if err != nil {
		return -1, err
	}
	first, ok := res.(int64)
	if !ok {
		return -1, fmt.Errorf("producer id block: unexpected %T", res)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pidNext, n.pidEnd = first+1, first+block
	return first, nil
}

// takeProducerID takes the next id of the block held, if any is left.
func (n *Node) takeProducerID() (int64, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.pidNext >= n.pidEnd {
		return 0, false
	}
	n.pidNext++
	return n.pidNext - 1, true
}

func (n *Node) reconcileLoop() {
	defer n.wg.Done()
	backoff := time.Duration(0)
	swept, sweepTries := false, 0
	for {
		ch := n.controller.Changed()
		var retry <-chan time.Time
		failed := n.reconcile()
		if !swept && sweepTries < 60 {
			// Once the metadata holds every committed change, and not
			// before: a directory made for a topic whose creation the
			// state had not yet stored before a crash is no stray. Only
			// the metadata's leader can tell (a single node is its own
			// within a second or so of starting); a node that does not
			// come to lead it within a minute leaves the sweep.
			sweepTries++
			if swept = n.ControllerCaughtUp(10 * time.Second); swept {
				n.removeStrays()
				close(n.swept)
			} else {
				retry = time.After(time.Second)
			}
		}
		if failed {
			// Some replica failed to start: try again, less often while
			// it keeps failing.
			backoff = min(max(2*backoff, time.Second), 30*time.Second)
			retry = time.After(backoff)
		} else {
			backoff = 0
		}
		select {
		case <-n.stop:
			return
		case <-ch:
		case <-retry:
		}
	}
}

// partKey names one partition.
type partKey struct {
	topic string
	idx   int32
}

func partitionDir(root, topic string, idx int32) string {
	return filepath.Join(root, topic+"-"+strconv.Itoa(int(idx)))
}

// reconcile starts the replicas the metadata assigns to this node and stops
// (and deletes) those it no longer does. It reports whether a replica
// failed to start.
func (n *Node) reconcile() (failed bool) {
	st := n.controller.State()
	type want struct {
		t   *Topic
		idx int32
	}
	var toStart []want
	var toStop []*Partition
	type relimit struct {
		p   *Partition
		lim logstore.Limits
	}
	var toRelimit []relimit
	if n.limitsAt != st.brokerConfigsAt {
		n.limitsOf, n.limitsAt = nil, st.brokerConfigsAt
	}
	limits := make(map[*Topic]logstore.Limits, len(n.limitsOf)) // of the topics open now
	n.mu.Lock()
	for name, ps := range n.partitions {
		t := st.Topics[name]
		for idx, p := range ps {
			if t == nil || t.ID != p.TopicID || int(idx) >= len(t.Replicas) {
				toStop = append(toStop, p)
				delete(ps, idx)
				continue
			}
			// A topic's segment settings apply to its open logs, as in Kafka.
			lim, ok := limits[t]
			if !ok {
				if lim, ok = n.limitsOf[t]; !ok {
					lim = n.cfg.LogConfig(st, t).Limits()
				}
				limits[t] = lim
			}
			if lim != p.limits {
				toRelimit = append(toRelimit, relimit{p, lim})
			}
		}
		if len(ps) == 0 {
			delete(n.partitions, name)
		}
	}
	// A replica that never started and whose topic went (or was made
	// again under another id) leaves only its directory.
	var strayDirs []string
	for k, f := range n.failed {
		id := f.topicID
		if t := st.Topics[k.topic]; t == nil || t.ID != id || int(k.idx) >= len(t.Replicas) || !containsID(t.Replicas[k.idx], n.cfg.NodeID) {
			delete(n.failed, k)
			if dir := partitionDir(n.cfg.DataDir, k.topic, k.idx); id.Is(readPartitionMeta(dir)) {
				strayDirs = append(strayDirs, dir)
			}
		}
	}
	for _, name := range st.SortedTopics() {
		t := st.Topics[name]
		for i, reps := range t.Replicas {
			if !containsID(reps, n.cfg.NodeID) {
				continue
			}
			if n.partitions[name][int32(i)] == nil {
				toStart = append(toStart, want{t, int32(i)})
			}
		}
	}
	n.mu.Unlock()
	n.limitsOf = limits

	for _, r := range toRelimit {
		r.p.log.SetLimits(r.lim)
		r.p.limits = r.lim
	}
	// Stopped and removed side by side: a node whose topics of hundreds of
	// partitions were deleted started no new partition (a CreateTopics
	// waited) until every one was removed, one after another.
	var stopping sync.WaitGroup
	stopSlots := make(chan struct{}, 16)
	for _, p := range toStop {
		stopping.Add(1)
		stopSlots <- struct{}{}
		go func() {
			defer func() { <-stopSlots; stopping.Done() }()
			if err := p.close(false); err != nil {
				n.logger.Warn("stopping partition", "topic", p.Topic, "partition", p.Index, "err", err)
			}
			if err := p.stable.drop(); err != nil {
				n.logger.Warn("dropping a deleted partition's raft state", "topic", p.Topic, "partition", p.Index, "err", err)
			}
			n.removeDir(p.dir)
		}()
	}
	stopping.Wait()
	if len(toStop) > 0 {
		n.readinessChanged()
	}
	for _, dir := range strayDirs {
		n.removeDir(dir)
	}

	// Start replicas in parallel: each opens files and bootstraps a group.
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for _, w := range toStart {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			dir := partitionDir(n.cfg.DataDir, w.t.Name, w.idx)
			var err error
			if id := readPartitionMeta(dir); id != "" && !w.t.ID.Is(id) {
				// Left behind by a deleted topic of the same name.
				err = n.removeDir(dir)
			} else if id == "" && holdsSegments(dir) && !n.groupRan(w.t.ID, w.idx) {
				// Segments, but no topic id (a power loss lost the file
				// that names it) and no raft state of this topic's
				// group: a deleted topic's, whose removal the power loss
				// undid. Adopting it would give the new topic its records.
				err = n.removeDir(dir)
			}
			var p *Partition
			if err != nil {
				// Never opened in its place: the new topic would serve the
				// deleted one's records. Tried again as a failed start.
				err = fmt.Errorf("a deleted topic's directory is in the way: %w", err)
			} else {
				lc := n.cfg.LogConfig(st, w.t)
				lc.Recycler = n.recycler
				lc.SyncGroup = n.syncGroup
				p, err = openPartition(n, w.t, w.idx, dir, lc)
			}
			k := partKey{w.t.Name, w.idx}
			if err != nil {
				n.logger.Error("starting partition; retrying", "topic", w.t.Name, "partition", w.idx, "err", err)
				n.mu.Lock()
				n.failed[k] = failedStart{w.t.ID, err}
				n.mu.Unlock()
				return
			}
			n.mu.Lock()
			delete(n.failed, k)
			if n.partitions[w.t.Name] == nil {
				n.partitions[w.t.Name] = map[int32]*Partition{}
			}
			n.partitions[w.t.Name][w.idx] = p
			n.mu.Unlock()
		}()
	}
	wg.Wait()
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.failed) > 0
}

// holdsSegments reports whether dir holds a segment file.
func holdsSegments(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	return len(m) > 0
}

// groupRan reports whether the raft group of partition idx of topic id
// saved a term on this node.
func (n *Node) groupRan(id TopicID, idx int32) bool {
	term, err := newStableStore(n.db, nil, nil, partitionGroup(id, idx)).GetUint64(keyCurrentTerm)
	return err == nil && term > 0
}

// removeDir deletes a partition directory. An error means it is still
// there under its own name.
func (n *Node) removeDir(dir string) error {
	// Rename first so a crash mid-delete never leaves a half directory that
	// looks like a live partition; removeLeftovers finishes the job after
	// such a crash.
	tmp := deletingPath(dir, time.Now().UnixNano())
	if err := os.Rename(dir, tmp); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		n.logger.Warn("removing partition dir", "dir", dir, "err", err)
		return err
	}
	n.recycler.PutDir(tmp)
	if err := os.RemoveAll(tmp); err != nil {
		// Out of the way under its leftover name, which the next start
		// removes.
		n.logger.Warn("removing partition dir", "dir", tmp, "err", err)
	}
	return nil
}

// deletedMark and a base-36 UnixNano follow the name of a partition
// directory being deleted.
const deletedMark = ".deleted-"

// maxNameLen is the longest file name Linux filesystems take (NAME_MAX).
const maxNameLen = 255

// deletingPath is the name partition directory dir takes while it is
// deleted (removeDir): its name, deletedMark and ns in base 36. Where that
// would pass maxNameLen (a topic name of 249 characters, as Kafka allows,
// leaves six), the topic part is shortened and "-<partition>" kept, as
// Kafka shortens its delete directories' names: the rename failed, and the
// directory stayed, for a topic made again under the name to take up with
// the deleted one's records.
func deletingPath(dir string, ns int64) string {
	base := filepath.Base(dir)
	suffix := deletedMark + strconv.FormatInt(ns, 36)
	if over := len(base) + len(suffix) - maxNameLen; over > 0 {
		if i := strings.LastIndexByte(base, '-'); i >= over {
			base = base[:i-over] + base[i:]
		} else {
			base = base[:max(len(base)-over, 0)]
		}
	}
	return filepath.Join(filepath.Dir(dir), base+suffix)
}

// isLeftover reports whether name is a partition directory that removeDir
// renamed and did not finish deleting. The time after the mark tells it
// from a live partition of a topic whose name holds the mark ("t.deleted"
// has directories "t.deleted-0", ...): a partition number read in base 36
// is far below any UnixNano since 2001.
func isLeftover(name string) bool {
	i := strings.LastIndex(name, deletedMark)
	if i < 0 {
		return false
	}
	ns, err := strconv.ParseInt(name[i+len(deletedMark):], 36, 64)
	return err == nil && ns >= 1e18
}

// removeLeftovers deletes what removeDir left behind when the process
// stopped in the middle (the rename happened, the removal did not finish):
// before partitions open, so nothing holds their files.
func (n *Node) removeLeftovers() {
	ents, err := os.ReadDir(n.cfg.DataDir)
	if err != nil {
		n.logger.Warn("listing the data directory", "dir", n.cfg.DataDir, "err", err)
		return
	}
	for _, e := range ents {
		if !e.IsDir() || !isLeftover(e.Name()) {
			continue
		}
		dir := filepath.Join(n.cfg.DataDir, e.Name())
		n.logger.Info("removing a deleted partition's leftover directory", "dir", dir)
		n.recycler.PutDir(dir)
		if err := os.RemoveAll(dir); err != nil {
			n.logger.Warn("removing partition dir", "dir", dir, "err", err)
		}
	}
}

// removeStrays deletes the partition directories of topics the metadata
// no longer holds for this node: a topic deleted, or made again under
// another id, whose directories a crash kept from removing (reconcile
// removes them only while it stops the partition). A directory qualifies
// only if it names a partition ("<topic>-<n>") and holds its topic id
// (partition.metadata), so nothing else in the data directory is touched;
// and only a caught-up metadata state may judge it (see reconcileLoop), as
// a node whose metadata is lost refuses to start.
func (n *Node) removeStrays() {
	st := n.controller.State()
	ents, err := os.ReadDir(n.cfg.DataDir)
	if err != nil {
		n.logger.Warn("listing the data directory", "dir", n.cfg.DataDir, "err", err)
		return
	}
	for _, e := range ents {
		name := e.Name()
		i := strings.LastIndexByte(name, '-')
		if !e.IsDir() || i <= 0 {
			continue
		}
		idx, err := strconv.ParseInt(name[i+1:], 10, 32)
		if err != nil || idx < 0 || strconv.Itoa(int(idx)) != name[i+1:] {
			continue
		}
		dir := filepath.Join(n.cfg.DataDir, name)
		id := readPartitionMeta(dir)
		if id == "" {
			continue
		}
		topic := name[:i]
		if t := st.Topics[topic]; t != nil && t.ID.Is(id) && int(idx) < len(t.Replicas) && containsID(t.Replicas[idx], n.cfg.NodeID) {
			continue
		}
		n.mu.Lock()
		p := n.partitions[topic][int32(idx)]
		n.mu.Unlock()
		if p != nil && p.dir == dir {
			continue // started meanwhile: reconcile owns it
		}
		n.logger.Info("removing the directory of a partition the metadata no longer holds here (a deletion cut short)", "dir", dir, "topic_id", id)
		n.removeDir(dir)
	}
}

// recycleDir holds the recycler's files, in the data directory; no
// partition directory has this name (theirs end in -<partition>).
const recycleDir = "recycle"

func containsID(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// retentionLoop checks retention RetentionInitialDelay after the start,
// then every RetentionCheckInterval. A partition that was not ready at a
// pass (its raft group still electing after a slow start) is looked at
// again in passes a quarter second apart, then twice as far each time,
// until every partition has been checked or the next regular pass is due,
// as Kafka's first check covers every log it loaded: it waited a whole
// interval, an hour in a test under load.
func (n *Node) retentionLoop() {
	defer n.wg.Done()
	const firstRetry = 250 * time.Millisecond
	timer := time.NewTimer(min(n.cfg.RetentionInitialDelay, n.cfg.RetentionCheckInterval))
	defer timer.Stop()
	var regular time.Time // the next regular pass; zero before the first
	retry := firstRetry
	for {
		select {
		case <-n.stop:
			return
		case now := <-timer.C:
			if regular.IsZero() || !now.Before(regular) {
				regular, retry = now.Add(n.cfg.RetentionCheckInterval), firstRetry
			}
			notReady := n.EnforceRetention(now)
			// From now, after the pass: regular passes keep their rate
			// however long one takes.
			wait := time.Until(regular)
			if notReady > 0 && retry < wait {
				wait, retry = retry, retry*2
			}
			timer.Reset(wait)
		}
	}
}

// producerIDExpiration is ProducerIDExpiration in st; 0 if none is set.
func (n *Node) producerIDExpiration(st *State) time.Duration {
	if n.cfg.ProducerIDExpiration == nil {
		return 0
	}
	return n.cfg.ProducerIDExpiration(st)
}

// EnforceRetention applies every topic's retention settings once, and
// forgets idle producers (ProducerIDExpiration). It returns early if the
// node stops, and the number of partitions it could not check because they
// were not ready (nor lost).
func (n *Node) EnforceRetention(now time.Time) (notReady int) {
	for _, p := range n.Partitions() {
		// Each partition is checked by the settings of the moment, as
		// Kafka reads each log's config when it checks that log: the pass
		// can take a while (below), and a setting altered meanwhile
		// (retention.ms raised to keep data) holds for the rest of it.
		st := n.controller.State()
		if exp := n.producerIDExpiration(st); exp > 0 {
			if k := p.expireProducers(now.Add(-exp).UnixMilli()); k > 0 {
				p.logger.Debug("forgot idle producers", "producers", k)
			}
		}
		t := st.Topics[p.Topic]
		if t == nil {
			continue
		}
		if !p.Ready() {
			if !p.Lost() {
				notReady++
			}
			continue
		}
		ms, bytes := n.cfg.Retention(st, t)
		if p.enforceRetention(now, ms, bytes) {
			// Snapshots are a few fsyncs each: spread over the pass, they
			// leave the disk to the produce syncs (a thousand partitions
			// snapshotted back to back held produce p99 at 50-150 ms for
			// the seconds it took).
			select {
			case <-n.stop:
				return notReady
			case <-time.After(snapshotPace):
			}
		}
	}
	return notReady + n.notStarted(n.controller.State())
}

// notStarted counts the replicas st gives this node that have not started
// yet (nor failed to).
func (n *Node) notStarted(st *State) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	count := 0
	for name, t := range st.Topics {
		for i, reps := range t.Replicas {
			_, failed := n.failed[partKey{name, int32(i)}]
			if containsID(reps, n.cfg.NodeID) && n.partitions[name][int32(i)] == nil && !failed {
				count++
			}
		}
	}
	return count
}

// snapshotPace is the least time between two snapshots a retention pass
// takes.
const snapshotPace = 20 * time.Millisecond

// Close stops every raft group and closes every file.
func (n *Node) Close() error {
	n.closeOnce.Do(func() { n.closeErr = n.close() })
	return n.closeErr
}

func (n *Node) close() error {
	close(n.stop)
	n.wg.Wait()
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16) // each close snapshots and fsyncs: overlap them
	for _, p := range n.Partitions() {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := p.close(true); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	n.syncGroup.Close()
	if err := n.controllerRaft.Shutdown().Error(); err != nil && firstErr == nil {
		firstErr = err
	}
	n.controllerTr.Close()
	n.mux.Close()
	n.recycler.Close()
	if err := n.db.Close(); err != nil && firstErr == nil {
		firstErr = err
	}
	return firstErr
}

// checkMetadataPresent refuses a data directory that holds partitions but
// no node.db (the cluster's metadata: topics, raft state): started, the
// node would make a new cluster and reuse the old partitions' files, as
// Kafka refuses to start without its meta.properties. An operator who
// wants a fresh node moves the partition directories away.
func checkMetadataPresent(dataDir, dbPath string) error {
	if fi, err := os.Stat(dbPath); err == nil && fi.Size() > 0 {
		return nil
	}
	ents, err := os.ReadDir(dataDir)
	if err != nil {
		return err
	}
	var parts []string
	for _, e := range ents {
		if !e.IsDir() || e.Name() == recycleDir || isLeftover(e.Name()) {
			continue
		}
		if readPartitionMeta(filepath.Join(dataDir, e.Name())) != "" {
			parts = append(parts, e.Name())
		}
	}
	if len(parts) == 0 {
		return nil
	}
	if len(parts) > 5 {
		parts = append(parts[:5], "...")
	}
	return fmt.Errorf("data directory %s holds partitions (%s) but no cluster metadata (%s is missing or empty): refusing to start a new cluster over them; restore node.db, or move the partition directories away to start afresh",
		dataDir, strings.Join(parts, ", "), filepath.Base(dbPath))
}

// openNodeDB opens node.db and checks every page of it: bbolt panics on
// a damaged page when it reads one (raft reads its log at start), where a
// check reports it, so a damaged file is refused with an error, not a
// stack trace. The file is small (terms, votes, the controller's recent
// log and state), so the check costs little.
func openNodeDB(path string) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("damaged: %v", r)
		}
	}()
	db, err = bolt.Open(path, 0o644, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, err
	}
	var damage error
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() { // drained: the check stops only at the end
			if damage == nil {
				damage = err
			}
		}
		return nil
	})
	if err == nil && damage != nil {
		err = fmt.Errorf("damaged: %w", damage)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// checkNodeID records the node id in node.db at the first start and refuses
// a later start under another id, as Kafka checks node.id against its
// meta.properties: raft knows the node by its id, so under another one it
// would wait for a controller that never answers.
func checkNodeID(db *bolt.DB, id int32, dataDir string) error {
	key := []byte("node.id")
	var stored []byte
	if err := db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(metaBucket); b != nil {
			stored = bytes.Clone(b.Get(key))
		}
		return nil
	}); err != nil {
		return err
	}
	if stored == nil {
		return db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(metaBucket)
			if err != nil {
				return err
			}
			return b.Put(key, []byte(strconv.Itoa(int(id))))
		})
	}
	if string(stored) != strconv.Itoa(int(id)) {
		return fmt.Errorf("data directory %s belongs to node %s, and this node is %d (node.id): start it as node %s, or give it another data directory", dataDir, stored, id, stored)
	}
	return nil
}
