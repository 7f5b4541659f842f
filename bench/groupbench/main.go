// Command groupbench measures two consumer group figures of a
// Kafka-compatible broker:
//
//   - OffsetCommit throughput: G goroutines (default 100), each committing
//     for its own group, send simple commits (generation -1, no member) of a
//     few partitions in a loop for a fixed time, through a few shared kgo
//     clients; it prints commits/s and the p50/p99 round trip.
//   - Failover: three members of one group, each a separate process (this
//     binary re-executed with the hidden -member flag: a kgo group consumer),
//     consume a 6-partition topic; once the group is Stable with all six
//     partitions assigned, one member gets SIGKILL, and the time until
//     DescribeGroups shows the group Stable with two members whose
//     assignments cover all six partitions is measured. It is dominated by
//     the session timeout, as in Kafka.
//
// With -b it uses that broker; without, it builds ./cmd/gokafkad (run it
// from the repository root, or pass -gokafkad) and starts one on free ports
// with a temporary data directory and group.initial.rebalance.delay.ms 0.
//
//	go run ./bench/groupbench                        # own broker, session timeout 6 s
//	go run ./bench/groupbench -session-timeout 1s -heartbeat 250ms -broker-min-session-timeout-ms 1000
//	go run ./bench/groupbench -b 127.0.0.1:9092
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type options struct {
	bootstrap string
	gokafkad  string
	brokerMin int64

	commit      bool
	groups      int
	partitions  int
	clients     int
	duration    time.Duration
	failover    bool
	repeats     int
	session     time.Duration
	heartbeat   time.Duration
	waitTimeout time.Duration
}

func main() {
	var o options
	var member memberOptions
	fs := flag.NewFlagSet("groupbench", flag.ExitOnError)
	fs.StringVar(&o.bootstrap, "b", "", "broker address (default: start a gokafkad)")
	fs.StringVar(&o.gokafkad, "gokafkad", "", "gokafkad binary to start (default: go build ./cmd/gokafkad)")
	fs.Int64Var(&o.brokerMin, "broker-min-session-timeout-ms", 0, "--group-min-session-timeout-ms of the started gokafkad (0: its default, 6000)")
	fs.BoolVar(&o.commit, "commit", true, "run the OffsetCommit benchmark")
	fs.IntVar(&o.groups, "groups", 100, "groups committing at once (one goroutine each)")
	fs.IntVar(&o.partitions, "commit-partitions", 3, "partitions in each commit")
	fs.IntVar(&o.clients, "clients", 4, "kgo clients the committing goroutines share")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to commit")
	fs.BoolVar(&o.failover, "failover", true, "run the failover benchmark")
	fs.IntVar(&o.repeats, "repeats", 3, "failover measurements")
	fs.DurationVar(&o.session, "session-timeout", 6*time.Second, "members' session timeout")
	fs.DurationVar(&o.heartbeat, "heartbeat", 500*time.Millisecond, "members' heartbeat interval")
	fs.DurationVar(&o.waitTimeout, "wait-timeout", 90*time.Second, "give up waiting for a group state after this long")
	// Hidden: run as one group member (a child process of the failover run).
	fs.BoolVar(&member.enabled, "member", false, "")
	fs.StringVar(&member.group, "member-group", "", "")
	fs.StringVar(&member.topic, "member-topic", "", "")
	fs.StringVar(&member.id, "member-id", "", "")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: groupbench [flags]\n\nFlags:\n")
		fs.VisitAll(func(f *flag.Flag) {
			if !strings.HasPrefix(f.Name, "member") {
				fmt.Fprintf(fs.Output(), "  -%s\t%s (default %q)\n", f.Name, f.Usage, f.DefValue)
			}
		})
	}
	fs.Parse(os.Args[1:])

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if member.enabled {
		err = runMember(ctx, o, member)
	} else {
		err = runBench(ctx, o)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "groupbench: %v\n", err)
		os.Exit(1)
	}
}

