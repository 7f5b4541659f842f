package broker

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gokafka/gokafka/internal/jaas"
	"github.com/gokafka/gokafka/internal/javaprops"
	"github.com/gokafka/gokafka/protocol"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Config is the whole configuration of one broker. Defaults live in
// DefaultConfig; every field can be set by its Kafka key through Set, which is
// what both the command-line flags and a properties file use.
type Config struct {
	NodeID        int32
	Listen        string // listeners: host:port the Kafka protocol is served on, or Kafka's NAME://host:port list (ClientListeners)
	Advertise     string // advertised.listeners: host:port given to clients, or a NAME://host:port list; default Listen (the bound address; the host name for a wildcard)
	DataDir       string // log.dirs
	AdminListen   string // HTTP for /metrics, /healthz and /debug/pprof/; empty disables
	RaftListen    string // raft.listen: the one port all raft groups share
	RaftAdvertise string
	Rack          string // broker.rack: reported in Metadata and DescribeCluster

	// ListenerSecurityProtocolMap is listener.security.protocol.map
	// (NAME:PROTOCOL,...): the protocol of each listener name that is
	// not one itself. ControllerListenerNames is controller.listener.names:
	// the listeners of a KRaft controller, which RaftListen stands in for.
	ListenerSecurityProtocolMap string
	ControllerListenerNames     string
	// SASLEnabledMechanisms is sasl.enabled.mechanisms: the SASL mechanisms
	// the SASL_PLAINTEXT and SASL_SSL listeners offer (default GSSAPI, as Kafka's, which
	// is not served: a SASL listener needs it set).
	SASLEnabledMechanisms string

	NumPartitions            int32
	DefaultReplicationFactor int16
	AutoCreateTopics         bool
	DeleteTopicEnable        bool // delete.topic.enable: false refuses DeleteTopics

	LogSegmentBytes                int64
	LogRollMs                      int64
	LogRollJitterMs                int64
	LogRetentionMs                 int64
	LogRetentionBytes              int64
	LogRetentionCheckMs            int64
	LogInitialTaskDelayMs          int64 // log.initial.task.delay.ms: the first retention check after a start
	LogIndexIntervalBytes          int32
	LogIndexSizeMaxBytes           int32 // log.index.size.max.bytes: a segment rolls once its index holds this many bytes
	LogFlushIntervalMs             int64 // -1: fsync every raft batch (default); >0: fsync at most this often
	LogDirMinFreeBytes             int64 // refuse produce below this much free space; -1: automatic, 0: never
	LogMessageTimestampTyp         string
	LogCleanupPolicy               string // log.cleanup.policy: topics' default cleanup.policy
	LogMessageTimestampAfterMaxMs  int64  // log.message.timestamp.after.max.ms
	LogMessageTimestampBeforeMaxMs int64  // log.message.timestamp.before.max.ms
	LogMessageTimestampDiffMaxMs   int64  // log.message.timestamp.difference.max.ms (Kafka 3.x): bounds each side whose own key is set nowhere
	LogSegmentRecycleBytes         int64  // log.segment.recycle.bytes: deleted partitions' segment files kept, zeroed, for new segments
	CompressionType                string // compression.type: producer, or the codec topics store batches in
	CompressionGzipLevel           int32  // compression.gzip.level
	CompressionLZ4Level            int32  // compression.lz4.level
	CompressionZstdLevel           int32  // compression.zstd.level

	MessageMaxBytes        int32
	ProducerIDExpirationMs int64 // producer.id.expiration.ms: idle idempotent producers are forgotten after this
	MinInsyncReplicas      int32 // min.insync.replicas: in-sync replicas an acks=all produce needs
	FetchMaxBytes          int32 // the most a Fetch answer carries, whatever the client asks
	// FetchSessionCacheSlots is max.incremental.fetch.session.cache.slots:
	// how many fetch sessions (KIP-227) are kept at once.
	FetchSessionCacheSlots int32
	SocketRequestMaxBytes  int32
	QueuedMaxRequestBytes  int64 // queued.max.request.bytes: frames of all connections read and not yet answered; <= 0 no bound
	ConnectionsMaxIdleMs   int64
	MaxConnectionsPerIP    int32  // max.connections.per.ip
	MaxConnsPerIPOverrides string // max.connections.per.ip.overrides: host:count,...
	MaxConnections         int32  // max.connections

	// Consumer groups.
	OffsetsTopicNumPartitions     int32
	OffsetsTopicReplicationFactor int16
	OffsetsTopicSegmentBytes      int32 // segment.bytes of __consumer_offsets, given when it is made
	GroupInitialRebalanceDelayMs  int64
	GroupMinSessionTimeoutMs      int64
	GroupMaxSessionTimeoutMs      int64
	GroupMaxSize                  int32
	OffsetsRetentionMinutes       int64
	OffsetsRetentionCheckMs       int64
	OffsetMetadataMaxBytes        int32
	// QuotaWindowNum and QuotaWindowSizeSeconds are quota.window.num and
	// quota.window.size.seconds: a client quota's rate is measured over
	// this many samples of this many seconds.
	QuotaWindowNum         int32
	QuotaWindowSizeSeconds int32

	Logger *slog.Logger
	// LogLevel, when set, is the level of Logger's handler: the "root"
	// broker logger, which IncrementalAlterConfigs may change at run time
	// (kafka-configs --entity-type broker-loggers).
	LogLevel *slog.LevelVar

	// Ignored lists the keys of a properties file that are Kafka broker
	// settings with no meaning here (thread counts, KRaft roles, ...);
	// LoadProperties skips them and gokafkad logs them.
	Ignored []string
	// The properties file's keys that say what cluster this node is part
	// of (process.roles, controller.quorum.*), for Validate.
	clusterKeys map[string]property
	// flushMessages is the properties file's log.flush.interval.messages
	// when below Kafka's default (0: not given), which keeps
	// log.flush.interval.ms from weakening the sync (see Start).
	flushMessages int64

	// offsetsCheckpointBytes is groups.Config.CheckpointBytes (0: its
	// default), for tests.
	offsetsCheckpointBytes int64

	// explicit holds the keys given to Set (flags, properties files), so
	// DescribeConfigs can tell an operator's setting from a default.
	explicit map[string]bool
	brokerID *string // broker.id as given, checked against node.id by Validate
	// units holds the values given to the coarse keys (unitOpt), which
	// DescribeConfigs reports as given.
	units map[string]int64

	// syncFile replaces the logs' deferred fsyncs (tests).
	syncFile func(*os.File) error
	// fetchMemory replaces the fetch memory budget's size (tests).
	fetchMemory int64
	// saslJAAS holds the listener.name.L.M.sasl.jaas.config settings, by
	// "LISTENER MECHANISM" (upper case).
	saslJAAS map[string]jaas.Entry
	// ssl holds the ssl.* settings (sslOptions) and their
	// listener.name.L.ssl.* overrides, by key as given.
	ssl map[string]string
}

