package broker

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gokafka/gokafka/logstore"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// Produce v0–v2 and fetch v0–v3 carry the message formats before Kafka 0.11
// (magic 0 and 1). As Kafka 3.x, the broker converts them: franz-go pinned
// to Kafka 0.9 (produce v1, fetch v1: magic 0) and 0.10.2 (produce v2,
// fetch v3: magic 1) writes and reads, and what one client version writes,
// every other reads.
func TestOldMessageFormats(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	admin := newClient(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	type client struct {
		name     string
		versions *kversion.Versions // nil: the newest
		magic    int8
	}
	clients := []client{{"0.9", kversion.V0_9_0(), 0}, {"0.10.2", kversion.V0_10_2(), 1}, {"new", nil, 2}}
	ts := time.UnixMilli(1_700_000_000_000)
	for _, w := range clients {
		for _, cc := range []struct {
			name   string
			codec  kgo.CompressionCodec
			topic  string // the topic's compression.type, "" for the default (producer)
			stored int8   // the codec the batches are stored in
		}{
			{"none", kgo.NoCompression(), "", logstore.CodecNone},
			{"gzip", kgo.GzipCompression(), "", logstore.CodecGzip},
			{"lz4", kgo.Lz4Compression(), "", logstore.CodecLZ4},
			{"gzip-to-snappy", kgo.GzipCompression(), "snappy", logstore.CodecSnappy},
		} {
			codec := cc.name
			topic := fmt.Sprintf("old-%s-%s", w.name, codec)
			var configs map[string]string
			if cc.topic != "" {
				configs = map[string]string{"compression.type": cc.topic}
			}
			createTopic(t, admin, topic, 1, configs)
			opts := []kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(cc.codec), kgo.ProducerLinger(50 * time.Millisecond)}
			if w.versions != nil {
				opts = append(opts, kgo.MaxVersions(w.versions))
			}
			p := newClient(t, b, opts...)
			const n = 50
			var recs []*kgo.Record
			for i := range n {
				r := &kgo.Record{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte(fmt.Sprintf("v%d", i)), Timestamp: ts.Add(time.Duration(i) * time.Millisecond)}
				if i == 0 {
					r.Key = nil
				}
				if w.magic == 2 {
					r.Headers = []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}
				}
				recs = append(recs, r)
			}
			if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatalf("%s producer, %s: %v", w.name, codec, err)
			}
			for i, r := range recs {
				if r.Offset != int64(i) {
					t.Fatalf("%s producer, %s: record %d acknowledged at offset %d", w.name, codec, i, r.Offset)
				}
			}
			part := b.node.Partition(topic, 0)
			stored, err := part.Log().Read(0, 1<<20, part.HighWatermark())
			if err != nil {
				t.Fatal(err)
			}
			if h, err := logstore.ParseBatchHeader(stored); err != nil || h.Compression() != cc.stored {
				t.Fatalf("%s producer, %s: stored batch codec %d (%v), want %d", w.name, codec, h.Compression(), err, cc.stored)
			}
			for _, rd := range clients {
				opts := []kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}})}
				if rd.versions != nil {
					opts = append(opts, kgo.MaxVersions(rd.versions))
				}
				c := newClient(t, b, opts...)
				var got []*kgo.Record
				for len(got) < n && ctx.Err() == nil {
					fs := c.PollFetches(ctx)
					if err := fs.Err(); err != nil {
						t.Fatalf("%s consumer of %s producer, %s: %v", rd.name, w.name, codec, err)
					}
					got = append(got, fs.Records()...)
				}
				c.Close()
				if len(got) != n {
					t.Fatalf("%s consumer of %s producer, %s: %d records", rd.name, w.name, codec, len(got))
				}
				for i, r := range got {
					want := recs[i]
					gotTS := r.Timestamp.UnixMilli()
					if r.Timestamp.IsZero() {
						gotTS = -1 // franz-go's time for a magic 0 message
					}
					wantTS := want.Timestamp.UnixMilli()
					if w.magic == 0 || rd.magic == 0 {
						wantTS = -1 // magic 0 has no timestamps
					}
					wantHeaders := 0
					if w.magic == 2 && rd.magic == 2 {
						wantHeaders = 1 // messages have no headers
					}
					if r.Offset != int64(i) || string(r.Key) != string(want.Key) || (r.Key == nil) != (want.Key == nil) ||
						string(r.Value) != string(want.Value) || gotTS != wantTS || len(r.Headers) != wantHeaders {
						t.Fatalf("%s consumer of %s producer, %s: record %d: offset %d key %q value %q ts %d headers %d; want key %q value %q ts %d headers %d",
							rd.name, w.name, codec, i, r.Offset, r.Key, r.Value, gotTS, len(r.Headers), want.Key, want.Value, wantTS, wantHeaders)
					}
				}
			}
		}
	}
}

