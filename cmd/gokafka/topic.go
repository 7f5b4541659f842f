package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// adminTimeout bounds each admin command; Kafka's tools wait about as long.
const adminTimeout = 30 * time.Second

func cmdTopic(e *env, args []string) error {
	args = actionFlagSubcommand(args, "create", "list", "describe", "delete", "alter")
	return runSubcommand(e, "topic", "create, list, describe, delete, alter or alter-config (or one of them as a flag, --list)", args,
		sub(topicCreate, "create"), sub(topicList, "list"), sub(topicDescribe, "describe"), sub(topicDelete, "delete"),
		sub(topicAlterConfig, "alter-config", "alter-configs"), sub(topicAlter, "alter"))
}

func topicCreate(e *env, args []string) error {
	fs := e.newFlagSet("topic create", "topic create NAME [--partitions N] [--replication-factor N] [--config k=v ...] [--if-not-exists]")
	topicFlag := newTopicArg(fs)
	partitions := fs.Int("partitions", -1, "number of partitions (-1: broker default num.partitions)")
	rf := fs.Int("replication-factor", -1, "replicas per partition (-1: broker default)")
	var configs listFlag
	fs.Var(&configs, "config", "topic config `key=value` (repeatable)")
	ifNotExists := fs.Bool("if-not-exists", false, "succeed quietly if the topic already exists, as kafka-topics --if-not-exists")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	pos = topicFlag.prepend(pos)
	if len(pos) != 1 {
		return usagef("topic create: want exactly one topic name")
	}
	// Checked here, as kafka-topics checks them, before they are narrowed
	// to the request's int32 and int16: 65536 would go out as 0, and
	// 4294967295 or 65535 as -1, the broker's default.
	if *partitions != -1 && (*partitions < 1 || *partitions > math.MaxInt32) {
		return usagef("topic create: --partitions %d: the partitions must be greater than 0 (and at most %d; -1: the broker default)", *partitions, math.MaxInt32)
	}
	if *rf != -1 && (*rf < 1 || *rf > math.MaxInt16) {
		return usagef("topic create: --replication-factor %d: the replication factor must be between 1 and %d inclusive (-1: the broker default)", *rf, math.MaxInt16)
	}
	cfg := map[string]*string{}
	for _, c := range configs {
		k, v, err := splitKV(c)
		if err != nil {
			return err
		}
		cfg[k] = kadm.StringPtr(v)
	}
	return e.adminCall(func(ctx context.Context, adm *kadm.Client) error {
		resp, err := adm.CreateTopic(ctx, int32(*partitions), int16(*rf), cfg, pos[0])
		if *ifNotExists && errors.Is(err, kerr.TopicAlreadyExists) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("create topic %s: %w", pos[0], withMessage(err, resp.ErrMessage))
		}
		fmt.Fprintf(e.stdout, "Created topic %s.\n", resp.Topic)
		return nil
	})
}

// withMessage adds the broker's error message, when it sent one, to err.
// A Kafka error code's text is its name and a generic description; with a
// message from the broker, which says more, the name and the message go.
func withMessage(err error, msg string) error {
	if msg == "" {
		return err
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return &brokerError{code: ke, msg: msg}
	}
	return fmt.Errorf("%w: %s", err, msg)
}

// brokerError is a Kafka error code with the broker's message.
type brokerError struct {
	code *kerr.Error
	msg  string
}

func (e *brokerError) Error() string { return e.code.Message + ": " + e.msg }
func (e *brokerError) Unwrap() error { return e.code }

func topicList(e *env, args []string) error {
	fs := e.newFlagSet("topic list", "topic list [--topic REGEX] [--exclude-internal]")
	topicFlag := newTopicArg(fs)
	excludeInternal := fs.Bool("exclude-internal", false, "leave out internal topics (__consumer_offsets), as kafka-topics.sh --exclude-internal")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("topic list takes no arguments")
	}
	if err := topicFlag.check(); err != nil {
		return err
	}
	return e.adminCall(func(ctx context.Context, adm *kadm.Client) error {
		names, err := topicFlag.matching(ctx, adm, *excludeInternal)
		if err != nil {
			return fmt.Errorf("list topics: %w", err)
		}
		for _, name := range names {
			fmt.Fprintln(e.stdout, name)
		}
		return nil
	})
}

