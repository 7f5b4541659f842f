package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/gokafka/logstore"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// gzipBatch turns an uncompressed batch from encodeBatch into a gzip one
// claiming n records (the records' own count unless n > 0).
func gzipBatch(t *testing.T, batch []byte, n int32) []byte {
	return compressedBatch(t, batch, logstore.CodecGzip, n)
}

// zstdBatch is gzipBatch with zstd.
func zstdBatch(t *testing.T, batch []byte, n int32) []byte {
	return compressedBatch(t, batch, logstore.CodecZstd, n)
}

func compressedBatch(t *testing.T, batch []byte, codec int8, n int32) []byte {
	t.Helper()
	out, err := logstore.Recompress(batch, codec, logstore.DefaultLevel)
	if err != nil {
		t.Fatal(err)
	}
	if n > 0 {
		be := binary.BigEndian
		be.PutUint32(out[23:], uint32(n-1)) // last offset delta
		be.PutUint32(out[57:], uint32(n))   // record count
		fixCRC(out)
	}
	return out
}

// The records inside a batch are checked as Kafka checks them, compressed or
// not: their count and framing, a key on every record of a compacted topic,
// each CreateTime timestamp against message.timestamp.{before,after}.max.ms.
// A refused batch names its bad records, and nothing of it is stored.
func TestProduceRecordChecks(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "plain", 1, map[string]string{"message.timestamp.before.max.ms": "60000"})
	createTopic(t, cl, "compacted", 1, map[string]string{"cleanup.policy": "compact"})
	createTopic(t, cl, "appendtime", 1, map[string]string{"message.timestamp.type": "LogAppendTime"})
	now := time.Now().UnixMilli()
	keyed := func(keys ...string) []testRecord {
		var out []testRecord
		for i, k := range keys {
			r := testRecord{value: []byte("v"), ts: int64(i)}
			if k != "" {
				r.key = []byte(k)
			}
			out = append(out, r)
		}
		return out
	}
	type recErr struct {
		index int32
		msg   string
	}
	for _, tc := range []struct {
		name    string
		topic   string
		batch   []byte
		want    *kerr.Error
		records []recErr
	}{
		{"gzip", "plain", gzipBatch(t, encodeBatch(now, -1, -1, -1, values(4, "g")), 0), nil, nil},
		{"gzip holding more records than it claims", "plain", gzipBatch(t, encodeBatch(now, -1, -1, -1, values(4, "g")), 3), kerr.InvalidRecord, nil},
		{"zstd", "plain", zstdBatch(t, encodeBatch(now, -1, -1, -1, values(4, "z")), 0), nil, nil},
		{"zstd holding more records than it claims", "plain", zstdBatch(t, encodeBatch(now, -1, -1, -1, values(4, "z")), 2), kerr.InvalidRecord, nil},
		{"gzip holding fewer records than it claims", "plain", gzipBatch(t, encodeBatch(now, -1, -1, -1, values(4, "g")), 6), kerr.InvalidRecord, nil},
		{"null key on a compacted topic", "compacted", encodeBatch(now, -1, -1, -1, keyed("a", "", "c", "")), kerr.InvalidRecord,
			[]recErr{{1, "with a key"}, {3, "with a key"}}},
		{"null key on a compacted topic, gzip", "compacted", gzipBatch(t, encodeBatch(now, -1, -1, -1, keyed("", "b")), 0), kerr.InvalidRecord,
			[]recErr{{0, "with a key"}}},
		{"keyed records on a compacted topic", "compacted", gzipBatch(t, encodeBatch(now, -1, -1, -1, keyed("a", "b")), 0), nil, nil},
		{"timestamps too old and too new", "plain", encodeBatch(now, -1, -1, -1, []testRecord{
			{value: []byte("ok")}, {value: []byte("old"), ts: -120_000}, {value: []byte("ok")}, {value: []byte("new"), ts: 2 * 3600_000},
		}), kerr.InvalidTimestamp, []recErr{{1, "outside"}, {3, "outside"}}},
		{"too old, gzip", "plain", gzipBatch(t, encodeBatch(now-120_000, -1, -1, -1, values(2, "o")), 0), kerr.InvalidTimestamp,
			[]recErr{{0, "outside"}, {1, "outside"}}},
		{"no timestamp", "plain", encodeBatch(-1, -1, -1, -1, values(1, "n")), nil, nil},
		// As in Kafka, the flag is refused only where it would stamp records.
		{"LogAppendTime flag, records without a timestamp", "plain", logstore.AppendBatch(nil, logstore.BatchOptions{FirstTimestamp: -1, ProducerID: -1, Attributes: 0x08},
			[]logstore.Record{{Value: []byte("x")}}), kerr.InvalidTimestamp, []recErr{{0, "LogAppendTime"}}},
		{"LogAppendTime flag on a LogAppendTime topic", "appendtime", logstore.AppendBatch(nil, logstore.BatchOptions{FirstTimestamp: now, ProducerID: -1, Attributes: 0x08},
			[]logstore.Record{{Value: []byte("x")}, {Value: []byte("y")}}), kerr.InvalidTimestamp, []recErr{{0, "LogAppendTime"}, {1, "LogAppendTime"}}},
		{"LogAppendTime topic", "appendtime", encodeBatch(now-1e9, -1, -1, -1, values(2, "a")), nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hw := b.node.Partition(tc.topic, 0).HighWatermark()
			rp := produceRaw(t, cl, tc.topic, 0, -1, tc.batch)
			want := int16(0)
			if tc.want != nil {
				want = tc.want.Code
			}
			if rp.ErrorCode != want {
				t.Fatalf("error %v (%v), want %v", kerr.ErrorForCode(rp.ErrorCode), deref(rp.ErrorMessage), tc.want)
			}
			if len(rp.ErrorRecords) != len(tc.records) {
				t.Fatalf("record errors %d, want %d", len(rp.ErrorRecords), len(tc.records))
			}
			for i, r := range tc.records {
				got := rp.ErrorRecords[i]
				if got.RelativeOffset != r.index || !strings.Contains(deref(got.ErrorMessage), r.msg) {
					t.Errorf("record error %d: %d %q, want %d with %q", i, got.RelativeOffset, deref(got.ErrorMessage), r.index, r.msg)
				}
			}
			if tc.want != nil && rp.ErrorMessage == nil {
				t.Errorf("no error message")
			}
			if got := b.node.Partition(tc.topic, 0).HighWatermark(); tc.want != nil && got != hw {
				t.Errorf("refused batch moved the high watermark from %d to %d", hw, got)
			}
		})
	}
}

