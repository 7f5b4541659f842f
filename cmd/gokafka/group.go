package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// The group commands stand in for kafka-consumer-groups.sh: list, describe
// (members and per-partition lag), reset-offsets (dry run unless
// --execute), delete and delete-offsets. They work on classic groups
// through the group coordinator; the CLI never joins a group itself.

func cmdGroup(e *env, args []string) error {
	args = actionFlagSubcommand(args, "list", "describe", "reset-offsets", "delete", "delete-offsets")
	return runSubcommand(e, "group", "list, describe, reset-offsets, delete or delete-offsets (or one of them as a flag, --list)", args,
		sub(groupList, "list"), sub(groupDescribe, "describe"), sub(groupResetOffsets, "reset-offsets"),
		sub(groupDelete, "delete"), sub(groupDeleteOffsets, "delete-offsets"))
}

// groupArg is kafka-consumer-groups' --group (repeatable), which names the
// groups instead of (or before) the names given as arguments: the muscle
// memory of "--describe --group G" works as "describe G".
type groupArg struct{ names *listFlag }

func newGroupArg(fs *flag.FlagSet) groupArg {
	g := groupArg{new(listFlag)}
	fs.Var(g.names, "group", "the `group`, as kafka-consumer-groups --group (or give it as an argument; repeatable)")
	return g
}

func (g groupArg) prepend(pos []string) []string {
	if len(*g.names) == 0 {
		return pos
	}
	return append(append([]string{}, *g.names...), pos...)
}

// groupStates are the classic group states, as ListGroups and
// DescribeGroups spell them.
var groupStates = []string{"PreparingRebalance", "CompletingRebalance", "Stable", "Dead", "Empty"}

// parseStates checks a comma-separated --state list (case-insensitive, as
// in Kafka) and returns the canonical spellings.
func parseStates(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		found := ""
		for _, st := range groupStates {
			if strings.EqualFold(f, st) {
				found = st
			}
		}
		if found == "" {
			return nil, usagef("--state %q: want a comma-separated list of %s", f, strings.Join(groupStates, ", "))
		}
		out = append(out, found)
	}
	return out, nil
}

func groupList(e *env, args []string) error {
	fs := e.newFlagSet("group list", "group list [--state S[,S...]]")
	state := fs.String("state", "", "only groups in these states (comma-separated: "+strings.Join(groupStates, ", ")+")")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("group list takes no arguments")
	}
	states, err := parseStates(*state)
	if err != nil {
		return err
	}
	return e.adminCall(func(ctx context.Context, adm *kadm.Client) error {
		listed, err := adm.ListGroups(ctx, states...)
		if err != nil {
			return fmt.Errorf("list groups: %w", err)
		}
		// ListGroups has no member counts; DescribeGroups does.
		members := map[string]string{}
		if names := listed.Groups(); len(names) > 0 {
			described, err := adm.DescribeGroups(ctx, names...)
			if err != nil {
				return fmt.Errorf("describe groups: %w", err)
			}
			for n, d := range described {
				if d.Err == nil {
					members[n] = strconv.Itoa(len(d.Members))
				}
			}
		}
		fmt.Fprintln(e.stdout, "GROUP\tSTATE\tPROTOCOL-TYPE\tMEMBERS")
		for _, g := range listed.Sorted() {
			m, ok := members[g.Group]
			if !ok {
				m = "?"
			}
			fmt.Fprintf(e.stdout, "%s\t%s\t%s\t%s\n", g.Group, dash(g.State), dash(g.ProtocolType), m)
		}
		return nil
	})
}

// dash prints "-" for an empty field, as Kafka's tools do.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// tp is a topic partition.
type tp struct {
	topic     string
	partition int32
}

func sortTPs(s []tp) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].topic != s[j].topic {
			return s[i].topic < s[j].topic
		}
		return s[i].partition < s[j].partition
	})
}

// memberAssignment decodes a member's assignment for protocol type
// "consumer"; ok is false for other protocol types.
func memberAssignment(m kadm.DescribedGroupMember) ([]tp, bool) {
	a, ok := m.Assigned.AsConsumer()
	if !ok {
		return nil, false
	}
	var out []tp
	for _, t := range a.Topics {
		for _, p := range t.Partitions {
			out = append(out, tp{t.Topic, p})
		}
	}
	sortTPs(out)
	return out, true
}

