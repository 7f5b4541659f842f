package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func cmdConsume(e *env, args []string) error {
	fs := e.newFlagSet("consume", "consume --topic T | --include REGEX [--group G | --partition N] [--from-beginning | --offset N|earliest|latest | --from-time T] [--max-messages N] [--timeout DUR] [--format FMT | --property k=v ...]")
	topic := fs.String("topic", "", "topic to read (this or --include)")
	include := fs.String("include", "", "read every topic whose name matches `REGEX`, as kafka-console-consumer's --include (and its older --whitelist); topics created later are read as they appear")
	fs.StringVar(include, "whitelist", "", "kafka-console-consumer's older name for --include")
	group := fs.String("group", "", "read as a member of this consumer group, committing what was printed, as kafka-console-consumer --group; where the group has no offset it starts at the end, or the start with --from-beginning")
	partition := fs.Int("partition", -1, "read only this partition (-1: all partitions)")
	fromBeginning := fs.Bool("from-beginning", false, "start at the log start offset")
	offset := fs.String("offset", "", "start at this offset (in each partition read): a number, earliest or latest, as kafka-console-consumer's --offset")
	fromTime := fs.String("from-time", "", "start at the first record at or after this time: RFC3339 or unix milliseconds")
	maxMessages := fs.Int64("max-messages", 0, "stop after this many records (0: no limit)")
	timeout := new(time.Duration)
	durationVar(fs, timeout, "timeout", 0, "stop when no record arrives for this long: a duration (5s) or milliseconds (0: wait until interrupted)")
	fs.Var((*msDuration)(timeout), "timeout-ms", "kafka-console-consumer's name for --timeout, in milliseconds (or a duration)")
	format := fs.String("format", `%v\n`, "output format: %t topic, %p partition, %o offset, %k key, %v value (a null key or value prints nothing, as in kcat), %h headers, %T timestamp ms, %% percent; \\n \\t \\r \\\\ escapes")
	var properties listFlag
	fs.Var(&properties, "property", "kafka-console-consumer's formatter settings, `key=value` (repeatable), in place of --format: print.key, print.value (true), print.timestamp, print.partition, print.offset, print.headers, key.separator (tab), line.separator, headers.separator (,), null.literal (null), key/value/headers.deserializer (String, ByteArray, Long, Integer, Short)")
	formatter := fs.String("formatter", "", "kafka-console-consumer's formatter class: only its default, kafka.tools.DefaultMessageFormatter, which --property configures")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("consume: unexpected argument %q", pos[0])
	}
	var fmtr interface {
		write(*bufio.Writer, *kgo.Record) error
	}
	switch *formatter {
	case "", "kafka.tools.DefaultMessageFormatter", "org.apache.kafka.tools.consumer.DefaultMessageFormatter":
	default:
		return usagef("consume: --formatter %q: gokafka has Kafka's default formatter only", *formatter)
	}
	if len(properties) > 0 || *formatter != "" {
		if flagSet(fs, "format") {
			return usagef("consume: --format or --property/--formatter, not both")
		}
		props, err := parseProperties("consume", properties)
		if err != nil {
			return err
		}
		if fmtr, err = newMessageFormatter(props); err != nil {
			return err
		}
		warnUnused(e.stderr, "consume", props, formatterProperties)
	} else if fmtr, err = parseFormat(*format); err != nil {
		return err
	}
	switch {
	case *topic == "" && *include == "":
		return usagef("consume: --topic or --include is required")
	case *topic != "" && *include != "":
		return usagef("consume: --topic or --include, not both")
	case *include != "" && (*partition >= 0 || *offset != ""):
		return usagef("consume: --partition and --offset read one topic: give it with --topic")
	}
	topics := []string{*topic}
	if *include != "" {
		if _, err := regexp.Compile(*include); err != nil {
			return usagef("consume: --include %q: %v", *include, err)
		}
		// Anchored, as Kafka matches the whole name.
		topics = []string{"^(?:" + *include + ")$"}
	}
	starts := 0
	start := kgo.NewOffset().AtEnd()
	if *fromBeginning {
		starts++
		start = kgo.NewOffset().AtStart()
	}
	if *offset != "" {
		starts++
		switch *offset {
		case "earliest":
			start = kgo.NewOffset().AtStart()
		case "latest":
			start = kgo.NewOffset().AtEnd()
		default:
			n, err := strconv.ParseInt(*offset, 10, 64)
			if err != nil || n < 0 {
				return usagef("consume: --offset wants a number >= 0, earliest or latest, not %q", *offset)
			}
			start = kgo.NewOffset().At(n)
		}
	}
	if *fromTime != "" {
		starts++
		ms, err := parseTime(*fromTime)
		if err != nil {
			return err
		}
		start = kgo.NewOffset().AfterMilli(ms)
	}
	if starts > 1 {
		return usagef("consume: give at most one of --from-beginning, --offset, --from-time")
	}
	if *partition < -1 {
		return usagef("consume: --partition %d: want a partition number, or -1 for all", *partition)
	}
	if *group != "" && (*partition >= 0 || *offset != "" || *fromTime != "") {
		return usagef("consume: --group reads where the group left off: not with --partition, --offset or --from-time")
	}
	// A reader that goes away (| head -1) fails the next write with EPIPE
	// instead of killing the process with SIGPIPE, so that what was printed
	// is committed and the member leaves its group, as kafka-console-consumer
	// closes its consumer and exits 1 when it cannot write to standard out.
	// Killed, it left its group to wait out the session timeout.
	signal.Ignore(syscall.SIGPIPE)

	opts := []kgo.Opt{}
	resets := newResetStarts(*group, *fromBeginning)
	if *include != "" {
		opts = append(opts, kgo.ConsumeRegex())
	}
	if *group != "" {
		// Offsets are marked as records are printed and committed then,
		// every five seconds and at the end: what was printed is what the
		// group has read.
		opts = append(opts, kgo.ConsumerGroup(*group), kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(start), kgo.AutoCommitMarks(),
			kgo.OnPartitionsAssigned(resets.assigned), kgo.OnPartitionsRevoked(resets.revoked), kgo.OnPartitionsLost(resets.lost))
	} else if *partition >= 0 {
		// An offset the partition does not hold goes to its end, as
		// kafka-console-consumer's auto.offset.reset=latest takes it;
		// franz-go's own reset would replay the partition from its start.
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{*topic: {int32(*partition): start}}),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	} else {
		opts = append(opts, kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(start))
	}
	cl, err := e.client(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if *include == "" {
		if err := checkConsumable(e.ctx, cl, *topic, int32(*partition)); err != nil {
			return err
		}
	}

	w := bufio.NewWriter(e.stdout)
	var printed []*kgo.Record // written, not yet flushed: marked once they are
	n, err := consumeLoop(e.ctx, cl, *maxMessages, *timeout, func(r *kgo.Record) error {
		if *group != "" {
			printed = append(printed, r)
		}
		return fmtr.write(w, r)
	}, func() error {
		err := w.Flush()
		if err == nil && len(printed) > 0 {
			cl.MarkCommitRecords(printed...)
			printed = printed[:0]
		}
		return err
	}, e.stderr)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if *group != "" {
		if err == nil && len(printed) > 0 {
			cl.MarkCommitRecords(printed...)
		}
		// Not e.ctx: an interrupt is how a console consumer stops, and
		// what it printed is still committed.
		ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
		if cerr := cl.CommitMarkedOffsets(ctx); cerr != nil && !topicGone(cerr) && err == nil {
			err = fmt.Errorf("commit the offsets of group %s: %w", *group, cerr)
		}
		if cerr := resets.commitUnread(ctx, cl, nil); cerr != nil && err == nil {
			err = fmt.Errorf("commit the offsets of group %s: %w", *group, cerr)
		}
		cancel()
	}
	fmt.Fprintf(e.stderr, "Processed a total of %d messages\n", n)
	return err
}

