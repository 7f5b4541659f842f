package compattests

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// SIGQUIT (kill -3) prints every goroutine's stack and the broker goes on
// serving, as Kafka's JVM prints a thread dump; SIGHUP stops it cleanly,
// as the JVM's shutdown hooks do.
func TestSignals(t *testing.T) {
	b := startBroker(t)
	b.mu.Lock()
	proc := b.cmd.Process
	b.mu.Unlock()
	if err := proc.Signal(syscall.SIGQUIT); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.Logs(), "goroutine 1 [") {
		if time.Now().After(deadline) || !b.Alive() {
			t.Fatalf("no goroutine dump after SIGQUIT (alive: %v)", b.Alive())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.Ping(testCtx(t, 10*time.Second)); err != nil || !b.Alive() {
		t.Fatalf("after SIGQUIT: ping %v, alive %v", err, b.Alive())
	}

	if err := proc.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.exitedCh():
	case <-time.After(20 * time.Second):
		t.Fatal("gokafkad did not stop within 20 s of SIGHUP")
	}
	if err := b.exitErr(); err != nil || !strings.Contains(b.Logs(), "stopped cleanly") {
		t.Fatalf("after SIGHUP: exit %v, clean stop logged %v", err, strings.Contains(b.Logs(), "stopped cleanly"))
	}
}
