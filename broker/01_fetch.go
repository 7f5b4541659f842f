package broker

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/gokafka/gokafka/internal/budget"
	"github.com/gokafka/gokafka/internal/bufpool"
	"github.com/gokafka/gokafka/logstore"
	"github.com/gokafka/gokafka/protocol"
	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchPart is one partition a fetch reads, with where its answer goes.
type fetchPart struct {
	key     sessionPartKey
	sp      *sessionPart
	part    *replication.Partition
	errCode int16
	unknown bool // not in the metadata: neither ends nor holds the wait
}

// handleFetch runs in turn, once the connection's earlier responses are
// written (the protocol layer decodes it only then), so a connection holds
// one fetch answer at a time.
func (b *Broker) handleFetch(ctx context.Context, req *protocol.Request, r *kmsg.FetchRequest) protocol.Reply {
	return func() kmsg.Response {
		bufs := &fetchBufs{budget: b.fetchMem}
		resp, ms := b.fetch(ctx, quotaClientOf(req), r, bufs)
		// The response's records point into bufs until it is encoded; its
		// memory counts against the budget until it is written, or the
		// connection is gone.
		req.AfterEncode = bufs.release
		req.AfterWrite = bufs.giveBack
		if ms > 0 {
			return throttleReply(req, ms, now(resp))()
		}
		return resp
	}
}

// newFetchBudget makes the budget that bounds the memory of the fetch
// responses being read and written across all connections: Kafka sends
// records from the files (zero copy), while here a response is read into
// memory, encoded, and written, and a client that asks for 55 MB and does
// not read pins that until the write times out. A fetch reads at most what
// the budget has left (at least its first batch, KIP-74), so many such
// clients shrink everyone's responses instead of exhausting memory.
//
// A first batch larger than what the budget granted (message.max.bytes can
// be near socket.request.max.bytes) is not read at once either: the fetch
// waits, until its deadline, for the budget to hold it (Acquire), so that
// many consumers of 100 MB batches are served a few at a time instead of
// each reading, and encoding, its own copy at once.
//
// The budget is four of the largest responses, at least 256 MiB, or size
// when that is set (tests).
func newFetchBudget(fetchMaxBytes int32, size int64) *budget.Budget {
	if size <= 0 {
		size = max(4*int64(fetchMaxBytes), 256<<20)
	}
	return budget.New(size)
}

// fetchBufs are the pooled buffers one fetch reads records into, one per
// partition read, each sized by the log for what it reads: reused, they are
// neither allocated nor zeroed per request, and nothing is copied as a
// response grows.
type fetchBufs struct {
	bufs   [][]byte
	budget *budget.Budget
	held   int64 // taken from budget, given back by giveBack
	got    int64 // bytes handed out by get since the last release
	// short is the size of a read get refused, past what was taken from
	// the budget: the caller acquires it and reads again.
	short int64
}

func (f *fetchBufs) get(n int) []byte {
	if f.budget != nil && f.got+int64(n) > f.held {
		f.short = int64(n)
		return nil
	}
	b := bufpool.Get(n)[:n]
	f.bufs = append(f.bufs, b)
	f.got += int64(n)
	return b
}

// release returns the buffers to the pool.
func (f *fetchBufs) release() {
	for _, b := range f.bufs {
		bufpool.Put(b)
	}
	f.bufs = f.bufs[:0]
	f.got = 0
}

// take asks the budget for up to n bytes for a read.
func (f *fetchBufs) take(n int64) int64 {
	if f.budget == nil {
		return n
	}
	got := f.budget.Take(n)
	f.held += got
	return got
}

// acquire takes n bytes from the budget for a read, waiting for them
// until deadline (budget.Budget.Acquire).
func (f *fetchBufs) acquire(ctx context.Context, deadline time.Time, n int64) {
	if f.budget == nil {
		return
	}
	f.budget.Acquire(ctx, deadline, n)
	f.held += n
}