// kafkaOnlyKeys are Kafka broker settings a Kafka server.properties often
// carries that mean nothing to gokafkad, so such a file loads with a warning
// instead of failing: Kafka 3.x's and 4.x's broker keys for its threads,
// purgatories, controlled shutdown, replica fetchers, KRaft internals,
// ZooKeeper, quotas, the log cleaner (compaction is not performed yet),
// tiered storage, metrics reporters and the like, and every key under the
// prefixes in kafkaOnlyPrefixes. A typo still fails the start. Security
// settings (ssl.*, sasl.*) are not among them, but those of a JVM's TLS
// that Go's has no counterpart for: a file asking for them must
// fail rather than serve in the clear. Nor are keys whose value asks for
// something gokafkad cannot do (kafkaOnlyUnless).
var kafkaOnlyKeys = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range strings.Fields(`
		process.roles controller.quorum.voters controller.quorum.bootstrap.servers
		inter.broker.listener.name
		num.network.threads num.io.threads num.replica.fetchers num.recovery.threads.per.data.dir
		background.threads queued.max.requests socket.send.buffer.bytes
		socket.receive.buffer.bytes socket.listen.backlog.size socket.connection.setup.timeout.ms
		socket.connection.setup.timeout.max.ms request.timeout.ms
		transaction.state.log.replication.factor transaction.state.log.min.isr
		transaction.state.log.num.partitions share.coordinator.state.topic.replication.factor
		share.coordinator.state.topic.min.isr
		log.cleaner.enable log.cleaner.threads log.flush.scheduler.interval.ms
		log.flush.offset.checkpoint.interval.ms log.flush.start.offset.checkpoint.interval.ms
		log.flush.interval.messages metadata.log.dir log.segment.delete.delay.ms
		log.dir.failure.timeout.ms
		log.message.downconversion.enable log.local.retention.ms log.local.retention.bytes
		inter.broker.protocol.version log.message.format.version auto.leader.rebalance.enable
		unclean.leader.election.enable unclean.leader.election.interval.ms replica.lag.time.max.ms
		log.preallocate
		group.coordinator.rebalance.protocols group.coordinator.new.enable group.coordinator.threads
		group.coordinator.append.linger.ms group.consumer.heartbeat.interval.ms
		group.consumer.session.timeout.ms group.consumer.assignors group.consumer.max.size
		group.share.enable unstable.api.versions.enable unstable.feature.versions.enable
		metric.reporters metrics.num.samples metrics.sample.window.ms metrics.recording.level
		kafka.metrics.reporters kafka.metrics.polling.interval.secs auto.include.jmx.reporter
		replica.fetch.max.bytes replica.fetch.min.bytes replica.fetch.wait.max.ms
		replica.fetch.response.max.bytes replica.fetch.backoff.ms replica.selector.class
		replica.socket.timeout.ms replica.socket.receive.buffer.bytes
		replica.high.watermark.checkpoint.interval.ms num.replica.alter.log.dirs.threads
		fetch.purgatory.purge.interval.requests producer.purgatory.purge.interval.requests
		delete.records.purgatory.purge.interval.requests
		controlled.shutdown.enable controlled.shutdown.max.retries controlled.shutdown.retry.backoff.ms
		controller.socket.timeout.ms controller.quota.window.num controller.quota.window.size.seconds
		leader.imbalance.check.interval.seconds leader.imbalance.per.broker.percentage
		log.cleaner.dedupe.buffer.size log.cleaner.io.max.bytes.per.second log.cleaner.backoff.ms
		log.cleaner.io.buffer.size log.cleaner.io.buffer.load.factor log.cleaner.min.cleanable.ratio
		log.cleaner.delete.retention.ms log.cleaner.min.compaction.lag.ms
		log.cleaner.max.compaction.lag.ms offsets.load.buffer.size offsets.commit.timeout.ms
		offsets.commit.required.acks offsets.topic.compression.codec
		transaction.max.timeout.ms transactional.id.expiration.ms transaction.state.log.segment.bytes
		transaction.state.log.load.buffer.size transaction.abort.timed.out.transaction.cleanup.interval.ms
		transaction.remove.expired.transaction.cleanup.interval.ms
		transaction.partition.verification.enable producer.id.expiration.check.interval.ms
		replication.quota.window.num
		replication.quota.window.size.seconds alter.log.dirs.replication.quota.window.num
		alter.log.dirs.replication.quota.window.size.seconds
		reserved.broker.max.id broker.id.generation.enable broker.heartbeat.interval.ms
		broker.session.timeout.ms initial.broker.registration.timeout.ms early.start.listeners
		server.max.startup.time.ms metadata.max.idle.interval.ms telemetry.max.bytes
		group.consumer.min.session.timeout.ms group.consumer.max.session.timeout.ms
		group.consumer.min.heartbeat.interval.ms group.consumer.max.heartbeat.interval.ms
		group.consumer.migration.policy add.partitions.to.txn.retry.backoff.ms
		add.partitions.to.txn.retry.backoff.max.ms controller.performance.sample.period.ms
		controller.performance.always.log.threshold.ms eligible.leader.replicas.enable
		max.request.partition.size.limit remote.fetch.max.wait.ms remote.list.offsets.request.timeout.ms`) {
		m[k] = true
	}
	return m
}()

// kafkaOnlyPrefixes name families of Kafka keys that mean nothing here as a
// whole: KRaft's controller quorum and metadata log, ZooKeeper (not used),
// tiered storage's settings (but see kafkaOnlyUnless), the share groups and
// Confluent Platform's own keys.
var kafkaOnlyPrefixes = []string{
	"controller.quorum.", "metadata.log.", "metadata.max.", "zookeeper.", "remote.log.",
	"group.share.", "share.", "confluent.",
}

// kafkaOnlyUnless are Kafka keys loaded with a warning while they ask for
// nothing (their default), and refused otherwise: a pluggable policy,
// quota callback or config provider class, tiered storage, an authorizer,
// all things gokafkad cannot do and must not pretend to.
var kafkaOnlyUnless = map[string]func(v string) bool{
	"create.topic.policy.class.name":   isEmpty,
	"alter.config.policy.class.name":   isEmpty,
	"client.quota.callback.class":      isEmpty,
	"config.providers":                 isEmpty,
	"authorizer.class.name":            isEmpty,
	"ssl.engine.factory.class":         isEmpty,
	"ssl.provider":                     isEmpty,
	"remote.log.storage.system.enable": func(v string) bool { return strings.EqualFold(v, "false") },
	"security.inter.broker.protocol":   func(v string) bool { return strings.EqualFold(v, "PLAINTEXT") },
	// A broker-wide cap on new connections a second (the per-IP one,
	// the connection_creation_rate quota, is enforced).
	"max.connection.creation.rate": func(v string) bool { return strings.TrimSpace(v) == "2147483647" },
}

func isEmpty(v string) bool { return v == "" }

// kafkaOnlyDoubles are the ignored Kafka keys whose values are decimals.
var kafkaOnlyDoubles = map[string]bool{
	"log.cleaner.io.buffer.load.factor": true, "log.cleaner.min.cleanable.ratio": true,
	"log.cleaner.io.max.bytes.per.second": true,
}

// kafkaOnlyValueType is the type Kafka gives an ignored key, told by the
// form of its name (Kafka's keys follow it: *.enable are booleans, *.ms
// and *.bytes longs, counts and sizes ints), or "" when the name does not
// tell (class names, lists, versions).
func kafkaOnlyValueType(key string) string {
	has := func(suffixes ...string) bool {
		for _, s := range suffixes {
			if strings.HasSuffix(key, s) {
				return true
			}
		}
		return false
	}
	switch {
	case kafkaOnlyDoubles[key]:
		return "DOUBLE"
	case has(".enable"):
		return "BOOLEAN"
	case has(".ms", ".bytes", ".messages", ".size"):
		return "LONG"
	case strings.HasPrefix(key, "num.") || has(".threads", ".isr", ".factor", ".partitions", ".num", ".seconds",
		".requests", ".retries", ".slots", ".percentage", ".max.id", ".acks", ".secs"):
		return "INT"
	}
	return ""
}

// checkKafkaOnlyValue checks the value of an ignored Kafka key against
// the type its name tells, with Kafka's message.
func checkKafkaOnlyValue(key, value string) error {
	var err error
	switch typ := kafkaOnlyValueType(key); typ {
	case "BOOLEAN":
		if !strings.EqualFold(value, "true") && !strings.EqualFold(value, "false") {
			return fmt.Errorf("Invalid value %s for configuration %s: Expected value to be either true or false", value, key)
		}
	case "LONG", "INT":
		bits := 64
		if typ == "INT" {
			bits = 32
		}
		_, err = strconv.ParseInt(value, 10, bits)
		if err != nil {
			return fmt.Errorf("Invalid value %s for configuration %s: Not a number of type %s", value, key, typ)
		}
	case "DOUBLE":
		if _, err = strconv.ParseFloat(value, 64); err != nil {
			return fmt.Errorf("Invalid value %s for configuration %s: Not a number of type DOUBLE", value, key)
		}
	}
	return nil
}

// kafkaOnly reports whether a properties file's key=value is a Kafka
// setting loaded with a warning (see kafkaOnlyKeys), and for a key of
// kafkaOnlyUnless set to something gokafkad cannot do, why not.
func kafkaOnly(key, value string) (bool, error) {
	if ok, has := kafkaOnlyUnless[key]; has {
		if ok(value) {
			return true, nil
		}
		return false, fmt.Errorf("%s=%s asks for something gokafkad does not do", key, value)
	}
	if kafkaOnlyKeys[key] {
		return true, nil
	}
	for _, p := range kafkaOnlyPrefixes {
		if strings.HasPrefix(key, p) {
			return true, nil
		}
	}
	return false, nil
}

