package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupTestBase is the create time of the first record of every partition;
// the record at offset i has base + i seconds.
var groupTestBase = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// produceTimed writes counts[p] records to partition p of topic, record i
// timestamped groupTestBase + i s.
func produceTimed(t *testing.T, addr, topic string, counts []int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for p, n := range counts {
		for i := 0; i < n; i++ {
			recs = append(recs, &kgo.Record{
				Topic: topic, Partition: int32(p),
				Value:     []byte(fmt.Sprintf("p%d-%d", p, i)),
				Timestamp: groupTestBase.Add(time.Duration(i) * time.Second),
			})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// committedOffsets is what the group has committed, as "p:offset" sorted by
// partition (topic orders only), e.g. "0:7 1:4".
func committedOffsets(t *testing.T, adm *kadm.Client, group string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	os, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("FetchOffsets: %v", err)
	}
	var parts []string
	for _, o := range os.Sorted() {
		if o.Err != nil {
			t.Fatalf("FetchOffsets %s-%d: %v", o.Topic, o.Partition, o.Err)
		}
		if o.At >= 0 {
			parts = append(parts, fmt.Sprintf("%s/%d:%d", o.Topic, o.Partition, o.At))
		}
	}
	return strings.Join(parts, " ")
}

func TestGroupCommands(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topic", "create", "orders", "--partitions", "3")
	produceTimed(t, addr, "orders", []int{10, 4, 6})

	admCl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)

	// A group member consumes everything, commits p0 at 7 and p1 at 4
	// (nothing for p2) and stays joined.
	member, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ClientID("test-member"),
		kgo.ConsumerGroup("g1"),
		kgo.ConsumeTopics("orders"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
	)
	if err != nil {
		t.Fatal(err)
	}
	memberClosed := false
	defer func() {
		if !memberClosed {
			member.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for got := 0; got < 20; {
		fs := member.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of 20 records: %v", got, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s-%d: %v", topic, p, err) })
		got += fs.NumRecords()
	}
	var commitErr error
	member.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{
		"orders": {0: {Epoch: -1, Offset: 7}, 1: {Epoch: -1, Offset: 4}},
	}, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			commitErr = err
			return
		}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if rp.ErrorCode != 0 {
					commitErr = fmt.Errorf("%s-%d: error code %d", rt.Topic, rp.Partition, rp.ErrorCode)
				}
			}
		}
	})
	if commitErr != nil {
		t.Fatalf("member commit: %v", commitErr)
	}
	if got := committedOffsets(t, adm, "g1"); got != "orders/0:7 orders/1:4" {
		t.Fatalf("committed after the member's commit: %q", got)
	}

	// Active: list and describe show the member and what it owns.
	r := mustRun(t, addr, "", "group", "list")
	if r.stdout != "GROUP\tSTATE\tPROTOCOL-TYPE\tMEMBERS\ng1\tStable\tconsumer\t1\n" {
		t.Errorf("group list (active) = %q", r.stdout)
	}
	if r := mustRun(t, addr, "", "group", "list", "--state", "empty"); r.stdout != "GROUP\tSTATE\tPROTOCOL-TYPE\tMEMBERS\n" {
		t.Errorf("group list --state empty (active) = %q", r.stdout)
	}
	r = mustRun(t, addr, "", "group", "describe", "g1")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != 8 {
		t.Fatalf("describe (active): want summary, member header, 1 member, blank, offsets header, 3 rows; got:\n%s", r.stdout)
	}
	if !strings.HasPrefix(lines[0], "Group: g1\tState: Stable\tProtocolType: consumer\tProtocol: ") || !strings.HasSuffix(lines[0], "\tMembers: 1") {
		t.Errorf("summary line %q", lines[0])
	}
	if lines[1] != "MEMBER-ID\tINSTANCE-ID\tCLIENT-ID\tHOST\t#PARTITIONS\tASSIGNMENT" {
		t.Errorf("member header %q", lines[1])
	}
	mf := strings.Split(lines[2], "\t")
	if len(mf) != 6 || mf[0] == "" || mf[1] != "-" || mf[2] != "test-member" || mf[4] != "3" || mf[5] != "orders(0,1,2)" {
		t.Errorf("member line %q", lines[2])
	}
	memberID, host := mf[0], mf[3]
	wantRows := []string{
		"GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tMEMBER-ID\tHOST\tCLIENT-ID",
		"g1\torders\t0\t7\t10\t3\t" + memberID + "\t" + host + "\ttest-member",
		"g1\torders\t1\t4\t4\t0\t" + memberID + "\t" + host + "\ttest-member",
		"g1\torders\t2\t-\t6\t-\t" + memberID + "\t" + host + "\ttest-member",
	}
	if got := strings.Join(lines[3:], "\n"); got != "\n"+strings.Join(wantRows, "\n") {
		t.Errorf("describe offsets (active):\n%s\nwant:\n%s", got, strings.Join(wantRows, "\n"))
	}

	// An active group can be neither reset (not even a dry run) nor deleted.
	for _, args := range [][]string{
		{"group", "reset-offsets", "g1", "--topic", "orders", "--to-earliest", "--execute"},
		{"group", "reset-offsets", "g1", "--all-topics", "--to-latest"},
	} {
		r := gokafka(t, addr, "", args...)
		if r.code != 1 || !strings.Contains(r.stderr, "inactive, but the current state is Stable") || r.stdout != "" {
			t.Errorf("%v on an active group: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
	if r := gokafka(t, addr, "", "group", "delete", "g1"); r.code != 1 || !strings.Contains(r.stderr, "NON_EMPTY_GROUP") {
		t.Errorf("delete of an active group: exit %d, stderr %q", r.code, r.stderr)
	}
	if got := committedOffsets(t, adm, "g1"); got != "orders/0:7 orders/1:4" {
		t.Fatalf("refused commands changed the offsets: %q", got)
	}

	// The member leaves: the group is Empty and keeps its offsets.
	member.Close()
	memberClosed = true
	r = mustRun(t, addr, "", "group", "list", "--state", "Empty,Dead")
	if r.stdout != "GROUP\tSTATE\tPROTOCOL-TYPE\tMEMBERS\ng1\tEmpty\tconsumer\t0\n" {
		t.Errorf("group list --state Empty,Dead = %q", r.stdout)
	}
	r = mustRun(t, addr, "", "group", "describe", "g1")
	want := "Group: g1\tState: Empty\tProtocolType: consumer\tProtocol: -\tMembers: 0\n" +
		"Consumer group 'g1' has no active members.\n\n" +
		"GROUP\tTOPIC\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tMEMBER-ID\tHOST\tCLIENT-ID\n" +
		"g1\torders\t0\t7\t10\t3\t-\t-\t-\n" +
		"g1\torders\t1\t4\t4\t0\t-\t-\t-\n"
	if r.stdout != want {
		t.Errorf("describe (empty):\n%s\nwant:\n%s", r.stdout, want)
	}

	// A dry run prints the plan and commits nothing.
	r = mustRun(t, addr, "", "group", "reset-offsets", "g1", "--topic", "orders", "--to-earliest")
	if r.stdout != "GROUP\tTOPIC\tPARTITION\tNEW-OFFSET\ng1\torders\t0\t0\ng1\torders\t1\t0\ng1\torders\t2\t0\n" ||
		!strings.Contains(r.stderr, "Dry run") {
		t.Errorf("dry run: stdout %q stderr %q", r.stdout, r.stderr)
	}
	if got := committedOffsets(t, adm, "g1"); got != "orders/0:7 orders/1:4" {
		t.Fatalf("dry run changed the offsets: %q", got)
	}

	// Each mode with --execute.
	for _, tc := range []struct {
		args []string
		want string
	}{
		// --all-topics: the partitions with committed offsets only.
		{[]string{"--all-topics", "--to-earliest"}, "orders/0:0 orders/1:0"},
		{[]string{"--topic", "orders", "--to-latest"}, "orders/0:10 orders/1:4 orders/2:6"},
		{[]string{"--topic", "orders", "--shift-by", "-3"}, "orders/0:7 orders/1:1 orders/2:3"},
		{[]string{"--topic", "orders:1,2", "--shift-by", "-2"}, "orders/0:7 orders/1:0 orders/2:1"}, // p1 clamped to 0
		{[]string{"--topic", "orders", "--shift-by", "100"}, "orders/0:10 orders/1:4 orders/2:6"},   // clamped to the ends
		{[]string{"--topic", "orders:0,1", "--to-offset", "5"}, "orders/0:5 orders/1:4 orders/2:6"}, // p1 clamped to 4
		// Record i is at base+i s: 3.5 s finds offset 4, or the end.
		{[]string{"--topic", "orders", "--to-datetime", fmt.Sprint(groupTestBase.Add(3500 * time.Millisecond).UnixMilli())}, "orders/0:4 orders/1:4 orders/2:4"},
		{[]string{"--topic", "orders", "--to-datetime", "2024-01-01T00:00:02Z"}, "orders/0:2 orders/1:2 orders/2:2"},
		{[]string{"--topic", "orders:2", "--to-datetime", "2030-01-01T00:00:00Z"}, "orders/0:2 orders/1:2 orders/2:6"},
	} {
		args := append([]string{"group", "reset-offsets", "g1", "--execute"}, tc.args...)
		r := mustRun(t, addr, "", args...)
		if strings.Contains(r.stderr, "Dry run") {
			t.Errorf("%v: printed the dry-run note", tc.args)
		}
		if got := committedOffsets(t, adm, "g1"); got != tc.want {
			t.Errorf("reset %v: committed %q, want %q\nstdout:\n%s", tc.args, got, tc.want, r.stdout)
		}
	}

	// Clamping at a log start above 0.
	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	del := make(kadm.Offsets)
	del.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 3})
	if dr, err := adm.DeleteRecords(dctx, del); err != nil || dr.Error() != nil {
		t.Fatalf("DeleteRecords: %v / %v", err, dr.Error())
	}
	mustRun(t, addr, "", "group", "reset-offsets", "g1", "--topic", "orders:0", "--shift-by", "-100", "--execute")
	mustRun(t, addr, "", "group", "reset-offsets", "g1", "--topic", "orders:1", "--to-earliest", "--execute")
	if got := committedOffsets(t, adm, "g1"); got != "orders/0:3 orders/1:0 orders/2:6" {
		t.Errorf("after shift below the log start: %q", got)
	}

	// Mistakes that reach the broker.
	if r := gokafka(t, addr, "", "group", "reset-offsets", "g1", "--topic", "nope", "--to-latest"); r.code != 1 || !strings.Contains(r.stderr, "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Errorf("reset of an unknown topic: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := gokafka(t, addr, "", "group", "reset-offsets", "g1", "--topic", "orders:9", "--to-latest"); r.code != 1 || !strings.Contains(r.stderr, "no partition 9") {
		t.Errorf("reset of an unknown partition: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := gokafka(t, addr, "", "group", "reset-offsets", "fresh", "--topic", "orders", "--shift-by", "1"); r.code != 1 || !strings.Contains(r.stderr, "no committed offset") {
		t.Errorf("shift without a committed offset: exit %d, stderr %q", r.code, r.stderr)
	}
	// A group that never existed can be given offsets (it is Dead).
	mustRun(t, addr, "", "group", "reset-offsets", "fresh", "--topic", "orders:1", "--to-latest", "--execute")
	if got := committedOffsets(t, adm, "fresh"); got != "orders/1:4" {
		t.Errorf("reset of a new group: %q", got)
	}

	// delete-offsets removes just the given partitions.
	r = mustRun(t, addr, "", "group", "delete-offsets", "g1", "--topic", "orders:1,2")
	if r.stdout != "TOPIC\tPARTITION\tSTATUS\norders\t1\tSuccessful\norders\t2\tSuccessful\n" {
		t.Errorf("delete-offsets printed %q", r.stdout)
	}
	if got := committedOffsets(t, adm, "g1"); got != "orders/0:3" {
		t.Errorf("after delete-offsets: %q", got)
	}
	// A partition that does not exist is the broker's to answer, alone,
	// as kafka-consumer-groups does: the others are deleted.
	mustRun(t, addr, "", "group", "reset-offsets", "g1", "--topic", "orders:1", "--to-latest", "--execute")
	if r := gokafka(t, addr, "", "group", "delete-offsets", "g1", "--topic", "orders:1,9"); r.code != 1 ||
		!strings.Contains(r.stdout, "orders\t1\tSuccessful\n") || !strings.Contains(r.stdout, "orders\t9\tError: UNKNOWN_TOPIC_OR_PARTITION") {
		t.Errorf("delete-offsets with an unknown partition: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if got := committedOffsets(t, adm, "g1"); got != "orders/0:3" {
		t.Errorf("after delete-offsets with an unknown partition: %q", got)
	}

	// Delete once empty; then the group is gone.
	r = mustRun(t, addr, "", "group", "delete", "g1", "fresh")
	if r.stdout != "Deleted group 'g1'.\nDeleted group 'fresh'.\n" {
		t.Errorf("delete printed %q", r.stdout)
	}
	if got := committedOffsets(t, adm, "g1"); got != "" {
		t.Errorf("offsets after delete: %q", got)
	}
	if r := gokafka(t, addr, "", "group", "describe", "g1"); r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("describe after delete: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := gokafka(t, addr, "", "group", "delete", "g1"); r.code != 1 || !strings.Contains(r.stderr, "GROUP_ID_NOT_FOUND") {
		t.Errorf("second delete: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := mustRun(t, addr, "", "group", "list"); r.stdout != "GROUP\tSTATE\tPROTOCOL-TYPE\tMEMBERS\n" {
		t.Errorf("list after delete = %q", r.stdout)
	}
}

// On a fresh broker no group has needed __consumer_offsets yet; the first
// lookup makes it, and describing a group then answers as for any unknown
// group (kadm does not retry COORDINATOR_NOT_AVAILABLE).
func TestGroupDescribeFreshBroker(t *testing.T) {
	addr := startBroker(t)
	if r := gokafka(t, addr, "", "group", "describe", "nosuch"); r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("group describe on a fresh broker: exit %d, stderr %q; want 1 and \"does not exist\"", r.code, r.stderr)
	}
}

// topic list shows internal topics, as kafka-topics.sh --list does, unless
// --exclude-internal.
func TestTopicListInternal(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topic", "create", "plain")
	gokafka(t, addr, "", "group", "describe", "any") // makes __consumer_offsets
	if r := mustRun(t, addr, "", "topic", "list"); r.stdout != "__consumer_offsets\nplain\n" {
		t.Errorf("list = %q", r.stdout)
	}
	if r := mustRun(t, addr, "", "topic", "list", "--exclude-internal"); r.stdout != "plain\n" {
		t.Errorf("list --exclude-internal = %q", r.stdout)
	}
	if r := mustRun(t, addr, "", "topic", "describe", "--exclude-internal"); strings.Contains(r.stdout, "__consumer_offsets") || !strings.Contains(r.stdout, "plain") {
		t.Errorf("describe --exclude-internal:\n%s", r.stdout)
	}
}

// kafka-consumer-groups names the group with --group; every group command
// takes it so, as the topic commands take --topic.
func TestGroupFlag(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topic", "create", "gf", "--partitions", "2")
	produceTimed(t, addr, "gf", []int{3, 2})
	r := mustRun(t, addr, "", "group", "reset-offsets", "--group", "gflag", "--topic", "gf", "--to-latest", "--execute")
	if !strings.Contains(r.stdout, "gflag\tgf\t0\t3") || !strings.Contains(r.stdout, "gflag\tgf\t1\t2") {
		t.Errorf("reset-offsets --group: %q", r.stdout)
	}
	r = mustRun(t, addr, "", "group", "describe", "--group", "gflag")
	if !strings.Contains(r.stdout, "gflag\tgf\t0\t3\t3\t0") {
		t.Errorf("describe --group: %q", r.stdout)
	}
	mustRun(t, addr, "", "group", "delete-offsets", "--group", "gflag", "--topic", "gf:1")
	mustRun(t, addr, "", "group", "delete", "--group", "gflag")
	if r := gokafka(t, addr, "", "group", "describe", "--group", "gflag"); r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("describe --group after delete: exit %d, stderr %q", r.code, r.stderr)
	}
	// Given twice, or with a name too, each group is meant.
	if r := gokafka(t, addr, "", "group", "reset-offsets", "--group", "a", "b", "--topic", "gf", "--to-latest"); r.code != 2 {
		t.Errorf("reset-offsets with two groups: exit %d, want 2", r.code)
	}
}

// A group that refuses this member for good (here INCONSISTENT_GROUP_PROTOCOL:
// its members use another assignor) ends consume with an error and a
// non-zero exit, as kafka-console-consumer does, instead of consuming
// nothing until the timeout and exiting 0.
func TestConsumeGroupRefused(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topic", "create", "mixed", "--partitions", "2")
	assigned := make(chan struct{}, 1)
	member, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("mixed"), kgo.ConsumeTopics("mixed"),
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			select {
			case assigned <- struct{}{}:
			default:
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() {
		for ctx.Err() == nil && !member.PollFetches(ctx).IsClientClosed() {
		}
	}()
	select {
	case <-assigned:
	case <-ctx.Done():
		t.Fatal("the range member was not assigned")
	}
	start := time.Now()
	r := gokafka(t, addr, "", "consume", "--topic", "mixed", "--group", "mixed", "--timeout", "15s")
	if r.code == 0 || !strings.Contains(r.stderr, "INCONSISTENT_GROUP_PROTOCOL") {
		t.Fatalf("consume in a group of another assignor: exit %d, stderr %q; want an error naming INCONSISTENT_GROUP_PROTOCOL", r.code, r.stderr)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("refused after %v, not at the join", took)
	}
}

// A member the group dropped (here removed by LeaveGroup, as after a
// session timeout) rejoins and goes on consuming, as the Java consumer does
// on UNKNOWN_MEMBER_ID: only a refusal for good ends consume.
func TestConsumeGroupRejoins(t *testing.T) {
	addr := startBroker(t)
	mustRun(t, addr, "", "topic", "create", "dropped", "--partitions", "1")
	done := make(chan result, 1)
	go func() {
		done <- gokafka(t, addr, "", "consume", "--topic", "dropped", "--group", "dropped", "--max-messages", "1", "--timeout", "20s")
	}()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var member string
	for member == "" && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		if gs, err := adm.DescribeGroups(ctx, "dropped"); err == nil && gs["dropped"].State == "Stable" && len(gs["dropped"].Members) == 1 {
			member = gs["dropped"].Members[0].MemberID
		}
	}
	if member == "" {
		t.Fatal("consume did not join its group")
	}
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group = "dropped"
	m := kmsg.NewLeaveGroupRequestMember()
	m.MemberID = member
	leave.Members = append(leave.Members, m)
	resp, err := leave.RequestWith(ctx, cl)
	if err != nil || resp.ErrorCode != 0 || len(resp.Members) != 1 || resp.Members[0].ErrorCode != 0 {
		t.Fatalf("removing the member: %v %+v", err, resp)
	}
	time.Sleep(5 * time.Second) // past a heartbeat (3 s): it learns it was dropped
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "dropped", Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.code != 0 || r.stdout != "after\n" {
		t.Fatalf("consume after its member was dropped: exit %d, stdout %q, stderr %q; want the record and exit 0", r.code, r.stdout, r.stderr)
	}
}