// settle gives back what a read took but did not use.
func (f *fetchBufs) settle() {
	if f.budget != nil && f.held > f.got {
		f.budget.Give(f.held - f.got)
		f.held = f.got
	}
}

// giveBack returns all the budget held.
func (f *fetchBufs) giveBack() {
	if f.budget != nil && f.held > 0 {
		f.budget.Give(f.held)
		f.held = 0
	}
}

// fetch answers r; throttleMs is set when the client is over its
// consumer_byte_rate quota, and the response then has no records.
func (b *Broker) fetch(ctx context.Context, qc quotaClient, r *kmsg.FetchRequest, bufs *fetchBufs) (_ kmsg.Response, throttleMs int32) {
	resp := r.ResponseKind().(*kmsg.FetchResponse)
	if qb := b.fetchQuotaBytes(qc); qb > 0 && int64(r.MaxBytes) > qb {
		// As Kafka: no one fetch may take more than the quota allows.
		r.MaxBytes = int32(qb)
		r.MinBytes = min(r.MinBytes, r.MaxBytes)
	}
	// As Kafka: a fetch waits for no more than it may return, its MaxBytes
	// within the broker's fetch.max.bytes (v0–v2 have no MaxBytes), or a
	// MinBytes above that would hold data that is there until MaxWait.
	maxBytes := b.cfg.FetchMaxBytes
	if r.Version >= 3 {
		maxBytes = min(maxBytes, r.MaxBytes)
	}
	r.MinBytes = min(r.MinBytes, maxBytes)
	useIDs := r.Version >= 13
	st := b.node.Controller().State()

	// Resolve the request's partitions, by name or (v13+) by topic id.
	type reqPart struct {
		key sessionPartKey
		sp  *sessionPart
		bad int16 // error found while resolving
	}
	var reqParts []reqPart
	type dupKey struct {
		k  sessionPartKey
		id replication.TopicID
	}
	var seen map[dupKey]int
	for _, rt := range r.Topics {
		name := rt.Topic
		var tid replication.TopicID
		var bad int16
		if useIDs {
			if t := st.ByID[rt.TopicID]; t != nil {
				name, tid = t.Name, t.ID
			} else {
				// Kept in a session under a name no topic can have, and
				// answered UNKNOWN_TOPIC_ID at each fetch until the
				// client forgets it, as Kafka's session keeps it.
				bad = kerr.UnknownTopicID.Code
				tid = rt.TopicID
				name = unknownTopicName(tid)
			}
		} else if t := st.Topics[name]; t != nil {
			tid = t.ID
		}
		for _, p := range rt.Partitions {
			rp := reqPart{
				key: sessionPartKey{topic: name, part: p.Partition},
				sp:  &sessionPart{topicID: tid, offset: p.FetchOffset, maxBytes: p.PartitionMaxBytes, epoch: p.CurrentLeaderEpoch, lastEpoch: -1},
				bad: bad,
			}
			if r.Version >= 12 && p.LastFetchedEpoch >= 0 {
				rp.sp.lastEpoch = p.LastFetchedEpoch
			}
			// A partition named twice is read and answered once, with
			// what the last naming asks, in the place of the first, as
			// Kafka's map of the request's partitions does.
			if len(reqParts) > 0 { // a first partition has nothing to repeat
				if seen == nil {
					seen = map[dupKey]int{{reqParts[0].key, reqParts[0].sp.topicID}: 0}
				}
				dk := dupKey{rp.key, tid}
				if i, ok := seen[dk]; ok {
					reqParts[i] = rp
					continue
				}
				seen[dk] = len(reqParts)
			}
			reqParts = append(reqParts, rp)
		}
	}

	// Fetch session handling (KIP-227).
	var sess *fetchSession
	var parts []fetchPart
	incremental := false
	now := time.Now()
	switch {
	case r.Version < 7 || (r.SessionID == 0 && r.SessionEpoch == -1):
		// Sessionless full fetch.
	case r.SessionEpoch == -1:
		b.sessions.remove(r.SessionID)
	case r.SessionEpoch == 0:
		if r.SessionID != 0 {
			b.sessions.remove(r.SessionID)
		}
		fs := &fetchSession{usesIDs: useIDs, parts: map[sessionPartKey]*sessionPart{}}
		for _, rp := range reqParts {
			if rp.bad == 0 || rp.bad == kerr.UnknownTopicID.Code {
				fs.set(rp.key, rp.sp)
			}
		}
		fs.mu.Lock()
		defer fs.mu.Unlock()
		if b.sessions.create(fs, now) {
			sess = fs
		}
		// Otherwise the cache is full of sessions it keeps: answered
		// without one (session id 0), as Kafka does.
	default:
		fs, code := b.sessions.use(r.SessionID, r.SessionEpoch, useIDs, now)
		if fs == nil {
			resp.ErrorCode = code
			return resp, 0
		}
		fs.mu.Lock()
		defer fs.mu.Unlock()
		fs.resolve(st)
		for _, rp := range reqParts {
			if rp.bad == 0 || rp.bad == kerr.UnknownTopicID.Code {
				fs.set(rp.key, rp.sp)
			}
		}
		fs.forgetAll(r.ForgottenTopics, useIDs)
		if len(fs.parts) == 0 {
			// As Kafka: a session left with no partition is closed, and
			// the fetch answered without one.
			b.sessions.remove(fs.id)
			break
		}
		b.sessions.resized(fs)
		sess, incremental = fs, true
	}
	if sess != nil {
		resp.SessionID = sess.id
		for _, k := range sess.order {
			parts = append(parts, fetchPart{key: k, sp: sess.parts[k]})
		}
	}
	nSess := len(parts) // the session's partitions, first in parts
	// Partitions that could not be resolved are answered with their error
	// whether or not a session holds them (an unknown topic id's are
	// among the session's, above).
	for _, rp := range reqParts {
		if sess == nil || rp.bad != 0 && rp.bad != kerr.UnknownTopicID.Code {
			parts = append(parts, fetchPart{key: rp.key, sp: rp.sp, errCode: rp.bad})
		}
	}
	for i := range parts {
		fp := &parts[i]
		if fp.errCode != 0 {
			continue
		}
		if isUnknownTopicName(fp.key.topic) {
			fp.errCode = kerr.UnknownTopicID.Code
			continue
		}
		if sess != nil && sess.usesIDs {
			// The session's topic id must still be the topic's: one
			// deleted and made again under its name is another log
			// (KIP-516), whose records are not the client's next ones.
			if t := st.Topics[fp.key.topic]; t != nil && t.ID != fp.sp.topicID {
				fp.errCode = kerr.InconsistentTopicID.Code
				continue
			}
		}
		fp.part, fp.errCode = b.leaderReplica(st, fp.key.topic, fp.key.part, fp.sp.epoch)
	}
	// As Kafka's "erroneous" partitions (KafkaApis), a topic, topic id or
	// partition not in the metadata is answered with its error, but
	// neither ends the wait on the others nor holds it: a fetch of only
	// those, or of none (the close of a session, KIP-227, which consumers
	// wait for), is answered at once. Otherwise a client that keeps such a
	// partition in its fetches, or its session, polls in a tight loop.
	waitable := false
	for i := range parts {
		fp := &parts[i]
		fp.unknown = fp.errCode == kerr.UnknownTopicID.Code || fp.errCode == kerr.UnknownTopicOrPartition.Code
		waitable = waitable || !fp.unknown
	}

	deadline := time.Now().Add(time.Duration(r.MaxWaitMillis) * time.Millisecond)
	var notify chan struct{}
	var unregister []func()
	defer func() {
		for _, u := range unregister {
			u()
		}
	}()
	for {
		var sizes, ends []int64
		if notify != nil {
			b.recheckParts(parts)
			// Before the read: what grows after it is new. (The first
			// read is followed by another once registered, so it needs
			// none: a fetch answered at once does not pay for them.)
			sizes, ends = logSizes(parts)
		}
		out, total, err := b.readFetch(ctx, deadline, r, parts, incremental, bufs)
		if err != nil {
			resp.ErrorCode, _ = errCodeMsg(err)
			return resp, 0
		}
		ready := readyBytes(out, parts)
		if !waitable || ready >= int64(r.MinBytes) || r.MaxWaitMillis <= 0 || !time.Now().Before(deadline) || hasError(out, parts) {
			if ms := b.throttle(quotaFetch, qc, float64(total), true); ms > 0 {
				// As Kafka (KIP-219): a client over its quota gets no
				// records, which then do not count, and the session
				// stays as it was but for its epoch; a new session is
				// not kept, as the client cannot take an empty answer
				// as its start. (throttle took the records back.)
				if sess != nil && !incremental {
					b.sessions.remove(sess.id)
					resp.SessionID = 0
				}
				return resp, ms
			}
			if incremental {
				var served []sessionPartKey
				for i, o := range out[:nSess] {
					if len(o.records) > 0 {
						served = append(served, parts[i].key)
					}
				}
				sess.rotate(served)
			}
			b.finishFetch(resp, out, parts, useIDs, sess != nil, r.IsolationLevel == 1)
			return resp, 0
		}
		if notify == nil {
			notify = make(chan struct{}, 1)
			for _, fp := range parts {
				if fp.part != nil {
					unregister = append(unregister, fp.part.Wait(notify))
				}
			}
			// Data may have arrived between the read and registering.
			continue
		}
		// Wait without the records read: they are read again once enough
		// may be there, or at the deadline. As Kafka's delayed fetch
		// compares positions, a wake-up only adds up how much the logs
		// grew, within what each partition may still return, instead of
		// reading everything again on every produce to any of them.
		room := make([]int64, len(parts))
		unread := make([]int64, len(parts))
		for i, fp := range parts {
			room[i] = max(int64(fp.sp.maxBytes)-int64(len(out[i].records)), 0)
			if out[i].more {
				room[i] = 0 // counted in ready at its limit already
			}
			if total == 0 {
				room[i] = math.MaxInt64 // a first batch goes whatever the limits (KIP-74)
			}
			// Batches stored but not yet committed when the sizes were
			// taken count in them, though the read could not return
			// them: their commit is news.
			unread[i] = -1
			if fp.part != nil && ends[i] > out[i].hw {
				unread[i] = out[i].hw
			}
		}
		bufs.release()
		bufs.giveBack()
		if !waitFetchable(ctx, b.ctx, notify, deadline, parts, sizes, room, unread, ready, int64(r.MinBytes)) {
			return resp, 0
		}
	}
}