// DefaultConfig returns the defaults: a single node serving Kafka on
// 127.0.0.1:9092, raft on 127.0.0.1:19092 and HTTP (AdminListen) on
// 127.0.0.1:9644, data in ./data. Brokers that run side by side (parallel
// tests) need 127.0.0.1:0 for Listen and RaftListen, and "" or
// 127.0.0.1:0 for AdminListen.
func DefaultConfig() Config {
	return Config{
		NodeID:                         1,
		Listen:                         "127.0.0.1:9092",
		DataDir:                        "./data",
		AdminListen:                    "127.0.0.1:9644",
		RaftListen:                     "127.0.0.1:19092",
		SASLEnabledMechanisms:          "GSSAPI",
		NumPartitions:                  1,
		DefaultReplicationFactor:       1,
		AutoCreateTopics:               true,
		DeleteTopicEnable:              true,
		LogSegmentBytes:                1 << 30,
		LogRollMs:                      7 * 24 * 3600 * 1000,
		LogRetentionMs:                 7 * 24 * 3600 * 1000,
		LogRetentionBytes:              -1,
		LogRetentionCheckMs:            5 * 60 * 1000,
		LogInitialTaskDelayMs:          30 * 1000,
		LogIndexIntervalBytes:          4096,
		LogIndexSizeMaxBytes:           10 << 20,
		LogFlushIntervalMs:             -1,
		LogDirMinFreeBytes:             -1,
		LogMessageTimestampTyp:         "CreateTime",
		LogCleanupPolicy:               "delete",
		ProducerIDExpirationMs:         86400000, // Kafka's: a day
		LogMessageTimestampAfterMaxMs:  3600000,  // Kafka 4.0's (KIP-1030)
		LogMessageTimestampBeforeMaxMs: math.MaxInt64,
		LogMessageTimestampDiffMaxMs:   math.MaxInt64,
		LogSegmentRecycleBytes:         1 << 30,
		CompressionType:                "producer",
		CompressionGzipLevel:           -1,
		CompressionLZ4Level:            9,
		CompressionZstdLevel:           3,
		MessageMaxBytes:                1048588,
		MinInsyncReplicas:              1,
		FetchMaxBytes:                  55 << 20,
		FetchSessionCacheSlots:         defaultFetchSessions,
		SocketRequestMaxBytes:          100 << 20,
		QueuedMaxRequestBytes:          protocol.DefaultMaxQueuedBytes,
		ConnectionsMaxIdleMs:           10 * 60 * 1000,
		MaxConnectionsPerIP:            math.MaxInt32,
		MaxConnections:                 math.MaxInt32,

		OffsetsTopicNumPartitions:     50,
		OffsetsTopicReplicationFactor: 3,
		OffsetsTopicSegmentBytes:      100 << 20,
		GroupInitialRebalanceDelayMs:  3000,
		GroupMinSessionTimeoutMs:      6000,
		GroupMaxSessionTimeoutMs:      1800000,
		GroupMaxSize:                  1<<31 - 1,
		OffsetsRetentionMinutes:       7 * 24 * 60,
		OffsetsRetentionCheckMs:       600000,
		OffsetMetadataMaxBytes:        4096,
		QuotaWindowNum:                11,
		QuotaWindowSizeSeconds:        1,
	}
}

// Option is one configuration key: its Kafka name, the command-line flag
// that sets it, and its help text.
type Option struct {
	Key  string
	Flag string
	Help string
	typ  kmsg.ConfigType // as DescribeConfigs reports it
	set  func(c *Config, v string) error
	get  func(c *Config) string
	over []string // keys for the same setting that win over this one when set
	// sensitive keys (passwords, private keys) are described without
	// their value, as Kafka describes its PASSWORD keys.
	sensitive bool
}

// IsBool says whether the option is a boolean: its flag may be given
// alone (--auto-create-topics) for true, or as --flag=false.
func (o Option) IsBool() bool { return o.typ == kmsg.ConfigTypeBoolean }

// int32Opt is intOpt for a key Kafka types INT that is held in an int64
// here: described as INT, and refused past an int's range, as in Kafka.
func int32Opt(key, flag, help string, f func(c *Config) *int64) Option {
	o := intOpt(key, flag, help, f)
	o.typ = kmsg.ConfigTypeInt
	set := o.set
	o.set = func(c *Config, v string) error {
		if _, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32); err != nil {
			return err
		}
		return set(c, v)
	}
	return o
}

// int16AsIntOpt is intOpt for a key Kafka types INT that is held in an
// int16 here (default.replication.factor, as CreateTopics carries one):
// described as INT, as in Kafka, and an int past an int16's range is
// refused as such, not as "not a number of type INT".
func int16AsIntOpt(key, flag, help string, f func(c *Config) *int16) Option {
	o := intOpt(key, flag, help, f)
	o.typ = kmsg.ConfigTypeInt
	set := o.set
	o.set = func(c *Config, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil {
			return err
		}
		if n < math.MinInt16 || n > math.MaxInt16 {
			return fmt.Errorf("%d is past a replication factor's range (at most %d)", n, math.MaxInt16)
		}
		return set(c, v)
	}
	return o
}

func intOpt[T int16 | int32 | int64](key, flag, help string, f func(c *Config) *T) Option {
	var zero T
	typ := map[int]kmsg.ConfigType{2: kmsg.ConfigTypeShort, 4: kmsg.ConfigTypeInt, 8: kmsg.ConfigTypeLong}[sizeOf(zero)]
	return Option{Key: key, Flag: flag, Help: help, typ: typ,
		set: func(c *Config, v string) error {
			var zero T
			bits := int(8 * sizeOf(zero))
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, bits)
			if err != nil {
				return err
			}
			*f(c) = T(n)
			return nil
		},
		get: func(c *Config) string { return strconv.FormatInt(int64(*f(c)), 10) },
	}
}

// aliasOpt is another Kafka name for key: it sets key unless key itself was
// set, whichever order they come in.
func aliasOpt(alias, flag, help string, target Option) Option {
	return Option{Key: alias, Flag: flag, Help: help, typ: target.typ,
		set: func(c *Config, v string) error {
			if alias == "broker.id" {
				c.brokerID = &v
			}
			if c.explicit[target.Key] {
				return nil
			}
			return target.set(c, v)
		},
		get:  target.get,
		over: []string{target.Key},
	}
}

var (
	nodeIDOpt  = intOpt("node.id", "node-id", "this broker's id", func(c *Config) *int32 { return &c.NodeID })
	logDirsOpt = strOpt("log.dirs", "data-dir", "directory holding all data", func(c *Config) *string { return &c.DataDir })
)

// unitOpt is Kafka's coarser spelling of a millisecond key (log.retention.hours
// for log.retention.ms): it sets the same field unless one of the finer keys
// listed in over was set, whichever order they come in. A negative value
// means unlimited (-1), as in Kafka. The key reads back, as in Kafka's
// DescribeConfigs, as its own value: what was given for it, else def
// (which key wins is the field's business).
func unitOpt(key, flag, help string, unit time.Duration, def int64, f func(c *Config) *int64, over ...string) Option {
	return Option{Key: key, Flag: flag, Help: help, typ: kmsg.ConfigTypeInt,
		set: func(c *Config, v string) error {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
			if err != nil {
				return err
			}
			if c.units == nil {
				c.units = map[string]int64{}
			}
			c.units[key] = n
			for _, k := range over {
				if c.explicit[k] {
					return nil
				}
			}
			if n < 0 {
				*f(c) = -1
			} else {
				*f(c) = n * unit.Milliseconds()
			}
			return nil
		},
		get: func(c *Config) string {
			n, ok := c.units[key]
			if !ok {
				n = def
			}
			return strconv.FormatInt(max(n, -1), 10)
		},
		over: over,
	}
}

func sizeOf[T int16 | int32 | int64](T) int {
	var x T
	switch any(x).(type) {
	case int16:
		return 2
	case int32:
		return 4
	}
	return 8
}

// listOpt is a strOpt whose value is a comma-separated list (LIST, as
// DescribeConfigs reports it).
func listOpt(key, flag, help string, f func(c *Config) *string) Option {
	o := strOpt(key, flag, help, f)
	o.typ = kmsg.ConfigTypeList
	return o
}

func strOpt(key, flag, help string, f func(c *Config) *string) Option {
	return Option{Key: key, Flag: flag, Help: help, typ: kmsg.ConfigTypeString,
		set: func(c *Config, v string) error { *f(c) = strings.TrimSpace(v); return nil },
		get: func(c *Config) string { return *f(c) },
	}
}

func boolOpt(key, flag, help string, f func(c *Config) *bool) Option {
	return Option{Key: key, Flag: flag, Help: help, typ: kmsg.ConfigTypeBoolean,
		set: func(c *Config, v string) error {
			// As Kafka's ConfigDef: true or false in any case, not
			// strconv's 1, t or T.
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "true":
				*f(c) = true
			case "false":
				*f(c) = false
			default:
				return &strconv.NumError{Func: "ParseBool", Num: v, Err: strconv.ErrSyntax}
			}
			return nil
		},
		get: func(c *Config) string { return strconv.FormatBool(*f(c)) },
	}
}

// listenerOpt is listeners or advertised.listeners. Set checks the form of
// each entry; what the names mean (listener.security.protocol.map,
// controller.listener.names, which may come later) is checked by
// ClientListeners, in Validate.
func listenerOpt(key, flag, help string, f func(c *Config) *string) Option {
	o := strOpt(key, flag, help, f)
	o.set = func(c *Config, v string) error {
		seen := map[string]bool{}
		for _, entry := range strings.Split(v, ",") {
			if entry = strings.TrimSpace(entry); entry == "" {
				continue
			}
			addr := entry
			if name, rest, ok := strings.Cut(entry, "://"); ok {
				if name = strings.ToUpper(name); seen[name] {
					return fmt.Errorf("listener name %s is given twice in %q: each listener needs a name of its own", name, v)
				}
				seen[name], addr = true, rest
			}
			if _, _, err := net.SplitHostPort(addr); err != nil {
				return fmt.Errorf("listener %q: %w", entry, err)
			}
		}
		*f(c) = strings.TrimSpace(v)
		return nil
	}
	return o
}

