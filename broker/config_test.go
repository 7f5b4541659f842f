package broker

import (
	"github.com/gokafka/gokafka/internal/testpki"
	"math"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/protocol"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestConfigPropertiesAndFlags(t *testing.T) {
	c := DefaultConfig()
	props := `
# a comment
! another
node.id=3
listeners=PLAINTEXT://127.0.0.1:29092
advertised.listeners : PLAINTEXT://broker3.example:29092
log.dirs = /var/lib/gokafka
num.partitions=6
auto.create.topics.enable=false
log.retention.ms=-1
`
	if err := c.LoadProperties(strings.NewReader(props)); err != nil {
		t.Fatal(err)
	}
	ls, _, err := c.ClientListeners()
	if err != nil || len(ls) != 1 || ls[0] != (Listener{"PLAINTEXT", "127.0.0.1:29092", "broker3.example:29092", "PLAINTEXT"}) {
		t.Fatalf("listeners %+v: %v", ls, err)
	}
	if c.NodeID != 3 ||
		c.DataDir != "/var/lib/gokafka" || c.NumPartitions != 6 || c.AutoCreateTopics || c.LogRetentionMs != -1 {
		t.Fatalf("properties not applied: %+v", c)
	}
	// Flags use the same keys or their flag names.
	if err := c.Set("num-partitions", "2"); err != nil || c.NumPartitions != 2 {
		t.Fatalf("flag name: %v %d", err, c.NumPartitions)
	}
	// A value that does not parse is told as Kafka tells it (ConfigException),
	// as the Kafka-only keys are (checkKafkaOnlyValue).
	for key, want := range map[string]string{
		"node.id":                   `Invalid value abc for configuration node.id: Not a number of type INT`,
		"log.segment.bytes":         `Invalid value abc for configuration log.segment.bytes: Not a number of type INT`,
		"auto.create.topics.enable": `Invalid value abc for configuration auto.create.topics.enable: Expected value to be either true or false`,
		// Kafka's INT, held in an int16.
		"default.replication.factor": `Invalid value abc for configuration default.replication.factor: Not a number of type INT`,
	} {
		d := DefaultConfig()
		if err := d.Set(key, "abc"); err == nil || err.Error() != want {
			t.Errorf("%s=abc: %v, want %s", key, err, want)
		}
	}
	// Booleans as Kafka takes them: true or false, in any case.
	bc := DefaultConfig()
	if err := bc.Set("auto.create.topics.enable", "FALSE"); err != nil || bc.AutoCreateTopics {
		t.Errorf("auto.create.topics.enable=FALSE: %v, set %v", err, bc.AutoCreateTopics)
	}
	for _, v := range []string{"1", "t", "yes"} {
		if err := bc.Set("auto.create.topics.enable", v); err == nil {
			t.Errorf("auto.create.topics.enable=%s accepted", v)
		}
	}
	for _, bad := range []string{"no.such.key=1", "node.id=abc", "listeners=SSL://x:1", "num.partitions=99999999999", "just a line", "raft.listen="} {
		d := DefaultConfig()
		err := d.LoadProperties(strings.NewReader(bad))
		if err == nil {
			err = d.Validate()
		}
		if err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	v := DefaultConfig()
	v.LogMessageTimestampTyp = "Sometimes"
	if v.Validate() == nil {
		t.Error("bad timestamp type validated")
	}
	for _, bad := range []string{"compression.type=brotli", "compression.gzip.level=10", "compression.lz4.level=0", "compression.zstd.level=23", "log.dirs=/data/a,/data/b",
		// Kafka's validators: a zero interval panicked a ticker.
		"offsets.retention.check.interval.ms=0", "log.retention.check.interval.ms=0", "node.id=-1", "group.max.size=0",
		"log.index.interval.bytes=-1", "log.roll.ms=0", "log.retention.ms=0", "log.retention.minutes=0", "log.retention.hours=0", "log.roll.hours=-1", "offsets.retention.minutes=0", "group.initial.rebalance.delay.ms=-1"} {
		d := DefaultConfig()
		if err := d.LoadProperties(strings.NewReader(bad)); err != nil {
			t.Fatalf("%q: %v", bad, err)
		}
		if d.Validate() == nil {
			t.Errorf("%q validated", bad)
		}
	}
	d := DefaultConfig()
	if err := d.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	// Every option can be read back under its key.
	for _, o := range Options() {
		if _, ok := c.Get(o.Key); !ok {
			t.Errorf("option %s cannot be read back", o.Key)
		}
	}
}

func TestConfigIsDefault(t *testing.T) {
	c := DefaultConfig()
	c.LogRetentionBytes = 5000                                       // set in code, as a program embedding the broker does
	if err := c.Set("log.segment.bytes", "1073741824"); err != nil { // set to its default value
		t.Fatal(err)
	}
	for key, want := range map[string]bool{
		"log.roll.ms":         true,
		"log.retention.bytes": false,
		"log.segment.bytes":   false,
		"no.such.key":         false,
	} {
		if got := c.IsDefault(key); got != want {
			t.Errorf("IsDefault(%s) = %v, want %v", key, got, want)
		}
	}
}

func TestConfigTimeUnits(t *testing.T) {
	// Kafka's hours and minutes spellings, and its precedence: ms, then
	// minutes, then hours, whatever order a file gives them in.
	for _, tc := range []struct {
		props               string
		retentionMs, rollMs int64
	}{
		{"log.retention.hours=24\nlog.roll.hours=1", 24 * 3600_000, 3600_000},
		{"log.retention.ms=5000\nlog.retention.hours=24", 5000, 7 * 24 * 3600_000},
		{"log.retention.hours=24\nlog.retention.ms=5000", 5000, 7 * 24 * 3600_000},
		{"log.retention.minutes=30\nlog.retention.hours=24", 30 * 60_000, 7 * 24 * 3600_000},
		{"log.retention.hours=24\nlog.retention.minutes=30", 30 * 60_000, 7 * 24 * 3600_000},
		{"log.retention.hours=-1\nlog.roll.ms=60000\nlog.roll.hours=2", -1, 60000},
		// As Kafka's logRetentionTimeMillis: any negative ms is
		// unlimited, -1, which topics then get as retention.ms (a -2
		// there is outside retention.ms's own range).
		{"log.retention.ms=-2", -1, 7 * 24 * 3600_000},
		{"log.retention.minutes=30\nlog.retention.ms=-100", -1, 7 * 24 * 3600_000},
	} {
		c := DefaultConfig()
		if err := c.LoadProperties(strings.NewReader(tc.props)); err != nil {
			t.Fatalf("%q: %v", tc.props, err)
		}
		if c.LogRetentionMs != tc.retentionMs || c.LogRollMs != tc.rollMs {
			t.Errorf("%q: retention %d roll %d, want %d %d", tc.props, c.LogRetentionMs, c.LogRollMs, tc.retentionMs, tc.rollMs)
		}
	}
	c := DefaultConfig()
	if v, _ := c.Get("log.retention.hours"); v != "168" || !c.IsDefault("log.retention.hours") {
		t.Errorf("default log.retention.hours %q", v)
	}
	// Each key reads back as given, as Kafka's DescribeConfigs reports
	// it, whichever wins: hours given as 10 is 10, not the 1 that
	// log.retention.ms's hour would be; a key not given is its default.
	c = DefaultConfig()
	if err := c.LoadProperties(strings.NewReader("log.retention.hours=10\nlog.retention.ms=3600000")); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"log.retention.hours": "10", "log.retention.ms": "3600000", "log.retention.minutes": "10080", "log.roll.hours": "168"} {
		if v, _ := c.Get(key); v != want {
			t.Errorf("%s = %q, want %q", key, v, want)
		}
	}
	if c.LogRetentionMs != 3600000 || c.IsDefault("log.retention.hours") || !c.IsDefault("log.retention.minutes") {
		t.Errorf("retention %d ms; hours default %v, minutes default %v", c.LogRetentionMs, c.IsDefault("log.retention.hours"), c.IsDefault("log.retention.minutes"))
	}
}

