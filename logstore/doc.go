// Package logstore owns one Kafka partition's log on disk: segment files,
// sparse offset and time indexes, crash recovery, retention. The same files
// are the partition's raft log: *Log implements raft.LogStore (and
// raft.MonotonicLogStore), so every produced byte is written to disk once.
//
// It must never import other gokafka packages, never decode records on the
// produce path (headers only) but to convert the message sets of clients
// older than Kafka 0.11 (legacy.go), and never panic on file content.
//
// # Entries and offsets
//
// A raft entry for which IsBatch is true is a Kafka record batch (magic 2).
// StoreLogs patches its BaseOffset to EndOffset() and its
// PartitionLeaderEpoch to int32(Term - Config.EpochBase) (neither is
// covered by the CRC; Kafka's epochs start at 0, a raft group's first
// leader's term at 2), in place, and appends it to the active segment's
// .log exactly as it goes on the wire. Offsets are thus a pure function of the raft log. Any other entry
// (no-op, configuration, barrier, commands carrying Extensions) takes no
// offset and goes to the segment's .raftmeta sidecar.
//
// # Files, per partition directory
//
//	<base>.log        batches back to back; <base> is the 20-digit base offset
//	<base>.raftmeta   32-byte header: "GKMETA\x00\x01", first raft index (u64),
//	                  creation time unix ms (i64), CRC-32C of those 24 bytes, pad.
//	                  Then records: length u32 (whole record), CRC-32C u32 (of
//	                  the rest), raft index u64, term u64, logPos u64 (the .log
//	                  size when written: batches at positions >= logPos come
//	                  after it), appendedAt unix ns i64, type u8, extLen u32,
//	                  extensions, data.
//	<base>.raft       32-byte header: "GKRAFT\x00\x01", first raft index, pad;
//	                  then one 32-byte record per raft index: position u64 and
//	                  length u32 in .log (kind 0) or .raftmeta (kind 1), type u8,
//	                  kind u8, pad u16, term u64, appendedAt unix ns i64.
//	                  GetLog is one record read plus one pread.
//	<base>.index      sparse, 8 bytes per entry: relative base offset u32,
//	                  position u32; one entry for the first batch and then one
//	                  each IndexIntervalBytes of log.
//	<base>.timeindex  same entries, 12 bytes: largest batch max timestamp so
//	                  far in the segment i64, relative base offset u32.
//	leader-epoch-checkpoint  Kafka text layout: version, count, "epoch start".
//	log-start-offset  same layout, one line: the DeleteRecords start offset.
//	clean-shutdown    same layout, one line: the log end offset; written by
//	                  Close, removed by Open (empty from older versions).
//	corrupt-batches   same layout, "segment position offset": the batches
//	                  recovery kept although their CRC fails (see Recovery).
//	emptied-below-start  same layout, "index term": the last raft entry of
//	                  the segments recovery set aside because the disk cut
//	                  the log below its start offset (Log.EmptiedBelowStart).
//
// All integers are big-endian. The active segment's sparse indexes are
// also kept in memory; its .raft (an entry a batch, too many to hold) and
// every file of a sealed segment are read with pread. A sealed
// segment keeps only its .log open: its other files are closed when it is
// sealed and when they sit unread (Log.CloseIdleFiles, which the broker
// runs with its retention checks), and opened again when read. A segment rolls
// when its .log would pass SegmentBytes, when a batch's timestamp is more
// than SegmentMs (less the segment's jitter) past its first batch's, as in
// Kafka, or when its indexes, or its .raft, hold SegmentIndexBytes/12
// entries (Kafka's time index entry size: its indexes are full then).
//
// # Durability
//
// With FsyncInterval 0 each StoreLogs writes each touched file once and
// fsyncs the data files before returning: the sidecar first, then the .log.
// That order is what recovery relies on: a batch that survived has every
// sidecar record before it on disk too, so batches fill the raft indexes
// that sidecar records do not take, in order. The derived files (.raft,
// .index, .timeindex) are not fsynced per call; they are fsynced when the
// segment is sealed (rolled) and at Close, and rebuilt after a crash.
// Suffix truncation cuts and fsyncs the .log before the sidecar. The .log is
// synced with fdatasync (data and size, not timestamps). When every call
// syncs and the syncs are small, the .log is kept written with zeros ahead
// of its data, so a sync writes data blocks only: no allocation, no extent
// or size change. The
// zeros are cut off when the segment is sealed or closed; after a crash
// recovery stops at the first all-zero batch header and cuts the rest.
// Otherwise its space is reserved with fallocate(FALLOC_FL_KEEP_SIZE), so
// the file size still marks the end of the data, and released the same way.
//
// With DeferSync (single-voter raft groups), a StoreLogs that only appends
// batches to the active segment writes and returns; the sync goroutine
// fdatasyncs the segment and then calls OnStored, in log order, and
// DurableEnd moves to what it synced. Every other mutation, Sync and Close
// first wait for the queued syncs, so the file order above still holds;
// retention's deletions wait for them too, since the snapshot they go by
// may cover entries not yet synced. A failed deferred sync is reported to
// OnStoreFailed and stops the log.
//
// A roll makes the new segment's files only once the segment it follows is
// written, synced and sealed, so a crash can tear only the tail of the last
// segment holding data: the segments after it hold nothing but headers,
// and recovery checks that one's tail as the last's.
//
// FsyncInterval > 0 fsyncs in the background at most that often, like
// Kafka's flush.ms: acknowledged writes may be lost on power loss (raft then
// relies on the other replicas), and because the page cache may write the
// .log back before the sidecar, a power loss can in rare cases misplace
// batches after a lost sidecar record; the process crashing (kill -9) alone
// loses nothing. The background sync runs outside the write lock, so
// appends never wait for it.
//
// # Recovery
//
// Without the clean-shutdown marker, Open re-reads the last segment from its
// start, checking each batch's CRC, length, contiguous offsets and
// non-decreasing epoch, and each sidecar record's CRC and raft index; it
// cuts both files at the first damage (logging dir, offset and bytes) and
// rewrites that segment's derived files. Derived files of any segment that are
// missing or inconsistent are rebuilt the same way. Segments that do not
// follow their predecessor are dropped. After a clean close the tail of the
// last segment has its CRCs checked too, but a batch whose only fault is its
// CRC is cut only from the tail of the last segment after a crash, where a
// write may be torn: anywhere else it was synced, so the disk changed it,
// and it is kept, with the batches after it, and logged as an error. Its
// header past the CRC field is as damaged as its records: it gives no
// timestamp, and it ends where the batch after it starts, or where its
// segment ends (the next segment's base; for the last, after a clean
// close, the end offset the marker holds), its counts serving only where
// nothing else tells. A sealed segment's derived files are checked at a
// start by their ends, not record by record (that would read them whole):
// a .raft record found damaged when raft reads it (Log.GetLog) has the
// segment's derived files rebuilt from its data then; where the data is
// damaged too, nothing is cut while the log is open, and the next start
// rebuilds the segment and cuts it there.
//
// # Deletion and recycling
//
// Raft's prefix DeleteRange (log compaction), ApplyRetention and
// SetStartOffset remove whole segments only. Retention and DeleteRecords
// never delete a segment holding raft entries above the last snapshot
// (maxIndex / SetSnapshotIndex): raft replays those on restart. Time and
// size retention may take the active segment too, as Kafka rolls and
// deletes it: the log is then empty at LSO = LEO, the next StoreLogs starts
// a segment at any raft index, and the partition's newest snapshot (which
// ends at that offset) is what raft restarts from. Note that
// raft's own log compaction deletes Kafka data, so partition groups should
// run raft with a TrailingLogs large enough that retention, not compaction,
// decides.
//
// The .log files of a deleted partition can go to a Recycler
// (Recycler.PutDir), which overwrites them with zeros and syncs them in the
// background; with Config.Recycler set, a new segment takes one of those
// files rather than creating its .log. Its batches overwrite the zeros, and
// what is left past them is cut when the segment is sealed or closed,
// exactly as for zero-filled space; after a crash recovery stops at the
// first all-zero header, so a deleted partition's batches can never
// reappear.
package logstore
