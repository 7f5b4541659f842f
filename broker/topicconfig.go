package broker

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// topicConfigDef is one topic-level configuration key: its type (as
// DescribeConfigs v3+ reports it), the broker key that supplies its default,
// and how a value is checked.
type topicConfigDef struct {
	name      string
	typ       kmsg.ConfigType
	brokerKey string // synonym at broker level, "" when none
	// kafkaKey names, where brokerKey is "", the broker key Kafka would
	// report as the default's synonym (DescribeConfigs): a key this broker
	// does not read, the default being fixed. With neither, Kafka has no
	// broker key for it and lists no synonym.
	kafkaKey string
	def      func(c *Config) string // default when the broker has no key for it
	check    func(v string) error
	doc      string
	// internal keys are accepted but never listed (DescribeConfigs,
	// CreateTopics' answer), as Kafka's internal topic configs.
	internal bool
}

func checkLong(min int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("not a number")
		}
		if n < min {
			return fmt.Errorf("must be >= %d", min)
		}
		return nil
	}
}

func checkInt(min int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return fmt.Errorf("not an int")
		}
		if n < min {
			return fmt.Errorf("must be >= %d", min)
		}
		return nil
	}
}

// checkEnum accepts exactly one of vals, as Kafka's ValidString: case
// matters, and the broker reads the value as written (a codec's name, the
// timestamp type), so "GZIP" or "gzip,lz4" accepted would be stored and
// then mean something else.
func checkEnum(vals ...string) func(string) error {
	return func(v string) error {
		if !slices.Contains(vals, v) {
			return fmt.Errorf("must be one of %s", strings.Join(vals, ", "))
		}
		return nil
	}
}

// checkList accepts a comma-separated list of vals (spaces around an
// element are dropped, as Kafka parses a LIST), as Kafka's ValidList.
// checkCleanupPolicy is cleanup.policy's check: delete, compact, both, or,
// as Kafka 4.2 allows (KAFKA-19112), none at all: a topic that keeps every
// record, its start moved only by DeleteRecords.
func checkCleanupPolicy(v string) error {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	return checkList("delete", "compact")(v)
}

func checkList(vals ...string) func(string) error {
	return func(v string) error {
		for _, e := range strings.Split(v, ",") {
			if !slices.Contains(vals, strings.TrimSpace(e)) {
				return fmt.Errorf("must be a comma-separated list of %s", strings.Join(vals, ", "))
			}
		}
		return nil
	}
}

// listHas reports whether the LIST value v holds x.
func listHas(v, x string) bool {
	for _, e := range strings.Split(v, ",") {
		if strings.TrimSpace(e) == x {
			return true
		}
	}
	return false
}

// checkIntIn accepts an int in [lo, hi], or one of also.
func checkIntIn(lo, hi int64, also ...int64) func(string) error {
	return func(v string) error {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return fmt.Errorf("not an int")
		}
		if slices.Contains(also, n) || n >= lo && n <= hi {
			return nil
		}
		return fmt.Errorf("must be in [%d, %d]", lo, hi)
	}
}

// checkThrottledReplicas accepts what Kafka's replication throttles take:
// empty, "*", or partition:broker pairs separated by commas.
func checkThrottledReplicas(v string) error {
	if v = strings.TrimSpace(v); v == "" || v == "*" {
		return nil
	}
	for _, pair := range strings.Split(v, ",") {
		p, b, ok := strings.Cut(strings.TrimSpace(pair), ":")
		if _, err := strconv.ParseUint(p, 10, 31); !ok || err != nil {
			return fmt.Errorf("must be *, or [partition]:[broker] pairs separated by commas")
		}
		if _, err := strconv.ParseUint(b, 10, 31); err != nil {
			return fmt.Errorf("must be *, or [partition]:[broker] pairs separated by commas")
		}
	}
	return nil
}