func TestConfigKafkaServerProperties(t *testing.T) {
	// The body of Kafka 4's config/server.properties: the keys that mean
	// nothing here are skipped and listed, the rest apply.
	props := `
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:9093
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
inter.broker.listener.name=PLAINTEXT
advertised.listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600
log.dirs=/tmp/kraft-combined-logs
num.partitions=1
num.recovery.threads.per.data.dir=1
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
log.retention.hours=168
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
`
	c := DefaultConfig()
	if err := c.LoadProperties(strings.NewReader(props)); err != nil {
		t.Fatal(err)
	}
	// The CONTROLLER listener is a KRaft controller's (controller.listener.names),
	// which raft.listen stands in for: not a client listener left unserved.
	ls, notServed, err := c.ClientListeners()
	if err != nil || len(ls) != 1 || ls[0] != (Listener{"PLAINTEXT", ":9092", "localhost:9092", "PLAINTEXT"}) || len(notServed) != 0 {
		t.Errorf("listeners %+v, not served %q: %v", ls, notServed, err)
	}
	if c.DataDir != "/tmp/kraft-combined-logs" || c.OffsetsTopicReplicationFactor != 1 {
		t.Errorf("applied: dir %q offsets rf %d", c.DataDir, c.OffsetsTopicReplicationFactor)
	}
	if len(c.Ignored) != 12 || slices.Contains(c.Ignored, "controller.listener.names") || slices.Contains(c.Ignored, "listener.security.protocol.map") || c.Ignored[0] != "process.roles" {
		t.Errorf("ignored %v", c.Ignored)
	}
	// Kafka 4 keys of the new group protocol mean nothing here either.
	k4 := DefaultConfig()
	if err := k4.LoadProperties(strings.NewReader("group.coordinator.rebalance.protocols=classic,consumer\n")); err != nil || len(k4.Ignored) != 1 {
		t.Errorf("group.coordinator.rebalance.protocols: %v, ignored %v", err, k4.Ignored)
	}
	// Skipped, but checked as Kafka checks them: a value not of the key's
	// type fails the start, with Kafka's message.
	for _, kv := range []string{"num.network.threads=abc", "socket.send.buffer.bytes=1k", "log.cleaner.enable=yes",
		"transaction.state.log.replication.factor=one", "log.cleaner.min.cleanable.ratio=half"} {
		bad := DefaultConfig()
		if err := bad.LoadProperties(strings.NewReader(kv)); err == nil || !strings.Contains(err.Error(), "Invalid value") {
			t.Errorf("%s: %v, want Kafka's Invalid value", kv, err)
		}
	}
	good := DefaultConfig()
	if err := good.LoadProperties(strings.NewReader("num.io.threads=8\nlog.cleaner.enable=TRUE\nlog.cleaner.min.cleanable.ratio=0.5\nlog.cleaner.dedupe.buffer.size=4294967296\ninter.broker.protocol.version=3.7\n")); err != nil {
		t.Errorf("well-typed skipped keys: %v", err)
	}
	// Security settings are not skipped: serving in the clear instead would be wrong.
	for _, kv := range []string{"sasl.kerberos.service.name=kafka", "ssl.engine.factory.class=com.example.Factory", "ssl.keystore.alias=broker"} {
		sec := DefaultConfig()
		if err := sec.LoadProperties(strings.NewReader(kv)); err == nil {
			t.Errorf("%s accepted", kv)
		}
	}
	// Kafka's other names for node.id and log.dirs; the proper key wins.
	d := DefaultConfig()
	if err := d.LoadProperties(strings.NewReader("broker.id=7\nlog.dir=/a\nlog.dirs=/b")); err != nil || d.NodeID != 7 || d.DataDir != "/b" {
		t.Errorf("aliases: %v node %d dir %q", err, d.NodeID, d.DataDir)
	}
	if err := d.LoadProperties(strings.NewReader("node.id=8\nbroker.id=9")); err != nil || d.NodeID != 8 {
		t.Errorf("node.id then broker.id: %v node %d", err, d.NodeID)
	}
	// As Kafka, the two names must agree when both are given.
	if err := d.Validate(); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("broker.id=9 with node.id=8: %v, want them refused", err)
	}
	same := DefaultConfig()
	if err := same.LoadProperties(strings.NewReader("broker.id=8\nnode.id=8")); err != nil || same.Validate() != nil {
		t.Errorf("broker.id=8 with node.id=8: %v %v", err, same.Validate())
	}
}