// recheckParts answers a partition deleted or no longer led since the fetch
// began with the error a new fetch would get, as Kafka completes its
// delayed fetches then, not from the log it had. It runs once the fetch
// waits on the partitions, so that a change before the wait began is seen
// too.
func (b *Broker) recheckParts(parts []fetchPart) {
	var st *replication.State
	for i := range parts {
		if fp := &parts[i]; fp.part != nil && (fp.part.Stopped() || !fp.part.Ready()) {
			if st == nil {
				st = b.node.Controller().State()
			}
			p, code := b.leaderReplica(st, fp.key.topic, fp.key.part, fp.sp.epoch)
			if p != fp.part || p.Stopped() {
				fp.part, fp.errCode = nil, cmp.Or(code, kerr.NotLeaderForPartition.Code)
			}
		}
	}
}

// logSizes are the bytes stored so far and end offsets of the logs of parts
// (0 for a partition with none). Stored, not Size: retention deleting a
// segment during the wait would otherwise hide the growth behind it, and a
// fetch at the tail would sleep to its deadline while records arrived.
func logSizes(parts []fetchPart) (sizes, ends []int64) {
	sizes, ends = make([]int64, len(parts)), make([]int64, len(parts))
	for i, fp := range parts {
		if fp.part != nil {
			// In this order: every batch counted in the size is below
			// the end.
			sizes[i] = fp.part.Log().Stored()
			ends[i] = fp.part.Log().EndOffset()
		}
	}
	return sizes, ends
}

