package compattests

import (
	"bufio"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/testlog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kcatMember is one `kcat -G` balanced consumer process.
type kcatMember struct {
	cmd    *exec.Cmd
	stderr *testlog.Buffer
	done   chan struct{}

	mu   sync.Mutex
	seen map[string]int32 // value -> partition it was read from
}

func startKcatMember(t *testing.T, addr, group, topic string) *kcatMember {
	t.Helper()
	k := &kcatMember{stderr: &testlog.Buffer{}, done: make(chan struct{}), seen: map[string]int32{}}
	// No -o: kcat would start every assignment there, re-reading after a
	// rebalance and committing, if stopped, short of where it had been.
	// Each assignment resumes from the group's committed offsets instead.
	k.cmd = exec.Command(kcatPath(t), "-b", addr, "-G", group, "-u",
		"-f", "%p %o %s\n",
		"-X", "auto.offset.reset=earliest",
		"-X", "session.timeout.ms=6000",
		"-X", "heartbeat.interval.ms=500",
		"-X", "auto.commit.interval.ms=200",
		topic)
	k.cmd.Stderr = k.stderr
	stdout, err := k.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := k.cmd.Start(); err != nil {
		t.Fatalf("kcat -G: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.SplitN(sc.Text(), " ", 3)
			if len(f) != 3 {
				continue
			}
			p, _ := strconv.Atoi(f[0])
			k.mu.Lock()
			k.seen[f[2]] = int32(p)
			k.mu.Unlock()
		}
		k.cmd.Wait()
		close(k.done)
	}()
	t.Cleanup(func() {
		k.cmd.Process.Signal(syscall.SIGKILL)
		<-k.done
	})
	return k
}

// stop ends kcat with SIGTERM (it closes its consumer, which commits and
// leaves the group), or SIGKILL if it lingers.
func (k *kcatMember) stop(t *testing.T) {
	t.Helper()
	k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.done:
	case <-time.After(15 * time.Second):
		k.cmd.Process.Signal(syscall.SIGKILL)
		<-k.done
		t.Errorf("kcat did not exit within 15s of SIGTERM\n%s", k.stderr.String())
	}
}

// TestGroupKcat runs two librdkafka balanced consumers (kcat -G) in one
// group: between them they read every record, DescribeGroups shows both
// with disjoint assignments covering all partitions, and when they stop
// they leave the group with their offsets committed at the partition ends.
func TestGroupKcat(t *testing.T) {
	kcatPath(t)
	const (
		topic  = "kcat-group-topic"
		group  = "kcat-group"
		nparts = 4
		n      = 200
	)
	b := startBroker(t, "--group-initial-rebalance-delay-ms", "0", "--offsets-topic-num-partitions", "4")
	ctx := testCtx(t, 60*time.Second)
	adm := newAdm(t, b.Addr())
	createTopic(t, ctx, adm, topic, nparts, nil)
	prod := newKgo(t, b.Addr(), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	var rs []*kgo.Record
	for i := 0; i < n; i++ {
		rs = append(rs, &kgo.Record{Topic: topic, Value: []byte("k" + strconv.Itoa(i))})
	}
	produceSync(t, ctx, prod, rs...)

	k1 := startKcatMember(t, b.Addr(), group, topic)
	k2 := startKcatMember(t, b.Addr(), group, topic)
	diag := func() string {
		return fmt.Sprintf("--- kcat 1 stderr ---\n%s--- kcat 2 stderr ---\n%s", k1.stderr.String(), k2.stderr.String())
	}

	// Both members in, disjoint assignments covering the topic.
	var assign map[string][]int32
	var reason string
	deadline := time.Now().Add(30 * time.Second)
	for {
		g, a, err := describeAssignment(ctx, adm, group, topic)
		dups, covered := checkDisjoint(a, nparts)
		switch {
		case err != nil:
			reason = err.Error()
		case g.State != "Stable" || len(g.Members) != 2:
			reason = fmt.Sprintf("state %s with %d members", g.State, len(g.Members))
		case len(dups) > 0:
			t.Fatalf("Stable group assigns %v twice: %v", dups, a)
		case !covered:
			reason = fmt.Sprintf("not every partition assigned: %v", a)
		default:
			assign = a
		}
		if assign != nil {
			for _, m := range g.Members {
				if m.ClientID != "rdkafka" || g.Protocol != "range" && g.Protocol != "roundrobin" {
					t.Errorf("member %s: client id %q, protocol %q", m.MemberID, m.ClientID, g.Protocol)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("two kcat members never balanced: %s\n%s", reason, diag())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("kcat members balanced: %v", assign)

	// Between them, every record.
	deadline = time.Now().Add(30 * time.Second)
	for {
		var missing []string
		k1.mu.Lock()
		k2.mu.Lock()
		for _, r := range rs {
			if _, ok := k1.seen[string(r.Value)]; ok {
				continue
			}
			if _, ok := k2.seen[string(r.Value)]; ok {
				continue
			}
			missing = append(missing, string(r.Value))
		}
		c1, c2 := len(k1.seen), len(k2.seen)
		k2.mu.Unlock()
		k1.mu.Unlock()
		if len(missing) == 0 {
			t.Logf("kcat 1 read %d distinct records, kcat 2 %d", c1, c2)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records never read by either kcat, e.g. %v\n%s", len(missing), missing[:min(10, len(missing))], diag())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The members auto-commit what they read (every 200 ms, and on a
	// rebalance's revocation): wait for the commits to reach the ends.
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("ListEndOffsets: %v", err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		committed, err := adm.FetchOffsets(ctx, group)
		behind := ""
		if err != nil {
			behind = err.Error()
		} else {
			ends.Each(func(lo kadm.ListedOffset) {
				if o, ok := committed.Lookup(topic, lo.Partition); !ok || o.At != lo.Offset {
					behind = fmt.Sprintf("%s/%d committed %d of %d", topic, lo.Partition, o.At, lo.Offset)
				}
			})
		}
		if behind == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("members never committed their partitions' ends: %s\n%s", behind, diag())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// librdkafka commits what it read and leaves on close.
	k1.stop(t)
	k2.stop(t)
	g, _, err := describeAssignment(ctx, adm, group, topic)
	if err != nil || g.State != "Empty" {
		t.Errorf("after both kcats stopped: state %q (%d members), err %v; want Empty", g.State, len(g.Members), err)
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("FetchOffsets: %v", err)
	}
	ends.Each(func(lo kadm.ListedOffset) {
		if o, ok := committed.Lookup(topic, lo.Partition); !ok || o.Err != nil || o.At != lo.Offset {
			t.Errorf("%s/%d: committed %+v, want %d", topic, lo.Partition, o, lo.Offset)
		}
	})
}