func topicDescribe(e *env, args []string) error {
	fs := e.newFlagSet("topic describe", "topic describe [--topic REGEX] [--exclude-internal] [--if-exists] [--under-replicated-partitions | ...] [NAME...]")
	topicFlag := newTopicArg(fs)
	excludeInternal := fs.Bool("exclude-internal", false, "with no names, leave out internal topics (__consumer_offsets)")
	ifExists := fs.Bool("if-exists", false, "skip quietly the named topics that do not exist, as kafka-topics --describe --if-exists")
	var report partitionReport
	fs.BoolVar(&report.underReplicated, "under-replicated-partitions", false, "show only the partitions with fewer in-sync replicas than replicas, without the topic lines")
	fs.BoolVar(&report.unavailable, "unavailable-partitions", false, "show only the partitions without a live leader")
	fs.BoolVar(&report.underMinISR, "under-min-isr-partitions", false, "show only the partitions with fewer in-sync replicas than min.insync.replicas (or no leader)")
	fs.BoolVar(&report.atMinISR, "at-min-isr-partitions", false, "show only the partitions with as many in-sync replicas as min.insync.replicas")
	withOverrides := fs.Bool("topics-with-overrides", false, "show only the topics that have configs of their own, without their partitions")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := topicFlag.check(); err != nil {
		return err
	}
	if report.any() && *withOverrides {
		return usagef("topic describe: --topics-with-overrides shows no partitions: not with a partition report")
	}
	return e.adminCall(func(ctx context.Context, adm *kadm.Client) error {
		list := listTopics(adm, *excludeInternal) // every topic, as kafka-topics.sh --describe
		if *topicFlag.name != "" {
			matched, err := topicFlag.matching(ctx, adm, *excludeInternal)
			if err != nil {
				return fmt.Errorf("describe topics: %w", err)
			}
			if len(matched) == 0 && !*ifExists {
				return topicFlag.notFound()
			}
			if len(matched)+len(pos) == 0 {
				return nil // not every topic, which an empty list asks for
			}
			pos = append(matched, pos...)
		}
		td, err := list(ctx, pos...)
		if err != nil {
			return fmt.Errorf("describe topics: %w", err)
		}
		names := td.Names()
		var failed []string
		var ok []string
		for _, n := range names {
			if *ifExists && errors.Is(td[n].Err, kerr.UnknownTopicOrPartition) {
				continue
			}
			if td[n].Err != nil {
				failed = append(failed, n)
			} else {
				ok = append(ok, n)
			}
		}
		var starts, ends kadm.ListedOffsets
		configs := map[string][]string{}
		minISR := map[string]int{}
		live := map[int32]bool{}
		if report.unavailable {
			bm, err := adm.BrokerMetadata(ctx)
			if err != nil {
				return fmt.Errorf("describe cluster: %w", err)
			}
			for _, b := range bm.Brokers {
				live[b.NodeID] = true
			}
		}
		if len(ok) > 0 {
			// A partition with no leader fails its shard of the request;
			// the others are shown, as kafka-topics shows them, and it
			// gets "?" (its Leader column says none).
			var shards *kadm.ShardErrors
			if starts, err = adm.ListStartOffsets(ctx, ok...); err != nil && !errors.As(err, &shards) {
				return fmt.Errorf("list start offsets: %w", err)
			}
			if ends, err = adm.ListEndOffsets(ctx, ok...); err != nil && !errors.As(err, &shards) {
				return fmt.Errorf("list end offsets: %w", err)
			}
			if shards != nil {
				fmt.Fprintf(e.stderr, "gokafka: the offsets of some partitions are unknown (\"?\"): %v\n", shards)
			}
			rcs, err := adm.DescribeTopicConfigs(ctx, ok...)
			if err != nil {
				return fmt.Errorf("describe configs: %w", err)
			}
			for _, rc := range rcs {
				for _, c := range rc.Configs {
					// Only what was set on the topic, as kafka-topics shows.
					if c.Source == kmsg.ConfigSourceDynamicTopicConfig {
						configs[rc.Name] = append(configs[rc.Name], c.Key+"="+c.MaybeValue())
					}
					if c.Key == "min.insync.replicas" {
						minISR[rc.Name], _ = strconv.Atoi(c.MaybeValue())
					}
				}
				sort.Strings(configs[rc.Name])
			}
		}

		// Tab-separated as kafka-topics prints it, so scripts can cut fields.
		tw := e.stdout
		for _, n := range ok {
			t := td[n]
			rf := 0
			if len(t.Partitions) > 0 {
				rf = len(t.Partitions[0].Replicas)
			}
			// As kafka-topics: a partition report prints no topic lines,
			// --topics-with-overrides no partitions.
			if !report.any() && (!*withOverrides || len(configs[n]) > 0) {
				fmt.Fprintf(tw, "Topic: %s\tTopicId: %s\tPartitionCount: %d\tReplicationFactor: %d\tConfigs: %s\n",
					n, topicID(t.ID), len(t.Partitions), rf, strings.Join(configs[n], ","))
			}
			if *withOverrides {
				continue
			}
			for _, p := range t.Partitions.Sorted() {
				if report.any() && !report.shows(p, minISR[n], live) {
					continue
				}
				fmt.Fprintf(tw, "\tTopic: %s\tPartition: %d\tLeader: %s\tReplicas: %s\tIsr: %s\tEpoch: %d\tLogStartOffset: %s\tLogEndOffset: %s",
					n, p.Partition, leaderString(p.Leader), joinInt32(p.Replicas), joinInt32(p.ISR), p.LeaderEpoch,
					offsetString(starts, n, p.Partition), offsetString(ends, n, p.Partition))
				if p.Err != nil {
					fmt.Fprintf(tw, "\tError: %v", p.Err)
				}
				fmt.Fprintln(tw)
			}
		}
		for _, n := range failed {
			fmt.Fprintf(e.stderr, "gokafka: topic %s: %v\n", n, td[n].Err)
		}
		if len(failed) > 0 {
			return errReported
		}
		return nil
	})
}