// A batch whose records all have a timestamp below -1 (no Java producer
// sends one; others can) is stored with max timestamp -1, no timestamp, as
// Kafka's LogValidator stores it: its maximum starts at NO_TIMESTAMP and
// only a record above it moves it. It was stored with the records' -4.
func TestProduceMaxTimestampFloor(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "negts", 1, nil)
	two := []testRecord{{value: []byte("a")}, {value: []byte("b"), ts: 1}}
	mixed := []testRecord{{value: []byte("a")}, {value: []byte("b"), ts: 9}}
	for _, s := range []struct {
		name  string
		batch []byte
		want  int64
	}{
		{"-5 and -4", encodeBatch(-5, -1, -1, -1, two), -1},
		{"-5 and -4, gzip", gzipBatch(t, encodeBatch(-5, -1, -1, -1, two), 0), -1},
		{"-2 and 7", encodeBatch(-2, -1, -1, -1, mixed), 7},
	} {
		rp := produceRaw(t, cl, "negts", 0, -1, s.batch)
		if rp.ErrorCode != 0 {
			t.Fatalf("%s: %v", s.name, kerr.ErrorForCode(rp.ErrorCode))
		}
		resp := rawRequest(t, b, fetchReq(11, 0, -1, "negts", map[int32]int64{0: rp.BaseOffset})).(*kmsg.FetchResponse)
		recs := resp.Topics[0].Partitions[0].RecordBatches
		h, err := logstore.ValidateBatch(recs[:12+binary.BigEndian.Uint32(recs[8:])])
		if err != nil {
			t.Fatalf("%s: fetched: %v", s.name, err)
		}
		if h.BaseOffset != rp.BaseOffset || h.MaxTimestamp != s.want || h.TimestampType() != 0 {
			t.Errorf("%s: batch at %d: max timestamp %d type %d, want %d CreateTime", s.name, h.BaseOffset, h.MaxTimestamp, h.TimestampType(), s.want)
		}
	}
}

