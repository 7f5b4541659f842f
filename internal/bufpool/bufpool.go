// Package bufpool reuses large byte buffers: request frames, fetch reads
// and encoded responses. Buffers from 64 KiB to 64 MiB live in one pool per
// power-of-two size class, so a busy connection cycles through a few
// buffers instead of having the runtime allocate and zero megabytes per
// request. Smaller and larger requests are plain allocations.
package bufpool

import (
	"math/bits"
	"sync"
)

const (
	minShift = 16
	maxShift = 26
)

var pools [maxShift - minShift + 1]sync.Pool

// class is the pool index for a buffer of capacity c, or -1.
func class(c int) int {
	if c < 1<<minShift || c > 1<<maxShift {
		return -1
	}
	return bits.Len(uint(c-1)) - minShift
}

// Get returns an empty buffer with room for at least n bytes. Its contents
// past len are whatever an earlier user left there.
func Get(n int) []byte {
	k := class(n)
	if k < 0 {
		return make([]byte, 0, n)
	}
	if b, ok := pools[k].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 1<<(k+minShift))
}

// Put gives a buffer from Get back for reuse; nothing may touch it
// afterwards. Buffers Get did not hand out from a class (too small, too
// large, or resliced to another capacity) are left to the garbage collector.
func Put(b []byte) {
	c := cap(b)
	k := class(c)
	if k < 0 || c != 1<<(k+minShift) {
		return
	}
	b = b[:0]
	pools[k].Put(&b)
}