// A produce v0–v2 message set that is damaged or that Kafka would refuse
// gets Kafka's error, and the partition takes nothing; the same set is
// refused on produce v3+, which takes only magic-2 batches.
func TestOldMessageFormatErrors(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "old-errors", 1, nil)
	msg := func(magic int8, attrs int8, value []byte) []byte {
		var out []byte
		if magic == 0 {
			m := kmsg.MessageV0{Attributes: attrs, Value: value}
			out = m.AppendTo(nil)
		} else {
			m := kmsg.MessageV1{Magic: 1, Attributes: attrs, Timestamp: time.Now().UnixMilli(), Value: value}
			out = m.AppendTo(nil)
		}
		binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
		binary.BigEndian.PutUint32(out[12:], crc32.ChecksumIEEE(out[16:]))
		return out
	}
	good := msg(1, 0, []byte("v"))
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(good)
	zw.Close()
	wrapped := msg(1, 1, zipped.Bytes())
	// A wrapper of three messages at inner offsets 0-2, its own offset 1.
	zipped.Reset()
	zw = gzip.NewWriter(&zipped)
	for i := range 3 {
		m := append([]byte(nil), good...)
		binary.BigEndian.PutUint64(m, uint64(i))
		zw.Write(m)
	}
	zw.Close()
	wrappedAt1 := msg(1, 1, zipped.Bytes())
	binary.BigEndian.PutUint64(wrappedAt1, 1)
	badCRC := append([]byte(nil), good...)
	badCRC[len(badCRC)-1] ^= 1
	produce := func(version int16, set []byte) kmsg.ProduceResponseTopicPartition {
		req := produceReq("old-errors", -1, 5000, set)
		req.Version = version
		return rawRequest(t, b, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	}
	for _, c := range []struct {
		name    string
		version int16
		set     []byte
		want    *kerr.Error
	}{
		{"bad crc", 2, badCRC, kerr.CorruptMessage},
		{"not gzip", 2, msg(1, 1, []byte("not gzip")), kerr.InvalidRecord},
		{"zstd in magic 1", 2, msg(1, 4, []byte("x")), kerr.InvalidRecord},
		{"size below a message's", 0, append(make([]byte, 8), 0, 0, 0, 5, 1, 2, 3, 4, 5), kerr.CorruptMessage},
		{"magic 1 on v3", 3, good, kerr.InvalidRecord},
		{"too large", 2, msg(1, 0, make([]byte, 1<<20+1)), kerr.MessageTooLarge},
		// As Kafka's LogValidator: a set's messages share one magic, and a
		// compressed one must be the set's only message.
		{"magic 0 then magic 1", 1, append(msg(0, 0, []byte("v")), good...), kerr.InvalidRecord},
		{"two wrappers", 2, append(append([]byte(nil), wrapped...), wrapped...), kerr.InvalidRecord},
		{"message then wrapper", 2, append(append([]byte(nil), good...), wrapped...), kerr.InvalidRecord},
		{"wrapper offset below its last inner one", 2, wrappedAt1, kerr.InvalidRecord},
	} {
		got := produce(c.version, c.set)
		if got.ErrorCode != c.want.Code {
			t.Errorf("%s: error %v, want %v", c.name, kerr.ErrorForCode(got.ErrorCode), c.want)
		}
	}
	// As Kafka's validateTimestamp: a message the producer flags
	// LogAppendTime is refused where that would stamp its records (a
	// LogAppendTime topic, or a message without a timestamp), and on a
	// CreateTime topic otherwise stored with its own timestamp.
	flagged := func(ts int64) []byte {
		m := kmsg.MessageV1{Magic: 1, Attributes: 0x08, Timestamp: ts, Value: []byte("v")}
		out := m.AppendTo(nil)
		binary.BigEndian.PutUint32(out[8:], uint32(len(out)-12))
		binary.BigEndian.PutUint32(out[12:], crc32.ChecksumIEEE(out[16:]))
		return out
	}
	createTopic(t, cl, "old-flagged", 1, nil)
	createTopic(t, cl, "old-flagged-lat", 1, map[string]string{"message.timestamp.type": "LogAppendTime"})
	now := time.Now().UnixMilli()
	for _, c := range []struct {
		name, topic string
		set         []byte
		want        int16
	}{
		{"flagged, no timestamp", "old-flagged", flagged(-1), kerr.InvalidTimestamp.Code},
		{"flagged, on a LogAppendTime topic", "old-flagged-lat", flagged(now), kerr.InvalidTimestamp.Code},
		{"flagged, with a timestamp", "old-flagged", flagged(now), 0},
	} {
		req := produceReq(c.topic, -1, 5000, c.set)
		req.Version = 2
		if got := rawRequest(t, b, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]; got.ErrorCode != c.want {
			t.Errorf("%s: error %v, want %v", c.name, kerr.ErrorForCode(got.ErrorCode), kerr.ErrorForCode(c.want))
		}
	}
	if got := listOffsets(t, b, 1, "old-flagged", -1).Offset; got != 1 {
		t.Errorf("old-flagged end offset %d, want 1", got)
	}
	flaggedPart := b.node.Partition("old-flagged", 0)
	stored, err := flaggedPart.Log().Read(0, 1<<20, flaggedPart.HighWatermark())
	if h, herr := logstore.ParseBatchHeader(stored); err != nil || herr != nil || h.TimestampType() != 0 || h.MaxTimestamp != now {
		t.Errorf("flagged message stored as %+v (%v, %v), want CreateTime at %d", h, err, herr, now)
	}

	// As Kafka: produce v0-v2 drop a message cut short at the end of the
	// set and append the whole ones before it; a set with no whole message
	// (none at all, or only the start of one) appends nothing and is
	// answered without an error, base offset -1. (v3 and later must carry
	// a batch.)
	createTopic(t, cl, "old-cut", 1, nil)
	produceCut := func(version int16, set []byte) kmsg.ProduceResponseTopicPartition {
		req := produceReq("old-cut", -1, 5000, set)
		req.Version = version
		return rawRequest(t, b, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	}
	two := append(append([]byte(nil), msg(1, 0, []byte("a"))...), msg(1, 0, []byte("b"))...)
	for _, c := range []struct {
		name    string
		version int16
		set     []byte
		base    int64
		want    *kerr.Error
	}{
		{"whole then cut", 2, append(append([]byte(nil), good...), good[:len(good)-2]...), 0, nil},
		{"two whole then cut", 1, append(append([]byte(nil), two...), two[:20]...), 1, nil},
		{"only a cut message", 2, good[:len(good)-2], -1, nil},
		{"only the first bytes of one", 0, msg(0, 0, []byte("x"))[:10], -1, nil},
		{"empty on v2", 2, nil, -1, nil},
		{"empty on v3", 3, nil, -1, kerr.InvalidRecord},
	} {
		got := produceCut(c.version, c.set)
		want := int16(0)
		if c.want != nil {
			want = c.want.Code
		}
		if got.ErrorCode != want || got.BaseOffset != c.base {
			t.Errorf("%s: error %v base %d, want %v base %d", c.name, kerr.ErrorForCode(got.ErrorCode), got.BaseOffset, c.want, c.base)
		}
	}
	if hw := listOffsets(t, b, 1, "old-cut", -1).Offset; hw != 3 {
		t.Errorf("after the cut sets, end offset %d, want 3 (a, then a and b)", hw)
	}

	// max.message.bytes holds a message set to the batch it converts to,
	// as Kafka 3.x: 300 small magic-1 messages take 13,200 bytes, the
	// batch of their records about 5,500.
	createTopic(t, cl, "old-many", 1, map[string]string{"max.message.bytes": "10000"})
	var many []byte
	for range 300 {
		many = append(many, msg(1, 0, []byte("0123456789"))...)
	}
	req := produceReq("old-many", -1, 5000, many)
	req.Version = 2
	if got := rawRequest(t, b, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]; got.ErrorCode != 0 {
		t.Fatalf("a set of %d bytes converting to a batch under max.message.bytes: %v", len(many), kerr.ErrorForCode(got.ErrorCode))
	}
	for v := int16(0); v <= 2; v++ {
		if got := produce(v, good); got.ErrorCode != 0 || got.BaseOffset != int64(v) {
			t.Fatalf("produce v%d of a good set: error %v at offset %d", v, kerr.ErrorForCode(got.ErrorCode), got.BaseOffset)
		}
	}

	// Fetch v0 of a mid-log offset gets magic 0 messages from it on, and the
	// high watermark.
	fr := kmsg.NewPtrFetchRequest()
	fr.Version, fr.ReplicaID, fr.MaxWaitMillis = 0, -1, 100
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "old-errors"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.FetchOffset, fp.PartitionMaxBytes = 1, 1<<20
	ft.Partitions = append(ft.Partitions, fp)
	fr.Topics = append(fr.Topics, ft)
	p := rawRequest(t, b, fr).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	if p.ErrorCode != 0 || p.HighWatermark != 3 {
		t.Fatalf("fetch v0: error %v, high watermark %d", kerr.ErrorForCode(p.ErrorCode), p.HighWatermark)
	}
	var offsets []int64
	for rest := p.RecordBatches; len(rest) > 0; {
		var m kmsg.MessageV0
		size := 12 + int(binary.BigEndian.Uint32(rest[8:]))
		if err := m.ReadFrom(rest[:size]); err != nil || m.Magic != 0 || string(m.Value) != "v" {
			t.Fatalf("fetch v0 message: %+v, %v", m, err)
		}
		offsets = append(offsets, m.Offset)
		rest = rest[size:]
	}
	if fmt.Sprint(offsets) != "[1 2]" {
		t.Fatalf("fetch v0 from offset 1 got offsets %v", offsets)
	}
}

// A fetch v0-v3 of records whose down-converted bytes, read as a batch
// header, give a negative record count: the broker used to count them
// after the conversion, and the records-out counter's panic on a negative
// increment ended the process. Now they are counted before it, as stored.
func TestOldFetchCountsStoredRecords(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "oldcount", 1, nil)
	value := bytes.Repeat([]byte{0xff}, 100)
	batch := encodeBatch(time.Now().UnixMilli(), -1, -1, -1, []testRecord{{value: value}})
	if rp := produceRaw(t, cl, "oldcount", 0, -1, batch); rp.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(rp.ErrorCode))
	}
	for _, v := range []int16{0, 1, 2, 3} {
		resp := rawRequest(t, b, fetchReq(v, 0, -1, "oldcount", map[int32]int64{0: 0})).(*kmsg.FetchResponse)
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.RecordBatches) == 0 {
			t.Fatalf("fetch v%d: %v, %d bytes", v, kerr.ErrorForCode(p.ErrorCode), len(p.RecordBatches))
		}
	}
	if got, ok := metricValues(t, b, "gokafka_topic_records_out_total")["oldcount"]; got != 4 {
		t.Errorf("records out %v (counted: %v), want 4 (one record, fetched four times)", got, ok)
	}
}

