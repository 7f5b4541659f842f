package broker

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func fetchReq(version int16, sessionID, epoch int32, topic string, parts map[int32]int64) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = version
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MinBytes = 0
	req.MaxBytes = 1 << 20
	req.SessionID, req.SessionEpoch = sessionID, epoch
	if len(parts) > 0 {
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		for p, off := range parts {
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, off, 1<<20
			rp.CurrentLeaderEpoch = -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	return req
}

func TestFetchErrorsAndLimits(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer func() { b.Close() }()
	cl := newClient(t, b)
	createTopic(t, cl, "f", 1, nil)
	now := time.Now().UnixMilli()
	for i := 0; i < 3; i++ {
		if rp := produceRaw(t, cl, "f", 0, -1, encodeBatch(now, -1, -1, -1, values(10, "x"))); rp.ErrorCode != 0 {
			t.Fatal(rp.ErrorCode)
		}
	}
	// Out of range, with the high watermark in the answer.
	resp := rawRequest(t, b, fetchReq(11, 0, -1, "f", map[int32]int64{0: 31})).(*kmsg.FetchResponse)
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != kerr.OffsetOutOfRange.Code || p.HighWatermark != 30 || p.LogStartOffset != 0 {
		t.Fatalf("offset 31: %+v", p)
	}
	// At the high watermark: no error, no records, records field not null.
	resp = rawRequest(t, b, fetchReq(11, 0, -1, "f", map[int32]int64{0: 30})).(*kmsg.FetchResponse)
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.RecordBatches) != 0 {
		t.Fatalf("offset 30: %+v", p)
	}
	// A tiny byte limit still returns one whole batch (KIP-74).
	req := fetchReq(11, 0, -1, "f", map[int32]int64{0: 12})
	req.Topics[0].Partitions[0].PartitionMaxBytes = 1
	resp = rawRequest(t, b, req).(*kmsg.FetchResponse)
	p = resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || len(p.RecordBatches) == 0 {
		t.Fatalf("tiny limit: %+v", p)
	}
	if base := int64(p.RecordBatches[7]) | int64(p.RecordBatches[6])<<8; base != 10 || len(p.RecordBatches) != len(encodeBatch(now, -1, -1, -1, values(10, "x"))) {
		t.Fatalf("tiny limit: want exactly the batch holding offset 12 (base 10), got %d bytes base %d", len(p.RecordBatches), base)
	}
	// Unknown topic, and the fenced/unknown leader epoch checks.
	resp = rawRequest(t, b, fetchReq(11, 0, -1, "nope", map[int32]int64{0: 0})).(*kmsg.FetchResponse)
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("unknown topic: %v", kerr.ErrorForCode(code))
	}
	b = restartBroker(t, b, "f") // an older epoch than the current one
	epoch := b.node.Partition("f", 0).LeaderEpoch()
	for _, tc := range []struct {
		epoch int32
		want  *kerr.Error
	}{{epoch - 1, kerr.FencedLeaderEpoch}, {epoch + 1, kerr.UnknownLeaderEpoch}} {
		req := fetchReq(11, 0, -1, "f", map[int32]int64{0: 0})
		req.Topics[0].Partitions[0].CurrentLeaderEpoch = tc.epoch
		resp = rawRequest(t, b, req).(*kmsg.FetchResponse)
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != tc.want.Code {
			t.Fatalf("epoch %d: %v, want %v", tc.epoch, kerr.ErrorForCode(code), tc.want)
		}
	}
}

func TestFetchLongPollWokenByProduce(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "lp", 1, nil)
	req := fetchReq(11, 0, -1, "lp", map[int32]int64{0: 0})
	req.MaxWaitMillis = 5000
	req.MinBytes = 1
	defer produceAfter(t, cl, "lp", "w", nil)() // waited for before the broker closes
	start := time.Now()
	resp := rawRequest(t, b, req).(*kmsg.FetchResponse)
	took := time.Since(start)
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.RecordBatches) == 0 {
		t.Fatalf("long poll returned no data: %+v", p)
	}
	if took < 250*time.Millisecond || took > 3*time.Second {
		t.Fatalf("long poll took %v; want it woken by the produce at ~300ms", took)
	}
	// With no data it waits MaxWait, then answers empty.
	req = fetchReq(11, 0, -1, "lp", map[int32]int64{0: 1})
	req.MaxWaitMillis, req.MinBytes = 300, 1
	start = time.Now()
	rawRequest(t, b, req)
	if took := time.Since(start); took < 280*time.Millisecond {
		t.Fatalf("empty long poll returned after %v, want >= 300ms", took)
	}
}