// A batch's max timestamp is its records', as in Kafka, whatever the
// producer wrote: the time index and ListOffsets rely on it. A CreateTime
// topic's batches are CreateTime, whatever the producer flagged.
func TestProduceFixesMaxTimestamp(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "ts", 1, nil)
	now := time.Now().UnixMilli()
	for _, batch := range [][]byte{
		encodeBatch(now, -1, -1, -1, []testRecord{{value: []byte("a")}, {value: []byte("b"), ts: 5}}),
		gzipBatch(t, encodeBatch(now, -1, -1, -1, []testRecord{{value: []byte("a")}, {value: []byte("b"), ts: 5}}), 0),
		logstore.AppendBatch(nil, logstore.BatchOptions{FirstTimestamp: now, ProducerID: -1, Attributes: 0x08},
			[]logstore.Record{{Value: []byte("a")}, {Value: []byte("b"), TimestampDelta: 5}}),
	} {
		binary.BigEndian.PutUint64(batch[35:], uint64(now+1_000_000)) // a max timestamp no record has
		fixCRC(batch)
		if rp := produceRaw(t, cl, "ts", 0, -1, batch); rp.ErrorCode != 0 {
			t.Fatalf("produce: %v", kerr.ErrorForCode(rp.ErrorCode))
		}
	}
	resp := rawRequest(t, b, fetchReq(11, 0, -1, "ts", map[int32]int64{0: 0})).(*kmsg.FetchResponse)
	recs := resp.Topics[0].Partitions[0].RecordBatches
	n := 0
	for len(recs) > 0 {
		h, err := logstore.ValidateBatch(recs[:12+binary.BigEndian.Uint32(recs[8:])])
		if err != nil {
			t.Fatalf("fetched batch %d: %v", n, err)
		}
		if h.MaxTimestamp != now+5 || h.TimestampType() != 0 {
			t.Errorf("batch %d: max timestamp %d type %d, want %d CreateTime", n, h.MaxTimestamp, h.TimestampType(), now+5)
		}
		recs = recs[h.Size():]
		n++
	}
	if n != 3 {
		t.Fatalf("fetched %d batches, want 3", n)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// A produce with acks=0 gets no answer; as in Kafka, one that fails closes
// its connection (once the requests before it are answered), so the client
// learns of it. One that succeeds leaves the connection serving.
func TestProduceAcksZeroFailureCloses(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "z", 1, nil)
	now := time.Now().UnixMilli()
	produce := func(topic string, acks int16, batch []byte) *kmsg.ProduceRequest {
		return produceReq(topic, acks, 5000, batch)
	}
	meta := metadataReq(false, "z")
	meta.Version = 9
	for _, tc := range []struct {
		name   string
		req    *kmsg.ProduceRequest
		closes bool
	}{
		{"stored", produce("z", 0, encodeBatch(now, -1, -1, -1, values(2, "a"))), false},
		{"unknown topic", produce("nope", 0, encodeBatch(now, -1, -1, -1, values(2, "a"))), true},
		{"corrupt batch", produce("z", 0, []byte("not a batch, not at all, not even close to one")), true},
		{"transactional", func() *kmsg.ProduceRequest {
			batch := encodeBatch(now, 5, 0, 0, values(1, "t"))
			batch[22] |= 0x10 // attributes: transactional
			fixCRC(batch)
			r := produce("z", 0, batch)
			r.TransactionID = kmsg.StringPtr("tx")
			return r
		}(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := rawConn(t, b)
			defer conn.Close()
			// An answered request before the produce, one after it.
			f := rawFormatter
			wire := f.AppendRequest(nil, meta, 1)
			wire = append(wire, f.AppendRequest(nil, tc.req, 2)...)
			wire = append(wire, f.AppendRequest(nil, meta, 3)...)
			if _, err := conn.Write(wire); err != nil {
				t.Fatal(err)
			}
			var ids []int32
			for len(ids) < 2 {
				id, _, err := readResponseFrame(conn)
				if err != nil {
					if !errors.Is(err, io.EOF) {
						t.Fatalf("after responses %v: %v, want the connection closed", ids, err)
					}
					break
				}
				ids = append(ids, id)
			}
			want := []int32{1, 3}
			if tc.closes {
				want = []int32{1}
			}
			if fmt.Sprint(ids) != fmt.Sprint(want) {
				t.Fatalf("responses %v, want %v", ids, want)
			}
		})
	}
	if hw := b.node.Partition("z", 0).HighWatermark(); hw != 2 {
		t.Fatalf("high watermark %d, want 2", hw)
	}
}

