package replication

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Writes that arrive while a commit is under way share the next one; a
// failing write fails alone, the others of its commit are stored.
func TestCommitGroup(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "db"), 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g := newCommitGroup(db)
	put := func(k string) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			return b.Put([]byte(k), []byte("v"))
		}
	}

	// A lone write commits by itself.
	if err := g.run(put("alone")); err != nil || g.commits != 1 {
		t.Fatalf("lone write: %v, %d commits", err, g.commits)
	}

	// The first write holds its commit open until ten more are queued.
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := g.run(func(tx *bolt.Tx) error { <-release; return put("first")(tx) }); err != nil {
			t.Errorf("first: %v", err)
		}
	}()
	waitQueued := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			g.mu.Lock()
			q, leading := len(g.queue), g.leading
			g.mu.Unlock()
			if q == n && leading {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d writes queued, want %d", q, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitQueued(0)
	boom := errors.New("boom")
	errs := make([]error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 3 {
				errs[i] = g.run(func(*bolt.Tx) error { return boom })
				return
			}
			errs[i] = g.run(put(fmt.Sprint("k", i)))
		}()
	}
	waitQueued(10)
	close(release)
	wg.Wait()
	for i, err := range errs {
		switch {
		case i == 3 && !errors.Is(err, boom):
			t.Errorf("failing write: %v, want its own error", err)
		case i != 3 && err != nil:
			t.Errorf("write %d: %v, want it stored though another of its commit failed", i, err)
		}
	}
	if g.commits != 3 {
		t.Errorf("%d commits, want 3: the lone write, the first, and the ten queued behind it", g.commits)
	}
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("b"))
		for _, k := range []string{"alone", "first", "k0", "k2", "k4", "k9"} {
			if b.Get([]byte(k)) == nil {
				return fmt.Errorf("%s not stored", k)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
