package compattests

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// memberCommit commits offsets as member cl of its group (with its member id
// and generation), retrying while the group is between generations, e.g.
// just after a broker restart.
func memberCommit(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, offs map[int32]int64) {
	t.Helper()
	uncommitted := map[string]map[int32]kgo.EpochOffset{topic: {}}
	for p, o := range offs {
		uncommitted[topic][p] = kgo.EpochOffset{Epoch: -1, Offset: o}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var cerr error
		cl.CommitOffsetsSync(ctx, uncommitted, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
			if err != nil {
				cerr = err
				return
			}
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					if err := kerr.ErrorForCode(rp.ErrorCode); err != nil && cerr == nil {
						cerr = fmt.Errorf("%s/%d: %w", rt.Topic, rp.Partition, err)
					}
				}
			}
		})
		if cerr == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("member commit %v: %v", offs, cerr)
		}
		t.Logf("member commit: %v (retrying)", cerr)
		time.Sleep(200 * time.Millisecond)
	}
}

// simpleCommit commits offsets with kadm: generation -1, no member id.
func simpleCommit(t *testing.T, ctx context.Context, adm *kadm.Client, group, topic string, offs map[int32]int64) {
	t.Helper()
	os := make(kadm.Offsets)
	for p, o := range offs {
		os.Add(kadm.Offset{Topic: topic, Partition: p, At: o, LeaderEpoch: -1, Metadata: "m" + strconv.FormatInt(o, 10)})
	}
	resp, err := adm.CommitOffsets(ctx, group, os)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("kadm CommitOffsets %s: %v", group, err)
	}
}

// fetchCommitted returns a group's committed offsets of topic after a
// restart: it retries on errors (COORDINATOR_LOAD_IN_PROGRESS,
// NOT_COORDINATOR, a connection that died with the old process), but the
// first answer without an error must be exact.
func fetchCommitted(t *testing.T, ctx context.Context, adm *kadm.Client, group, topic string) map[int32]int64 {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			out := map[int32]int64{}
			for p, o := range resp[topic] {
				if o.Err != nil {
					t.Fatalf("FetchOffsets %s %s/%d: %v", group, topic, p, o.Err)
				}
				out[p] = o.At
			}
			return out
		}
		// Connection errors (the client's old connection died with
		// the broker) and the coordinator errors are retried.
		if time.Now().After(deadline) {
			t.Fatalf("FetchOffsets %s: %v", group, err)
		}
		t.Logf("FetchOffsets %s: %v (retrying)", group, err)
		time.Sleep(100 * time.Millisecond)
	}
}

func sameOffsets(a, b map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for p, o := range a {
		if bo, ok := b[p]; !ok || bo != o {
			return false
		}
	}
	return true
}

