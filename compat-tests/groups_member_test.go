package compattests

// Group members that run in child processes, so that a test can kill one
// abruptly (SIGKILL: no LeaveGroup, no final commit, no more heartbeats) the
// way a crashed consumer dies. The child is this test binary re-executed with
// helperEnv set (TestMain dispatches to runHelper before building anything);
// it consumes in a group with one of several client libraries and reports on
// stdout, one line per event:
//
//	OWNED 0,3,4       the member's complete current assignment (after a change)
//	REC p off value   a consumed record (printed before it is marked for commit)
//	LOG text          a client error or diagnostic
//	CLOSED            the member left the group cleanly after SIGTERM
//
// kafka-go's Reader does not expose its assignment, so that client never
// prints OWNED; tests then rely on DescribeGroups alone.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/gokafka/gokafka/internal/testlog"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// helperEnv selects a helper role for a re-executed test binary.
const helperEnv = "GOKAFKA_COMPAT_HELPER"

// runHelper is called by TestMain in a child process.
func runHelper(role string) int {
	switch role {
	case "member":
		return runMemberProcess()
	}
	fmt.Fprintf(os.Stderr, "unknown %s role %q\n", helperEnv, role)
	return 2
}

// memberOut serializes whole lines onto stdout.
type memberOut struct{ mu sync.Mutex }

func (o *memberOut) printf(format string, args ...any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

// ownedSet tracks a member's current partitions and prints them on change.
type ownedSet struct {
	mu  sync.Mutex
	out *memberOut
	set map[int32]bool
}

func (o *ownedSet) update(add, remove []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.set == nil {
		o.set = map[int32]bool{}
	}
	for _, p := range add {
		o.set[p] = true
	}
	for _, p := range remove {
		delete(o.set, p)
	}
	ps := make([]int32, 0, len(o.set))
	for p := range o.set {
		ps = append(ps, p)
	}
	o.out.printf("OWNED %s", formatParts(ps))
}

func (o *ownedSet) clear() {
	o.mu.Lock()
	all := make([]int32, 0, len(o.set))
	for p := range o.set {
		all = append(all, p)
	}
	o.mu.Unlock()
	o.update(nil, all)
}

func formatParts(ps []int32) string {
	ps = slices.Clone(ps)
	slices.Sort(ps)
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ",")
}

func parseParts(s string) []int32 {
	var out []int32
	for _, f := range strings.Split(strings.TrimSpace(s), ",") {
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		out = append(out, int32(n))
	}
	slices.Sort(out)
	return out
}

type memberConfig struct {
	client   string
	addr     string
	group    string
	topic    string
	name     string // client id
	instance string // static membership id, optional
	session  time.Duration
}

func runMemberProcess() int {
	sessMs, _ := strconv.Atoi(os.Getenv("GKC_SESSION_MS"))
	cfg := memberConfig{
		client:   os.Getenv("GKC_CLIENT"),
		addr:     os.Getenv("GKC_ADDR"),
		group:    os.Getenv("GKC_GROUP"),
		topic:    os.Getenv("GKC_TOPIC"),
		name:     os.Getenv("GKC_NAME"),
		instance: os.Getenv("GKC_INSTANCE"),
		session:  time.Duration(sessMs) * time.Millisecond,
	}
	// SIGTERM leaves cleanly; so does the parent going away (stdin EOF)
	// or an absurdly long life.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	out := &memberOut{}
	var err error
	switch cfg.client {
	case "kgo-range", "kgo-coop":
		err = runKgoMember(ctx, cfg, out)
	case "sarama-range", "sarama-sticky":
		err = runSaramaMember(ctx, cfg, out)
	case "kafkago":
		err = runKafkaGoMember(ctx, cfg, out)
	default:
		err = fmt.Errorf("unknown client %q", cfg.client)
	}
	if err != nil {
		out.printf("LOG fatal: %v", err)
		return 1
	}
	out.printf("CLOSED")
	return 0
}