// acks=all needs min.insync.replicas replicas in sync, as in Kafka; acks=1
// does not.
func TestProduceMinInsyncReplicas(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "isr2", 1, map[string]string{"min.insync.replicas": "2"})
	now := time.Now().UnixMilli()
	if rp := produceRaw(t, cl, "isr2", 0, -1, encodeBatch(now, -1, -1, -1, values(1, "a"))); rp.ErrorCode != kerr.NotEnoughReplicas.Code {
		t.Fatalf("acks=all: %v, want NOT_ENOUGH_REPLICAS", kerr.ErrorForCode(rp.ErrorCode))
	}
	// kgo sends its own acks, so acks=1 goes over a raw connection.
	req := produceReq("isr2", 1, 5000, encodeBatch(now, -1, -1, -1, values(1, "a")))
	rp := rawRequest(t, b, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	if rp.ErrorCode != 0 || rp.BaseOffset != 0 {
		t.Fatalf("acks=1: %v at %d, want stored at 0", kerr.ErrorForCode(rp.ErrorCode), rp.BaseOffset)
	}
}

// The broker's min.insync.replicas is the default of every topic's.
func TestBrokerMinInsyncReplicas(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) { c.MinInsyncReplicas = 2 })
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "isr-default", 1, nil)
	createTopic(t, cl, "isr-one", 1, map[string]string{"min.insync.replicas": "1"})
	now := time.Now().UnixMilli()
	if rp := produceRaw(t, cl, "isr-default", 0, -1, encodeBatch(now, -1, -1, -1, values(1, "a"))); rp.ErrorCode != kerr.NotEnoughReplicas.Code {
		t.Fatalf("broker default 2: %v, want NOT_ENOUGH_REPLICAS", kerr.ErrorForCode(rp.ErrorCode))
	}
	if rp := produceRaw(t, cl, "isr-one", 0, -1, encodeBatch(now, -1, -1, -1, values(1, "a"))); rp.ErrorCode != 0 {
		t.Fatalf("topic override 1: %v", kerr.ErrorForCode(rp.ErrorCode))
	}
}

// log.index.size.max.bytes is the default of every topic's segment.index.bytes.
func TestBrokerLogIndexSizeMaxBytes(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) { c.LogIndexSizeMaxBytes = 2048 })
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "idx-default", 1, nil)
	createTopic(t, cl, "idx-own", 1, map[string]string{"segment.index.bytes": "4096"})
	st := b.node.Controller().State()
	for topic, want := range map[string]int64{"idx-default": 2048, "idx-own": 4096} {
		if got := b.logConfig(b.node.Controller().State(), st.Topics[topic]).SegmentIndexBytes; got != want {
			t.Errorf("%s: segment index bytes %d, want %d", topic, got, want)
		}
	}
	bad := DefaultConfig()
	bad.LogIndexSizeMaxBytes = 1023
	if err := bad.Validate(); err == nil {
		t.Error("log.index.size.max.bytes 1023 accepted")
	}
}

