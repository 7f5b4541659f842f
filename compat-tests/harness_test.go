// Package compattests drives a real gokafkad process with real Kafka clients
// (franz-go, sarama, kafka-go, kcat, kafka-python, confluent-kafka, KafkaJS)
// and raw sockets. Nothing is mocked: each test starts its own broker process
// on free ports with its own data directory and kills it at cleanup, printing
// the broker's log on failure.
package compattests

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/testlog"
	"go.uber.org/goleak"
)

// gokafkadBin is the broker binary, built once by TestMain.
var gokafkadBin string

func TestMain(m *testing.M) {
	// A re-executed test binary acting as a helper process (see
	// groups_member_test.go) must not build the broker or run tests.
	if role := os.Getenv(helperEnv); role != "" {
		os.Exit(runHelper(role))
	}
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gokafka-compat-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat-tests:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat-tests:", err)
		return 1
	}
	gokafkadBin = filepath.Join(dir, "gokafkad")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", gokafkadBin, "./cmd/gokafkad")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "compat-tests: building gokafkad in %s: %v\n%s", root, err, out)
		return 1
	}
	code := m.Run()
	if code == 0 {
		// Clients must be closed by the tests that open them. kafka-go
		// and sarama keep package-level background goroutines.
		if err := goleak.Find(
			goleak.IgnoreAnyFunction("github.com/segmentio/kafka-go.(*connPool).discover"),
			goleak.IgnoreTopFunction("github.com/rcrowley/go-metrics.(*meterArbiter).tick"),
		); err != nil {
			fmt.Fprintln(os.Stderr, "compat-tests: goroutine leak:", err)
			return 1
		}
	}
	return code
}

// brokerProc is one running (or stopped) gokafkad process. Its ports and
// data directory stay the same across Restart.
type brokerProc struct {
	t         *testing.T
	dataDir   string
	kafkaAddr string
	adminAddr string
	raftAddr  string
	// saslAddr, when set, is a second listener, SASL_PLAINTEXT
	// (startSASLBroker).
	saslAddr string
	extra    []string

	logs *testlog.Buffer // every incarnation's stderr, in order

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
	err    error         // cmd.Wait's result, valid after exited
}

// freePort returns a 127.0.0.1 address that was free a moment ago.
//
// The port is below Linux's ephemeral range (32768 up), so that while a
// broker is down between a kill and its Restart on the same ports, the
// kernel cannot hand its port to a client's connection as a source port,
// as it could one the kernel picked for port 0.
func freePort(t *testing.T) string {
	t.Helper()
	for range 100 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startBroker starts gokafkad on free ports with a fresh data directory and
// waits until it serves. extraArgs are appended to the command line, each
// {kafka} in them replaced by the Kafka address picked (the one waited for).
func startBroker(t *testing.T, extraArgs ...string) *brokerProc {
	t.Helper()
	return startBrokerProc(t, false, extraArgs)
}

// startSASLBroker is startBroker with a second listener, SASL_PLAINTEXT on
// SASLAddr; extraArgs give it its sasl.enabled.mechanisms and users.
func startSASLBroker(t *testing.T, extraArgs ...string) *brokerProc {
	t.Helper()
	return startBrokerProc(t, true, extraArgs)
}

func startBrokerProc(t *testing.T, sasl bool, extraArgs []string) *brokerProc {
	t.Helper()
	b := &brokerProc{
		t:       t,
		dataDir: t.TempDir(),
		extra:   extraArgs,
		logs:    &testlog.Buffer{},
	}
	// A free port can be taken by someone else between our probe and the
	// broker's bind; retry with new ports a few times.
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		b.kafkaAddr, b.raftAddr, b.adminAddr = freePort(t), freePort(t), freePort(t)
		if sasl {
			b.saslAddr = freePort(t)
		}
		if err = b.launch(); err == nil {
			break
		}
		t.Logf("start attempt %d: %v", attempt+1, err)
		b.Kill9()
	}
	if err != nil {
		t.Fatalf("gokafkad did not start: %v\n--- broker log ---\n%s", err, b.Logs())
	}
	t.Cleanup(func() {
		b.Kill9()
		if t.Failed() {
			t.Logf("--- gokafkad log (%s) ---\n%s", b.dataDir, clip(b.Logs(), 80, 120))
		}
	})
	return b
}

