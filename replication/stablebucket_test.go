package replication

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gokafka/gokafka/logstore"
	bolt "go.etcd.io/bbolt"
)

// A partition's raft term and vote saved by a build that named its group by
// the topic id in hex are found under the name of today: the restarted
// partition leads at a later term, so its leader epoch does not go back
// below the epoch of the batches it holds. Before, the group started at
// term 0 and led at a term below its log's, and OffsetForLeaderEpoch of
// the old epoch was undefined.
func TestStableBucketLegacyHex(t *testing.T) {
	dir := t.TempDir()
	cfg, topic := nodeWithTopic(t, dir, "s", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// A few restarts, so the term is past what a fresh start reaches.
	var epoch int32
	for i := range 3 {
		n, err := StartNode(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.WaitTopicReady(ctx, "s"); err != nil {
			t.Fatal(err)
		}
		p := n.Partition("s", 0)
		batch := logstore.AppendBatch(nil, logstore.BatchOptions{ProducerID: -1}, []logstore.Record{{Value: []byte(fmt.Sprint(i))}})
		h, err := logstore.ParseBatchHeader(batch)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Append(batch, h).Wait(); err != nil {
			t.Fatal(err)
		}
		epoch = p.LeaderEpoch()
		if err := n.Close(); err != nil {
			t.Fatal(err)
		}
	}

	// Name the group's bucket as the older build did.
	db, err := bolt.Open(filepath.Join(dir, "node.db"), 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := []byte("stable/" + partitionGroup(topic.ID, 0))
	legacy := []byte("stable/" + hex.EncodeToString(topic.ID[:]) + "/0")
	if err := db.Update(func(tx *bolt.Tx) error {
		from := tx.Bucket(now)
		if from == nil {
			return fmt.Errorf("no bucket %s", now)
		}
		to, err := tx.CreateBucket(legacy)
		if err != nil {
			return err
		}
		if err := from.ForEach(func(k, v []byte) error { return to.Put(bytes.Clone(k), bytes.Clone(v)) }); err != nil {
			return err
		}
		return tx.DeleteBucket(now)
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	n, err := StartNode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.WaitTopicReady(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	p := n.Partition("s", 0)
	if got := p.LeaderEpoch(); got <= epoch {
		t.Fatalf("leader epoch after a restart over a hex-named raft bucket = %d, want above %d, the epoch of the batches stored", got, epoch)
	}
	if hw := p.HighWatermark(); hw != 3 {
		t.Fatalf("high watermark = %d, want 3", hw)
	}
	if err := n.db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(legacy) != nil {
			return fmt.Errorf("bucket %s is still there", legacy)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
