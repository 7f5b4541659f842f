package broker

import (
	"strings"
	"testing"
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
	if c.NodeID != 3 || c.Listen != "127.0.0.1:29092" || c.Advertise != "broker3.example:29092" ||
		c.DataDir != "/var/lib/gokafka" || c.NumPartitions != 6 || c.AutoCreateTopics || c.LogRetentionMs != -1 {
		t.Fatalf("properties not applied: %+v", c)
	}
	// Flags use the same keys or their flag names.
	if err := c.Set("num-partitions", "2"); err != nil || c.NumPartitions != 2 {
		t.Fatalf("flag name: %v %d", err, c.NumPartitions)
	}
	for _, bad := range []string{"no.such.key=1", "node.id=abc", "listeners=SSL://x:1", "num.partitions=99999999999", "just a line"} {
		d := DefaultConfig()
		if err := d.LoadProperties(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	v := DefaultConfig()
	v.LogMessageTimestampTyp = "Sometimes"
	if v.Validate() == nil {
		t.Error("bad timestamp type validated")
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
}