// resetStarts remembers where the group's reset starts each partition it
// assigns this member, so that a partition the group has no offset for and
// nothing was printed from is committed there at the end, as
// kafka-console-consumer commits its positions. Without it a run that
// printed nothing leaves the group as it was, and the next run starts at
// the end again, past every record that came in between.
type resetStarts struct {
	group     string
	beginning bool
	mu        sync.Mutex
	at        map[string]map[int32]int64 // topic, partition: start
}

func newResetStarts(group string, beginning bool) *resetStarts {
	return &resetStarts{group: group, beginning: beginning, at: map[string]map[int32]int64{}}
}

// assigned looks the start up as partitions are assigned: before the
// client's own lookup, so never past the position it reads from.
func (s *resetStarts) assigned(ctx context.Context, cl *kgo.Client, assigned map[string][]int32) {
	var topics []string
	for t, ps := range assigned {
		if len(ps) > 0 {
			topics = append(topics, t)
		}
	}
	if len(topics) == 0 {
		return
	}
	adm := kadm.NewClient(cl)
	list := adm.ListEndOffsets
	if s.beginning {
		list = adm.ListStartOffsets
	}
	offs, err := list(ctx, topics...)
	if err != nil {
		return // these partitions' starts are not committed: as before
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, ps := range assigned {
		for _, p := range ps {
			if o, ok := offs.Lookup(t, p); ok && o.Err == nil {
				if s.at[t] == nil {
					s.at[t] = map[int32]int64{}
				}
				s.at[t][p] = o.Offset
			}
		}
	}
}

func (s *resetStarts) forget(gone map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, ps := range gone {
		for _, p := range ps {
			delete(s.at[t], p)
		}
	}
}

// revoked commits what was printed from the partitions, as the client's own
// OnPartitionsRevoked does when it is not replaced, and the start of those
// nothing was printed from, as kafka-console-consumer commits every
// position before a rebalance: their next owner starts there, not at the
// end again. Then it forgets them.
func (s *resetStarts) revoked(ctx context.Context, cl *kgo.Client, gone map[string][]int32) {
	cl.CommitMarkedOffsets(ctx)
	s.commitUnread(ctx, cl, gone) // best effort, as the commit above
	s.forget(gone)
}

func (s *resetStarts) lost(_ context.Context, _ *kgo.Client, gone map[string][]int32) {
	s.forget(gone)
}

// commitUnread commits the start of each partition still assigned (of
// parts; nil: all) that the group has no offset for and nothing was printed
// from.
func (s *resetStarts) commitUnread(ctx context.Context, cl *kgo.Client, parts map[string][]int32) error {
	committed, marked := cl.CommittedOffsets(), cl.MarkedOffsets()
	s.mu.Lock()
	unread := map[string]map[int32]kgo.EpochOffset{}
	for t, starts := range s.at {
		for p, o := range starts {
			if parts != nil && !slices.Contains(parts[t], p) {
				continue
			}
			_, c := committed[t][p]
			_, m := marked[t][p]
			if !c && !m {
				if unread[t] == nil {
					unread[t] = map[int32]kgo.EpochOffset{}
				}
				unread[t][p] = kgo.EpochOffset{Epoch: -1, Offset: o}
			}
		}
	}
	s.mu.Unlock()
	if len(unread) == 0 {
		return nil
	}
	// The client knows the group's offsets only once it has fetched them,
	// after the assignment: a run that ends in between (an idle timeout or
	// an interrupt just as the group assigns) would commit the start over
	// the group's offset and skip what lies between. The coordinator says.
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, s.group)
	if err != nil {
		return err
	}
	for t, ps := range unread {
		for p := range ps {
			if o, ok := offs.Lookup(t, p); ok && (o.Err != nil || o.At >= 0) {
				delete(ps, p)
			}
		}
		if len(ps) == 0 {
			delete(unread, t)
		}
	}
	if len(unread) == 0 {
		return nil
	}
	var cerr error
	cl.CommitOffsetsSync(ctx, unread, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil && !topicGone(err) && cerr == nil {
					cerr = err
				}
			}
		}
	})
	return cerr
}