func runBench(ctx context.Context, o options) (retErr error) {
	if o.bootstrap == "" {
		b, err := startBroker(ctx, o)
		if err != nil {
			return err
		}
		defer func() {
			if retErr != nil {
				fmt.Fprintln(os.Stderr, "groupbench: end of the gokafkad log:")
				b.tailLog(os.Stderr, 40)
			}
			b.stop()
		}()
		o.bootstrap = b.addr
		brokerPID = b.cmd.Process.Pid
		fmt.Printf("broker: %s\n", b.describe)
	} else {
		fmt.Printf("broker: %s (given with -b)\n", o.bootstrap)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(o.bootstrap, ",")...))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := waitReady(ctx, adm); err != nil {
		return err
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	if o.commit {
		if err := benchCommits(ctx, o, adm, run); err != nil {
			return fmt.Errorf("commit benchmark: %w", err)
		}
	}
	if o.failover {
		if err := benchFailover(ctx, o, adm, run); err != nil {
			return fmt.Errorf("failover benchmark: %w", err)
		}
	}
	return nil
}

func waitReady(ctx context.Context, adm *kadm.Client) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := adm.ListTopics(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("broker not ready: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func createTopic(ctx context.Context, adm *kadm.Client, name string, partitions int32) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(cctx, partitions, -1, nil, name)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w (%s)", name, err, resp.ErrMessage)
	}
	return nil
}

// ---- OffsetCommit throughput ----

func benchCommits(ctx context.Context, o options, adm *kadm.Client, run string) error {
	topic := "groupbench-commits-" + run
	if err := createTopic(ctx, adm, topic, int32(o.partitions)); err != nil {
		return err
	}
	clients := make([]*kgo.Client, o.clients)
	for i := range clients {
		cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(o.bootstrap, ",")...), kgo.ClientID("groupbench-commit"))
		if err != nil {
			return err
		}
		defer cl.Close()
		clients[i] = cl
	}
	commit := func(ctx context.Context, cl *kgo.Client, group string, at int64) error {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group = group
		req.Generation = -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = topic
		for p := 0; p < o.partitions; p++ {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition = int32(p)
			rp.Offset = at
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return fmt.Errorf("%s-%d: %w", t.Topic, p.Partition, err)
				}
			}
		}
		return nil
	}

	// Warm up: every group's first commit (and the client's coordinator
	// lookup) happens before the clock starts.
	groups := make([]string, o.groups)
	var wg sync.WaitGroup
	warmErr := make([]error, o.groups)
	for i := range groups {
		groups[i] = fmt.Sprintf("groupbench-commit-%s-%03d", run, i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			warmErr[i] = commit(cctx, clients[i%len(clients)], groups[i], 0)
		}()
	}
	wg.Wait()
	if err := errors.Join(warmErr...); err != nil {
		return fmt.Errorf("warm-up commit: %w", err)
	}

	cpu0, cpuOK := procCPU(brokerPID)
	lat := make([][]time.Duration, o.groups)
	errs := make([]int, o.groups)
	var firstErr error
	var errMu sync.Mutex
	start := time.Now()
	end := start.Add(o.duration)
	for i := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := clients[i%len(clients)]
			for at := int64(1); ctx.Err() == nil; at++ {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := commit(cctx, cl, groups[i], at)
				cancel()
				if err != nil {
					errs[i]++
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
					continue
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	nerr := 0
	for i := range lat {
		all = append(all, lat[i]...)
		nerr += errs[i]
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	q := func(f float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[min(len(all)-1, int(f*float64(len(all))))]) / 1e6
	}
	fmt.Printf("OffsetCommit: %d groups x %d partitions per commit, %d clients, %.1fs: %d commits, %.0f commits/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms, %d errors\n",
		o.groups, o.partitions, o.clients, elapsed.Seconds(), len(all), float64(len(all))/elapsed.Seconds(), q(0.50), q(0.99), q(1), nerr)
	if cpu1, ok := procCPU(brokerPID); ok && cpuOK {
		fmt.Printf("  gokafkad CPU during the run: %.2f cores\n", (cpu1-cpu0).Seconds()/elapsed.Seconds())
	}
	if firstErr != nil {
		fmt.Printf("  first error: %v\n", firstErr)
	}
	// Spot check: the last commit of a group is what the broker returns.
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	got, err := adm.FetchOffsets(cctx, groups[0])
	if err != nil {
		return fmt.Errorf("fetch offsets: %w", err)
	}
	if o0, ok := got.Lookup(topic, 0); !ok || o0.At != int64(len(lat[0])+errs[0]) {
		return fmt.Errorf("group %s: committed %+v, want offset %d", groups[0], o0, len(lat[0])+errs[0])
	}
	return nil
}

// ---- failover ----

const failoverPartitions = 6

type memberOptions struct {
	enabled          bool
	group, topic, id string
}

// runMember is one group member: a kgo group consumer that polls until its
// stdin closes (the parent ended), then leaves the group. SIGKILL skips the
// leave, which is the point.
func runMember(ctx context.Context, o options, m memberOptions) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(o.bootstrap, ",")...),
		kgo.ClientID("groupbench-member-"+m.id),
		kgo.ConsumerGroup(m.group),
		kgo.ConsumeTopics(m.topic),
		kgo.SessionTimeout(o.session),
		kgo.HeartbeatInterval(o.heartbeat),
	)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				fmt.Fprintf(os.Stderr, "member %s: %s-%d: %v\n", m.id, t, p, err)
			}
		})
	}
	cl.Close()
	return nil
}

