package broker

import (
	"context"
	"errors"
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
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	type waiting struct {
		rp      *kmsg.ProduceResponseTopicPartition
		part    *replication.Partition
		result  replication.AppendResult
		start   time.Time
		appendT int64
	}
	var waits []waiting
	if r.Acks != 0 && r.Acks != 1 && r.Acks != -1 {
		return now(produceFailAll(r, kerr.InvalidRequiredAcks))
	}
	if r.TransactionID != nil {
		// Transactions arrive with their own issue; until then no producer
		// can hold a transactional id here (InitProducerID refuses them).
		return now(produceFailAll(r, kerr.TransactionalIDAuthorizationFailed))
	}
	state := b.node.Controller().State()
	for _, rt := range r.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		resp.Topics = append(resp.Topics, st)
	}
	for ti, rt := range r.Topics {
		topic := state.Topics[rt.Topic]
		for pi, rp := range rt.Partitions {
			sp := &resp.Topics[ti].Partitions[pi]
			*sp = kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.BaseOffset = -1
			sp.LogAppendTime = -1
			sp.LogStartOffset = -1
			batch, hdr, appendTime, err := b.checkProduce(topic, rp)
			var part *replication.Partition
			if err == nil {
				part = b.node.Partition(rt.Topic, rp.Partition)
				if part == nil {
					err = kerr.NotLeaderForPartition
				}
			}
			if err != nil {
				sp.ErrorCode, sp.ErrorMessage = errCodeMsg(err)
				b.metrics.produceError.WithLabelValues(errName(err)).Inc()
				continue
			}
			b.metrics.bytesIn.WithLabelValues(rt.Topic).Add(float64(len(batch)))
			b.metrics.recordsIn.WithLabelValues(rt.Topic).Add(float64(hdr.NumRecords))
			waits = append(waits, waiting{rp: sp, part: part, result: part.Append(batch, hdr), start: time.Now(), appendT: appendTime})
		}
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
	if r.Acks == 0 {
		// Nothing is sent back; still count failures as they complete.
		go func() {
			defer releaseWhenDone()
			for _, w := range waits {
				if _, err := w.result.Wait(); err != nil {
					b.metrics.produceError.WithLabelValues(errName(err)).Inc()
				}
			}
		}()
		return func() kmsg.Response { return nil }
	}
	return func() kmsg.Response {
		defer func() { go releaseWhenDone() }()
		for _, w := range waits {
			base, err := w.result.Wait()
			if err != nil {
				w.rp.ErrorCode, w.rp.ErrorMessage = errCodeMsg(err)
				b.metrics.produceError.WithLabelValues(errName(err)).Inc()
				continue
			}
			b.metrics.commitLat.Observe(time.Since(w.start).Seconds())
			w.rp.BaseOffset = base
			w.rp.LogAppendTime = w.appendT
			w.rp.LogStartOffset = w.part.LogStartOffset()
		}
		return resp
	}
}

// produceFailAll answers every partition of r with code.
func produceFailAll(r *kmsg.ProduceRequest, code *kerr.Error) *kmsg.ProduceResponse {
	resp := r.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range r.Topics {
		st := kmsg.NewProduceResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewProduceResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.ErrorCode = code.Code
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// checkProduce validates one partition's records as Kafka does and returns
// the batch to append. appendTime is the LogAppendTime stamped, or -1.
func (b *Broker) checkProduce(topic *replication.Topic, rp kmsg.ProduceRequestTopicPartition) (batch []byte, h logstore.BatchHeader, appendTime int64, err error) {
	appendTime = -1
	if topic == nil || rp.Partition < 0 || int(rp.Partition) >= len(topic.Replicas) {
		return nil, h, -1, kerr.UnknownTopicOrPartition
	}
	if topic.Internal {
		return nil, h, -1, kafkaErrorf(kerr.InvalidTopicException, "cannot append to internal topic %s", topic.Name)
	}
	if len(rp.Records) == 0 {
		return nil, h, -1, kafkaErrorf(kerr.InvalidRecord, "no record batch")
	}
	if max := b.topicInt64(topic, "max.message.bytes"); int64(len(rp.Records)) > max {
		return nil, h, -1, kafkaErrorf(kerr.MessageTooLarge, "batch of %d bytes exceeds max.message.bytes %d", len(rp.Records), max)
	}
	batches, err := logstore.SplitBatches(rp.Records)
	if err != nil {
		return nil, h, -1, kafkaErrorf(kerr.CorruptMessage, "%v", err)
	}
	if len(batches) != 1 {
		return nil, h, -1, kafkaErrorf(kerr.InvalidRecord, "produce v3+ takes exactly one record batch per partition, got %d", len(batches))
	}
	batch = batches[0]
	h, err = logstore.ValidateBatch(batch)
	if err != nil {
		switch {
		case errors.Is(err, logstore.ErrUnsupportedMagic):
			return nil, h, -1, kafkaErrorf(kerr.UnsupportedForMessageFormat, "%v", err)
		case errors.Is(err, logstore.ErrInvalidRecord), errors.Is(err, logstore.ErrUnsupportedCodec):
			return nil, h, -1, kafkaErrorf(kerr.InvalidRecord, "%v", err)
		default:
			return nil, h, -1, kafkaErrorf(kerr.CorruptMessage, "%v", err)
		}
	}
	if h.IsControl() {
		return nil, h, -1, kafkaErrorf(kerr.InvalidRecord, "clients may not write control batches")
	}
	if h.IsTransactional() {
		return nil, h, -1, kafkaErrorf(kerr.InvalidTxnState, "transactions are not supported yet")
	}
	if h.ProducerID >= 0 && h.BaseSequence < 0 {
		return nil, h, -1, kafkaErrorf(kerr.InvalidRecord, "idempotent batch without a sequence")
	}
	if b.topicValue(topic, "message.timestamp.type") == "LogAppendTime" {
		appendTime = time.Now().UnixMilli()
		logstore.SetMaxTimestampLogAppend(batch, appendTime)
		h, _ = logstore.ParseBatchHeader(batch)
	} else if err := b.checkTimestamps(topic, h); err != nil {
		return nil, h, -1, err
	}
	return batch, h, appendTime, nil
}

// checkTimestamps applies message.timestamp.{before,after}.max.ms to the
// batch's timestamps (batch-level bounds; Kafka checks each record).
func (b *Broker) checkTimestamps(topic *replication.Topic, h logstore.BatchHeader) error {
	before := b.topicInt64(topic, "message.timestamp.before.max.ms")
	after := b.topicInt64(topic, "message.timestamp.after.max.ms")
	if diff := b.topicInt64(topic, "message.timestamp.difference.max.ms"); diff < before {
		before = diff
	}
	nowMs := time.Now().UnixMilli()
	if before < 1<<62 && h.BaseTimestamp < nowMs-before {
		return kafkaErrorf(kerr.InvalidTimestamp, "timestamp %d is more than %d ms before now", h.BaseTimestamp, before)
	}
	if after < 1<<62 && h.MaxTimestamp > nowMs+after {
		return kafkaErrorf(kerr.InvalidTimestamp, "timestamp %d is more than %d ms after now", h.MaxTimestamp, after)
	}
	return nil
}

func errName(err error) string {
	var k *kerr.Error
	if errors.As(err, &k) {
		return k.Message
	}
	return "UNKNOWN"
}