// formatAssignment prints partitions as kafka-consumer-groups --members
// --verbose does: topic(0,1,2),other(0).
func formatAssignment(tps []tp) string {
	var b strings.Builder
	for i := 0; i < len(tps); {
		j := i
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(tps[i].topic)
		b.WriteByte('(')
		for ; j < len(tps) && tps[j].topic == tps[i].topic; j++ {
			if j > i {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(int(tps[j].partition)))
		}
		b.WriteByte(')')
		i = j
	}
	return dash(b.String())
}

func groupDescribe(e *env, args []string) error {
	fs := e.newFlagSet("group describe", "group describe GROUP...")
	groupFlag := newGroupArg(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	pos = groupFlag.prepend(pos)
	if len(pos) == 0 {
		return usagef("group describe: want at least one group")
	}
	return e.adminCall(func(ctx context.Context, adm *kadm.Client) error {
		described, err := adm.DescribeGroups(ctx, pos...)
		if err != nil {
			return fmt.Errorf("describe groups: %w", err)
		}
		failed := false
		for i, g := range pos {
			if i > 0 {
				fmt.Fprintln(e.stdout)
			}
			if err := describeOne(ctx, e, adm, g, described[g]); err != nil {
				fmt.Fprintf(e.stderr, "gokafka: group %s: %v\n", g, err)
				failed = true
			}
		}
		if failed {
			return errReported
		}
		return nil
	})
}

// asDead turns a group that does not exist, which Kafka 4 answers
// GROUP_ID_NOT_FOUND (DescribeGroups v6), into the Dead group older brokers
// describe: either way it has no members, and offsets may be reset for it.
func asDead(d kadm.DescribedGroup) kadm.DescribedGroup {
	if errors.Is(d.Err, kerr.GroupIDNotFound) {
		d.Err, d.ErrMessage, d.State = nil, "", "Dead"
	}
	return d
}

// describeOne prints one group: a summary line, its members and the lag of
// every partition it has committed or been assigned.
func describeOne(ctx context.Context, e *env, adm *kadm.Client, group string, d kadm.DescribedGroup) error {
	if d.Group == "" {
		return errors.New("no answer from the coordinator")
	}
	d = asDead(d)
	if d.Err != nil {
		return withMessage(d.Err, d.ErrMessage)
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return fmt.Errorf("fetch offsets: %w", err)
	}
	if (d.State == "Dead" || d.State == "") && len(d.Members) == 0 && len(committed) == 0 {
		return fmt.Errorf("consumer group '%s' does not exist", group)
	}

	owner := map[tp]kadm.DescribedGroupMember{}
	rows := map[tp]bool{}
	w := e.stdout
	fmt.Fprintf(w, "Group: %s\tState: %s\tProtocolType: %s\tProtocol: %s\tMembers: %d\n",
		group, dash(d.State), dash(d.ProtocolType), dash(d.Protocol), len(d.Members))
	if len(d.Members) == 0 {
		fmt.Fprintf(w, "Consumer group '%s' has no active members.\n", group)
	} else {
		fmt.Fprintln(w, "MEMBER-ID\tINSTANCE-ID\tCLIENT-ID\tHOST\t#PARTITIONS\tASSIGNMENT")
		for _, m := range d.Members {
			inst := "-"
			if m.InstanceID != nil {
				inst = *m.InstanceID
			}
			n, assignment := "-", "-"
			if tps, ok := memberAssignment(m); ok {
				n, assignment = strconv.Itoa(len(tps)), formatAssignment(tps)
				for _, p := range tps {
					owner[p] = m
					rows[p] = true
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", m.MemberID, inst, dash(m.ClientID), dash(m.ClientHost), n, assignment)
		}
	}

	committed.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil || o.At >= 0 {
			rows[tp{o.Topic, o.Partition}] = true
		}
	})
	if len(rows) == 0 {
		return nil
	}
	topicSet := map[string]bool{}
	var order []tp
	for p := range rows {
		order = append(order, p)
		topicSet[p.topic] = true
	}
	sortTPs(order)
	topics := make([]string, 0, len(topicSet))
	for t := range topicSet {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tMEMBER-ID\tHOST\tCLIENT-ID")
	for _, p := range order {
		cur, lag := "-", "-"
		c, hasCommit := committed.Lookup(p.topic, p.partition)
		switch {
		case hasCommit && c.Err != nil:
			cur = "error(" + c.Err.Error() + ")"
			hasCommit = false
		case hasCommit && c.At < 0:
			hasCommit = false
		case hasCommit:
			cur = strconv.FormatInt(c.At, 10)
		}
		end := "-"
		if o, ok := ends.Lookup(p.topic, p.partition); ok && o.Err == nil {
			end = strconv.FormatInt(o.Offset, 10)
			if hasCommit {
				lag = strconv.FormatInt(o.Offset-c.At, 10)
			}
		} else if ok {
			end = "error(" + o.Err.Error() + ")"
		}
		mid, host, client := "-", "-", "-"
		if m, ok := owner[p]; ok {
			mid, host, client = m.MemberID, dash(m.ClientHost), dash(m.ClientID)
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", group, p.topic, p.partition, cur, end, lag, mid, host, client)
	}
	return nil
}

// parseTopicSpec reads --topic T or T:p,p,...; partitions is nil for the
// whole topic.
func parseTopicSpec(s string) (string, []int32, error) {
	t, ps, hasParts := strings.Cut(s, ":")
	if t == "" {
		return "", nil, usagef("--topic %q: want TOPIC or TOPIC:P,P,...", s)
	}
	if !hasParts {
		return t, nil, nil
	}
	var parts []int32
	for _, f := range strings.Split(ps, ",") {
		p, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil || p < 0 {
			return "", nil, usagef("--topic %q: partition %q is not a number", s, f)
		}
		parts = append(parts, int32(p))
	}
	return t, parts, nil
}

// checkTopicSpecs reports a malformed --topic before anything is sent.
func checkTopicSpecs(specs []string) error {
	for _, s := range specs {
		if _, _, err := parseTopicSpec(s); err != nil {
			return err
		}
	}
	return nil
}

// resolveTopics expands --topic specs into partitions, checking them
// against the metadata: a bare topic means all its partitions. With
// lenient, partitions named explicitly are taken as they are, existing or
// not, for the broker to answer each (as kafka-consumer-groups
// --delete-offsets sends them).
func resolveTopics(ctx context.Context, adm *kadm.Client, specs []string, lenient bool) ([]tp, error) {
	type spec struct {
		topic string
		parts []int32
	}
	var parsed []spec
	var names []string
	for _, s := range specs {
		t, ps, err := parseTopicSpec(s)
		if err != nil {
			return nil, err
		}
		parsed = append(parsed, spec{t, ps})
		names = append(names, t)
	}
	td, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	seen := map[tp]bool{}
	var out []tp
	for _, s := range parsed {
		d, ok := td[s.topic]
		switch {
		case lenient && s.parts != nil:
		case !ok:
			return nil, fmt.Errorf("topic %s: %w", s.topic, kerr.UnknownTopicOrPartition)
		case d.Err != nil:
			return nil, fmt.Errorf("topic %s: %w", s.topic, d.Err)
		}
		parts := s.parts
		if parts == nil {
			for p := range d.Partitions {
				parts = append(parts, p)
			}
		}
		for _, p := range parts {
			if _, ok := d.Partitions[p]; !ok && !lenient {
				return nil, fmt.Errorf("topic %s has no partition %d", s.topic, p)
			}
			if k := (tp{s.topic, p}); !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sortTPs(out)
	return out, nil
}

// optInt64 is an int64 flag that knows whether it was given.
type optInt64 struct {
	set bool
	v   int64
}

func (o *optInt64) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.FormatInt(o.v, 10)
}

func (o *optInt64) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("want an integer")
	}
	o.set, o.v = true, v
	return nil
}

func groupResetOffsets(e *env, args []string) error {
	fs := e.newFlagSet("group reset-offsets",
		"group reset-offsets GROUP (--topic T[:P,P...] ... | --all-topics) (--to-earliest | --to-latest | --to-datetime T | --shift-by N | --to-offset N) [--execute]")
	var topics listFlag
	fs.Var(&topics, "topic", "reset `T` (all partitions) or T:P,P,... (repeatable)")
	allTopics := fs.Bool("all-topics", false, "reset every partition the group has committed offsets for")
	toEarliest := fs.Bool("to-earliest", false, "reset to the log start offset")
	toLatest := fs.Bool("to-latest", false, "reset to the log end offset")
	toDatetime := fs.String("to-datetime", "", "reset to the first record at or after this time: RFC3339 or unix milliseconds")
	var shiftBy, toOffset optInt64
	fs.Var(&shiftBy, "shift-by", "move the committed offset by `N` (may be negative), clamped to the log")
	fs.Var(&toOffset, "to-offset", "reset to offset `N`, clamped to the log")
	execute := fs.Bool("execute", false, "commit the new offsets (default: print them only)")
	fs.Bool("dry-run", false, "print the new offsets without committing them (the default)")
	groupFlag := newGroupArg(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	pos = groupFlag.prepend(pos)
	if len(pos) != 1 {
		return usagef("group reset-offsets: want exactly one group")
	}
	group := pos[0]
	modes := 0
	for _, b := range []bool{*toEarliest, *toLatest, *toDatetime != "", shiftBy.set, toOffset.set} {
		if b {
			modes++
		}
	}
	if modes != 1 {
		return usagef("group reset-offsets: give exactly one of --to-earliest, --to-latest, --to-datetime, --shift-by, --to-offset")
	}
	if (len(topics) > 0) == *allTopics {
		return usagef("group reset-offsets: give --topic or --all-topics")
	}
	if err := checkTopicSpecs(topics); err != nil {
		return err
	}
	var ms int64
	if *toDatetime != "" {
		if ms, err = parseTime(*toDatetime); err != nil {
			return usagef("--to-datetime %q: want RFC3339 (2006-01-02T15:04:05Z) or unix milliseconds", *toDatetime)
		}
	}
	if toOffset.set && toOffset.v < 0 {
		return usagef("--to-offset must be >= 0")
	}

	return e.adminCall(func(ctx context.Context, adm *kadm.Client) error {

		// Only an inactive group may be reset, as in Kafka: an active member
		// would overwrite the offsets with its next commit.
		described, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return fmt.Errorf("describe group %s: %w", group, err)
		}
		d := asDead(described[group])
		if d.Err != nil {
			return fmt.Errorf("describe group %s: %w", group, withMessage(d.Err, d.ErrMessage))
		}
		if d.State != "Empty" && d.State != "Dead" {
			return fmt.Errorf("assignments can only be reset if the group '%s' is inactive, but the current state is %s", group, d.State)
		}
		committed, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return fmt.Errorf("fetch offsets of %s: %w", group, err)
		}

		var parts []tp
		if *allTopics {
			committed.Each(func(o kadm.OffsetResponse) {
				if o.Err == nil && o.At >= 0 {
					parts = append(parts, tp{o.Topic, o.Partition})
				}
			})
			sortTPs(parts)
			if len(parts) == 0 {
				return fmt.Errorf("group %s has no committed offsets to reset", group)
			}
		} else if parts, err = resolveTopics(ctx, adm, topics, false); err != nil {
			return err
		}
		var names []string
		for i, p := range parts {
			if i == 0 || parts[i-1].topic != p.topic {
				names = append(names, p.topic)
			}
		}

		starts, err := adm.ListStartOffsets(ctx, names...)
		if err != nil {
			return fmt.Errorf("list start offsets: %w", err)
		}
		ends, err := adm.ListEndOffsets(ctx, names...)
		if err != nil {
			return fmt.Errorf("list end offsets: %w", err)
		}
		var byTime kadm.ListedOffsets
		if *toDatetime != "" {
			if byTime, err = adm.ListOffsetsAfterMilli(ctx, ms, names...); err != nil {
				return fmt.Errorf("list offsets by time: %w", err)
			}
		}
		lookup := func(l kadm.ListedOffsets, what string, p tp) (int64, error) {
			o, ok := l.Lookup(p.topic, p.partition)
			switch {
			case !ok:
				return 0, fmt.Errorf("%s offset of %s-%d: no answer", what, p.topic, p.partition)
			case o.Err != nil:
				return 0, fmt.Errorf("%s offset of %s-%d: %w", what, p.topic, p.partition, o.Err)
			}
			return o.Offset, nil
		}

		plan := make(kadm.Offsets)
		for _, p := range parts {
			start, err := lookup(starts, "start", p)
			if err != nil {
				return err
			}
			end, err := lookup(ends, "end", p)
			if err != nil {
				return err
			}
			var at int64
			switch {
			case *toEarliest:
				at = start
			case *toLatest:
				at = end
			case *toDatetime != "":
				if at, err = lookup(byTime, "by-time", p); err != nil {
					return err
				}
				if at < 0 { // no record at or after the time
					at = end
				}
			case shiftBy.set:
				c, ok := committed.Lookup(p.topic, p.partition)
				if !ok || c.Err != nil || c.At < 0 {
					return fmt.Errorf("cannot shift the offset of %s-%d: group %s has no committed offset for it", p.topic, p.partition, group)
				}
				at = clamp(c.At+shiftBy.v, start, end)
			case toOffset.set:
				at = clamp(toOffset.v, start, end)
			}
			plan.Add(kadm.Offset{Topic: p.topic, Partition: p.partition, At: at, LeaderEpoch: -1})
		}

		fmt.Fprintln(e.stdout, "GROUP\tTOPIC\tPARTITION\tNEW-OFFSET")
		for _, p := range parts {
			o, _ := plan.Lookup(p.topic, p.partition)
			fmt.Fprintf(e.stdout, "%s\t%s\t%d\t%d\n", group, p.topic, p.partition, o.At)
		}
		if !*execute {
			fmt.Fprintln(e.stderr, "Dry run: nothing was committed; add --execute to commit these offsets.")
			return nil
		}
		resps, err := adm.CommitOffsets(ctx, group, plan)
		if err != nil {
			return fmt.Errorf("commit offsets of %s: %w", group, err)
		}
		failed := false
		for _, r := range resps.Sorted() {
			if r.Err == nil {
				continue
			}
			failed = true
			msg := r.Err.Error()
			if errors.Is(r.Err, kerr.UnknownMemberID) {
				msg += " (the group became active)"
			}
			fmt.Fprintf(e.stderr, "gokafka: commit %s-%d: %s\n", r.Topic, r.Partition, msg)
		}
		if failed {
			return errReported
		}
		return nil
	})
}

func clamp(v, lo, hi int64) int64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

func groupDelete(e *env, args []string) error {
	fs := e.newFlagSet("group delete", "group delete GROUP...")
	groupFlag := newGroupArg(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	pos = groupFlag.prepend(pos)
	if len(pos) == 0 {
		return usagef("group delete: want at least one group")
	}
	return e.adminCall(func(ctx context.Context, adm *kadm.Client) error {
		resps, err := adm.DeleteGroups(ctx, pos...)
		if err != nil {
			return fmt.Errorf("delete groups: %w", err)
		}
		failed := false
		for _, g := range pos {
			r, ok := resps[g]
			switch {
			case !ok:
				fmt.Fprintf(e.stderr, "gokafka: group '%s' could not be deleted: no answer from the coordinator\n", g)
				failed = true
			case r.Err != nil:
				msg := withMessage(r.Err, r.ErrMessage).Error()
				if errors.Is(r.Err, kerr.NonEmptyGroup) && r.ErrMessage == "" {
					msg += " (the group has active members; stop them first)"
				}
				fmt.Fprintf(e.stderr, "gokafka: group '%s' could not be deleted: %s\n", g, msg)
				failed = true
			default:
				fmt.Fprintf(e.stdout, "Deleted group '%s'.\n", g)
			}
		}
		if failed {
			return errReported
		}
		return nil
	})
}

func groupDeleteOffsets(e *env, args []string) error {
	fs := e.newFlagSet("group delete-offsets", "group delete-offsets GROUP --topic T[:P,P...] ...")
	var topics listFlag
	fs.Var(&topics, "topic", "delete the offsets of `T` (all partitions) or T:P,P,... (repeatable)")
	groupFlag := newGroupArg(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	pos = groupFlag.prepend(pos)
	if len(pos) != 1 {
		return usagef("group delete-offsets: want exactly one group")
	}
	if len(topics) == 0 {
		return usagef("group delete-offsets: --topic is required")
	}
	if err := checkTopicSpecs(topics); err != nil {
		return err
	}
	group := pos[0]
	return e.adminCall(func(ctx context.Context, adm *kadm.Client) error {
		parts, err := resolveTopics(ctx, adm, topics, true)
		if err != nil {
			return err
		}
		set := make(kadm.TopicsSet)
		for _, p := range parts {
			set.Add(p.topic, p.partition)
		}
		resps, err := adm.DeleteOffsets(ctx, group, set)
		if err != nil {
			return fmt.Errorf("delete offsets of %s: %w", group, err)
		}
		fmt.Fprintln(e.stdout, "TOPIC\tPARTITION\tSTATUS")
		failed := false
		for _, p := range parts {
			status := "Successful"
			perr, ok := resps.Lookup(p.topic, p.partition)
			switch {
			case !ok:
				status, failed = "Error: no answer", true
			case perr != nil:
				status, failed = "Error: "+perr.Error(), true
			}
			fmt.Fprintf(e.stdout, "%s\t%d\t%s\n", p.topic, p.partition, status)
		}
		if failed {
			return errReported
		}
		return nil
	})
}