// log.message.timestamp.{before,after}.max.ms are the defaults of every
// topic's message.timestamp.{before,after}.max.ms.
func TestBrokerTimestampBounds(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) {
		c.LogMessageTimestampBeforeMaxMs, c.LogMessageTimestampAfterMaxMs = 60_000, 1000
	})
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "bounds", 1, nil)
	now := time.Now().UnixMilli()
	for _, tc := range []struct {
		ts   int64
		want *kerr.Error
	}{{now, nil}, {now - 120_000, kerr.InvalidTimestamp}, {now + 60_000, kerr.InvalidTimestamp}} {
		rp := produceRaw(t, cl, "bounds", 0, -1, encodeBatch(tc.ts, -1, -1, -1, values(1, "x")))
		want := int16(0)
		if tc.want != nil {
			want = tc.want.Code
		}
		if rp.ErrorCode != want {
			t.Errorf("timestamp now%+d ms: %v, want %v", tc.ts-now, kerr.ErrorForCode(rp.ErrorCode), tc.want)
		}
	}

	// A topic's message.timestamp.difference.max.ms (Kafka 3.x) bounds
	// each side whose own key is set nowhere, as in Kafka 3.6-3.9: here
	// the broker sets both, so it bounds neither; on a broker that sets
	// neither, both.
	createTopic(t, cl, "diff", 1, map[string]string{"message.timestamp.difference.max.ms": "5000"})
	b2 := startBroker(t, t.TempDir(), nil)
	defer b2.Close()
	cl2 := newClient(t, b2)
	createTopic(t, cl2, "diff", 1, map[string]string{"message.timestamp.difference.max.ms": "5000"})
	createTopic(t, cl2, "diff-after", 1, map[string]string{"message.timestamp.difference.max.ms": "5000", "message.timestamp.after.max.ms": "600000"})
	// A broker's log.message.timestamp.difference.max.ms is the topics'
	// default, as in Kafka 3.x.
	b3 := startBroker(t, t.TempDir(), func(c *Config) {
		if err := c.Set("log.message.timestamp.difference.max.ms", "5000"); err != nil {
			t.Fatal(err)
		}
	})
	defer b3.Close()
	cl3 := newClient(t, b3)
	createTopic(t, cl3, "diff", 1, nil)
	now = time.Now().UnixMilli()
	for _, tc := range []struct {
		cl    *kgo.Client
		topic string
		ts    int64
		want  *kerr.Error
	}{
		{cl, "diff", now - 30_000, nil}, {cl, "diff", now + 800, nil}, {cl, "diff", now - 120_000, kerr.InvalidTimestamp},
		{cl2, "diff", now - 30_000, kerr.InvalidTimestamp}, {cl2, "diff", now + 30_000, kerr.InvalidTimestamp}, {cl2, "diff", now, nil},
		{cl2, "diff-after", now + 30_000, nil}, {cl2, "diff-after", now - 30_000, kerr.InvalidTimestamp},
		{cl3, "diff", now - 30_000, kerr.InvalidTimestamp}, {cl3, "diff", now + 30_000, kerr.InvalidTimestamp}, {cl3, "diff", now, nil},
	} {
		rp := produceRaw(t, tc.cl, tc.topic, 0, -1, encodeBatch(tc.ts, -1, -1, -1, values(1, "x")))
		want := int16(0)
		if tc.want != nil {
			want = tc.want.Code
		}
		if rp.ErrorCode != want {
			t.Errorf("%s (broker %d): timestamp now%+d ms: %v, want %v", tc.topic, map[*kgo.Client]int{cl: 1, cl2: 2, cl3: 3}[tc.cl], tc.ts-now, kerr.ErrorForCode(rp.ErrorCode), tc.want)
		}
	}
}

// On a LogAppendTime topic the append times follow the log: stamped under
// the partition's append lock, they never go back from one batch to the
// next, however many connections produce at once; each answer carries its
// batch's stored time. As in Kafka, only the max timestamp is stamped: the
// base timestamp stays the producer's.
func TestLogAppendTimeFollowsTheLog(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	setup := newClient(t, b)
	createTopic(t, setup, "lat", 1, map[string]string{"message.timestamp.type": "LogAppendTime"})
	const producers, each = 8, 250
	answered := make([]map[int64]int64, producers) // offset -> answered time
	var wg sync.WaitGroup
	for p := range producers {
		answered[p] = map[int64]int64{}
		cl := newClient(t, b) // a connection of its own
		wg.Go(func() {
			for range each {
				rp := produceRaw(t, cl, "lat", 0, -1, encodeBatch(1, -1, -1, -1, values(1, "x")))
				if rp.ErrorCode != 0 {
					t.Errorf("produce: %v", kerr.ErrorForCode(rp.ErrorCode))
					return
				}
				answered[p][rp.BaseOffset] = rp.LogAppendTime
			}
		})
	}
	wg.Wait()
	part := b.node.Partition("lat", 0)
	stored, err := part.Log().Read(0, 64<<20, part.HighWatermark())
	if err != nil {
		t.Fatal(err)
	}
	batches, err := logstore.SplitBatches(stored)
	if err != nil || len(batches) != producers*each {
		t.Fatalf("%d batches (%v), want %d", len(batches), err, producers*each)
	}
	last := int64(0)
	for _, raw := range batches {
		h, _ := logstore.ParseBatchHeader(raw)
		if h.MaxTimestamp < last {
			t.Fatalf("offset %d: append time %d after %d", h.BaseOffset, h.MaxTimestamp, last)
		}
		last = h.MaxTimestamp
		if h.TimestampType() != 1 || h.BaseTimestamp != 1 {
			t.Fatalf("offset %d: timestamp type %d, base timestamp %d; want LogAppendTime and the producer's 1", h.BaseOffset, h.TimestampType(), h.BaseTimestamp)
		}
		for p := range producers {
			if ts, ok := answered[p][h.BaseOffset]; ok && ts != h.MaxTimestamp {
				t.Fatalf("offset %d answered append time %d, stored %d", h.BaseOffset, ts, h.MaxTimestamp)
			}
		}
	}
}
