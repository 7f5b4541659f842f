package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/gokafka/broker"
	"github.com/gokafka/gokafka/internal/testlog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// A test that needs a process of its own (its signals, its exit
	// status) runs this binary again as gokafka, with the arguments in
	// GOKAFKA_TEST_ARGS, one a line.
	if args, ok := os.LookupEnv("GOKAFKA_TEST_ARGS"); ok {
		os.Args = append(os.Args[:1], strings.Split(args, "\n")...)
		main()
	}
	goleak.VerifyTestMain(m)
}

// startBroker runs an in-process single-node gokafkad and returns its
// bootstrap address; the broker is closed when the test ends, and its log is
// printed if the test failed.
func startBroker(t *testing.T) string {
	t.Helper()
	addr, _ := startBrokerIn(t, t.TempDir())
	return addr
}

// startBrokerIn is startBroker on the data directory dir; the returned
// func closes the broker before the test ends (and is then a no-op).
func startBrokerIn(t *testing.T, dir string) (string, func()) {
	t.Helper()
	b, stop := startBrokerWith(t, dir, nil)
	return b.Addr().String(), stop
}

// startBrokerWith is startBrokerIn with mod's changes to the broker's
// config (listeners, say), returning the broker.
func startBrokerWith(t *testing.T, dir string, mod func(*broker.Config)) (*broker.Broker, func()) {
	t.Helper()
	var logs testlog.Buffer
	cfg := broker.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.RaftListen = "127.0.0.1:0"
	cfg.AdminListen = ""
	cfg.DataDir = dir
	cfg.OffsetsTopicNumPartitions = 4 // fewer coordinator shards to start
	cfg.GroupInitialRebalanceDelayMs = 0
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := broker.Start(ctx, cfg)
	if err != nil {
		t.Fatalf("broker.Start: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			if err := b.Close(); err != nil {
				t.Errorf("broker.Close: %v", err)
			}
			if t.Failed() {
				t.Logf("broker log:\n%s", logs.String())
			}
		})
	}
	t.Cleanup(stop)
	return b, stop
}

type result struct {
	code           int
	stdout, stderr string
}

