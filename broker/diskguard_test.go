package broker

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/testlog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Below log.dir.min.free.bytes produce is refused with KAFKA_STORAGE_ERROR
// and nothing is stored; franz-go keeps retrying the record rather than
// losing it; the refusal ends once the threshold is met again.
func TestProduceRefusedWhenDiskNearlyFull(t *testing.T) {
	dir := t.TempDir()
	free, _, err := diskSpace(dir)
	if err != nil {
		t.Skipf("free space not measured here: %v", err)
	}
	b := startBroker(t, dir, nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "full", 1, nil)
	b.disk.min.Store(free + 1<<40)
	b.disk.measure()

	// New partitions are refused too: their files would fill the rest.
	if code := createTopicCode(t, cl, "more", 1); code != kerr.KafkaStorageError.Code {
		t.Fatalf("CreateTopics below the free-space threshold: %v, want KAFKA_STORAGE_ERROR", kerr.ErrorForCode(code))
	}

	rp := produceRaw(t, cl, "full", 0, -1, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(3, "v")))
	if rp.ErrorCode != kerr.KafkaStorageError.Code || rp.ErrorMessage == nil {
		t.Fatalf("produce below the free-space threshold: code %d, message %v; want KAFKA_STORAGE_ERROR with a message", rp.ErrorCode, rp.ErrorMessage)
	}
	if end := b.node.Partition("full", 0).Log().EndOffset(); end != 0 {
		t.Fatalf("a refused batch was stored: end offset %d", end)
	}

	// A real producer waits; once space is "freed", its record goes in once.
	pcl := newClient(t, b, kgo.DefaultProduceTopic("full"), kgo.RecordDeliveryTimeout(30*time.Second))
	done := make(chan error, 1)
	go func() {
		done <- pcl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("kept")}).FirstErr()
	}()
	select {
	case err := <-done:
		t.Fatalf("produce finished (%v) while the disk was below the threshold", err)
	case <-time.After(500 * time.Millisecond):
	}
	b.disk.min.Store(1)
	b.disk.measure()
	if err := <-done; err != nil {
		t.Fatalf("produce after the threshold was met: %v", err)
	}
	if end := b.node.Partition("full", 0).Log().EndOffset(); end != 1 {
		t.Fatalf("end offset %d after the retried record, want 1", end)
	}
	if code := createTopicCode(t, cl, "more", 1); code != 0 {
		t.Fatalf("CreateTopics after the threshold was met: %v", kerr.ErrorForCode(code))
	}
}

// createTopicCode creates a topic and returns its error code.
func createTopicCode(t *testing.T, cl *kgo.Client, name string, partitions int32) int16 {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 5000
	return request[*kmsg.CreateTopicsResponse](t, cl, req).Topics[0].ErrorCode
}

// admit counts what it lets through since the last measurement, so a burst
// between measurements cannot run past the threshold.
func TestDiskGuardCountsAdmittedBytes(t *testing.T) {
	dir := t.TempDir()
	g := newDiskGuard(dir, -1, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	free := g.freeBytes()
	if free < 0 {
		t.Skip("free space not measured here")
	}
	g.threshold.Store(free - 32<<20)
	if err := g.admit(16 << 20); err != nil {
		t.Fatalf("16 MiB with 32 MiB to spare: %v", err)
	}
	if err := g.admit(32 << 20); err == nil {
		t.Fatal("32 MiB more was admitted with 16 MiB to spare")
	}
	if err := g.admit(8 << 20); err != nil {
		t.Fatalf("8 MiB with 16 MiB to spare (the refused 32 MiB must not count): %v", err)
	}
	off := newDiskGuard(dir, 0, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	off.threshold.Store(1 << 62)
	if err := off.admit(1 << 30); err != nil {
		t.Fatalf("log.dir.min.free.bytes=0 refused: %v", err)
	}
}

// A batch refused while the measured free space is still above the
// threshold (by less than the batch) is logged, once until the space is
// clearly back: before, the operator saw nothing while every larger batch
// was refused.
func TestDiskGuardLogsRefusalAboveThreshold(t *testing.T) {
	var logs testlog.Buffer
	g := newDiskGuard(t.TempDir(), 0, slog.New(slog.NewTextHandler(&logs, nil)), nil)
	var free atomic.Int64
	g.space = func(string) (int64, int64, error) { return free.Load(), 100 << 30, nil }
	g.min.Store(10 << 30)
	hover := func() {
		free.Store(10<<30 + 1<<20) // 1 MiB to spare
		g.measure()
	}
	refused := func() {
		t.Helper()
		if err := g.admit(4 << 20); err == nil {
			t.Fatal("4 MiB admitted with 1 MiB to spare")
		}
	}
	said := func() int { return strings.Count(logs.String(), "while the free space less the batch") }
	hover()
	for range 3 {
		refused()
		hover()
	}
	if n := said(); n != 1 {
		t.Fatalf("%d log lines for refusals at one threshold, want 1:\n%s", n, logs.String())
	}
	free.Store(20 << 30) // room again
	g.measure()
	hover()
	refused()
	if n := said(); n != 2 {
		t.Fatalf("%d log lines once the disk had room and filled again, want 2:\n%s", n, logs.String())
	}
	free.Store(5 << 30) // below: the measurement says so, and refusals add nothing
	g.measure()
	refused()
	refused()
	if n := said(); n != 2 || !strings.Contains(logs.String(), "until space is freed") {
		t.Fatalf("below the threshold: %d refusal lines, want the measurement's alone:\n%s", n, logs.String())
	}
}
