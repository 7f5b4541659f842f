package replication

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// errNotFound carries the exact text hashicorp/raft's HasExistingState checks.
var errNotFound = errors.New("not found")

// stableStore keeps one raft group's term and vote in a bucket of the node's
// shared bbolt file. Writes go through bolt's Batch so that the elections of
// many groups starting at once share fsyncs.
type stableStore struct {
	db      *bolt.DB
	commits *commitGroup // shared by the node's groups; nil: a commit per write
	reserve *diskReserve // given up if a write finds the disk full, then waited on (raft panics on a failed term write)
	bucket  []byte
}

func newStableStore(db *bolt.DB, commits *commitGroup, reserve *diskReserve, group string) *stableStore {
	return &stableStore{db: db, commits: commits, reserve: reserve, bucket: []byte("stable/" + group)}
}

// Set stores val under key, and writes nothing when it is already there:
// raft saves its current term again every time a group starts, and a node
// restarting on a full disk must not fail on a write that changes nothing
// (raft panics when the term cannot be saved).
func (s *stableStore) Set(key, val []byte) error {
	if cur, err := s.Get(key); err == nil && bytes.Equal(cur, val) {
		return nil
	}
	put := func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(s.bucket)
		if err != nil {
			return err
		}
		return b.Put(key, val)
	}
	return s.reserve.wait(func() error {
		if s.commits == nil {
			return s.db.Update(put)
		}
		return s.commits.run(put)
	})
}

func (s *stableStore) Get(key []byte) ([]byte, error) {
	var out []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(s.bucket)
		if b == nil {
			return errNotFound
		}
		v := b.Get(key)
		if v == nil {
			return errNotFound
		}
		out = append([]byte(nil), v...)
		return nil
	})
	return out, err
}

func (s *stableStore) SetUint64(key []byte, val uint64) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], val)
	return s.Set(key, b[:])
}

func (s *stableStore) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("stable key %q: bad length %d", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// drop removes the group's bucket (the group's partition was deleted).
func (s *stableStore) drop() error {
	del := func(tx *bolt.Tx) error {
		if tx.Bucket(s.bucket) == nil {
			return nil
		}
		return tx.DeleteBucket(s.bucket)
	}
	return s.reserve.write(func() error {
		if s.commits == nil {
			return s.db.Update(del)
		}
		return s.commits.run(del) // with the others of a deleted topic
	})
}

// boltLogStore is the raft log of the metadata controller group: small,
// rarely written entries, kept in a bucket of the shared bbolt file. Partition
// groups use logstore.Log instead, where the raft log is the Kafka log.
type boltLogStore struct {
	db      *bolt.DB
	reserve *diskReserve
	bucket  []byte
}

func newBoltLogStore(db *bolt.DB, reserve *diskReserve, group string) (*boltLogStore, error) {
	s := &boltLogStore{db: db, reserve: reserve, bucket: []byte("log/" + group)}
	err := reserve.write(func() error {
		return db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists(s.bucket)
			return err
		})
	})
	return s, err
}

func idxKey(i uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], i)
	return b[:]
}