// Listener names mean what listener.security.protocol.map and
// controller.listener.names say, as in Kafka: every name mapped to
// PLAINTEXT is served, with the address advertised.listeners gives under
// its name, a controller listener is left to raft, and the client
// listeners of other protocols are named to be warned about. SSL and
// SASL_SSL listeners are served too, and need a key store.
func TestConfigListenerNames(t *testing.T) {
	keystore := "\nssl.keystore.type=PEM\nssl.keystore.location=" + testpki.New(t).KeyStore()
	const dockerMap = "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT\ncontroller.listener.names=CONTROLLER\n"
	for _, c := range []struct {
		props     string
		served    []Listener
		notServed []string
		err       string
	}{
		{props: "listeners=INTERNAL://127.0.0.1:9092\nlistener.security.protocol.map=INTERNAL:PLAINTEXT", served: []Listener{{"INTERNAL", "127.0.0.1:9092", "", "PLAINTEXT"}}},
		{props: "listener.security.protocol.map=INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT\ncontroller.listener.names=CONTROLLER\nlisteners=CONTROLLER://:9093,INTERNAL://:9092", served: []Listener{{"INTERNAL", ":9092", "", "PLAINTEXT"}}},
		// The docker images' pattern: one listener for the containers'
		// network, one for the host, each advertised under its name, in
		// any order.
		{props: dockerMap + "listeners=PLAINTEXT://kafka:29092,CONTROLLER://kafka:29093,PLAINTEXT_HOST://0.0.0.0:9092\nadvertised.listeners=PLAINTEXT_HOST://localhost:9092,PLAINTEXT://kafka:29092",
			served: []Listener{{"PLAINTEXT", "kafka:29092", "kafka:29092", "PLAINTEXT"}, {"PLAINTEXT_HOST", "0.0.0.0:9092", "localhost:9092", "PLAINTEXT"}}},
		// A listener advertised.listeners does not name advertises its
		// own address.
		{props: dockerMap + "listeners=PLAINTEXT://:29092,PLAINTEXT_HOST://:9092\nadvertised.listeners=PLAINTEXT://kafka:29092",
			served: []Listener{{"PLAINTEXT", ":29092", "kafka:29092", "PLAINTEXT"}, {"PLAINTEXT_HOST", ":9092", "", "PLAINTEXT"}}},
		{props: dockerMap + "listeners=PLAINTEXT://:29092\nadvertised.listeners=PLAINTEXT://kafka:29092,PLAINTEXT_HOST://localhost:9092",
			err: "names listener PLAINTEXT_HOST, which listeners does not have"},
		{props: "listeners=PLAINTEXT://:9092,PLAINTEXT://:9093", err: "PLAINTEXT is given twice"},
		{props: "listeners=:9092,:9093", err: "PLAINTEXT is given twice"},
		// Bare host:port entries pair by position.
		{props: "listeners=127.0.0.1:9092\nadvertised.listeners=h:1,h:2", served: []Listener{{"PLAINTEXT", "127.0.0.1:9092", "h:1", "PLAINTEXT"}}, notServed: []string{"advertised.listeners: h:2"}},
		{props: "listeners=PLAINTEXT://:9092\nadvertised.listeners=h:1", served: []Listener{{"PLAINTEXT", ":9092", "h:1", "PLAINTEXT"}}},
		// Kafka advertises only the listeners advertised.listeners
		// names.
		{props: "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SSL:SSL\nlisteners=PLAINTEXT://:9092,SSL://:9093\nadvertised.listeners=SSL://kafka:9093" + keystore,
			served: []Listener{{"PLAINTEXT", ":9092", "", "PLAINTEXT"}, {"SSL", ":9093", "kafka:9093", "SSL"}}},
		// SASL_PLAINTEXT is served, under any name.
		{props: "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SECURE:SASL_PLAINTEXT\nlisteners=PLAINTEXT://:9092,SECURE://:9093\nadvertised.listeners=SECURE://kafka:9093\nsasl.enabled.mechanisms=SCRAM-SHA-512",
			served: []Listener{{"PLAINTEXT", ":9092", "", "PLAINTEXT"}, {"SECURE", ":9093", "kafka:9093", "SASL_PLAINTEXT"}}},
		{props: "listeners=SSL://:9093", err: "listener SSL (SSL): no key store"},
		// Empty entries are skipped, as Kafka skips them.
		{props: "listeners=SSL://:9093,PLAINTEXT://:9092," + keystore, served: []Listener{{"SSL", ":9093", "", "SSL"}, {"PLAINTEXT", ":9092", "", "PLAINTEXT"}}},
		{props: "listeners=SECURE://:9093\nlistener.security.protocol.map=SECURE:SASL_SSL\nsasl.enabled.mechanisms=SCRAM-SHA-256" + keystore,
			served: []Listener{{"SECURE", ":9093", "", "SASL_SSL"}}},
		{props: "listeners=SECURE://:9093\nlistener.security.protocol.map=SECURE:SASL_SSL" + keystore, err: "GSSAPI is not supported (listener SECURE is SASL_SSL)"},
		{props: "listeners=INTERNAL://:9092", err: "no security protocol for INTERNAL"},
		// As Kafka: a listener whose protocol is not said is refused, not
		// left unserved beside one that is.
		{props: "listeners=PLAINTEXT://:9092,PLAINTEXT_HOST://:29092", err: "no security protocol for PLAINTEXT_HOST"},
		// The keys may come in any order.
		{props: "listeners=PLAINTEXT://:9092,PLAINTEXT_HOST://:29092\nlistener.security.protocol.map=PLAINTEXT:PLAINTEXT,PLAINTEXT_HOST:PLAINTEXT",
			served: []Listener{{"PLAINTEXT", ":9092", "", "PLAINTEXT"}, {"PLAINTEXT_HOST", ":29092", "", "PLAINTEXT"}}},
		{props: "listener.security.protocol.map=PLAINTEXT", err: "not NAME:PROTOCOL"},
		{props: "controller.listener.names=CONTROLLER\nlisteners=CONTROLLER://:9093", err: "only controller listeners"},
	} {
		cfg := DefaultConfig()
		err := cfg.LoadProperties(strings.NewReader(c.props))
		if err == nil {
			err = cfg.Validate()
		}
		served, notServed, _ := cfg.ClientListeners()
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: %v, want an error saying %q", c.props, err, c.err)
			}
		case err != nil:
			t.Errorf("%q: %v", c.props, err)
		case !slices.Equal(served, c.served) || !slices.Equal(notServed, c.notServed):
			t.Errorf("%q: served %+v, not served %q; want %+v, %q", c.props, served, notServed, c.served, c.notServed)
		}
	}
}

