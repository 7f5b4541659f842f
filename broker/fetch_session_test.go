package broker

import (
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fetchByID is a fetch v13 of the topic with id.
func fetchByID(sessionID, epoch int32, id replication.TopicID, parts map[int32]int64) *kmsg.FetchRequest {
	req := fetchReq(13, sessionID, epoch, "", parts)
	if len(req.Topics) > 0 {
		req.Topics[0].TopicID = id
	}
	return req
}

// A session made by fetch v13 names its topics by id: once the topic is
// deleted and made again under its name, the session's partition is the
// old topic's, and an incremental fetch answers INCONSISTENT_TOPIC_ID, as
// Kafka does, instead of serving the new topic's records under the old id.
// Forgetting the old id's partition, and adding the new id's, then serves
// the new topic.
func TestFetchSessionTopicRecreated(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	adm := kadm.NewClient(cl)
	createTopic(t, cl, "re", 1, nil)
	now := time.Now().UnixMilli()
	produceRaw(t, cl, "re", 0, -1, encodeBatch(now, -1, -1, -1, values(3, "old")))
	oldID := b.node.Controller().State().Topics["re"].ID

	full := rawRequest(t, b, fetchByID(0, 0, oldID, map[int32]int64{0: 3})).(*kmsg.FetchResponse)
	if full.ErrorCode != 0 || full.SessionID <= 0 {
		t.Fatalf("full fetch: %v session %d", kerr.ErrorForCode(full.ErrorCode), full.SessionID)
	}
	id := full.SessionID
	if _, err := adm.DeleteTopics(t.Context(), "re"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return b.node.Controller().State().Topics["re"] == nil }, "topic deleted")
	createTopic(t, cl, "re", 1, nil)
	produceRaw(t, cl, "re", 0, -1, encodeBatch(now, -1, -1, -1, values(4, "new")))
	newID := b.node.Controller().State().Topics["re"].ID

	inc := rawRequest(t, b, fetchByID(id, 1, oldID, nil)).(*kmsg.FetchResponse)
	if inc.ErrorCode != 0 || len(inc.Topics) != 1 || len(inc.Topics[0].Partitions) != 1 {
		t.Fatalf("incremental after the topic was made again: %+v", inc)
	}
	rt := inc.Topics[0]
	if p := rt.Partitions[0]; p.ErrorCode != kerr.InconsistentTopicID.Code || len(p.RecordBatches) != 0 || rt.TopicID != oldID {
		t.Fatalf("partition of the old topic id %v: %v with %d bytes under id %v; want INCONSISTENT_TOPIC_ID and no records",
			oldID, kerr.ErrorForCode(p.ErrorCode), len(p.RecordBatches), replication.TopicID(rt.TopicID))
	}

	swap := fetchByID(id, 2, newID, map[int32]int64{0: 0})
	ft := kmsg.NewFetchRequestForgottenTopic()
	ft.TopicID, ft.Partitions = oldID, []int32{0}
	swap.ForgottenTopics = append(swap.ForgottenTopics, ft)
	inc = rawRequest(t, b, swap).(*kmsg.FetchResponse)
	if inc.ErrorCode != 0 || inc.SessionID != id || len(inc.Topics) != 1 {
		t.Fatalf("incremental adding the new id and forgetting the old: %+v", inc)
	}
	if rt := inc.Topics[0]; rt.TopicID != newID || rt.Partitions[0].ErrorCode != 0 || rt.Partitions[0].HighWatermark != 4 || len(rt.Partitions[0].RecordBatches) == 0 {
		t.Fatalf("new topic: id %v error %v hw %d", replication.TopicID(rt.TopicID), kerr.ErrorForCode(rt.Partitions[0].ErrorCode), rt.Partitions[0].HighWatermark)
	}
}

