package budget

import (
	"context"
	"testing"
	"time"
)

func TestTakeGivesWhatIsLeft(t *testing.T) {
	b := New(100)
	if got := b.Take(70); got != 70 {
		t.Fatalf("took %d of 70", got)
	}
	if got := b.Take(70); got != 30 {
		t.Fatalf("took %d, want the 30 left", got)
	}
	if got := b.Take(1); got != 0 || b.Available() != 0 {
		t.Fatalf("took %d of a spent budget, %d left", got, b.Available())
	}
	b.Give(100)
	if b.Available() != 100 {
		t.Fatalf("%d left after everything came back", b.Available())
	}
}

// Acquire waits for the bytes until its deadline, then takes them anyway;
// a zero deadline does not wait.
func TestAcquire(t *testing.T) {
	b := New(100)
	b.Take(100)
	start := time.Now()
	b.Acquire(context.Background(), time.Time{}, 10)
	if time.Since(start) > time.Second || b.Available() != -10 {
		t.Fatalf("zero deadline: waited %v, %d left", time.Since(start), b.Available())
	}
	b.Give(10)
	go func() {
		time.Sleep(50 * time.Millisecond)
		b.Give(60)
	}()
	b.Acquire(context.Background(), time.Now().Add(10*time.Second), 50)
	if b.Available() != 10 {
		t.Fatalf("after the give: %d left, want 10", b.Available())
	}
	start = time.Now()
	b.Acquire(context.Background(), time.Now().Add(100*time.Millisecond), 500) // more than the budget: all of it
	if d := time.Since(start); d < 90*time.Millisecond || b.Available() != -490 {
		t.Fatalf("past the deadline after %v, %d left", d, b.Available())
	}
}

// Admit waits while nothing is left, takes whatever size once anything is,
// and fails when ctx ends.
func TestAdmit(t *testing.T) {
	b := New(100)
	if err := b.Admit(context.Background(), 150); err != nil || b.Available() != -50 {
		t.Fatalf("admit on a full budget: %v, %d left", err, b.Available())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := b.Admit(ctx, 1); err == nil || b.Available() != -50 {
		t.Fatalf("admit on a spent budget: %v, %d left", err, b.Available())
	}
	done := make(chan error, 1)
	go func() { done <- b.Admit(context.Background(), 10) }()
	b.Give(49)
	select {
	case err := <-done:
		t.Fatalf("admitted with nothing left: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	b.Give(2)
	if err := <-done; err != nil || b.Available() != -9 {
		t.Fatalf("admit after the give: %v, %d left", err, b.Available())
	}
}