// waitFetchable waits until the logs of parts have grown, since sizes, by
// enough that a read may reach minBytes (counting at most room more from
// each partition), or a partition's high watermark passes unread (where
// that is not -1), or until the deadline. It reports false if the fetch
// should end unanswered (its connection or the broker closing).
func waitFetchable(ctx, brokerCtx context.Context, notify <-chan struct{}, deadline time.Time, parts []fetchPart, sizes, room, unread []int64, total, minBytes int64) bool {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-brokerCtx.Done():
			return false
		case <-t.C:
			return true
		case <-notify:
			est := total
			for i, fp := range parts {
				if fp.part == nil {
					continue
				}
				if fp.part.Stopped() || !fp.part.Ready() {
					return true
				}
				if unread[i] >= 0 && fp.part.HighWatermark() > unread[i] {
					return true
				}
				est += min(max(fp.part.Log().Stored()-sizes[i], 0), room[i])
			}
			if est >= minBytes {
				return true
			}
		}
	}
}

type fetchOut struct {
	errCode        int16
	hw, lso, start int64
	diverging      *kmsg.FetchResponseTopicPartitionDivergingEpoch // the client's log diverged from this one there
	records        []byte
	count          int64 // records read from the log (before any down-conversion)
	more           bool  // the read stopped short of the high watermark (a limit, a segment's end, the budget)
	include        bool
	// refused: the topic's format is refused to the fetch's version
	// (errCode), which Kafka decides only as it answers, once its delayed
	// fetch is done: the error neither ends the wait, nor does a fetch at
	// the tail get it at once, in a loop; records there count as ready
	// (more), as the log Kafka read them from holds them, and so does an
	// offset off the log, whose read error ends Kafka's wait.
	refused bool
}