// Kafka's session rules: a session that forgets its last partition is
// closed, the fetch answered without one; a session belongs to fetches
// that name topics by id (v13+) or by name, not to both.
func TestFetchSessionClosedAndMixed(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "sc", 1, nil)
	id := b.node.Controller().State().Topics["sc"].ID

	byName := rawRequest(t, b, fetchReq(12, 0, 0, "sc", map[int32]int64{0: 0})).(*kmsg.FetchResponse)
	if byName.SessionID <= 0 {
		t.Fatalf("full fetch v12: no session")
	}
	mixed := rawRequest(t, b, fetchByID(byName.SessionID, 1, id, nil)).(*kmsg.FetchResponse)
	if mixed.ErrorCode != kerr.FetchSessionTopicIDError.Code {
		t.Fatalf("v13 in a v12 session: %v, want FETCH_SESSION_TOPIC_ID_ERROR", kerr.ErrorForCode(mixed.ErrorCode))
	}
	byID := rawRequest(t, b, fetchByID(0, 0, id, map[int32]int64{0: 0})).(*kmsg.FetchResponse)
	mixed = rawRequest(t, b, fetchReq(12, byID.SessionID, 1, "sc", nil)).(*kmsg.FetchResponse)
	if mixed.ErrorCode != kerr.FetchSessionTopicIDError.Code {
		t.Fatalf("v12 in a v13 session: %v, want FETCH_SESSION_TOPIC_ID_ERROR", kerr.ErrorForCode(mixed.ErrorCode))
	}

	forget := fetchReq(12, byName.SessionID, 1, "sc", nil)
	ft := kmsg.NewFetchRequestForgottenTopic()
	ft.Topic, ft.Partitions = "sc", []int32{0}
	forget.ForgottenTopics = append(forget.ForgottenTopics, ft)
	emptied := rawRequest(t, b, forget).(*kmsg.FetchResponse)
	if emptied.ErrorCode != 0 || emptied.SessionID != 0 {
		t.Fatalf("session emptied: %v session %d, want no error and session 0", kerr.ErrorForCode(emptied.ErrorCode), emptied.SessionID)
	}
	after := rawRequest(t, b, fetchReq(12, byName.SessionID, 2, "sc", nil)).(*kmsg.FetchResponse)
	if after.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Fatalf("emptied session still open: %v", kerr.ErrorForCode(after.ErrorCode))
	}
}

// A full cache takes a new session only in place of one idle for
// sessionEvictAfter, or of a smaller one made that long ago; otherwise the
// new fetch goes without a session and every cached one is kept.
func TestFetchSessionCacheEviction(t *testing.T) {
	s := newFetchSessions(defaultFetchSessions)
	t0 := time.Unix(1_000_000, 0)
	session := func(parts int) *fetchSession {
		fs := &fetchSession{parts: map[sessionPartKey]*sessionPart{}}
		for p := range parts {
			fs.set(sessionPartKey{"t", int32(p)}, &sessionPart{})
		}
		return fs
	}
	var first, second *fetchSession
	ids := map[int32]bool{}
	for i := range defaultFetchSessions {
		fs := session(2)
		if !s.create(fs, t0) {
			t.Fatalf("session %d not made in a cache with room", i)
		}
		switch i {
		case 0:
			first = fs
		case 1:
			second = fs
		}
		if fs.id <= 0 || ids[fs.id] {
			t.Fatalf("session id %d: not positive, or given twice", fs.id)
		}
		ids[fs.id] = true
	}
	// Ids are random, as Kafka's, so that no client guesses another's.
	if second.id == first.id+1 && s.byID[second.id+1] != nil {
		t.Fatalf("session ids %d, %d, %d... are handed out in order", first.id, second.id, second.id+1)
	}
	if s.create(session(5), t0.Add(time.Second)) {
		t.Fatal("a full cache of fresh sessions evicted one")
	}
	if fs, _ := s.use(first.id, 1, false, t0.Add(time.Second)); fs != first {
		t.Fatal("the least recently used fresh session is gone")
	}

	later := t0.Add(sessionEvictAfter + time.Second)
	for id := range s.byID { // every session but one used just now
		if id != second.id {
			s.use(id, s.byID[id].epoch, false, later)
		}
	}
	if !s.create(session(1), later) || s.byID[second.id] != nil {
		t.Fatal("the session idle for longer than sessionEvictAfter was not the one evicted")
	}
	if s.create(session(2), later) {
		t.Fatal("a session evicted one of the same size")
	}
	if !s.create(session(3), later) || len(s.byID) != defaultFetchSessions {
		t.Fatalf("a larger session did not take the place of an old smaller one (%d cached)", len(s.byID))
	}
}

// A fetch limit of 0 still returns the first batch, and only it, as in
// Kafka (KIP-74).
func TestFetchMaxBytesZero(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "z", 2, nil)
	now := time.Now().UnixMilli()
	for p := int32(0); p < 2; p++ {
		produceRaw(t, cl, "z", p, -1, encodeBatch(now, -1, -1, -1, values(2, "a")))
		produceRaw(t, cl, "z", p, -1, encodeBatch(now, -1, -1, -1, values(2, "b")))
	}
	req := fetchReq(12, 0, -1, "z", map[int32]int64{0: 0, 1: 0})
	req.MaxBytes = 0
	resp := rawRequest(t, b, req).(*kmsg.FetchResponse)
	batches := 0
	for _, p := range resp.Topics[0].Partitions {
		if p.ErrorCode != 0 {
			t.Fatalf("partition %d: %v", p.Partition, kerr.ErrorForCode(p.ErrorCode))
		}
		var rb kmsg.RecordBatch
		for rest := p.RecordBatches; len(rest) > 0; batches++ {
			if err := rb.ReadFrom(rest); err != nil {
				t.Fatal(err)
			}
			rest = rest[12+int(rb.Length):]
		}
	}
	if batches != 1 {
		t.Fatalf("max_bytes 0 returned %d batches, want 1", batches)
	}
}

