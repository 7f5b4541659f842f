package broker

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestProduceErrors(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) { c.MessageMaxBytes = 2000 })
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "perr", 1, nil)
	createTopic(t, cl, "pseg", 1, map[string]string{"internal.segment.bytes": "1024"})
	now := time.Now().UnixMilli()
	good := encodeBatch(now, -1, -1, -1, values(3, "x"))

	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)-1] ^= 0xff

	big := encodeBatch(now, -1, -1, -1, []testRecord{{value: make([]byte, 3000)}})
	pastSegment := encodeBatch(now, -1, -1, -1, []testRecord{{value: make([]byte, 1500)}})

	badCount := append([]byte(nil), good...)
	badCount[60] = 9 // NumRecords no longer matches the records (CRC recomputed below)
	fixCRC(badCount)

	magic := func(m byte) []byte {
		c := append([]byte(nil), good...)
		c[16] = m
		return c
	}

	// Flagged gzip, records left as they are, CRC made good: the client
	// sent these bytes, so a retry sends them again. Kafka answers a
	// non-retriable error (INVALID_RECORD for a stream that ends early).
	notGzip := append([]byte(nil), good...)
	notGzip[22] |= 1 // attributes (offset 21, int16): codec gzip
	fixCRC(notGzip)

	for _, tc := range []struct {
		name  string
		topic string
		part  int32
		acks  int16
		batch []byte
		want  *kerr.Error
	}{
		{"unknown topic", "nope", 0, -1, good, kerr.UnknownTopicOrPartition},
		{"unknown partition", "perr", 5, -1, good, kerr.UnknownTopicOrPartition},
		{"corrupt crc", "perr", 0, -1, corrupt, kerr.CorruptMessage},
		{"too large", "perr", 0, -1, big, kerr.MessageTooLarge},
		// Under max.message.bytes but larger than a segment, as Kafka.
		{"past segment size", "pseg", 0, -1, pastSegment, kerr.RecordListTooLarge},
		{"record count", "perr", 0, -1, badCount, kerr.InvalidRecord},
		{"magic 1", "perr", 0, -1, magic(1), kerr.InvalidRecord},
		{"magic 0", "perr", 0, -1, magic(0), kerr.InvalidRecord},
		{"magic 3", "perr", 0, -1, magic(3), kerr.CorruptMessage},
		{"does not decompress", "perr", 0, -1, notGzip, kerr.InvalidRecord},
		// As Kafka reads it: a length past the end, so no batch at all.
		{"garbage", "perr", 0, -1, []byte("definitely not a record batch at all, not even close"), kerr.InvalidRecord},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := produceRaw(t, cl, tc.topic, tc.part, tc.acks, tc.batch)
			if rp.ErrorCode != tc.want.Code {
				t.Fatalf("error %v, want %v", kerr.ErrorForCode(rp.ErrorCode), tc.want)
			}
		})
	}
	// rawProduce sends one batch to perr-0 over a raw connection, at a
	// version and with acks kgo would not use, and returns its error code.
	var last kmsg.ProduceResponseTopicPartition // rawProduce's whole answer
	rawProduce := func(version, acks int16, batch []byte) int16 {
		req := kmsg.NewPtrProduceRequest()
		req.Version = version
		req.Acks = acks
		req.TimeoutMillis = 1000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "perr"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = batch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		last = rawRequest(t, b, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		return last.ErrorCode
	}
	// kgo rewrites acks, so the bad value goes over a raw connection.
	t.Run("bad acks", func(t *testing.T) {
		if code := rawProduce(9, 2, good); code != kerr.InvalidRequiredAcks.Code {
			t.Fatalf("error %v, want INVALID_REQUIRED_ACKS", kerr.ErrorForCode(code))
		}
		if last.BaseOffset != -1 || last.LogAppendTime != -1 || last.LogStartOffset != -1 {
			t.Fatalf("failed partition answered offset %d, append time %d, log start %d; want -1s", last.BaseOffset, last.LogAppendTime, last.LogStartOffset)
		}
	})
	// zstd needs produce v7; an older request is refused before the data
	// is looked at.
	t.Run("zstd on v6", func(t *testing.T) {
		zstd := append([]byte(nil), good...)
		zstd[22] |= 4 // attributes (offset 21, int16): codec zstd
		fixCRC(zstd)
		if code := rawProduce(6, -1, zstd); code != kerr.UnsupportedCompressionType.Code {
			t.Fatalf("error %v, want UNSUPPORTED_COMPRESSION_TYPE", kerr.ErrorForCode(code))
		}
		// As Kafka's ProduceRequest.validateRecords, the first batch's
		// codec is refused before the batches are counted or the batch is
		// held to max.message.bytes.
		if code := rawProduce(6, -1, append(append([]byte(nil), zstd...), good...)); code != kerr.UnsupportedCompressionType.Code {
			t.Fatalf("zstd and a second batch: error %v, want UNSUPPORTED_COMPRESSION_TYPE", kerr.ErrorForCode(code))
		}
		bigZstd := append([]byte(nil), big...)
		bigZstd[22] |= 4
		fixCRC(bigZstd)
		if code := rawProduce(6, -1, bigZstd); code != kerr.UnsupportedCompressionType.Code {
			t.Fatalf("zstd past max.message.bytes: error %v, want UNSUPPORTED_COMPRESSION_TYPE", kerr.ErrorForCode(code))
		}
	})
	// The broker assigns offsets: a batch must start at 0, as in Kafka.
	t.Run("base offset", func(t *testing.T) {
		for _, base := range []int64{5, -1} {
			moved := append([]byte(nil), good...)
			binary.BigEndian.PutUint64(moved, uint64(base)) // the base offset is outside the CRC
			if code := rawProduce(9, -1, moved); code != kerr.InvalidRecord.Code {
				t.Fatalf("base offset %d: error %v, want INVALID_RECORD", base, kerr.ErrorForCode(code))
			}
		}
	})
	// A transactional batch without a transactional id: the whole request
	// is refused, as Kafka does.
	t.Run("transactional without id", func(t *testing.T) {
		txn := append([]byte(nil), good...)
		txn[22] |= 0x10 // attributes (offset 21, int16): transactional
		fixCRC(txn)
		if code := rawProduce(9, -1, txn); code != kerr.TransactionalIDAuthorizationFailed.Code {
			t.Fatalf("error %v, want TRANSACTIONAL_ID_AUTHORIZATION_FAILED", kerr.ErrorForCode(code))
		}
	})
	// The partition still works and nothing bad was stored.
	rp := produceRaw(t, cl, "perr", 0, -1, good)
	if rp.ErrorCode != 0 || rp.BaseOffset != 0 {
		t.Fatalf("good batch after bad ones: error %d offset %d, want 0 at 0", rp.ErrorCode, rp.BaseOffset)
	}
	// A transactional id on a request of plain batches is not looked at,
	// as in Kafka: the batch is stored.
	req := produceReq("perr", -1, 5000, good)
	req.TransactionID = kmsg.StringPtr("tx")
	if got := rawRequest(t, b, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]; got.ErrorCode != 0 || got.BaseOffset != 3 {
		t.Fatalf("plain batch with a transactional id: error %v at offset %d", kerr.ErrorForCode(got.ErrorCode), got.BaseOffset)
	}
}

