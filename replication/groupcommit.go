package replication

import (
	"sync"

	bolt "go.etcd.io/bbolt"
)

// commitGroup runs small node.db writes (raft's terms and votes) as group
// commits: a write that finds no commit under way commits at once, and the
// writes that arrive meanwhile share the next commit. A restart, when every
// partition elects at once, thus needs few commits, and a lone write (a new
// partition, one election) waits for no timer: bbolt's own Batch holds
// every write for its MaxBatchDelay (10 ms), which made each election wait
// 30 ms (term, vote term, vote candidate) and each new partition 40 ms.
type commitGroup struct {
	db *bolt.DB

	mu      sync.Mutex
	queue   []*commitCall
	leading bool // a caller is committing; it takes the queue when done
	commits int  // for tests
}

type commitCall struct {
	fn   func(*bolt.Tx) error
	err  error
	done chan struct{}
}

func newCommitGroup(db *bolt.DB) *commitGroup { return &commitGroup{db: db} }

// run commits fn, alone or with others. As with bbolt's Batch, fn may run
// more than once: when a shared commit fails, each of its writes is tried
// again on its own, so that one write's failure is its own.
func (g *commitGroup) run(fn func(*bolt.Tx) error) error {
	c := &commitCall{fn: fn, done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	if g.leading {
		g.mu.Unlock()
		<-c.done
		return c.err
	}
	g.leading = true
	g.mu.Unlock()
	g.lead()
	return c.err
}

// lead commits the queue; with g.leading set. Writes queued during the
// commit are left to a goroutine, so a caller waits for one commit only.
func (g *commitGroup) lead() {
	g.mu.Lock()
	calls := g.queue
	g.queue = nil
	g.commits++
	g.mu.Unlock()
	g.commit(calls)
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.queue) > 0 {
		go g.lead()
		return
	}
	g.leading = false
}

func (g *commitGroup) commit(calls []*commitCall) {
	err := g.db.Update(func(tx *bolt.Tx) error {
		for _, c := range calls {
			if err := c.fn(tx); err != nil {
				return err
			}
		}
		return nil
	})
	for _, c := range calls {
		if err != nil && len(calls) > 1 {
			c.err = g.db.Update(c.fn)
		} else {
			c.err = err
		}
		close(c.done)
	}
}