// A partition named twice in one fetch is answered once, with what its
// last naming asks, as Kafka answers.
func TestFetchDuplicatePartition(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "dup", 1, nil)
	produceRaw(t, cl, "dup", 0, -1, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(1, "a")))
	produceRaw(t, cl, "dup", 0, -1, encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(1, "b")))
	req := fetchReq(12, 0, -1, "dup", map[int32]int64{0: 0})
	second := req.Topics[0].Partitions[0]
	second.FetchOffset = 1
	req.Topics[0].Partitions = append(req.Topics[0].Partitions, second)
	resp := rawRequest(t, b, req).(*kmsg.FetchResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("answered %+v; want one partition", resp.Topics)
	}
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(resp.Topics[0].Partitions[0].RecordBatches); err != nil || rb.FirstOffset != 1 {
		t.Fatalf("first batch at %d (%v); want the last naming's offset 1", rb.FirstOffset, err)
	}
}

// A partition of an unknown topic id stays in the session, answered
// UNKNOWN_TOPIC_ID at each fetch until the client forgets it, as Kafka's
// session keeps it.
func TestFetchSessionUnknownTopicID(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "known", 1, nil)
	known := b.node.Controller().State().Topics["known"].ID
	unknown := replication.NewTopicID()

	req := fetchKnownAndID(known, unknown)
	unknownAnswer := func(resp *kmsg.FetchResponse) int16 {
		for _, rt := range resp.Topics {
			if rt.TopicID == unknown {
				return rt.Partitions[0].ErrorCode
			}
		}
		return -1
	}
	full := rawRequest(t, b, req).(*kmsg.FetchResponse)
	if full.SessionID <= 0 || unknownAnswer(full) != kerr.UnknownTopicID.Code {
		t.Fatalf("full fetch: session %d, unknown id answered %d", full.SessionID, unknownAnswer(full))
	}
	inc := rawRequest(t, b, fetchByID(full.SessionID, 1, known, nil)).(*kmsg.FetchResponse)
	if inc.ErrorCode != 0 || unknownAnswer(inc) != kerr.UnknownTopicID.Code {
		t.Fatalf("incremental: %v, unknown id answered %d; want UNKNOWN_TOPIC_ID again", kerr.ErrorForCode(inc.ErrorCode), unknownAnswer(inc))
	}
	forget := fetchByID(full.SessionID, 2, known, nil)
	ft := kmsg.NewFetchRequestForgottenTopic()
	ft.TopicID, ft.Partitions = unknown, []int32{0}
	forget.ForgottenTopics = append(forget.ForgottenTopics, ft)
	inc = rawRequest(t, b, forget).(*kmsg.FetchResponse)
	if inc.ErrorCode != 0 || inc.SessionID != full.SessionID || unknownAnswer(inc) != -1 {
		t.Fatalf("after forgetting it: %v, session %d, unknown id answered %d", kerr.ErrorForCode(inc.ErrorCode), inc.SessionID, unknownAnswer(inc))
	}
}

// A fetch that closes its session (epoch -1) naming no partition, as the
// Java consumer sends one on close with its fetch.max.wait.ms and waits
// for the answer (KAFKA-7109), is answered at once, as Kafka answers a
// fetch with nothing to read, not after MaxWait.
func TestFetchSessionCloseAnsweredAtOnce(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "close", 1, nil)
	full := rawRequest(t, b, fetchReq(12, 0, 0, "close", map[int32]int64{0: 0})).(*kmsg.FetchResponse)
	if full.SessionID <= 0 {
		t.Fatal("full fetch v12: no session")
	}
	req := fetchReq(12, full.SessionID, -1, "close", nil)
	req.MaxWaitMillis, req.MinBytes = 5000, 1
	start := time.Now()
	resp := rawRequest(t, b, req).(*kmsg.FetchResponse)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("closing fetch of no partition answered after %v, want at once", took)
	}
	if resp.ErrorCode != 0 || resp.SessionID != 0 || len(resp.Topics) != 0 {
		t.Errorf("closing fetch: %v session %d, %d topics; want no error, session 0, none", kerr.ErrorForCode(resp.ErrorCode), resp.SessionID, len(resp.Topics))
	}
	after := rawRequest(t, b, fetchReq(12, full.SessionID, 1, "close", nil)).(*kmsg.FetchResponse)
	if after.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Errorf("closed session still open: %v", kerr.ErrorForCode(after.ErrorCode))
	}
}