// topicID prints an ID as Kafka's Uuid.toString does: URL-safe base64
// without padding.
func topicID(id kadm.TopicID) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

func leaderString(l int32) string {
	if l < 0 {
		return "none"
	}
	return fmt.Sprint(l)
}

func joinInt32(xs []int32) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}

func offsetString(l kadm.ListedOffsets, t string, p int32) string {
	o, ok := l.Lookup(t, p)
	switch {
	case !ok:
		return "?"
	case o.Err != nil:
		return "error(" + o.Err.Error() + ")"
	}
	return fmt.Sprint(o.Offset)
}

func topicDelete(e *env, args []string) error {
	fs := e.newFlagSet("topic delete", "topic delete NAME... | --topic REGEX [--if-exists]")
	topicFlag := newTopicArg(fs)
	ifExists := fs.Bool("if-exists", false, "skip quietly the topics that do not exist, as kafka-topics --if-exists")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := topicFlag.check(); err != nil {
		return err
	}
	if len(pos) == 0 && *topicFlag.name == "" {
		return usagef("topic delete: want at least one topic name")
	}
	return e.adminCall(func(ctx context.Context, adm *kadm.Client) error {
		if *topicFlag.name != "" {
			// Every topic --topic matches but the internal ones: a
			// pattern such as .* is not meant to drop every group's
			// offsets (gokafkad refuses to delete __consumer_offsets).
			matched, err := topicFlag.matching(ctx, adm, true)
			if err != nil {
				return fmt.Errorf("delete topics: %w", err)
			}
			if len(matched) == 0 && !*ifExists {
				return topicFlag.notFound()
			}
			pos = append(matched, pos...)
			if len(pos) == 0 {
				return nil
			}
		}
		// A name given twice (or named and matched by --topic) is
		// deleted once: the broker refuses a request naming a topic
		// twice, as Kafka's does, and deletes neither.
		pos = uniqueNames(pos)
		resps, err := adm.DeleteTopics(ctx, pos...)
		if err != nil {
			return fmt.Errorf("delete topics: %w", err)
		}
		failed := false
		for _, n := range pos {
			r, ok := resps[n]
			switch {
			case !ok:
				fmt.Fprintf(e.stderr, "gokafka: delete topic %s: no answer from the broker\n", n)
				failed = true
			case *ifExists && errors.Is(r.Err, kerr.UnknownTopicOrPartition):
			case r.Err != nil:
				fmt.Fprintf(e.stderr, "gokafka: delete topic %s: %v\n", n, withMessage(r.Err, r.ErrMessage))
				failed = true
			default:
				fmt.Fprintf(e.stdout, "Deleted topic %s.\n", n)
			}
		}
		if failed {
			return errReported
		}
		return nil
	})
}

