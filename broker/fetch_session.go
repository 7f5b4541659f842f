package broker

import (
	"container/list"
	"sync"

	"github.com/gokafka/gokafka/replication"
)

// Fetch sessions (KIP-227): a consumer's set of partitions and what it was
// last told about each, so an incremental fetch names only what changed and
// gets back only partitions with news.

const maxFetchSessions = 1000 // max.incremental.fetch.session.cache.slots

type sessionPartKey struct {
	topic string
	part  int32
}

type sessionPart struct {
	topicID  replication.TopicID
	offset   int64
	maxBytes int32
	epoch    int32 // current leader epoch given by the client

	// What the last response said, to decide whether it has news.
	sentHW, sentLSO, sentStart int64
	sent                       bool
}

type fetchSession struct {
	id    int32
	epoch int32 // the epoch the next request must carry
	parts map[sessionPartKey]*sessionPart
	order []sessionPartKey // the order the client added partitions in
	elem  *list.Element
	mu    sync.Mutex // one request per session at a time
}

type fetchSessions struct {
	mu     sync.Mutex
	nextID int32
	byID   map[int32]*fetchSession
	lru    *list.List // front: most recently used
}

func newFetchSessions() *fetchSessions {
	return &fetchSessions{byID: map[int32]*fetchSession{}, lru: list.New(), nextID: 1}
}

func (s *fetchSessions) create() *fetchSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.lru.Len() >= maxFetchSessions {
		old := s.lru.Remove(s.lru.Back()).(*fetchSession)
		delete(s.byID, old.id)
	}
	id := s.nextID
	for {
		if id <= 0 {
			id = 1
		}
		if _, taken := s.byID[id]; !taken {
			break
		}
		id++
	}
	s.nextID = id + 1
	fs := &fetchSession{id: id, epoch: 0, parts: map[sessionPartKey]*sessionPart{}}
	fs.elem = s.lru.PushFront(fs)
	s.byID[id] = fs
	return fs
}

func (s *fetchSessions) get(id int32) *fetchSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := s.byID[id]
	if fs != nil {
		s.lru.MoveToFront(fs.elem)
	}
	return fs
}

func (s *fetchSessions) remove(id int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if fs := s.byID[id]; fs != nil {
		s.lru.Remove(fs.elem)
		delete(s.byID, id)
	}
}

func (fs *fetchSession) set(k sessionPartKey, p *sessionPart) {
	if old, ok := fs.parts[k]; ok {
		p.sentHW, p.sentLSO, p.sentStart, p.sent = old.sentHW, old.sentLSO, old.sentStart, old.sent
	} else {
		fs.order = append(fs.order, k)
	}
	fs.parts[k] = p
}

func (fs *fetchSession) forget(k sessionPartKey) {
	if _, ok := fs.parts[k]; !ok {
		return
	}
	delete(fs.parts, k)
	for i, o := range fs.order {
		if o == k {
			fs.order = append(fs.order[:i], fs.order[i+1:]...)
			break
		}
	}
}