// Fetch v0-v2 predate KIP-74: their byte limits are hard, so a message
// larger than the partition's limit comes back cut at the limit (which an
// old client reports as a message too large for its fetch size), as from
// Kafka 3.x; from v3 on, the first message goes whole.
func TestOldFetchHardLimit(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "oldlimit", 1, nil)
	batch := encodeBatch(time.Now().UnixMilli(), -1, -1, -1, []testRecord{{value: bytes.Repeat([]byte{'x'}, 5000)}, {value: []byte("small")}})
	if rp := produceRaw(t, cl, "oldlimit", 0, -1, batch); rp.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(rp.ErrorCode))
	}
	for _, v := range []int16{0, 1, 2, 3, 4} {
		req := fetchReq(v, 0, -1, "oldlimit", map[int32]int64{0: 0})
		req.Topics[0].Partitions[0].PartitionMaxBytes = 1000
		p := rawRequest(t, b, req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
		switch {
		case p.ErrorCode != 0:
			t.Errorf("fetch v%d: %v", v, kerr.ErrorForCode(p.ErrorCode))
		case v <= 2 && len(p.RecordBatches) != 1000:
			t.Errorf("fetch v%d with a 1000-byte limit returned %d bytes, want the set cut at 1000", v, len(p.RecordBatches))
		case v > 2 && len(p.RecordBatches) < 5000:
			t.Errorf("fetch v%d returned %d bytes, want the first message whole (KIP-74)", v, len(p.RecordBatches))
		}
	}
}