// listenerProtocols parses listener.security.protocol.map: name to
// protocol, upper case.
func (c *Config) listenerProtocols() (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range strings.Split(c.ListenerSecurityProtocolMap, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		name, proto, ok := strings.Cut(kv, ":")
		if !ok {
			return nil, fmt.Errorf("listener.security.protocol.map: %q is not NAME:PROTOCOL", kv)
		}
		m[strings.ToUpper(strings.TrimSpace(name))] = strings.ToUpper(strings.TrimSpace(proto))
	}
	return m, nil
}

// controllerListeners parses controller.listener.names.
func (c *Config) controllerListeners() map[string]bool {
	m := map[string]bool{}
	for _, name := range strings.Split(c.ControllerListenerNames, ",") {
		if name = strings.TrimSpace(name); name != "" {
			m[strings.ToUpper(name)] = true
		}
	}
	return m
}

// controllerEntries are the entries of listeners that name a controller
// listener (controller.listener.names): left unbound, raft.listen standing
// in for them.
func (c *Config) controllerEntries() []string {
	ctl := c.controllerListeners()
	var out []string
	for _, e := range strings.Split(c.Listen, ",") {
		e = strings.TrimSpace(e)
		if name, _, ok := strings.Cut(e, "://"); ok && ctl[strings.ToUpper(name)] {
			out = append(out, e)
		}
	}
	return out
}

// securityProtocols are the protocols Kafka names listeners by when
// listener.security.protocol.map does not.
var securityProtocols = map[string]bool{"PLAINTEXT": true, "SSL": true, "SASL_PLAINTEXT": true, "SASL_SSL": true}

// servedProtocols are the security protocols served: all of Kafka's.
var servedProtocols = map[string]bool{"PLAINTEXT": true, "SSL": true, "SASL_PLAINTEXT": true, "SASL_SSL": true}

// Listener is one client listener the broker serves.
type Listener struct {
	Name      string // Kafka's listener name; PLAINTEXT for a bare host:port
	Listen    string // host:port it binds
	Advertise string // host:port given to the clients that connect to it; "" for the bound address
	// Protocol is its security protocol: PLAINTEXT, SSL (TLS, set by
	// the ssl.* keys), or SASL_PLAINTEXT or SASL_SSL, whose clients
	// authenticate with a mechanism of sasl.enabled.mechanisms before
	// anything else.
	Protocol string
}

// ClientListeners resolves listeners and advertised.listeners into the
// client listeners served, in the order of listeners, each with the
// address advertised on it: the advertised.listeners entry of the same
// name, or else a bare host:port entry in the same position.
// As in Kafka, advertised.listeners may name only listeners that
// listeners has. notServed names the client listeners of another security
// protocol (and advertised entries past the listeners), for a warning.
func (c *Config) ClientListeners() (served []Listener, notServed []string, err error) {
	ls, lns, err := c.parseListeners(c.Listen, true)
	if err != nil {
		return nil, nil, fmt.Errorf("listeners: %w", err)
	}
	as, ans, err := c.parseListeners(c.Advertise, false)
	if err != nil {
		return nil, nil, fmt.Errorf("advertised.listeners: %w", err)
	}
	if len(lns) > 0 {
		notServed = append(notServed, "listeners: "+strings.Join(lns, ","))
	}
	if len(ans) > 0 {
		notServed = append(notServed, "advertised.listeners: "+strings.Join(ans, ","))
	}
	names := map[string]bool{}
	for _, l := range ls {
		if names[l.name] {
			return nil, nil, fmt.Errorf("listeners: listener name %s is given twice in %q (a host:port alone is PLAINTEXT): each listener needs a name of its own", l.name, c.Listen)
		}
		names[l.name] = true
	}
	byName := map[string]string{}
	var extra []string
	for i, a := range as {
		switch {
		case a.bare && i < len(ls):
			byName[ls[i].name] = cmp.Or(byName[ls[i].name], a.addr)
		case a.bare:
			extra = append(extra, a.addr)
		case !names[a.name]:
			return nil, nil, fmt.Errorf("advertised.listeners names listener %s, which listeners does not have (listener names in advertised.listeners must be among those of listeners)", a.name)
		default:
			byName[a.name] = a.addr
		}
	}
	if len(extra) > 0 {
		notServed = append(notServed, "advertised.listeners: "+strings.Join(extra, ","))
	}
	for _, l := range ls {
		served = append(served, Listener{Name: l.name, Listen: l.addr, Advertise: byName[l.name], Protocol: l.protocol})
	}
	return served, notServed, nil
}

// listenerEntry is one client listener of a listeners or
// advertised.listeners value.
type listenerEntry struct {
	name     string // upper case; PLAINTEXT for a bare host:port
	addr     string // host:port
	bare     bool   // given as host:port, without a name
	protocol string // its security protocol, for a listener served
}

// parseListeners takes a listeners or advertised.listeners value:
// "host:port" or Kafka's comma-separated "NAME://host:port" entries. A
// name is its own security protocol (PLAINTEXT) or the one
// listener.security.protocol.map gives; the listeners
// controller.listener.names names are a KRaft controller's, which
// raft.listen stands in for, and are left out. It returns the client
// listeners, which are served, and the entries of client listeners of a
// protocol not served (none now: every protocol of Kafka's is). With
// needServed (listeners), a value with none to serve is refused; an
// advertised.listeners may name only listeners not served.
func (c *Config) parseListeners(v string, needServed bool) (served []listenerEntry, notServed []string, err error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil, nil
	}
	protocols, err := c.listenerProtocols()
	if err != nil {
		return nil, nil, err
	}
	controllers := c.controllerListeners()
	var refused error // why the first listener not served was not
	seen := map[string]bool{}
	for _, entry := range strings.Split(v, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue // as Kafka's list parsing skips empty entries
		}
		e := listenerEntry{name: "PLAINTEXT", addr: entry, bare: true}
		if i := strings.Index(entry, "://"); i >= 0 {
			e = listenerEntry{name: strings.ToUpper(entry[:i]), addr: entry[i+3:]}
		}
		if seen[e.name] && !e.bare { // bare ones: see ClientListeners
			return nil, nil, fmt.Errorf("listener name %s is given twice in %q: each listener needs a name of its own", e.name, v)
		}
		seen[e.name] = true
		if controllers[e.name] {
			continue
		}
		proto, mapped := protocols[e.name]
		if !mapped {
			if !securityProtocols[e.name] {
				// As Kafka refuses it: the listener was meant to be
				// served, and how is not said.
				return nil, nil, fmt.Errorf("listener %q: no security protocol for %s: listener.security.protocol.map names none (add %s:PLAINTEXT to it to serve this listener)", entry, e.name, e.name)
			}
			proto = e.name
		}
		if !servedProtocols[proto] {
			// Not served; named in the warning if another one is.
			refused = cmp.Or(refused, fmt.Errorf("listener %q: security protocol %s is not supported (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)", entry, proto))
			notServed = append(notServed, entry)
			continue
		}
		e.protocol = proto
		if _, _, err := net.SplitHostPort(e.addr); err != nil {
			return nil, nil, fmt.Errorf("listener %q: %w", entry, err)
		}
		served = append(served, e)
	}
	switch {
	case !needServed || len(served) > 0:
	case refused != nil:
		return nil, nil, refused
	default:
		return nil, nil, fmt.Errorf("%q names only controller listeners (controller.listener.names): give a listener for clients", v)
	}
	return served, notServed, nil
}

// saslMechanismsOpt is sasl.enabled.mechanisms: the SASL mechanisms the
// SASL_PLAINTEXT and SASL_SSL listeners offer (checkSASL).
var saslMechanismsOpt = func() Option {
	o := strOpt("sasl.enabled.mechanisms", "sasl-enabled-mechanisms", "the SASL mechanisms a SASL_PLAINTEXT or SASL_SSL listener offers: PLAIN (users in listener.name.NAME.plain.sasl.jaas.config), SCRAM-SHA-256 and SCRAM-SHA-512 (users: AlterUserScramCredentials, kafka-configs --entity-type users); Kafka's default GSSAPI (Kerberos) is not served", func(c *Config) *string { return &c.SASLEnabledMechanisms })
	o.typ = kmsg.ConfigTypeList
	return o
}()

// checkSASL refuses SASL_PLAINTEXT and SASL_SSL listeners whose mechanisms are not all
// served, as Kafka refuses to start without a server for each one enabled.
func (c *Config) checkSASL(ls []Listener) error {
	for _, l := range ls {
		if l.Protocol != "SASL_PLAINTEXT" && l.Protocol != "SASL_SSL" {
			continue
		}
		mechs := c.saslMechanisms()
		if len(mechs) == 0 {
			return fmt.Errorf("listener %s is %s but sasl.enabled.mechanisms names no mechanism", l.Name, l.Protocol)
		}
		for _, m := range mechs {
			if m == "PLAIN" {
				// As Kafka, which wants the JAAS entry whose user_
				// options are PLAIN's users.
				key := "listener.name." + strings.ToLower(l.Name) + ".plain.sasl.jaas.config"
				e, ok := c.saslJAAS[l.Name+" PLAIN"]
				if !ok {
					return fmt.Errorf("sasl.enabled.mechanisms: PLAIN on listener %s needs its users in %s (%s required user_NAME=\"password\" ...;)", l.Name, key, plainLoginModule)
				}
				if e.Module != plainLoginModule {
					return fmt.Errorf("%s: login module %s, want %s", key, e.Module, plainLoginModule)
				}
				continue
			}
			if _, ok := scramMechanisms[m]; !ok {
				return fmt.Errorf("sasl.enabled.mechanisms: %s is not supported (listener %s is %s): set it to PLAIN, SCRAM-SHA-256 and/or SCRAM-SHA-512", m, l.Name, l.Protocol)
			}
		}
	}
	return nil
}