// A KRaft file for one node of several, or for a broker or controller
// alone, is refused: gokafkad would start it as a cluster of its own. One
// combined node's file loads (TestConfigKafkaServerProperties).
func TestConfigRefusesMultiNodeCluster(t *testing.T) {
	for _, c := range []struct {
		props string
		ok    bool
	}{
		{"node.id=1\ncontroller.quorum.voters=1@127.0.0.1:9093", true},
		{"controller.quorum.voters=2@127.0.0.1:9093\nnode.id=2", true}, // node.id after the voters
		{"node.id=1\ncontroller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:9094", false},
		{"node.id=3\ncontroller.quorum.voters=1@127.0.0.1:9093", false},
		{"process.roles=broker, controller", true},
		{"process.roles=broker", false},
		{"process.roles=controller", false},
		{"controller.quorum.bootstrap.servers=10.0.0.1:9093", true},
		{"controller.quorum.bootstrap.servers=10.0.0.1:9093,10.0.0.2:9093", false},
		{"controller.quorum.voters=\ncontroller.quorum.bootstrap.servers=localhost:9093", true}, // Kafka's empty default
	} {
		cfg := DefaultConfig()
		err := cfg.LoadProperties(strings.NewReader(c.props))
		if err == nil {
			err = cfg.Validate()
		}
		if (err == nil) != c.ok {
			t.Errorf("%q: %v, want ok %v", c.props, err, c.ok)
		} else if err != nil && !strings.Contains(err.Error(), "several nodes is not supported yet") {
			t.Errorf("%q: %v does not say why", c.props, err)
		}
	}
	// node.id from a flag, applied after the file, is the one checked.
	for _, c := range []struct {
		voters, nodeID string
		ok             bool
	}{{"2@127.0.0.1:9093", "2", true}, {"1@127.0.0.1:9093", "5", false}} {
		cfg := DefaultConfig()
		if err := cfg.LoadProperties(strings.NewReader("controller.quorum.voters=" + c.voters)); err != nil {
			t.Fatal(err)
		}
		if err := cfg.Set("node.id", c.nodeID); err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("voters %s, --node-id %s: %v, want ok %v", c.voters, c.nodeID, err, c.ok)
		}
	}
}