// The partitions of a produce refused whole (a transactional batch, bad
// acks) are counted in the produce errors as any partition's error is: a
// refused transactional producer did not show there.
func TestProduceRefusedWholeCounted(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "whole", 2, nil)
	txn := encodeBatch(time.Now().UnixMilli(), 1, 0, 0, values(1, "t"))
	txn[22] |= 0x10 // attributes (offset 21, int16): transactional
	fixCRC(txn)
	req := produceReq("whole", -1, 5000, txn)
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = 1, txn
	req.Topics[0].Partitions = append(req.Topics[0].Partitions, rp)
	if code := rawRequest(t, b, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("error %v, want TRANSACTIONAL_ID_AUTHORIZATION_FAILED", kerr.ErrorForCode(code))
	}
	bad := produceReq("whole", 2, 5000, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(1, "a")))
	if code := rawRequest(t, b, bad).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.InvalidRequiredAcks.Code {
		t.Fatalf("acks=2: error %v, want INVALID_REQUIRED_ACKS", kerr.ErrorForCode(code))
	}
	got := metricValues(t, b, "gokafka_produce_errors_total")
	if got["TRANSACTIONAL_ID_AUTHORIZATION_FAILED"] != 2 || got["INVALID_REQUIRED_ACKS"] != 1 {
		t.Errorf("produce errors %v, want 2 TRANSACTIONAL_ID_AUTHORIZATION_FAILED (one a partition) and 1 INVALID_REQUIRED_ACKS", got)
	}
}