// checkNoTieredStorage refuses remote.storage.enable=true, as Kafka does on
// a broker without tiered storage.
func checkNoTieredStorage(v string) error {
	if err := checkBool(v); err != nil {
		return err
	}
	if strings.EqualFold(v, "true") {
		return fmt.Errorf("tiered storage is not available on this broker")
	}
	return nil
}

// messageFormatVersion matches the versions Kafka 3.x takes for
// message.format.version: a release from 0.8.0 to 3.9, with or without an
// internal version suffix ("0.10.0-IV1", "2.8", "3.0-IV1").
var messageFormatVersion = regexp.MustCompile(`^(0\.(8\.[0-2]|9\.0|10\.[0-2]|11\.0)|1\.[01]|2\.[0-8]|3\.[0-9])(-IV[0-4])?$`)

// checkMessageFormatVersion reads v as Kafka 3.x's MetadataVersion does:
// by its first three dot-separated parts for a 0.x release, two otherwise
// (so "0.10.0.1" is 0.10.0 and "3.0.5" is 3.0).
func checkMessageFormatVersion(v string) error {
	key, n := v, 2
	if strings.HasPrefix(v, "0.") {
		n = 3
	}
	if parts := strings.Split(v, "."); len(parts) > n {
		key = strings.Join(parts[:n], ".")
	}
	if !messageFormatVersion.MatchString(key) {
		return fmt.Errorf("not a Kafka message format version (0.8.0 to 3.9, e.g. 2.8 or 3.0-IV1)")
	}
	return nil
}

// checkBool accepts true or false in any case, as Kafka's BOOLEAN (not
// Go's 1, t or F).
func checkBool(v string) error {
	if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
		return fmt.Errorf("not a boolean: expected true or false")
	}
	return nil
}

// checkDoubleIn accepts a number in [lo, hi] (NaN is not one).
func checkDoubleIn(lo, hi float64) func(string) error {
	return func(v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("not a number")
		}
		if !(f >= lo && f <= hi) {
			return fmt.Errorf("must be in [%g, %g]", lo, hi)
		}
		return nil
	}
}

func constDef(v string) func(*Config) string { return func(*Config) string { return v } }

func brokerDef(key string) func(*Config) string {
	return func(c *Config) string { v, _ := c.Get(key); return v }
}