func runKgoMember(ctx context.Context, c memberConfig, out *memberOut) error {
	owned := &ownedSet{out: out}
	balancer := kgo.RangeBalancer()
	if c.client == "kgo-coop" {
		balancer = kgo.CooperativeStickyBalancer()
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.addr),
		kgo.ClientID(c.name),
		kgo.ConsumerGroup(c.group),
		kgo.ConsumeTopics(c.topic),
		kgo.Balancers(balancer),
		kgo.SessionTimeout(c.session),
		kgo.HeartbeatInterval(300 * time.Millisecond),
		kgo.RebalanceTimeout(10 * time.Second),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RetryTimeout(20 * time.Second),
		// Records are committed only after they were printed, and no
		// poll's records can be marked after their partition was
		// revoked (which could commit a stale offset over the new
		// owner's).
		kgo.AutoCommitMarks(),
		kgo.AutoCommitInterval(300 * time.Millisecond),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			owned.update(m[c.topic], nil)
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
			if err := cl.CommitMarkedOffsets(ctx); err != nil {
				out.printf("LOG commit on revoke: %v", err)
			}
			owned.update(nil, m[c.topic])
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			out.printf("LOG partitions lost: %v", m)
			owned.update(nil, m[c.topic])
		}),
	}
	if c.instance != "" {
		opts = append(opts, kgo.InstanceID(c.instance))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachError(func(t string, p int32, err error) {
			out.printf("LOG fetch %s/%d: %v", t, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) {
			out.printf("REC %d %d %s", r.Partition, r.Offset, r.Value)
		})
		cl.MarkCommitRecords(fs.Records()...)
		cl.AllowRebalance()
	}
	cl.CloseAllowingRebalance()
	return nil
}

type saramaMember struct {
	topic string
	out   *memberOut
}

func (h *saramaMember) Setup(s sarama.ConsumerGroupSession) error {
	h.out.printf("OWNED %s", formatParts(s.Claims()[h.topic]))
	return nil
}

func (h *saramaMember) Cleanup(sarama.ConsumerGroupSession) error {
	h.out.printf("OWNED ")
	return nil
}

func (h *saramaMember) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			h.out.printf("REC %d %d %s", m.Partition, m.Offset, m.Value)
			s.MarkMessage(m, "")
		case <-s.Context().Done():
			return nil
		}
	}
}

func runSaramaMember(ctx context.Context, c memberConfig, out *memberOut) error {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.ClientID = c.name
	cfg.Net.DialTimeout = 5 * time.Second
	cfg.Metadata.Retry.Backoff = 100 * time.Millisecond
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = true
	cfg.Consumer.Offsets.AutoCommit.Interval = 300 * time.Millisecond
	cfg.Consumer.Group.Session.Timeout = c.session
	cfg.Consumer.Group.Heartbeat.Interval = 300 * time.Millisecond
	cfg.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	cfg.Consumer.Group.Rebalance.Retry.Backoff = 200 * time.Millisecond
	cfg.Consumer.Group.Rebalance.Retry.Max = 50
	if c.client == "sarama-sticky" {
		cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategySticky()}
	} else {
		cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	}
	if c.instance != "" {
		cfg.Consumer.Group.InstanceId = c.instance
	}
	cg, err := sarama.NewConsumerGroup([]string{c.addr}, c.group, cfg)
	if err != nil {
		return err
	}
	errsDone := make(chan struct{})
	go func() {
		defer close(errsDone)
		for err := range cg.Errors() {
			out.printf("LOG %v", err)
		}
	}()
	h := &saramaMember{topic: c.topic, out: out}
	for ctx.Err() == nil {
		if err := cg.Consume(ctx, []string{c.topic}, h); err != nil {
			if errors.Is(err, sarama.ErrClosedConsumerGroup) {
				break
			}
			out.printf("LOG consume: %v", err)
			time.Sleep(200 * time.Millisecond)
		}
	}
	err = cg.Close()
	<-errsDone
	return err
}

func runKafkaGoMember(ctx context.Context, c memberConfig, out *memberOut) error {
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           []string{c.addr},
		GroupID:           c.group,
		Topic:             c.topic,
		Dialer:            &kafka.Dialer{ClientID: c.name, Timeout: 5 * time.Second},
		MinBytes:          1,
		MaxBytes:          1 << 20,
		MaxWait:           200 * time.Millisecond,
		HeartbeatInterval: 300 * time.Millisecond,
		SessionTimeout:    c.session,
		RebalanceTimeout:  5 * time.Second,
		JoinGroupBackoff:  200 * time.Millisecond,
		CommitInterval:    200 * time.Millisecond,
		StartOffset:       kafka.FirstOffset,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    200 * time.Millisecond,
		ErrorLogger: kafka.LoggerFunc(func(f string, args ...any) {
			out.printf("LOG "+strings.ReplaceAll(f, "\n", " "), args...)
		}),
	})
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			out.printf("LOG read: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		out.printf("REC %d %d %s", m.Partition, m.Offset, m.Value)
	}
	return r.Close()
}

// ---- parent side ----

// memberSet runs and observes the child-process members of one group.
type memberSet struct {
	t       *testing.T
	client  string
	addr    string
	group   string
	topic   string
	session time.Duration

	mu       sync.Mutex
	procs    map[string]*memberProc
	owned    map[string][]int32 // live members' last reported assignment
	consumed map[string]int     // record value -> times consumed
}