// topicGone reports whether a commit failed because its topic was deleted
// while assigned (--include drops a deleted topic only once the client
// purges it, 15 seconds later): there is nothing left to commit to, so it
// fails nothing, as kafka-console-consumer exits well when its close
// cannot commit a deleted topic's offsets.
func topicGone(err error) bool {
	return errors.Is(err, kerr.UnknownTopicOrPartition) || errors.Is(err, kerr.UnknownTopicID)
}

// consumeLoop polls until max records (0: unbounded) were handed to each,
// or nothing arrived for idle (0: forever), or ctx ends. flush runs whenever
// a poll is drained, so output appears as it arrives. Fetch errors are
// reported on stderr and consuming goes on, as Kafka's console consumer does.
func consumeLoop(ctx context.Context, cl *kgo.Client, max int64, idle time.Duration,
	each func(*kgo.Record) error, flush func() error, stderr io.Writer) (int64, error) {
	var n int64
	// Idle is counted from the last record, not from each poll: a poll
	// that ends early on an error (a partition's, repeated every few
	// seconds) would otherwise start it again, and consume never end.
	idleUntil := time.Now().Add(idle)
	for max <= 0 || n < max {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if idle > 0 {
			pctx, cancel = context.WithDeadline(ctx, idleUntil)
		}
		want := 10000
		if max > 0 && max-n < int64(want) {
			want = int(max - n)
		}
		fetches := cl.PollRecords(pctx, want)
		cancel()
		if fetches.IsClientClosed() {
			return n, nil
		}
		var fatal error
		fetches.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			var ke *kerr.Error
			if t == "" && errors.As(err, &ke) && !ke.Retriable && !rejoinable(ke) {
				// The group refused this member (franz-go hands group
				// errors over as a fetch's of no partition): the
				// Java consumer throws, and its console consumer
				// exits with an error.
				fatal = fmt.Errorf("consumer group: %w", err)
				return
			}
			fmt.Fprintf(stderr, "gokafka: fetch %s[%d]: %v\n", t, p, err)
		})
		var werr error
		fetches.EachRecord(func(r *kgo.Record) {
			if werr != nil || (max > 0 && n >= max) {
				return
			}
			if werr = each(r); werr == nil {
				n++
			}
		})
		if werr != nil {
			return n, werr
		}
		if err := flush(); err != nil {
			return n, err
		}
		if fatal != nil {
			return n, fatal
		}
		if ctx.Err() != nil {
			return n, nil // interrupted: a normal way to stop
		}
		if fetches.NumRecords() > 0 {
			idleUntil = time.Now().Add(idle)
		} else if idle > 0 && !time.Now().Before(idleUntil) {
			return n, nil // idle timeout
		}
	}
	return n, nil
}