// topicConfigs are the topic-level keys Kafka defines. All are accepted and
// reported; the ones marked in docs/architecture.md as stored-only (such as
// compaction) are kept for tools but not acted on yet.
var topicConfigs = []topicConfigDef{
	{name: "cleanup.policy", brokerKey: "log.cleanup.policy", typ: kmsg.ConfigTypeList, check: checkCleanupPolicy, doc: "delete, compact, both, or neither (empty: every record is kept); compaction is stored, not yet performed"},
	{name: "compression.gzip.level", typ: kmsg.ConfigTypeInt, brokerKey: "compression.gzip.level", check: checkIntIn(1, 9, -1), doc: "the gzip level of batches recompressed into gzip (compression.type=gzip); -1: gzip's default, 6"},
	{name: "compression.lz4.level", typ: kmsg.ConfigTypeInt, brokerKey: "compression.lz4.level", check: checkIntIn(1, 17), doc: "the lz4 level of batches recompressed into lz4: 9 is lz4's fast compressor, as in Kafka, others its high-compression levels (above 9 compresses as 9)"},
	{name: "compression.type", typ: kmsg.ConfigTypeString, brokerKey: "compression.type", check: checkEnum("producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"), doc: "the codec a batch is stored in: producer keeps the producer's, a codec's name recompresses the others into it"},
	{name: "compression.zstd.level", typ: kmsg.ConfigTypeInt, brokerKey: "compression.zstd.level", check: checkIntIn(-131072, 22), doc: "the zstd level of batches recompressed into zstd, rounded to the zstd library's four speeds"},
	{name: "delete.retention.ms", kafkaKey: "log.cleaner.delete.retention.ms", typ: kmsg.ConfigTypeLong, def: constDef("86400000"), check: checkLong(0), doc: "how long a compacted topic keeps delete markers (stored: compaction is not performed yet)"},
	{name: "file.delete.delay.ms", kafkaKey: "log.segment.delete.delay.ms", typ: kmsg.ConfigTypeLong, def: constDef("60000"), check: checkLong(0), doc: "how long a segment waits before its files are removed after retention deleted it (stored: removed at once)"},
	{name: "flush.messages", kafkaKey: "log.flush.interval.messages", typ: kmsg.ConfigTypeLong, def: constDef("9223372036854775807"), check: checkLong(1), doc: "fsync after this many messages (stored: every raft batch is synced before it is acknowledged)"},
	{name: "flush.ms", typ: kmsg.ConfigTypeLong, def: constDef("9223372036854775807"), check: checkLong(0), doc: "fsync at least this often (stored: every raft batch is synced before it is acknowledged)"},
	{name: "follower.replication.throttled.replicas", typ: kmsg.ConfigTypeList, def: constDef(""), check: checkThrottledReplicas, doc: "stored: replication is not throttled"},
	{name: "index.interval.bytes", typ: kmsg.ConfigTypeInt, brokerKey: "log.index.interval.bytes", check: checkInt(0)},
	{name: "leader.replication.throttled.replicas", typ: kmsg.ConfigTypeList, def: constDef(""), check: checkThrottledReplicas, doc: "stored: replication is not throttled"},
	{name: "local.retention.bytes", kafkaKey: "log.local.retention.bytes", typ: kmsg.ConfigTypeLong, def: constDef("-2"), check: checkLong(-2), doc: "stored: with no tiered storage, retention.bytes applies"},
	{name: "local.retention.ms", kafkaKey: "log.local.retention.ms", typ: kmsg.ConfigTypeLong, def: constDef("-2"), check: checkLong(-2), doc: "stored: with no tiered storage, retention.ms applies"},
	{name: "max.compaction.lag.ms", kafkaKey: "log.cleaner.max.compaction.lag.ms", typ: kmsg.ConfigTypeLong, def: constDef("9223372036854775807"), check: checkLong(1), doc: "the longest a record stays uncompacted (stored: compaction is not performed yet)"},
	{name: "max.message.bytes", typ: kmsg.ConfigTypeInt, brokerKey: "message.max.bytes", check: checkInt(0)},
	// Kafka 3.x's keys for the old message formats (gone in 4.0), kept
	// because this broker still serves the requests that use them.
	{name: "message.downconversion.enable", kafkaKey: "log.message.downconversion.enable", typ: kmsg.ConfigTypeBoolean, def: constDef("true"), check: checkBool, doc: "false: fetch v0-v3 (consumers that want magic 0 or 1 messages) gets UNSUPPORTED_VERSION for the topic instead of converted messages"},
	{name: "message.format.version", kafkaKey: "log.message.format.version", typ: kmsg.ConfigTypeString, def: constDef("3.0-IV1"), check: checkMessageFormatVersion, doc: "stored: as in Kafka 3.x, every batch is written in the v2 format whatever this says"},
	{name: "message.timestamp.after.max.ms", typ: kmsg.ConfigTypeLong, brokerKey: "log.message.timestamp.after.max.ms", check: checkLong(0)},
	{name: "message.timestamp.before.max.ms", typ: kmsg.ConfigTypeLong, brokerKey: "log.message.timestamp.before.max.ms", check: checkLong(0)},
	{name: "message.timestamp.difference.max.ms", brokerKey: "log.message.timestamp.difference.max.ms", typ: kmsg.ConfigTypeLong, check: checkLong(0), doc: "Kafka 3.x's bound on how far a CreateTime timestamp may be from the broker's clock, for each side whose before/after key is set nowhere"},
	{name: "message.timestamp.type", typ: kmsg.ConfigTypeString, brokerKey: "log.message.timestamp.type", check: checkEnum("CreateTime", "LogAppendTime")},
	{name: "min.cleanable.dirty.ratio", kafkaKey: "log.cleaner.min.cleanable.ratio", typ: kmsg.ConfigTypeDouble, def: constDef("0.5"), check: checkDoubleIn(0, 1), doc: "the share of a log left uncompacted before compaction runs (stored: compaction is not performed yet)"},
	{name: "min.compaction.lag.ms", kafkaKey: "log.cleaner.min.compaction.lag.ms", typ: kmsg.ConfigTypeLong, def: constDef("0"), check: checkLong(0), doc: "the least time a record stays uncompacted (stored: compaction is not performed yet)"},
	{name: "min.insync.replicas", typ: kmsg.ConfigTypeInt, brokerKey: "min.insync.replicas", check: checkInt(1)},
	{name: "preallocate", kafkaKey: "log.preallocate", typ: kmsg.ConfigTypeBoolean, def: constDef("false"), check: checkBool, doc: "preallocate segment files (stored: the active segment's space is always prepared ahead of its writes)"},
	{name: "remote.log.copy.disable", typ: kmsg.ConfigTypeBoolean, def: constDef("false"), check: checkBool, doc: "stored: no tiered storage"},
	{name: "remote.log.delete.on.disable", typ: kmsg.ConfigTypeBoolean, def: constDef("false"), check: checkBool, doc: "stored: no tiered storage"},
	{name: "remote.storage.enable", typ: kmsg.ConfigTypeBoolean, def: constDef("false"), check: checkNoTieredStorage, doc: "no tiered storage: only false"},
	// Any long, as Kafka defines it (no validator): every negative value
	// means no size limit, to retention as to Kafka's.
	{name: "retention.bytes", typ: kmsg.ConfigTypeLong, brokerKey: "log.retention.bytes", check: checkLong(math.MinInt64)},
	{name: "retention.ms", typ: kmsg.ConfigTypeLong, brokerKey: "log.retention.ms", check: checkLong(-1)},
	// Kafka 4.0's floor: a segment per batch would hold a file handle per
	// batch. Tests that want tiny segments use internal.segment.bytes.
	{name: "segment.bytes", typ: kmsg.ConfigTypeInt, brokerKey: "log.segment.bytes", check: checkInt(minSegmentBytes)},
	{name: "internal.segment.bytes", typ: kmsg.ConfigTypeInt, def: constDef(""), check: checkInt(14), internal: true, doc: "overrides segment.bytes, below its floor (for tests)"},
	{name: "segment.index.bytes", typ: kmsg.ConfigTypeInt, brokerKey: "log.index.size.max.bytes", check: checkInt(minSegmentIndexBytes)}, // Kafka 5.0's floor (KIP-1030): 4 bytes would roll a segment per batch
	{name: "segment.jitter.ms", typ: kmsg.ConfigTypeLong, brokerKey: "log.roll.jitter.ms", check: checkLong(0)},
	{name: "segment.ms", typ: kmsg.ConfigTypeLong, brokerKey: "log.roll.ms", check: checkLong(1)},
	{name: "unclean.leader.election.enable", kafkaKey: "unclean.leader.election.enable", typ: kmsg.ConfigTypeBoolean, def: constDef("false"), check: checkBool, doc: "let a replica that is not in sync become leader (stored: raft elects only up-to-date replicas)"},
}

