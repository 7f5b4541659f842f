package broker

import (
	"math"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Settings Kafka takes in full, as longs of milliseconds, that overflow a
// time.Duration: offsets.retention.minutes=2147483647 (the largest INT,
// set to keep offsets for good) came out negative and expired every empty
// group's offsets at the next check, and a check interval past 292 years
// made a negative ticker, which panicked at start.
func TestOffsetsRetentionPastDuration(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) {
		c.OffsetsRetentionMinutes = math.MaxInt32
		c.OffsetsRetentionCheckMs = 100
	})
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "kept", 1, nil)
	offsetsTopicUp(t, b)
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.Generation = "keeper", -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "kept"
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Offset = 7
	rt.Partitions = append(rt.Partitions, rp)
	commit.Topics = append(commit.Topics, rt)
	if code := request[*kmsg.OffsetCommitResponse](t, cl, commit).Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("commit: error %d", code)
	}
	time.Sleep(500 * time.Millisecond) // several checks
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Group = "keeper"
	ft := kmsg.NewOffsetFetchRequestTopic()
	ft.Topic, ft.Partitions = "kept", []int32{0}
	fetch.Topics = append(fetch.Topics, ft)
	if got := request[*kmsg.OffsetFetchResponse](t, cl, fetch).Topics[0].Partitions[0].Offset; got != 7 {
		t.Errorf("committed offset reads %d after the checks; want 7, kept", got)
	}

	start := time.Now()
	b2 := startBroker(t, t.TempDir(), func(c *Config) { c.OffsetsRetentionCheckMs = 10_000_000_000_000 })
	defer b2.Close()
	if time.Since(start) > 20*time.Second {
		t.Fatal("slow start")
	}
}
