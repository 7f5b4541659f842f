package groups

import (
	"slices"
)

// The shard's log only grows: every commit and every group change appends a
// record, and __consumer_offsets is not compacted. A group committing on
// every poll wrote 4 MB a minute into its shard, which a restart replays
// whole. So the shard compacts its own log the way a checkpoint does: it
// keeps the latest record of every key it has appended or loaded, and once
// the log since its last checkpoint holds more than twice those bytes (and
// at least Config.CheckpointBytes), it appends them all again, in one go,
// behind every record before them, and has the store drop the log before
// them. Replaying the log from there gives the same latest value of every
// key, which is all Load keeps; records of keys it does not know (KIP-848's,
// say) are carried forward alike, as compaction keeps them.
//
// A record is taken as the latest when it is appended, before it is known
// to be stored: the checkpoint follows it in the log, so the two agree
// whenever it was stored. Where the append failed, the checkpoint may store
// the value the failed request asked for, which a client told of a failure
// must allow for anyway (the write may have happened).

// Checkpointer is a Store that can drop its log's records before a
// checkpoint.
type Checkpointer interface {
	Store
	// AppendCheckpoint appends recs, which restate the latest value of
	// every key, after everything appended so far; once they are stored,
	// it drops every record before them from the log.
	AppendCheckpoint(recs []Record) (wait func() error)
}

// recordOverhead is about what a record costs in a batch beyond its key and
// value (length, attributes, deltas, header count).
const recordOverhead = 8

// defaultCheckpointBytes is Config.CheckpointBytes's default.
const defaultCheckpointBytes = 16 << 20

// noteRecords takes recs, appended or loaded in log order, as the latest
// values of their keys (nil values remove them) and counts them into the
// log since the last checkpoint.
func (s *Shard) noteRecords(recs []Record) {
	if s.latest == nil {
		s.latest = make(map[string][]byte)
	}
	for _, r := range recs {
		if r.Key == nil {
			continue
		}
		k := string(r.Key)
		if old, ok := s.latest[k]; ok {
			s.liveBytes -= int64(len(k) + len(old) + recordOverhead)
		}
		if r.Value == nil {
			delete(s.latest, k)
		} else {
			s.latest[k] = r.Value
			s.liveBytes += int64(len(k) + len(r.Value) + recordOverhead)
		}
		s.logBytes += int64(len(r.Key) + len(r.Value) + recordOverhead)
	}
}

// MaybeCheckpoint checkpoints the log if it is due, as a write does: for a
// shard just loaded from a long log, which may get no write for a while.
func (s *Shard) MaybeCheckpoint() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maybeCheckpointLocked()
}

// maybeCheckpointLocked appends a checkpoint when the log since the last
// has grown past twice the latest records and CheckpointBytes, and the
// store can drop what it replaces.
func (s *Shard) maybeCheckpointLocked() {
	cp, ok := s.store.(Checkpointer)
	if !ok || s.closed || s.checkpointing || s.logBytes < max(s.cfg.CheckpointBytes, 2*s.liveBytes, s.retryAt) {
		return
	}
	keys := make([]string, 0, len(s.latest))
	for k := range s.latest {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the same state, the same checkpoint
	recs := make([]Record, len(keys))
	for i, k := range keys {
		recs[i] = Record{Key: []byte(k), Value: s.latest[k]}
	}
	before := s.logBytes
	s.logBytes = s.liveBytes
	s.checkpointing = true
	wait := cp.AppendCheckpoint(recs) // in order with the writes, under s.mu
	// Waited for on its own: it changes nothing the shard answers with,
	// so the writes after it are applied (their requests answered)
	// without waiting for a whole restatement and the start offset's move.
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := wait()
		s.mu.Lock()
		defer s.mu.Unlock()
		s.checkpointing = false
		if err != nil {
			// Nothing was replaced: the log holds what it held, what
			// of the checkpoint was stored, and what came since. The
			// next try waits for CheckpointBytes more, rather than
			// restating everything at every write.
			s.logBytes += before
			s.retryAt = s.logBytes + s.cfg.CheckpointBytes
			if !s.closed {
				s.log.Warn("checkpointing the offsets log failed; tried again once it grows by checkpoint bytes", "err", err, "bytes", s.cfg.CheckpointBytes)
			}
			return
		}
		s.retryAt = 0
		s.log.Info("checkpointed the offsets log: the records before the latest of each key are dropped",
			"records", len(recs), "bytes", s.liveBytes, "replaced_bytes", before)
	}()
}