// A long poll at the tail is woken by a produce even when retention deleted
// segments while it waited: the log shrank by more than the new batch, and
// the fetch slept to MaxWait while records arrived (a consumer at the tail of
// a topic with short retention lagged, then fell off its start).
func TestFetchLongPollWokenAfterRetention(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "lpr", 1, map[string]string{"internal.segment.bytes": "2048", "retention.bytes": "4096"})
	now := time.Now().UnixMilli()
	for i := 0; i < 40; i++ {
		produceRaw(t, cl, "lpr", 0, -1, encodeBatch(now, -1, -1, -1, []testRecord{{value: make([]byte, 400)}}))
	}
	req := fetchReq(11, 0, -1, "lpr", map[int32]int64{0: 40})
	req.MaxWaitMillis = 5000
	req.MinBytes = 1
	defer produceAfter(t, cl, "lpr", "w", func() { b.node.EnforceRetention(time.Now()) })() // waited for before the broker closes
	start := time.Now()
	resp := rawRequest(t, b, req).(*kmsg.FetchResponse)
	took := time.Since(start)
	p := resp.Topics[0].Partitions[0]
	if p.ErrorCode != 0 || len(p.RecordBatches) == 0 || p.LogStartOffset == 0 {
		t.Fatalf("long poll: error %d, %d bytes of records, log start %d; want records after retention moved the start", p.ErrorCode, len(p.RecordBatches), p.LogStartOffset)
	}
	if took > 3*time.Second {
		t.Fatalf("long poll took %v; want it woken by the produce at ~300ms", took)
	}
}

// A long poll on a partition deleted meanwhile is answered at once with
// UNKNOWN_TOPIC_OR_PARTITION, as Kafka completes its delayed fetches when
// a partition goes, not at MaxWait from the deleted log.
func TestFetchLongPollEndsOnDelete(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "gone", 1, nil)
	produceRaw(t, cl, "gone", 0, -1, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(1, "w")))
	req := fetchReq(12, 0, -1, "gone", map[int32]int64{0: 1})
	req.MaxWaitMillis, req.MinBytes = 10000, 1
	deleted := make(chan struct{})
	defer func() { <-deleted }()
	go func() {
		defer close(deleted)
		time.Sleep(300 * time.Millisecond)
		del := kmsg.NewPtrDeleteTopicsRequest()
		rdt := kmsg.NewDeleteTopicsRequestTopic()
		rdt.Topic = kmsg.StringPtr("gone")
		del.Topics = append(del.Topics, rdt)
		if code := request[*kmsg.DeleteTopicsResponse](t, cl, del).Topics[0].ErrorCode; code != 0 {
			t.Errorf("delete: %v", kerr.ErrorForCode(code))
		}
	}()
	start := time.Now()
	resp := rawRequest(t, b, req).(*kmsg.FetchResponse)
	took := time.Since(start)
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("long poll on a deleted partition answered %v, high watermark %d, want UNKNOWN_TOPIC_OR_PARTITION", kerr.ErrorForCode(p.ErrorCode), p.HighWatermark)
	}
	if took > 5*time.Second {
		t.Errorf("long poll on a deleted partition took %v, want it answered at the deletion (~300ms)", took)
	}
}

// A fetch's LastFetchedEpoch (v12+) is checked against the log, as Kafka's
// Partition.readRecords checks it: an epoch that ends here before the
// fetch offset comes back at once as a diverging epoch, with no records;
// one the log cannot place is OFFSET_OUT_OF_RANGE.
func TestFetchLastFetchedEpoch(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer func() { b.Close() }()
	cl := newClient(t, b)
	createTopic(t, cl, "lfe", 1, nil)
	// The log's first data comes in its second epoch, leaving an older one.
	cl.Close()
	b = restartBroker(t, b, "lfe")
	cl = newClient(t, b)
	produceRaw(t, cl, "lfe", 0, -1, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(2, "w")))
	epoch := b.node.Partition("lfe", 0).LeaderEpoch()
	fetch := func(last int32) (kmsg.FetchResponseTopicPartition, time.Duration) {
		req := fetchReq(12, 0, -1, "lfe", map[int32]int64{0: 2})
		req.Topics[0].Partitions[0].LastFetchedEpoch = last
		req.MaxWaitMillis, req.MinBytes = 5000, 1
		start := time.Now()
		resp := rawRequest(t, b, req).(*kmsg.FetchResponse)
		return resp.Topics[0].Partitions[0], time.Since(start)
	}
	// The client's log agrees: the long poll waits for new records.
	defer produceAfter(t, cl, "lfe", "x", nil)() // waited for before the broker closes
	if p, _ := fetch(epoch); p.ErrorCode != 0 || p.DivergingEpoch.Epoch != -1 || len(p.RecordBatches) == 0 {
		t.Errorf("last fetched epoch %d, the log's: %v, diverging %+v, %d bytes", epoch, kerr.ErrorForCode(p.ErrorCode), p.DivergingEpoch, len(p.RecordBatches))
	}
	// An older epoch than any here ends where the log's first starts.
	p, took := fetch(epoch - 1)
	if p.ErrorCode != 0 || p.DivergingEpoch.Epoch != epoch-1 || p.DivergingEpoch.EndOffset != 0 || len(p.RecordBatches) != 0 {
		t.Errorf("last fetched epoch %d: %v, diverging %+v, %d bytes; want diverging {%d 0} and no records", epoch-1, kerr.ErrorForCode(p.ErrorCode), p.DivergingEpoch, len(p.RecordBatches), epoch-1)
	}
	if took > 3*time.Second {
		t.Errorf("a diverging epoch was answered after %v, want at once", took)
	}
	if p, _ := fetch(epoch + 5); p.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Errorf("last fetched epoch %d, past the log's: %v, want OFFSET_OUT_OF_RANGE", epoch+5, kerr.ErrorForCode(p.ErrorCode))
	}
}

