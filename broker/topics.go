package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// validTopicName reports Kafka's rule: 1..249 of [a-zA-Z0-9._-], not "." or "..".
func validTopicName(name string) bool {
	if name == "" || len(name) > 249 || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// topicSpec is a topic to create, after defaults are filled in.
type topicSpec struct {
	name       string
	partitions int32
	rf         int16
	manual     []kmsg.CreateTopicsRequestTopicReplicaAssignment // a client's replica assignment, optional
	configs    map[string]*string
	// nullConfigs are the configs a client gave with no value, in its
	// order: Kafka refuses them, once the topic is known not to exist.
	nullConfigs []string
}

// kafkaErr is an error carrying a Kafka code and a message for the response.
type kafkaErr struct {
	code *kerr.Error
	msg  string
}

func (e *kafkaErr) Error() string { return e.code.Message + ": " + e.msg }
func (e *kafkaErr) Unwrap() error { return e.code }

func kafkaErrorf(code *kerr.Error, format string, args ...any) error {
	return &kafkaErr{code: code, msg: fmt.Sprintf(format, args...)}
}

// errCodeMsg splits an error into a Kafka code and message for a response.
func errCodeMsg(err error) (int16, *string) {
	if err == nil {
		return 0, nil
	}
	var ke *kafkaErr
	if errors.As(err, &ke) {
		m := ke.msg
		return ke.code.Code, &m
	}
	var k *kerr.Error
	if errors.As(err, &k) {
		return k.Code, nil
	}
	m := err.Error()
	return kerr.UnknownServerError.Code, &m
}

// buildTopic validates a spec against the cluster and returns the topic the
// controller would store.
func (b *Broker) buildTopic(spec topicSpec) (*replication.Topic, error) {
	if !validTopicName(spec.name) {
		// Kafka's message (Topic.validate), which admin tools print.
		return nil, kafkaErrorf(kerr.InvalidTopicException, "Topic name is invalid: %s", invalidTopicReason(spec.name))
	}
	if spec.name == clusterMetadataTopic {
		return nil, kafkaErrorf(kerr.InvalidRequest, "Creation of internal topic %s is prohibited.", spec.name)
	}
	st := b.node.Controller().State()
	if _, ok := st.Topics[spec.name]; ok {
		return nil, topicExistsErr(spec.name)
	}
	if other := st.CollidingTopic(spec.name); other != "" {
		return nil, collisionErr(spec.name, other)
	}
	if len(spec.nullConfigs) > 0 {
		// As Kafka: a null is no value for a new topic's config.
		return nil, kafkaErrorf(kerr.InvalidConfig, "Null value not supported for topic configs: %s", strings.Join(spec.nullConfigs, ","))
	}
	for k, v := range spec.configs {
		if err := validateTopicConfig(k, v); err != nil {
			return nil, kafkaErrorf(kerr.InvalidConfig, "%v", err)
		}
	}
	if err := b.checkTopicConfigSet(st, spec.configs); err != nil {
		return nil, err
	}
	brokers := st.SortedBrokers()
	var replicas [][]int32
	if len(spec.manual) > 0 {
		if spec.rf != -1 {
			return nil, kafkaErrorf(kerr.InvalidRequest, "A manual partition assignment was specified, but replication factor was not set to -1.")
		}
		if spec.partitions != -1 {
			return nil, kafkaErrorf(kerr.InvalidRequest, "A manual partition assignment was specified, but numPartitions was not set to -1.")
		}
		var err error
		if replicas, err = manualAssignment(st, spec.manual); err != nil {
			return nil, err
		}
	} else {
		if spec.partitions == -1 {
			spec.partitions = b.cfg.NumPartitions
		}
		if spec.rf == -1 {
			spec.rf = b.cfg.DefaultReplicationFactor
		}
		// The replication factor first, as Kafka checks them.
		if spec.rf <= 0 {
			return nil, kafkaErrorf(kerr.InvalidReplicationFactor, "Replication factor must be larger than 0, or -1 to use the default value.")
		}
		if spec.partitions <= 0 {
			return nil, kafkaErrorf(kerr.InvalidPartitions, "Number of partitions was set to an invalid non-positive value.")
		}
		if int(spec.rf) > len(brokers) {
			return nil, kafkaErrorf(kerr.InvalidReplicationFactor,
				"Unable to replicate the partition %d time(s): The target replication factor of %d cannot be reached because only %d broker(s) are registered.",
				spec.rf, spec.rf, len(brokers))
		}
		// A random first broker, as Kafka's placement takes: topics created
		// at once (auto-creation runs several) see the same state, so a
		// salt taken from it would give them all the same leaders.
		replicas = assignReplicas(brokers, rand.IntN(len(brokers)), int(spec.partitions), int(spec.rf))
	}
	cfgs := map[string]string{}
	for k, v := range spec.configs {
		if v != nil {
			cfgs[k] = *v
		}
	}
	return &replication.Topic{Name: spec.name, ID: replication.NewTopicID(), Replicas: replicas, Configs: cfgs, Internal: internalTopics[spec.name],
		EpochBase: replication.FirstLeaderTerm}, nil
}

// clusterMetadataTopic is the name of KRaft's metadata log, which Kafka
// never lets a client create.
const clusterMetadataTopic = "__cluster_metadata"

// internalTopics are the names Kafka treats as internal topics whoever
// creates them: flagged so in Metadata, closed to produce, DeleteRecords
// and DeleteTopics.
var internalTopics = map[string]bool{offsetsTopic: true, "__transaction_state": true, "__share_group_state": true}

// collisionErr is Kafka's answer to a name that differs from an existing
// topic's only in '.' against '_'.
func collisionErr(name, other string) error {
	return kafkaErrorf(kerr.InvalidTopicException, "Topic '%s' collides with existing topic: %s", name, other)
}

// assignReplicas spreads partitions round-robin over the brokers, starting
// at an offset so that leadership of many topics spreads too.
func assignReplicas(brokers []replication.BrokerInfo, salt, partitions, rf int) [][]int32 {
	out := make([][]int32, partitions)
	n := len(brokers)
	for p := 0; p < partitions; p++ {
		reps := make([]int32, rf)
		for r := 0; r < rf; r++ {
			reps[r] = brokers[(salt+p+r)%n].ID
		}
		out[p] = reps
	}
	return out
}

// compactOnly reports whether a user's topic compacts without deleting
// (cleanup.policy, its own or the broker's default).
func (b *Broker) compactOnly(st *replication.State, name string) bool {
	t := st.Topics[name]
	if t == nil || t.Internal {
		return false
	}
	v := b.topicValueIn(st, t, "cleanup.policy")
	return listHas(v, "compact") && !listHas(v, "delete")
}

// warnNoCompaction says, as a topic becomes compact-only, what that means
// here.
func (b *Broker) warnNoCompaction(name string) {
	b.logger.Warn("compaction is not performed yet: this topic keeps every record (cleanup.policy=compact turns time and size retention off, as in Kafka)", "topic", name)
}

// filesPerPartition is what one partition replica holds open: its active
// segment's five files.
const filesPerPartition = 5

// checkFiles refuses to start n more partition replicas on this node when
// their files would leave fewer than a tenth of the process's file limit
// (at least 1024, or half of a smaller limit) for clients and the rest.
// Past it, partitions fail to start and clients cannot connect; Kafka keeps
// one file per segment, so the same limit holds several times more of its
// partitions. With take, the files are counted as open from now on: the
// partitions are about to start, and the caller says when they have
// (filesStarted).
func checkFiles(n int, take bool) error {
	if n <= 0 {
		return nil
	}
	fileCount.Lock()
	defer fileCount.Unlock()
	// Partitions still starting hold some of their files, or none: a
	// count then would give back the room they took (a request creating
	// many topics at once went past the limit), so it waits for them.
	if now := time.Now(); now.Sub(fileCount.at) >= fileCountFor && fileCount.starting == 0 {
		fileCount.open, fileCount.limit, fileCount.ok = openFiles()
		fileCount.at = now
	}
	open, limit := fileCount.open, fileCount.limit
	if !fileCount.ok {
		if take {
			fileCount.starting += n * filesPerPartition
		}
		return nil
	}
	reserve := fileReserve(limit)
	need := n * filesPerPartition
	if open+need > limit-reserve {
		return kafkaErrorf(kerr.PolicyViolation,
			"%d more partitions need about %d open files, and this node has %d of its limit of %d open (RLIMIT_NOFILE; %d kept for connections): raise the limit or delete partitions",
			n, need, open, limit, reserve)
	}
	if take {
		fileCount.open += need
		fileCount.starting += need
	}
	return nil
}

// filesStarted says that n partition replicas checkFiles took have started,
// or will not: a count of the open files from now on holds what they hold.
func filesStarted(n int) {
	if n <= 0 {
		return
	}
	fileCount.Lock()
	fileCount.starting -= n * filesPerPartition
	fileCount.Unlock()
}

// fileCount holds checkFiles' last count of the process's open files.
// Counting them (/proc/self/fd) costs about a microsecond a file, once for
// every topic: a request creating a few hundred spent a quarter of its time
// there. So the count is read again only every fileCountFor, once no
// partition let in is still starting, and the partitions let in meanwhile
// add their files to it.
var fileCount struct {
	sync.Mutex
	at          time.Time
	open, limit int
	ok          bool
	starting    int // files of the partitions taken and not yet started
}

const fileCountFor = 250 * time.Millisecond

// checkRoom refuses n more partition replicas on this node when the
// process lacks the files for them (checkFiles) or the disk the space
// (diskGuard.roomFor). With take, the partitions are about to start: the
// caller calls filesStarted(n) once they have, or have failed to.
func (b *Broker) checkRoom(n int, take bool) error {
	if err := checkFiles(n, take); err != nil {
		return err
	}
	if err := b.disk.roomFor(n); err != nil {
		if take {
			filesStarted(n)
		}
		return err
	}
	return nil
}

// fileReserve is how many of limit open files partitions leave for the rest.
func fileReserve(limit int) int { return max(limit/10, min(1024, limit/2)) }

// replicasHere counts the replicas of t this node would hold.
func (b *Broker) replicasHere(replicas [][]int32) int {
	n := 0
	for _, rs := range replicas {
		for _, id := range rs {
			if id == b.cfg.NodeID {
				n++
			}
		}
	}
	return n
}

// topicExistsErr is Kafka's answer, word for word, to creating a topic
// that exists: kafka-topics and admin clients show it to users as is.
func topicExistsErr(name string) error {
	return kafkaErrorf(kerr.TopicAlreadyExists, "Topic '%s' already exists.", name)
}

// createTopic creates a validated topic and waits (bounded by ctx) until
// every partition has a leader accepting produce and fetch.
func (b *Broker) createTopic(ctx context.Context, t *replication.Topic) error {
	n := b.replicasHere(t.Replicas)
	if err := b.checkRoom(n, true); err != nil {
		return err
	}
	defer filesStarted(n)
	if _, err := b.node.Controller().Propose(ctx, replication.Command{Op: replication.OpCreateTopic, Topic: t, NoCollision: true}); err != nil {
		if errors.Is(err, replication.ErrTopicExists) {
			return topicExistsErr(t.Name)
		}
		if errors.Is(err, replication.ErrTopicCollision) {
			return collisionErr(t.Name, b.node.Controller().State().CollidingTopic(t.Name))
		}
		return kafkaErrorf(kerr.RequestTimedOut, "%v", err)
	}
	if b.compactOnly(b.node.Controller().State(), t.Name) {
		b.warnNoCompaction(t.Name)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := b.node.WaitTopicReady(wctx, t.Name); err != nil {
		level := slog.LevelWarn
		if ctx.Err() != nil {
			level = slog.LevelDebug // the request ended first: its client went away
		}
		b.logger.Log(context.Background(), level, "created topic not ready in time", "topic", t.Name, "err", err)
		// The topic exists, but is not usable as a created topic should
		// be: the client is told, not answered success.
		return kafkaErrorf(kerr.RequestTimedOut, "topic %s was created but not every partition leads yet: %v", t.Name, err)
	}
	return nil
}

// autoCreate creates topic with the broker defaults, as Kafka does on a
// Metadata request for an unknown topic (__consumer_offsets with its own).
func (b *Broker) autoCreate(ctx context.Context, name string) error {
	if name == offsetsTopic {
		// With the coordinator's partitions and configs, as Kafka does
		// when a client asks for it before any group needed it.
		return b.coord.ensureOffsetsTopic(ctx)
	}
	if internalTopics[name] {
		// The other internal topics belong to coordinators not here yet
		// (transactions, share groups). Kafka creates them with their
		// coordinator's partitions and configs; made as an ordinary
		// topic, one would be sized wrong and, internal, could not be
		// deleted. So not at all: the client is told it is unknown.
		return kafkaErrorf(kerr.InvalidRequest, "internal topic %s is made by its coordinator, which this broker does not have yet", name)
	}
	t, err := b.buildTopic(topicSpec{name: name, partitions: -1, rf: -1})
	if err != nil {
		return err
	}
	return b.createTopic(ctx, t)
}

// leaderReplica returns this broker's replica of topic/partition when it
// leads it, checking the client's current leader epoch (-1: none given) as
// Kafka does; otherwise the error code to answer for that partition.
func (b *Broker) leaderReplica(st *replication.State, topic string, part, currentEpoch int32) (*replication.Partition, int16) {
	t := st.Topics[topic]
	if t == nil || part < 0 || int(part) >= len(t.Replicas) {
		return nil, kerr.UnknownTopicOrPartition.Code
	}
	p := b.node.Partition(topic, part)
	if p == nil || !p.Ready() {
		return nil, kerr.NotLeaderForPartition.Code
	}
	if currentEpoch >= 0 {
		switch cur := p.LeaderEpoch(); {
		case currentEpoch < cur:
			return nil, kerr.FencedLeaderEpoch.Code
		case currentEpoch > cur:
			return nil, kerr.UnknownLeaderEpoch.Code
		}
	}
	return p, 0
}