type memberProc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *testlog.Buffer
	log    *testlog.Buffer // LOG lines
	done   chan struct{}
	closed bool // saw CLOSED; guarded by memberSet.mu
}

func newMemberSet(t *testing.T, client, addr, group, topic string, session time.Duration) *memberSet {
	s := &memberSet{
		t: t, client: client, addr: addr, group: group, topic: topic, session: session,
		procs:    map[string]*memberProc{},
		owned:    map[string][]int32{},
		consumed: map[string]int{},
	}
	t.Cleanup(func() {
		s.mu.Lock()
		procs := make([]*memberProc, 0, len(s.procs))
		for _, p := range s.procs {
			procs = append(procs, p)
		}
		s.mu.Unlock()
		for _, p := range procs {
			p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
	})
	return s
}

// start launches member name (its client id); instance, if set, is its
// static group.instance.id.
func (s *memberSet) start(name, instance string) *memberProc {
	s.t.Helper()
	p := &memberProc{name: name, stderr: &testlog.Buffer{}, log: &testlog.Buffer{}, done: make(chan struct{})}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(),
		helperEnv+"=member",
		"GKC_CLIENT="+s.client,
		"GKC_ADDR="+s.addr,
		"GKC_GROUP="+s.group,
		"GKC_TOPIC="+s.topic,
		"GKC_NAME="+name,
		"GKC_INSTANCE="+instance,
		"GKC_SESSION_MS="+strconv.Itoa(int(s.session/time.Millisecond)),
	)
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting member %s: %v", name, err)
	}
	p.cmd = cmd
	s.mu.Lock()
	if old := s.procs[name]; old != nil {
		s.mu.Unlock()
		s.t.Fatalf("member %s already running", name)
	}
	s.procs[name] = p
	s.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.handle(p, sc.Text())
		}
		cmd.Wait()
		close(p.done)
	}()
	return p
}

func (s *memberSet) handle(p *memberProc, line string) {
	kind, rest, _ := strings.Cut(line, " ")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch kind {
	case "OWNED":
		if s.procs[p.name] == p {
			s.owned[p.name] = parseParts(rest)
		}
	case "REC":
		f := strings.SplitN(rest, " ", 3)
		if len(f) == 3 {
			s.consumed[f[2]]++
		}
	case "CLOSED":
		p.closed = true
	default:
		fmt.Fprintf(p.log, "%s %s\n", time.Now().Format("15:04:05.000"), line)
	}
}

func (s *memberSet) forget(p *memberProc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.procs[p.name] == p {
		delete(s.procs, p.name)
		delete(s.owned, p.name)
	}
}

func (s *memberSet) proc(name string) *memberProc {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.procs[name]
	if p == nil {
		s.t.Fatalf("no member %s", name)
	}
	return p
}

// stop asks member name to leave the group cleanly and waits for it.
func (s *memberSet) stop(name string) {
	s.t.Helper()
	p := s.proc(name)
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		s.t.Errorf("member %s did not exit within 30s of SIGTERM\n%s", name, s.describeProc(p))
	}
	s.forget(p)
	s.mu.Lock()
	closed := p.closed
	s.mu.Unlock()
	if !closed || !p.cmd.ProcessState.Success() {
		s.t.Errorf("member %s did not close cleanly (%v)\n%s", name, p.cmd.ProcessState, s.describeProc(p))
	}
}

// kill SIGKILLs member name: it neither leaves nor commits.
func (s *memberSet) kill(name string) {
	s.t.Helper()
	p := s.proc(name)
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	s.forget(p)
}

func (s *memberSet) describeProc(p *memberProc) string {
	return fmt.Sprintf("--- member %s log ---\n%s--- member %s stderr ---\n%s",
		p.name, clip(p.log.String(), 20, 40), p.name, clip(p.stderr.String(), 20, 40))
}

func (s *memberSet) dumpLogs() string {
	s.mu.Lock()
	procs := make([]*memberProc, 0, len(s.procs))
	for _, p := range s.procs {
		procs = append(procs, p)
	}
	s.mu.Unlock()
	var b strings.Builder
	for _, p := range procs {
		b.WriteString(s.describeProc(p))
	}
	return b.String()
}

// consumedAll reports which of the values were never consumed.
func (s *memberSet) missing(values []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var miss []string
	for _, v := range values {
		if s.consumed[v] == 0 {
			miss = append(miss, v)
		}
	}
	return miss
}