func topicAlterConfig(e *env, args []string) error {
	fs := e.newFlagSet("topic alter-config", "topic alter-config NAME [--set k=v ...] [--delete k ...]")
	topicFlag := newTopicArg(fs)
	var sets, dels listFlag
	fs.Var(&sets, "set", "set config `key=value` (repeatable)")
	fs.Var(&dels, "delete", "remove the topic's own value of config `key`, back to the default (repeatable)")
	kafkaConfigFlags(fs, &sets, &dels)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	pos = topicFlag.prepend(pos)
	if len(pos) != 1 {
		return usagef("topic alter-config: want exactly one topic name")
	}
	alters, err := configAlters("topic alter-config", sets, dels)
	if err != nil {
		return err
	}
	return e.adminCall(func(ctx context.Context, adm *kadm.Client) error {
		if len(dels) > 0 {
			rcs, err := adm.DescribeTopicConfigs(ctx, pos[0])
			if err != nil {
				return fmt.Errorf("describe configs of %s: %w", pos[0], err)
			}
			rc, err := rcs.On(pos[0], nil)
			if err == nil {
				err = rc.Err
			}
			if err != nil {
				return fmt.Errorf("describe configs of %s: %w", pos[0], err)
			}
			if err := checkDeletable(rc, dels, kmsg.ConfigSourceDynamicTopicConfig, "topic "+pos[0]); err != nil {
				return err
			}
		}
		resps, err := adm.AlterTopicConfigs(ctx, alters, pos[0])
		if err != nil {
			return fmt.Errorf("alter configs of %s: %w", pos[0], err)
		}
		r, err := resps.On(pos[0], nil)
		if err != nil {
			return fmt.Errorf("alter configs of %s: %w", pos[0], err)
		}
		if r.Err != nil {
			return fmt.Errorf("alter configs of %s: %w", pos[0], withMessage(r.Err, r.ErrMessage))
		}
		fmt.Fprintf(e.stdout, "Completed updating config for topic %s.\n", pos[0])
		return nil
	})
}

// checkDeletable is kafka-configs' check before --delete-config: a key the
// resource does not set itself (its source is own) is an error, not a quiet
// no-op (a typo, say).
func checkDeletable(rc kadm.ResourceConfig, dels []string, own kmsg.ConfigSource, what string) error {
	set := map[string]bool{}
	for _, c := range rc.Configs {
		set[c.Key] = c.Source == own
	}
	var invalid []string
	for _, k := range dels {
		if !set[k] {
			invalid = append(invalid, k)
		}
	}
	if len(invalid) > 0 {
		return fmt.Errorf("invalid config(s): %s (%s does not set them)", strings.Join(invalid, ","), what)
	}
	return nil
}