// readyBytes is how much of MinBytes a read fills, counted as Kafka's
// delayed fetch counts it: the bytes each partition has from its fetch
// offset, up to its PartitionMaxBytes, not what fits in the response. A
// partition whose next batch did not fit has at least its limit (or, past
// the end of a segment, more that Kafka answers at once), so that a
// MinBytes near the limits is met by a backlog whose batches do not fill
// them exactly, instead of it waiting MaxWait for every fetch.
func readyBytes(out []fetchOut, parts []fetchPart) int64 {
	var n int64
	for i, o := range out {
		n += int64(len(o.records))
		if o.more {
			n += max(int64(parts[i].sp.maxBytes)-int64(len(o.records)), 0)
		}
	}
	return n
}

// hasError reports whether a partition's answer is an error or a
// diverging epoch, which go back at once, as Kafka's delayed fetch
// completes on either (but for the errors of partitions unknown from the
// start, which Kafka does not wait on, and of formats refused to the
// fetch's version, which Kafka finds only once it answers).
func hasError(out []fetchOut, parts []fetchPart) bool {
	for i, o := range out {
		if parts[i].unknown || o.refused {
			continue
		}
		if o.errCode != 0 || o.diverging != nil {
			return true
		}
	}
	return false
}

// readFetch reads every partition once, within the byte limits, into
// buffers from bufs (released first: an earlier pass of a long poll is
// discarded).
func (b *Broker) readFetch(ctx context.Context, deadline time.Time, r *kmsg.FetchRequest, parts []fetchPart, incremental bool, bufs *fetchBufs) ([]fetchOut, int, error) {
	b.fetchReads.Add(1)
	bufs.release() // an earlier, discarded read of this long poll
	bufs.giveBack()
	defer bufs.settle()
	out := make([]fetchOut, len(parts))
	total := 0
	// The client's limit, within the broker's own (Kafka's fetch.max.bytes):
	// a client asking for 2 GiB gets 55 MiB, and the broker's memory stays
	// bounded by what it chose.
	maxBytes := int(r.MaxBytes)
	// A limit of 0 or less, as in Kafka, still gets the first batch (and
	// no more): KIP-74 lets one batch through whatever the limit.
	if r.Version < 3 || maxBytes > int(b.cfg.FetchMaxBytes) {
		maxBytes = int(b.cfg.FetchMaxBytes)
	}
	maxBytes = int(bufs.take(int64(max(maxBytes, 0))))
	st := b.node.Controller().State()
	for i, fp := range parts {
		o := &out[i]
		o.hw, o.lso, o.start = -1, -1, -1
		if fp.errCode != 0 {
			o.errCode = fp.errCode
			o.include = true
			continue
		}
		if r.Version < 10 && b.zstdTopic(st, fp.key.topic) {
			// As Kafka: zstd came with fetch v10 (KIP-110), so a topic
			// that stores zstd is not read by an older fetch.
			o.errCode = kerr.UnsupportedCompressionType.Code
			o.include, o.refused = true, true
			o.more = fp.sp.offset != fp.part.HighWatermark()
			continue
		}
		if r.Version < 4 && !b.downConversionEnabled(st, fp.key.topic) {
			// As Kafka 3.x: fetch v0–v3 wants messages of magic 0 or 1,
			// which a topic that disables down-conversion does not make.
			o.errCode = kerr.UnsupportedVersion.Code
			o.include, o.refused = true, true
			o.more = fp.sp.offset != fp.part.HighWatermark()
			continue
		}
		p := fp.part
		o.hw = p.HighWatermark()
		o.lso = o.hw
		o.start = p.LogStartOffset()
		if fp.sp.lastEpoch >= 0 {
			// As Kafka's Partition.readRecords, before it reads: the
			// client's log ends its last epoch at offset; where this
			// one ends that epoch earlier (or knows only an older
			// one), they diverged, and the answer says where instead
			// of returning records. An epoch this log cannot place,
			// or an offset below the log start, is out of range.
			e, end := epochEnd(p.LeaderEpoch(), p.Log().EndOffset(), fp.sp.lastEpoch, p.Log().EpochEndOffset)
			switch {
			case e < 0 || end < 0 || fp.sp.offset < o.start:
				o.errCode = kerr.OffsetOutOfRange.Code
				o.include = true
				continue
			case e < fp.sp.lastEpoch || end < fp.sp.offset:
				o.diverging = &kmsg.FetchResponseTopicPartitionDivergingEpoch{Epoch: e, EndOffset: end}
				o.include = true
				continue
			}
		}
		if fp.sp.offset < o.start || fp.sp.offset > o.hw {
			o.errCode = kerr.OffsetOutOfRange.Code
			o.include = true
			continue
		}
		limit := int(fp.sp.maxBytes)
		if rem := maxBytes - total; rem < limit {
			limit = rem
		}
		if fp.sp.offset < o.hw && (limit > 0 || total == 0) {
			if limit <= 0 {
				limit = 1
			}
			bufs.short = 0
			recs, err := p.Log().ReadWith(bufs.get, fp.sp.offset, limit, o.hw)
			if need := bufs.short; need > 0 && err == nil {
				// The read needed more than the budget granted: a
				// first batch larger than it (a later one would not
				// go anyway). Its bytes are taken from the budget,
				// waiting for them, before it is read again.
				recs = nil
				if total == 0 {
					bufs.settle()
					bufs.acquire(ctx, deadline, need)
					bufs.short = 0
					recs, err = p.Log().ReadWith(bufs.get, fp.sp.offset, limit, o.hw)
					if bufs.short > 0 && err == nil {
						// The log changed in between, and the batch
						// there now is larger still: take that too.
						bufs.acquire(ctx, time.Time{}, bufs.short)
						recs, err = p.Log().ReadWith(bufs.get, fp.sp.offset, limit, o.hw)
					}
				}
			}
			if len(recs) == 0 {
				recs = nil
			}
			switch {
			case errors.Is(err, logstore.ErrOffsetOutOfRange):
				o.errCode = kerr.OffsetOutOfRange.Code
			case err != nil:
				b.logger.Warn("fetch read failed", "topic", fp.key.topic, "partition", fp.key.part, "err", err)
				o.errCode = storageErrorCode(r.Version)
			}
			// At most one oversized batch per response (KIP-74): past the
			// first, a partition whose next batch does not fit gets none.
			if total > 0 && len(recs) > limit {
				recs = nil
			}
			// What the read left out (its next batch, whether past a
			// limit or the budget) is there, and counts in MinBytes as
			// Kafka's DelayedFetch counts it.
			if nextOffset(recs) < o.hw {
				o.more = true
			}
			zstdAt := -1
			if r.Version < 4 {
				// Messages of magic 0 and 1 have no zstd (the batches of
				// producers that chose it, the topic leaving the codec to
				// them), so these cannot be converted for fetch v0–v3.
				// As Kafka's LazyDownConversionRecords, the batches
				// before the first zstd one still go; a fetch that
				// starts at it gets the error (below). Fetch v4–v9
				// gets them as stored, as from Kafka.
				if zstdAt = logstore.FirstCompressed(recs, logstore.CodecZstd); zstdAt >= 0 {
					recs = recs[:zstdAt]
				}
			}
			o.count = logstore.CountRecords(recs)
			if r.Version < 4 && len(recs) > 0 {
				// As Kafka 3.x: fetch v0–v3 predates magic-2 batches, so
				// the records go as messages of magic 0 (v0–v1) or 1.
				magic := int8(1)
				if r.Version < 2 {
					magic = 0
				}
				firstStored := 0
				if h, err := logstore.ParseBatchHeader(recs); err == nil {
					firstStored = h.Size()
				}
				if recs, err = logstore.DownConvert(recs, magic, fp.sp.offset, limit); err != nil {
					b.logger.Warn("fetch down-conversion failed", "topic", fp.key.topic, "partition", fp.key.part, "err", err)
					recs, o.errCode = nil, storageErrorCode(r.Version)
				}
				if len(recs) == 0 {
					recs = nil
				}
				if partMax := max(int(fp.sp.maxBytes), 0); r.Version <= 2 && len(recs) > partMax && firstStored > partMax {
					// Before KIP-74 (fetch v3) the partition's limit is
					// hard, as in Kafka: the set is cut at it,
					// mid-message if need be, which an old client reads
					// as a message too large for its fetch size. (These
					// versions have no limit for the whole response;
					// the broker's own gives way to a first message as
					// before.) Kafka holds the stored batches to the
					// limit, not what they convert to: a first batch
					// within it goes whole however large its messages
					// are uncompressed (LazyDownConversionRecords), so
					// only a first batch past the limit is cut.
					recs = recs[:partMax]
				}
			}
			if zstdAt >= 0 && len(recs) == 0 && o.errCode == 0 {
				// Nothing before the zstd batch (or only control
				// batches, which magic 0 and 1 drop).
				o.count = 0
				o.errCode, o.hw, o.lso, o.start = kerr.UnsupportedCompressionType.Code, -1, -1, -1
			}
			o.records = recs
			total += len(recs)
		}
		o.include = !incremental || len(o.records) > 0 || o.errCode != 0 ||
			!fp.sp.sent || fp.sp.sentHW != o.hw || fp.sp.sentLSO != o.lso || fp.sp.sentStart != o.start
	}
	return out, total, nil
}