// gokafka runs the CLI against addr with stdin.
func gokafka(t *testing.T, addr, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	all := append([]string{"--bootstrap-server", addr}, args...)
	code := run(all, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// mustRun is gokafka that fails the test on a non-zero exit.
// wantUsage runs gokafka with args and fails t unless it exits 2, a usage
// error.
func wantUsage(t *testing.T, addr string, args ...string) {
	t.Helper()
	if r := gokafka(t, addr, "", args...); r.code != 2 {
		t.Errorf("gokafka %s: exit %d, want 2 (usage); stderr %q", strings.Join(args, " "), r.code, r.stderr)
	}
}

func mustRun(t *testing.T, addr, stdin string, args ...string) result {
	t.Helper()
	r := gokafka(t, addr, stdin, args...)
	if r.code != 0 {
		t.Fatalf("gokafka %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// A partition with no leader (here its files are gone) does not stop
// topic describe: the others are shown, as kafka-topics shows them, and
// it is shown with no leader and unknown offsets.
func TestTopicDescribeLeaderlessPartition(t *testing.T) {
	dir := t.TempDir()
	addr, stop := startBrokerIn(t, dir)
	mustRun(t, addr, "", "topic", "create", "lost", "--partitions", "2")
	stop()
	if err := os.RemoveAll(filepath.Join(dir, "lost-1")); err != nil {
		t.Fatal(err)
	}
	addr, _ = startBrokerIn(t, dir)
	r := mustRun(t, addr, "", "topic", "describe", "lost")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "Leader: 1") || !strings.Contains(lines[1], "LogEndOffset: 0") ||
		!strings.Contains(lines[2], "Leader: none") || !strings.Contains(lines[2], "LogEndOffset: ?") {
		t.Fatalf("describe:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "offsets of some partitions are unknown") {
		t.Fatalf("the unknown offsets are not explained on stderr: %q", r.stderr)
	}
}

func TestTopicRoundTrip(t *testing.T) {
	addr := startBroker(t)

	r := mustRun(t, addr, "", "topic", "create", "orders", "--partitions", "3", "--config", "retention.ms=123456")
	if r.stdout != "Created topic orders.\n" {
		t.Errorf("create printed %q", r.stdout)
	}
	// Flags before the name work too, and -b after the command.
	mustRun(t, addr, "", "topic", "create", "--partitions", "1", "-b", addr, "audit")
	if r := gokafka(t, addr, "", "topic", "create", "orders"); r.code != 1 || !strings.Contains(r.stderr, "TOPIC_ALREADY_EXISTS") {
		t.Errorf("second create: exit %d, stderr %q; want 1 and TOPIC_ALREADY_EXISTS", r.code, r.stderr)
	}

	if r := mustRun(t, addr, "", "topic", "list"); r.stdout != "audit\norders\n" {
		t.Errorf("list = %q", r.stdout)
	}

	r = mustRun(t, addr, "", "topic", "describe", "orders")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("describe: want a topic line and 3 partition lines, got:\n%s", r.stdout)
	}
	for _, want := range []string{"Topic: orders\t", "PartitionCount: 3\t", "ReplicationFactor: 1\t", "Configs: retention.ms=123456"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("topic line %q lacks %q", lines[0], want)
		}
	}
	for i, l := range lines[1:] {
		for _, want := range []string{"\tPartition: " + string(rune('0'+i)) + "\t", "Leader: 1\t", "Replicas: 1\t", "Isr: 1\t", "Epoch: ", "LogStartOffset: 0\t", "LogEndOffset: 0"} {
			if !strings.Contains(l, want) {
				t.Errorf("partition line %q lacks %q", l, want)
			}
		}
	}

	r = mustRun(t, addr, "", "topic", "alter-config", "orders", "--set", "cleanup.policy=delete", "--set", "retention.bytes=1048576", "--delete", "retention.ms")
	if r.stdout != "Completed updating config for topic orders.\n" {
		t.Errorf("alter-config printed %q", r.stdout)
	}
	r = mustRun(t, addr, "", "topic", "describe", "orders")
	if first := strings.SplitN(r.stdout, "\n", 2)[0]; !strings.HasSuffix(first, "Configs: cleanup.policy=delete,retention.bytes=1048576") {
		t.Errorf("after alter-config, topic line = %q", first)
	}

	// As kafka-configs --delete-config, a key the topic does not set is an
	// error.
	if r := gokafka(t, addr, "", "topic", "alter-config", "orders", "--delete", "retention.ms", "--delete", "no.such"); r.code != 1 || !strings.Contains(r.stderr, "invalid config(s): retention.ms,no.such") {
		t.Errorf("deleting unset keys: exit %d, stderr %q", r.code, r.stderr)
	}
	// kafka-topics --alter --partitions, and its --topic.
	r = mustRun(t, addr, "", "topic", "alter", "--topic", "orders", "--partitions", "5")
	if r.stdout != "Topic orders now has 5 partitions.\n" {
		t.Errorf("alter printed %q", r.stdout)
	}
	if r := mustRun(t, addr, "", "topic", "describe", "--topic", "orders"); !strings.Contains(r.stdout, "PartitionCount: 5\t") {
		t.Errorf("after alter --partitions 5: %q", r.stdout)
	}
	if r := gokafka(t, addr, "", "topic", "alter", "orders", "--partitions", "2"); r.code != 1 || !strings.Contains(r.stderr, "INVALID_PARTITIONS") {
		t.Errorf("alter to fewer partitions: exit %d, stderr %q; want 1 and INVALID_PARTITIONS", r.code, r.stderr)
	}

	r = mustRun(t, addr, "", "topic", "delete", "orders", "audit")
	if r.stdout != "Deleted topic orders.\nDeleted topic audit.\n" {
		t.Errorf("delete printed %q", r.stdout)
	}
	if r := mustRun(t, addr, "", "topic", "list"); r.stdout != "" {
		t.Errorf("list after delete = %q", r.stdout)
	}
	if r := gokafka(t, addr, "", "topic", "describe", "orders"); r.code != 1 || !strings.Contains(r.stderr, "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Errorf("describe of a deleted topic: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := gokafka(t, addr, "", "topic", "delete", "orders"); r.code != 1 {
		t.Errorf("delete of a deleted topic: exit %d, want 1", r.code)
	}
}

func TestProduceConsume(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topic", "create", "events", "--partitions", "1")

	in := "k1|hello\nk2|with|bars\n|no key here\n|empty key\r\n|\nlast-no-newline|x"
	r := mustRun(t, addr, in, "produce", "--topic", "events", "--key-separator", "|", "--header", "src=test", "--header", "n=1")
	if !strings.Contains(r.stderr, "6 records produced to events, 0 failed") {
		t.Errorf("produce summary: %q", r.stderr)
	}

	r = mustRun(t, addr, "", "consume", "--topic", "events", "--from-beginning", "--max-messages", "6",
		"--format", `%t/%p/%o [%k] [%v] {%h} 100%%\n`)
	want := "events/0/0 [k1] [hello] {src=test,n=1} 100%\n" +
		"events/0/1 [k2] [with|bars] {src=test,n=1} 100%\n" +
		"events/0/2 [] [no key here] {src=test,n=1} 100%\n" +
		"events/0/3 [] [empty key] {src=test,n=1} 100%\n" +
		"events/0/4 [] [] {src=test,n=1} 100%\n" +
		"events/0/5 [last-no-newline] [x] {src=test,n=1} 100%\n"
	if r.stdout != want {
		t.Errorf("consume output:\n%s\nwant:\n%s", r.stdout, want)
	}
	if !strings.Contains(r.stderr, "Processed a total of 6 messages") {
		t.Errorf("consume summary: %q", r.stderr)
	}

	// A line without the key separator is an error, as in
	// kafka-console-producer with parse.key, not a record without a key.
	if r := gokafka(t, addr, "a|1\nb2\n", "produce", "--topic", "keyed", "--key-separator", "|"); r.code != 1 || !strings.Contains(r.stderr, "no key separator found on line number 2: 'b2'") {
		t.Errorf("a line without the separator: exit %d, stderr %q", r.code, r.stderr)
	}

	// --offset on one partition, stopping on the idle timeout, with fewer
	// records than --max-messages; the default format is the value alone.
	r = mustRun(t, addr, "", "consume", "--topic", "events", "--partition", "0", "--offset", "4", "--max-messages", "100", "--timeout", "1s")
	if r.stdout != "\nx\n" {
		t.Errorf("consume --offset 4 = %q", r.stdout)
	}
	// --offset earliest, as kafka-console-consumer takes it.
	// --group reads where the group left off and commits what it printed.
	r = mustRun(t, addr, "", "consume", "--topic", "events", "--group", "cg", "--from-beginning", "--max-messages", "4", "--format", `%p/%o `)
	first := strings.Fields(r.stdout)
	r = mustRun(t, addr, "", "consume", "--topic", "events", "--group", "cg", "--timeout", "2s", "--format", `%p/%o `)
	if rest := strings.Fields(r.stdout); len(first) != 4 || len(first)+len(rest) != 6 || strings.Contains(" "+r.stdout, " "+first[0]+" ") {
		t.Errorf("consume --group: first run %q, second %q; want 4 records then the other 2", first, rest)
	}
	if r := gokafka(t, addr, "", "consume", "--topic", "events", "--group", "cg", "--partition", "0"); r.code != 2 {
		t.Errorf("consume --group with --partition: exit %d, want 2", r.code)
	}
	// An offset past the end waits at the end, as kafka-console-consumer's
	// does; it replayed the partition from its start.
	r = mustRun(t, addr, "", "consume", "--topic", "events", "--partition", "0", "--offset", "1000", "--timeout", "1s", "--format", `%o `)
	if r.stdout != "" || !strings.Contains(r.stderr, "Processed a total of 0 messages") {
		t.Errorf("consume from past the end: %q %q", r.stdout, r.stderr)
	}
	r = mustRun(t, addr, "", "consume", "--topic", "events", "--partition", "0", "--offset", "earliest", "--max-messages", "1", "--format", `%o`)
	if r.stdout != "0" {
		t.Errorf("consume --offset earliest = %q", r.stdout)
	}

	// --from-time: every record is at or after a minute ago, none after an
	// hour from now.
	ago := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	r = mustRun(t, addr, "", "consume", "--topic", "events", "--from-time", ago, "--max-messages", "6", "--format", `%o `)
	if r.stdout != "0 1 2 3 4 5 " {
		t.Errorf("consume --from-time %s = %q", ago, r.stdout)
	}
	later := time.Now().Add(time.Hour).UnixMilli()
	r = mustRun(t, addr, "", "consume", "--topic", "events", "--from-time", itoa(later), "--timeout", "1s")
	if r.stdout != "" {
		t.Errorf("consume --from-time (future) = %q", r.stdout)
	}

	// %T is the record's timestamp in unix ms: close to now.
	r = mustRun(t, addr, "", "consume", "--topic", "events", "--from-beginning", "--max-messages", "1", "--format", `%T`)
	var ts int64
	if err := json.Unmarshal([]byte(r.stdout), &ts); err != nil || time.Since(time.UnixMilli(ts)).Abs() > time.Minute {
		t.Errorf("%%T = %q, want a unix-ms timestamp near now", r.stdout)
	}

	// Default start is the end: only records produced after it started.
	// When it has looked the end up is not known, so a record is produced
	// every half second until it reads one: any of them, none of the six
	// before.
	done := make(chan result)
	go func() {
		done <- gokafka(t, addr, "", "consume", "--topic", "events", "--max-messages", "1", "--timeout", "20s", "--format", `%o:%v`)
	}()
	var fresh result
	for waiting := true; waiting; {
		mustRun(t, addr, "fresh\n", "produce", "--topic", "events", "--partition", "0")
		select {
		case fresh = <-done:
			waiting = false
		case <-time.After(500 * time.Millisecond):
		}
	}
	off, v, _ := strings.Cut(fresh.stdout, ":")
	if n, err := strconv.Atoi(off); fresh.code != 0 || err != nil || n < 6 || v != "fresh" {
		t.Errorf("consume from the end: exit %d, output %q, stderr %q", fresh.code, fresh.stdout, fresh.stderr)
	}

	// Reading a topic or partition that does not exist fails at once,
	// rather than waiting out --timeout to print 0 messages.
	for _, args := range [][]string{
		{"consume", "--topic", "nosuch", "--timeout", "30s"},
		{"consume", "--topic", "events", "--partition", "7", "--timeout", "30s"},
	} {
		start := time.Now()
		r := gokafka(t, addr, "", args...)
		if r.code != 1 || !strings.Contains(r.stderr, "does not exist") && !strings.Contains(r.stderr, "no partition 7") || time.Since(start) > 10*time.Second {
			t.Errorf("gokafka %s: exit %d after %v, stderr %q", strings.Join(args, " "), r.code, time.Since(start), r.stderr)
		}
	}

	// A topic that does not exist is created by the broker (auto.create.topics.enable).
	mustRun(t, addr, "a\nb\n", "produce", "--topic", "auto-created", "--acks", "1")
	r = mustRun(t, addr, "", "consume", "--topic", "auto-created", "--from-beginning", "--max-messages", "2")
	if r.stdout != "a\nb\n" {
		t.Errorf("consume auto-created = %q", r.stdout)
	}
}

// Kafka's console tools' --property settings, as its documentation's
// command lines give them: the producer's line reader parses headers, key
// and null markers, the consumer's formatter prints what print.* asks for.
func TestProperties(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topic", "create", "props", "--partitions", "1")
	in := "h1:a,h2:b\tk1:v1\n" + // headers, key, value
		"h3:NULL\tk2:NULL\n" + // a null header value, a tombstone
		"NULL\tNULL:v3\n" // no headers, a null key
	mustRun(t, addr, in, "produce", "--topic", "props", "--property", "parse.headers=true",
		"--property", "parse.key=true", "--property", "key.separator=:", "--property", "null.marker=NULL")

	r := mustRun(t, addr, "", "consume", "--topic", "props", "--from-beginning", "--max-messages", "3",
		"--formatter", "kafka.tools.DefaultMessageFormatter",
		"--property", "print.key=true", "--property", "print.headers=true", "--property", "print.partition=true",
		"--property", "print.offset=true", "--property", "key.separator= | ", "--property", "null.literal=<nil>")
	want := "Partition:0 | Offset:0 | h1:a,h2:b | k1 | v1\n" +
		"Partition:0 | Offset:1 | h3:<nil> | k2 | <nil>\n" +
		"Partition:0 | Offset:2 | NO_HEADERS | <nil> | v3\n"
	if r.stdout != want {
		t.Errorf("consume --property output:\n%s\nwant:\n%s", r.stdout, want)
	}
	r = mustRun(t, addr, "", "consume", "--topic", "props", "--from-beginning", "--max-messages", "1",
		"--property", "print.timestamp=true", "--property", "print.value=false", "--property", "print.keys=true")
	if ts, ok := strings.CutPrefix(r.stdout, "CreateTime:"); !ok || !strings.HasSuffix(ts, "\n") {
		t.Errorf("print.timestamp alone = %q, want CreateTime:<ms> and a newline", r.stdout)
	}
	if !strings.Contains(r.stderr, "property print.keys is not used") {
		t.Errorf("a misspelt property goes unnoticed: stderr %q", r.stderr)
	}

	// A line without the separators it was told to parse fails, unless
	// ignore.error: then it is a value alone.
	if r := gokafka(t, addr, "k:v\nnokey\n", "produce", "--topic", "props", "--property", "parse.key=true", "--property", "key.separator=:"); r.code != 1 || !strings.Contains(r.stderr, "no key separator found on line number 2: 'nokey'") {
		t.Errorf("a line without the key separator: exit %d, stderr %q", r.code, r.stderr)
	}
	mustRun(t, addr, "plain\n", "produce", "--topic", "props", "--property", "parse.key=true", "--property", "ignore.error=true")
	r = mustRun(t, addr, "", "consume", "--topic", "props", "--offset", "4", "--partition", "0", "--max-messages", "1", "--property", "print.key=true")
	if r.stdout != "null\tplain\n" {
		t.Errorf("ignore.error record = %q, want a null key and the line as value", r.stdout)
	}

	for _, args := range [][]string{
		{"consume", "--topic", "props", "--format", "%v", "--property", "print.key=true"},
		{"consume", "--topic", "props", "--formatter", "kafka.tools.LoggingMessageFormatter"},
		{"consume", "--topic", "props", "--property", "value.deserializer=org.apache.kafka.common.serialization.DoubleDeserializer"},
		{"consume", "--topic", "props", "--property", "print.key"},
		{"produce", "--topic", "props", "--property", "null.marker=:", "--property", "headers.key.separator=:"},
		{"produce", "--topic", "props", "--property", "headers.separator=,", "--property", "headers.delimiter=,"},
		{"produce", "--topic", "props", "--key-separator", "|", "--property", "key.separator=:"},
	} {
		wantUsage(t, addr, args...)
	}
}

// --include reads every topic whose whole name matches, as
// kafka-console-consumer's: topics created later too, internal ones not.
func TestConsumeInclude(t *testing.T) {
	addr := startBroker(t)
	for _, topic := range []string{"inc-a", "inc-b", "xinc-c"} {
		mustRun(t, addr, "", "topic", "create", topic, "--partitions", "2")
		mustRun(t, addr, topic+"\n", "produce", "--topic", topic)
	}
	sorted := func(out string) string {
		lines := strings.Fields(out)
		slices.Sort(lines)
		return strings.Join(lines, " ")
	}
	r := mustRun(t, addr, "", "consume", "--include", "inc-.*", "--from-beginning", "--group", "g", "--max-messages", "2", "--format", `%t:%v\n`)
	if got := sorted(r.stdout); got != "inc-a:inc-a inc-b:inc-b" {
		t.Errorf("--include inc-.* read %q", got)
	}
	// The group goes on where it stopped, and a topic created since
	// matches too.
	mustRun(t, addr, "b2\n", "produce", "--topic", "inc-b")
	mustRun(t, addr, "", "topic", "create", "inc-new", "--partitions", "1")
	mustRun(t, addr, "n\n", "produce", "--topic", "inc-new")
	r = mustRun(t, addr, "", "consume", "--whitelist", "inc-.*", "--from-beginning", "--group", "g", "--max-messages", "2", "--timeout", "20s", "--format", `%t:%v\n`)
	if got := sorted(r.stdout); got != "inc-b:b2 inc-new:n" {
		t.Errorf("--whitelist inc-.* in the same group read %q", got)
	}
	// The group's own offsets are in __consumer_offsets now: not read.
	r = mustRun(t, addr, "", "consume", "--include", ".*", "--from-beginning", "--timeout", "3s", "--format", `%t `)
	if got := sorted(r.stdout); strings.Contains(got, "__consumer_offsets") || !strings.Contains(got, "xinc-c") {
		t.Errorf("--include .* read %q", got)
	}
	for _, args := range [][]string{
		{"consume"},
		{"consume", "--topic", "inc-a", "--include", "inc-.*"},
		{"consume", "--include", "inc-.*", "--partition", "0"},
		{"consume", "--include", "inc-("},
	} {
		wantUsage(t, addr, args...)
	}
}

// A topic --include matched that is deleted while the group reads it does
// not fail the run: the client drops it only some seconds later, and its
// start has nothing left to commit to.
func TestConsumeIncludeTopicDeleted(t *testing.T) {
	addr := startBroker(t)
	for _, topic := range []string{"del-a", "del-b", "del-c"} {
		mustRun(t, addr, "", "topic", "create", topic, "--partitions", "1")
	}
	// del-b's partition is committed at its start at the end; del-c's
	// record is printed, and its offset marked.
	mustRun(t, addr, "c\n", "produce", "--topic", "del-c")
	done := make(chan result, 1)
	go func() {
		done <- gokafka(t, addr, "", "consume", "--include", "del-[bc]", "--group", "gd", "--from-beginning", "--timeout", "6s")
	}()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for assigned := false; !assigned; {
		select {
		case r := <-done:
			t.Fatalf("consume ended before the group assigned del-b: exit %d, stderr %q", r.code, r.stderr)
		case <-ctx.Done():
			t.Fatal("the group never assigned del-b")
		case <-time.After(100 * time.Millisecond):
		}
		groups, err := adm.DescribeGroups(ctx, "gd")
		if err != nil {
			continue
		}
		for _, m := range groups["gd"].Members {
			if a, ok := m.Assigned.AsConsumer(); ok {
				for _, tp := range a.Topics {
					assigned = assigned || tp.Topic == "del-b"
				}
			}
		}
	}
	time.Sleep(time.Second) // del-c's record printed and marked, not yet committed (every 5s)
	mustRun(t, addr, "", "topic", "delete", "del-b", "del-c")
	select {
	case r := <-done:
		if r.code != 0 {
			t.Errorf("consume --include with matching topics deleted: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	case <-ctx.Done():
		t.Fatal("consume did not end")
	}
}

func TestMessageFormatter(t *testing.T) {
	long := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}
	rec := &kgo.Record{Partition: 3, Offset: 9, Key: []byte("word"), Value: long, Timestamp: time.UnixMilli(1700000000123)}
	rec.Attrs = kgo.RecordAttrs{} // CreateTime
	for _, tc := range []struct {
		props []string
		rec   *kgo.Record
		want  string
		err   bool
	}{
		{nil, testRecord(), "val\n", false},
		{[]string{"print.key=true"}, testRecord(), "key\tval\n", false},
		{[]string{"print.key=TRUE", "print.value=false"}, testRecord(), "key\n", false},
		{[]string{"print.headers=true", "headers.separator=;", "print.value=no"}, testRecord(), "a:1;b:null\n", false},
		{[]string{"print.timestamp=true", "print.partition=true", "print.offset=true", "print.delivery=true", "line.separator=|"}, rec, "CreateTime:1700000000123\tPartition:3\tOffset:9\tDelivery:NONE\t" + string(long) + "|", false},
		// The Streams quickstart's word counts.
		{[]string{"print.key=true", "key.deserializer=org.apache.kafka.common.serialization.StringDeserializer", "value.deserializer=org.apache.kafka.common.serialization.LongDeserializer"}, rec, "word\t-2\n", false},
		{[]string{"value.deserializer=IntegerDeserializer"}, &kgo.Record{Value: []byte{0, 0, 1, 0}}, "256\n", false},
		{[]string{"value.deserializer=ShortDeserializer"}, &kgo.Record{Value: []byte{0x80, 0}}, "-32768\n", false},
		{[]string{"value.deserializer=LongDeserializer"}, testRecord(), "", true}, // 3 bytes
		{[]string{"value.deserializer=LongDeserializer"}, &kgo.Record{}, "null\n", false},
	} {
		props, err := parseProperties("consume", tc.props)
		if err != nil {
			t.Fatal(err)
		}
		f, err := newMessageFormatter(props)
		if err != nil {
			t.Fatalf("%v: %v", tc.props, err)
		}
		var b bytes.Buffer
		w := newTestWriter(&b)
		err = f.write(w, tc.rec)
		w.Flush()
		if (err != nil) != tc.err || err == nil && b.String() != tc.want {
			t.Errorf("%v: %q, error %v; want %q, error %v", tc.props, b.String(), err, tc.want, tc.err)
		}
	}
}

func TestLineReader(t *testing.T) {
	type hdr = kgo.RecordHeader
	for _, tc := range []struct {
		props   []string
		line    string
		key     []byte
		value   []byte
		headers []hdr
		err     string
	}{
		{nil, "a\tb", nil, []byte("a\tb"), nil, ""},
		{[]string{"parse.key=true"}, "a\tb\tc", []byte("a"), []byte("b\tc"), nil, ""},
		{[]string{"parse.key=true"}, "\t", []byte(""), []byte(""), nil, ""},
		{[]string{"parse.key=true"}, "ab", nil, nil, nil, "no key separator found on line number 1: 'ab'"},
		{[]string{"parse.key=true", "ignore.error=true"}, "ab", nil, []byte("ab"), nil, ""},
		{[]string{"parse.headers=true"}, "x:1,y:2\tv", nil, []byte("v"), []hdr{{Key: "x", Value: []byte("1")}, {Key: "y", Value: []byte("2")}}, ""},
		// Java's split drops trailing empty strings.
		{[]string{"parse.headers=true"}, "x:1,,\tv", nil, []byte("v"), []hdr{{Key: "x", Value: []byte("1")}}, ""},
		{[]string{"parse.headers=true", "headers.separator=[,;]"}, "x:1;y:\tv", nil, []byte("v"), []hdr{{Key: "x", Value: []byte("1")}, {Key: "y", Value: []byte("")}}, ""},
		{[]string{"parse.headers=true"}, "x\tv", nil, nil, nil, "no header key separator found in pair 'x' on line number 1"},
		{[]string{"parse.headers=true", "ignore.error=true"}, "x\tv", nil, []byte("v"), []hdr{{Key: "x"}}, ""},
		{[]string{"parse.headers=true"}, "v", nil, nil, nil, "no headers delimiter found on line number 1: 'v'"},
		{[]string{"parse.headers=true", "null.marker=-"}, "-:1\tv", nil, nil, nil, "header keys should not be equal to the null marker '-'"},
		{[]string{"parse.headers=true", "parse.key=true", "null.marker=-"}, "-\t-\t-", nil, nil, nil, ""},
		{[]string{"parse.key=true", "key.separator=::"}, "k::v::w", []byte("k"), []byte("v::w"), nil, ""},
	} {
		props, err := parseProperties("produce", tc.props)
		if err != nil {
			t.Fatal(err)
		}
		lr, err := newLineReader(props)
		if err != nil {
			t.Fatalf("%v: %v", tc.props, err)
		}
		r := &kgo.Record{}
		err = lr.record(r, tc.line, 1)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v %q: error %v, want %q", tc.props, tc.line, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(r.Key, tc.key) || !reflect.DeepEqual(r.Value, tc.value) || !reflect.DeepEqual(r.Headers, tc.headers) {
			t.Errorf("%v %q: key %q value %q headers %q, error %v; want %q %q %q", tc.props, tc.line, r.Key, r.Value, r.Headers, err, tc.key, tc.value, tc.headers)
		}
	}
}

// A group run that printed nothing still commits where it started, as
// kafka-console-consumer commits its positions: the next run reads what
// came in between instead of starting at the end again.
func TestConsumeGroupCommitsStart(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topic", "create", "gap", "--partitions", "2")
	// Long enough for the group to assign on a loaded machine.
	mustRun(t, addr, "", "consume", "--topic", "gap", "--group", "g", "--timeout", "5s")
	mustRun(t, addr, "a\nb\n", "produce", "--topic", "gap")
	// Ends at the two records, or after 15 s (a loaded machine's join).
	r := mustRun(t, addr, "", "consume", "--topic", "gap", "--group", "g", "--max-messages", "2", "--timeout", "15s", "--format", `%v `)
	if got := strings.Fields(r.stdout); len(got) != 2 {
		t.Errorf("second run printed %q, want the 2 records produced after the first", got)
	}
}

func TestProduceError(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topic", "create", "small", "--partitions", "1", "--config", "max.message.bytes=200")
	big := strings.Repeat("x", 1000)
	r := gokafka(t, addr, "ok\n"+big+"\n", "produce", "--topic", "small", "--acks", "1")
	if r.code != 1 {
		t.Errorf("producing a record over max.message.bytes: exit %d, want 1; stderr %q", r.code, r.stderr)
	}
	// The small record may share the big one's batch and fail with it.
	if !strings.Contains(r.stderr, "MESSAGE_TOO_LARGE") || strings.Contains(r.stderr, " 0 failed") {
		t.Errorf("produce summary %q does not count the failure", r.stderr)
	}
}

// An interrupt (Ctrl-C) stops perf produce and perf consume at once, which
// say so: not "flush: context canceled" (nor count as failed the records
// the client fails with it), nor that nothing arrived for a --timeout that
// never ran out.
func TestPerfInterrupted(t *testing.T) {
	addr := startBroker(t)
	interrupt := func(after time.Duration, args ...string) result {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var out, errOut testlog.Buffer
		code := make(chan int, 1)
		go func() {
			code <- runContext(ctx, append([]string{"--bootstrap-server", addr}, args...), strings.NewReader(""), &out, &errOut)
		}()
		time.Sleep(after)
		cancel()
		select {
		case c := <-code:
			return result{c, out.String(), errOut.String()}
		case <-time.After(10 * time.Second):
			t.Fatalf("%v: still running 10 s after the interrupt; stderr:\n%s", args, errOut.String())
		}
		return result{}
	}
	r := interrupt(time.Second, "perf", "produce", "--topic", "perf-int", "--partitions", "1", "--num-records", "100000", "--record-size", "10", "--throughput", "100")
	if r.code != 1 || !strings.Contains(r.stderr, "interrupted after") || strings.Contains(r.stderr, "context canceled") {
		t.Errorf("perf produce interrupted: exit %d, stderr %q", r.code, r.stderr)
	}
	// At a low --throughput the wait for the next record ends at the
	// interrupt, and no record is sent after it.
	r = interrupt(time.Second, "perf", "produce", "--topic", "perf-int", "--num-records", "10", "--record-size", "10", "--throughput", "0.05")
	if r.code != 1 || !strings.Contains(r.stderr, "interrupted after 1 of 10 records") {
		t.Errorf("perf produce interrupted between records: exit %d, stderr %q", r.code, r.stderr)
	}
	r = interrupt(time.Second, "perf", "consume", "--topic", "perf-int", "--messages", "100000", "--timeout", "30s")
	if r.code != 1 || !strings.Contains(r.stderr, "interrupted after") || strings.Contains(r.stderr, "nothing arrived") {
		t.Errorf("perf consume interrupted: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestPerf(t *testing.T) {
	addr := startBroker(t)
	if r := gokafka(t, addr, "", "perf", "consume", "--topic", "nosuchperf", "--messages", "10", "--timeout", "30s"); r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("perf consume of a missing topic: exit %d, stderr %q", r.code, r.stderr)
	}
	// A topic that does not exist is created by the broker, as for
	// kafka-producer-perf-test.
	mustRun(t, addr, "", "perf", "produce", "--topic", "perf-auto", "--num-records", "10", "--record-size", "10", "--json")
	const n = 20000
	r := mustRun(t, addr, "", "perf", "produce", "--topic", "perf", "--partitions", "2", "--num-records", itoa(n), "--record-size", "100", "--json")
	var pr ProduceResult
	if err := json.Unmarshal([]byte(r.stdout), &pr); err != nil {
		t.Fatalf("perf produce --json output %q: %v", r.stdout, err)
	}
	if pr.Records != n || pr.Errors != 0 || pr.RecordsSec <= 0 || pr.MBSec <= 0 {
		t.Errorf("perf produce: %+v", pr)
	}
	if !(0 < pr.P50Ms && pr.P50Ms <= pr.P99Ms && pr.P99Ms <= pr.P999Ms && pr.P999Ms <= pr.MaxMs) {
		t.Errorf("perf produce latencies out of order: %+v", pr)
	}
	// Every request carries a batch at least; two partitions take two.
	if !(1 <= pr.Requests && pr.Requests <= pr.Batches && 2 <= pr.Batches && pr.Batches <= n) {
		t.Errorf("perf produce counted %d requests and %d batches for %d records in 2 partitions", pr.Requests, pr.Batches, n)
	}
	// MB/s follows from records/s and the record size.
	if d := pr.MBSec - pr.RecordsSec*100/mib; d > 1e-6 || d < -1e-6 {
		t.Errorf("MB/s %v != records/s %v * 100 B", pr.MBSec, pr.RecordsSec)
	}

	r = mustRun(t, addr, "", "perf", "consume", "--topic", "perf", "--messages", itoa(n), "--json")
	var cr ConsumeResult
	if err := json.Unmarshal([]byte(r.stdout), &cr); err != nil {
		t.Fatalf("perf consume --json output %q: %v", r.stdout, err)
	}
	if cr.Records != n || cr.RecordsSec <= 0 || cr.MB < float64(n*100)/mib-1e-9 {
		t.Errorf("perf consume: %+v", cr)
	}

	// The text form, and asking for more than there is.
	r = gokafka(t, addr, "", "perf", "consume", "--topic", "perf", "--messages", itoa(n+1), "--timeout", "1s")
	if r.code != 1 || !strings.Contains(r.stdout, "data.consumed.in.MB") || !strings.Contains(r.stderr, "stopped after 20000 of 20001") {
		t.Errorf("perf consume of too many: exit %d\nstdout %q\nstderr %q", r.code, r.stdout, r.stderr)
	}
	// kafka-consumer-perf-test's columns, in its order.
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 2 || lines[0] != "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec" {
		t.Errorf("perf consume text output %q, want kafka-consumer-perf-test's header and one line", r.stdout)
	} else if cols := strings.Split(lines[1], ", "); len(cols) != 10 || cols[4] != itoa(n) {
		t.Errorf("perf consume figures %q, want 10 columns, the 5th the %d records", lines[1], n)
	} else if !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}$`).MatchString(cols[1]) {
		t.Errorf("perf consume end.time %q, want yyyy-MM-dd HH:mm:ss:SSS", cols[1])
	}
	r = mustRun(t, addr, "", "perf", "produce", "--topic", "perf", "--num-records", "100", "--record-size", "10", "--acks", "1", "--throughput", "1000")
	if !strings.HasPrefix(r.stdout, "100 records sent, ") || !strings.Contains(r.stdout, "ms 99.9th.") {
		t.Errorf("perf produce text output %q", r.stdout)
	}

	// --throughput holds the rate: the 500th record at 2000/s is due
	// 249.5 ms after the first, and the tool sends at most 2 ms early.
	r = mustRun(t, addr, "", "perf", "produce", "--topic", "perf", "--num-records", "500", "--record-size", "10", "--throughput", "2000", "--json")
	pr = ProduceResult{}
	if err := json.Unmarshal([]byte(r.stdout), &pr); err != nil {
		t.Fatalf("perf produce --json output %q: %v", r.stdout, err)
	}
	if pr.Records != 500 || pr.ElapsedSec < 0.2475 {
		t.Errorf("perf produce --throughput 2000: %d records in %.3f s, want 500 in at least 0.2475 s", pr.Records, pr.ElapsedSec)
	}
}

func TestUsage(t *testing.T) {
	// Nothing here reaches a broker: usage errors come first.
	for _, tc := range []struct {
		args []string
		code int
		out  string // in stdout or stderr
	}{
		{nil, 2, "Usage: gokafka"},
		{[]string{"help"}, 0, "perf produce --topic T"},
		{[]string{"version"}, 0, "gokafka "},
		{[]string{"--version"}, 0, "gokafka "},
		{[]string{"-b", "h:1", "--version"}, 0, "gokafka "},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"--nope"}, 2, "flag provided but not defined"},
		{[]string{"topic"}, 2, "want create"},
		{[]string{"topic", "create"}, 2, "exactly one topic name"},
		{[]string{"topic", "create", "a", "b"}, 2, "exactly one topic name"},
		{[]string{"topic", "create", "a", "--config", "novalue"}, 2, "want key=value"},
		{[]string{"topic", "create", "a", "--partitions", "x"}, 2, "invalid value"},
		// Out of range for the request's int32 and int16: refused, not
		// wrapped round to the broker's default (-1) or to 0.
		{[]string{"topic", "create", "a", "--partitions", "4294967295"}, 2, "the partitions must be greater than 0"},
		{[]string{"topic", "create", "a", "--partitions", "0"}, 2, "the partitions must be greater than 0"},
		{[]string{"topic", "create", "a", "--replication-factor", "65535"}, 2, "between 1 and 32767 inclusive"},
		{[]string{"topic", "create", "a", "--replication-factor", "40000"}, 2, "between 1 and 32767 inclusive"},
		{[]string{"topic", "create", "a", "--replication-factor", "0"}, 2, "between 1 and 32767 inclusive"},
		{[]string{"topic", "alter", "a", "--partitions", "4294967298"}, 2, "at most 2147483647 partitions"},
		{[]string{"topic", "delete"}, 2, "at least one"},
		{[]string{"topic", "alter-config", "a"}, 2, "nothing to do"},
		{[]string{"topic", "create", "-h"}, 0, "--replication-factor"},
		{[]string{"produce"}, 2, "--topic is required"},
		{[]string{"produce", "--topic", "t", "--acks", "2"}, 2, "want all, 1 or 0"},
		{[]string{"consume", "--topic", "t", "--format", "%x"}, 2, "unknown verb %x"},
		{[]string{"consume", "--topic", "t", "--from-beginning", "--offset", "3"}, 2, "at most one"},
		{[]string{"consume", "--topic", "t", "--offset", "-2"}, 2, "earliest or latest"},
		{[]string{"consume", "--topic", "t", "--offset", "first"}, 2, "earliest or latest"},
		{[]string{"consume", "--topic", "t", "--partition", "-2"}, 2, "--partition -2"},
		{[]string{"consume", "--topic", "t", "--from-time", "yesterday"}, 2, "RFC3339"},
		{[]string{"perf"}, 2, "want produce or consume"},
		{[]string{"perf", "-h"}, 0, "perf consume --topic T"},
		{[]string{"topic", "--help"}, 0, "topic alter-config NAME"},
		{[]string{"group", "help"}, 0, "group delete-offsets GROUP"},
		{[]string{"perf", "produce", "--topic", "t", "--record-size", "1"}, 2, "--num-records"},
		{[]string{"perf", "consume", "--topic", "t"}, 2, "--messages"},
		// Kafka's tools take timeouts in milliseconds: kafka-console-consumer
		// --timeout-ms 1000, kafka-consumer-perf-test --timeout 10000. Taken,
		// these reach the next check.
		{[]string{"consume", "--topic", "t", "--timeout-ms", "1000", "--offset", "-2"}, 2, "earliest or latest"},
		{[]string{"consume", "--topic", "t", "--timeout", "1000", "--offset", "-2"}, 2, "earliest or latest"},
		{[]string{"perf", "consume", "--topic", "t", "--timeout", "10000", "--messages", "0"}, 2, "--messages must be > 0"},
		{[]string{"consume", "--topic", "t", "--timeout", "1x"}, 2, "a number of milliseconds"},
		{[]string{"help"}, 0, "group reset-offsets GROUP"},
		{[]string{"group"}, 2, "want list, describe"},
		{[]string{"group", "frob"}, 2, `unknown subcommand "frob"`},
		{[]string{"group", "list", "--state", "Sleepy"}, 2, "--state \"Sleepy\""},
		{[]string{"group", "describe"}, 2, "at least one group"},
		{[]string{"group", "reset-offsets", "g", "--topic", "t"}, 2, "exactly one of --to-earliest"},
		{[]string{"group", "reset-offsets", "g", "--topic", "t", "--to-earliest", "--shift-by", "1"}, 2, "exactly one of --to-earliest"},
		{[]string{"group", "reset-offsets", "g", "--to-latest"}, 2, "--topic or --all-topics"},
		{[]string{"group", "reset-offsets", "g", "--topic", "t", "--all-topics", "--to-latest"}, 2, "--topic or --all-topics"},
		{[]string{"group", "reset-offsets", "g", "--topic", "t:x", "--to-latest"}, 2, "not a number"},
		{[]string{"group", "reset-offsets", "g", "--topic", "t", "--shift-by", "z"}, 2, "want an integer"},
		{[]string{"group", "reset-offsets", "g", "--topic", "t", "--to-datetime", "noon"}, 2, "RFC3339"},
		{[]string{"group", "reset-offsets", "--topic", "t", "--to-latest"}, 2, "exactly one group"},
		{[]string{"group", "delete"}, 2, "at least one group"},
		{[]string{"group", "delete-offsets", "g"}, 2, "--topic is required"},
		{[]string{"topic", "alter", "a"}, 2, "give --partitions N"},
		{[]string{"topic", "alter", "--partitions", "3"}, 2, "exactly one topic name"},
	} {
		var out, errOut bytes.Buffer
		code := run(tc.args, strings.NewReader(""), &out, &errOut)
		if code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.out) {
			t.Errorf("gokafka %q: exit %d, want %d with %q\nstdout %q\nstderr %q", tc.args, code, tc.code, tc.out, out.String(), errOut.String())
		}
	}
	// Help asked for goes to stdout, as `gokafka help` does, so it pages.
	var out, errOut bytes.Buffer
	if code := run([]string{"--help"}, strings.NewReader(""), &out, &errOut); code != 0 || !strings.Contains(out.String(), "Commands:") || errOut.Len() != 0 {
		t.Errorf("gokafka --help: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}

func TestUnreachableBroker(t *testing.T) {
	// A port nobody listens on: a runtime error, not a hang or a usage error.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := runContext(ctx, []string{"-b", "127.0.0.1:1", "topic", "list"}, strings.NewReader(""), &out, &errOut)
	if code != 1 || errOut.Len() == 0 {
		t.Errorf("topic list against nothing: exit %d, stderr %q", code, errOut.String())
	}
	for _, args := range [][]string{{"consume", "--topic", "t", "--timeout", "1m"}, {"produce", "--topic", "t"}} {
		errOut.Reset()
		start := time.Now()
		code = runContext(ctx, append([]string{"-b", "127.0.0.1:1"}, args...), strings.NewReader("x\n"), &out, &errOut)
		if code != 1 || errOut.Len() == 0 || time.Since(start) > 2*time.Second {
			t.Errorf("%s against nothing: exit %d after %v, stderr %q", args[0], code, time.Since(start), errOut.String())
		}
	}
}

func TestMsDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"1500": 1500 * time.Millisecond, "0": 0, "2s": 2 * time.Second, "1m30s": 90 * time.Second, "-1": -time.Millisecond} {
		var d time.Duration
		if err := (*msDuration)(&d).Set(in); err != nil || d != want {
			t.Errorf("Set(%q): %v, %v; want %v", in, d, err, want)
		}
	}
	for _, in := range []string{"", "1x", "ten", "99999999999999999"} {
		var d time.Duration
		if err := (*msDuration)(&d).Set(in); err == nil {
			t.Errorf("Set(%q): %v, no error", in, d)
		}
	}
}

func TestParseFormat(t *testing.T) {
	for _, tc := range []struct {
		format string
		want   string
		err    bool
	}{
		{`%v\n`, "val\n", false},
		{`%k\t%v\n`, "key\tval\n", false},
		{`%t:%p:%o:%T`, "top:7:42:1700000000123", false},
		{`%h|`, "a=1,b=|", false},
		{`100%% \\ \q`, `100% \ \q`, false},
		{`trailing\`, `trailing\`, false},
		{`%`, "", true},
		{`%z`, "", true},
	} {
		f, err := parseFormat(tc.format)
		if (err != nil) != tc.err {
			t.Errorf("parseFormat(%q) error = %v, want error %v", tc.format, err, tc.err)
			continue
		}
		if err != nil {
			continue
		}
		var b bytes.Buffer
		w := newTestWriter(&b)
		rec := testRecord()
		if err := f.write(w, rec); err != nil {
			t.Fatal(err)
		}
		w.Flush()
		if b.String() != tc.want {
			t.Errorf("format %q = %q, want %q", tc.format, b.String(), tc.want)
		}
	}
}

func TestHistogram(t *testing.T) {
	var h histogram
	for i := 1; i <= 10000; i++ {
		h.record(time.Duration(i) * time.Microsecond * 10) // 10 µs .. 100 ms
	}
	for _, tc := range []struct {
		q    float64
		want float64 // ms
	}{
		{0.5, 50}, {0.99, 99}, {0.999, 99.9}, {1, 100},
	} {
		got := h.quantile(tc.q)
		if d := (got - tc.want) / tc.want; d > 0.01 || d < -0.01 {
			t.Errorf("quantile(%v) = %v ms, want %v within 1%%", tc.q, got, tc.want)
		}
	}
	if m := h.meanMs(); m < 50.0 || m > 50.1 {
		t.Errorf("mean = %v ms, want 50.005", m)
	}
	// Buckets are contiguous and ordered.
	for us := int64(0); us < 1<<20; us += 7 {
		b := bucketOf(us)
		if lowerBound(b) > us || lowerBound(b+1) <= us {
			t.Fatalf("value %d in bucket %d = [%d, %d)", us, b, lowerBound(b), lowerBound(b+1))
		}
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func newTestWriter(w io.Writer) *bufio.Writer { return bufio.NewWriter(w) }

func testRecord() *kgo.Record {
	return &kgo.Record{
		Topic: "top", Partition: 7, Offset: 42,
		Key: []byte("key"), Value: []byte("val"),
		Timestamp: time.UnixMilli(1700000000123),
		Headers:   []kgo.RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "b"}},
	}
}

// A broker that goes away mid-stream: the records it did not acknowledge
// fail at --timeout, as kafka-console-producer's do at delivery.timeout.ms
// (franz-go would wait for a record sent to it however long it takes), and
// the summary counts every line read.
func TestProduceBrokerGone(t *testing.T) {
	addr, stop := startBrokerIn(t, t.TempDir())
	mustRun(t, addr, "", "topic", "create", "gone", "--partitions", "1")
	pr, pw := io.Pipe()
	var out, errOut testlog.Buffer
	code := make(chan int, 1)
	go func() {
		code <- run([]string{"--bootstrap-server", addr, "produce", "--topic", "gone", "--timeout", "2s"}, pr, &out, &errOut)
	}()
	write := func(from int) {
		for i := from; i < from+10; i++ {
			if _, err := fmt.Fprintf(pw, "%d\n", i); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(0)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ends, err := adm.ListEndOffsets(context.Background(), "gone")
		if o, _ := ends.Lookup("gone", 0); err == nil && o.Offset == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first ten records were not acknowledged")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cl.Close()
	stop()
	write(10)
	pw.Close()
	select {
	case c := <-code:
		if c != 1 || !strings.Contains(errOut.String(), "10 records produced to gone, 10 failed") {
			t.Fatalf("exit %d; stderr:\n%s", c, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30 s after the broker went, with --timeout 2s; stderr:\n%s", errOut.String())
	}
}

// An interrupt stops produce while it waits for a line on stdin (a
// terminal that sends no EOF), as Ctrl-C stops kafka-console-producer,
// and what was read before it is still reported.
func TestProduceInterruptedWhileReading(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topic", "create", "intr", "--partitions", "1")
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut testlog.Buffer
	code := make(chan int, 1)
	go func() {
		code <- runContext(ctx, []string{"--bootstrap-server", addr, "produce", "--topic", "intr"}, pr, &out, &errOut)
	}()
	if _, err := fmt.Fprintln(pw, "a"); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(10 * time.Second)
	for {
		ends, err := adm.ListEndOffsets(context.Background(), "intr")
		if o, _ := ends.Lookup("intr", 0); err == nil && o.Offset == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first record was not acknowledged")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel() // Ctrl-C, with stdin still open
	select {
	case c := <-code:
		if c != 0 || !strings.Contains(errOut.String(), "1 records produced to intr, 0 failed") {
			t.Fatalf("exit %d; stderr:\n%s", c, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("still reading stdin 10 s after the interrupt; stderr:\n%s", errOut.String())
	}
}

// A retriable error is named while the client retries it, and again when
// the record fails at its delivery timeout, which alone says nothing of it.
func TestProduceRetriableError(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topic", "create", "isr", "--partitions", "1", "--config", "min.insync.replicas=2")
	r := gokafka(t, addr, "a\nb\n", "produce", "--topic", "isr", "--timeout", "1s")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "isr-0: retrying: NOT_ENOUGH_REPLICAS") ||
		!strings.Contains(r.stderr, "last answer before that: NOT_ENOUGH_REPLICAS") ||
		strings.Count(r.stderr, "retrying:") != 1 ||
		!strings.Contains(r.stderr, "0 records produced to isr, 2 failed") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	// acks=1 does not need the in-sync replicas: produced.
	mustRun(t, addr, "c\n", "produce", "--topic", "isr", "--acks", "1")
}

// broker describe-config and alter-config stand in for kafka-configs
// --entity-type brokers: a dynamic default set for every broker shows in a
// broker's configs, as the topic default it is.
func TestBrokerConfig(t *testing.T) {
	addr := startBroker(t)
	r := mustRun(t, addr, "", "broker", "alter-config", "--set", "log.retention.ms=3600000")
	if r.stdout != "Completed updating config for the cluster-wide default.\n" {
		t.Errorf("alter-config printed %q", r.stdout)
	}
	r = mustRun(t, addr, "", "broker", "describe-config")
	if !strings.Contains(r.stdout, "Cluster-wide dynamic configs") || !strings.Contains(r.stdout, "  log.retention.ms=3600000 (DYNAMIC_DEFAULT)\n") {
		t.Errorf("describe-config of the default:\n%s", r.stdout)
	}
	r = mustRun(t, addr, "", "broker", "describe-config", "1")
	if !strings.Contains(r.stdout, "Configs of broker 1:") || !strings.Contains(r.stdout, "  log.retention.ms=3600000 (DYNAMIC_DEFAULT)\n") {
		t.Errorf("describe-config 1:\n%s", r.stdout)
	}
	// As kafka-configs --delete-config: a key the resource does not set
	// itself is refused, here broker 1's, which has it from the default.
	if r := gokafka(t, addr, "", "broker", "alter-config", "1", "--delete", "log.retention.ms"); r.code != 1 || !strings.Contains(r.stderr, "invalid config(s): log.retention.ms (broker 1 does not set them)") {
		t.Errorf("deleting a key broker 1 does not set: exit %d, stderr %q", r.code, r.stderr)
	}
	mustRun(t, addr, "", "broker", "alter-config", "--delete", "log.retention.ms")
	if r := mustRun(t, addr, "", "broker", "describe-config"); strings.Contains(r.stdout, "log.retention.ms") {
		t.Errorf("after --delete, the default still holds log.retention.ms:\n%s", r.stdout)
	}
	if r := gokafka(t, addr, "", "broker", "alter-config", "--delete", "log.retention.ms"); r.code != 1 || !strings.Contains(r.stderr, "invalid config(s): log.retention.ms") {
		t.Errorf("deleting it again: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := gokafka(t, addr, "", "broker", "alter-config", "1", "--set", "log.dirs=/x"); r.code != 1 || !strings.Contains(r.stderr, "INVALID") {
		t.Errorf("altering a static key: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := gokafka(t, addr, "", "broker", "alter-config", "7", "--set", "log.retention.ms=1"); r.code != 1 || !strings.Contains(r.stderr, "no broker 7 in the cluster") {
		t.Errorf("alter-config of a broker that does not exist: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := gokafka(t, addr, "", "broker", "describe-config", "x"); r.code != 2 {
		t.Errorf("describe-config x: exit %d, want 2", r.code)
	}
}

// quota alter and describe stand in for kafka-configs --entity-type
// clients/users with quota keys.
func TestQuota(t *testing.T) {
	addr := startBroker(t)
	r := mustRun(t, addr, "", "quota", "alter", "--client-id", "app", "--set", "producer_byte_rate=1048576", "--set", "consumer_byte_rate=2097152")
	if r.stdout != "Completed updating quotas for client-id 'app'.\n" {
		t.Errorf("alter printed %q", r.stdout)
	}
	mustRun(t, addr, "", "quota", "alter", "--user-default", "--client-default", "--set", "producer_byte_rate=4096")
	r = mustRun(t, addr, "", "quota", "describe")
	want := "Quota configs for client-id 'app' are consumer_byte_rate=2097152, producer_byte_rate=1048576\n" +
		"Quota configs for the default user-principal, the default client-id are producer_byte_rate=4096\n"
	if r.stdout != want {
		t.Errorf("describe:\n%s\nwant:\n%s", r.stdout, want)
	}
	r = mustRun(t, addr, "", "quota", "describe", "--client-id", "app")
	if r.stdout != "Quota configs for client-id 'app' are consumer_byte_rate=2097152, producer_byte_rate=1048576\n" {
		t.Errorf("describe --client-id app:\n%s", r.stdout)
	}
	mustRun(t, addr, "", "quota", "alter", "--client-id", "app", "--delete", "consumer_byte_rate")
	if r := mustRun(t, addr, "", "quota", "describe", "--client-id", "app"); strings.Contains(r.stdout, "consumer_byte_rate") {
		t.Errorf("after --delete:\n%s", r.stdout)
	}
	if r := gokafka(t, addr, "", "quota", "alter", "--client-id", "app", "--set", "producer_byte_rate=0"); r.code != 1 || !strings.Contains(r.stderr, "greater than 0") {
		t.Errorf("a zero quota: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, args := range [][]string{
		{"quota", "alter", "--set", "producer_byte_rate=1"},                         // no entity
		{"quota", "alter", "--client-id", "a"},                                      // nothing to do
		{"quota", "alter", "--client-id", "a", "--client-default", "--delete", "x"}, // two clients
		{"quota", "alter", "--client-id", "a", "--set", "producer_byte_rate=fast"},  // not a number
	} {
		wantUsage(t, addr, args...)
	}
}

// kafka-topics' --if-not-exists and --if-exists make provisioning scripts
// idempotent: an existing topic is no error for create, a missing one none
// for delete.
func TestTopicIfExists(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topic", "create", "idem")
	if r := gokafka(t, addr, "", "topic", "create", "idem"); r.code != 1 {
		t.Errorf("create of an existing topic: exit %d, want 1", r.code)
	}
	if r := mustRun(t, addr, "", "topic", "create", "idem", "--if-not-exists"); r.stdout != "" || r.stderr != "" {
		t.Errorf("create --if-not-exists of an existing topic: stdout %q stderr %q", r.stdout, r.stderr)
	}
	if r := gokafka(t, addr, "", "topic", "delete", "nope"); r.code != 1 {
		t.Errorf("delete of a missing topic: exit %d, want 1", r.code)
	}
	r := mustRun(t, addr, "", "topic", "delete", "--if-exists", "nope", "idem")
	if r.stdout != "Deleted topic idem.\n" || r.stderr != "" {
		t.Errorf("delete --if-exists: stdout %q stderr %q", r.stdout, r.stderr)
	}
	if r := mustRun(t, addr, "", "topic", "create", "--topic", "idem2", "--if-not-exists"); r.stdout != "Created topic idem2.\n" {
		t.Errorf("create --if-not-exists of a new topic: stdout %q", r.stdout)
	}
	// describe and alter take --if-exists too, as kafka-topics does
	// (TopicCommandTest testDescribeWhenTopicDoesntExistWithIfExists,
	// testAlterWhenTopicDoesntExistWithIfExists).
	if r := gokafka(t, addr, "", "topic", "describe", "nope"); r.code != 1 {
		t.Errorf("describe of a missing topic: exit %d, want 1", r.code)
	}
	if r := mustRun(t, addr, "", "topic", "describe", "--if-exists", "--topic", "nope"); r.stdout != "" || r.stderr != "" {
		t.Errorf("describe --if-exists of a missing topic: stdout %q stderr %q", r.stdout, r.stderr)
	}
	if r := mustRun(t, addr, "", "topic", "describe", "--if-exists", "nope", "idem2"); !strings.HasPrefix(r.stdout, "Topic: idem2\t") || r.stderr != "" {
		t.Errorf("describe --if-exists of a missing and an existing topic: stdout %q stderr %q", r.stdout, r.stderr)
	}
	if r := gokafka(t, addr, "", "topic", "alter", "nope", "--partitions", "2"); r.code != 1 {
		t.Errorf("alter of a missing topic: exit %d, want 1", r.code)
	}
	if r := mustRun(t, addr, "", "topic", "alter", "--if-exists", "--topic", "nope", "--partitions", "2"); r.stdout != "" || r.stderr != "" {
		t.Errorf("alter --if-exists of a missing topic: stdout %q stderr %q", r.stdout, r.stderr)
	}
	if r := mustRun(t, addr, "", "topic", "alter", "--if-exists", "idem2", "--partitions", "2"); r.stdout != "Topic idem2 now has 2 partitions.\n" {
		t.Errorf("alter --if-exists of an existing topic: stdout %q", r.stdout)
	}
}

// kafka-topics' --topic is a regular expression for list, describe, alter
// and delete (whole names, commas for "or"), and --describe takes its
// partition reports (TopicCommandTest's testDescribe*Partitions*).
func TestTopicPattern(t *testing.T) {
	addr := startBroker(t)
	for _, n := range []string{"orders.eu", "orders.us", "ordersXeu", "other"} {
		mustRun(t, addr, "", "topic", "create", n, "--partitions", "2")
	}
	mustRun(t, addr, "", "topic", "alter-config", "other", "--set", "retention.ms=1000")
	list := func(args ...string) string {
		return mustRun(t, addr, "", append([]string{"topic"}, args...)...).stdout
	}
	topicLines := func(out string) (topics []string, partitions int) {
		for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			switch {
			case strings.HasPrefix(l, "Topic: "):
				topics = append(topics, strings.Fields(l)[1])
			case strings.HasPrefix(l, "\tTopic: "):
				partitions++
			}
		}
		return topics, partitions
	}
	for _, tc := range []struct{ pattern, want string }{
		{`orders\..*`, "orders.eu\norders.us\n"},
		{"orders.eu,other", "orders.eu\nordersXeu\nother\n"}, // "." is any character
		{`"orders.us"`, "orders.us\n"},
		{"order", ""}, // the whole name
	} {
		if got := list("list", "--topic", tc.pattern); got != tc.want {
			t.Errorf("list --topic %s = %q, want %q", tc.pattern, got, tc.want)
		}
	}
	if topics, parts := topicLines(list("describe", "--topic", `orders\..*`)); !slices.Equal(topics, []string{"orders.eu", "orders.us"}) || parts != 4 {
		t.Errorf("describe --topic orders\\..*: topics %v, %d partition lines", topics, parts)
	}
	// Reports: on one node every partition has its one replica in sync, at
	// min.insync.replicas 1; only partition lines are printed.
	if out := list("describe", "--under-replicated-partitions"); out != "" {
		t.Errorf("--under-replicated-partitions = %q, want nothing", out)
	}
	if out := list("describe", "--unavailable-partitions", "--under-min-isr-partitions"); out != "" {
		t.Errorf("--unavailable-partitions --under-min-isr-partitions = %q, want nothing", out)
	}
	if topics, parts := topicLines(list("describe", "--at-min-isr-partitions", "--topic", "orders.*")); len(topics) != 0 || parts != 6 {
		t.Errorf("--at-min-isr-partitions: topic lines %v, %d partition lines, want none and 6", topics, parts)
	}
	mustRun(t, addr, "", "topic", "alter-config", "orders.us", "--set", "min.insync.replicas=2")
	if out := list("describe", "--under-min-isr-partitions"); strings.Count(out, "\tTopic: orders.us\t") != 2 || strings.Count(out, "\n") != 2 {
		t.Errorf("--under-min-isr-partitions with orders.us at min.insync.replicas=2:\n%s", out)
	}
	if topics, parts := topicLines(list("describe", "--topics-with-overrides", "--exclude-internal")); !slices.Equal(topics, []string{"orders.us", "other"}) || parts != 0 {
		t.Errorf("--topics-with-overrides: topics %v, %d partition lines", topics, parts)
	}

	if out := list("alter", "--topic", `orders\..*`, "--partitions", "3"); out != "Topic orders.eu now has 3 partitions.\nTopic orders.us now has 3 partitions.\n" {
		t.Errorf("alter --topic orders\\..* = %q", out)
	}
	if out := list("delete", "--topic", `orders\..*|ordersX.*`); out != "Deleted topic orders.eu.\nDeleted topic orders.us.\nDeleted topic ordersXeu.\n" {
		t.Errorf("delete --topic = %q", out)
	}
	// A name both matched and given, or given twice, is deleted once.
	for _, n := range []string{"dup-a", "dup-b"} {
		mustRun(t, addr, "", "topic", "create", n, "--partitions", "1")
	}
	if out := list("delete", "--topic", "dup-.*", "dup-a", "dup-b", "dup-b"); out != "Deleted topic dup-a.\nDeleted topic dup-b.\n" {
		t.Errorf("delete --topic dup-.* dup-a dup-b dup-b = %q", out)
	}
	for _, args := range [][]string{
		{"describe", "--topic", "orders.*"},
		{"delete", "--topic", "orders.*"},
		{"alter", "--topic", "orders.*", "--partitions", "4"},
	} {
		if r := gokafka(t, addr, "", append([]string{"topic"}, args...)...); r.code != 1 || !strings.Contains(r.stderr, "topic 'orders.*' does not exist as expected") {
			t.Errorf("%s matching nothing: exit %d, stderr %q", args, r.code, r.stderr)
		}
		if r := mustRun(t, addr, "", append([]string{"topic"}, append(args, "--if-exists")...)...); r.stdout != "" || r.stderr != "" {
			t.Errorf("%s --if-exists matching nothing: %q %q", args, r.stdout, r.stderr)
		}
	}
	if r := gokafka(t, addr, "", "topic", "list", "--topic", "a("); r.code != 2 {
		t.Errorf("a bad pattern: exit %d, want 2", r.code)
	}
	if out := list("list", "--exclude-internal"); out != "other\n" {
		t.Errorf("left after delete: %q", out)
	}
}

// The action may be a flag anywhere among the arguments, as Kafka's tools
// take it (kafka-topics --bootstrap-server B --describe --topic T).
func TestActionFlags(t *testing.T) {
	addr := startBroker(t)
	if r := mustRun(t, addr, "", "topic", "--create", "--topic", "af", "--partitions", "2"); r.stdout != "Created topic af.\n" {
		t.Errorf("topic --create: %q", r.stdout)
	}
	if r := mustRun(t, addr, "", "topics", "--list", "--exclude-internal"); r.stdout != "af\n" {
		t.Errorf("topics --list: %q", r.stdout)
	}
	if r := mustRun(t, addr, "", "topic", "--topic", "af", "--describe"); !strings.HasPrefix(r.stdout, "Topic: af\t") {
		t.Errorf("topic --topic af --describe: %q", r.stdout)
	}
	if r := mustRun(t, addr, "", "group", "--list"); r.stdout != "GROUP\tSTATE\tPROTOCOL-TYPE\tMEMBERS\n" {
		t.Errorf("group --list: %q", r.stdout)
	}
	if r := gokafka(t, addr, "", "topic", "--list", "--describe"); r.code != 2 || !strings.Contains(r.stderr, "want create, list") {
		t.Errorf("two actions: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := mustRun(t, addr, "", "topic", "--delete", "--topic", "af"); r.stdout != "Deleted topic af.\n" {
		t.Errorf("topic --delete: %q", r.stdout)
	}
	if got := actionFlagSubcommand([]string{"alter-config", "t", "--delete", "k"}, "delete", "list"); strings.Join(got, " ") != "alter-config t --delete k" {
		t.Errorf("a subcommand given first is kept: %q", got)
	}
}

// kafka-configs' --add-config and --delete-config, with its syntax: pairs
// separated by commas, a list value in brackets.
func TestAddConfigFlags(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topic", "create", "ac")
	mustRun(t, addr, "", "topic", "alter-config", "ac", "--add-config", "retention.ms=1000, cleanup.policy=[delete,compact],segment.bytes=2000000")
	r := mustRun(t, addr, "", "topic", "describe", "ac")
	if first := strings.SplitN(r.stdout, "\n", 2)[0]; !strings.HasSuffix(first, "Configs: cleanup.policy=delete,compact,retention.ms=1000,segment.bytes=2000000") {
		t.Errorf("after --add-config: %q", first)
	}
	mustRun(t, addr, "", "topic", "alter-config", "--topic", "ac", "--delete-config", "retention.ms,segment.bytes")
	r = mustRun(t, addr, "", "topic", "describe", "ac")
	if first := strings.SplitN(r.stdout, "\n", 2)[0]; !strings.HasSuffix(first, "Configs: cleanup.policy=delete,compact") {
		t.Errorf("after --delete-config: %q", first)
	}
	if r := gokafka(t, addr, "", "topic", "alter-config", "ac", "--add-config", "retention.ms"); r.code != 2 || !strings.Contains(r.stderr, "key=val") {
		t.Errorf("--add-config without a value: exit %d, stderr %q", r.code, r.stderr)
	}
	mustRun(t, addr, "", "broker", "alter-config", "--add-config", "log.retention.ms=5000,message.max.bytes=2000000")
	r = mustRun(t, addr, "", "broker", "describe-config")
	if !strings.Contains(r.stdout, "log.retention.ms=5000 (DYNAMIC_DEFAULT)") || !strings.Contains(r.stdout, "message.max.bytes=2000000 (DYNAMIC_DEFAULT)") {
		t.Errorf("broker --add-config: %q", r.stdout)
	}
	mustRun(t, addr, "", "broker", "alter-config", "--delete-config", "log.retention.ms,message.max.bytes")
	if r := mustRun(t, addr, "", "broker", "describe-config"); strings.Contains(r.stdout, "DYNAMIC") {
		t.Errorf("broker --delete-config left %q", r.stdout)
	}
	mustRun(t, addr, "", "quota", "alter", "--client-id", "q", "--add-config", "producer_byte_rate=1024,consumer_byte_rate=2048")
	if r := mustRun(t, addr, "", "quota", "describe", "--client-id", "q"); r.stdout != "Quota configs for client-id 'q' are consumer_byte_rate=2048, producer_byte_rate=1024\n" {
		t.Errorf("quota --add-config: %q", r.stdout)
	}
	mustRun(t, addr, "", "quota", "alter", "--client-id", "q", "--delete-config", "consumer_byte_rate")
	if r := mustRun(t, addr, "", "quota", "describe", "--client-id", "q"); strings.Contains(r.stdout, "consumer_byte_rate") {
		t.Errorf("quota --delete-config: %q", r.stdout)
	}
	if got := strings.Join(splitAddConfig("a=1,b=[x,y],,c=2"), "|"); got != "a=1|b=[x,y]|c=2" {
		t.Errorf("splitAddConfig = %q", got)
	}
}

// A run that ends after its group assigned a partition but before the
// client fetched the group's offset for it (an idle --timeout, or ^C, just
// as the group's first rebalance completes) must not commit the reset start
// over the offset the group has: it would skip every record in between.
func TestConsumeGroupKeepsCommitFetchedLate(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topic", "create", "late", "--partitions", "1")
	mustRun(t, addr, "1\n2\n3\n4\n5\n", "produce", "--topic", "late")
	mustRun(t, addr, "", "consume", "--topic", "late", "--group", "g", "--from-beginning", "--max-messages", "2")
	// The run ends in the assignment: the client fetches the group's
	// offsets only once the callback returns.
	o := whileAssigned(t, addr, "g", "late", func(ctx context.Context, cl *kgo.Client, resets *resetStarts) error {
		return resets.commitUnread(ctx, cl, nil)
	})
	if o.At != 2 {
		t.Errorf("group's offset %+v, want the 2 it had: the reset start was committed over it", o)
	}
}

// Partitions revoked in a rebalance that nothing was printed from are
// committed where the group's reset started them, as kafka-console-consumer
// commits every position before a rebalance: their next owner starts there
// rather than at the end again.
func TestConsumeGroupCommitsStartOnRevoke(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topic", "create", "rev", "--partitions", "1")
	mustRun(t, addr, "1\n2\n3\n", "produce", "--topic", "rev")
	o := whileAssigned(t, addr, "r", "rev", func(ctx context.Context, cl *kgo.Client, resets *resetStarts) error {
		resets.revoked(ctx, cl, map[string][]int32{"rev": {0}}) // as a rebalance would
		return nil
	})
	if o.At != 3 {
		t.Errorf("group's offset %+v, want 3, where its reset started the revoked partition", o)
	}
}

// whileAssigned joins group to consume topic (partition 0, reset to the
// end) with consume's resetStarts, runs f in the assignment callback once
// the starts are looked up, and returns the group's offset of partition 0
// afterwards.
func whileAssigned(t *testing.T, addr, group, topic string, f func(context.Context, *kgo.Client, *resetStarts) error) kadm.OffsetResponse {
	t.Helper()
	resets := newResetStarts(group, false)
	errc := make(chan error, 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), kgo.AutoCommitMarks(),
		kgo.OnPartitionsAssigned(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			resets.assigned(ctx, cl, m)
			if len(m[topic]) > 0 {
				errc <- f(ctx, cl, resets)
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go cl.PollFetches(ctx)
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("no assignment")
	}
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := offs.Lookup(topic, 0)
	if !ok {
		t.Fatalf("group %s has no offset for %s-0", group, topic)
	}
	return o
}

// --compression-codec stores the batches of produce and perf produce in
// that codec, as kafka-console-producer's flag and the perf test's
// compression.type do, and consume reads them back.
func TestCompressionCodec(t *testing.T) {
	addr := startBroker(t)
	// storedCodecs counts the first n records of topic by the codec of
	// the batch holding each, as a client reads it from the batch's
	// attributes.
	storedCodecs := func(topic string, n int) map[int8]int {
		t.Helper()
		cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		codecs := map[int8]int{}
		for seen := 0; seen < n; {
			fs := cl.PollRecords(ctx, n-seen)
			if err := fs.Err0(); err != nil {
				t.Fatalf("%s: %v", topic, err)
			}
			for _, r := range fs.Records() {
				codecs[int8(r.Attrs.CompressionType())]++
				seen++
			}
		}
		return codecs
	}
	for i, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		topic := "codec-" + codec
		// Lines that compress each alone (franz-go sends a batch that
		// compression would grow as it is).
		lines := strings.Repeat(strings.Repeat("a", 200)+"\n", 3)
		mustRun(t, addr, lines, "produce", "--topic", topic, "--compression-codec", codec)
		if got := storedCodecs(topic, 3); got[int8(i)] != 3 {
			t.Errorf("produce --compression-codec %s: records by stored codec %v, want all 3 in %d", codec, got, i)
		}
		r := mustRun(t, addr, "", "consume", "--topic", topic, "--from-beginning", "--max-messages", "3", "--timeout", "5s")
		if r.stdout != lines {
			t.Errorf("consume of %s: %q", topic, r.stdout)
		}
		// perf produce's values are random and overlap from one record to
		// the next: a batch of many compresses, but one of a single record
		// (the first is one when the client sends it before the next is
		// queued, as on a loaded machine) would grow and goes as it is.
		perf := "perf-" + topic
		mustRun(t, addr, "", "perf", "produce", "--topic", perf, "--num-records", "50", "--record-size", "100", "--compression-codec", codec)
		got := storedCodecs(perf, 50)
		inCodec, asIs := got[int8(i)], 0
		if i > 0 {
			asIs = got[0]
		}
		if inCodec == 0 || inCodec+asIs != 50 {
			t.Errorf("perf produce --compression-codec %s: records by stored codec %v, want them in %d (or none, for a batch that would grow)", codec, got, i)
		}
	}
	for _, args := range [][]string{
		{"produce", "--topic", "x", "--compression-codec", "brotli"},
		{"perf", "produce", "--topic", "x", "--num-records", "1", "--record-size", "1", "--compression-codec", "brotli"},
	} {
		if r := gokafka(t, addr, "", args...); r.code != 2 || !strings.Contains(r.stderr, "want none, gzip, snappy, lz4 or zstd") {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}

// A consumer whose reader goes away (| head -1) exits 1 with an error, as
// kafka-console-consumer does when it cannot write to standard out, rather
// than dying of SIGPIPE: its group's offsets are committed and it leaves
// the group, so that the next consumer of the group does not wait out the
// dead member's session.
func TestConsumeGroupStdoutClosed(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topic", "create", "piped", "--partitions", "1")
	// Far more than a pipe holds, so that writes go on after the reader left.
	mustRun(t, addr, strings.Repeat(strings.Repeat("x", 99)+"\n", 20000), "produce", "--topic", "piped")

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "GOKAFKA_TEST_ARGS="+strings.Join([]string{
		"--bootstrap-server", addr, "consume", "--topic", "piped", "--group", "p", "--from-beginning"}, "\n"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatalf("reading the first record: %v", err)
	}
	out.Close() // as head -1 exits
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("consume still running 30s after its reader went away; stderr:\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), "broken pipe") {
		t.Errorf("consume to a closed pipe: %s, stderr:\n%s\nwant exit 1 and the write's error", cmd.ProcessState, stderr.String())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	gs, err := adm.DescribeGroups(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if g := gs["p"]; g.State != "Empty" || len(g.Members) != 0 {
		t.Errorf("group p is %s with %d members after its consumer exited, want Empty", g.State, len(g.Members))
	}
	offs, err := adm.FetchOffsets(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup("piped", 0); !ok || o.Err != nil || o.At < 0 {
		t.Errorf("group p has no offset for piped-0 (%+v): nothing was committed", o)
	}
}
