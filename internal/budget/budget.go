// Package budget is a count of bytes that goroutines take from and give
// back to, waiting while it is spent: the broker bounds with one the memory
// of the fetch answers in flight, and the protocol server the requests
// read and not yet answered (queued.max.request.bytes).
package budget

import (
	"context"
	"sync"
	"time"
)

// Budget is a number of bytes. What is taken may exceed what is left (a
// first fetch batch goes whatever the limits, a request is admitted while
// anything is left), so Available can go below zero.
type Budget struct {
	mu    sync.Mutex
	avail int64
	size  int64
	freed chan struct{} // closed when bytes come back, for those waiting
}

// New returns a budget of size bytes.
func New(size int64) *Budget { return &Budget{avail: size, size: size} }

// Size is the budget's size.
func (b *Budget) Size() int64 { return b.size }

// Available is what the budget has left.
func (b *Budget) Available() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.avail
}

// Take takes up to n bytes, what is left, and returns how many it took.
func (b *Budget) Take(n int64) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	n = max(min(n, b.avail), 0)
	b.avail -= n
	return n
}

// Acquire takes n bytes, first waiting until the budget has them (all of
// it, for n larger than the budget), until deadline or ctx ends: past that
// it takes them anyway. A zero deadline does not wait.
func (b *Budget) Acquire(ctx context.Context, deadline time.Time, n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !deadline.IsZero() {
		b.waitLocked(ctx, deadline, min(n, b.size))
	}
	b.avail -= n
}

// Admit takes n bytes once the budget has anything left, however little,
// waiting for that as long as it takes; it fails only when ctx ends.
func (b *Budget) Admit(ctx context.Context, n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waitLocked(ctx, time.Time{}, 1)
	if err := ctx.Err(); err != nil {
		return err
	}
	b.avail -= n
	return nil
}

// Give gives back n bytes taken before.
func (b *Budget) Give(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.avail += n
	if b.freed != nil {
		close(b.freed)
		b.freed = nil
	}
}

// waitLocked waits until need bytes are left, ctx ends or deadline (zero:
// none) passes. b.mu is held, and released while waiting.
func (b *Budget) waitLocked(ctx context.Context, deadline time.Time, need int64) {
	for b.avail < need && ctx.Err() == nil {
		var timer *time.Timer
		var timeout <-chan time.Time
		if !deadline.IsZero() {
			wait := time.Until(deadline)
			if wait <= 0 {
				return
			}
			timer = time.NewTimer(wait)
			timeout = timer.C
		}
		if b.freed == nil {
			b.freed = make(chan struct{})
		}
		freed := b.freed
		b.mu.Unlock()
		select {
		case <-freed:
		case <-timeout:
		case <-ctx.Done():
		}
		if timer != nil {
			timer.Stop()
		}
		b.mu.Lock()
	}
}
