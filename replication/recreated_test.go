package replication

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
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

// A deleted topic's directory that cannot be moved out of the way (here
// the data directory is immutable) is never opened for a topic made again
// under the name: the start fails and is tried again, and once the
// directory can go, the new topic starts empty. It was opened in its
// place, the deleted topic's records and all.
func TestDeletedTopicDirInTheWayNotAdopted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chattr needs root")
	}
	dir := t.TempDir()
	n, ctx := startNodeT(t, dir)
	create := func() {
		t.Helper()
		tp := &Topic{Name: "again", ID: NewTopicID(), Replicas: [][]int32{{1}}}
		if _, err := n.Controller().Propose(ctx, Command{Op: OpCreateTopic, Topic: tp}); err != nil {
			t.Fatal(err)
		}
	}
	create()
	if err := n.WaitTopicReady(ctx, "again"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		appendBig(t, n.Partition("again", 0), 100)
	}
	pdir := filepath.Join(dir, "again-0")
	saved := filepath.Join(t.TempDir(), "again-0")
	if out, err := exec.Command("cp", "-a", pdir, saved).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	if _, err := n.Controller().Propose(ctx, Command{Op: OpDeleteTopic, Name: "again"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { _, err := os.Stat(pdir); return os.IsNotExist(err) }, "the deleted topic's directory to go")
	// Back, as a deletion a crash cut short leaves it, and stuck.
	if out, err := exec.Command("cp", "-a", saved, pdir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v: %s", err, out)
	}
	unstick := func() { exec.Command("chattr", "-i", dir).Run() }
	t.Cleanup(unstick)

	create()
	time.Sleep(time.Second)
	if p := n.Partition("again", 0); p != nil {
		t.Fatalf("the new topic started on the deleted topic's directory: end offset %d", p.Log().EndOffset())
	}
	unstick()
	// The failed start is tried again within a few seconds.
	waitUntil(t, func() bool { p := n.Partition("again", 0); return p != nil && p.Ready() }, "the new topic to start")
	if end := n.Partition("again", 0).Log().EndOffset(); end != 0 {
		t.Fatalf("the new topic starts at end offset %d, want 0", end)
	}
}