// TestFetchSessions walks KIP-227: a full fetch creates a session, an
// incremental one names nothing new and gets back only partitions with news,
// wrong epochs and unknown sessions are errors.
func TestFetchSessions(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "s", 2, nil)
	now := time.Now().UnixMilli()
	produceRaw(t, cl, "s", 0, -1, encodeBatch(now, -1, -1, -1, values(2, "a")))
	produceRaw(t, cl, "s", 1, -1, encodeBatch(now, -1, -1, -1, values(2, "b")))

	full := rawRequest(t, b, fetchReq(12, 0, 0, "s", map[int32]int64{0: 0, 1: 0})).(*kmsg.FetchResponse)
	if full.ErrorCode != 0 || full.SessionID <= 0 || len(full.Topics) != 1 || len(full.Topics[0].Partitions) != 2 {
		t.Fatalf("full fetch: %+v", full)
	}
	id := full.SessionID

	// Incremental, epoch 1: the consumer moves both partitions to offset 2,
	// where there is nothing new and the watermarks did not change, so the
	// response names no partition.
	inc := rawRequest(t, b, fetchReq(12, id, 1, "s", map[int32]int64{0: 2, 1: 2})).(*kmsg.FetchResponse)
	if inc.ErrorCode != 0 || inc.SessionID != id || len(inc.Topics) != 0 {
		t.Fatalf("incremental with no news: %+v", inc)
	}
	// New data on partition 1 only: the next incremental (naming nothing)
	// returns partition 1 alone.
	produceRaw(t, cl, "s", 1, -1, encodeBatch(now, -1, -1, -1, values(1, "c")))
	inc = rawRequest(t, b, fetchReq(12, id, 2, "s", nil)).(*kmsg.FetchResponse)
	if inc.ErrorCode != 0 || len(inc.Topics) != 1 || len(inc.Topics[0].Partitions) != 1 || inc.Topics[0].Partitions[0].Partition != 1 {
		t.Fatalf("incremental with news on partition 1: %+v", inc)
	}
	if p := inc.Topics[0].Partitions[0]; len(p.RecordBatches) == 0 || p.HighWatermark != 3 {
		t.Fatalf("partition 1: %+v", p)
	}
	// Wrong epoch, unknown session.
	bad := rawRequest(t, b, fetchReq(12, id, 9, "s", nil)).(*kmsg.FetchResponse)
	if bad.ErrorCode != kerr.InvalidFetchSessionEpoch.Code {
		t.Fatalf("wrong epoch: %v", kerr.ErrorForCode(bad.ErrorCode))
	}
	bad = rawRequest(t, b, fetchReq(12, id+1000, 1, "s", nil)).(*kmsg.FetchResponse)
	if bad.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("unknown session: %v", kerr.ErrorForCode(bad.ErrorCode))
	}
	// Forgetting partition 1, then new data on it: not returned.
	forget := fetchReq(12, id, 3, "s", nil)
	ft := kmsg.NewFetchRequestForgottenTopic()
	ft.Topic, ft.Partitions = "s", []int32{1}
	forget.ForgottenTopics = append(forget.ForgottenTopics, ft)
	rawRequest(t, b, forget)
	produceRaw(t, cl, "s", 1, -1, encodeBatch(now, -1, -1, -1, values(1, "d")))
	inc = rawRequest(t, b, fetchReq(12, id, 4, "s", nil)).(*kmsg.FetchResponse)
	if inc.ErrorCode != 0 || len(inc.Topics) != 0 {
		t.Fatalf("forgotten partition returned: %+v", inc)
	}
	// Closing the session (epoch -1) makes it unknown.
	rawRequest(t, b, fetchReq(12, id, -1, "s", nil))
	bad = rawRequest(t, b, fetchReq(12, id, 5, "s", nil)).(*kmsg.FetchResponse)
	if bad.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("closed session: %v", kerr.ErrorForCode(bad.ErrorCode))
	}
}

