package broker

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gokafka/gokafka/logstore"
	"github.com/gokafka/gokafka/protocol"
	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleProduce validates each partition's batch and hands it to the
// partition on the reader goroutine, so batches of one connection reach raft
// in the order they were sent; the reply waits for the commits.
func (b *Broker) handleProduce(ctx context.Context, req *protocol.Request, r *kmsg.ProduceRequest) protocol.Reply {
	reply := b.produce(ctx, req, r)
	// As Kafka, the request's bytes count against the client's
	// producer_byte_rate quota, whatever became of them.
	ms := b.throttle(quotaProduce, quotaClientOf(req), float64(req.Size), false)
	if ms == 0 || reply == nil {
		return reply
	}
	if r.Acks == 0 {
		// No response to hold: the connection is muted, as Kafka's
		// channel is for a throttled acks=0 producer.
		req.Conn.Mute(time.Duration(ms) * time.Millisecond)
		return reply
	}
	// On the reader goroutine: the mute holds back the connection's
	// next requests, pipelined produce included.
	return throttleReply(req, ms, reply)
}

// produce handles a produce request.
func (b *Broker) produce(ctx context.Context, req *protocol.Request, r *kmsg.ProduceRequest) protocol.Reply {
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	type waiting struct {
		rp      *kmsg.ProduceResponseTopicPartition
		part    *replication.Partition
		batch   []byte
		hdr     logstore.BatchHeader
		result  replication.AppendResult
		start   time.Time
		appendT int64
		topic   string
		size    int // of the records as sent, counted in bytes in once stored
	}
	var waits []waiting
	// Counted once stored, as Kafka counts bytes in at its append: a
	// batch that failed is not in. The bytes are those the client sent,
	// as Kafka's BytesInPerSec counts them, not the batch a topic's
	// compression.type or an old message format made of them.
	countIn := func(w waiting) {
		b.metrics.bytesIn.WithLabelValues(w.topic).Add(float64(w.size))
		b.metrics.recordsIn.WithLabelValues(w.topic).Add(float64(w.hdr.NumRecords))
	}
	// The batches a reply could not wait for (the connection closed, as an
	// acks=0 producer's often does at once, or acks=all timed out) are in
	// the log all the same once stored.
	countWhenStored := func(ws []waiting) {
		for _, w := range ws {
			if _, err := w.result.Wait(); err == nil {
				countIn(w)
			}
		}
	}
	if r.Acks != 0 && r.Acks != 1 && r.Acks != -1 {
		return now(b.produceFailAll(r, kerr.InvalidRequiredAcks))
	}
	dedupeProduce(r)
	if hasTransactionalBatch(r) {
		// Transactions arrive with their own issue; until then no producer
		// can hold a transactional id here (InitProducerID refuses them),
		// so a transactional batch is refused, whole, as Kafka refuses one
		// whose id it does not authorize. As in Kafka, the request's
		// transactional id alone, with plain batches, is not looked at.
		resp := b.produceFailAll(r, kerr.TransactionalIDAuthorizationFailed)
		if r.Acks == 0 {
			return now(protocol.Hangup(resp, "produce with acks=0 failed: transactional id"))
		}
		return now(resp)
	}
	state := b.node.Controller().State()
	for _, rt := range r.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		resp.Topics = append(resp.Topics, st)
	}
	for ti, rt := range r.Topics {
		// From v13 a topic is named by its id, as in Kafka 4.1 (KIP-516).
		name := rt.Topic
		topic := state.Topics[name]
		if r.Version >= 13 {
			if topic = state.ByID[rt.TopicID]; topic != nil {
				name = topic.Name
			}
		}
		for pi, rp := range rt.Partitions {
			sp := &resp.Topics[ti].Partitions[pi]
			*sp = kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset = -1
			sp.LogAppendTime = -1
			sp.LogStartOffset = -1
			var batch []byte
			var hdr logstore.BatchHeader
			appendTime, err := int64(-1), error(kerr.UnknownTopicID)
			if topic != nil || r.Version < 13 {
				batch, hdr, appendTime, err = b.checkProduce(r.Version, topic, rp)
			}
			nothing := err == errNothingToAppend
			if nothing {
				err = nil
			}
			if err == nil && r.Acks == -1 {
				// As Kafka: acks=all needs min.insync.replicas in sync.
				// (One replica always is: the default of 1 needs no count.)
				if need := b.topicInt64(topic, "min.insync.replicas"); need > 1 {
					if have := len(b.isr(topic, rp.Partition)); int64(have) < need {
						err = kafkaErrorf(kerr.NotEnoughReplicas, "%d in-sync replicas of %s-%d, min.insync.replicas is %d", have, name, rp.Partition, need)
					}
				}
			}
			var part *replication.Partition
			if err == nil {
				part = b.node.Partition(name, rp.Partition)
				if part == nil {
					err = kerr.NotLeaderForPartition
				}
			}
			if err == nil && nothing {
				sp.LogStartOffset = part.LogStartOffset()
				continue
			}
			if err == nil {
				err = b.disk.admit(len(batch))
			}
			if err != nil {
				sp.ErrorCode, sp.ErrorMessage = errCodeMsg(err)
				var re *recordErrors
				if errors.As(err, &re) {
					sp.ErrorCode, sp.ErrorMessage, sp.ErrorRecords = re.code.Code, &re.msg, re.records
				}
				var rc requestCheckError
				if p := part; answersLogStart(sp.ErrorCode) && !errors.As(err, &rc) {
					if p == nil && topic != nil {
						p = b.node.Partition(name, rp.Partition)
					}
					if p != nil {
						sp.LogStartOffset = p.LogStartOffset()
					}
				}
				b.metrics.produceError.WithLabelValues(errName(err)).Inc()
				continue
			}
			waits = append(waits, waiting{rp: sp, part: part, batch: batch, hdr: hdr, appendT: appendTime, topic: name, size: len(rp.Records)})
		}
	}
	// Every batch is checked, then announced, before any is handed over,
	// so that the partitions' writes share one sync round (SyncMember).
	for _, w := range waits {
		w.part.Announce()
	}
	for i := range waits {
		w := &waits[i]
		w.start = time.Now()
		if w.appendT != -1 {
			w.result = w.part.AppendStamped(w.batch, w.hdr)
		} else {
			w.result = w.part.AppendAnnounced(w.batch, w.hdr)
		}
		w.batch = nil
	}
	// The batches alias the request's frame until raft is done with them,
	// which can be after they are acknowledged; then the buffer goes back
	// for the next request.
	release := req.ReleaseFrame()
	releaseWhenDone := func() {
		reusable := true
		for _, w := range waits {
			<-w.result.Released()
			reusable = reusable && w.result.Reusable()
		}
		if reusable {
			release()
		}
	}
	reply := func() kmsg.Response {
		defer func() { go releaseWhenDone() }()
		// As in Kafka, with acks=all a batch not committed within the
		// request's timeout is answered REQUEST_TIMED_OUT (it may still be
		// stored: a retry of an idempotent producer finds it). The timeout
		// is the wait for replicas, which acks=1 does not do: Kafka
		// answers it once the leader has the batch, so here it waits for
		// the batch's own outcome, never answering a stored batch with an
		// error a plain producer would retry into a duplicate.
		var expired <-chan time.Time
		if r.TimeoutMillis > 0 && r.Acks == -1 {
			t := time.NewTimer(time.Duration(r.TimeoutMillis) * time.Millisecond)
			defer t.Stop()
			expired = t.C
		}
		timedOut := false
		var late []waiting // batches not yet stored when answered
		defer func() {
			if len(late) > 0 {
				go countWhenStored(late)
			}
		}()
		for i, w := range waits {
			if !timedOut {
				select {
				case <-w.result.Done():
				case <-expired:
					timedOut = true
				case <-ctx.Done(): // the connection closed: nothing will be sent
					late = append(late, waits[i:]...)
					return resp
				}
			}
			var base int64
			var err error
			select {
			case <-w.result.Done():
				base, err = w.result.Wait()
			default:
				err = kafkaErrorf(kerr.RequestTimedOut, "not committed within the request's %d ms", r.TimeoutMillis)
				late = append(late, w)
			}
			if err != nil {
				w.rp.ErrorCode, w.rp.ErrorMessage = errCodeMsg(err)
				if answersLogStart(w.rp.ErrorCode) {
					w.rp.LogStartOffset = w.part.LogStartOffset()
				}
				b.metrics.produceError.WithLabelValues(errName(err)).Inc()
				continue
			}
			b.metrics.commitLat.Observe(time.Since(w.start).Seconds())
			countIn(w)
			w.rp.BaseOffset = base
			w.rp.LogAppendTime = w.result.AppendTime()
			if ts, dup := w.result.Duplicate(); dup {
				// As Kafka: a retry is answered with the stored batch's
				// max timestamp, on any topic (on a LogAppendTime one,
				// the append time its records carry, not the retry's).
				// A state saved before times were kept does not know
				// it: then a LogAppendTime topic answers the retry's.
				switch {
				case ts > 0:
					w.rp.LogAppendTime = ts
				case w.appendT != -1:
					w.rp.LogAppendTime = w.appendT
				}
			}
			w.rp.LogStartOffset = w.part.LogStartOffset()
		}
		return resp
	}
	if r.Acks == 0 {
		// Nothing is sent back, but as in Kafka a failure closes the
		// connection, once the batches are stored or refused, so that the
		// client learns of it and refreshes its metadata.
		return func() kmsg.Response {
			if failed := produceFailures(reply().(*kmsg.ProduceResponse)); failed != "" {
				return protocol.Hangup(resp, "produce with acks=0 failed: "+failed)
			}
			return nil
		}
	}
	return reply
}