// A properties file is read as Java's Properties.load reads it, as Kafka
// does: blank and ':' separators, continued lines, escapes.
func TestReadPropertiesJavaFormat(t *testing.T) {
	in := "# comment \\\n" +
		"! another\n" +
		"num.partitions 3\n" +
		"  log.dirs : /data/a\\\n" +
		"      b\n" +
		"listeners=PLAINTEXT://127.0.0.1:9092\n" +
		"advertised.listeners = PLAINTEXT://h\\:9093\n" +
		"key\\ with\\ blanks=v\\u00e9\\tx\n" +
		"empty\n" +
		"sep=:=\n"
	props, err := readProperties(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []property{
		{"num.partitions", "3", 3},
		{"log.dirs", "/data/ab", 4},
		{"listeners", "PLAINTEXT://127.0.0.1:9092", 6},
		{"advertised.listeners", "PLAINTEXT://h:9093", 7},
		{"key with blanks", "vé\tx", 8},
		{"empty", "", 9},
		{"sep", ":=", 10},
	}
	if !slices.Equal(props, want) {
		t.Errorf("read %+v\nwant %+v", props, want)
	}
	c := DefaultConfig()
	if err := c.LoadProperties(strings.NewReader("num.partitions 4\nlog.retention.hours\t\t2\n")); err != nil || c.NumPartitions != 4 || c.LogRetentionMs != 2*3600*1000 {
		t.Errorf("blank-separated: %v, partitions %d, retention %d", err, c.NumPartitions, c.LogRetentionMs)
	}
	if _, err := readProperties(strings.NewReader("a=\\u12\n")); err == nil {
		t.Error("a short \\u escape was accepted")
	}
	// Java's other line ends, \r and \r\n, and a character past U+FFFF
	// escaped as its surrogates, as Properties.store writes it.
	props, err = readProperties(strings.NewReader("a=1\rb=2\r\nc=\\\r  3\r\r\nd=\\uD83D\\uDE00\\uD83D!\re"))
	want = []property{{"a", "1", 1}, {"b", "2", 2}, {"c", "3", 3}, {"d", "\U0001F600\uFFFD!", 6}, {"e", "", 7}}
	if err != nil || !slices.Equal(props, want) {
		t.Errorf("read %+v, %v\nwant %+v", props, err, want)
	}
}

// Flags override the properties file even where the file gives the same
// setting under a key that would win over the flag's (Kafka's order:
// log.retention.ms over .hours, node.id over broker.id); among flags,
// Kafka's order holds.
func TestFlagsOverrideFileSpellings(t *testing.T) {
	apply := func(file string, flags ...[2]string) Config {
		t.Helper()
		c := DefaultConfig()
		if err := c.LoadProperties(strings.NewReader(file)); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, f := range flags {
			keys = append(keys, f[0])
		}
		c.OverrideFile(keys)
		for _, f := range flags {
			if err := c.Set(f[0], f[1]); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	c := apply("log.retention.ms=3600000\nnode.id=3\n", [2]string{"log.retention.hours", "5"}, [2]string{"broker.id", "7"})
	if c.LogRetentionMs != 5*3600*1000 || c.NodeID != 7 {
		t.Errorf("flags over the file's finer keys: retention %d ms, node %d; want 5 h and 7", c.LogRetentionMs, c.NodeID)
	}
	if v, _ := c.Get("log.retention.hours"); v != "5" {
		t.Errorf("log.retention.hours reads %s", v)
	}
	c = apply("", [2]string{"log.retention.ms", "60000"}, [2]string{"log.retention.hours", "5"})
	if c.LogRetentionMs != 60000 {
		t.Errorf("two flags: retention %d ms, want log.retention.ms's 60000", c.LogRetentionMs)
	}
	c = apply("log.retention.hours=2\n", [2]string{"log.retention.ms", "60000"})
	if c.LogRetentionMs != 60000 {
		t.Errorf("ms flag over an hours file: %d", c.LogRetentionMs)
	}
}

// max.connections.per.ip, its overrides and max.connections, as Kafka reads
// and checks them.
func TestConfigConnectionLimits(t *testing.T) {
	def := DefaultConfig()
	if f, err := def.connLimit(); err != nil || f != nil || def.maxConns() != 0 {
		t.Errorf("defaults bound connections: %v %v %d", f != nil, err, def.maxConns())
	}
	c := DefaultConfig()
	if err := c.LoadProperties(strings.NewReader("max.connections.per.ip=5\nmax.connections.per.ip.overrides=127.0.0.2:0, [::1]:7 ,10.0.0.1:100\nmax.connections=300\n")); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	f, err := c.connLimit()
	if err != nil || f == nil {
		t.Fatalf("connLimit: %v", err)
	}
	for ip, want := range map[string]int{"127.0.0.1": 5, "127.0.0.2": 0, "::1": 7, "10.0.0.1": 100} {
		if got := f(ip); got != want {
			t.Errorf("%s: limit %d, want %d", ip, got, want)
		}
	}
	if c.maxConns() != 300 {
		t.Errorf("max.connections %d", c.maxConns())
	}
	// A name counts for each of its addresses.
	m, err := parseConnOverrides("db.example:3", func(string) ([]net.IP, error) {
		return []net.IP{net.ParseIP("192.0.2.1"), net.ParseIP("2001:db8::1")}, nil
	})
	if err != nil || m["192.0.2.1"] != 3 || m["2001:db8::1"] != 3 {
		t.Errorf("name: %v %v", m, err)
	}
	for _, bad := range []string{
		"max.connections.per.ip=0",
		"max.connections.per.ip=-1",
		"max.connections=0",
		"max.connections.per.ip.overrides=127.0.0.1",
		"max.connections.per.ip.overrides=127.0.0.1:-2",
		"max.connections.per.ip.overrides=:4",
	} {
		c := DefaultConfig()
		err := c.LoadProperties(strings.NewReader(bad))
		if err == nil {
			err = c.Validate()
		}
		if err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	// 0 denies everyone but the overrides.
	z := DefaultConfig()
	if err := z.LoadProperties(strings.NewReader("max.connections.per.ip=0\nmax.connections.per.ip.overrides=127.0.0.1:10")); err != nil || z.Validate() != nil {
		t.Fatalf("per-ip 0 with overrides: %v %v", err, z.Validate())
	}
	if f, _ := z.connLimit(); f("127.0.0.1") != 10 || f("127.0.0.3") != 0 {
		t.Errorf("per-ip 0: %d %d", f("127.0.0.1"), f("127.0.0.3"))
	}
}

// A broker with an address's limit closes that address's connections past
// it.
func TestBrokerMaxConnsPerIP(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) {
		if err := c.Set("max.connections.per.ip.overrides", "127.0.0.1:1"); err != nil {
			t.Fatal(err)
		}
	})
	defer b.Close()
	ask := func(c net.Conn) error {
		if _, err := c.Write(rawFormatter.AppendRequest(nil, kmsg.NewPtrApiVersionsRequest(), 1)); err != nil {
			return err
		}
		_, _, err := readResponseFrame(c)
		return err
	}
	first := rawConn(t, b)
	defer first.Close()
	if err := ask(first); err != nil {
		t.Fatalf("first connection: %v", err)
	}
	second := rawConn(t, b)
	defer second.Close()
	if err := ask(second); err == nil {
		t.Fatal("a second connection from 127.0.0.1 was served")
	}
	if err := ask(first); err != nil {
		t.Fatalf("first connection after the second was refused: %v", err)
	}
}

// No key gokafkad reads is skipped as a Kafka-only one: a file's setting
// would be dropped with a warning that it means nothing.
func TestKafkaOnlyKeysAreNotOptions(t *testing.T) {
	for _, o := range Options() {
		if ignore, err := kafkaOnly(o.Key, ""); ignore || err != nil {
			t.Errorf("%s is an option and a Kafka-only key (%v)", o.Key, err)
		}
	}
}

// A Kafka 3.x production server.properties, beyond the sample's keys:
// Kafka's settings for what gokafkad does not have load with a warning; a
// setting asking for something it cannot do (a policy class, tiered
// storage, an authorizer) still stops the start.
func TestConfigKafkaOnlyKeys(t *testing.T) {
	c := DefaultConfig()
	props := `
log.segment.delete.delay.ms=60000
controlled.shutdown.enable=true
offsets.commit.timeout.ms=5000
replication.quota.window.num=11
request.timeout.ms=30000
socket.listen.backlog.size=50
zookeeper.session.timeout.ms=18000
log.cleaner.min.cleanable.ratio=0.5
delete.records.purgatory.purge.interval.requests=1
create.topic.policy.class.name=
authorizer.class.name=
security.inter.broker.protocol=PLAINTEXT
remote.log.storage.system.enable=false
remote.log.manager.thread.pool.size=10
confluent.support.metrics.enable=false
metadata.log.segment.bytes=1073741824
max.connection.creation.rate=2147483647
`
	if err := c.LoadProperties(strings.NewReader(props)); err != nil {
		t.Fatal(err)
	}
	if len(c.Ignored) != 17 {
		t.Errorf("ignored %d keys: %v", len(c.Ignored), c.Ignored)
	}
	for _, bad := range []string{
		"create.topic.policy.class.name=com.example.Policy",
		"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"remote.log.storage.system.enable=true",
		"security.inter.broker.protocol=SSL",
		"config.providers=file",
		"max.connection.creation.rate=100",
		"log.retention.hourz=1",
	} {
		c := DefaultConfig()
		if err := c.LoadProperties(strings.NewReader(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestQueuedMaxRequestBytesConfig: queued.max.request.bytes bounds the
// requests held over all connections; as in Kafka, 0 and below bound
// nothing and a value set must hold a whole request.
func TestQueuedMaxRequestBytesConfig(t *testing.T) {
	load := func(props string) (Config, error) {
		c := DefaultConfig()
		err := c.LoadProperties(strings.NewReader(props))
		if err == nil {
			err = c.Validate()
		}
		return c, err
	}
	for props, want := range map[string]int64{
		"":                                   protocol.DefaultMaxQueuedBytes,
		"queued.max.request.bytes=-1":        -1,
		"queued.max.request.bytes=0":         -1,
		"queued.max.request.bytes=200000000": 200000000,
		// The default gives way to a larger request bound.
		"socket.request.max.bytes=1073741824": protocol.DefaultMaxQueuedBytes,
	} {
		c, err := load(props)
		if err != nil {
			t.Errorf("%q: %v", props, err)
			continue
		}
		if got := c.queuedMaxBytes(); got != want {
			t.Errorf("%q: bound %d, want %d", props, got, want)
		}
	}
	if _, err := load("queued.max.request.bytes=1000"); err == nil || !strings.Contains(err.Error(), "socket.request.max.bytes") {
		t.Errorf("a bound below socket.request.max.bytes: %v", err)
	}
}

// kafka-server-start.sh's --override key=value: read as if the properties
// file ended with it, so it replaces the file's key, is checked as the
// file's keys are, and Kafka's order among spellings holds (the file's
// log.retention.ms still wins over an overriding log.retention.hours).
func TestLoadOverrides(t *testing.T) {
	c := DefaultConfig()
	if err := c.LoadProperties(strings.NewReader("num.partitions=3\nlog.retention.ms=60000\nbroker.rack=r1\n")); err != nil {
		t.Fatal(err)
	}
	err := c.LoadOverrides([]string{"num.partitions=6", "log.retention.hours=5", "num.io.threads=16", "broker.rack", "message.max.bytes=a=b"})
	if err == nil || !strings.Contains(err.Error(), "--override message.max.bytes: Invalid value a=b") {
		t.Errorf("a bad value: %v", err)
	}
	if c.NumPartitions != 6 || c.LogRetentionMs != 60000 || c.Rack != "" || !slices.Contains(c.Ignored, "num.io.threads") {
		t.Errorf("partitions %d, retention %d ms, rack %q, ignored %v", c.NumPartitions, c.LogRetentionMs, c.Rack, c.Ignored)
	}
	for _, bad := range []string{"no.such.key=1", "sasl.kerberos.service.name=kafka", "authorizer.class.name=x.Y", "process.roles=broker"} {
		d := DefaultConfig()
		err := d.LoadOverrides([]string{bad})
		if err == nil {
			err = d.Validate()
		}
		if key, _, _ := strings.Cut(bad, "="); err == nil || !strings.Contains(err.Error(), "--override "+key) {
			t.Errorf("--override %s: %v", bad, err)
		}
	}
}

// Kafka 4.0's broker keys for what gokafkad does not have (the KIP-848
// consumer protocol's bounds, transactions, KRaft controller internals,
// eligible leader replicas, tiered storage's fetches) load with a warning
// at their Kafka defaults, as their sibling keys do.
func TestConfigKafka40OnlyKeys(t *testing.T) {
	props := `
group.consumer.min.session.timeout.ms=45000
group.consumer.max.session.timeout.ms=60000
group.consumer.min.heartbeat.interval.ms=5000
group.consumer.max.heartbeat.interval.ms=15000
group.consumer.migration.policy=bidirectional
add.partitions.to.txn.retry.backoff.ms=20
add.partitions.to.txn.retry.backoff.max.ms=100
controller.performance.sample.period.ms=60000
controller.performance.always.log.threshold.ms=2000
eligible.leader.replicas.enable=false
max.request.partition.size.limit=2000
remote.fetch.max.wait.ms=500
remote.list.offsets.request.timeout.ms=30000
`
	c := DefaultConfig()
	if err := c.LoadProperties(strings.NewReader(props)); err != nil {
		t.Fatal(err)
	}
	if len(c.Ignored) != 13 {
		t.Errorf("ignored %d keys: %v", len(c.Ignored), c.Ignored)
	}
}

// A Kafka file with both log.flush.interval.messages and
// log.flush.interval.ms asks for a flush at whichever comes first; the
// message count is not kept here, so the timer is not applied and every
// raft batch is synced, never less often than the file asks. The timer
// alone, or with Kafka's default message count, is applied, also when a
// later line or an --override sets that default back.
func TestFlushMessagesKeepsSyncPerBatch(t *testing.T) {
	for _, tc := range []struct {
		props     string
		overrides []string
		want      time.Duration
	}{
		{"log.flush.interval.messages=1\nlog.flush.interval.ms=1000\n", nil, 0},
		{"log.flush.interval.messages=10000\nlog.flush.interval.ms=1000\n", nil, 0},
		{"log.flush.interval.ms=1000\n", nil, time.Second},
		{"log.flush.interval.messages=9223372036854775807\nlog.flush.interval.ms=1000\n", nil, time.Second},
		{"log.flush.interval.messages=1\nlog.flush.interval.ms=1000\nlog.flush.interval.messages=9223372036854775807\n", nil, time.Second},
		{"log.flush.interval.messages=10000\nlog.flush.interval.ms=1000\n", []string{"log.flush.interval.messages=9223372036854775807"}, time.Second},
		{"log.flush.interval.ms=1000\n", []string{"log.flush.interval.messages=1"}, 0},
		// Kafka's Long.MAX ("never") and other values past a Duration's
		// range are the longest interval, not a wrapped negative one.
		{"log.flush.interval.ms=9223372036854775807\n", nil, math.MaxInt64},
		{"log.flush.interval.ms=9223372036855\n", nil, math.MaxInt64},
	} {
		b := startBroker(t, t.TempDir(), func(c *Config) {
			if err := c.LoadProperties(strings.NewReader(tc.props)); err != nil {
				t.Fatal(err)
			}
			if err := c.LoadOverrides(tc.overrides); err != nil {
				t.Fatal(err)
			}
		})
		cl := newClient(t, b)
		createTopic(t, cl, "flush", 1, nil)
		st := b.node.Controller().State()
		if got := b.logConfig(st, st.Topics["flush"]).FsyncInterval; got != tc.want {
			t.Errorf("%q, overrides %q: logs sync every %v, want %v (0: every raft batch)", tc.props, tc.overrides, got, tc.want)
		}
		cl.Close()
		b.Close()
	}
}

// Millisecond (and minute) settings past a Duration's range are the
// longest Duration, not a wrapped, negative one: Kafka reads them as longs,
// and Long.MAX is how a Kafka user writes "never".
func TestConnectionsMaxIdleMsRange(t *testing.T) {
	// As Kafka (KafkaConfig.validateValues): a value >= 0 must exceed
	// failed.authentication.delay.ms (100, not settable here); 0 was
	// taken as "unset" and served as 10 minutes. -1 never closes.
	for v, ok := range map[string]bool{"0": false, "100": false, "101": true, "-1": true, "600000": true} {
		c := DefaultConfig()
		c.DataDir = t.TempDir()
		if err := c.LoadProperties(strings.NewReader("connections.max.idle.ms=" + v)); err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); (err == nil) != ok {
			t.Errorf("connections.max.idle.ms=%s: Validate %v, want ok %v", v, err, ok)
		}
	}
}

func TestDurationSettingsCapped(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		unit time.Duration
		want time.Duration
	}{
		{5, time.Millisecond, 5 * time.Millisecond},
		{10080, time.Minute, 7 * 24 * time.Hour},
		{math.MaxInt32, time.Minute, math.MaxInt64}, // Kafka users' "for good"
		{153722868, time.Minute, math.MaxInt64},     // just past the range
		{math.MaxInt64, time.Millisecond, math.MaxInt64},
	} {
		if got := durationOf(tc.n, tc.unit); got != tc.want {
			t.Errorf("durationOf(%d, %v) = %v, want %v", tc.n, tc.unit, got, tc.want)
		}
	}
	c := DefaultConfig()
	c.ConnectionsMaxIdleMs = math.MaxInt64
	if d := c.idleTimeout(); d <= 0 {
		t.Errorf("connections.max.idle.ms=Long.MAX: idle timeout %v", d)
	}
}