// fetch.max.bytes bounds an answer whatever the client asks, as in Kafka,
// still sending at least one whole batch.
func TestFetchMaxBytesBroker(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) { c.FetchMaxBytes = 2048 })
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "f", 2, nil)
	now := time.Now().UnixMilli()
	batch := encodeBatch(now, -1, -1, -1, values(10, "x"))
	for p := int32(0); p < 2; p++ {
		for len(batch)*int(b.node.Partition("f", p).HighWatermark()/10) < 8192 {
			if rp := produceRaw(t, cl, "f", p, -1, batch); rp.ErrorCode != 0 {
				t.Fatal(rp.ErrorCode)
			}
		}
	}
	req := fetchReq(11, 0, -1, "f", map[int32]int64{0: 0, 1: 0})
	req.MaxBytes = 1<<31 - 1
	for i := range req.Topics[0].Partitions {
		req.Topics[0].Partitions[i].PartitionMaxBytes = 1<<31 - 1
	}
	resp := rawRequest(t, b, req).(*kmsg.FetchResponse)
	total := 0
	for _, p := range resp.Topics[0].Partitions {
		if p.ErrorCode != 0 {
			t.Fatalf("partition %d: %v", p.Partition, kerr.ErrorForCode(p.ErrorCode))
		}
		total += len(p.RecordBatches)
	}
	if total == 0 || total > 2048 {
		t.Fatalf("%d bytes of records with fetch.max.bytes 2048 (batches of %d)", total, len(batch))
	}

	// A first batch above the limit still goes out whole.
	big := encodeBatch(now, -1, -1, -1, values(400, "y"))
	if len(big) <= 2048 {
		t.Fatalf("batch of %d bytes is not above the limit", len(big))
	}
	createTopic(t, cl, "g", 1, nil)
	if rp := produceRaw(t, cl, "g", 0, -1, big); rp.ErrorCode != 0 {
		t.Fatal(rp.ErrorCode)
	}
	req = fetchReq(11, 0, -1, "g", map[int32]int64{0: 0})
	req.MaxBytes = 1<<31 - 1
	resp = rawRequest(t, b, req).(*kmsg.FetchResponse)
	if n := len(resp.Topics[0].Partitions[0].RecordBatches); n != len(big) {
		t.Fatalf("first batch: %d bytes, want %d", n, len(big))
	}
}

// A read_committed fetch gets an empty list of aborted transactions, a
// read_uncommitted one null, as Kafka answers.
func TestFetchAbortedTransactionsByIsolation(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "iso", 1, nil)
	produceRaw(t, cl, "iso", 0, -1, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(3, "v")))
	for _, c := range []struct {
		version   int16
		isolation int8
		wantList  bool
	}{{4, 1, true}, {4, 0, false}, {12, 1, true}, {12, 0, false}} {
		req := kmsg.NewPtrFetchRequest()
		req.Version, req.ReplicaID, req.IsolationLevel = c.version, -1, c.isolation
		ft := kmsg.NewFetchRequestTopic()
		ft.Topic = "iso"
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.PartitionMaxBytes = 1 << 20
		fp.CurrentLeaderEpoch = -1
		ft.Partitions = append(ft.Partitions, fp)
		req.Topics = append(req.Topics, ft)
		p := rawRequest(t, b, req).(*kmsg.FetchResponse).Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.LastStableOffset != 3 {
			t.Fatalf("v%d isolation %d: error %v, last stable offset %d", c.version, c.isolation, kerr.ErrorForCode(p.ErrorCode), p.LastStableOffset)
		}
		if got := p.AbortedTransactions != nil; got != c.wantList || len(p.AbortedTransactions) != 0 {
			t.Errorf("v%d isolation %d: aborted transactions %v (a list: %v), want a list: %v", c.version, c.isolation, p.AbortedTransactions, got, c.wantList)
		}
	}
}