// Kafka holds the stored batches of fetch v0-v2 to the partition's limit,
// not the messages they convert to: a compressed batch within the limit
// whose message is larger uncompressed goes whole, as Kafka's
// LazyDownConversionRecords sends at least its first converted batch. The
// broker used to cut the converted message at the limit, so an old
// consumer (kafka-python pinned to 0.10.0) stopped for good at a record it
// reads from Kafka.
func TestOldFetchHardLimitIsTheStoredBatch(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "oldlimit3", 1, map[string]string{"compression.type": "gzip"})
	value := bytes.Repeat([]byte{'x'}, 5000)
	batch := encodeBatch(time.Now().UnixMilli(), -1, -1, -1, []testRecord{{value: value}})
	if rp := produceRaw(t, cl, "oldlimit3", 0, -1, batch); rp.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(rp.ErrorCode))
	}
	for _, v := range []int16{0, 1, 2, 3} {
		req := fetchReq(v, 0, -1, "oldlimit3", map[int32]int64{0: 0})
		req.Topics[0].Partitions[0].PartitionMaxBytes = 1000
		p := rawRequest(t, b, req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
		if p.ErrorCode != 0 {
			t.Fatalf("fetch v%d: %v", v, kerr.ErrorForCode(p.ErrorCode))
		}
		// One whole message: offset, size, then the message it says.
		if n := len(p.RecordBatches); n < 12 || int(binary.BigEndian.Uint32(p.RecordBatches[8:]))+12 != n {
			t.Errorf("fetch v%d of a gzip batch under its 1000-byte limit returned %d bytes, want its %d-byte message whole", v, n, len(value))
		} else if !bytes.HasSuffix(p.RecordBatches, value) {
			t.Errorf("fetch v%d: the message does not end in its value", v)
		}
	}
}