// describeAssignment fetches the group's description and decodes each
// member's assignment of topic, keyed by client id (a duplicated client id
// gets a "#n" suffix so that a stale member is visible).
func describeAssignment(ctx context.Context, adm *kadm.Client, group, topic string) (kadm.DescribedGroup, map[string][]int32, error) {
	dgs, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return kadm.DescribedGroup{}, nil, err
	}
	g, ok := dgs[group]
	if !ok {
		return g, nil, fmt.Errorf("group %s missing from DescribeGroups", group)
	}
	if g.Err != nil {
		return g, nil, g.Err
	}
	out := map[string][]int32{}
	for _, m := range g.Members {
		key := m.ClientID
		for i := 2; out[key] != nil; i++ {
			key = fmt.Sprintf("%s#%d", m.ClientID, i)
		}
		out[key] = []int32{}
		ca, ok := m.Assigned.AsConsumer()
		if !ok {
			continue
		}
		for _, at := range ca.Topics {
			if at.Topic == topic {
				out[key] = append(out[key], at.Partitions...)
			}
		}
		slices.Sort(out[key])
	}
	return g, out, nil
}

// checkDisjoint returns partitions assigned more than once and whether the
// assignments cover 0..n-1.
func checkDisjoint(assign map[string][]int32, n int32) (dups []int32, covered bool) {
	seen := map[int32]int{}
	for _, ps := range assign {
		for _, p := range ps {
			seen[p]++
			if seen[p] == 2 {
				dups = append(dups, p)
			}
		}
	}
	covered = true
	for p := int32(0); p < n; p++ {
		if seen[p] == 0 {
			covered = false
		}
	}
	return dups, covered
}

// waitBalanced waits until the group is Stable with exactly the live members
// (by client id), their assignments are disjoint and cover every partition,
// and each member that reports its assignment (clientSide) holds exactly
// what DescribeGroups says it was given. A Stable group with a partition
// assigned twice fails the test at once.
func (s *memberSet) waitBalanced(ctx context.Context, adm *kadm.Client, nparts int32, live []string, clientSide bool, timeout time.Duration) map[string][]int32 {
	s.t.Helper()
	want := slices.Clone(live)
	slices.Sort(want)
	deadline := time.Now().Add(timeout)
	var reason string
	for {
		g, assign, err := describeAssignment(ctx, adm, s.group, s.topic)
		switch {
		case err != nil:
			reason = fmt.Sprintf("DescribeGroups: %v", err)
		case g.State != "Stable":
			reason = fmt.Sprintf("state %s, members %v", g.State, assign)
		default:
			names := make([]string, 0, len(assign))
			for n := range assign {
				names = append(names, n)
			}
			slices.Sort(names)
			dups, covered := checkDisjoint(assign, nparts)
			if len(dups) > 0 {
				s.t.Fatalf("Stable group %s has partitions %v assigned to more than one member: %v", s.group, dups, assign)
			}
			switch {
			case !slices.Equal(names, want):
				reason = fmt.Sprintf("Stable with members %v, want %v", names, want)
			case !covered:
				reason = fmt.Sprintf("Stable but not every partition assigned: %v", assign)
			case clientSide:
				s.mu.Lock()
				reason = ""
				for _, n := range want {
					if got, ok := s.owned[n]; !ok || !slices.Equal(got, assign[n]) {
						reason = fmt.Sprintf("member %s holds %v, DescribeGroups assigned %v", n, got, assign[n])
						break
					}
				}
				s.mu.Unlock()
				if reason == "" {
					return assign
				}
			default:
				return assign
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.t.Fatalf("group %s not balanced over %v within %v: %s\n%s", s.group, want, timeout, reason, s.dumpLogs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// commitWatch polls a group's committed offsets and records any partition
// whose committed offset went backwards.
type commitWatch struct {
	mu         sync.Mutex
	max        map[int32]int64
	polls      int
	violations []string
	cancel     context.CancelFunc
	done       chan struct{}
}

func watchCommits(ctx context.Context, adm *kadm.Client, group, topic string) *commitWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &commitWatch{max: map[int32]int64{}, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			resp, err := adm.FetchOffsets(ctx, group)
			if err != nil {
				continue
			}
			w.mu.Lock()
			w.polls++
			for p, o := range resp[topic] {
				if o.Err != nil || o.At < 0 {
					continue
				}
				if prev, ok := w.max[p]; ok && o.At < prev {
					w.violations = append(w.violations, fmt.Sprintf("%s/%d: committed %d after %d", topic, p, o.At, prev))
				}
				if o.At > w.max[p] {
					w.max[p] = o.At
				}
			}
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *commitWatch) stop() {
	w.cancel()
	<-w.done
}

// notifyAssigned signals ch (without blocking) each time the client is
// assigned partitions.
func notifyAssigned(ch chan<- struct{}) kgo.Opt {
	return kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
		select {
		case ch <- struct{}{}:
		default:
		}
	})
}