func TestProduceAcksOneAndZero(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "acks", 1, nil)
	now := time.Now().UnixMilli()
	if rp := produceRaw(t, cl, "acks", 0, 1, encodeBatch(now, -1, -1, -1, values(2, "a"))); rp.ErrorCode != 0 || rp.BaseOffset != 0 {
		t.Fatalf("acks=1: %+v", rp)
	}
	// acks=0 has no response; a following acks=all on the same connection
	// lands after it.
	produceAcks0(t, cl, "acks", encodeBatch(now, -1, -1, -1, values(3, "b")))
	if rp := produceRaw(t, cl, "acks", 0, -1, encodeBatch(now, -1, -1, -1, values(1, "c"))); rp.ErrorCode != 0 || rp.BaseOffset != 5 {
		t.Fatalf("acks=all after acks=0: error %d base %d, want base 5", rp.ErrorCode, rp.BaseOffset)
	}
}

// A batch stored for a producer that closed its connection before the
// reply (acks=0 clients routinely do) is counted in, as Kafka counts bytes
// in at the append whatever becomes of the request.
func TestProduceCountedWhenClientLeaves(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "leaves", 1, nil)
	const rounds = 5
	for i := range rounds {
		conn := rawConn(t, b)
		req := produceReq("leaves", 0, 5000, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(2, "l")))
		if _, err := conn.Write(rawFormatter.AppendRequest(nil, req, 1)); err != nil {
			t.Fatal(err)
		}
		conn.Close()
		waitFor(t, func() bool { return b.node.Partition("leaves", 0).HighWatermark() == int64(2*(i+1)) }, "the batch stored")
	}
	counter := func(name string) float64 { return metricValues(t, b, name)["leaves"] }
	waitFor(t, func() bool { return counter("gokafka_topic_records_in_total") == 2*rounds }, "records in to count every stored record")
	if got := counter("gokafka_topic_bytes_in_total"); got == 0 {
		t.Errorf("bytes in %v, want the stored batches' size", got)
	}
}

// Bytes in are the bytes the client sent, as Kafka's BytesInPerSec counts
// them, not the batch a topic's compression.type made of them: a gzip
// topic's counter used to show the recompressed size.
func TestProduceBytesInAsSent(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "asSent", 1, map[string]string{"compression.type": "gzip"})
	recs := make([]testRecord, 50)
	for i := range recs {
		recs[i] = testRecord{value: bytes.Repeat([]byte("compressible "), 20)}
	}
	batch := encodeBatch(time.Now().UnixMilli(), -1, -1, -1, recs)
	if rp := produceRaw(t, cl, "asSent", 0, -1, batch); rp.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(rp.ErrorCode))
	}
	if stored := b.node.Partition("asSent", 0).Log().Size(); stored >= int64(len(batch)) {
		t.Fatalf("stored %d bytes of a %d-byte batch: not recompressed", stored, len(batch))
	}
	if got, ok := metricValues(t, b, "gokafka_topic_bytes_in_total")["asSent"]; got != float64(len(batch)) {
		t.Errorf("bytes in %v (counted: %v), want the %d bytes sent", got, ok, len(batch))
	}
}