// TestFetchSessionRotates: an incremental fetch moves the partitions it
// returned records for to the end of the session's order, as Kafka's
// sessions do, so under a byte limit the partitions take turns instead of
// the first one draining its backlog while the others wait.
func TestFetchSessionRotates(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "rot", 3, nil)
	now := time.Now().UnixMilli()
	for p := int32(0); p < 3; p++ {
		for i := 0; i < 4; i++ {
			if rp := produceRaw(t, cl, "rot", p, -1, encodeBatch(now, -1, -1, -1, values(2, "r"))); rp.ErrorCode != 0 {
				t.Fatal(kerr.ErrorForCode(rp.ErrorCode))
			}
		}
	}
	next := []int64{0, 0, 0}
	var sessionID int32
	// fetch asks for the given partitions (in this order) at their next
	// offsets, with a limit that lets one batch through, and returns the
	// partition served.
	fetch := func(id, epoch int32, parts ...int32) int32 {
		t.Helper()
		req := fetchReq(12, id, epoch, "rot", nil)
		req.MaxBytes = 1
		if len(parts) > 0 {
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic = "rot"
			for _, p := range parts {
				rp := kmsg.NewFetchRequestTopicPartition()
				rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = p, next[p], 1<<20, -1
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
		}
		resp := rawRequest(t, b, req).(*kmsg.FetchResponse)
		if resp.ErrorCode != 0 {
			t.Fatalf("epoch %d: %v", epoch, kerr.ErrorForCode(resp.ErrorCode))
		}
		served := int32(-1)
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if len(rp.RecordBatches) == 0 {
					continue
				}
				if served >= 0 {
					t.Fatalf("epoch %d: records from partitions %d and %d under a 1-byte limit", epoch, served, rp.Partition)
				}
				served = rp.Partition
				next[rp.Partition] += 2
			}
		}
		if epoch == 0 {
			if resp.SessionID <= 0 {
				t.Fatalf("no session made")
			}
			sessionID = resp.SessionID
		}
		return served
	}
	got := []int32{fetch(0, 0, 0, 1, 2)}
	for epoch := int32(1); epoch <= 5; epoch++ {
		got = append(got, fetch(sessionID, epoch, got[len(got)-1]))
	}
	// The full fetch that makes the session keeps the request's order.
	if want := []int32{0, 0, 1, 2, 0, 1}; !slices.Equal(got, want) {
		t.Fatalf("partitions served in turn %v, want %v", got, want)
	}
}

// TestFetchMemoryBudget: the memory of fetch responses in flight is bounded
// across connections. A client that asks for a big response and does not
// read it holds its share of the budget, so another gets only what is left
// (its first batch when nothing is, KIP-74), until the first connection
// goes and its share comes back.
func TestFetchMemoryBudget(t *testing.T) {
	const budget = 8 << 20
	b := startBroker(t, t.TempDir(), func(c *Config) { c.fetchMemory = budget })
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "mem", 1, map[string]string{"max.message.bytes": "2000000"})
	value := make([]byte, 500_000)
	for i := range value {
		value[i] = byte(i*7 + i>>8) // incompressible enough: stored as sent
	}
	for range 40 {
		if rp := produceRaw(t, cl, "mem", 0, -1, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, []testRecord{{value: value}})); rp.ErrorCode != 0 {
			t.Fatal(kerr.ErrorForCode(rp.ErrorCode))
		}
	}
	big := func() *kmsg.FetchRequest {
		req := fetchReq(11, 0, -1, "mem", map[int32]int64{0: 0})
		req.MaxBytes, req.Topics[0].Partitions[0].PartitionMaxBytes = 20<<20, 20<<20
		return req
	}
	// The stuck client: it asks, and reads nothing.
	stuck := rawConn(t, b)
	stuck.(*net.TCPConn).SetReadBuffer(4 << 10)
	if _, err := stuck.Write(rawFormatter.AppendRequest(nil, big(), 1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return b.fetchMem.Available() < 1<<20 }, "the stuck fetch to take the budget")
	records := func() int {
		resp := rawRequest(t, b, big()).(*kmsg.FetchResponse)
		return len(resp.Topics[0].Partitions[0].RecordBatches)
	}
	if n := records(); n == 0 || n > 1<<20 {
		t.Fatalf("with the budget taken, a fetch got %d bytes; want its first batch only", n)
	}
	stuck.Close()
	waitFor(t, func() bool { return b.fetchMem.Available() == budget }, "the stuck connection's share back")
	if n := records(); n < 4<<20 {
		t.Fatalf("with the budget free, a fetch got %d bytes", n)
	}
	waitFor(t, func() bool { return b.fetchMem.Available() == budget }, "every share back once the fetches are written")
}

