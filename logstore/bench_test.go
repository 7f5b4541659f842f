package logstore

import (
	"bytes"
	"errors"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestMatchesInmemStore drives the log and raft's in-memory store with the
// same sequence of appends and deletions and compares what they return.
func TestMatchesInmemStore(t *testing.T) {
	l := openT(t, t.TempDir(), Config{SegmentBytes: 2000, NoSync: true})
	defer l.Close()
	ref := raft.NewInmemStore()
	rng := rand.New(rand.NewSource(1))
	g := &entryGen{t: t, term: 1}
	for step := 0; step < 300; step++ {
		switch r := rng.Intn(10); {
		case r < 7:
			var es []*raft.Log
			for n := 1 + rng.Intn(5); n > 0; n-- {
				switch rng.Intn(4) {
				case 0:
					es = append(es, g.noop())
				case 1:
					es = append(es, g.ext())
				default:
					es = append(es, g.batch(1+rng.Intn(3), rng.Intn(200), int64(step)))
				}
			}
			mustStore(t, l, es...)
			// The store patched offsets in place; the reference gets the patched bytes.
			if err := ref.StoreLogs(es); err != nil {
				t.Fatal(err)
			}
		case r < 9:
			last, _ := ref.LastIndex()
			first, _ := ref.FirstIndex()
			if last <= first+1 {
				continue
			}
			from := first + 1 + uint64(rng.Int63n(int64(last-first)))
			if err := l.DeleteRange(from, last); err != nil {
				t.Fatal(err)
			}
			ref.DeleteRange(from, last)
			g.next = from - 1
			g.term++
		default:
			l.SetSnapshotIndex(0)
		}
		lf, _ := l.FirstIndex()
		ll, _ := l.LastIndex()
		rf, _ := ref.FirstIndex()
		rl, _ := ref.LastIndex()
		if lf != rf || ll != rl {
			t.Fatalf("step %d: range [%d,%d], inmem [%d,%d]", step, lf, ll, rf, rl)
		}
		for i := lf; i <= ll && ll != 0; i++ {
			var a, b raft.Log
			if err := l.GetLog(i, &a); err != nil {
				t.Fatalf("GetLog(%d): %v", i, err)
			}
			ref.GetLog(i, &b)
			if !sameEntry(&a, &b) {
				t.Fatalf("step %d: entry %d differs", step, i)
			}
		}
	}
}

// TestConcurrentReadWrite runs readers against a writer; run with -race.
func TestConcurrentReadWrite(t *testing.T) {
	l := openT(t, t.TempDir(), Config{SegmentBytes: 4000, NoSync: true})
	defer l.Close()
	g := &entryGen{t: t, term: 1}
	var wg sync.WaitGroup
	done := make(chan struct{})
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				end := l.EndOffset()
				b, err := l.Read(l.StartOffset(), 5000, end)
				if errors.Is(err, ErrOffsetOutOfRange) {
					continue // retention moved the start between the two calls
				}
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := SplitBatches(b); err != nil {
					t.Error(err)
					return
				}
				var e raft.Log
				if li, _ := l.LastIndex(); li > 0 {
					l.GetLog(li, &e)
				}
				l.OffsetForTime(10)
			}
		}()
	}
	for i := 0; i < 300; i++ {
		mustStore(t, l, g.batch(2, 100, int64(i)), g.noop())
		if i%50 == 49 {
			li, _ := l.LastIndex()
			if _, err := l.ApplyRetention(time.Now(), -1, 8000, li); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	wg.Wait()
}

func BenchmarkStoreLogs(b *testing.B) {
	for _, perCall := range []int{1, 16} {
		b.Run(map[int]string{1: "1x1KB", 16: "16x1KB"}[perCall], func(b *testing.B) {
			l := openT(b, b.TempDir(), Config{NoSync: true})
			defer l.Close()
			proto := makeBatch(b, testBatch{n: 10, valueLen: 90})
			es := make([]*raft.Log, perCall)
			for i := range es {
				es[i] = &raft.Log{Type: raft.LogCommand, Term: 1, Data: bytes.Clone(proto)}
			}
			b.SetBytes(int64(len(proto) * perCall))
			b.ReportAllocs()
			b.ResetTimer()
			idx := uint64(0)
			for i := 0; i < b.N; i++ {
				for _, e := range es {
					idx++
					e.Index = idx
				}
				if err := l.StoreLogs(es); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRead(b *testing.B) {
	l := openT(b, b.TempDir(), Config{NoSync: true})
	defer l.Close()
	proto := makeBatch(b, testBatch{n: 10, valueLen: 90})
	var es []*raft.Log
	for i := 0; i < 10000; i++ {
		es = append(es, &raft.Log{Index: uint64(i + 1), Type: raft.LogCommand, Term: 1, Data: bytes.Clone(proto)})
	}
	mustStore(b, l, es...)
	end := l.EndOffset()
	b.SetBytes(1 << 20)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		off := int64(i*997) % end
		if _, err := l.Read(off, 1<<20, end); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateBatch: the produce path's check of a 1000-record batch
// of 100-byte values.
func BenchmarkValidateBatch(b *testing.B) {
	batch := makeBatch(b, testBatch{ts0: 1, n: 1000, valueLen: 100})
	b.SetBytes(int64(len(batch)))
	for b.Loop() {
		if _, err := ValidateBatch(batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckBatch: the produce path's checks of 1000 records of 100 B,
// per codec (bytes/s counts the records uncompressed).
func BenchmarkCheckBatch(b *testing.B) {
	raw := makeBatch(b, testBatch{ts0: 1, n: 1000, valueLen: 100})
	for _, c := range []struct {
		name  string
		codec int8
	}{{"none", CodecNone}, {"gzip", CodecGzip}, {"snappy", CodecSnappy}, {"lz4", CodecLZ4}, {"zstd", CodecZstd}} {
		b.Run(c.name, func(b *testing.B) {
			batch := makeBatch(b, testBatch{ts0: 1, n: 1000, valueLen: 100, codec: c.codec})
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, _, err := CheckBatch(batch); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
