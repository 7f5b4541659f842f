package groups

import (
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Load replays records read back from the shard's partition, in log order,
// before the shard serves requests (it may be called several times with
// consecutive chunks; call Loaded after the last). The latest value of a key
// wins and tombstones remove. A group loaded with members is Stable; a group
// without members is Empty. Records that cannot be decoded are logged and
// skipped.
func (s *Shard) Load(recs []Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.noteRecords(recs)
	now := s.clock.Now()
	touched := make(map[*group]bool)
	for i, r := range recs {
		d, err := decodeRecord(r)
		if err != nil {
			s.log.Warn("skipping undecodable __consumer_offsets record", "index", i, "err", err)
			continue
		}
		if !d.isOffset && !d.isGroup {
			continue
		}
		g := s.groups[d.group]
		if g == nil {
			g = newGroup(d.group, time.Time{})
			s.groups[d.group] = g
		}
		touched[g] = true
		switch {
		case d.isOffset && d.offset == nil:
			delete(g.offsets, tp{d.topic, d.part})
		case d.isOffset:
			v := d.offset
			o := offset{offset: v.Offset, leaderEpoch: -1, metadata: v.Metadata, commitMillis: v.CommitTimestamp, expireMillis: -1}
			if v.Version >= 3 {
				o.leaderEpoch = v.LeaderEpoch
			}
			if v.Version == 1 {
				o.expireMillis = v.ExpireTimestamp
			}
			g.offsets[tp{d.topic, d.part}] = o
		case d.meta == nil:
			s.resetMetadata(g)
		default:
			s.loadMetadata(g, d.meta)
		}
	}
	for g := range touched {
		if s.groups[g.id] != g {
			continue
		}
		if len(g.members) == 0 && g.protocolType == "" && g.generation == 0 && len(g.offsets) == 0 {
			delete(s.groups, g.id) // only tombstones left
			continue
		}
		if g.stateTime.IsZero() && g.state != stateEmpty {
			g.stateTime = now
		}
	}
}

// Loaded ends the load: the session timers of the loaded members start, so
// members that are gone expire and their groups rebalance, and a group with
// more members than group.max.size starts a rebalance at once. Not before:
// a timer firing between two chunks would write (an Empty group's record,
// a checkpoint of only the chunks read so far, which drops the rest of the
// log) and then be overwritten in memory by the older records still to
// come. Kafka too schedules the heartbeats of loaded groups once the
// partition is loaded.
func (s *Shard) Loaded() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	for _, id := range s.sortedGroupIDs() {
		g := s.groups[id]
		for _, mid := range g.order {
			s.scheduleSession(g, g.members[mid])
		}
		if s.cfg.MaxGroupSize > 0 && len(g.members) > s.cfg.MaxGroupSize && g.state == stateStable {
			// As Kafka: a group over a lowered group.max.size
			// rebalances, and the members that rejoin last are
			// turned away (see accepts).
			s.log.Info("loaded group is over capacity", "group", g.id, "members", len(g.members), "max", s.cfg.MaxGroupSize)
			s.prepareRebalance(g, "the group is over group.max.size")
		}
	}
	s.unlockAndFlush()
}

func (s *Shard) resetMetadata(g *group) {
	for _, m := range g.members {
		stopTimer(m.session)
	}
	g.members = make(map[string]*member)
	g.static = make(map[string]string)
	g.order = nil
	g.protocolType, g.protocol, g.leader, g.generation = "", "", "", 0
	g.transition(stateEmpty, time.Time{})
}

func (s *Shard) loadMetadata(g *group, v *kmsg.GroupMetadataValue) {
	s.resetMetadata(g)
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	if v.Protocol != nil {
		g.protocol = *v.Protocol
	}
	for _, vm := range v.Members {
		if _, dup := g.members[vm.MemberID]; dup {
			continue // a corrupt record; member ids are unique
		}
		if vm.InstanceID != nil {
			if _, dup := g.static[*vm.InstanceID]; dup {
				continue
			}
		}
		m := &member{
			id:               vm.MemberID,
			instanceID:       vm.InstanceID,
			clientID:         vm.ClientID,
			clientHost:       vm.ClientHost,
			sessionTimeout:   time.Duration(vm.SessionTimeoutMillis) * time.Millisecond,
			rebalanceTimeout: time.Duration(vm.RebalanceTimeoutMillis) * time.Millisecond,
			assignment:       vm.Assignment,
		}
		// Timeouts were validated when the member joined; never trust a
		// record to keep timers from firing in a loop.
		if m.sessionTimeout < s.cfg.MinSessionTimeout {
			m.sessionTimeout = s.cfg.MinSessionTimeout
		}
		if m.rebalanceTimeout <= 0 {
			m.rebalanceTimeout = m.sessionTimeout
		}
		// Only the selected protocol's metadata is stored.
		m.protocols = []protocol{{name: g.protocol, metadata: vm.Subscription}}
		g.addMember(m)
	}
	if v.Leader != nil && g.members[*v.Leader] != nil {
		g.leader = *v.Leader
	}
	var ts time.Time
	if v.Version >= 2 && v.CurrentStateTimestamp >= 0 {
		ts = time.UnixMilli(v.CurrentStateTimestamp)
	}
	if len(g.members) > 0 {
		g.transition(stateStable, ts)
	} else {
		g.transition(stateEmpty, ts)
	}
}