// TestLongPollReadsOnce: a fetch waiting for MinBytes does not read its
// partitions again on every produce to one of them; it adds up how much
// the logs grew and reads once enough may be there (or at its deadline),
// as Kafka's delayed fetch compares positions.
func TestLongPollReadsOnce(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "herd", 2, nil)
	now := time.Now().UnixMilli()
	one := encodeBatch(now, -1, -1, -1, values(1, "h"))
	for range 5 {
		produceRaw(t, cl, "herd", 0, -1, one)
	}
	req := fetchReq(11, 0, -1, "herd", nil)
	req.MaxWaitMillis = 10_000
	req.MinBytes = int32(len(one) * 15) // partition 0's 5 batches and 10 more
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = "herd"
	for _, p := range []int32{0, 1} {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = p, 1<<20, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	done := make(chan *kmsg.FetchResponse, 1)
	start := time.Now()
	conn := rawConn(t, b)
	defer conn.Close()
	if _, err := conn.Write(rawFormatter.AppendRequest(nil, req, 1)); err != nil {
		t.Fatal(err)
	}
	go func() { // no t.Fatal off the test's goroutine
		defer close(done)
		_, body, err := readResponseFrame(conn)
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.SetVersion(req.Version)
		if err == nil && resp.ReadFrom(body) == nil {
			done <- resp
		}
	}()
	waitFor(t, func() bool { return b.fetchReads.Load() >= 2 }, "the fetch to wait")
	reads := b.fetchReads.Load()
	for i := range 9 {
		produceRaw(t, cl, "herd", 1, -1, one)
		select {
		case resp := <-done:
			t.Fatalf("answered after %d more batches, short of MinBytes: %+v", i+1, resp)
		default:
		}
	}
	if more := b.fetchReads.Load() - reads; more > 0 {
		t.Errorf("%d more reads while 9 produces fell short of MinBytes, want none", more)
	}
	produceRaw(t, cl, "herd", 1, -1, one) // the tenth: enough
	select {
	case resp, ok := <-done:
		if !ok {
			t.Fatal("no answer could be read")
		}
		n := 0
		for _, p := range resp.Topics[0].Partitions {
			n += len(p.RecordBatches)
		}
		if n < int(req.MinBytes) || time.Since(start) > 5*time.Second {
			t.Fatalf("answered with %d bytes after %v, want %d well before MaxWait", n, time.Since(start), req.MinBytes)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("not answered once MinBytes were there")
	}
}

// TestFetchBudgetHoldsLargeFirstBatch: a first batch larger than what the
// fetch memory budget has left is not read while the budget is taken (it
// was, by each fetch at once, so that consumers of batches near
// message.max.bytes had the broker hold one copy each: eight consumers of
// 100 MB batches took 3 GB); the fetch waits for the budget, until its
// deadline, and is answered once it comes back.
func TestFetchBudgetHoldsLargeFirstBatch(t *testing.T) {
	const budget = 8 << 20
	b := startBroker(t, t.TempDir(), func(c *Config) { c.fetchMemory = budget })
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "huge", 1, map[string]string{"max.message.bytes": "8000000"})
	value := make([]byte, 6_000_000)
	for i := range value {
		value[i] = byte(i*7 + i>>8)
	}
	for range 2 {
		if rp := produceRaw(t, cl, "huge", 0, -1, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, []testRecord{{value: value}})); rp.ErrorCode != 0 {
			t.Fatal(kerr.ErrorForCode(rp.ErrorCode))
		}
	}
	req := func(wait int32) *kmsg.FetchRequest {
		r := fetchReq(11, 0, -1, "huge", map[int32]int64{0: 0})
		r.MaxWaitMillis = wait
		r.MaxBytes, r.Topics[0].Partitions[0].PartitionMaxBytes = 1<<20, 1<<20
		return r
	}
	// The stuck client holds one 6 MB batch, unread.
	stuck := rawConn(t, b)
	stuck.(*net.TCPConn).SetReadBuffer(4 << 10)
	if _, err := stuck.Write(rawFormatter.AppendRequest(nil, req(0), 1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return b.fetchMem.Available() < budget }, "the stuck fetch to take from the budget")

	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		conn, err := net.DialTimeout("tcp", b.Addr().String(), 5*time.Second)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		r := req(10_000)
		if _, err := conn.Write(rawFormatter.AppendRequest(nil, r, 42)); err != nil {
			done <- result{err: err}
			return
		}
		_, body, err := readResponseFrame(conn)
		if err != nil {
			done <- result{err: err}
			return
		}
		resp := r.ResponseKind().(*kmsg.FetchResponse)
		resp.SetVersion(r.GetVersion())
		if err := resp.ReadFrom(body); err != nil {
			done <- result{err: err}
			return
		}
		done <- result{n: len(resp.Topics[0].Partitions[0].RecordBatches)}
	}()
	select {
	case r := <-done:
		t.Fatalf("with the budget taken, a fetch of a 6 MB batch was answered at once (%d bytes, %v); want it to wait", r.n, r.err)
	case <-time.After(500 * time.Millisecond):
	}
	if avail := b.fetchMem.Available(); avail < budget-6_100_000 {
		t.Fatalf("budget at %d while the second fetch waits: it read its batch anyway", avail)
	}
	stuck.Close()
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.n < 6_000_000 || r.n > 7_000_000 {
			t.Fatalf("got %d bytes, want the first batch (KIP-74)", r.n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting fetch was not answered once the budget came back")
	}
	waitFor(t, func() bool { return b.fetchMem.Available() == budget }, "every share back once the fetches are written")
}

