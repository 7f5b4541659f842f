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
// and an offset committed with an explicit retention (OffsetCommit v1-v4) at
// its own expiry. An Empty group left with no offsets becomes Dead and its
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
	ids := make([]string, 0, len(s.groups))
	for id := range s.groups {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		g := s.groups[id]
		var base func(o offset) int64 // retention counts from here; nil: only explicit expiry
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
		expired := make(map[tp]bool)
		for k, o := range g.offsets {
			if g.inflight[k] > 0 || subscribed[k.topic] {
				continue
			}
			if o.expireMillis >= 0 {
				if nowMs >= o.expireMillis {
					expired[k] = true
				}
			} else if base != nil && nowMs-base(o) >= retention {
				expired[k] = true
			}
		}
		dead := g.state == stateEmpty && len(g.members) == 0 && len(g.pending) == 0 &&
			len(g.inflight) == 0 && len(expired) == len(g.offsets)
		if !dead && len(expired) == 0 {
			continue
		}
		recs := g.offsetTombstones(func(k tp) bool { return expired[k] })
		if dead {
			recs = append(recs, Record{Key: groupKey(g.id)})
			g.state = stateDead // until the tombstones are written
		}
		s.appendLocked(recs, func(err error) {
			if err != nil {
				s.log.Warn("expiring offsets failed", "group", g.id, "err", err)
				if dead && g.state == stateDead {
					g.state = stateEmpty
				}
				return
			}
			for k := range expired {
				delete(g.offsets, k)
			}
			if len(expired) > 0 {
				s.log.Info("expired offsets", "group", g.id, "offsets", len(expired))
			}
			if dead {
				s.forget(g)
				s.log.Info("removed empty group", "group", g.id)
			}
		})
	}
	s.unlockAndFlush()
}