// launch starts the process and waits for /healthz and the Kafka port.
func (b *brokerProc) launch() error {
	listen := b.kafkaAddr
	if b.saslAddr != "" {
		listen = "PLAINTEXT://" + b.kafkaAddr + ",SASL_PLAINTEXT://" + b.saslAddr
	}
	args := []string{
		"--node-id", "1",
		"--listen", listen,
		"--raft-listen", b.raftAddr,
		"--admin-listen", b.adminAddr,
		"--data-dir", b.dataDir,
	}
	for _, a := range b.extra {
		// {kafka} is the Kafka address picked, for a test's own
		// --listen (an SSL listener, say).
		args = append(args, strings.ReplaceAll(a, "{kafka}", b.kafkaAddr))
	}
	cmd := exec.Command(gokafkadBin, args...)
	cmd.Stdout = b.logs
	cmd.Stderr = b.logs
	fmt.Fprintf(b.logs, "=== %s %s\n", gokafkadBin, strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	b.mu.Lock()
	b.cmd, b.exited, b.err = cmd, exited, nil
	b.mu.Unlock()
	go func() {
		err := cmd.Wait()
		b.mu.Lock()
		b.err = err
		b.mu.Unlock()
		close(exited)
	}()
	return b.waitReady(20 * time.Second)
}

func (b *brokerProc) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	healthy := false
	for time.Now().Before(deadline) {
		select {
		case <-b.exitedCh():
			return fmt.Errorf("gokafkad exited during startup: %v", b.exitErr())
		default:
		}
		if !healthy {
			resp, err := client.Get("http://" + b.adminAddr + "/healthz")
			if err == nil {
				resp.Body.Close()
				healthy = resp.StatusCode == http.StatusOK
			}
		}
		if healthy {
			c, err := net.DialTimeout("tcp", b.kafkaAddr, time.Second)
			if err == nil {
				c.Close()
				return nil
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %v (healthz ok: %v)", timeout, healthy)
}

func (b *brokerProc) exitedCh() chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.exited
}

func (b *brokerProc) exitErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// Addr is the Kafka listener, host:port.
func (b *brokerProc) Addr() string { return b.kafkaAddr }

// AdminAddr is the HTTP admin listener, host:port.
func (b *brokerProc) AdminAddr() string { return b.adminAddr }

// DataDir is the broker's log.dirs.
func (b *brokerProc) DataDir() string { return b.dataDir }

// Logs is everything every incarnation of the process wrote.
func (b *brokerProc) Logs() string { return b.logs.String() }

// Alive reports whether the current process is still running.
func (b *brokerProc) Alive() bool {
	select {
	case <-b.exitedCh():
		return false
	default:
		return true
	}
}

// Kill9 sends SIGKILL and waits for the process to be gone. Safe to call on
// a process that already exited.
func (b *brokerProc) Kill9() {
	b.mu.Lock()
	cmd, exited := b.cmd, b.exited
	b.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		b.t.Errorf("gokafkad pid %d did not die after SIGKILL", cmd.Process.Pid)
	}
}

// Stop sends SIGTERM and requires a clean exit (status 0) within 20 s.
func (b *brokerProc) Stop() {
	b.t.Helper()
	b.mu.Lock()
	cmd, exited := b.cmd, b.exited
	b.mu.Unlock()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		b.Kill9()
		b.t.Fatalf("gokafkad did not exit within 20s of SIGTERM")
	}
	if err := b.exitErr(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			b.t.Fatalf("gokafkad exited with %v after SIGTERM (want exit 0)", ee)
		}
		b.t.Fatalf("gokafkad wait: %v", err)
	}
}

// Restart starts a new process on the same ports and data directory. The
// previous process must have exited (Stop or Kill9).
func (b *brokerProc) Restart() {
	b.t.Helper()
	if b.Alive() {
		b.t.Fatalf("Restart while the previous gokafkad is still running")
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = b.launch(); err == nil {
			return
		}
		// A process that exited may have lost a bind race on the old
		// ports: try again on the same ports, which clients know. One
		// that runs but never becomes ready is a broker failure.
		alive := b.Alive()
		b.Kill9()
		if alive {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	b.t.Fatalf("gokafkad did not restart: %v", err)
}

// clip keeps the first head and last tail lines of a long log, so a broker
// that loops on an error does not bury the test output.
func clip(log string, head, tail int) string {
	lines := strings.Split(log, "\n")
	if len(lines) <= head+tail {
		return log
	}
	return strings.Join(lines[:head], "\n") +
		fmt.Sprintf("\n... %d lines elided ...\n", len(lines)-head-tail) +
		strings.Join(lines[len(lines)-tail:], "\n")
}

// testCtx is a context that ends at the test's deadline (less a margin so
// failures are reported) or after d, whichever comes first.
func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	deadline := time.Now().Add(d)
	if td, ok := t.Deadline(); ok && td.Add(-5*time.Second).Before(deadline) {
		deadline = td.Add(-5 * time.Second)
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	t.Cleanup(cancel)
	return ctx
}