// The cut is the partition's limit only: a message within it goes whole
// to fetch v0-v2 even past the broker's fetch.max.bytes, as before.
func TestOldFetchHardLimitIsThePartitions(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) { c.FetchMaxBytes = 1024 })
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "oldlimit2", 1, nil)
	batch := encodeBatch(time.Now().UnixMilli(), -1, -1, -1, []testRecord{{value: bytes.Repeat([]byte{'x'}, 2000)}})
	if rp := produceRaw(t, cl, "oldlimit2", 0, -1, batch); rp.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(rp.ErrorCode))
	}
	req := fetchReq(2, 0, -1, "oldlimit2", map[int32]int64{0: 0})
	req.Topics[0].Partitions[0].PartitionMaxBytes = 1 << 20
	p := rawRequest(t, b, req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	if p.ErrorCode != 0 || len(p.RecordBatches) < 2000 {
		t.Errorf("fetch v2 of a 2000-byte message under a 1 MiB partition limit: %v, %d bytes, want it whole", kerr.ErrorForCode(p.ErrorCode), len(p.RecordBatches))
	}
}

// Fetch v0-v3 cannot carry zstd, so, as Kafka's lazy down-conversion, the
// batches before the first zstd one go converted and a fetch that starts at
// it gets UNSUPPORTED_COMPRESSION_TYPE; the records after it are read again.
// The broker used to refuse the whole read when any zstd batch was in it,
// leaving an old consumer stuck before records it can read.
func TestOldFetchStopsBeforeZstd(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "oldzstd", 1, nil)
	plain := func() {
		t.Helper()
		batch := encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(3, "p"))
		if rp := produceRaw(t, cl, "oldzstd", 0, -1, batch); rp.ErrorCode != 0 {
			t.Fatal(kerr.ErrorForCode(rp.ErrorCode))
		}
	}
	plain() // offsets 0-2
	zcl := newClient(t, b, kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.DefaultProduceTopic("oldzstd"))
	if err := zcl.ProduceSync(context.Background(), &kgo.Record{Value: bytes.Repeat([]byte("z"), 500)}).FirstErr(); err != nil {
		t.Fatalf("zstd produce: %v", err) // offset 3
	}
	plain() // offsets 4-6

	offsets := func(set []byte) (out []int64) {
		for len(set) >= 12 {
			n := 12 + int(binary.BigEndian.Uint32(set[8:]))
			if n > len(set) {
				break
			}
			out = append(out, int64(binary.BigEndian.Uint64(set)))
			set = set[n:]
		}
		return out
	}
	for _, v := range []int16{0, 1, 2, 3} {
		for _, c := range []struct {
			from int64
			code int16
			want []int64
		}{
			{0, 0, []int64{0, 1, 2}},
			{1, 0, []int64{1, 2}},
			{3, kerr.UnsupportedCompressionType.Code, nil},
			{4, 0, []int64{4, 5, 6}},
		} {
			p := rawRequest(t, b, fetchReq(v, 0, -1, "oldzstd", map[int32]int64{0: c.from})).(*kmsg.FetchResponse).Topics[0].Partitions[0]
			if got := offsets(p.RecordBatches); p.ErrorCode != c.code || !slices.Equal(got, c.want) {
				t.Errorf("fetch v%d from %d: error %d, offsets %v; want error %d, offsets %v", v, c.from, p.ErrorCode, got, c.code, c.want)
			}
			if c.code != 0 && p.HighWatermark != -1 {
				t.Errorf("fetch v%d from %d: high watermark %d with the error, want -1", v, c.from, p.HighWatermark)
			}
		}
	}
}