// minSegmentBytes is the least segment.bytes and log.segment.bytes (1 MiB).
const minSegmentBytes = 1 << 20

// minSegmentIndexBytes is the least segment.index.bytes and
// log.index.size.max.bytes.
const minSegmentIndexBytes = 1024

func topicConfigDefFor(name string) *topicConfigDef {
	for i := range topicConfigs {
		if topicConfigs[i].name == name {
			return &topicConfigs[i]
		}
	}
	return nil
}

// topicDefault is the value a topic has for d when it sets nothing, in
// the cluster state st, and where that comes from: the broker key in
// force, or the fixed default.
func (b *Broker) topicDefault(st *replication.State, d *topicConfigDef) (string, kmsg.ConfigSource) {
	if d.brokerKey != "" {
		l := b.brokerSettings(st, d.brokerKey)[0]
		return l.value, l.source
	}
	return d.def(&b.cfg), kmsg.ConfigSourceDefaultConfig
}

// validateTopicConfig checks one key=value for a topic.
func validateTopicConfig(name string, value *string) error {
	d := topicConfigDefFor(name)
	if d == nil {
		return fmt.Errorf("Unknown topic config name: %s", name) // Kafka's words
	}
	if value == nil {
		return nil
	}
	*value = normalizeValue(d.typ, *value)
	if err := d.check(*value); err != nil {
		return fmt.Errorf("Invalid value %s for configuration %s: %v", *value, name, err) // Kafka's words
	}
	return nil
}