// saslMechanisms lists sasl.enabled.mechanisms, as given (Kafka's names
// are upper case and compared as they are).
func (c *Config) saslMechanisms() []string {
	var out []string
	for _, m := range strings.Split(c.SASLEnabledMechanisms, ",") {
		if m = strings.TrimSpace(m); m != "" && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

var protocolMapOpt = func() Option {
	o := strOpt("listener.security.protocol.map", "listener-security-protocol-map", "NAME:PROTOCOL,... the security protocol of each listener name that is not one itself (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)", func(c *Config) *string { return &c.ListenerSecurityProtocolMap })
	o.set = func(c *Config, v string) error {
		old := c.ListenerSecurityProtocolMap
		c.ListenerSecurityProtocolMap = strings.TrimSpace(v)
		if _, err := c.listenerProtocols(); err != nil {
			c.ListenerSecurityProtocolMap = old
			return err
		}
		return nil
	}
	return o
}()

// retentionMsOpt is log.retention.ms. As Kafka's logRetentionTimeMillis
// and the coarser keys (unitOpt), any negative value is unlimited, -1: a
// -2 kept as given would reach topics as a retention.ms outside that
// key's own range (at least -1).
var retentionMsOpt = func() Option {
	o := intOpt("log.retention.ms", "log-retention-ms", "delete segments older than this (-1: never)", func(c *Config) *int64 { return &c.LogRetentionMs })
	set := o.set
	o.set = func(c *Config, v string) error {
		if err := set(c, v); err != nil {
			return err
		}
		c.LogRetentionMs = max(c.LogRetentionMs, -1)
		return nil
	}
	return o
}()

// Options lists every configuration key, in the order --help shows them.
func Options() []Option { return options }

// options is built once: Get sits on the produce path (topic defaults).
// The ssl.* keys (sslOptions) come last.
var options = append([]Option{
	nodeIDOpt,
	aliasOpt("broker.id", "broker-id", "node.id under its older Kafka name; given with node.id, it must be the same id", nodeIDOpt),
	listenerOpt("listeners", "listen", "addresses the Kafka protocol listens on: host:port, or Kafka's NAME://host:port,... (PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL listeners are served)", func(c *Config) *string { return &c.Listen }),
	protocolMapOpt,
	saslMechanismsOpt,
	strOpt("controller.listener.names", "controller-listener-names", "listener names of a KRaft controller, left out of listeners: raft.listen stands in for them", func(c *Config) *string { return &c.ControllerListenerNames }),
	listenerOpt("advertised.listeners", "advertise", "addresses given in metadata to the clients of each listener, NAME://host:port by listener name (default: the listen address; for a 0.0.0.0 or :: listener, this host's name)", func(c *Config) *string { return &c.Advertise }),
	logDirsOpt,
	aliasOpt("log.dir", "log-dir", "log.dirs under Kafka's singular name; log.dirs wins when both are set", logDirsOpt),
	strOpt("admin.listen", "admin-listen", "HTTP address for /metrics, /healthz and /debug/pprof/ (empty disables)", func(c *Config) *string { return &c.AdminListen }),
	strOpt("raft.listen", "raft-listen", "address the raft transport of every group listens on", func(c *Config) *string { return &c.RaftListen }),
	strOpt("raft.advertise", "raft-advertise", "raft address given to peers (default: the raft listen address; for 0.0.0.0 or ::, this host's name)", func(c *Config) *string { return &c.RaftAdvertise }),
	strOpt("broker.rack", "broker-rack", "rack of this broker, given to clients in Metadata and DescribeCluster (empty: none)", func(c *Config) *string { return &c.Rack }),
	intOpt("num.partitions", "num-partitions", "partitions of an auto-created or default topic", func(c *Config) *int32 { return &c.NumPartitions }),
	int16AsIntOpt("default.replication.factor", "default-replication-factor", "replication factor of auto-created or default topics", func(c *Config) *int16 { return &c.DefaultReplicationFactor }),
	boolOpt("auto.create.topics.enable", "auto-create-topics", "create a topic when a client asks Metadata for one that does not exist (as producers and consumers do before using it)", func(c *Config) *bool { return &c.AutoCreateTopics }),
	boolOpt("delete.topic.enable", "delete-topic-enable", "allow DeleteTopics; false refuses it (TOPIC_DELETION_DISABLED), as in Kafka", func(c *Config) *bool { return &c.DeleteTopicEnable }),
	int32Opt("log.segment.bytes", "log-segment-bytes", "segment file size before a new one is rolled", func(c *Config) *int64 { return &c.LogSegmentBytes }),
	intOpt("log.roll.ms", "log-roll-ms", "segment age before a new one is rolled", func(c *Config) *int64 { return &c.LogRollMs }),
	unitOpt("log.roll.hours", "log-roll-hours", "log.roll.ms in hours; log.roll.ms wins when both are set", time.Hour, 168, func(c *Config) *int64 { return &c.LogRollMs }, "log.roll.ms"),
	intOpt("log.roll.jitter.ms", "log-roll-jitter-ms", "each segment takes a random amount below this off log.roll.ms, so that partitions do not roll together", func(c *Config) *int64 { return &c.LogRollJitterMs }),
	unitOpt("log.roll.jitter.hours", "log-roll-jitter-hours", "log.roll.jitter.ms in hours; log.roll.jitter.ms wins when both are set", time.Hour, 0, func(c *Config) *int64 { return &c.LogRollJitterMs }, "log.roll.jitter.ms"),
	retentionMsOpt,
	unitOpt("log.retention.minutes", "log-retention-minutes", "log.retention.ms in minutes; log.retention.ms wins when both are set", time.Minute, 7*24*60, func(c *Config) *int64 { return &c.LogRetentionMs }, "log.retention.ms"),
	unitOpt("log.retention.hours", "log-retention-hours", "log.retention.ms in hours; log.retention.ms and log.retention.minutes win when set", time.Hour, 168, func(c *Config) *int64 { return &c.LogRetentionMs }, "log.retention.ms", "log.retention.minutes"),
	intOpt("log.retention.bytes", "log-retention-bytes", "delete oldest segments past this size per partition (-1: never)", func(c *Config) *int64 { return &c.LogRetentionBytes }),
	intOpt("log.retention.check.interval.ms", "log-retention-check-interval-ms", "how often retention runs", func(c *Config) *int64 { return &c.LogRetentionCheckMs }),
	intOpt("log.initial.task.delay.ms", "log-initial-task-delay-ms", "how long after a start retention first runs (at most one check interval)", func(c *Config) *int64 { return &c.LogInitialTaskDelayMs }),
	intOpt("log.index.interval.bytes", "log-index-interval-bytes", "bytes between sparse index entries", func(c *Config) *int32 { return &c.LogIndexIntervalBytes }),
	intOpt("log.index.size.max.bytes", "log-index-size-max-bytes", "a segment rolls once its index holds this many bytes (at least 1024)", func(c *Config) *int32 { return &c.LogIndexSizeMaxBytes }),
	intOpt("log.segment.recycle.bytes", "log-segment-recycle-bytes", "keep up to this many bytes of deleted topics' segment files, overwritten with zeros in the background, for new segments to reuse (0: delete them)", func(c *Config) *int64 { return &c.LogSegmentRecycleBytes }),
	intOpt("log.flush.interval.ms", "log-flush-interval-ms", "-1: fsync every raft batch before acknowledging (default); N>0: fsync at most every N ms (faster, loses the last N ms on power loss)", func(c *Config) *int64 { return &c.LogFlushIntervalMs }),
	intOpt("log.dir.min.free.bytes", "log-dir-min-free-bytes", "produce is refused (KAFKA_STORAGE_ERROR, which clients retry) while the filesystem of log.dirs has less free space than this, so that it never fills up; -1: the smaller of 1 GiB and 5% of the filesystem; 0: never refuse", func(c *Config) *int64 { return &c.LogDirMinFreeBytes }),
	listOpt("log.cleanup.policy", "log-cleanup-policy", "cleanup.policy of topics that set none: delete, compact, or delete,compact (compaction is not performed yet: a topic that only compacts keeps every record)", func(c *Config) *string { return &c.LogCleanupPolicy }),
	strOpt("log.message.timestamp.type", "log-message-timestamp-type", "CreateTime or LogAppendTime", func(c *Config) *string { return &c.LogMessageTimestampTyp }),
	intOpt("log.message.timestamp.after.max.ms", "log-message-timestamp-after-max-ms", "a CreateTime record may be at most this far ahead of the broker's clock (INVALID_TIMESTAMP beyond)", func(c *Config) *int64 { return &c.LogMessageTimestampAfterMaxMs }),
	intOpt("log.message.timestamp.before.max.ms", "log-message-timestamp-before-max-ms", "a CreateTime record may be at most this far behind the broker's clock (INVALID_TIMESTAMP beyond)", func(c *Config) *int64 { return &c.LogMessageTimestampBeforeMaxMs }),
	intOpt("log.message.timestamp.difference.max.ms", "log-message-timestamp-difference-max-ms", "Kafka 3.x's bound on how far a CreateTime record may be from the broker's clock, on each side whose before/after key is set nowhere (INVALID_TIMESTAMP beyond)", func(c *Config) *int64 { return &c.LogMessageTimestampDiffMaxMs }),
	strOpt("compression.type", "compression-type", "the codec topics store batches in: producer (as sent), uncompressed, gzip, snappy, lz4 or zstd", func(c *Config) *string { return &c.CompressionType }),
	intOpt("compression.gzip.level", "compression-gzip-level", "gzip level of batches recompressed into gzip: 1-9, -1 for gzip's default", func(c *Config) *int32 { return &c.CompressionGzipLevel }),
	intOpt("compression.lz4.level", "compression-lz4-level", "lz4 level of batches recompressed into lz4: 1-17 (9: the fast compressor)", func(c *Config) *int32 { return &c.CompressionLZ4Level }),
	intOpt("compression.zstd.level", "compression-zstd-level", "zstd level of batches recompressed into zstd: -131072 to 22", func(c *Config) *int32 { return &c.CompressionZstdLevel }),
	intOpt("message.max.bytes", "message-max-bytes", "largest record batch accepted", func(c *Config) *int32 { return &c.MessageMaxBytes }),
	int32Opt("producer.id.expiration.ms", "producer-id-expiration-ms", "a partition forgets an idempotent producer whose last batch's timestamp is older than this (checked with retention); it is accepted at any sequence if it writes again", func(c *Config) *int64 { return &c.ProducerIDExpirationMs }),
	intOpt("min.insync.replicas", "min-insync-replicas", "in-sync replicas an acks=all produce needs (NOT_ENOUGH_REPLICAS below)", func(c *Config) *int32 { return &c.MinInsyncReplicas }),
	intOpt("fetch.max.bytes", "fetch-max-bytes", "most bytes of records in one Fetch answer, whatever the client asks (at least one batch is always sent)", func(c *Config) *int32 { return &c.FetchMaxBytes }),
	intOpt("max.incremental.fetch.session.cache.slots", "max-incremental-fetch-session-cache-slots", "fetch sessions (KIP-227) kept at once; past them a fetch is served without one; 0 makes none", func(c *Config) *int32 { return &c.FetchSessionCacheSlots }),
	intOpt("socket.request.max.bytes", "socket-request-max-bytes", "largest request frame accepted", func(c *Config) *int32 { return &c.SocketRequestMaxBytes }),
	intOpt("queued.max.request.bytes", "queued-max-request-bytes", "bytes of requests read and not yet answered, over all connections, past which no connection reads more until some are answered (a request goes through while any is left); <= 0: no bound, Kafka's default", func(c *Config) *int64 { return &c.QueuedMaxRequestBytes }),
	intOpt("connections.max.idle.ms", "connections-max-idle-ms", "close connections idle this long", func(c *Config) *int64 { return &c.ConnectionsMaxIdleMs }),
	intOpt("max.connections.per.ip", "max-connections-per-ip", "connections one client address may hold; a new one past that is closed at once (0 allows none but the overrides)", func(c *Config) *int32 { return &c.MaxConnectionsPerIP }),
	strOpt("max.connections.per.ip.overrides", "max-connections-per-ip-overrides", "per-address limits that replace max.connections.per.ip: host:count,host:count (a host name counts for each of its addresses)", func(c *Config) *string { return &c.MaxConnsPerIPOverrides }),
	intOpt("max.connections", "max-connections", "connections the broker holds at most; more wait in the listen backlog until one closes", func(c *Config) *int32 { return &c.MaxConnections }),
	intOpt("offsets.topic.num.partitions", "offsets-topic-num-partitions", "partitions (coordinator shards) of __consumer_offsets, fixed once created", func(c *Config) *int32 { return &c.OffsetsTopicNumPartitions }),
	intOpt("offsets.topic.replication.factor", "offsets-topic-replication-factor", "replication factor of __consumer_offsets (capped at the brokers present when it is created)", func(c *Config) *int16 { return &c.OffsetsTopicReplicationFactor }),
	intOpt("offsets.topic.segment.bytes", "offsets-topic-segment-bytes", "segment.bytes of __consumer_offsets when it is created", func(c *Config) *int32 { return &c.OffsetsTopicSegmentBytes }),
	int32Opt("group.initial.rebalance.delay.ms", "group-initial-rebalance-delay-ms", "how long a new group waits for more members before its first rebalance", func(c *Config) *int64 { return &c.GroupInitialRebalanceDelayMs }),
	int32Opt("group.min.session.timeout.ms", "group-min-session-timeout-ms", "smallest session timeout a member may ask for", func(c *Config) *int64 { return &c.GroupMinSessionTimeoutMs }),
	int32Opt("group.max.session.timeout.ms", "group-max-session-timeout-ms", "largest session timeout a member may ask for", func(c *Config) *int64 { return &c.GroupMaxSessionTimeoutMs }),
	intOpt("group.max.size", "group-max-size", "most members a group may have", func(c *Config) *int32 { return &c.GroupMaxSize }),
	intOpt("quota.window.num", "quota-window-num", "samples a client quota's rate is measured over", func(c *Config) *int32 { return &c.QuotaWindowNum }),
	intOpt("quota.window.size.seconds", "quota-window-size-seconds", "seconds of each sample of a client quota's rate", func(c *Config) *int32 { return &c.QuotaWindowSizeSeconds }),
	int32Opt("offsets.retention.minutes", "offsets-retention-minutes", "committed offsets of an empty group are kept this long", func(c *Config) *int64 { return &c.OffsetsRetentionMinutes }),
	intOpt("offsets.retention.check.interval.ms", "offsets-retention-check-interval-ms", "how often expired offsets are removed", func(c *Config) *int64 { return &c.OffsetsRetentionCheckMs }),
	intOpt("offset.metadata.max.bytes", "offset-metadata-max-bytes", "largest metadata string of a committed offset", func(c *Config) *int32 { return &c.OffsetMetadataMaxBytes }),
}, sslOptions...)

// Set sets one key, by Kafka name or flag name.
func (c *Config) Set(key, value string) error {
	for _, o := range Options() {
		if o.Key == key || o.Flag == key {
			if err := o.set(c, value); err != nil {
				// A number or boolean that does not parse is told as
				// Kafka's ConfigDef tells it, word for word (as
				// checkKafkaOnlyValue), not as strconv's error.
				if ne := (*strconv.NumError)(nil); errors.As(err, &ne) {
					what := "Not a number of type " + o.typ.String()
					if o.typ == kmsg.ConfigTypeBoolean {
						what = "Expected value to be either true or false"
					}
					return fmt.Errorf("Invalid value %s for configuration %s: %s", value, o.Key, what)
				}
				return fmt.Errorf("%s: %w", o.Key, err)
			}
			if c.explicit == nil {
				c.explicit = map[string]bool{}
			}
			c.explicit[o.Key] = true
			return nil
		}
	}
	if listener, sslKey, ok := sslListenerKey(key); ok {
		if c.ssl == nil {
			c.ssl = map[string]string{}
		}
		c.ssl["listener.name."+strings.ToLower(listener)+"."+sslKey] = strings.TrimSpace(value)
		return nil
	}
	if listener, mech, ok := jaasKey(key); ok {
		e, err := jaas.Parse(value)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		if c.saslJAAS == nil {
			c.saslJAAS = map[string]jaas.Entry{}
		}
		c.saslJAAS[listener+" "+mech] = e
		return nil
	}
	return fmt.Errorf("unknown configuration key %q", key)
}

// jaasKey takes Kafka's listener.name.LISTENER.MECHANISM.sasl.jaas.config
// (the listener and mechanism in lower case): the JAAS configuration of a
// SASL mechanism on one listener.
func jaasKey(key string) (listener, mechanism string, ok bool) {
	rest, ok := strings.CutPrefix(key, "listener.name.")
	if !ok {
		return "", "", false
	}
	rest, ok = strings.CutSuffix(rest, ".sasl.jaas.config")
	if !ok {
		return "", "", false
	}
	listener, mechanism, ok = strings.Cut(rest, ".")
	if !ok || listener == "" || mechanism == "" || strings.Contains(mechanism, ".") {
		return "", "", false
	}
	return strings.ToUpper(listener), strings.ToUpper(mechanism), true
}

// plainUsers are the users SASL/PLAIN accepts on listener: the user_NAME
// options of its listener.name.LISTENER.plain.sasl.jaas.config.
func (c *Config) plainUsers(listener string) map[string]string {
	return plainUsers(c.saslJAAS[strings.ToUpper(listener)+" PLAIN"])
}

// OverrideFile makes the keys about to be set from the command line win over
// the properties file already loaded, as flags do, also where the file
// gives the same setting under a key that would otherwise win: the file's
// log.retention.ms gives way to --log-retention-hours, its node.id to
// --broker-id. Among the flags themselves Kafka's order holds.
func (c *Config) OverrideFile(flagKeys []string) {
	for _, key := range flagKeys {
		o, ok := option(key)
		if !ok {
			continue
		}
		for _, k := range o.over {
			if !slices.Contains(flagKeys, k) {
				delete(c.explicit, k)
				delete(c.units, k)
			}
		}
		if key == "node.id" && !slices.Contains(flagKeys, "broker.id") {
			// The file's broker.id gives way to --node-id, as its
			// node.id to --broker-id, rather than refusing the start
			// for differing from it.
			c.brokerID = nil
		}
	}
}

// Get returns one key's value as text, or "" and false.
// option returns the option named key.
func option(key string) (Option, bool) {
	if i, ok := optionIndex[key]; ok {
		return options[i], true
	}
	return Option{}, false
}

// optionIndex finds an option by key: Get sits on the produce path.
var optionIndex = func() map[string]int {
	m := make(map[string]int, len(options))
	for i, o := range options {
		if _, dup := m[o.Key]; !dup {
			m[o.Key] = i
		}
	}
	return m
}()

func (c *Config) Get(key string) (string, bool) {
	if o, ok := option(key); ok {
		return o.get(c), true
	}
	return "", false
}

// IsDefault says whether key still has its built-in default: it was not
// given to Set and its value is the one DefaultConfig has.
func (c *Config) IsDefault(key string) bool {
	if c.explicit[key] {
		return false
	}
	v, ok := c.Get(key)
	def := DefaultConfig()
	dv, _ := def.Get(key)
	return ok && v == dv
}

// LoadProperties applies a Java-style properties file (key=value or
// key: value, # and ! comments). Unknown keys are errors, so a typo is not
// silently ignored.
func (c *Config) LoadProperties(r io.Reader) error {
	props, err := readProperties(r)
	if err != nil {
		return err
	}
	return c.loadProperties(props)
}

// LoadOverrides applies kafka-server-start.sh's --override key=value
// arguments: each is read as if the properties file ended with it, so it
// replaces the file's value for its key and is checked (or skipped with a
// warning) as the file's keys are. As in Kafka, a key without '=' is set
// to the empty value.
func (c *Config) LoadOverrides(overrides []string) error {
	var props []property
	for _, kv := range overrides {
		key, value, _ := strings.Cut(kv, "=")
		props = append(props, property{key: strings.TrimSpace(key), value: value})
	}
	return c.loadProperties(props)
}

func (c *Config) loadProperties(props []property) error {
	cluster := map[string]property{} // the keys that say what cluster this node is part of
	for _, p := range props {
		value := strings.TrimSpace(p.value)
		ignore, err := kafkaOnly(p.key, value)
		if err != nil {
			return fmt.Errorf("%s: %w", p.where(), err)
		}
		if ignore {
			// Ignored, but not unchecked: Kafka refuses a value not of
			// its key's type, and so a file it would not start with.
			if err := checkKafkaOnlyValue(p.key, value); err != nil {
				return fmt.Errorf("%s: %w", p.where(), err)
			}
			c.Ignored = append(c.Ignored, p.key)
			switch p.key {
			case "process.roles", "controller.quorum.voters", "controller.quorum.bootstrap.servers":
				p.value = value
				cluster[p.key] = p
			case "log.flush.interval.messages":
				// Kafka's default, Long.MAX_VALUE, leaves the flush to
				// the timer: a later line or an --override may set it
				// back.
				if n, err := strconv.ParseInt(value, 10, 64); err == nil {
					c.flushMessages = 0
					if n < math.MaxInt64 {
						c.flushMessages = n
					}
				}
			}
			continue
		}
		if err := c.Set(p.key, value); err != nil {
			return fmt.Errorf("%s: %w", p.where(), err)
		}
	}
	// Checked by Validate, once the flags (--node-id) have their say;
	// overrides come after the file and replace its keys.
	if c.clusterKeys == nil {
		c.clusterKeys = map[string]property{}
	}
	maps.Copy(c.clusterKeys, cluster)
	return nil
}

// checkOneNode refuses a KRaft properties file that makes this node part
// of a cluster of several, or a broker or controller alone: gokafkad would
// start it as a cluster of its own, and clients of each node would see a
// different one. A file for one combined node (process.roles=broker,
// controller, voters naming only this node) loads.
func (c *Config) checkOneNode(cluster map[string]property) error {
	const why = "a cluster of several nodes is not supported yet, and this gokafkad would start as a separate one-node cluster; remove the key to run one node"
	if p, ok := cluster["process.roles"]; ok {
		roles := map[string]bool{}
		for _, r := range strings.Split(p.value, ",") {
			roles[strings.TrimSpace(r)] = true
		}
		if !roles["broker"] || !roles["controller"] {
			return fmt.Errorf("%s: process.roles=%s: gokafkad is always both broker and controller of its own metadata; %s", p.where(), p.value, why)
		}
	}
	if p, ok := cluster["controller.quorum.voters"]; ok && p.value != "" {
		for _, v := range strings.Split(p.value, ",") {
			if strings.TrimSpace(v) == "" {
				continue
			}
			id, _, _ := strings.Cut(strings.TrimSpace(v), "@")
			if n, err := strconv.ParseInt(id, 10, 32); err != nil || int32(n) != c.NodeID {
				return fmt.Errorf("%s: controller.quorum.voters=%s names a node other than this one (node.id %d): %s", p.where(), p.value, c.NodeID, why)
			}
		}
	}
	if p, ok := cluster["controller.quorum.bootstrap.servers"]; ok && strings.Contains(p.value, ",") {
		return fmt.Errorf("%s: controller.quorum.bootstrap.servers=%s names several controllers: %s", p.where(), p.value, why)
	}
	return nil
}

type property struct {
	key, value string
	line       int // where the entry starts; 0 for an --override
}

// where names the property's origin in an error message.
func (p property) where() string {
	if p.line == 0 {
		return "--override " + p.key
	}
	return fmt.Sprintf("line %d", p.line)
}

// readProperties reads a file in the format of Java's Properties.load,
// which Kafka reads server.properties with (javaprops.Read).
func readProperties(r io.Reader) ([]property, error) {
	ps, err := javaprops.Read(r)
	if err != nil {
		return nil, err
	}
	out := make([]property, len(ps))
	for i, p := range ps {
		out[i] = property{key: p.Key, value: p.Value, line: p.Line}
	}
	return out, nil
}

// LoadPropertiesFile applies the properties file at path.
func (c *Config) LoadPropertiesFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return c.LoadProperties(f)
}

// Validate checks values that would make the broker misbehave.
func (c *Config) Validate() error {
	if err := c.checkOneNode(c.clusterKeys); err != nil {
		return err
	}
	if c.brokerID != nil && c.explicit["node.id"] {
		// As Kafka: the older name may be given too, but must agree.
		if id, err := strconv.ParseInt(strings.TrimSpace(*c.brokerID), 10, 32); err != nil || int32(id) != c.NodeID {
			return fmt.Errorf("broker.id=%s and node.id=%d differ: give one, or the same id to both", *c.brokerID, c.NodeID)
		}
	}
	if c.Listen != "" {
		ls, _, err := c.ClientListeners()
		if err != nil {
			return err
		}
		if err := c.checkSASL(ls); err != nil {
			return err
		}
		if err := c.checkTLS(ls); err != nil {
			return err
		}
	}
	if fi, err := os.Stat(c.DataDir); c.DataDir != "" && err == nil && !fi.IsDir() {
		return fmt.Errorf("log.dirs %q is a file, not a directory", c.DataDir)
	}
	switch {
	case c.Listen == "":
		return fmt.Errorf("listeners must be set")
	case c.RaftListen == "":
		// Empty would listen on every interface, for a transport
		// with no authentication.
		return fmt.Errorf("raft.listen must be set (host:port; port 0 picks one)")
	case c.DataDir == "":
		return fmt.Errorf("log.dirs must be set")
	case strings.Contains(c.DataDir, ","):
		// Kafka spreads partitions over a list (JBOD); here the list
		// would be one directory with a comma in its name.
		return fmt.Errorf("log.dirs %q is a list: gokafkad keeps its data in one directory", c.DataDir)
	case c.NumPartitions < 1:
		return fmt.Errorf("num.partitions must be >= 1")
	case c.DefaultReplicationFactor < 1:
		return fmt.Errorf("default.replication.factor must be >= 1")
	case c.LogSegmentBytes < minSegmentBytes:
		return fmt.Errorf("log.segment.bytes must be >= %d", minSegmentBytes)
	case c.LogSegmentRecycleBytes < 0:
		return fmt.Errorf("log.segment.recycle.bytes must be >= 0")
	case c.LogDirMinFreeBytes < -1:
		return fmt.Errorf("log.dir.min.free.bytes must be >= -1")
	case c.FetchMaxBytes < 1024:
		return fmt.Errorf("fetch.max.bytes must be >= 1024")
	case c.FetchSessionCacheSlots < 0:
		return fmt.Errorf("max.incremental.fetch.session.cache.slots must be >= 0")
	case c.MessageMaxBytes < 0:
		return fmt.Errorf("message.max.bytes must be >= 0")
	case c.LogMessageTimestampAfterMaxMs < 0 || c.LogMessageTimestampBeforeMaxMs < 0 || c.LogMessageTimestampDiffMaxMs < 0:
		return fmt.Errorf("log.message.timestamp.after.max.ms, before.max.ms and difference.max.ms must be >= 0")
	case c.LogIndexSizeMaxBytes < 1024:
		return fmt.Errorf("log.index.size.max.bytes must be >= 1024")
	case c.ProducerIDExpirationMs < 1:
		return fmt.Errorf("producer.id.expiration.ms must be >= 1")
	case c.MinInsyncReplicas < 1:
		return fmt.Errorf("min.insync.replicas must be >= 1")
	case c.SocketRequestMaxBytes < 1024:
		return fmt.Errorf("socket.request.max.bytes must be >= 1024")
	case c.explicit["queued.max.request.bytes"] && c.QueuedMaxRequestBytes > 0 && c.QueuedMaxRequestBytes < int64(c.SocketRequestMaxBytes):
		// As Kafka; the default gives way to a larger request bound.
		return fmt.Errorf("queued.max.request.bytes must be <= 0 or at least socket.request.max.bytes (%d)", c.SocketRequestMaxBytes)
	case c.OffsetsTopicNumPartitions < 1:
		return fmt.Errorf("offsets.topic.num.partitions must be >= 1")
	case c.OffsetsTopicReplicationFactor < 1:
		return fmt.Errorf("offsets.topic.replication.factor must be >= 1")
	case c.OffsetsTopicSegmentBytes < minSegmentBytes:
		// Kafka takes any positive size; a topic's segment.bytes here
		// must be at least minSegmentBytes, so a smaller one would fail
		// every coordinator lookup rather than the start.
		return fmt.Errorf("offsets.topic.segment.bytes must be >= %d", minSegmentBytes)
	case c.LogMessageTimestampTyp != "CreateTime" && c.LogMessageTimestampTyp != "LogAppendTime":
		return fmt.Errorf("log.message.timestamp.type must be CreateTime or LogAppendTime")
	// Kafka's validators for the rest (node.id as KRaft has it).
	case c.NodeID < 0:
		return fmt.Errorf("node.id must be >= 0")
	case c.LogRetentionMs == 0:
		// As Kafka: never is -1, and 0, often meant as never, would
		// delete every record at each check.
		return fmt.Errorf("log.retention.ms must be unlimited (-1) or >= 1")
	case c.LogRollMs < 1:
		return fmt.Errorf("log.roll.ms must be >= 1")
	case c.LogRollJitterMs < 0:
		return fmt.Errorf("log.roll.jitter.ms must be >= 0")
	case c.LogInitialTaskDelayMs < 0:
		return fmt.Errorf("log.initial.task.delay.ms must be >= 0")
	case c.LogRetentionCheckMs < 1:
		return fmt.Errorf("log.retention.check.interval.ms must be >= 1")
	case c.LogIndexIntervalBytes < 0:
		return fmt.Errorf("log.index.interval.bytes must be >= 0")
	case c.GroupMaxSize < 1:
		return fmt.Errorf("group.max.size must be >= 1")
	case c.QuotaWindowNum < 1:
		return fmt.Errorf("quota.window.num must be >= 1")
	case c.QuotaWindowSizeSeconds < 1:
		return fmt.Errorf("quota.window.size.seconds must be >= 1")
	case c.GroupInitialRebalanceDelayMs < 0:
		return fmt.Errorf("group.initial.rebalance.delay.ms must be >= 0")
	case c.OffsetsRetentionMinutes < 1:
		return fmt.Errorf("offsets.retention.minutes must be >= 1")
	case c.OffsetsRetentionCheckMs < 1:
		return fmt.Errorf("offsets.retention.check.interval.ms must be >= 1")
	case c.MaxConnectionsPerIP < 0:
		return fmt.Errorf("max.connections.per.ip must be >= 0")
	case c.MaxConnectionsPerIP == 0 && strings.TrimSpace(c.MaxConnsPerIPOverrides) == "":
		return fmt.Errorf("max.connections.per.ip can be 0 only with max.connections.per.ip.overrides set")
	case c.MaxConnections < 1:
		return fmt.Errorf("max.connections must be >= 1")
	case c.ConnectionsMaxIdleMs >= 0 && c.ConnectionsMaxIdleMs <= kafkaFailedAuthDelayMs:
		// As Kafka, which refuses a connections.max.idle.ms not past
		// failed.authentication.delay.ms (100): 0 was served as the
		// 10-minute default, not as what it says.
		return fmt.Errorf("connections.max.idle.ms must be -1 (never close) or more than %d (Kafka's failed.authentication.delay.ms)", kafkaFailedAuthDelayMs)
	}
	if _, err := parseConnOverrides(c.MaxConnsPerIPOverrides, nil); err != nil {
		return fmt.Errorf("max.connections.per.ip.overrides: %v", err)
	}
	if err := checkCleanupPolicy(c.LogCleanupPolicy); err != nil {
		return fmt.Errorf("log.cleanup.policy: %v", err)
	}
	// The compression defaults take what their topic keys take.
	for _, key := range []string{"compression.type", "compression.gzip.level", "compression.lz4.level", "compression.zstd.level"} {
		v, _ := c.Get(key)
		if err := topicConfigDefFor(key).check(v); err != nil {
			return fmt.Errorf("%s: %v", key, err)
		}
	}
	return nil
}

// kafkaFailedAuthDelayMs is Kafka's failed.authentication.delay.ms
// default, which connections.max.idle.ms must exceed.
const kafkaFailedAuthDelayMs = 100

// parseConnOverrides reads max.connections.per.ip.overrides: host:count
// pairs, comma-separated, a host being an IP or a name (an IPv6 address may
// stand in brackets). With lookup set, names are resolved and each of
// their addresses gets the count; the keys are IPs as net.IP.String writes
// them.
func parseConnOverrides(v string, lookup func(host string) ([]net.IP, error)) (map[string]int, error) {
	out := map[string]int{}
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		i := strings.LastIndexByte(item, ':')
		if i <= 0 {
			return nil, fmt.Errorf("%q is not host:count", item)
		}
		host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(item[:i]), "["), "]")
		n, err := strconv.ParseInt(strings.TrimSpace(item[i+1:]), 10, 32)
		if err != nil || n < 0 || host == "" {
			return nil, fmt.Errorf("%q is not host:count with a count >= 0", item)
		}
		if ip := net.ParseIP(host); ip != nil {
			out[ip.String()] = int(n)
			continue
		}
		if lookup == nil {
			continue
		}
		ips, err := lookup(host)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", host, err)
		}
		for _, ip := range ips {
			out[ip.String()] = int(n)
		}
	}
	return out, nil
}