// As Kafka's maybeDownConvertStorageError: fetch v5 and older get a storage
// error as NOT_LEADER_OR_FOLLOWER, which their clients know to retry after
// a metadata refresh, where KAFKA_STORAGE_ERROR (added with fetch v6's
// clients) is to them an unknown, fatal error. Here a stored batch that no
// longer parses fails its down-conversion for fetch v0-v3.
func TestOldFetchStorageErrorIsNotLeader(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "oldstorage", 1, nil)
	batch := encodeBatch(time.Now().UnixMilli(), -1, -1, -1, []testRecord{{value: []byte("a")}, {value: []byte("b")}})
	if rp := produceRaw(t, cl, "oldstorage", 0, -1, batch); rp.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(rp.ErrorCode))
	}
	f, err := os.OpenFile(filepath.Join(dir, "oldstorage-0", "00000000000000000000.log"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The batch's record count (at byte 57) past the records it holds.
	if _, err := f.WriteAt([]byte{0, 0, 3, 0}, 57); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, v := range []int16{0, 3} {
		resp := rawRequest(t, b, fetchReq(v, 0, -1, "oldstorage", map[int32]int64{0: 0})).(*kmsg.FetchResponse)
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode != kerr.NotLeaderForPartition.Code {
			t.Errorf("fetch v%d: %v, want NOT_LEADER_OR_FOLLOWER", v, kerr.ErrorForCode(p.ErrorCode))
		}
	}
}

// Kafka 3.x's message.downconversion.enable=false refuses fetch v0–v3 (which
// wants magic 0 or 1 messages) a topic's records with UNSUPPORTED_VERSION,
// while fetch v4 and later read them as stored; message.format.version is
// taken for a known Kafka version and refused otherwise.
func TestDownConversionDisabled(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "noconv", 1, map[string]string{"message.downconversion.enable": "false", "message.format.version": "2.8-IV1"})
	batch := encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(2, "v"))
	if rp := produceRaw(t, cl, "noconv", 0, -1, batch); rp.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(rp.ErrorCode))
	}
	fetch := func(v int16) kmsg.FetchResponseTopicPartition {
		return rawRequest(t, b, fetchReq(v, 0, -1, "noconv", map[int32]int64{0: 0})).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	}
	for _, v := range []int16{0, 1, 2, 3} {
		if p := fetch(v); p.ErrorCode != kerr.UnsupportedVersion.Code || len(p.RecordBatches) != 0 || p.HighWatermark != -1 {
			t.Errorf("fetch v%d: %v, %d bytes, high watermark %d; want UNSUPPORTED_VERSION, nothing, -1", v, kerr.ErrorForCode(p.ErrorCode), len(p.RecordBatches), p.HighWatermark)
		}
	}
	if p := fetch(4); p.ErrorCode != 0 || len(p.RecordBatches) == 0 {
		t.Errorf("fetch v4: %v, %d bytes; want the batch", kerr.ErrorForCode(p.ErrorCode), len(p.RecordBatches))
	}
	if code := alterConfig(t, cl, kmsg.ConfigResourceTypeTopic, "noconv", "message.downconversion.enable", "true"); code != 0 {
		t.Fatal(kerr.ErrorForCode(code))
	}
	if p := fetch(3); p.ErrorCode != 0 || len(p.RecordBatches) == 0 {
		t.Errorf("fetch v3 once enabled: %v, %d bytes; want the messages", kerr.ErrorForCode(p.ErrorCode), len(p.RecordBatches))
	}
	for _, v := range []string{"0.10.2", "0.10.0-IV1", "0.11.0.3", "1.1", "2.8", "2.8.1.2", "3.0-IV1", "3.0.5", "3.9"} {
		if code := alterConfig(t, cl, kmsg.ConfigResourceTypeTopic, "noconv", "message.format.version", v); code != 0 {
			t.Errorf("message.format.version=%s: %v", v, kerr.ErrorForCode(code))
		}
	}
	for _, v := range []string{"", "abc", "4.0", "0.10", "2.9", "3.0-IVx", "2.8-IV9", "0.12.0"} {
		if code := alterConfig(t, cl, kmsg.ConfigResourceTypeTopic, "noconv", "message.format.version", v); code != kerr.InvalidConfig.Code {
			t.Errorf("message.format.version=%q: %v, want INVALID_CONFIG", v, kerr.ErrorForCode(code))
		}
	}
}