// checkTopicConfigSet checks what no single key can, on a topic's whole
// set of keys (the others at their defaults), as Kafka's LogConfig
// validates the values together: min.compaction.lag.ms may not pass
// max.compaction.lag.ms.
func (b *Broker) checkTopicConfigSet(st *replication.State, configs map[string]*string) error {
	t := &replication.Topic{Configs: map[string]string{}}
	for k, v := range configs {
		if v != nil {
			t.Configs[k] = *v
		}
	}
	minLag, maxLag := b.topicInt64In(st, t, "min.compaction.lag.ms"), b.topicInt64In(st, t, "max.compaction.lag.ms")
	if minLag > maxLag {
		return kafkaErrorf(kerr.InvalidConfig, "conflict topic config setting min.compaction.lag.ms (%d) > max.compaction.lag.ms (%d)", minLag, maxLag)
	}
	return nil
}

// normalizeValue returns v as Kafka reads a value of type typ, and so as
// it is kept and described: without the spaces around it (and around a
// list's elements), a boolean in lower case, a whole number in its plain
// form ("+0100" is 100). What does not parse comes back trimmed, for the
// check to refuse.
func normalizeValue(typ kmsg.ConfigType, v string) string {
	v = strings.TrimSpace(v)
	switch typ {
	case kmsg.ConfigTypeBoolean:
		return strings.ToLower(v)
	case kmsg.ConfigTypeShort, kmsg.ConfigTypeInt, kmsg.ConfigTypeLong:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return strconv.FormatInt(n, 10)
		}
	case kmsg.ConfigTypeList:
		elems := strings.Split(v, ",")
		for i, e := range elems {
			elems[i] = strings.TrimSpace(e)
		}
		return strings.Join(elems, ",")
	}
	return v
}

// topicKeySet says whether a topic's key is set anywhere: on the topic, or
// (dynamically, in a file or a flag) as the broker key behind it.
func (b *Broker) topicKeySet(t *replication.Topic, name string) bool {
	if _, ok := t.Configs[name]; ok {
		return true
	}
	d := topicConfigDefFor(name)
	if d == nil {
		return false
	}
	_, src := b.topicDefault(b.node.Controller().State(), d)
	return src != kmsg.ConfigSourceDefaultConfig
}

// topicValue returns a topic's effective value for a key.
func (b *Broker) topicValue(t *replication.Topic, name string) string {
	return b.topicValueIn(b.node.Controller().State(), t, name)
}

// topicValueIn is topicValue in the cluster state st.
func (b *Broker) topicValueIn(st *replication.State, t *replication.Topic, name string) string {
	if v, ok := t.Configs[name]; ok {
		return v
	}
	if d := topicConfigDefFor(name); d != nil {
		if d.brokerKey != "" {
			return b.brokerValue(st, d.brokerKey)
		}
		return d.def(&b.cfg)
	}
	return ""
}

func (b *Broker) topicInt64(t *replication.Topic, name string) int64 {
	return b.topicInt64In(b.node.Controller().State(), t, name)
}

func (b *Broker) topicInt64In(st *replication.State, t *replication.Topic, name string) int64 {
	n, _ := strconv.ParseInt(b.topicValueIn(st, t, name), 10, 64)
	return n
}
