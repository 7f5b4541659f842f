package broker

import (
	"context"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// An acks=all produce is answered only once its batch is fsynced, and the
// high watermark, which bounds what consumers read, waits for the fsync
// too; a failed fsync is answered with KAFKA_STORAGE_ERROR. (A single-voter
// log fsyncs behind raft: logstore's DeferSync.)
func TestProduceAckWaitsForFsync(t *testing.T) {
	var mu sync.Mutex
	var hold chan struct{} // non-nil: fsyncs wait on it
	var fail error
	entered := make(chan struct{}, 1000)
	syncFile := func(f *os.File) error {
		mu.Lock()
		h, err := hold, fail
		mu.Unlock()
		if h != nil {
			entered <- struct{}{}
			<-h
		}
		if err != nil {
			return err
		}
		return f.Sync()
	}
	b := startBroker(t, t.TempDir(), func(c *Config) { c.syncFile = syncFile })
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "durable", 1, nil)
	// The first batch of a leader epoch is synced in line.
	if r := produceRaw(t, cl, "durable", 0, -1, encodeBatch(1000, -1, -1, -1, values(2, "a"))); r.ErrorCode != 0 {
		t.Fatalf("first produce: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	p := b.node.Partition("durable", 0)
	if hw := p.HighWatermark(); hw != 2 {
		t.Fatalf("high watermark %d, want 2", hw)
	}

	produce := func(prefix string) <-chan kmsg.ProduceResponseTopicPartition {
		out := make(chan kmsg.ProduceResponseTopicPartition, 1)
		go func() {
			req := kmsg.NewPtrProduceRequest()
			req.Acks, req.TimeoutMillis = -1, 10000
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic = "durable"
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = encodeBatch(2000, -1, -1, -1, values(3, prefix))
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			resp, err := cl.Request(ctx, req)
			if err != nil {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.ErrorCode = kerr.RequestTimedOut.Code
				out <- rp
				return
			}
			out <- resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		}()
		return out
	}
	wait := func(what string, c <-chan kmsg.ProduceResponseTopicPartition) kmsg.ProduceResponseTopicPartition {
		t.Helper()
		select {
		case r := <-c:
			return r
		case <-time.After(15 * time.Second):
			t.Fatalf("no answer to %s", what)
			panic("unreachable")
		}
	}

	h := make(chan struct{})
	var releaseOnce sync.Once
	release := func() {
		releaseOnce.Do(func() {
			mu.Lock()
			hold = nil
			mu.Unlock()
			close(h)
		})
	}
	defer release() // before b.Close, which waits for the held fsync
	mu.Lock()
	hold = h
	mu.Unlock()
	answer := produce("b")
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the batch's fsync never started")
	}
	select {
	case r := <-answer:
		t.Fatalf("answered before the fsync finished: %+v", r)
	case <-time.After(200 * time.Millisecond):
	}
	if hw, end := p.HighWatermark(), p.Log().EndOffset(); hw != 2 || end != 5 {
		t.Fatalf("while syncing: high watermark %d, log end %d; want 2 and 5", hw, end)
	}
	if n := fetchCount(t, b, "durable"); n != 2 {
		t.Fatalf("a fetch returned %d records while the batch was unsynced, want 2", n)
	}
	release()
	if r := wait("the held produce", answer); r.ErrorCode != 0 || r.BaseOffset != 2 {
		t.Fatalf("after the fsync: %v at %d, want success at 2", kerr.ErrorForCode(r.ErrorCode), r.BaseOffset)
	}
	if hw := p.HighWatermark(); hw != 5 {
		t.Fatalf("high watermark %d after the fsync, want 5", hw)
	}

	mu.Lock()
	fail = &os.PathError{Op: "fdatasync", Path: "segment", Err: syscall.EIO}
	mu.Unlock()
	if r := wait("the produce whose fsync fails", produce("c")); r.ErrorCode != kerr.KafkaStorageError.Code {
		t.Fatalf("failed fsync answered %v, want KAFKA_STORAGE_ERROR", kerr.ErrorForCode(r.ErrorCode))
	}
	if hw := p.HighWatermark(); hw != 5 {
		t.Fatalf("high watermark %d after a failed fsync, want 5", hw)
	}
}

// fetchCount reads topic partition 0 from the start, up to its high
// watermark, and counts the records.
func fetchCount(t *testing.T, b *Broker, topic string) int {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 0, 1, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := rawRequest(t, b, req).(*kmsg.FetchResponse)
	fp := resp.Topics[0].Partitions[0]
	if fp.ErrorCode != 0 {
		t.Fatalf("fetch: %v", kerr.ErrorForCode(fp.ErrorCode))
	}
	n := 0
	for b := fp.RecordBatches; len(b) > 0; {
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b); err != nil {
			t.Fatalf("fetched batch: %v", err)
		}
		n += int(rb.NumRecords)
		b = b[12+int(rb.Length):]
	}
	return n
}