// connLimit returns the protocol server's per-address connection limit,
// nil when nothing is bounded.
func (c *Config) connLimit() (func(ip string) int, error) {
	return connLimitOf(int64(c.MaxConnectionsPerIP), c.MaxConnsPerIPOverrides, net.LookupIP)
}

// connLimitOf is the per-address limit of max.connections.per.ip perIP and
// its overrides, nil when nothing is bounded; lookup resolves the host
// names among the overrides.
func connLimitOf(perIP int64, overridesValue string, lookup func(host string) ([]net.IP, error)) (func(ip string) int, error) {
	overrides, err := parseConnOverrides(overridesValue, lookup)
	if err != nil {
		return nil, fmt.Errorf("max.connections.per.ip.overrides: %v", err)
	}
	if perIP >= math.MaxInt32 && len(overrides) == 0 {
		return nil, nil
	}
	def := int(perIP)
	if perIP >= math.MaxInt32 {
		def = -1
	}
	return func(ip string) int {
		if n, ok := overrides[ip]; ok {
			return n
		}
		return def
	}, nil
}

// maxConns is max.connections for the protocol server: 0 for none.
func (c *Config) maxConns() int {
	if c.MaxConnections == math.MaxInt32 {
		return 0
	}
	return int(c.MaxConnections)
}

// queuedMaxBytes is protocol.Config.MaxQueuedBytes: as in Kafka, 0 and
// below bound nothing.
func (c *Config) queuedMaxBytes() int64 {
	if c.QueuedMaxRequestBytes <= 0 {
		return -1
	}
	return c.QueuedMaxRequestBytes
}

func (c *Config) idleTimeout() time.Duration {
	return durationOf(c.ConnectionsMaxIdleMs, time.Millisecond)
}

// sortedKeys returns the Kafka names of every option.
func sortedKeys() []string {
	var ks []string
	for _, o := range Options() {
		ks = append(ks, o.Key)
	}
	sort.Strings(ks)
	return ks
}
