package broker

import (
	"container/list"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch sessions (KIP-227): a consumer's set of partitions and what it was
// last told about each, so an incremental fetch names only what changed and
// gets back only partitions with news.

// defaultFetchSessions is max.incremental.fetch.session.cache.slots' default.
const defaultFetchSessions = 1000

// sessionEvictAfter is how long a session is safe from eviction, both since
// it was last used and since it was made (Kafka's evictionMs): a full cache
// takes a new session only in place of one idle that long, or of a smaller
// one at least that old; otherwise the fetch is served without a session,
// and every client in a session keeps it. Evicting the least recently used
// session at once, as this cache did, had a 1001st consumer knock out a
// live session, whose consumer made a new one that knocked out a third...
const sessionEvictAfter = 120 * time.Second

type sessionPartKey struct {
	topic string
	part  int32
}

type sessionPart struct {
	topicID  replication.TopicID
	offset   int64
	maxBytes int32
	epoch    int32 // current leader epoch given by the client
	// lastEpoch is the epoch of the batch before offset, as the client
	// saw it (v12+ LastFetchedEpoch; -1 when not given), for the check
	// that its log has not diverged from this one.
	lastEpoch int32

	// What the last response said, to decide whether it has news.
	sentHW, sentLSO, sentStart int64
	sent                       bool
}

type fetchSession struct {
	id      int32
	epoch   int32 // the epoch the next request must carry, under fetchSessions.mu
	usesIDs bool  // made by fetch v13+, which names topics by id
	parts   map[sessionPartKey]*sessionPart
	order   []sessionPartKey // the order the client added partitions in
	unknown int              // partitions of topic ids unknown when added (unknownTopicName)
	mu      sync.Mutex       // one request per session at a time

	// The cache's, under fetchSessions.mu.
	elem     *list.Element
	created  time.Time
	lastUsed time.Time
	size     int // partitions, as of the last request
}

type fetchSessions struct {
	max  int // max.incremental.fetch.session.cache.slots: 0 makes none
	mu   sync.Mutex
	byID map[int32]*fetchSession
	lru  *list.List // front: most recently used
}

func newFetchSessions(max int) *fetchSessions {
	return &fetchSessions{max: max, byID: map[int32]*fetchSession{}, lru: list.New()}
}

// create caches fs, which holds its partitions, under a new id, and reports
// whether there was room (see sessionEvictAfter).
func (s *fetchSessions) create(fs *fetchSession, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= s.max && !s.evictFor(len(fs.parts), now) {
		return false
	}
	// A random id, as Kafka picks one: another client cannot guess a
	// session's id to fetch on it or to stop it.
	var id int32
	for {
		id = rand.Int32N(math.MaxInt32) + 1
		if _, taken := s.byID[id]; !taken {
			break
		}
	}
	fs.id, fs.epoch = id, 1
	fs.created, fs.lastUsed, fs.size = now, now, len(fs.parts)
	fs.elem = s.lru.PushFront(fs)
	s.byID[id] = fs
	return true
}

// evictFor removes a session to make room for one of size partitions, as
// Kafka's FetchSessionCache does: the least recently used if it has been
// idle for sessionEvictAfter, or else the smallest of those made that long
// ago if the new one is larger.
func (s *fetchSessions) evictFor(size int, now time.Time) bool {
	if back := s.lru.Back(); back != nil {
		if old := back.Value.(*fetchSession); now.Sub(old.lastUsed) > sessionEvictAfter {
			s.drop(old)
			return true
		}
	}
	var victim *fetchSession
	for _, fs := range s.byID {
		if now.Sub(fs.created) <= sessionEvictAfter {
			continue
		}
		if victim == nil || fs.size < victim.size || fs.size == victim.size && fs.id < victim.id {
			victim = fs
		}
	}
	if victim == nil || size <= victim.size {
		return false
	}
	s.drop(victim)
	return true
}

func (s *fetchSessions) drop(fs *fetchSession) {
	s.lru.Remove(fs.elem)
	delete(s.byID, fs.id)
}

// use returns session id for an incremental fetch at epoch, naming topics
// by id or not, and takes that epoch: as Kafka's FetchManager, the epoch is
// checked and moved on at once, before the fetch reads or waits, so that a
// second fetch at the same epoch (a retry, a duplicate) is refused at once,
// not once the first one's long poll, holding the session, has ended. The
// code is the fetch's error when there is no session for it.
func (s *fetchSessions) use(id, epoch int32, usesIDs bool, now time.Time) (*fetchSession, int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := s.byID[id]
	switch {
	case fs == nil:
		return nil, kerr.FetchSessionIDNotFound.Code
	case fs.epoch != epoch:
		return nil, kerr.InvalidFetchSessionEpoch.Code
	case fs.usesIDs != usesIDs:
		// A session names topics by id (v13+) or by name, not both.
		return nil, kerr.FetchSessionTopicIDError.Code
	}
	s.lru.MoveToFront(fs.elem)
	fs.lastUsed = now
	// As Kafka's: past the int32 range the epoch wraps to 1 (0 opens a
	// session and -1 closes one).
	if fs.epoch++; fs.epoch <= 0 {
		fs.epoch = 1
	}
	return fs, 0
}

// resized records how many partitions fs holds now, which decides what it
// may evict and be evicted by.
func (s *fetchSessions) resized(fs *fetchSession) {
	s.mu.Lock()
	fs.size = len(fs.parts)
	s.mu.Unlock()
}

func (s *fetchSessions) remove(id int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fs := s.byID[id]; fs != nil {
		s.drop(fs)
	}
}

func (fs *fetchSession) set(k sessionPartKey, p *sessionPart) {
	if old, ok := fs.parts[k]; ok {
		if old.topicID == p.topicID {
			p.sentHW, p.sentLSO, p.sentStart, p.sent = old.sentHW, old.sentLSO, old.sentStart, old.sent
		}
	} else {
		fs.order = append(fs.order, k)
		if isUnknownTopicName(k.topic) {
			fs.unknown++
		}
	}
	fs.parts[k] = p
}

// resolve files the partitions of topic ids that were unknown when they
// were added under their topic's name, once the metadata knows the id, in
// their place in the session's order, as Kafka's session resolves such a
// partition's name at each fetch (testResolveUnknownPartitions): a client
// may learn of a topic before this broker does, and its session partition
// is then served, not answered UNKNOWN_TOPIC_ID until the client, which
// sees no reason to, forgets it. A partition the request names again by
// that id, resolved first, is the one it updates, not a second one. An id
// whose name the session already holds, under another id, stays as it is.
func (fs *fetchSession) resolve(st *replication.State) {
	if fs.unknown == 0 {
		return
	}
	for i, k := range fs.order {
		if !isUnknownTopicName(k.topic) {
			continue
		}
		sp := fs.parts[k]
		t := st.ByID[sp.topicID]
		if t == nil {
			continue
		}
		nk := sessionPartKey{topic: t.Name, part: k.part}
		if _, taken := fs.parts[nk]; taken {
			continue
		}
		delete(fs.parts, k)
		fs.parts[nk] = sp
		fs.order[i] = nk
		fs.unknown--
	}
}

// rotate moves the partitions an incremental fetch returned records for to
// the end of the session's order, keeping theirs, as Kafka's session does:
// the next fetch starts with those that got nothing, so that under a byte
// limit every partition takes its turn instead of the first ones draining
// their backlog while the rest wait.
func (fs *fetchSession) rotate(served []sessionPartKey) {
	if len(served) == 0 {
		return
	}
	moved := make(map[sessionPartKey]bool, len(served))
	for _, k := range served {
		moved[k] = true
	}
	kept := fs.order[:0]
	for _, k := range fs.order {
		if !moved[k] {
			kept = append(kept, k)
		}
	}
	fs.order = append(kept, served...)
}

// forgetAll forgets the partitions an incremental fetch lists as
// forgotten, by name or, in a session made by fetch v13+, by topic id (the
// topic may since have been deleted, or made again under its name with
// another id, whose partition it keeps). It takes one pass over the session
// whatever the number forgotten, as Kafka's linked collection removes each
// in constant time: one by one, a request forgetting tens of thousands of
// partitions held the session, and a core, for many seconds.
func (fs *fetchSession) forgetAll(forgotten []kmsg.FetchRequestForgottenTopic, useIDs bool) {
	type idPart struct {
		id   replication.TopicID
		part int32
	}
	byName := map[sessionPartKey]bool{}
	byID := map[idPart]bool{}
	for _, ft := range forgotten {
		for _, p := range ft.Partitions {
			if useIDs {
				byID[idPart{ft.TopicID, p}] = true
			} else {
				byName[sessionPartKey{topic: ft.Topic, part: p}] = true
			}
		}
	}
	if len(byName) == 0 && len(byID) == 0 {
		return
	}
	kept := fs.order[:0]
	for _, k := range fs.order {
		if byName[k] || byID[idPart{fs.parts[k].topicID, k.part}] {
			delete(fs.parts, k)
			if isUnknownTopicName(k.topic) {
				fs.unknown--
			}
			continue
		}
		kept = append(kept, k)
	}
	fs.order = kept
}