func TestIdempotentProducer(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "idem", 1, nil)
	now := time.Now().UnixMilli()
	const pid = 7

	send := func(epoch int16, seq int32, n int) (int16, int64) {
		rp := produceRaw(t, cl, "idem", 0, -1, encodeBatch(now, pid, epoch, seq, values(n, "r")))
		return rp.ErrorCode, rp.BaseOffset
	}
	steps := []struct {
		name       string
		epoch      int16
		seq        int32
		n          int
		wantErr    *kerr.Error
		wantOffset int64
	}{
		{"first batch", 0, 0, 3, nil, 0},
		{"next batch", 0, 3, 2, nil, 3},
		{"retried duplicate of the first", 0, 0, 3, nil, 0},
		{"retried duplicate of the second", 0, 3, 2, nil, 3},
		{"gap", 0, 9, 1, kerr.OutOfOrderSequenceNumber, -1},
		{"continues", 0, 5, 1, nil, 5},
		{"new epoch must start at 0", 1, 4, 1, kerr.OutOfOrderSequenceNumber, -1},
		{"new epoch", 1, 0, 2, nil, 6},
		{"old epoch fenced", 0, 6, 1, kerr.InvalidProducerEpoch, -1},
	}
	for _, s := range steps {
		code, off := send(s.epoch, s.seq, s.n)
		want := int16(0)
		if s.wantErr != nil {
			want = s.wantErr.Code
		}
		if code != want || (want == 0 && off != s.wantOffset) {
			t.Fatalf("%s: error %v offset %d, want %v offset %d", s.name, kerr.ErrorForCode(code), off, s.wantErr, s.wantOffset)
		}
	}
	// Duplicates were stored once: 3 + 2 + 1 + 2 records.
	if hw := b.node.Partition("idem", 0).HighWatermark(); hw != 8 {
		t.Fatalf("high watermark %d, want 8", hw)
	}
	// Producer state survives a restart: the duplicate is still recognised.
	dir := b.cfg.DataDir
	cl.Close()
	b.Close()
	b = startBroker(t, dir, nil)
	defer b.Close()
	cl = newClient(t, b)
	rp := produceRaw(t, cl, "idem", 0, -1, encodeBatch(now, pid, 1, 0, values(2, "r")))
	if rp.ErrorCode != 0 || rp.BaseOffset != 6 {
		t.Fatalf("duplicate after restart: error %d offset %d, want offset 6", rp.ErrorCode, rp.BaseOffset)
	}
	if hw := b.node.Partition("idem", 0).HighWatermark(); hw != 8 {
		t.Fatalf("high watermark after restart %d, want 8", hw)
	}
}

// TestSequenceErrorsCarryLogStartOffset: a batch refused for its sequence
// or epoch is answered with the partition's log start offset, as Kafka's
// ReplicaManager answers the errors the log's producer state raises; it
// was -1.
func TestSequenceErrorsCarryLogStartOffset(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "seqlso", 1, nil)
	now := time.Now().UnixMilli()
	const pid = 9
	for _, epoch := range []int16{0, 1} {
		if rp := produceRaw(t, cl, "seqlso", 0, -1, encodeBatch(now, pid, epoch, 0, values(2, "r"))); rp.ErrorCode != 0 {
			t.Fatalf("epoch %d: %v", epoch, kerr.ErrorForCode(rp.ErrorCode))
		}
	}
	if dr := deleteRecords(t, cl, "seqlso", 3); dr.ErrorCode != 0 || dr.LowWatermark != 3 {
		t.Fatalf("delete records: %v, low watermark %d", kerr.ErrorForCode(dr.ErrorCode), dr.LowWatermark)
	}
	for _, s := range []struct {
		name  string
		epoch int16
		seq   int32
		want  *kerr.Error
	}{
		{"gap", 1, 5, kerr.OutOfOrderSequenceNumber},
		{"old epoch", 0, 2, kerr.InvalidProducerEpoch},
	} {
		rp := produceRaw(t, cl, "seqlso", 0, -1, encodeBatch(now, pid, s.epoch, s.seq, values(1, "r")))
		if rp.ErrorCode != s.want.Code || rp.LogStartOffset != 3 {
			t.Errorf("%s: %v, log start offset %d; want %v, 3", s.name, kerr.ErrorForCode(rp.ErrorCode), rp.LogStartOffset, s.want)
		}
	}
	// So are a record refused by the topic's checks and acks=all short of
	// min.insync.replicas; a batch too large is answered -1, as in Kafka.
	// (The client sends every produceRaw with acks=all.)
	createTopic(t, cl, "checked", 1, map[string]string{"message.timestamp.before.max.ms": "60000", "max.message.bytes": "2000"})
	createTopic(t, cl, "isr2", 1, map[string]string{"min.insync.replicas": "2"})
	if rp := produceRaw(t, cl, "checked", 0, -1, encodeBatch(now, -1, -1, -1, values(4, "r"))); rp.ErrorCode != 0 {
		t.Fatalf("checked: %v", kerr.ErrorForCode(rp.ErrorCode))
	}
	if dr := deleteRecords(t, cl, "checked", 2); dr.ErrorCode != 0 {
		t.Fatalf("delete records: %v", kerr.ErrorForCode(dr.ErrorCode))
	}
	for _, s := range []struct {
		name, topic string
		batch       []byte
		want        *kerr.Error
		start       int64
	}{
		{"old timestamp", "checked", encodeBatch(now-3_600_000, -1, -1, -1, values(1, "r")), kerr.InvalidTimestamp, 2},
		{"too large", "checked", encodeBatch(now, -1, -1, -1, []testRecord{{value: make([]byte, 3000)}}), kerr.MessageTooLarge, -1},
		{"short of min.insync.replicas", "isr2", encodeBatch(now, -1, -1, -1, values(1, "r")), kerr.NotEnoughReplicas, 0},
	} {
		rp := produceRaw(t, cl, s.topic, 0, -1, s.batch)
		if rp.ErrorCode != s.want.Code || rp.LogStartOffset != s.start {
			t.Errorf("%s: %v, log start offset %d; want %v, %d", s.name, kerr.ErrorForCode(rp.ErrorCode), rp.LogStartOffset, s.want, s.start)
		}
	}
}

