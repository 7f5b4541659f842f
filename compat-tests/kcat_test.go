package compattests

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// kcatPath finds kcat or fails: `make test` installs it, and a compat suite
// that silently skips librdkafka proves nothing.
func kcatPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatalf("kcat is not on PATH (%v): install it (apt-get install kcat, or `make test`) to run the librdkafka compat tests", err)
	}
	return p
}

// kcat runs kcat with args and stdin, bounded by a deadline, and returns its
// stdout; a non-zero exit fails the test with stderr.
func kcat(t *testing.T, ctx context.Context, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcatPath(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func TestKcat(t *testing.T) {
	kcatPath(t)
	b := startBroker(t)
	ctx := testCtx(t, 90*time.Second)
	adm := newAdm(t, b.Addr())

	t.Run("ListMetadata", func(t *testing.T) {
		createTopic(t, ctx, adm, "kcat-listed", 3, nil)
		out := kcat(t, ctx, "", "-L", "-b", b.Addr(), "-m", "10")
		if !strings.Contains(out, "broker 1 at "+b.Addr()) {
			t.Errorf("kcat -L does not list broker 1 at %s:\n%s", b.Addr(), out)
		}
		if !strings.Contains(out, `topic "kcat-listed" with 3 partitions:`) {
			t.Errorf("kcat -L does not list topic kcat-listed with 3 partitions:\n%s", out)
		}
		for p := 0; p < 3; p++ {
			want := "partition " + strconv.Itoa(p) + ", leader 1, replicas: 1, isrs: 1"
			if !strings.Contains(out, want) {
				t.Errorf("kcat -L lacks %q:\n%s", want, out)
			}
		}
	})

	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run("ProduceConsume-"+codec, func(t *testing.T) {
			topic := "kcat-pc-" + codec
			createTopic(t, ctx, adm, topic, 1, nil)
			lines := []string{"k1:hello", "k2:world", "k3:with spaces and | bars", "k1:again", "k4:"}
			// -X enable.idempotence makes librdkafka use InitProducerId and
			// sequence numbers too.
			kcat(t, ctx, strings.Join(lines, "\n")+"\n",
				"-P", "-b", b.Addr(), "-t", topic, "-p", "0", "-K:", "-H", "h=v", "-H", "trace=abc",
				"-z", codec, "-X", "enable.idempotence=true", "-X", "acks=all")
			out := kcat(t, ctx, "", "-C", "-b", b.Addr(), "-t", topic, "-p", "0", "-o", "beginning", "-e",
				"-f", `%k|%s|%h|%o\n`)
			var want strings.Builder
			for i, l := range lines {
				k, v, _ := strings.Cut(l, ":")
				want.WriteString(k + "|" + v + "|h=v,trace=abc|" + strconv.Itoa(i) + "\n")
			}
			if out != want.String() {
				t.Errorf("kcat -C returned\n%s\nwant\n%s", out, want.String())
			}
		})
	}

	// librdkafka pinned to Kafka 0.9 sends produce v0/v1 message sets of
	// magic 0, whose LZ4 frames carry pre-0.10 Kafka's header checksum
	// (KAFKA-3160); Kafka reads them, and so must the broker. Fallback
	// 0.10.0 (magic 1) writes the right checksum.
	for _, fallback := range []string{"0.9.0", "0.10.0"} {
		t.Run("OldProtocolLZ4-"+fallback, func(t *testing.T) {
			topic := "kcat-old-lz4-" + strings.ReplaceAll(fallback, ".", "-")
			createTopic(t, ctx, adm, topic, 1, nil)
			var in, want strings.Builder
			for i := range 20 {
				fmt.Fprintf(&in, "k%d:compressible-value-compressible-value-%d\n", i, i)
				fmt.Fprintf(&want, "k%d|compressible-value-compressible-value-%d\n", i, i)
			}
			kcat(t, ctx, in.String(), "-P", "-b", b.Addr(), "-t", topic, "-p", "0", "-K:", "-z", "lz4",
				"-X", "api.version.request=false", "-X", "broker.version.fallback="+fallback)
			out := kcat(t, ctx, "", "-C", "-b", b.Addr(), "-t", topic, "-p", "0", "-o", "beginning", "-e", "-f", `%k|%s\n`)
			if out != want.String() {
				t.Errorf("records produced with broker.version.fallback=%s and lz4:\n%s\nwant\n%s", fallback, out, want.String())
			}
		})
	}

	// Until transactions come, librdkafka's transactional producer must
	// fail at once, saying why, not wait out its timeout.
	t.Run("TransactionalRefused", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, kcatPath(t), "-P", "-b", b.Addr(), "-t", "kcat-txn", "-X", "transactional.id=kcat-tx")
		cmd.Stdin = strings.NewReader("x\n")
		start := time.Now()
		out, err := cmd.CombinedOutput()
		if err == nil || time.Since(start) > 10*time.Second || !strings.Contains(string(out), "transactions are not supported yet") {
			t.Fatalf("transactional kcat: %v after %v, output:\n%s\nwant a failure at once naming the reason", err, time.Since(start), out)
		}
	})

	t.Run("QueryByTimestamp", func(t *testing.T) {
		const topic = "kcat-time"
		createTopic(t, ctx, adm, topic, 1, nil)
		cl := newKgo(t, b.Addr())
		t0 := time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond)
		for i := 0; i < 4; i++ {
			produceSync(t, ctx, cl, &kgo.Record{Topic: topic, Value: []byte{byte('a' + i)}, Timestamp: t0.Add(time.Duration(i) * time.Second)})
		}
		for _, c := range []struct {
			ts   time.Time
			want int64
		}{
			{t0, 0},
			{t0.Add(500 * time.Millisecond), 1},
			{t0.Add(2000 * time.Millisecond), 2},
			{t0.Add(2001 * time.Millisecond), 3},
		} {
			out := kcat(t, ctx, "", "-Q", "-b", b.Addr(), "-t", topic+":0:"+strconv.FormatInt(c.ts.UnixMilli(), 10))
			want := topic + " [0] offset " + strconv.FormatInt(c.want, 10)
			if !strings.Contains(out, want) {
				t.Errorf("kcat -Q at t0%+dms: %q, want %q", c.ts.Sub(t0).Milliseconds(), strings.TrimSpace(out), want)
			}
		}
		// librdkafka's %T is the record's timestamp: it must survive.
		out := kcat(t, ctx, "", "-C", "-b", b.Addr(), "-t", topic, "-o", "beginning", "-e", "-f", `%T %s\n`)
		var want strings.Builder
		for i := 0; i < 4; i++ {
			want.WriteString(strconv.FormatInt(t0.Add(time.Duration(i)*time.Second).UnixMilli(), 10) + " " + string(rune('a'+i)) + "\n")
		}
		if out != want.String() {
			t.Errorf("kcat %%T:\n%s\nwant\n%s", out, want.String())
		}
	})
}