// storageErrorCode is the code a fetch of version v answers a storage error
// with: as Kafka's maybeDownConvertStorageError, fetch v5 and older get
// NOT_LEADER_OR_FOLLOWER, which their clients retry after a metadata
// refresh, where KAFKA_STORAGE_ERROR is unknown to them and fatal.
func storageErrorCode(v int16) int16 {
	if v <= 5 {
		return kerr.NotLeaderForPartition.Code
	}
	return kerr.KafkaStorageError.Code
}

func (b *Broker) finishFetch(resp *kmsg.FetchResponse, out []fetchOut, parts []fetchPart, useIDs, inSession, readCommitted bool) {
	// As Kafka's FetchResponse, partitions are answered in the order they
	// are read (the request's, or the session's): a partition joins the
	// topic entry before it only when that is its topic (by id too, from
	// v13), so a request naming a topic's partitions apart gets as many
	// entries for it.
	ti := -1
	for i, fp := range parts {
		o := out[i]
		if !o.include {
			continue
		}
		switch {
		case inSession && o.errCode == 0:
			fp.sp.sentHW, fp.sp.sentLSO, fp.sp.sentStart, fp.sp.sent = o.hw, o.lso, o.start, true
		case inSession:
			// As Kafka, which sets the cached high watermark to -1: once
			// the error clears, the partition is sent again, news or not.
			fp.sp.sent = false
		}
		if ti < 0 || resp.Topics[ti].Topic != fp.key.topic || useIDs && resp.Topics[ti].TopicID != fp.sp.topicID {
			rt := kmsg.NewFetchResponseTopic()
			rt.Topic = fp.key.topic
			if useIDs {
				rt.TopicID = fp.sp.topicID
			}
			resp.Topics = append(resp.Topics, rt)
			ti = len(resp.Topics) - 1
		}
		rp := kmsg.NewFetchResponseTopicPartition()
		rp.Partition = fp.key.part
		rp.ErrorCode = o.errCode
		rp.HighWatermark = o.hw
		rp.LastStableOffset = o.lso
		rp.LogStartOffset = o.start
		rp.PreferredReadReplica = -1
		if o.diverging != nil {
			rp.DivergingEpoch = *o.diverging
		}
		// Never null: librdkafka reads a null records field as a bad
		// MessageSetSize on non-flexible versions.
		rp.RecordBatches = o.records
		if rp.RecordBatches == nil {
			rp.RecordBatches = []byte{}
		}
		if readCommitted && o.errCode == 0 {
			// As Kafka: a read_committed fetch gets the list of aborted
			// transactions in what it reads, empty while there are none;
			// null is for read_uncommitted.
			rp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
		}
		if o.errCode == kerr.NotLeaderForPartition.Code || o.errCode == kerr.FencedLeaderEpoch.Code {
			rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = b.leaderOf(fp.key.topic, fp.key.part)
		}
		if len(o.records) > 0 {
			b.metrics.bytesOut.WithLabelValues(fp.key.topic).Add(float64(len(o.records)))
			b.metrics.recordsOut.WithLabelValues(fp.key.topic).Add(float64(o.count))
		}
		resp.Topics[ti].Partitions = append(resp.Topics[ti].Partitions, rp)
		if b.logger.Enabled(context.Background(), slog.LevelDebug) {
			b.logger.Debug("fetch partition", "topic", fp.key.topic, "partition", fp.key.part, "offset", fp.sp.offset,
				"error", o.errCode, "hw", o.hw, "bytes", len(o.records))
		}
	}
}

