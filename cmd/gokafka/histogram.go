package main

import (
	"math/bits"
	"time"
)

// histogram records latencies in microseconds with a relative error under
// 1/subBuckets, in fixed memory however many records a perf run sends:
// values below subBuckets are exact, and each power of two above is cut into
// subBuckets equal bins. Not safe for concurrent use; the caller locks.
type histogram struct {
	counts [64 * subBuckets]int64
	n      int64
	sum    int64
	max    int64
}

const (
	subBits    = 7
	subBuckets = 1 << subBits
)

func bucketOf(us int64) int {
	if us < subBuckets {
		return int(us)
	}
	exp := bits.Len64(uint64(us)) - subBits // >= 1
	return exp*subBuckets + int(us>>(exp-1)) - subBuckets
}

// lowerBound is the smallest value that lands in bucket b.
func lowerBound(b int) int64 {
	if b < subBuckets {
		return int64(b)
	}
	exp := b / subBuckets
	return int64(b%subBuckets+subBuckets) << (exp - 1)
}

func (h *histogram) record(d time.Duration) {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	h.counts[bucketOf(us)]++
	h.n++
	h.sum += us
	if us > h.max {
		h.max = us
	}
}

// quantile returns the q-quantile (0 < q <= 1) in milliseconds, at the
// middle of its bucket.
func (h *histogram) quantile(q float64) float64 {
	if h.n == 0 {
		return 0
	}
	rank := int64(q*float64(h.n) + 0.5)
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := lowerBound(b), lowerBound(b+1)
			v := float64(lo+hi-1) / 2
			if float64(h.max) < v {
				v = float64(h.max)
			}
			return v / 1000
		}
	}
	return float64(h.max) / 1000
}

func (h *histogram) meanMs() float64 {
	if h.n == 0 {
		return 0
	}
	return float64(h.sum) / float64(h.n) / 1000
}

func (h *histogram) maxMs() float64 { return float64(h.max) / 1000 }
