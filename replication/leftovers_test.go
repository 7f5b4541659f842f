package replication

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestIsLeftover(t *testing.T) {
	now := strconv.FormatInt(time.Now().UnixNano(), 36)
	for name, want := range map[string]bool{
		"orders-0" + deletedMark + now:       true,
		"a.deleted-1" + deletedMark + now:    true,
		"orders-0":                           false,
		"t.deleted-0":                        false, // partition 0 of topic "t.deleted"
		"t-1.deleted-2147483647":             false, // the largest partition number
		"t.deleted-zzzzzz":                   false, // not a time
		"orders-0" + deletedMark:             false,
		"orders-0" + deletedMark + "-1":      false,
		"orders-0" + deletedMark + now + "x": false,
		recycleDir:                           false,
	} {
		if got := isLeftover(name); got != want {
			t.Errorf("isLeftover(%q) = %v, want %v", name, got, want)
		}
	}
	// A topic of the longest name Kafka allows is deleted under a name
	// that fits NAME_MAX, and is known for a leftover.
	long := filepath.Join(t.TempDir(), strings.Repeat("l", 249)+"-7")
	if tmp := filepath.Base(deletingPath(long, time.Now().UnixNano())); len(tmp) > maxNameLen || !isLeftover(tmp) || !strings.Contains(tmp, "-7"+deletedMark) {
		t.Errorf("%s deleted as %s (%d characters)", filepath.Base(long), tmp, len(tmp))
	}
}

// TestStartRemovesLeftovers: a partition directory renamed for deletion
// by a process that stopped before removing it is gone once the node
// starts again, and its segment goes to the recycler; a live-looking
// directory whose name holds the mark stays.
func TestStartRemovesLeftovers(t *testing.T) {
	dir := t.TempDir()
	left := filepath.Join(dir, "orders-0"+deletedMark+strconv.FormatInt(time.Now().UnixNano(), 36))
	keep := filepath.Join(dir, "t.deleted-0")
	for _, d := range []string{left, keep} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "00000000000000000000.log"), make([]byte, 4096), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n, err := StartNode(Config{NodeID: 1, DataDir: dir, RaftListen: "127.0.0.1:0", RecycleBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("leftover %s: stat err %v, want it removed", left, err)
	}
	if _, err := os.Stat(filepath.Join(keep, "00000000000000000000.log")); err != nil {
		t.Errorf("%s: %v, want it kept", keep, err)
	}
	ents, err := os.ReadDir(filepath.Join(dir, recycleDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		t.Errorf("recycle dir holds %d files, want the leftover's segment", len(ents))
	}
}
