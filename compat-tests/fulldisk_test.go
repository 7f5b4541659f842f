package compattests

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	bolt "go.etcd.io/bbolt"
)

// TestRestartOnFullDisk: a disk that another program filled while gokafkad
// was down does not crash it at the restart (raft must save each group's
// new term, and hashicorp/raft panics when it cannot): the node frees the
// space it set aside for that, comes up and serves what it holds. When the
// disk fills again with that space spent, raft's writes wait for free space
// instead, and the node comes up once there is some. It needs a small
// filesystem of its own: a tmpfs, so root.
func TestRestartOnFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v: %s", mnt, err, out)
		}
	})
	data := filepath.Join(mnt, "data")
	b := startBroker(t, "--data-dir", data)
	ctx := testCtx(t, 90*time.Second)
	adm := newAdm(t, b.Addr())
	createTopic(t, ctx, adm, "kept", 3, nil)
	cl := newKgo(t, b.Addr(), kgo.DefaultProduceTopic("kept"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 30 {
		r := &kgo.Record{Partition: int32(i % 3), Value: []byte{byte(i)}}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce before the disk fills: %v", err)
		}
	}
	cl.Close()
	// A group's commit makes the node lead __consumer_offsets too: fifty
	// more raft groups that save new terms together at each restart.
	offs := make(kadm.Offsets)
	offs.Add(kadm.Offset{Topic: "kept", Partition: 0, At: 10})
	if resp, err := adm.CommitOffsets(ctx, "g", offs); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}
	if _, err := os.Stat(filepath.Join(data, "reserve")); err != nil {
		t.Fatalf("no reserve in the data directory: %v", err)
	}
	b.Stop()

	// node.db compacted, it has (almost) no free page left: the terms the
	// groups save together at the restart must grow it, which the full
	// disk refuses.
	compactNodeDB(t, data)
	fill := filepath.Join(mnt, "fill")
	fillUp(t, fill)

	b.Restart()
	for p := range int32(3) {
		if got := consumeExactly(t, ctx, b.Addr(), "kept", p, 10); len(got) != 10 {
			t.Fatalf("partition %d: %d records after the restart, want 10", p, len(got))
		}
	}
	logs := b.Logs()
	if strings.Contains(logs, "panic") {
		t.Fatalf("the broker panicked:\n%s", clip(logs, 20, 60))
	}
	if !strings.Contains(logs, "freed the space set aside for metadata writes") {
		t.Fatalf("the log does not say the reserve was freed:\n%s", clip(logs, 20, 60))
	}

	// The freed reserve is room the free-space guard
	// (log.dir.min.free.bytes) lets produce use, down to its threshold.
	pr := newKgo(t, b.Addr(), kgo.DefaultProduceTopic("kept"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := pr.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatalf("produce after the restart: %v", err)
	}
	pr.Close()
	b.Stop()

	// The disk fills again, with the reserve spent: raft's term writes
	// wait for space, logged, instead of panicking, and the node comes up
	// once space is freed.
	compactNodeDB(t, data)
	fillUp(t, fill)
	logsBefore := len(b.Logs())
	started := make(chan error, 1)
	go func() { started <- b.launch() }()
	deadline := time.Now().Add(30 * time.Second)
	var startErr error
	up := false
	for !strings.Contains(b.Logs()[logsBefore:], "raft waits for free space") {
		select {
		case startErr = <-started:
			if startErr != nil {
				t.Fatalf("gokafkad on a full disk with the reserve spent: %v\n%s", startErr, clip(b.Logs()[logsBefore:], 20, 60))
			}
			up = true
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no wait for free space logged:\n%s", clip(b.Logs()[logsBefore:], 20, 60))
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	if !up {
		if err := <-started; err != nil {
			t.Fatalf("gokafkad did not come up once space was freed: %v", err)
		}
	}
	for p, want := range []int{11, 10, 10} { // "after" went to partition 0
		if got := consumeExactly(t, ctx, b.Addr(), "kept", int32(p), want); len(got) != want {
			t.Fatalf("partition %d: %d records after the second fill, want %d", p, len(got), want)
		}
	}
	if logs := b.Logs()[logsBefore:]; strings.Contains(logs, "panic") || !strings.Contains(logs, "no longer waiting") {
		t.Fatalf("want no panic and the end of the wait logged:\n%s", clip(logs, 20, 60))
	}
	pr = newKgo(t, b.Addr(), kgo.DefaultProduceTopic("kept"))
	freed := &kgo.Record{Value: []byte("freed")}
	if err := pr.ProduceSync(ctx, freed).FirstErr(); err != nil {
		t.Fatalf("produce once space was freed: %v", err)
	}
	freedAt := freed.Partition
	pr.Close()
	b.Stop()

	// Stopped while raft waits for space, the node exits cleanly (no
	// panic from raft's failed term write), and starts with all it held
	// once space is freed.
	compactNodeDB(t, data)
	fillUp(t, fill)
	logsBefore = len(b.Logs())
	go func() { started <- b.launch() }()
	deadline = time.Now().Add(30 * time.Second)
	for !strings.Contains(b.Logs()[logsBefore:], "raft waits for free space") {
		if time.Now().After(deadline) {
			t.Fatalf("no wait for free space logged:\n%s", clip(b.Logs()[logsBefore:], 20, 60))
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.Stop()
	<-started
	if logs := b.Logs()[logsBefore:]; strings.Contains(logs, "panic") {
		t.Fatalf("stopped while waiting for space, the broker panicked:\n%s", clip(logs, 20, 60))
	}
	if err := os.Remove(fill); err != nil {
		t.Fatal(err)
	}
	b.Restart()
	for p, want := range []int{11, 10, 10} {
		if p == int(freedAt) {
			want++
		}
		if got := consumeExactly(t, ctx, b.Addr(), "kept", int32(p), want); len(got) != want {
			t.Fatalf("partition %d: %d records after the third fill, want %d", p, len(got), want)
		}
	}
	b.Stop()
}

// compactNodeDB rewrites the node's node.db without free pages, so that
// the next write transaction must grow the file.
func compactNodeDB(t *testing.T, dataDir string) {
	t.Helper()
	path := filepath.Join(dataDir, "node.db")
	src, err := bolt.Open(path, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := bolt.Open(path+".compact", 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bolt.Compact(dst, src, 0); err != nil {
		t.Fatalf("compact node.db: %v", err)
	}
	if err := errors.Join(src.Close(), dst.Close(), os.Rename(path+".compact", path)); err != nil {
		t.Fatal(err)
	}
}

// fillUp appends to path until the filesystem has no block left.
func fillUp(t *testing.T, path string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			break
		}
	}
	for { // the last few blocks, below a chunk
		if _, err := f.Write(chunk[:512]); err != nil {
			break
		}
	}
}
