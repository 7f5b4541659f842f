package replication

import (
	"context"
	"testing"
	"time"

	"github.com/gokafka/gokafka/logstore"
)

// A topic's leader epochs count from its EpochBase: a topic made with
// FirstLeaderTerm leads at epoch 0, as a new Kafka partition does, and one
// made before EpochBase existed (0) keeps raft's terms as its epochs, so
// the batches it holds keep theirs. Each moves on by one at a restart.
func TestEpochBaseOldAndNewTopics(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{NodeID: 1, DataDir: dir, RaftListen: "127.0.0.1:0"}
	n, err := StartNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tp := range []*Topic{
		{Name: "old", ID: NewTopicID(), Replicas: [][]int32{{1}}},
		{Name: "new", ID: NewTopicID(), Replicas: [][]int32{{1}}, EpochBase: FirstLeaderTerm},
	} {
		if _, err := n.Controller().Propose(ctx, Command{Op: OpCreateTopic, Topic: tp}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int32{"old": FirstLeaderTerm, "new": 0}
	for restart := range 2 {
		for _, name := range []string{"old", "new"} {
			if err := n.WaitTopicReady(ctx, name); err != nil {
				t.Fatal(err)
			}
			p := n.Partition(name, 0)
			if got := p.LeaderEpoch(); got != want[name]+int32(restart) {
				t.Fatalf("restart %d: topic %s leads at epoch %d, want %d", restart, name, got, want[name]+int32(restart))
			}
			off := appendValue(t, p)
			for o := range off + 1 {
				if got, w := p.Log().EpochAt(o), want[name]+int32(o); got != w {
					t.Errorf("restart %d: topic %s: offset %d has epoch %d, want %d", restart, name, o, got, w)
				}
			}
			b, err := p.Log().Read(off, 1<<20, off+1)
			if err != nil {
				t.Fatal(err)
			}
			h, err := logstore.ParseBatchHeader(b)
			if err != nil || h.PartitionLeaderEpoch != p.LeaderEpoch() {
				t.Fatalf("restart %d: topic %s: batch stamped with epoch %d (%v), want %d", restart, name, h.PartitionLeaderEpoch, err, p.LeaderEpoch())
			}
		}
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
		if restart == 0 {
			if n, err = StartNode(cfg); err != nil {
				t.Fatal(err)
			}
		}
	}
}