// TestRequestChecksAnswerNoLogStart: records refused by the look Kafka
// takes at a v3+ request before any log sees them (no batch, a magic
// other than 2, more than one batch: ProduceRequest.validateRecords in
// KafkaApis) are answered with the error alone, log start offset -1, as
// Kafka answers them; it was the log start offset, which only the log's
// own refusals (a control batch here) carry.
func TestRequestChecksAnswerNoLogStart(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "reqcheck", 1, nil)
	now := time.Now().UnixMilli()
	if rp := produceRaw(t, cl, "reqcheck", 0, -1, encodeBatch(now, -1, -1, -1, values(4, "r"))); rp.ErrorCode != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(rp.ErrorCode))
	}
	if dr := deleteRecords(t, cl, "reqcheck", 2); dr.ErrorCode != 0 {
		t.Fatalf("delete records: %v", kerr.ErrorForCode(dr.ErrorCode))
	}
	one := encodeBatch(now, -1, -1, -1, values(1, "r"))
	magic1 := append([]byte(nil), one...)
	magic1[16] = 1
	control := append([]byte(nil), one...)
	control[22] |= 0x20 // attributes: control
	fixCRC(control)
	for _, s := range []struct {
		name  string
		batch []byte
		start int64
	}{
		{"no batch", []byte{}, -1},
		{"magic 1", magic1, -1},
		{"two batches", append(append([]byte(nil), one...), one...), -1},
		{"batch cut short", one[:len(one)-3], -1},
		{"control batch", control, 2},
	} {
		rp := produceRaw(t, cl, "reqcheck", 0, -1, s.batch)
		if rp.ErrorCode != kerr.InvalidRecord.Code || rp.LogStartOffset != s.start || rp.BaseOffset != -1 {
			t.Errorf("%s: %v, base offset %d, log start offset %d; want %v, -1, %d", s.name, kerr.ErrorForCode(rp.ErrorCode), rp.BaseOffset, rp.LogStartOffset, kerr.InvalidRecord, s.start)
		}
	}
}

