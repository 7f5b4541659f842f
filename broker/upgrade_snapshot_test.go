package broker

import (
	"encoding/json"
	"hash/crc64"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestRetryAfterUpgradeFromSnapshotWithoutTimestamps: a partition snapshot
// written before batches kept their max timestamp (no max_ts, as every
// build before 1c80d77 wrote them) still holds its producers after the
// start, so the retry of the last batch acknowledged before the upgrade is
// answered with its first offset and not appended again, as Kafka loads its
// producer state. Before, the first leadership took every such producer for
// one idle since 1970 and expired it, and the retry was stored twice.
func TestRetryAfterUpgradeFromSnapshotWithoutTimestamps(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	cl := newClient(t, b)
	createTopic(t, cl, "up", 1, nil)
	now := time.Now().UnixMilli()
	first := encodeBatch(now, 7, 0, 0, values(2, "a"))
	last := encodeBatch(now, 7, 0, 2, values(3, "b"))
	for i, batch := range [][]byte{first, last} {
		if rp := produceRaw(t, cl, "up", 0, -1, batch); rp.ErrorCode != 0 {
			t.Fatalf("produce %d: %v", i, kerr.ErrorForCode(rp.ErrorCode))
		}
	}
	cl.Close()
	b.Close()

	// Rewrite the newest snapshot as an older build wrote it.
	snaps, _ := filepath.Glob(filepath.Join(dir, "up-0", "snapshots", "snapshots", "*", "state.bin"))
	if len(snaps) == 0 {
		t.Fatal("no partition snapshot written at the stop")
	}
	state := snaps[len(snaps)-1]
	raw, err := os.ReadFile(state)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	delete(s, "producer_times")
	stripped := 0
	for _, p := range s["producers"].(map[string]any) {
		for _, bm := range p.(map[string]any)["batches"].([]any) {
			if _, ok := bm.(map[string]any)["max_ts"]; ok {
				delete(bm.(map[string]any), "max_ts")
				stripped++
			}
		}
	}
	if stripped == 0 {
		t.Fatalf("snapshot holds no batch with max_ts: %s", raw)
	}
	old, _ := json.Marshal(s)
	old = append(old, '\n')
	if err := os.WriteFile(state, old, 0o644); err != nil {
		t.Fatal(err)
	}
	metaPath := filepath.Join(filepath.Dir(state), "meta.json")
	mb, err := os.ReadFile(metaPath)
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	if err := json.Unmarshal(mb, &meta); err != nil {
		t.Fatal(err)
	}
	h := crc64.New(crc64.MakeTable(crc64.ECMA))
	h.Write(old)
	meta["CRC"] = h.Sum(nil)
	meta["Size"] = len(old)
	mb, _ = json.Marshal(meta)
	if err := os.WriteFile(metaPath, mb, 0o644); err != nil {
		t.Fatal(err)
	}

	b = startBroker(t, dir, nil)
	defer b.Close()
	cl = newClient(t, b)
	waitFor(t, func() bool { p := b.node.Partition("up", 0); return p != nil && p.Ready() }, "partition up-0 leading")
	if rp := produceRaw(t, cl, "up", 0, -1, last); rp.ErrorCode != 0 || rp.BaseOffset != 2 {
		t.Fatalf("retry of the last batch after the start: %v at %d, want its first offset 2", kerr.ErrorForCode(rp.ErrorCode), rp.BaseOffset)
	}
	if rp := produceRaw(t, cl, "up", 0, -1, encodeBatch(now, 7, 0, 5, values(1, "c"))); rp.ErrorCode != 0 || rp.BaseOffset != 5 {
		t.Fatalf("the next batch: %v at %d, want stored at 5", kerr.ErrorForCode(rp.ErrorCode), rp.BaseOffset)
	}
}