// max.incremental.fetch.session.cache.slots bounds the sessions kept; past
// it, and with 0 at all, a fetch asking for a session is served without
// one (session id 0), as in Kafka.
func TestFetchSessionCacheSlots(t *testing.T) {
	for _, slots := range []int32{0, 1} {
		b := startBroker(t, t.TempDir(), func(c *Config) { c.FetchSessionCacheSlots = slots })
		cl := newClient(t, b)
		createTopic(t, cl, "slots", 1, nil)
		var made int
		for range 3 {
			resp := rawRequest(t, b, fetchReq(12, 0, 0, "slots", map[int32]int64{0: 0})).(*kmsg.FetchResponse)
			if resp.ErrorCode != 0 || len(resp.Topics) != 1 {
				t.Fatalf("slots %d: %v, %d topics", slots, kerr.ErrorForCode(resp.ErrorCode), len(resp.Topics))
			}
			if resp.SessionID != 0 {
				made++
			}
		}
		if made != int(slots) {
			t.Errorf("max.incremental.fetch.session.cache.slots=%d: %d sessions made of 3 asked for", slots, made)
		}
		b.Close()
	}
	c := DefaultConfig()
	if err := c.LoadProperties(strings.NewReader("max.incremental.fetch.session.cache.slots=-1\n")); err == nil {
		if err = c.Validate(); err == nil {
			t.Error("max.incremental.fetch.session.cache.slots=-1 accepted")
		}
	}
}

// A fetch at the epoch of one still long-polling on the session (a retry, a
// duplicate) is refused with INVALID_FETCH_SESSION_EPOCH at once, as
// Kafka's FetchManager takes the epoch before the fetch waits, not once the
// first fetch's wait is over; the first is answered as usual and the
// session goes on at the next epoch.
func TestFetchSessionDuplicateEpochRefusedAtOnce(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "dup", 1, nil)
	full := rawRequest(t, b, fetchReq(12, 0, 0, "dup", map[int32]int64{0: 0})).(*kmsg.FetchResponse)
	if full.SessionID <= 0 {
		t.Fatal("full fetch v12: no session")
	}
	id := full.SessionID

	reads := b.fetchReads.Load()
	first := make(chan *kmsg.FetchResponse, 1)
	go func() {
		req := fetchReq(12, id, 1, "dup", nil)
		req.MaxWaitMillis, req.MinBytes = 4000, 1
		conn := rawConn(t, b)
		defer conn.Close()
		resp, _ := sendRaw(t, conn, rawFormatter, req, 1)
		first <- resp.(*kmsg.FetchResponse)
	}()
	// Read, registered, read again: waiting.
	waitFor(t, func() bool { return b.fetchReads.Load() >= reads+2 }, "the first fetch to wait")

	start := time.Now()
	dup := rawRequest(t, b, fetchReq(12, id, 1, "dup", nil)).(*kmsg.FetchResponse)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("fetch at the epoch of a waiting one answered after %v, want at once", took)
	}
	if dup.ErrorCode != kerr.InvalidFetchSessionEpoch.Code {
		t.Errorf("fetch at the epoch of a waiting one: %v, want INVALID_FETCH_SESSION_EPOCH", kerr.ErrorForCode(dup.ErrorCode))
	}
	if resp := <-first; resp.ErrorCode != 0 || resp.SessionID != id {
		t.Fatalf("waiting fetch: %v session %d", kerr.ErrorForCode(resp.ErrorCode), resp.SessionID)
	}
	if next := rawRequest(t, b, fetchReq(12, id, 2, "dup", nil)).(*kmsg.FetchResponse); next.ErrorCode != 0 || next.SessionID != id {
		t.Fatalf("next epoch: %v session %d", kerr.ErrorForCode(next.ErrorCode), next.SessionID)
	}
}

// fetchKnownAndID is a full v13 fetch of partition 0 of the topic known
// and of the topic id other, from offset 0.
func fetchKnownAndID(known, other replication.TopicID) *kmsg.FetchRequest {
	req := fetchByID(0, 0, known, map[int32]int64{0: 0})
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = other
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = 0, 1<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}