// TestDuplicateKeepsAppendTime: on a LogAppendTime topic a retried
// duplicate is answered with the stored batch's append time, as Kafka
// does, before and after a restart: the time its records carry, not the
// retry's.
func TestDuplicateKeepsAppendTime(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	cl := newClient(t, b)
	createTopic(t, cl, "lat", 1, map[string]string{"message.timestamp.type": "LogAppendTime"})
	batch := func() []byte { return encodeBatch(time.Now().UnixMilli(), 9, 0, 0, values(2, "d")) }
	first := produceRaw(t, cl, "lat", 0, -1, batch())
	if first.ErrorCode != 0 || first.LogAppendTime <= 0 {
		t.Fatalf("first: %v, append time %d", kerr.ErrorForCode(first.ErrorCode), first.LogAppendTime)
	}
	time.Sleep(20 * time.Millisecond)
	check := func(when string) {
		t.Helper()
		dup := produceRaw(t, cl, "lat", 0, -1, batch())
		if dup.ErrorCode != 0 || dup.BaseOffset != first.BaseOffset || dup.LogAppendTime != first.LogAppendTime {
			t.Fatalf("duplicate %s: %v at %d, append time %d; want %d, %d", when, kerr.ErrorForCode(dup.ErrorCode), dup.BaseOffset, dup.LogAppendTime, first.BaseOffset, first.LogAppendTime)
		}
	}
	check("at once")
	cl.Close()
	b.Close()
	b = startBroker(t, dir, nil)
	defer b.Close()
	cl = newClient(t, b)
	check("after a restart")

	// On a CreateTime topic too, as Kafka: the stored batch's max
	// timestamp, where a first answer carries none.
	createTopic(t, cl, "ct", 1, nil)
	ts := time.Now().Add(-time.Minute).UnixMilli()
	ctBatch := func() []byte { return encodeBatch(ts, 10, 0, 0, values(2, "d")) }
	if first := produceRaw(t, cl, "ct", 0, -1, ctBatch()); first.ErrorCode != 0 || first.LogAppendTime != -1 {
		t.Fatalf("first on CreateTime: %v, append time %d, want -1", kerr.ErrorForCode(first.ErrorCode), first.LogAppendTime)
	}
	if dup := produceRaw(t, cl, "ct", 0, -1, ctBatch()); dup.ErrorCode != 0 || dup.LogAppendTime != ts {
		t.Fatalf("duplicate on CreateTime: %v, append time %d, want the batch's max timestamp %d", kerr.ErrorForCode(dup.ErrorCode), dup.LogAppendTime, ts)
	}
}

// TestAckedRecordsAreVisible: a partition with one voter acknowledges a
// batch as soon as its log has stored it, before raft's commit processing;
// the high watermark must already include the batch by then, so listing the
// end offset and fetching right after an acknowledgement find the records.
func TestAckedRecordsAreVisible(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	admin := newClient(t, b)
	createTopic(t, admin, "visible", 2, nil)
	md := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr("visible")
	md.Topics = append(md.Topics, mt)
	topicID := request[*kmsg.MetadataResponse](t, admin, md).Topics[0].TopicID
	// Several producers at once, so acknowledgements race raft's commit
	// processing and batches of other producers share raft batches.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := newClient(t, b, kgo.DefaultProduceTopic("visible"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
			for i := range 150 {
				r := &kgo.Record{Partition: int32(i % 2), Value: fmt.Appendf(nil, "w%d-%d", w, i)}
				if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
					errs <- err
					return
				}
				lo := kmsg.NewPtrListOffsetsRequest()
				lt := kmsg.NewListOffsetsRequestTopic()
				lt.Topic = "visible"
				lp := kmsg.NewListOffsetsRequestTopicPartition()
				lp.Partition, lp.Timestamp = r.Partition, -1
				lt.Partitions = append(lt.Partitions, lp)
				lo.Topics = append(lo.Topics, lt)
				resp, err := cl.Request(context.Background(), lo)
				if err != nil {
					errs <- err
					return
				}
				end := resp.(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0].Offset
				if end <= r.Offset {
					errs <- fmt.Errorf("record acknowledged at %d/%d, but the end offset is %d", r.Partition, r.Offset, end)
					return
				}
				f := kmsg.NewPtrFetchRequest()
				f.MaxWaitMillis, f.MaxBytes = 0, 1<<20
				ft := kmsg.NewFetchRequestTopic()
				ft.Topic, ft.TopicID = "visible", topicID
				fp := kmsg.NewFetchRequestTopicPartition()
				fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes = r.Partition, r.Offset, 1<<20
				ft.Partitions = append(ft.Partitions, fp)
				f.Topics = append(f.Topics, ft)
				fr, err := cl.Request(context.Background(), f)
				if err != nil {
					errs <- err
					return
				}
				if got := fr.(*kmsg.FetchResponse).Topics[0].Partitions[0]; got.ErrorCode != 0 || len(got.RecordBatches) == 0 {
					errs <- fmt.Errorf("fetch of acknowledged %d/%d: error %d, %d bytes", r.Partition, r.Offset, got.ErrorCode, len(got.RecordBatches))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestProduceRecordsReadAsKafka: a v3+ partition's records are read as
// Kafka's batch iterator reads them. Bytes after the last whole batch are
// dropped (Kafka trims them) and the batch stored; a lone batch cut short
// is no batch (INVALID_RECORD, which clients do not retry); two batches
// are refused as such whatever their size; a length below a batch
// header's is corrupt.
func TestProduceRecordsReadAsKafka(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "iter", 1, map[string]string{"max.message.bytes": "2000"})
	batch := encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(2, "i"))
	big := encodeBatch(time.Now().UnixMilli(), -1, -1, -1, []testRecord{{value: make([]byte, 1500)}})
	short := append([]byte(nil), batch...)
	binary.BigEndian.PutUint32(short[8:], 20) // a batch of 20 bytes cannot be
	produce := func(records []byte) kmsg.ProduceResponseTopicPartition {
		return rawRequest(t, b, produceReq("iter", -1, 5000, records)).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	}
	for _, tc := range []struct {
		name    string
		records []byte
		want    *kerr.Error
		offset  int64
	}{
		{"trailing bytes dropped", append(append([]byte(nil), batch...), 1, 2, 3, 4, 5), nil, 0},
		{"a second batch cut short dropped", append(append([]byte(nil), batch...), batch[:len(batch)-3]...), nil, 2},
		{"the only batch cut short", batch[:len(batch)-3], kerr.InvalidRecord, -1},
		{"two batches over the size limit", append(append([]byte(nil), big...), big...), kerr.InvalidRecord, -1},
		{"length below a header", short, kerr.CorruptMessage, -1},
	} {
		got := produce(tc.records)
		var want int16
		if tc.want != nil {
			want = tc.want.Code
		}
		if got.ErrorCode != want || (want == 0 && got.BaseOffset != tc.offset) {
			t.Errorf("%s: %v at %d, want %v at %d", tc.name, kerr.ErrorForCode(got.ErrorCode), got.BaseOffset, tc.want, tc.offset)
		}
	}
	// Only the whole batches were stored.
	if hw := b.node.Partition("iter", 0).HighWatermark(); hw != 4 {
		t.Fatalf("high watermark %d, want 4", hw)
	}
	if sz := b.node.Partition("iter", 0).Log().Size(); sz != int64(2*len(batch)) {
		t.Fatalf("log holds %d bytes, want the two batches' %d", sz, 2*len(batch))
	}
}

