package compattests

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// seqProducer produces records "v<n>" (n = 0, 1, 2, ...) round-robin over a
// topic's partitions until stopped.
type seqProducer struct {
	cl     *kgo.Client
	topic  string
	stopCh chan struct{}
	done   chan struct{}

	mu   sync.Mutex
	n    int // records acknowledged
	err  error
	stop sync.Once
}

func startSeqProducer(t *testing.T, ctx context.Context, addr, topic string) *seqProducer {
	cl := newKgo(t, addr, kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.ProducerLinger(0))
	p := &seqProducer{cl: cl, topic: topic, stopCh: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for next := 0; ; {
			select {
			case <-p.stopCh:
				return
			case <-ctx.Done():
				return
			case <-time.After(40 * time.Millisecond):
			}
			rs := make([]*kgo.Record, 6)
			for i := range rs {
				rs[i] = &kgo.Record{Topic: topic, Value: []byte("v" + strconv.Itoa(next+i))}
			}
			if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
				p.mu.Lock()
				p.err = err
				p.mu.Unlock()
				return
			}
			next += len(rs)
			p.mu.Lock()
			p.n = next
			p.mu.Unlock()
		}
	}()
	t.Cleanup(p.halt)
	return p
}

// error is what stopped the producer, if anything did.
func (p *seqProducer) error() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *seqProducer) halt() {
	p.stop.Do(func() { close(p.stopCh) })
	<-p.done
}

// finish stops producing and returns every value acknowledged.
func (p *seqProducer) finish(t *testing.T) []string {
	t.Helper()
	p.halt()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		t.Fatalf("producer: %v", p.err)
	}
	vs := make([]string, p.n)
	for i := range vs {
		vs[i] = "v" + strconv.Itoa(i)
	}
	return vs
}

func (p *seqProducer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// TestGroupRebalance runs three members of one group with each client
// library while records are produced, and takes the group through a clean
// leave, a rejoin and an abrupt death. After every rebalance each partition
// must be owned by exactly one live member (as DescribeGroups reports it
// and, where the client exposes it, as the member itself believes); at the
// end every record must have been consumed, the committed offsets must have
// reached the end of every partition, and no committed offset may ever have
// gone backwards (but with kafka-go, whose Reader can commit a stale offset
// for a partition it lost, as it would against Kafka).
func TestGroupRebalance(t *testing.T) {
	clients := []struct {
		name       string
		clientSide bool // the member reports OWNED
	}{
		{"kgo-range", true},
		{"kgo-coop", true},
		{"sarama-range", true},
		{"sarama-sticky", true},
		{"kafkago", false},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			runRebalanceScenario(t, c.name, c.clientSide)
		})
	}
}