// A batch not committed within the produce request's timeout is answered
// REQUEST_TIMED_OUT, as in Kafka, and is stored once its fsync completes.
func TestProduceTimeout(t *testing.T) {
	var mu sync.Mutex
	var hold chan struct{}
	syncFile := func(f *os.File) error {
		mu.Lock()
		h := hold
		mu.Unlock()
		if h != nil {
			<-h
		}
		return f.Sync()
	}
	b := startBroker(t, t.TempDir(), func(c *Config) { c.syncFile = syncFile })
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "slow", 1, nil)
	now := time.Now().UnixMilli()
	// The first batch of a leader epoch is synced in line.
	if r := produceRaw(t, cl, "slow", 0, -1, encodeBatch(now, -1, -1, -1, values(1, "a"))); r.ErrorCode != 0 {
		t.Fatalf("first produce: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	release := make(chan struct{})
	mu.Lock()
	hold = release
	mu.Unlock()

	req := produceReq("slow", -1, 300, encodeBatch(now, -1, -1, -1, values(2, "b")))
	start := time.Now()
	got := rawRequest(t, b, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	if el := time.Since(start); got.ErrorCode != kerr.RequestTimedOut.Code || el < 250*time.Millisecond || el > 5*time.Second {
		t.Fatalf("%v after %v, want REQUEST_TIMED_OUT after about 300 ms", kerr.ErrorForCode(got.ErrorCode), el)
	}
	// acks=1 has no replicas to wait for, so its timeout does not apply,
	// as in Kafka: it is answered with the batch's outcome, however late,
	// never with a retriable error for a batch that is stored.
	acks1 := make(chan kmsg.ProduceResponseTopicPartition, 1)
	go func() {
		req := produceReq("slow", 1, 300, encodeBatch(now, -1, -1, -1, values(2, "c")))
		conn := rawConn(t, b)
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := conn.Write(rawFormatter.AppendRequest(nil, req, 7)); err != nil {
			close(acks1)
			return
		}
		_, body, err := readResponseFrame(conn)
		if err == nil && len(body) > 0 {
			body = body[1:] // v9 is flexible: empty response header tags
		}
		resp := req.ResponseKind()
		resp.SetVersion(req.Version)
		if err != nil || resp.ReadFrom(body) != nil {
			close(acks1)
			return
		}
		acks1 <- resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	}()
	select {
	case got, ok := <-acks1:
		t.Fatalf("acks=1 answered (%v, ok %v) while its batch was not stored", kerr.ErrorForCode(got.ErrorCode), ok)
	case <-time.After(time.Second):
	}
	mu.Lock()
	hold = nil
	mu.Unlock()
	close(release)
	if got, ok := <-acks1; !ok || got.ErrorCode != 0 || got.BaseOffset != 3 {
		t.Fatalf("acks=1 after the sync: %v at offset %d (ok %v), want stored at 3", kerr.ErrorForCode(got.ErrorCode), got.BaseOffset, ok)
	}
	p := b.node.Partition("slow", 0)
	waitFor(t, func() bool { return p.HighWatermark() == 5 }, "both batches stored")
}