// TestGroupOffsetsDurability: an OffsetCommit that was answered survives a
// SIGKILL of the broker right after the answer, and a clean SIGTERM restart,
// both for a member of a live group (with generation) and for a simple
// commit (generation -1); and a group that resumes after the restart
// continues exactly from its committed offsets.
func TestGroupOffsetsDurability(t *testing.T) {
	const (
		topic   = "dur-topic"
		member  = "dur-group"
		simple  = "dur-simple"
		nparts  = 3
		perPart = 40
	)
	b := startBroker(t, "--group-initial-rebalance-delay-ms", "0", "--offsets-topic-num-partitions", "5")
	ctx := testCtx(t, 90*time.Second)
	adm := newAdm(t, b.Addr())
	createTopic(t, ctx, adm, topic, nparts, nil)
	prod := newKgo(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < nparts; p++ {
		var rs []*kgo.Record
		for i := 0; i < perPart; i++ {
			rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("%d-%d", p, i))})
		}
		produceSync(t, ctx, prod, rs...)
	}

	// A member that owns all partitions and never commits by itself.
	assigned := make(chan struct{}, 1)
	cl := newKgo(t, b.Addr(),
		kgo.ConsumerGroup(member),
		kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
		kgo.SessionTimeout(10*time.Second),
		kgo.HeartbeatInterval(300*time.Millisecond),
		notifyAssigned(assigned),
	)
	go cl.PollFetches(ctx) // joins the group; its records are never used
	select {
	case <-assigned:
	case <-ctx.Done():
		t.Fatal("member never assigned")
	}

	// Round 1: commit, then SIGKILL the broker the moment the response
	// is in.
	round1Member := map[int32]int64{0: 7, 1: 13, 2: 21}
	round1Simple := map[int32]int64{0: 3, 1: 5, 2: 8}
	simpleCommit(t, ctx, adm, simple, topic, round1Simple)
	memberCommit(t, ctx, cl, topic, round1Member)
	b.Kill9()
	b.Restart()
	for group, want := range map[string]map[int32]int64{member: round1Member, simple: round1Simple} {
		if got := fetchCommitted(t, ctx, adm, group, topic); !sameOffsets(got, want) {
			t.Errorf("after SIGKILL: %s committed %v, want %v", group, got, want)
		}
	}
	resp, err := adm.FetchOffsets(ctx, simple)
	if err != nil {
		t.Fatalf("FetchOffsets: %v", err)
	}
	if o, _ := resp.Lookup(topic, 1); o.Metadata != "m5" {
		t.Errorf("after SIGKILL: %s %s/1 metadata %q, want %q", simple, topic, o.Metadata, "m5")
	}

	// Round 2: the member (still in the group, or rejoining) commits
	// again; then a clean restart.
	round2Member := map[int32]int64{0: 10, 1: 20, 2: 30}
	round2Simple := map[int32]int64{0: 4, 1: 0, 2: 39}
	memberCommit(t, ctx, cl, topic, round2Member)
	simpleCommit(t, ctx, adm, simple, topic, round2Simple)
	b.Stop()
	b.Restart()
	for group, want := range map[string]map[int32]int64{member: round2Member, simple: round2Simple} {
		if got := fetchCommitted(t, ctx, adm, group, topic); !sameOffsets(got, want) {
			t.Errorf("after SIGTERM: %s committed %v, want %v", group, got, want)
		}
	}
	cl.Close()

	// Resume: new group members start exactly at the committed offsets.
	// ConsumeResetOffset(AtStart) would redeliver everything if the
	// offsets had been lost.
	for group, committed := range map[string]map[int32]int64{member: round2Member, simple: round2Simple} {
		want := 0
		for _, o := range committed {
			want += perPart - int(o)
		}
		c := newKgo(t, b.Addr(),
			kgo.ConsumerGroup(group),
			kgo.ConsumeTopics(topic),
			kgo.DisableAutoCommit(),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchMaxWait(200*time.Millisecond),
		)
		got := map[int32][]int64{}
		total := 0
		deadline := time.Now().Add(20 * time.Second)
		for total < want && time.Now().Before(deadline) {
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			fs := c.PollFetches(pctx)
			cancel()
			fs.EachError(func(tp string, p int32, err error) {
				if err != context.DeadlineExceeded {
					t.Errorf("resume %s: fetch %s/%d: %v", group, tp, p, err)
				}
			})
			fs.EachRecord(func(r *kgo.Record) {
				got[r.Partition] = append(got[r.Partition], r.Offset)
				total++
			})
		}
		// Anything beyond is a redelivery.
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		c.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
			got[r.Partition] = append(got[r.Partition], r.Offset)
			total++
		})
		cancel()
		c.Close()
		for p, from := range committed {
			var wantOffs []int64
			for o := from; o < perPart; o++ {
				wantOffs = append(wantOffs, o)
			}
			if !slices.Equal(got[p], wantOffs) {
				t.Errorf("resumed %s on %s/%d: got offsets %v, want %d..%d", group, topic, p, got[p], from, perPart-1)
			}
		}
		if total != want {
			t.Errorf("resumed %s: %d records, want %d", group, total, want)
		}
	}
}
