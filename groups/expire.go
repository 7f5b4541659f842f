package groups

import (
	"sort"
)

// ExpireOffsets applies offsets.retention (Kafka 2.1+, KIP-211): it
// tombstones the expired offsets of
//   - an Empty group with a protocol type: all of them once OffsetsRetention
//     has passed since the group became Empty;
//   - a group used only for offsets (no protocol type): each one
//     OffsetsRetention after its commit;
//   - a Stable consumer group: those of topics no member subscribes to,
//     OffsetsRetention after their commit;
//
// and, in those same cases only, an offset committed with an explicit
// retention (OffsetCommit v2-v4) at its own expiry instead. As in Kafka, a
// group in any other state (rebalancing, or active with another protocol
// type) keeps every offset, whatever retention it was committed with: its
// members may still need them. An Empty group left with no offsets becomes Dead and its
// metadata is tombstoned. Offsets with a commit in flight are kept. The
// broker calls it periodically; it returns once the tombstones are written.
func (s *Shard) ExpireOffsets() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	now := s.clock.Now()
	nowMs := now.UnixMilli()
	retention := s.cfg.OffsetsRetention.Milliseconds()
	for _, id := range s.sortedGroupIDs() {
		g := s.groups[id]
		var base func(o offset) int64 // retention counts from here; nil: nothing expires
		var subscribed map[string]bool
		switch {
		case g.state == stateEmpty && g.protocolType != "":
			base = func(o offset) int64 {
				if g.stateTime.IsZero() { // loaded from a record without a state time
					return o.commitMillis
				}
				return g.stateTime.UnixMilli()
			}
		case g.protocolType == "" && len(g.members) == 0:
			base = func(o offset) int64 { return o.commitMillis }
		case g.state == stateStable && g.protocolType == "consumer":
			if topics, ok := g.subscribedTopics(); ok {
				subscribed = topics
				base = func(o offset) int64 { return o.commitMillis }
			}
		}
		if base == nil {
			continue
		}
		expired := make(map[tp]bool)
		for k, o := range g.offsets {
			if g.inflight[k] > 0 || subscribed[k.topic] {
				continue
			}
			if o.expireMillis >= 0 {
				if nowMs >= o.expireMillis {
					expired[k] = true
				}
			} else if nowMs-base(o) >= retention {
				expired[k] = true
			}
		}
		s.dropOffsets(g, expired, "expired offsets")
	}
	s.unlockAndFlush()
}

// DeleteOffsets tombstones, in every group, the committed offsets of the
// partitions gone reports deleted, commits in flight included, as Kafka
// does when a topic is deleted, so that a topic created again under the
// name starts with none. A group left Empty with no offsets becomes Dead.
// The broker calls it when topics disappear from the metadata; it returns
// once the tombstones are written.
func (s *Shard) DeleteOffsets(gone func(topic string, partition int32) bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	for _, id := range s.sortedGroupIDs() {
		g := s.groups[id]
		drop := make(map[tp]bool)
		for k := range g.offsets {
			if gone(k.topic, k.part) {
				drop[k] = true
			}
		}
		for k := range g.inflight {
			if gone(k.topic, k.part) {
				drop[k] = true
			}
		}
		s.dropOffsets(g, drop, "removed the offsets of deleted partitions")
	}
	s.unlockAndFlush()
}

// dropOffsets tombstones the offsets of g in drop, and the group too if it
// is Empty and left with none; s.mu is held, and the caller flushes.
func (s *Shard) dropOffsets(g *group, drop map[tp]bool, what string) {
	remaining := 0
	for k := range g.offsets {
		if !drop[k] {
			remaining++
		}
	}
	dead := g.state == stateEmpty && len(g.members) == 0 && len(g.pending) == 0 &&
		len(g.inflight) == 0 && remaining == 0
	if !dead && len(drop) == 0 {
		return
	}
	recs := g.offsetTombstones(func(k tp) bool { return drop[k] })
	if dead {
		recs = append(recs, Record{Key: groupKey(g.id)})
		g.state = stateDead // until the tombstones are written
	}
	s.appendLocked(recs, func(err error) {
		if err != nil {
			s.log.Warn("writing offset tombstones failed", "why", what, "group", g.id, "err", err)
			if dead && g.state == stateDead {
				g.state = stateEmpty
			}
			return
		}
		for k := range drop {
			delete(g.offsets, k)
		}
		if len(drop) > 0 {
			s.log.Info(what, "group", g.id, "offsets", len(drop))
		}
		if dead {
			s.forget(g)
			s.log.Info("removed empty group", "group", g.id)
		}
	})
}

// sortedGroupIDs returns the ids of the shard's groups in order; s.mu is
// held.
func (s *Shard) sortedGroupIDs() []string {
	ids := make([]string, 0, len(s.groups))
	for id := range s.groups {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
