package broker

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gokafka/gokafka/logstore"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A topic whose compression.type names a codec stores every batch in it,
// whatever the producer used, at the topic's level for it, as Kafka does;
// "producer" keeps the producer's. Consumers read the same records either
// way, and the batch as stored is held to max.message.bytes. A fetch older
// than v10 may not read zstd batches.
func TestProduceTopicCompression(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	cases := []struct {
		topicCodec string
		producer   kgo.CompressionCodec
		stored     int8
	}{
		{"lz4", kgo.ZstdCompression(), logstore.CodecLZ4},
		{"zstd", kgo.NoCompression(), logstore.CodecZstd},
		{"gzip", kgo.SnappyCompression(), logstore.CodecGzip},
		{"snappy", kgo.GzipCompression(), logstore.CodecSnappy},
		{"uncompressed", kgo.Lz4Compression(), logstore.CodecNone},
		{"producer", kgo.SnappyCompression(), logstore.CodecSnappy},
	}
	for _, c := range cases {
		topic := "compress-" + c.topicCodec
		createTopic(t, cl, topic, 1, map[string]string{"compression.type": c.topicCodec})
		pcl := newClient(t, b, kgo.ProducerBatchCompression(c.producer), kgo.DefaultProduceTopic(topic))
		var sent []*kgo.Record
		for i := range 50 {
			sent = append(sent, &kgo.Record{
				Key:     fmt.Appendf(nil, "k%d", i),
				Value:   bytes.Repeat([]byte{'a' + byte(i%26)}, 100),
				Headers: []kgo.RecordHeader{{Key: "n", Value: fmt.Appendf(nil, "%d", i)}},
			})
		}
		if err := pcl.ProduceSync(context.Background(), sent...).FirstErr(); err != nil {
			t.Fatalf("%s: produce: %v", topic, err)
		}

		// The batches as stored.
		resp := rawRequest(t, b, fetchReq(11, 0, -1, topic, map[int32]int64{0: 0})).(*kmsg.FetchResponse)
		fp := resp.Topics[0].Partitions[0]
		if fp.ErrorCode != 0 || len(fp.RecordBatches) == 0 {
			t.Fatalf("%s: fetch: error %d, %d bytes", topic, fp.ErrorCode, len(fp.RecordBatches))
		}
		batches, err := logstore.SplitBatches(fp.RecordBatches)
		if err != nil {
			t.Fatal(err)
		}
		for _, batch := range batches {
			h, _, err := logstore.CheckBatch(batch)
			if err != nil {
				t.Fatalf("%s: stored batch: %v", topic, err)
			}
			if h.Compression() != c.stored {
				t.Fatalf("%s: batch stored with codec %d, want %d", topic, h.Compression(), c.stored)
			}
		}

		// What a consumer reads.
		ccl := newClient(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var got []*kgo.Record
		for len(got) < len(sent) && ctx.Err() == nil {
			ccl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, r) })
		}
		cancel()
		if len(got) != len(sent) {
			t.Fatalf("%s: consumed %d records, want %d", topic, len(got), len(sent))
		}
		for i, r := range got {
			s := sent[i]
			if r.Offset != int64(i) || !bytes.Equal(r.Key, s.Key) || !bytes.Equal(r.Value, s.Value) ||
				len(r.Headers) != 1 || !bytes.Equal(r.Headers[0].Value, s.Headers[0].Value) {
				t.Fatalf("%s: record %d is %+v, sent %+v", topic, i, r, s)
			}
		}
	}

	// zstd came with fetch v10: as in Kafka, an older fetch of a topic
	// whose compression.type is zstd is refused; one of a topic leaving
	// the codec to producers gets their zstd batches as stored, unless it
	// predates magic-2 batches (v0–v3), which cannot hold them: those get
	// the records before the zstd batch, and the error from it on.
	zcl := newClient(t, b, kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.DefaultProduceTopic("compress-producer"))
	if err := zcl.ProduceSync(context.Background(), &kgo.Record{Value: bytes.Repeat([]byte("z"), 500)}).FirstErr(); err != nil {
		t.Fatalf("zstd produce: %v", err)
	}
	for _, c := range []struct {
		topic   string
		version int16
		from    int64
		code    int16
	}{
		{"compress-zstd", 9, 0, kerr.UnsupportedCompressionType.Code},
		{"compress-zstd", 10, 0, 0},
		{"compress-lz4", 9, 0, 0},
		{"compress-producer", 9, 0, 0},
		{"compress-producer", 4, 0, 0},
		{"compress-producer", 3, 0, 0},
		{"compress-producer", 3, 50, kerr.UnsupportedCompressionType.Code},
	} {
		resp := rawRequest(t, b, fetchReq(c.version, 0, -1, c.topic, map[int32]int64{0: c.from})).(*kmsg.FetchResponse)
		fp := resp.Topics[0].Partitions[0]
		if fp.ErrorCode != c.code || (c.code == 0) != (len(fp.RecordBatches) > 0) {
			t.Fatalf("fetch v%d of %s from %d: error %d with %d bytes, want error %d", c.version, c.topic, c.from, fp.ErrorCode, len(fp.RecordBatches), c.code)
		}
	}

	// The topic's level for its codec: the same batch stored at the
	// fastest and the best level differs in size.
	var recs []testRecord
	for i := range 400 {
		recs = append(recs, testRecord{value: fmt.Appendf(nil, "record %d of %d: %x", i, i*i%997, i*7919%65521)})
	}
	plain := encodeBatch(time.Now().UnixMilli(), -1, 0, 0, recs)
	for _, c := range []struct{ codec, key, fast, best string }{
		{"gzip", "compression.gzip.level", "1", "9"},
		{"zstd", "compression.zstd.level", "1", "22"},
	} {
		var sizes []int
		for _, level := range []string{c.fast, c.best} {
			topic := "level-" + c.codec + "-" + level
			createTopic(t, cl, topic, 1, map[string]string{"compression.type": c.codec, c.key: level})
			if rp := produceRaw(t, cl, topic, 0, -1, plain); rp.ErrorCode != 0 {
				t.Fatalf("%s: produce: error %d", topic, rp.ErrorCode)
			}
			resp := rawRequest(t, b, fetchReq(11, 0, -1, topic, map[int32]int64{0: 0})).(*kmsg.FetchResponse)
			sizes = append(sizes, len(resp.Topics[0].Partitions[0].RecordBatches))
		}
		if sizes[0] <= sizes[1] || sizes[1] == 0 {
			t.Fatalf("%s: stored %d bytes at level %s, %d at level %s", c.codec, sizes[0], c.fast, sizes[1], c.best)
		}
	}

	// A gzip batch of zeros that is small as sent but not once stored
	// uncompressed.
	createTopic(t, cl, "compress-limit", 1, map[string]string{"compression.type": "uncompressed", "max.message.bytes": "4000"})
	batch, err := logstore.Recompress(encodeBatch(time.Now().UnixMilli(), -1, 0, 0, []testRecord{{value: make([]byte, 10000)}}), logstore.CodecGzip, logstore.DefaultLevel)
	if err != nil {
		t.Fatal(err)
	}
	if len(batch) >= 4000 {
		t.Fatalf("gzip batch of %d bytes", len(batch))
	}
	if rp := produceRaw(t, cl, "compress-limit", 0, -1, batch); rp.ErrorCode != kerr.MessageTooLarge.Code {
		t.Fatalf("produce of a batch that is %d bytes compressed: error %d, want MESSAGE_TOO_LARGE", len(batch), rp.ErrorCode)
	}
}