func (s *boltLogStore) FirstIndex() (uint64, error) {
	var idx uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(s.bucket).Cursor().First()
		if k != nil {
			idx = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return idx, err
}

func (s *boltLogStore) LastIndex() (uint64, error) {
	var idx uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(s.bucket).Cursor().Last()
		if k != nil {
			idx = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return idx, err
}

// Entry encoding: term u64, type u8, appendedAt unix nanos i64, len(ext) u32, ext, data.
func encodeEntry(l *raft.Log) []byte {
	b := make([]byte, 0, 21+len(l.Extensions)+len(l.Data))
	b = binary.BigEndian.AppendUint64(b, l.Term)
	b = append(b, byte(l.Type))
	b = binary.BigEndian.AppendUint64(b, uint64(l.AppendedAt.UnixNano()))
	b = binary.BigEndian.AppendUint32(b, uint32(len(l.Extensions)))
	b = append(b, l.Extensions...)
	return append(b, l.Data...)
}

func decodeEntry(idx uint64, v []byte, l *raft.Log) error {
	if len(v) < 21 {
		return fmt.Errorf("raft entry %d: short (%d bytes)", idx, len(v))
	}
	n := binary.BigEndian.Uint32(v[17:21])
	if uint64(n) > uint64(len(v)-21) {
		return fmt.Errorf("raft entry %d: bad extensions length", idx)
	}
	*l = raft.Log{
		Index: idx,
		Term:  binary.BigEndian.Uint64(v[0:8]),
		Type:  raft.LogType(v[8]),
	}
	if ns := int64(binary.BigEndian.Uint64(v[9:17])); ns != 0 {
		l.AppendedAt = time.Unix(0, ns)
	}
	if n > 0 {
		l.Extensions = append([]byte(nil), v[21:21+n]...)
	}
	l.Data = append([]byte(nil), v[21+n:]...)
	return nil
}

func (s *boltLogStore) GetLog(index uint64, out *raft.Log) error {
	return s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(s.bucket).Get(idxKey(index))
		if v == nil {
			return raft.ErrLogNotFound
		}
		return decodeEntry(index, v, out)
	})
}

func (s *boltLogStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

func (s *boltLogStore) StoreLogs(logs []*raft.Log) error {
	return s.reserve.wait(func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(s.bucket)
			for _, l := range logs {
				if err := b.Put(idxKey(l.Index), encodeEntry(l)); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

func (s *boltLogStore) DeleteRange(min, max uint64) error {
	return s.reserve.wait(func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(s.bucket)
			var keys [][]byte
			c := b.Cursor()
			for k, _ := c.Seek(idxKey(min)); k != nil && binary.BigEndian.Uint64(k) <= max; k, _ = c.Next() {
				keys = append(keys, append([]byte(nil), k...))
			}
			for _, k := range keys {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// renameHexStableBuckets moves the term and vote of each partition group
// saved under its topic id in hex, as builds before topic ids were written
// in Kafka's base64 named the group (partitionGroup), to the bucket of the
// group's name now. Left where it was, a partition restarted at term 0 over
// a log of later terms: its leader epoch went back (batches stored at a
// lower epoch after higher ones, OffsetForLeaderEpoch of the old epoch
// undefined), and the old bucket was never dropped. Where both buckets
// exist (this build already ran on the directory), the one of the later
// term is kept, as raft's term must not go back.
func renameHexStableBuckets(db *bolt.DB) error {
	type move struct{ from, to []byte }
	var moves []move
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			rest, ok := strings.CutPrefix(string(name), "stable/")
			if !ok {
				return nil
			}
			idText, part, ok := strings.Cut(rest, "/")
			if !ok || len(idText) != 32 {
				return nil
			}
			var id TopicID
			if n, err := hex.Decode(id[:], []byte(idText)); err != nil || n != len(id) {
				return nil
			}
			moves = append(moves, move{bytes.Clone(name), []byte("stable/" + id.String() + "/" + part)})
			return nil
		})
	}); err != nil || len(moves) == 0 {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error {
		for _, m := range moves {
			from := tx.Bucket(m.from)
			if from == nil {
				continue
			}
			if to := tx.Bucket(m.to); to == nil || termOf(from) > termOf(to) {
				if to != nil {
					if err := tx.DeleteBucket(m.to); err != nil {
						return err
					}
				}
				nb, err := tx.CreateBucket(m.to)
				if err != nil {
					return err
				}
				if err := from.ForEach(func(k, v []byte) error { return nb.Put(bytes.Clone(k), bytes.Clone(v)) }); err != nil {
					return err
				}
			}
			if err := tx.DeleteBucket(m.from); err != nil {
				return err
			}
		}
		return nil
	})
}

// termOf is the current term a stable bucket holds; 0 if none.
func termOf(b *bolt.Bucket) uint64 {
	if v := b.Get(keyCurrentTerm); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}
