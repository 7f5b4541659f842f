// Package groups is the consumer-group coordinator of one coordinator shard:
// the groups whose id hashes to one partition of __consumer_offsets.
//
// It owns the classic group protocol state machine (Empty,
// PreparingRebalance, CompletingRebalance, Stable, Dead), the members'
// session and rebalance timers, and the committed offsets. Durable state is
// written as Kafka's own __consumer_offsets records (OffsetCommitKey/Value,
// GroupMetadataKey/Value) through an injected Store, and rebuilt from those
// records with Shard.Load.
//
// It must never do I/O of its own: no sockets, no files, no raft. Time comes
// from an injected Clock so that every timer-driven path can be tested
// deterministically with FakeClock. The broker decodes requests, routes them
// to the shard that owns the group and encodes the responses; the shard
// chooses every Kafka error code itself.
//
// Concurrency: one mutex per Shard guards all of its groups. It is held
// briefly and never across a Store wait; JoinGroup and SyncGroup block on
// per-member channels outside the lock. Store appends are made under the lock
// (so records are appended in the order they must apply) and their effects
// are applied to memory strictly in that same order, after the store commits
// them.
package groups