// Partitions not in the metadata (an unknown topic, partition or topic id)
// are answered with their error but, as Kafka's "erroneous" partitions, do
// not end a long poll on the others: a client keeping one in its session
// would otherwise fetch in a tight loop. A fetch of only those is answered
// at once.
func TestFetchUnknownPartitionsDoNotEndWait(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "known", 1, nil)
	id := b.node.Controller().State().Topics["known"].ID

	byName := fetchReq(12, 0, -1, "known", map[int32]int64{0: 0})
	for _, other := range []struct {
		topic string
		part  int32
	}{{"nosuch", 0}, {"known", 7}} {
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = other.topic
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = other.part, 1<<20, -1
		rt.Partitions = append(rt.Partitions, rp)
		byName.Topics = append(byName.Topics, rt)
	}
	byID := fetchByID(0, 0, id, map[int32]int64{0: 0})
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = [16]byte{1, 2, 3}
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 1<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	byID.Topics = append(byID.Topics, rt)

	for _, req := range []*kmsg.FetchRequest{byName, byID} {
		req.MaxWaitMillis, req.MinBytes = 700, 1
		start := time.Now()
		resp := rawRequest(t, b, req).(*kmsg.FetchResponse)
		if took := time.Since(start); took < 600*time.Millisecond {
			t.Errorf("fetch v%d with unknown partitions answered after %v, want MaxWait (700ms)", req.Version, took)
		}
		var codes []int16
		for _, rt := range resp.Topics {
			for _, p := range rt.Partitions {
				codes = append(codes, p.ErrorCode)
			}
		}
		if len(codes) != len(req.Topics) || codes[0] != 0 || slices.Contains(codes[1:], 0) {
			t.Errorf("fetch v%d: error codes %v, want none for the known partition, then errors", req.Version, codes)
		}
	}

	// A session holding an unknown topic id waits on its known partition
	// too, and is woken by a produce to it.
	sess := rawRequest(t, b, byID).(*kmsg.FetchResponse)
	if sess.SessionID <= 0 {
		t.Fatal("no session")
	}
	incr := fetchByID(sess.SessionID, 1, id, nil)
	incr.MaxWaitMillis, incr.MinBytes = 5000, 1
	defer produceAfter(t, cl, "known", "w", nil)() // waited for before the broker closes
	start := time.Now()
	resp := rawRequest(t, b, incr).(*kmsg.FetchResponse)
	if took := time.Since(start); took < 250*time.Millisecond || took > 3*time.Second {
		t.Errorf("incremental fetch with an unknown topic id answered after %v, want at the produce (~300ms)", took)
	}
	got := 0
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			got += len(p.RecordBatches)
		}
	}
	if got == 0 {
		t.Errorf("incremental fetch woken by a produce returned no records: %+v", resp.Topics)
	}

	only := fetchReq(12, 0, -1, "nosuch", map[int32]int64{0: 0})
	only.MaxWaitMillis, only.MinBytes = 5000, 1
	start = time.Now()
	rawRequest(t, b, only)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("fetch of only an unknown topic answered after %v, want at once", took)
	}
}

// MinBytes is met as Kafka meets it: within what the fetch may return (the
// smaller of MinBytes and MaxBytes, within fetch.max.bytes), and counting
// each partition's backlog up to its PartitionMaxBytes (DelayedFetch), not
// the whole batches that fit in the response. Otherwise a consumer whose
// fetch.min.bytes is its max.partition.fetch.bytes waits MaxWait on every
// fetch of a backlog.
func TestFetchMinBytesAsKafkaCounts(t *testing.T) {
	b := startBroker(t, t.TempDir(), func(c *Config) { c.FetchMaxBytes = 4096 })
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "mm", 1, nil)
	batch := encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(20, "m"))
	size := int32(len(batch))
	for range 2 * 4096 / size { // more than fetch.max.bytes
		produceRaw(t, cl, "mm", 0, -1, batch)
	}
	for _, tc := range []struct {
		name                        string
		minBytes, maxBytes, partMax int32
		waits                       bool
	}{
		{"MinBytes above MaxBytes", 1 << 20, size / 2, 1 << 20, false},
		{"MinBytes above fetch.max.bytes", 1 << 20, 1 << 20, 1 << 20, false},
		{"MinBytes the partition limit, batches not filling it", size*5/2 + 1, 1 << 20, size*5/2 + 1, false},
		{"MinBytes above the partition limit", size * 3, 1 << 20, size * 5 / 2, true},
	} {
		req := fetchReq(11, 0, -1, "mm", map[int32]int64{0: 0})
		req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 3000, tc.minBytes, tc.maxBytes
		req.Topics[0].Partitions[0].PartitionMaxBytes = tc.partMax
		start := time.Now()
		resp := rawRequest(t, b, req).(*kmsg.FetchResponse)
		took := time.Since(start)
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || len(p.RecordBatches) == 0 {
			t.Errorf("%s: %v, %d bytes; want records", tc.name, kerr.ErrorForCode(p.ErrorCode), len(p.RecordBatches))
		}
		if waited := took > 2*time.Second; waited != tc.waits {
			t.Errorf("%s: answered after %v; want MaxWait waited: %v", tc.name, took, tc.waits)
		}
	}
}