// A topic's format refused to the fetch's version (zstd before fetch v10,
// down-conversion disabled for v0–v3) is answered as Kafka answers it, once
// its delayed fetch is done: a fetch at the tail waits MaxWait for records
// before it gets the error, instead of getting it at once and fetching
// again in a loop (with every other partition of its request); one with
// records there gets it at once.
func TestOldFetchRefusedFormatWaits(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "zwait", 1, map[string]string{"compression.type": "zstd"})
	createTopic(t, cl, "cwait", 1, map[string]string{"message.downconversion.enable": "false"})
	for _, c := range []struct {
		v     int16
		topic string
		want  int16
	}{{9, "zwait", kerr.UnsupportedCompressionType.Code}, {3, "cwait", kerr.UnsupportedVersion.Code}} {
		fetch := func(offset int64, maxWait int32) (kmsg.FetchResponseTopicPartition, time.Duration) {
			req := fetchReq(c.v, 0, -1, c.topic, map[int32]int64{0: offset})
			req.MaxWaitMillis, req.MinBytes = maxWait, 1
			start := time.Now()
			p := rawRequest(t, b, req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
			return p, time.Since(start)
		}
		p, took := fetch(0, 1000)
		if p.ErrorCode != c.want || took < 800*time.Millisecond {
			t.Errorf("fetch v%d of %s at the tail: %v after %v; want %v after MaxWait (1 s)", c.v, c.topic, kerr.ErrorForCode(p.ErrorCode), took, kerr.ErrorForCode(c.want))
		}
		if rp := produceRaw(t, cl, c.topic, 0, -1, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(1, "r"))); rp.ErrorCode != 0 {
			t.Fatal(kerr.ErrorForCode(rp.ErrorCode))
		}
		if p, took := fetch(0, 5000); p.ErrorCode != c.want || took > 2500*time.Millisecond {
			t.Errorf("fetch v%d of %s with a record: %v after %v; want %v at once", c.v, c.topic, kerr.ErrorForCode(p.ErrorCode), took, kerr.ErrorForCode(c.want))
		}
		// Off the log: Kafka's read fails, which ends its wait.
		if p, took := fetch(100, 5000); p.ErrorCode != c.want || took > 2500*time.Millisecond {
			t.Errorf("fetch v%d of %s past the log's end: %v after %v; want %v at once", c.v, c.topic, kerr.ErrorForCode(p.ErrorCode), took, kerr.ErrorForCode(c.want))
		}
		// At the tail again, woken by a produce.
		produced := produceAfter(t, cl, c.topic, "w", nil)
		if p, took := fetch(1, 5000); p.ErrorCode != c.want || took > 2500*time.Millisecond {
			t.Errorf("fetch v%d of %s woken by a produce: %v after %v; want %v once it is woken", c.v, c.topic, kerr.ErrorForCode(p.ErrorCode), took, kerr.ErrorForCode(c.want))
		}
		produced()
	}
}