// A produce request naming a partition twice appends the last entry's
// batch once and answers the partition once, as Kafka collects the
// partitions of a request into a map; a topic named twice is one topic.
func TestProduceDuplicatePartition(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "dup", 2, nil)
	req := produceReq("dup", -1, 5000, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(1, "first")))
	last := kmsg.NewProduceRequestTopicPartition()
	last.Records = encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(2, "last"))
	req.Topics[0].Partitions = append(req.Topics[0].Partitions, last)
	again := kmsg.NewProduceRequestTopic()
	again.Topic = "dup"
	other := kmsg.NewProduceRequestTopicPartition()
	other.Partition = 1
	other.Records = encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(1, "other"))
	again.Partitions = append(again.Partitions, other)
	req.Topics = append(req.Topics, again)
	resp := request[*kmsg.ProduceResponse](t, cl, req)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 2 {
		t.Fatalf("answered %+v, want one topic with partitions 0 and 1", resp.Topics)
	}
	for _, p := range resp.Topics[0].Partitions {
		if p.ErrorCode != 0 || p.BaseOffset != 0 {
			t.Errorf("partition %d: %v at base offset %d, want stored at 0", p.Partition, kerr.ErrorForCode(p.ErrorCode), p.BaseOffset)
		}
	}
	fr := rawRequest(t, b, fetchReq(12, 0, -1, "dup", map[int32]int64{0: 0})).(*kmsg.FetchResponse)
	p := fr.Topics[0].Partitions[0]
	if p.HighWatermark != 2 {
		t.Errorf("partition 0 ends at %d, want 2: the last entry's two records, once", p.HighWatermark)
	}
	if !strings.Contains(string(p.RecordBatches), "last") || strings.Contains(string(p.RecordBatches), "first") {
		t.Errorf("partition 0 holds %q, want only the last entry's records", p.RecordBatches)
	}
}