// nextOffset is the offset after the last batch of recs, -1 if none.
func nextOffset(recs []byte) int64 {
	next := int64(-1)
	for len(recs) > 0 {
		h, err := logstore.ParseBatchHeader(recs)
		if err != nil || h.Size() > len(recs) {
			break
		}
		next, recs = h.LastOffset()+1, recs[h.Size():]
	}
	return next
}

// zstdTopic says whether topic stores its batches in zstd (compression.type).
func (b *Broker) zstdTopic(st *replication.State, topic string) bool {
	t := st.Topics[topic]
	return t != nil && b.topicValueIn(st, t, "compression.type") == "zstd"
}

// downConversionEnabled tells whether topic lets fetch v0–v3 have its
// batches as messages of magic 0 or 1 (message.downconversion.enable).
func (b *Broker) downConversionEnabled(st *replication.State, topic string) bool {
	t := st.Topics[topic]
	return t == nil || !strings.EqualFold(b.topicValueIn(st, t, "message.downconversion.enable"), "false")
}

// unknownTopicName is the name a fetch session files a partition of an
// unknown topic id under: no topic's name starts with a NUL.
func unknownTopicName(id replication.TopicID) string { return "\x00" + string(id[:]) }

func isUnknownTopicName(name string) bool { return len(name) > 0 && name[0] == 0 }
