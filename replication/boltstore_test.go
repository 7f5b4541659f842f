package replication

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// Setting a stable key to the value it holds writes nothing, so a group
// starting on a full disk (raft saves its term again at every start) does
// not fail on it; a new value is written and read back.
func TestStableStoreSetUnchangedWritesNothing(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "node.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := newStableStore(db, nil, nil, "g")
	pagesWritten := func() int64 {
		st := db.Stats()
		return st.TxStats.GetWrite()
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 3); err != nil {
		t.Fatal(err)
	}
	writes := pagesWritten()
	if writes == 0 {
		t.Fatal("the first Set wrote nothing")
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 3); err != nil {
		t.Fatal(err)
	}
	if got := pagesWritten(); got != writes {
		t.Fatalf("setting the same value wrote %d pages", got-writes)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 4); err != nil {
		t.Fatal(err)
	}
	if pagesWritten() == writes {
		t.Fatal("a new value was not written")
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 4 {
		t.Fatalf("GetUint64 = %d, %v; want 4", v, err)
	}
}