// dedupeProduce merges the entries of a produce request that name the same
// partition, as Kafka collects a request's partitions into a map: the last
// entry's records are appended, once, and the partition is answered once.
// (Appending each would store a batch the client sent once twice, or two
// batches of which it can know only one offset.) Topics are the same by
// name, or from v13, by id.
func dedupeProduce(r *kmsg.ProduceRequest) {
	if !hasDuplicatePartition(r) {
		return
	}
	type topicKey struct {
		name string
		id   [16]byte
	}
	type partKey struct {
		topic topicKey
		part  int32
	}
	tkey := func(rt *kmsg.ProduceRequestTopic) topicKey {
		if r.Version >= 13 {
			return topicKey{id: rt.TopicID}
		}
		return topicKey{name: rt.Topic}
	}
	var topics []kmsg.ProduceRequestTopic
	tIndex := map[topicKey]int{}
	pIndex := map[partKey]int{}
	for i := range r.Topics {
		rt := &r.Topics[i]
		tk := tkey(rt)
		ti, ok := tIndex[tk]
		if !ok {
			ti = len(topics)
			tIndex[tk] = ti
			merged := *rt
			merged.Partitions = nil
			topics = append(topics, merged)
		}
		for _, rp := range rt.Partitions {
			pk := partKey{tk, rp.Partition}
			if pi, ok := pIndex[pk]; ok {
				topics[ti].Partitions[pi] = rp
				continue
			}
			pIndex[pk] = len(topics[ti].Partitions)
			topics[ti].Partitions = append(topics[ti].Partitions, rp)
		}
	}
	r.Topics = topics
}