func runRebalanceScenario(t *testing.T, client string, clientSide bool) {
	const (
		topic  = "rebal"
		group  = "rebal-group"
		nparts = 6
	)
	session := 3 * time.Second
	b := startBroker(t,
		"--group-initial-rebalance-delay-ms", "0",
		"--group-min-session-timeout-ms", "1000",
		"--offsets-topic-num-partitions", "4",
	)
	ctx := testCtx(t, 150*time.Second)
	adm := newAdm(t, b.Addr())
	createTopic(t, ctx, adm, topic, nparts, nil)
	start := time.Now()
	var prod *seqProducer
	phase := func(what string) { t.Logf("%6.1fs %s", time.Since(start).Seconds(), what) }
	var ms *memberSet
	// keepUp waits until the current members have consumed everything
	// produced so far, so that every configuration of the group is seen
	// making progress.
	keepUp := func() {
		t.Helper()
		n := prod.count() + 30
		for wait := time.Now().Add(20 * time.Second); prod.count() < n; {
			select {
			case <-prod.done:
				t.Fatalf("the producer stopped: %v", prod.error())
			default:
			}
			if time.Now().After(wait) {
				t.Fatalf("the producer made no progress for 20 s: %d records", prod.count())
			}
			time.Sleep(20 * time.Millisecond)
		}
		values := make([]string, n)
		for i := range values {
			values[i] = "v" + strconv.Itoa(i)
		}
		deadline := time.Now().Add(20 * time.Second)
		for len(ms.missing(values)) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("members did not keep up: %d of the first %d records not consumed\n%s", len(ms.missing(values)), n, ms.dumpLogs())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	prod = startSeqProducer(t, ctx, b.Addr(), topic)
	watch := watchCommits(ctx, adm, group, topic)
	defer watch.stop()
	ms = newMemberSet(t, client, b.Addr(), group, topic, session)

	for _, n := range []string{"m1", "m2", "m3"} {
		ms.start(n, "")
	}
	a := ms.waitBalanced(ctx, adm, nparts, []string{"m1", "m2", "m3"}, clientSide, 40*time.Second)
	phase(fmt.Sprintf("three members balanced: %v", a))
	keepUp()

	ms.stop("m2")
	a = ms.waitBalanced(ctx, adm, nparts, []string{"m1", "m3"}, clientSide, 30*time.Second)
	phase(fmt.Sprintf("m2 left cleanly: %v", a))
	keepUp()

	ms.start("m2", "")
	a = ms.waitBalanced(ctx, adm, nparts, []string{"m1", "m2", "m3"}, clientSide, 30*time.Second)
	phase(fmt.Sprintf("m2 rejoined: %v", a))
	keepUp()

	ms.kill("m3")
	a = ms.waitBalanced(ctx, adm, nparts, []string{"m1", "m2"}, clientSide, 30*time.Second)
	phase(fmt.Sprintf("m3 killed and expired: %v", a))
	keepUp()

	values := prod.finish(t)
	phase(fmt.Sprintf("produced %d records", len(values)))
	deadline := time.Now().Add(30 * time.Second)
	for {
		miss := ms.missing(values)
		if len(miss) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records never consumed, e.g. %v\n%s", len(miss), len(values), miss[:min(len(miss), 10)], ms.dumpLogs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	phase("every record consumed")

	// The survivors commit what they consumed: the group's committed
	// offsets reach every partition's end.
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("ListEndOffsets: %v", err)
	}
	var lastCommitted kadm.OffsetResponses
	deadline = time.Now().Add(20 * time.Second)
	for {
		lastCommitted, err = adm.FetchOffsets(ctx, group)
		behind := 0
		if err == nil {
			ends.Each(func(lo kadm.ListedOffset) {
				if o, ok := lastCommitted.Lookup(topic, lo.Partition); !ok || o.At != lo.Offset {
					behind++
				}
			})
		}
		if err == nil && behind == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed offsets did not reach the partition ends: err %v, committed %v, ends %v\n%s", err, lastCommitted, ends, ms.dumpLogs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	phase("committed offsets at the partition ends")

	ms.stop("m1")
	ms.stop("m2")
	watch.stop()
	watch.mu.Lock()
	defer watch.mu.Unlock()
	switch {
	case len(watch.violations) > 0 && client == "kafkago":
		// kafka-go's Reader can commit, with its new generation, an offset
		// it read in the past one for a partition it no longer owns
		// (segmentio/kafka-go#1308, #1330); Kafka accepts such a commit
		// as this broker does, so with kafka-go it is not the broker's.
		t.Logf("committed offsets went backwards (%d polls), as kafka-go may make them: %v", watch.polls, watch.violations)
	case len(watch.violations) > 0:
		t.Errorf("committed offsets went backwards (%d polls): %v", watch.polls, watch.violations)
	}
	if watch.polls < 10 {
		t.Errorf("only %d successful FetchOffsets polls", watch.polls)
	}
	g, _, err := describeAssignment(ctx, adm, group, topic)
	if err != nil || g.State != "Empty" || len(g.Members) != 0 {
		t.Errorf("after every member left: state %q, %d members, err %v; want Empty with none", g.State, len(g.Members), err)
	}
	phase("done")
}