type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func startMember(o options, group, topic, id string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-member", "-b", o.bootstrap, "-member-group", group, "-member-topic", topic, "-member-id", id,
		"-session-timeout", o.session.String(), "-heartbeat", o.heartbeat.String())
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &child{cmd, stdin}, nil
}

// stop asks the member to leave and waits for it.
func (c *child) stop() {
	c.stdin.Close()
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
}

// groupState is what DescribeGroups says: state, member count and whether
// the members' assignments cover all partitions of topic.
func groupState(ctx context.Context, adm *kadm.Client, group, topic string) (string, int, bool, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ds, err := adm.DescribeGroups(cctx, group)
	if err != nil {
		return "", 0, false, err
	}
	d := ds[group]
	if d.Err != nil {
		return "", 0, false, d.Err
	}
	covered := map[int32]bool{}
	for _, m := range d.Members {
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range a.Topics {
				if t.Topic == topic {
					for _, p := range t.Partitions {
						covered[p] = true
					}
				}
			}
		}
	}
	return d.State, len(d.Members), len(covered) == failoverPartitions, nil
}

// waitFor polls DescribeGroups every 5 ms until the group is Stable with
// members members covering every partition.
func waitFor(ctx context.Context, o options, adm *kadm.Client, group, topic string, members int) error {
	deadline := time.Now().Add(o.waitTimeout)
	last := ""
	for {
		state, n, all, err := groupState(ctx, adm, group, topic)
		if err == nil && state == "Stable" && n == members && all {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("state %s, %d members, all partitions assigned: %v", state, n, all)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("group %s not Stable with %d members covering %d partitions after %v: %s", group, members, failoverPartitions, o.waitTimeout, last)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func benchFailover(ctx context.Context, o options, adm *kadm.Client, run string) error {
	topic := "groupbench-failover-" + run
	if err := createTopic(ctx, adm, topic, failoverPartitions); err != nil {
		return err
	}
	var times []time.Duration
	for rep := 0; rep < o.repeats; rep++ {
		group := fmt.Sprintf("groupbench-failover-%s-%d", run, rep)
		var members []*child
		stopAll := func() {
			for _, c := range members {
				if c != nil {
					c.stop()
				}
			}
		}
		for i := 0; i < 3; i++ {
			c, err := startMember(o, group, topic, strconv.Itoa(i))
			if err != nil {
				stopAll()
				return err
			}
			members = append(members, c)
		}
		formed := time.Now()
		if err := waitFor(ctx, o, adm, group, topic, 3); err != nil {
			stopAll()
			return err
		}
		formedIn := time.Since(formed)
		// Let a heartbeat or two pass so the group is settled, then kill
		// at a random point of the heartbeat cycle: the session expires
		// session timeout after the victim's last heartbeat, so the phase
		// shifts the figure by up to one heartbeat interval.
		time.Sleep(2*o.heartbeat + rand.N(o.heartbeat))
		victim := members[rep%3]
		t0 := time.Now()
		if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			stopAll()
			return err
		}
		victim.cmd.Wait()
		members[rep%3] = nil
		err := waitFor(ctx, o, adm, group, topic, 2)
		d := time.Since(t0)
		stopAll()
		if err != nil {
			return err
		}
		times = append(times, d)
		fmt.Printf("failover run %d: group of 3 Stable after %.2fs; SIGKILL of member %d -> Stable with 2 members covering %d partitions in %.3fs\n",
			rep+1, formedIn.Seconds(), rep%3, failoverPartitions, d.Seconds())
	}
	s := append([]time.Duration(nil), times...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var each []string
	for _, t := range times {
		each = append(each, fmt.Sprintf("%.3fs", t.Seconds()))
	}
	fmt.Printf("Failover (session timeout %v, heartbeat %v): %s; median %.3fs\n",
		o.session, o.heartbeat, strings.Join(each, ", "), s[len(s)/2].Seconds())
	return nil
}

// ---- own broker ----

// brokerPID is the started gokafkad's process id (0 with -b).
var brokerPID int

// procCPU is the user+system CPU time of process pid, from /proc (Linux).
func procCPU(pid int) (time.Duration, bool) {
	if pid == 0 {
		return 0, false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line, in clock ticks (100 per second
	// on Linux).
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+st) * 10 * time.Millisecond, true
}

type ownBroker struct {
	addr     string
	describe string
	cmd      *exec.Cmd
	dir      string
	log      string
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startBroker(ctx context.Context, o options) (*ownBroker, error) {
	dir, err := os.MkdirTemp("", "groupbench-")
	if err != nil {
		return nil, err
	}
	bin := o.gokafkad
	if bin == "" {
		bin = filepath.Join(dir, "gokafkad")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/gokafkad")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("go build ./cmd/gokafkad (run from the repository root or pass -gokafkad): %w", err)
		}
	}
	kport, err := freePort()
	if err != nil {
		return nil, err
	}
	rport, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", kport)
	args := []string{
		"--data-dir", filepath.Join(dir, "data"),
		"--listen", addr,
		"--raft-listen", fmt.Sprintf("127.0.0.1:%d", rport),
		"--admin-listen", "",
		"--group-initial-rebalance-delay-ms", "0",
	}
	if o.brokerMin > 0 {
		args = append(args, "--group-min-session-timeout-ms", strconv.FormatInt(o.brokerMin, 10))
	}
	logPath := filepath.Join(dir, "gokafkad.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	logf.Close()
	quoted := make([]string, len(args))
	for i, a := range args {
		if a == "" {
			a = "''"
		}
		quoted[i] = a
	}
	return &ownBroker{
		addr:     addr,
		describe: "gokafkad " + strings.Join(quoted, " ") + " (started by groupbench)",
		cmd:      cmd,
		dir:      dir,
		log:      logPath,
	}, nil
}

func (b *ownBroker) stop() {
	b.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		b.cmd.Process.Kill()
		<-done
	}
	if os.Getenv("GROUPBENCH_KEEP") != "" {
		fmt.Fprintf(os.Stderr, "groupbench: kept %s\n", b.dir)
		return
	}
	os.RemoveAll(b.dir)
}

// tailLog prints the end of the broker's log (for failures).
func (b *ownBroker) tailLog(w io.Writer, n int) {
	f, err := os.Open(b.log)
	if err != nil {
		return
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}
