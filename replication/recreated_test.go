package replication

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// A topic deleted and made again under its name while reconcile is busy
// (stopping or starting hundreds of partitions) still has the old topic's
// replica running for a while. That replica is not the new topic's: it
// must not be handed out, or a produce is acknowledged by a log about to
// be removed, a fetch reads the deleted topic's records, and CreateTopics
// takes it for the new topic's ready leader.
func TestRecreatedTopicNotServedByOldReplica(t *testing.T) {
	n, ctx := startNodeT(t, t.TempDir())
	old := &Topic{Name: "again", ID: NewTopicID(), Replicas: [][]int32{{1}}}
	if _, err := n.Controller().Propose(ctx, Command{Op: OpCreateTopic, Topic: old}); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitTopicReady(ctx, "again"); err != nil {
		t.Fatal(err)
	}
	// The deletion and the new creation applied, and reconcile not woken,
	// as when it is still in a long pass.
	c := n.Controller()
	c.mu.Lock()
	next := c.state.clone()
	if err, _ := c.apply(next, &Command{Op: OpDeleteTopic, Name: "again"}).(error); err != nil {
		c.mu.Unlock()
		t.Fatal(err)
	}
	if err, _ := c.apply(next, &Command{Op: OpCreateTopic, Topic: &Topic{Name: "again", ID: NewTopicID(), Replicas: [][]int32{{1}}}}).(error); err != nil {
		c.mu.Unlock()
		t.Fatal(err)
	}
	c.state = next
	c.mu.Unlock()

	if p := n.Partition("again", 0); p != nil {
		t.Fatalf("the deleted topic's replica (id %s) is handed out for the new topic", p.TopicID)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := n.WaitTopicReady(short, "again"); err == nil {
		t.Fatal("the new topic was ready on the deleted topic's replica")
	}
}

// A topic of a long name (Kafka allows 249 characters) is deleted like
// any other: its directory goes, although the name the directory takes
// while it is deleted would pass NAME_MAX (255) with the mark and time
// after it in full. Its directory stayed, and a topic made again under the
// name took it up, the deleted topic's records with it.
func TestLongNamedTopicDeleted(t *testing.T) {
	dir := t.TempDir()
	n, ctx := startNodeT(t, dir)
	name := strings.Repeat("l", 249)
	old := &Topic{Name: name, ID: NewTopicID(), Replicas: [][]int32{{1}}}
	if _, err := n.Controller().Propose(ctx, Command{Op: OpCreateTopic, Topic: old}); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitTopicReady(ctx, name); err != nil {
		t.Fatal(err)
	}
	appendBig(t, n.Partition(name, 0), 100)
	if _, err := n.Controller().Propose(ctx, Command{Op: OpDeleteTopic, Name: name}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "lll") {
				return false // the directory, or what it was renamed to
			}
		}
		return true
	}, "the deleted topic's directory to go")

	topic := &Topic{Name: name, ID: NewTopicID(), Replicas: [][]int32{{1}}}
	if _, err := n.Controller().Propose(ctx, Command{Op: OpCreateTopic, Topic: topic}); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitTopicReady(ctx, name); err != nil {
		t.Fatal(err)
	}
	if end := n.Partition(name, 0).Log().EndOffset(); end != 0 {
		t.Fatalf("the new topic's partition ends at offset %d: it holds the deleted topic's records", end)
	}
}
