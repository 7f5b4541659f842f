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

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRestartOnFullDisk: a disk that another program filled while gokafkad
// was down does not crash it at the restart (raft must save each group's
// new term, and hashicorp/raft panics when it cannot): the node frees the
// space it set aside for that, comes up and serves what it holds. It needs
// a small filesystem of its own: a tmpfs, so root.
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
	if _, err := os.Stat(filepath.Join(data, "reserve")); err != nil {
		t.Fatalf("no reserve in the data directory: %v", err)
	}
	b.Stop()

	fill := filepath.Join(mnt, "fill")
	f, err := os.Create(fill)
	if err != nil {
		t.Fatal(err)
	}
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
	f.Close()

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
}
