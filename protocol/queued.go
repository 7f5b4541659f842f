package protocol

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// queueBudget is queued.max.request.bytes: the bytes of the frames of all
// the server's connections that are being read or await their response.
// MaxPendingBytes bounds one connection; this bounds them all, so that many
// clients sending large requests, or sending a little of each and stalling,
// cannot take the process's memory. Once the frames held reach the limit,
// a connection reads no more of a frame than its size until some are
// answered, as Kafka mutes every channel while its memory pool is empty.
//
// As Kafka's pool, the limit is not strict: a frame is admitted while the
// budget has anything left, whatever its size, so one request larger than
// the rest of the budget still goes through.
//
// A frame is charged in two steps, as readFrame allocates it: its first
// chunk before that is read, the rest once the first chunk has arrived
// whole, so a peer that announces a large frame and sends nothing holds
// only a chunk of the budget.
//
// A nil *queueBudget bounds nothing.
type queueBudget struct {
	limit   int64
	used    atomic.Int64
	waiters atomic.Int32
	log     *slog.Logger
	logged  atomic.Int64 // unix nanos of the last "full" warning

	mu    sync.Mutex
	freed chan struct{} // closed and replaced when bytes come back to a waiter
}

// newQueueBudget returns the budget of limit bytes, or nil for no bound
// (limit <= 0).
func newQueueBudget(limit int64, log *slog.Logger) *queueBudget {
	if limit <= 0 {
		return nil
	}
	return &queueBudget{limit: limit, log: log, freed: make(chan struct{})}
}

// take charges n bytes, first waiting while the budget is spent. It fails
// only when ctx ends.
func (q *queueBudget) take(ctx context.Context, n int) error {
	if q == nil || n <= 0 {
		return nil
	}
	for {
		if q.used.Load() < q.limit {
			q.used.Add(int64(n))
			return nil
		}
		// Announce the wait before looking again, so that give, which
		// returns bytes before it looks for waiters, cannot miss us.
		q.mu.Lock()
		q.waiters.Add(1)
		ch := q.freed
		full := q.used.Load() >= q.limit
		q.mu.Unlock()
		if full {
			q.warn()
			select {
			case <-ch:
			case <-ctx.Done():
			}
		}
		q.waiters.Add(-1)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// give returns n bytes taken before.
func (q *queueBudget) give(n int64) {
	if q == nil || n <= 0 {
		return
	}
	if q.used.Add(-n) < q.limit && q.waiters.Load() > 0 {
		q.mu.Lock()
		close(q.freed)
		q.freed = make(chan struct{})
		q.mu.Unlock()
	}
}

// warn logs, at most once a minute, that connections wait for the budget:
// an operator seeing requests stall should learn why.
func (q *queueBudget) warn() {
	now := time.Now().UnixNano()
	last := q.logged.Load()
	if now-last < int64(time.Minute) || !q.logged.CompareAndSwap(last, now) {
		return
	}
	q.log.Warn("requests read and not yet answered hold queued.max.request.bytes; connections wait before reading more",
		"queued_max_request_bytes", q.limit, "held", q.used.Load())
}