// rejoinable reports whether a group error only drops this member's
// generation: the Java consumer (AbstractCoordinator) rejoins on these
// (a session that expired, a member removed, a rebalance under way, a
// member id to join with), and franz-go does too, after handing them
// over as the others.
func rejoinable(err *kerr.Error) bool {
	return err == kerr.UnknownMemberID || err == kerr.IllegalGeneration || err == kerr.RebalanceInProgress || err == kerr.MemberIDRequired
}

// parseTime accepts RFC3339 or unix milliseconds.
func parseTime(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, usagef("--from-time %q: want RFC3339 (2006-01-02T15:04:05Z) or unix milliseconds", s)
	}
	return t.UnixMilli(), nil
}

// checkConsumable fails at once where the consumer would wait out its
// timeout reading nothing: the broker cannot be reached, the topic does
// not exist, or it has no such partition (partition -1: any).
func checkConsumable(ctx context.Context, cl *kgo.Client, topic string, partition int32) error {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	tds, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		return err
	}
	td, ok := tds[topic]
	switch {
	case !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition):
		return fmt.Errorf("topic %s does not exist", topic)
	case td.Err != nil:
		return fmt.Errorf("topic %s: %w", topic, td.Err)
	case partition >= int32(len(td.Partitions)):
		return fmt.Errorf("topic %s has %d partitions: there is no partition %d", topic, len(td.Partitions), partition)
	}
	return nil
}