// topicArg is kafka-topics' --topic. For create and alter-config it names
// the topic instead of (or before) the names given as arguments; for list,
// describe, alter and delete it is, as there, a regular expression the
// whole name must match, with commas for "or" (a plain name matches
// itself).
type topicArg struct {
	name *string
	re   *regexp.Regexp
}

func newTopicArg(fs *flag.FlagSet) *topicArg {
	return &topicArg{name: fs.String("topic", "", "the topic, as kafka-topics --topic (or give it as an argument); for list, describe, alter and delete a regular expression, as there")}
}

func (f *topicArg) prepend(pos []string) []string {
	if *f.name == "" {
		return pos
	}
	return append([]string{*f.name}, pos...)
}

// check compiles --topic as Kafka's IncludeList reads it: spaces and
// surrounding quotes dropped, commas as "|".
func (f *topicArg) check() error {
	if *f.name == "" {
		return nil
	}
	expr := strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(*f.name), ",", "|"), " ", "")
	expr = strings.TrimRight(strings.TrimLeft(expr, `"'`), `"'`)
	re, err := regexp.Compile("^(?:" + expr + ")$")
	if err != nil {
		return usagef("--topic %q: %v", *f.name, err)
	}
	f.re = re
	return nil
}

// matching lists the topics --topic matches (every topic without it),
// sorted.
func (f *topicArg) matching(ctx context.Context, adm *kadm.Client, excludeInternal bool) ([]string, error) {
	td, err := listTopics(adm, excludeInternal)(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range td.Names() {
		if f.re == nil || f.re.MatchString(n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// uniqueNames is names without the repeats, in the order first given.
func uniqueNames(names []string) []string {
	seen := make(map[string]bool, len(names))
	out := names[:0:0]
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// listTopics is kadm's listing of topics, internal ones included unless
// excludeInternal, as kafka-topics lists them.
func listTopics(adm *kadm.Client, excludeInternal bool) func(context.Context, ...string) (kadm.TopicDetails, error) {
	if excludeInternal {
		return adm.ListTopics
	}
	return adm.ListTopicsWithInternal
}

// notFound is kafka-topics' error for a --topic that matched nothing.
func (f *topicArg) notFound() error {
	return fmt.Errorf("topic '%s' does not exist as expected", *f.name)
}

// partitionReport is kafka-topics --describe's partition filters: with
// any of them only the partitions one of them selects are shown.
type partitionReport struct {
	underReplicated, unavailable, underMinISR, atMinISR bool
}

func (r partitionReport) any() bool {
	return r.underReplicated || r.unavailable || r.underMinISR || r.atMinISR
}

// shows reports whether partition p, of a topic with min.insync.replicas
// minISR, is one the report asks for; live holds the brokers the cluster
// lists.
func (r partitionReport) shows(p kadm.PartitionDetail, minISR int, live map[int32]bool) bool {
	return r.underReplicated && len(p.ISR) < len(p.Replicas) ||
		r.unavailable && !live[p.Leader] ||
		r.underMinISR && (p.Leader < 0 || len(p.ISR) < minISR) ||
		r.atMinISR && len(p.ISR) == minISR
}

// topicAlter is kafka-topics --alter --partitions: the topic grows to N
// partitions (a topic's partitions are never fewer).
func topicAlter(e *env, args []string) error {
	fs := e.newFlagSet("topic alter", "topic alter NAME | --topic REGEX --partitions N [--if-exists]")
	topicFlag := newTopicArg(fs)
	partitions := fs.Int("partitions", 0, "the number of partitions the topic is to have (more than it has)")
	ifExists := fs.Bool("if-exists", false, "do nothing, quietly, if the topic does not exist, as kafka-topics --alter --if-exists")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos)+min(len(*topicFlag.name), 1) != 1:
		return usagef("topic alter: want exactly one topic name, or --topic")
	case *partitions <= 0:
		return usagef("topic alter: give --partitions N, the number of partitions the topic is to have")
	case *partitions > math.MaxInt32:
		return usagef("topic alter: --partitions %d: a topic has at most %d partitions", *partitions, math.MaxInt32)
	}
	if err := topicFlag.check(); err != nil {
		return err
	}
	return e.adminCall(func(ctx context.Context, adm *kadm.Client) error {
		if *topicFlag.name != "" {
			// Every topic --topic matches, as kafka-topics --alter.
			if pos, err = topicFlag.matching(ctx, adm, false); err != nil {
				return fmt.Errorf("alter topics: %w", err)
			}
			if len(pos) == 0 && !*ifExists {
				return topicFlag.notFound()
			}
			if len(pos) == 0 {
				return nil
			}
		}
		resps, err := adm.UpdatePartitions(ctx, *partitions, pos...)
		if err != nil {
			return fmt.Errorf("alter topics %s: %w", strings.Join(pos, ", "), err)
		}
		var failed []error
		for _, n := range pos {
			r, ok := resps[n]
			switch {
			case !ok:
				failed = append(failed, fmt.Errorf("alter topic %s: no answer from the broker", n))
			case *ifExists && errors.Is(r.Err, kerr.UnknownTopicOrPartition):
			case r.Err != nil:
				failed = append(failed, fmt.Errorf("alter topic %s: %w", n, withMessage(r.Err, r.ErrMessage)))
			default:
				fmt.Fprintf(e.stdout, "Topic %s now has %d partitions.\n", n, *partitions)
			}
		}
		if len(failed) == 1 {
			return failed[0]
		}
		for _, err := range failed {
			fmt.Fprintf(e.stderr, "gokafka: %v\n", err)
		}
		if len(failed) > 0 {
			return errReported
		}
		return nil
	})
}

// kafkaConfigFlags registers kafka-configs' --add-config and
// --delete-config next to --set and --delete: --add-config takes
// comma-separated k=v pairs, a list value in brackets (k=[a,b] sets "a,b"),
// --delete-config comma-separated keys; each adds to sets and dels.
func kafkaConfigFlags(fs *flag.FlagSet, sets, dels *listFlag) {
	fs.Func("add-config", "as kafka-configs --add-config: `k=v,k2=[a,b],...` (--set, several at once)", func(v string) error {
		for _, kv := range splitAddConfig(v) {
			k, val, ok := strings.Cut(kv, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return fmt.Errorf("%q: all configs to be added must be in the format key=val", kv)
			}
			val = strings.NewReplacer("[", "", "]", "").Replace(val)
			sets.Set(strings.TrimSpace(k) + "=" + strings.TrimSpace(val))
		}
		return nil
	})
	fs.Func("delete-config", "as kafka-configs --delete-config: `k,k2,...` (--delete, several at once)", func(v string) error {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				dels.Set(k)
			}
		}
		return nil
	})
}

// splitAddConfig splits an --add-config value at the commas that are not
// inside brackets, as kafka-configs does.
func splitAddConfig(v string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '[':
			depth++
		case ']':
			depth = max(depth-1, 0)
		case ',':
			if depth == 0 {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	out = append(out, v[start:])
	var kept []string
	for _, s := range out {
		if strings.TrimSpace(s) != "" {
			kept = append(kept, s)
		}
	}
	return kept
}

// configAlters turns --set k=v and --delete k flags into incremental
// config changes; cmd names the command in a usage error.
func configAlters(cmd string, sets, dels []string) ([]kadm.AlterConfig, error) {
	if len(sets)+len(dels) == 0 {
		return nil, usagef("%s: nothing to do (give --set or --delete, or --add-config or --delete-config)", cmd)
	}
	var alters []kadm.AlterConfig
	for _, s := range sets {
		k, v, err := splitKV(s)
		if err != nil {
			return nil, err
		}
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(v)})
	}
	for _, k := range dels {
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	return alters, nil
}