// hasDuplicatePartition reports whether a produce request names a
// partition twice (or a topic twice), without allocating for the usual
// few partitions.
func hasDuplicatePartition(r *kmsg.ProduceRequest) bool {
	sameTopic := func(a, b *kmsg.ProduceRequestTopic) bool {
		if r.Version >= 13 {
			return a.TopicID == b.TopicID
		}
		return a.Topic == b.Topic
	}
	if len(r.Topics) > 16 {
		names, ids := map[string]bool{}, map[[16]byte]bool{}
		for i := range r.Topics {
			rt := &r.Topics[i]
			if r.Version >= 13 {
				if ids[rt.TopicID] {
					return true
				}
				ids[rt.TopicID] = true
			} else {
				if names[rt.Topic] {
					return true
				}
				names[rt.Topic] = true
			}
		}
	}
	for i := range r.Topics {
		if len(r.Topics) <= 16 {
			for j := range i {
				if sameTopic(&r.Topics[i], &r.Topics[j]) {
					return true
				}
			}
		}
		ps := r.Topics[i].Partitions
		if len(ps) > 64 {
			seen := make(map[int32]bool, len(ps))
			for _, p := range ps {
				if seen[p.Partition] {
					return true
				}
				seen[p.Partition] = true
			}
			continue
		}
		for a := range ps {
			for b := range a {
				if ps[a].Partition == ps[b].Partition {
					return true
				}
			}
		}
	}
	return false
}