// The broker's compression.type and levels are the default of every topic
// that sets none, from the static configuration or, as Kafka's dynamic
// broker configs, changed while the cluster runs.
func TestBrokerCompressionType(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) { c.CompressionType = "gzip" })
	defer b.Close()
	cl := newClient(t, b)
	stored := func(topic string) int8 {
		t.Helper()
		batch := encodeBatch(time.Now().UnixMilli(), -1, 0, 0, values(20, "v"))
		if rp := produceRaw(t, cl, topic, 0, -1, batch); rp.ErrorCode != 0 {
			t.Fatalf("%s: produce: error %d", topic, rp.ErrorCode)
		}
		resp := rawRequest(t, b, fetchReq(11, 0, -1, topic, map[int32]int64{0: 0})).(*kmsg.FetchResponse)
		bs := resp.Topics[0].Partitions[0].RecordBatches
		batches, err := logstore.SplitBatches(bs)
		if err != nil || len(batches) == 0 {
			t.Fatalf("%s: fetched %d bytes: %v", topic, len(bs), err)
		}
		h, err := logstore.ParseBatchHeader(batches[len(batches)-1])
		if err != nil {
			t.Fatal(err)
		}
		return h.Compression()
	}
	createTopic(t, cl, "bc-default", 1, nil)
	createTopic(t, cl, "bc-own", 1, map[string]string{"compression.type": "producer"})
	if c := stored("bc-default"); c != logstore.CodecGzip {
		t.Fatalf("static compression.type=gzip: stored codec %d", c)
	}

	alter := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType = kmsg.ConfigResourceTypeBroker
	cfg := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	cfg.Name, cfg.Value = "compression.type", kmsg.StringPtr("zstd")
	res.Configs = append(res.Configs, cfg)
	alter.Resources = append(alter.Resources, res)
	if r := request[*kmsg.IncrementalAlterConfigsResponse](t, cl, alter); r.Resources[0].ErrorCode != 0 {
		t.Fatalf("alter compression.type: error %d", r.Resources[0].ErrorCode)
	}
	if c := stored("bc-default"); c != logstore.CodecZstd {
		t.Fatalf("dynamic compression.type=zstd: stored codec %d", c)
	}
	if c := stored("bc-own"); c != logstore.CodecNone {
		t.Fatalf("topic compression.type=producer under a zstd broker: stored codec %d", c)
	}

	res.Configs[0].Value = kmsg.StringPtr("brotli")
	if r := request[*kmsg.IncrementalAlterConfigsResponse](t, cl, alter); r.Resources[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("alter compression.type=brotli: error %d, want INVALID_REQUEST", r.Resources[0].ErrorCode)
	}
}
