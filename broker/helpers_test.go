package broker

import (
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/testlog"
	"github.com/gokafka/gokafka/logstore"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// bbolt's and raft's background goroutines end with Close; these
		// belong to the Go runtime and client libraries' pools.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// startBroker runs an in-process broker on free ports with its own data dir.
func startBroker(t testing.TB, dir string, mod func(*Config)) *Broker {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen, cfg.RaftListen, cfg.AdminListen = "127.0.0.1:0", "127.0.0.1:0", ""
	cfg.DataDir = dir
	cfg.Logger = testLogger(t)
	cfg.OffsetsTopicNumPartitions = 4 // fewer raft groups: faster starts
	cfg.GroupInitialRebalanceDelayMs = 0
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	return b
}

// restartBroker closes b and starts a broker on its data directory again,
// waiting until topic's partition 0 leads: at the next leader epoch. A new
// partition's first epoch is 0, as in Kafka, so a test of an epoch older
// than the current one restarts once.
func restartBroker(t testing.TB, b *Broker, topic string) *Broker {
	t.Helper()
	dir := b.cfg.DataDir
	b.Close()
	b = startBroker(t, dir, nil)
	waitFor(t, func() bool { p := b.node.Partition(topic, 0); return p != nil && p.Ready() }, topic+" leading again")
	return b
}

// offsetsTopicUp creates __consumer_offsets, which a broker makes on the
// first group coordinator lookup, and waits until its partitions lead.
func offsetsTopicUp(t testing.TB, b *Broker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.coord.ensureOffsetsTopic(ctx); err != nil {
		t.Fatalf("offsets topic: %v", err)
	}
	// Every shard loaded: a group of a shard still loading is answered
	// COORDINATOR_LOAD_IN_PROGRESS.
	c := b.coord
	waitFor(t, func() bool {
		n := c.numShards()
		c.mu.Lock()
		defer c.mu.Unlock()
		for i := range n {
			if st := c.shards[i]; st == nil || st.shard == nil {
				return false
			}
		}
		return true
	}, "every coordinator shard to load")
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("GOKAFKA_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newClient(t testing.TB, b *Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(b.Addr().String()), kgo.RetryTimeout(10 * time.Second), kgo.MaxVersions(byNameVersions())}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// byNameVersions caps the versions that name topics by id (Produce v13,
// OffsetCommit and OffsetFetch v10), so that the requests tests build with
// topic names go by name, as a client does that has no id for a topic; the
// by-id versions have tests of their own.
func byNameVersions() *kversion.Versions {
	v := kversion.Stable()
	v.SetMaxKeyVersion(int16(kmsg.Produce), 12)
	v.SetMaxKeyVersion(int16(kmsg.OffsetCommit), 9)
	v.SetMaxKeyVersion(int16(kmsg.OffsetFetch), 9)
	return v
}

func request[R kmsg.Response](t testing.TB, cl *kgo.Client, req kmsg.Request) R {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cl.Request(ctx, req)
	if err != nil {
		t.Fatalf("%T: %v", req, err)
	}
	return resp.(R)
}

func createTopic(t testing.TB, cl *kgo.Client, name string, partitions int32, configs map[string]string) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, 1
	for k, v := range configs {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = append(req.Topics, rt)
	resp := request[*kmsg.CreateTopicsResponse](t, cl, req)
	if code := resp.Topics[0].ErrorCode; code != 0 {
		t.Fatalf("create topic %s: error %d", name, code)
	}
}

type testRecord struct {
	key, value []byte
	ts         int64 // delta from the batch's first timestamp
}

// encodeBatch builds an uncompressed magic-2 batch with a correct CRC.
func encodeBatch(ts0 int64, pid int64, epoch int16, seq int32, recs []testRecord) []byte {
	rs := make([]logstore.Record, len(recs))
	for i, r := range recs {
		rs[i] = logstore.Record{Key: r.key, Value: r.value, TimestampDelta: r.ts}
	}
	return logstore.AppendBatch(nil, logstore.BatchOptions{FirstTimestamp: ts0, ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq}, rs)
}

func values(n int, prefix string) []testRecord {
	out := make([]testRecord, n)
	for i := range out {
		out[i] = testRecord{value: []byte(prefix + string(rune('a'+i%26)))}
	}
	return out
}

// produceRaw sends one batch to topic/partition and returns the partition's
// response.
func produceRaw(t testing.TB, cl *kgo.Client, topic string, part int32, acks int16, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks = acks
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = part
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := request[*kmsg.ProduceResponse](t, cl, req)
	return resp.Topics[0].Partitions[0]
}

func fixCRC(b []byte) {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
}

// produceAcks0 sends an acks=0 produce, which gets no response.
func produceAcks0(t testing.TB, cl *kgo.Client, topic string, batch []byte) {
	t.Helper()
	req := produceReq(topic, 0, 5000, batch)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cl.Request(ctx, req); err != nil {
		t.Fatalf("acks=0 produce: %v", err)
	}
}

// readResponseFrame reads one response frame: its correlation id and the
// rest (response header tags, if any, and body).
func readResponseFrame(conn net.Conn) (int32, []byte, error) {
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return 0, nil, err
	}
	buf := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		return 0, nil, err
	}
	if len(buf) < 4 {
		return 0, nil, io.ErrUnexpectedEOF
	}
	return int32(binary.BigEndian.Uint32(buf)), buf[4:], nil
}

// deleteRecords deletes partition 0 of topic up to off and returns the
// partition's answer.
func deleteRecords(t testing.TB, cl *kgo.Client, topic string, off int64) kmsg.DeleteRecordsResponseTopicPartition {
	req := kmsg.NewPtrDeleteRecordsRequest()
	rt := kmsg.NewDeleteRecordsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewDeleteRecordsRequestTopicPartition()
	rp.Offset = off
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return request[*kmsg.DeleteRecordsResponse](t, cl, req).Topics[0].Partitions[0]
}

// produceReq is a v9 produce of one batch to partition 0 of topic.
func produceReq(topic string, acks int16, timeoutMs int32, batch []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Version, req.Acks, req.TimeoutMillis = 9, acks, timeoutMs
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// rawFormatter frames requests for raw connections. (AppendRequest sizes
// its frame from the start of dst: append each frame to an empty one.)
var rawFormatter = kmsg.NewRequestFormatter(kmsg.FormatterClientID("raw"))

// rawConn dials the broker, with a 10 s deadline on everything.
func rawConn(t testing.TB, b *Broker) net.Conn {
	t.Helper()
	return rawConnTo(t, b.Addr())
}

func rawConnTo(t testing.TB, addr net.Addr) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn
}

// rawRequest sends req on a fresh TCP connection at the version it carries
// and decodes the response, with no client library in between.
func rawRequest(t testing.TB, b *Broker, req kmsg.Request) kmsg.Response {
	t.Helper()
	return rawRequestTo(t, b.Addr(), req)
}

// rawRequestTo is rawRequest to the listener at addr.
func rawRequestTo(t testing.TB, addr net.Addr, req kmsg.Request) kmsg.Response {
	t.Helper()
	conn := rawConnTo(t, addr)
	defer conn.Close()
	resp, _ := sendRaw(t, conn, rawFormatter, req, 42)
	return resp
}

// sendRaw writes req on conn with correlation id cid and returns the
// decoded response and when it came.
func sendRaw(t testing.TB, conn net.Conn, f *kmsg.RequestFormatter, req kmsg.Request, cid int32) (kmsg.Response, time.Time) {
	t.Helper()
	if _, err := conn.Write(f.AppendRequest(nil, req, cid)); err != nil {
		t.Fatal(err)
	}
	got, body, err := readResponseFrame(conn)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	at := time.Now()
	if got != cid {
		t.Fatalf("correlation id %d, want %d", got, cid)
	}
	if req.IsFlexible() && req.Key() != int16(kmsg.ApiVersions) { // ApiVersions' header is always v0
		body = body[1:]
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("decoding %T: %v", resp, err)
	}
	return resp, at
}

func waitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logTo sends the broker's log to a buffer (the Config modifier for
// startBroker) and returns it, for tests that read what was logged.
func logTo(c *Config) *testlog.Buffer {
	var buf testlog.Buffer
	c.Logger = slog.New(slog.NewTextHandler(&buf, nil))
	return &buf
}

// alterConfig sets key to value on one resource with
// IncrementalAlterConfigs and returns the resource's error code.
func alterConfig(t testing.TB, cl *kgo.Client, typ kmsg.ConfigResourceType, name, key, value string) int16 {
	t.Helper()
	return alterConfigOp(t, cl, typ, name, key, value, kmsg.IncrementalAlterConfigOpSet)
}

// alterConfigOp is alterConfig with another IncrementalAlterConfigs op.
func alterConfigOp(t testing.TB, cl *kgo.Client, typ kmsg.ConfigResourceType, name, key, value string, op kmsg.IncrementalAlterConfigOp) int16 {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	rr := kmsg.NewIncrementalAlterConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = typ, name
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Op, c.Value = key, op, kmsg.StringPtr(value)
	rr.Configs = append(rr.Configs, c)
	req.Resources = append(req.Resources, rr)
	return request[*kmsg.IncrementalAlterConfigsResponse](t, cl, req).Resources[0].ErrorCode
}