// produceFailures names the partitions of resp that failed and why, the
// first few of them; "" if none did.
func produceFailures(resp *kmsg.ProduceResponse) string {
	var out []string
	n := 0
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode == 0 {
				continue
			}
			if n++; n <= 3 {
				name := t.Topic
				if t.TopicID != ([16]byte{}) {
					name = replication.TopicID(t.TopicID).String() // v13 names topics by id
				}
				out = append(out, fmt.Sprintf("%s-%d %s", name, p.Partition, errName(kerr.ErrorForCode(p.ErrorCode))))
			}
		}
	}
	if n > 3 {
		out = append(out, fmt.Sprintf("and %d more", n-3))
	}
	return strings.Join(out, ", ")
}

// produceFailAll answers every partition of r with code, and offsets and
// times of -1 as Kafka gives a failed partition, and counts each in the
// produce errors as any partition's error is (a refused transactional
// producer is one an operator looks for).
func (b *Broker) produceFailAll(r *kmsg.ProduceRequest, code *kerr.Error) *kmsg.ProduceResponse {
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = code.Code
			sp.BaseOffset, sp.LogAppendTime, sp.LogStartOffset = -1, -1, -1
			st.Partitions = append(st.Partitions, sp)
			b.metrics.produceError.WithLabelValues(code.Message).Inc()
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// producedBatches splits a partition's records as Kafka's batch iterator
// reads a produce request: a batch whose declared size is below any
// batch's is corrupt, and what is left after the last whole batch (less
// than a batch header, or a batch cut short) ends the records and is
// dropped, as Kafka trims it. So a request whose only batch is cut short
// holds none, which produce refuses as INVALID_RECORD, not CORRUPT_MESSAGE
// (which clients retry).
func producedBatches(b []byte) ([][]byte, error) {
	const sizeEnd = 12 // base offset and length
	var out [][]byte
	for len(b) >= sizeEnd {
		n := int64(int32(binary.BigEndian.Uint32(b[8:]))) + sizeEnd
		if n < logstore.BatchHeaderSize {
			return out, fmt.Errorf("%w: batch length %d is below a batch header's", logstore.ErrCorruptBatch, n-sizeEnd)
		}
		if n > int64(len(b)) {
			break
		}
		out = append(out, b[:n:n])
		b = b[n:]
	}
	return out, nil
}

// hasTransactionalBatch reports whether a partition's first batch is
// transactional, as Kafka's ProduceRequest.hasTransactionalRecords.
func hasTransactionalBatch(r *kmsg.ProduceRequest) bool {
	for _, rt := range r.Topics {
		for _, rp := range rt.Partitions {
			if logstore.TransactionalBatch(rp.Records) {
				return true
			}
		}
	}
	return false
}

// errNothingToAppend is checkProduce's answer to produce v0–v2 records that
// hold no whole message: Kafka appends nothing and answers without an
// error (base offset -1), where v3 and later must carry a batch.
var errNothingToAppend = errors.New("no whole message to append")

// checkProduce validates one partition's records as Kafka does and returns
// the batch to append. appendTime is the LogAppendTime stamped, or -1.
func (b *Broker) checkProduce(version int16, topic *replication.Topic, rp kmsg.ProduceRequestTopicPartition) (batch []byte, h logstore.BatchHeader, appendTime int64, err error) {
	appendTime = -1
	if topic == nil || rp.Partition < 0 || int(rp.Partition) >= len(topic.Replicas) {
		return nil, h, -1, kerr.UnknownTopicOrPartition
	}
	if topic.Internal {
		return nil, h, -1, kafkaErrorf(kerr.InvalidTopicException, "cannot append to internal topic %s", topic.Name)
	}
	if len(rp.Records) == 0 {
		if version < 3 {
			return nil, h, -1, errNothingToAppend
		}
		return nil, h, -1, requestCheckError{kafkaErrorf(kerr.InvalidRecord, "no record batch")}
	}
	maxBytes := b.topicInt64(topic, "max.message.bytes")
	converted, convertedCodec := false, logstore.CodecNone
	// Below v3 a set too short to show its magic byte is read as a message
	// set too: its cut message is dropped, or its size refused, as Kafka's
	// iterator does.
	if m, ok := logstore.BatchMagic(rp.Records); ok && (m == 0 || m == 1) || !ok && version < 3 {
		if version >= 3 {
			// As Kafka: from v3 on the old message formats are refused
			// outright, not converted, and a client must not retry them.
			return nil, h, -1, requestCheckError{kafkaErrorf(kerr.InvalidRecord, "produce v%d takes only magic 2 record batches, got magic %d", version, m)}
		}
		// As Kafka 3.x: produce v0–v2 (older sarama, kafka-python pinned
		// to an old api_version) sends magic 0/1 message sets, stored as
		// the magic-2 batch they convert to and checked as any other. The
		// batch comes uncompressed and is compressed once, below.
		up, codec, err := logstore.UpConvert(rp.Records)
		switch {
		case errors.Is(err, logstore.ErrNoMessages):
			return nil, h, -1, errNothingToAppend
		case errors.Is(err, logstore.ErrInvalidRecord):
			return nil, h, -1, kafkaErrorf(kerr.InvalidRecord, "%v", err)
		case err != nil:
			return nil, h, -1, kafkaErrorf(kerr.CorruptMessage, "%v", err)
		}
		rp.Records, converted, convertedCodec = up, true, codec
	}
	if version < 7 {
		// zstd came with produce v7 (KIP-110); Kafka refuses it below, in
		// its first look at the request (ProduceRequest.validateRecords):
		// before it counts the batches, and before the batch is held to
		// max.message.bytes. (Only old requests pay for this look at the
		// header; CheckBatch parses it again below.)
		if first, err := logstore.ParseBatchHeader(rp.Records); err == nil && first.Compression() == logstore.CodecZstd {
			return nil, h, -1, kafkaErrorf(kerr.UnsupportedCompressionType, "zstd needs produce v7 or later, got v%d", version)
		}
	}
	split := logstore.SplitBatches
	if version >= 3 {
		split = producedBatches // as Kafka's check of v3+ requests reads them
	}
	batches, err := split(rp.Records)
	if err != nil {
		return nil, h, -1, kafkaErrorf(kerr.CorruptMessage, "%v", err)
	}
	if len(batches) != 1 {
		err := kafkaErrorf(kerr.InvalidRecord, "produce takes exactly one record batch per partition, got %d", len(batches))
		if version >= 3 {
			return nil, h, -1, requestCheckError{err}
		}
		return nil, h, -1, err
	}
	batch = batches[0]
	if !converted && int64(len(batch)) > maxBytes {
		// A converted message set is held to the limit as the batch it
		// becomes, below, as Kafka 3.x holds each of its messages and then
		// the converted batch: a set of many small messages is larger
		// than the batch it converts to.
		return nil, h, -1, kafkaErrorf(kerr.MessageTooLarge, "batch of %d bytes exceeds max.message.bytes %d", len(batch), maxBytes)
	}
	h, sum, err := logstore.CheckBatch(batch)
	if err != nil {
		switch {
		case errors.Is(err, logstore.ErrInvalidRecord), errors.Is(err, logstore.ErrUnsupportedCodec):
			return nil, h, -1, kafkaErrorf(kerr.InvalidRecord, "%v", err)
		default:
			return nil, h, -1, kafkaErrorf(kerr.CorruptMessage, "%v", err)
		}
	}
	if h.IsControl() {
		return nil, h, -1, kafkaErrorf(kerr.InvalidRecord, "clients may not write control batches")
	}
	if h.BaseOffset != 0 {
		// As Kafka: the broker assigns offsets, and a client's batch
		// starts at 0.
		return nil, h, -1, kafkaErrorf(kerr.InvalidRecord, "the base offset of a produced batch must be 0, got %d", h.BaseOffset)
	}
	if h.ProducerID >= 0 && h.BaseSequence < 0 {
		return nil, h, -1, kafkaErrorf(kerr.InvalidRecord, "idempotent batch without a sequence")
	}
	logAppend := b.topicValue(topic, "message.timestamp.type") == "LogAppendTime"
	if err := b.checkRecords(topic, batch, h, sum, logAppend); err != nil {
		return nil, h, -1, err
	}
	if logAppend {
		// Stamped when appended, under the partition's append lock, so
		// that append times follow the log's order
		// (Partition.AppendStamped); this time marks the batch for it.
		appendTime = time.Now().UnixMilli()
	} else if ts := max(h.BaseTimestamp+sum.MaxTimestampDelta, -1); ts != h.MaxTimestamp || h.TimestampType() != 0 {
		// As Kafka does: a CreateTime topic's batch is CreateTime, and its
		// max timestamp is its records' (the time index and ListOffsets rely
		// on it), whatever the producer wrote. As in Kafka's LogValidator,
		// whose maximum starts at NO_TIMESTAMP, records all older than -1
		// leave it -1: no timestamp.
		logstore.SetMaxTimestamp(batch, ts)
		h, _ = logstore.ParseBatchHeader(batch)
	}
	typ := b.topicValue(topic, "compression.type")
	codec, named := topicCodecs[typ]
	if !named && converted {
		// "producer": a converted message set is stored in the codec its
		// client compressed it with.
		codec, named, typ = convertedCodec, true, "the client's codec"
	}
	if named && codec != h.Compression() {
		// As Kafka: a topic that names a codec stores its batches in it,
		// at the topic's level for it, and holds the batch as stored to
		// max.message.bytes.
		level := logstore.DefaultLevel
		if key := codecLevelKeys[codec]; key != "" {
			level = int(b.topicInt64(topic, key))
		}
		if batch, err = logstore.Recompress(batch, codec, level); err != nil {
			return nil, h, -1, kafkaErrorf(kerr.CorruptMessage, "%v", err)
		}
		if int64(len(batch)) > maxBytes {
			return nil, h, -1, kafkaErrorf(kerr.MessageTooLarge, "batch of %d bytes as %s exceeds max.message.bytes %d", len(batch), typ, maxBytes)
		}
		h, _ = logstore.ParseBatchHeader(batch)
	}
	if converted && int64(len(batch)) > maxBytes { // as stored, whatever its codec
		return nil, h, -1, kafkaErrorf(kerr.MessageTooLarge, "message set converted to a batch of %d bytes exceeds max.message.bytes %d", len(batch), maxBytes)
	}
	if seg := b.segmentBytes(topic); int64(len(batch)) > seg {
		// As Kafka: a batch must fit in a segment, which a max.message.bytes
		// above segment.bytes would otherwise let through.
		return nil, h, -1, kafkaErrorf(kerr.RecordListTooLarge, "batch of %d bytes exceeds the segment size (segment.bytes) %d", len(batch), seg)
	}
	return batch, h, appendTime, nil
}

// requestCheckError is a partition's records refused by the look Kafka takes
// at the request itself before any log sees it (ProduceRequest.validateRecords,
// called by KafkaApis on v3 and later: no batch, a magic other than 2, more
// than one batch). Kafka answers those partitions with the error alone, its
// log start offset -1, where the same INVALID_RECORD raised by the log's
// own checks carries the log start offset.
type requestCheckError struct{ error }

func (e requestCheckError) Unwrap() error { return e.error }

// answersLogStart reports whether a partition's produce error is answered
// with its log start offset, as Kafka answers the errors its log raises on
// an append (a record's validation, the producer's sequence or epoch,
// min.insync.replicas); the others (the partition unknown or not led here,
// a batch too large or corrupt, a storage error) carry -1.
func answersLogStart(code int16) bool {
	switch code {
	case kerr.InvalidRecord.Code, kerr.InvalidTimestamp.Code, kerr.OutOfOrderSequenceNumber.Code,
		kerr.InvalidProducerEpoch.Code, kerr.DuplicateSequenceNumber.Code, kerr.NotEnoughReplicas.Code:
		return true
	}
	return false
}

// topicCodecs are the compression.type values that name a codec; the other
// one, "producer", stores batches as they are sent.
var topicCodecs = map[string]int8{
	"uncompressed": logstore.CodecNone,
	"gzip":         logstore.CodecGzip,
	"snappy":       logstore.CodecSnappy,
	"lz4":          logstore.CodecLZ4,
	"zstd":         logstore.CodecZstd,
}

// codecLevelKeys are the topic configs that set a codec's level (KIP-390).
var codecLevelKeys = map[int8]string{
	logstore.CodecGzip: "compression.gzip.level",
	logstore.CodecLZ4:  "compression.lz4.level",
	logstore.CodecZstd: "compression.zstd.level",
}

// recordErrors is a produce refused for some of its records: the partition's
// answer lists each by its index in the batch.
type recordErrors struct {
	code    *kerr.Error
	msg     string
	records []kmsg.ProduceResponseTopicPartitionErrorRecord
}

func (e *recordErrors) Error() string { return e.msg }
func (e *recordErrors) Unwrap() error { return e.code }

// checkRecords applies what Kafka checks per record, one error per record
// at most: a compacted topic takes only keyed records; on a CreateTime topic
// a record's timestamp must fall within message.timestamp.{before,after}.
// max.ms of now; a producer may not flag a batch LogAppendTime where that
// would stamp its records (a LogAppendTime topic, records without a
// timestamp). The summary decides; only a batch that may break a rule is
// walked again, to name its records.
func (b *Broker) checkRecords(topic *replication.Topic, batch []byte, h logstore.BatchHeader, sum logstore.RecordSummary, logAppend bool) error {
	compacted := sum.NullKey && listHas(b.topicValue(topic, "cleanup.policy"), "compact")
	clientAppendTime := h.TimestampType() == 1
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !logAppend {
		before := b.topicInt64(topic, "message.timestamp.before.max.ms")
		after := b.topicInt64(topic, "message.timestamp.after.max.ms")
		if diff := b.topicInt64(topic, "message.timestamp.difference.max.ms"); diff < 1<<62 {
			// As Kafka 3.6-3.9 (KIP-937): the older key bounds each side
			// whose own key is set nowhere.
			if !b.topicKeySet(topic, "message.timestamp.before.max.ms") {
				before = diff
			}
			if !b.topicKeySet(topic, "message.timestamp.after.max.ms") {
				after = diff
			}
		}
		nowMs := time.Now().UnixMilli()
		if before < 1<<62 { // the default, Long.MAX_VALUE, bounds nothing
			lo = nowMs - before
		}
		if after < 1<<62 {
			hi = nowMs + after
		}
	}
	inBounds := func(ts int64) bool { return ts >= lo && ts <= hi }
	tsMin, tsMax := h.BaseTimestamp+sum.MinTimestampDelta, h.BaseTimestamp+sum.MaxTimestampDelta
	var suspect bool
	switch {
	case compacted:
		suspect = true
	case logAppend, tsMin == -1 && tsMax == -1:
		suspect = clientAppendTime
	default: // every record between tsMin and tsMax, or some without a timestamp
		suspect = !inBounds(tsMin) || !inBounds(tsMax) || clientAppendTime && tsMin <= -1 && tsMax >= -1
	}
	if !suspect {
		return nil
	}
	e := &recordErrors{code: kerr.InvalidRecord}
	add := func(i int, format string, args ...any) {
		m := fmt.Sprintf(format, args...)
		e.records = append(e.records, kmsg.ProduceResponseTopicPartitionErrorRecord{RelativeOffset: int32(i), ErrorMessage: &m})
	}
	err := logstore.EachRecord(batch, h, func(i int, tsDelta int64, nullKey bool) bool {
		ts := h.BaseTimestamp + tsDelta
		switch {
		case compacted && nullKey:
			add(i, "compacted topic %s takes only records with a key", topic.Name)
		case !logAppend && ts != -1:
			if !inBounds(ts) {
				add(i, "timestamp %d is outside [%d, %d] (message.timestamp.before.max.ms and after.max.ms)", ts, lo, hi)
				e.code = kerr.InvalidTimestamp
			}
		case clientAppendTime:
			add(i, "producers may not set the LogAppendTime timestamp type")
			e.code = kerr.InvalidTimestamp
		}
		return true
	})
	if err != nil { // CheckBatch walked the same records
		return kafkaErrorf(kerr.CorruptMessage, "%v", err)
	}
	switch {
	case len(e.records) == 0:
		return nil
	case e.code == kerr.InvalidTimestamp:
		e.msg = fmt.Sprintf("%d of %d records rejected for their timestamp", len(e.records), h.NumRecords)
	default:
		e.msg = fmt.Sprintf("%d of %d records rejected: %s", len(e.records), h.NumRecords, *e.records[0].ErrorMessage)
	}
	return e
}

func errName(err error) string {
	var k *kerr.Error
	if errors.As(err, &k) {
		return k.Message
	}
	return "UNKNOWN"
}