// produceAfter produces a record of value v to partition 0 of topic 300 ms
// from now (running before first, if not nil), for a long poll to be woken
// by; the returned func waits for it.
func produceAfter(t *testing.T, cl *kgo.Client, topic, v string, before func()) (wait func()) {
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		time.Sleep(300 * time.Millisecond)
		if before != nil {
			before()
		}
		produceRaw(t, cl, topic, 0, -1, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(1, v)))
	}()
	return func() { <-produced }
}

// A partition whose next batch is past what the response has left for it,
// and is dropped, still counts toward MinBytes at its PartitionMaxBytes, as
// Kafka's DelayedFetch counts the bytes between the fetch offset and the
// high watermark: the data is there, so the fetch is answered at once with
// what did fit, not at MaxWait.
func TestFetchMinBytesCountsDroppedBatch(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "md", 2, nil)
	now := time.Now().UnixMilli()
	produceRaw(t, cl, "md", 0, -1, encodeBatch(now, -1, -1, -1, values(1, "s")))
	big := encodeBatch(now, -1, -1, -1, []testRecord{{value: make([]byte, 2000)}})
	produceRaw(t, cl, "md", 1, -1, big) // the last batch of partition 1
	req := fetchReq(11, 0, -1, "md", map[int32]int64{0: 0})
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 1, 1500, -1 // below the batch
	req.Topics[0].Partitions = append(req.Topics[0].Partitions, rp)
	req.MaxWaitMillis, req.MinBytes = 3000, 1000
	start := time.Now()
	resp := rawRequest(t, b, req).(*kmsg.FetchResponse)
	took := time.Since(start)
	if ps := resp.Topics[0].Partitions; len(ps) != 2 || len(ps[0].RecordBatches) == 0 || len(ps[1].RecordBatches) != 0 {
		t.Fatalf("want partition 0's batch and none of partition 1's: %+v", ps)
	}
	if took > 2*time.Second {
		t.Fatalf("answered after %v; want at once, partition 1's backlog meeting MinBytes", took)
	}
}

// TestFetchKeepsPartitionOrder checks that a fetch answers its partitions
// in the order it asked for them, as Kafka's FetchResponse does (a topic's
// partitions asked for apart are answered apart, in two topic entries):
// KIP-74 has partitions filled in that order, which clients see only if
// the answer keeps it (FetchRequestTest's
// testBrokerRespectsPartitionsOrderAndSizeLimits).
func TestFetchKeepsPartitionOrder(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "oa", 2, nil)
	createTopic(t, cl, "ob", 1, nil)
	now := time.Now().UnixMilli()
	for _, tp := range []struct {
		topic string
		part  int32
	}{{"oa", 0}, {"oa", 1}, {"ob", 0}} {
		if rp := produceRaw(t, cl, tp.topic, tp.part, -1, encodeBatch(now, -1, -1, -1, values(1, "x"))); rp.ErrorCode != 0 {
			t.Fatal(kerr.ErrorForCode(rp.ErrorCode))
		}
	}
	st := b.node.Controller().State()
	for _, v := range []int16{4, 12, 13} {
		req := fetchReq(v, 0, -1, "", nil)
		for _, tp := range []struct {
			topic string
			part  int32
		}{{"oa", 0}, {"ob", 0}, {"oa", 1}} {
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic, rt.TopicID = tp.topic, [16]byte(st.Topics[tp.topic].ID)
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = tp.part, 1<<20, -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
		}
		resp := rawRequest(t, b, req).(*kmsg.FetchResponse)
		var got []string
		for _, rt := range resp.Topics {
			name := rt.Topic
			if v >= 13 {
				for n, tt := range st.Topics {
					if [16]byte(tt.ID) == rt.TopicID {
						name = n
					}
				}
			}
			for _, rp := range rt.Partitions {
				if rp.ErrorCode != 0 || len(rp.RecordBatches) == 0 {
					t.Fatalf("v%d %s-%d: %v, %d bytes", v, name, rp.Partition, kerr.ErrorForCode(rp.ErrorCode), len(rp.RecordBatches))
				}
				got = append(got, fmt.Sprintf("%s-%d", name, rp.Partition))
			}
			got = append(got, "|")
		}
		if s := strings.Join(got, " "); s != "oa-0 | ob-0 | oa-1 |" {
			t.Fatalf("v%d: answered %s, want oa-0 | ob-0 | oa-1 |", v, s)
		}
	}
}
