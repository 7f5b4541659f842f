package protocol

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gokafka/gokafka/internal/budget"
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
// the rest of the budget still goes through (budget.Budget.Admit).
//
// A frame is charged as readFrame allocates it: its first chunk before
// that is read, then each growth of its buffer once what arrived fills it
// (to a megabyte, then doubling), so a peer that announces a large frame
// and stalls holds a chunk, a megabyte, or at most twice what it sent of
// the budget (a frame no larger than one its connection sent whole grows
// to its full size at once). Only the chunk and the first growth wait for
// the budget, holding the chunk: frames waiting at later growths, holding
// megabytes each, could hold all of it between them, and none would be
// read whole to give any back.
//
// A nil *queueBudget bounds nothing.
type queueBudget struct {
	b      *budget.Budget
	log    *slog.Logger
	logged atomic.Int64 // unix nanos of the last "full" warning
}

// newQueueBudget returns the budget of limit bytes, or nil for no bound
// (limit <= 0).
func newQueueBudget(limit int64, log *slog.Logger) *queueBudget {
	if limit <= 0 {
		return nil
	}
	return &queueBudget{b: budget.New(limit), log: log}
}

// take charges n bytes, first waiting while the budget is spent. It fails
// only when ctx ends.
func (q *queueBudget) take(ctx context.Context, n int) error {
	if q == nil || n <= 0 {
		return nil
	}
	if q.b.Available() <= 0 {
		q.warn()
	}
	return q.b.Admit(ctx, int64(n))
}

// charge charges n bytes without waiting, for a frame that already holds
// more than its first chunk: it must be read whole to give that back.
func (q *queueBudget) charge(n int) {
	if q == nil || n <= 0 {
		return
	}
	q.b.Acquire(context.Background(), time.Time{}, int64(n))
}

// give returns n bytes taken before.
func (q *queueBudget) give(n int64) {
	if q == nil || n <= 0 {
		return
	}
	q.b.Give(n)
}

// held is the bytes taken and not given back.
func (q *queueBudget) held() int64 { return q.b.Size() - q.b.Available() }

// warn logs, at most once a minute, that connections wait for the budget:
// an operator seeing requests stall should learn why.
func (q *queueBudget) warn() {
	now := time.Now().UnixNano()
	last := q.logged.Load()
	if now-last < int64(time.Minute) || !q.logged.CompareAndSwap(last, now) {
		return
	}
	q.log.Warn("requests read and not yet answered hold queued.max.request.bytes; connections wait before reading more",
		"queued_max_request_bytes", q.b.Size(), "held", q.held())
}
