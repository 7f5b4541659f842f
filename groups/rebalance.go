package groups

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file holds the transitions of the classic protocol shared by the
// handlers and the timers. Everything here runs with s.mu held.

func sendJoin(m *member, resp *kmsg.JoinGroupResponse) {
	m.joinCh <- resp
	m.joinCh = nil
}

func sendSync(m *member, resp *kmsg.SyncGroupResponse) {
	m.syncCh <- resp
	m.syncCh = nil
}

func errJoin(code int16, memberID string) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.ErrorCode = code
	resp.MemberID = memberID
	return resp
}

func errSync(code int16) *kmsg.SyncGroupResponse {
	resp := kmsg.NewPtrSyncGroupResponse()
	resp.ErrorCode = code
	return resp
}

// joinResponse is the current generation as m sees it: the leader gets every
// member with its metadata for the selected protocol.
func (g *group) joinResponse(m *member) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.Generation = g.generation
	resp.ProtocolType = kmsg.StringPtr(g.protocolType)
	resp.Protocol = kmsg.StringPtr(g.protocol)
	resp.LeaderID = g.leader
	resp.MemberID = m.id
	if m.id == g.leader {
		for _, id := range g.order {
			o := g.members[id]
			resp.Members = append(resp.Members, kmsg.JoinGroupResponseMember{
				MemberID:         o.id,
				InstanceID:       o.instanceID,
				ProtocolMetadata: o.metadataFor(g.protocol),
			})
		}
	}
	return resp
}

// scheduleSession (re)starts m's session timer: a heartbeat, commit, join or
// sync keeps the member alive for another session timeout.
func (s *Shard) scheduleSession(g *group, m *member) {
	stopTimer(m.session)
	seq := s.nextSeq()
	m.sessionSeq = seq
	m.session = s.afterFunc(m.sessionTimeout, func() { s.sessionExpired(g, m, seq) })
}

func (s *Shard) sessionExpired(g *group, m *member, seq uint64) {
	if s.groups[g.id] != g || g.members[m.id] != m || m.sessionSeq != seq {
		return
	}
	if m.joinCh != nil || m.syncCh != nil {
		// A member blocked in JoinGroup or SyncGroup is alive; the
		// rebalance and pending-sync timeouts bound those waits.
		s.scheduleSession(g, m)
		return
	}
	s.log.Info("member session expired", "group", g.id, "member", m.id, "generation", g.generation)
	s.removeMember(g, m, kerr.UnknownMemberID.Code, "removing member "+m.id+" on session expiration")
}

// removeMember drops m from the group, answers whatever it is blocked on
// with code and moves the group on: a rebalance, or the end of the join
// phase if it was only waiting for m.
func (s *Shard) removeMember(g *group, m *member, code int16, reason string) {
	s.dropMember(g, m, code)
	switch g.state {
	case stateStable, stateCompletingRebalance:
		s.prepareRebalance(g, reason)
	case statePreparingRebalance:
		s.tryCompleteJoin(g)
	}
}

// dropMember removes m from the group's bookkeeping without a transition.
func (s *Shard) dropMember(g *group, m *member, code int16) {
	stopTimer(m.session)
	m.sessionSeq = 0
	if m.joinCh != nil {
		sendJoin(m, errJoin(code, m.id))
	}
	if m.syncCh != nil {
		sendSync(m, errSync(code))
	}
	delete(g.members, m.id)
	for i, id := range g.order {
		if id == m.id {
			g.order = append(g.order[:i:i], g.order[i+1:]...)
			break
		}
	}
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	delete(g.pendingSync, m.id)
	if g.leader == m.id {
		g.leader = ""
		if len(g.order) > 0 {
			g.leader = g.order[0]
		}
	}
}

func (s *Shard) maybePrepareRebalance(g *group, reason string) {
	switch g.state {
	case stateStable, stateCompletingRebalance, stateEmpty:
		s.prepareRebalance(g, reason)
	}
}

// prepareRebalance starts a join phase. An empty group waits the initial
// delay (extended while members keep arriving, up to the rebalance timeout);
// otherwise the phase ends when every member has rejoined or when the
// rebalance timeout fires.
//
// reason says why, as Kafka's "Preparing to rebalance group ... (reason:
// ...)": with several rebalances in a row (a cooperative assignor makes
// two for each change) the log says which member did what.
func (s *Shard) prepareRebalance(g *group, reason string) {
	if g.state == stateCompletingRebalance {
		s.failSyncs(g, kerr.RebalanceInProgress.Code)
	}
	stopTimer(g.syncTimer)
	stopTimer(g.rebalanceTimer)
	g.syncTimer, g.rebalanceTimer = nil, nil
	g.pendingSync = nil
	g.syncWriting = false
	seq := s.nextSeq()
	g.rebalanceSeq = seq

	wasEmpty := g.state == stateEmpty
	g.transition(statePreparingRebalance, s.clock.Now())
	s.log.Info("preparing rebalance", "group", g.id, "generation", g.generation, "members", len(g.members), "reason", reason)
	timeout := g.rebalanceTimeout()
	if wasEmpty && s.cfg.InitialRebalanceDelay > 0 {
		g.initialDelay = true
		g.newMemberAdded = false
		g.delayRemaining = max(timeout-s.cfg.InitialRebalanceDelay, 0)
		g.rebalanceTimer = s.afterFunc(s.cfg.InitialRebalanceDelay, func() { s.initialDelayExpired(g, seq) })
		return
	}
	g.initialDelay = false
	g.rebalanceTimer = s.afterFunc(timeout, func() { s.rebalanceExpired(g, seq) })
	s.tryCompleteJoin(g)
}

func (s *Shard) initialDelayExpired(g *group, seq uint64) {
	if s.groups[g.id] != g || g.rebalanceSeq != seq || g.state != statePreparingRebalance {
		return
	}
	if g.newMemberAdded && g.delayRemaining > 0 {
		d := min(s.cfg.InitialRebalanceDelay, g.delayRemaining)
		g.delayRemaining = max(g.delayRemaining-s.cfg.InitialRebalanceDelay, 0)
		g.newMemberAdded = false
		g.rebalanceTimer = s.afterFunc(d, func() { s.initialDelayExpired(g, seq) })
		return
	}
	g.initialDelay = false
	s.completeJoin(g)
}

func (s *Shard) rebalanceExpired(g *group, seq uint64) {
	if s.groups[g.id] != g || g.rebalanceSeq != seq || g.state != statePreparingRebalance {
		return
	}
	s.completeJoin(g)
}

func (s *Shard) tryCompleteJoin(g *group) {
	if g.state == statePreparingRebalance && !g.initialDelay && g.allJoined() {
		s.completeJoin(g)
	}
}

// completeJoin ends the join phase: dynamic members that did not rejoin are
// removed, the generation is bumped and every joined member is answered.
func (s *Shard) completeJoin(g *group) {
	for _, id := range append([]string(nil), g.order...) {
		if m := g.members[id]; !m.awaitingJoin() && m.instanceID == nil {
			s.log.Info("member did not rejoin in time", "group", g.id, "member", id)
			s.dropMember(g, m, kerr.UnknownMemberID.Code)
		}
	}
	if l := g.members[g.leader]; l == nil || !l.awaitingJoin() {
		for _, id := range g.order {
			if g.members[id].awaitingJoin() {
				g.leader = id
				break
			}
		}
	}
	if l := g.members[g.leader]; len(g.members) > 0 && (l == nil || !l.awaitingJoin()) {
		// Only static members that have not rejoined are left: wait
		// another rebalance timeout for them to rejoin or expire.
		seq := s.nextSeq()
		g.rebalanceSeq = seq
		g.rebalanceTimer = s.afterFunc(g.rebalanceTimeout(), func() { s.rebalanceExpired(g, seq) })
		return
	}
	stopTimer(g.rebalanceTimer)
	g.rebalanceTimer = nil
	g.rebalanceSeq = s.nextSeq()
	g.generation++
	now := s.clock.Now()

	if len(g.members) == 0 {
		g.protocol = ""
		g.leader = ""
		g.transition(stateEmpty, now)
		s.log.Info("group is empty", "group", g.id, "generation", g.generation)
		// Nobody waits for this record: like Kafka, a failure is only
		// logged (the group is Empty either way).
		id := g.id
		s.appendLocked([]Record{{Key: groupKey(g.id), Value: g.metadataValue(nil)}}, func(err error) {
			if err != nil {
				s.log.Warn("persisting empty group failed", "group", id, "err", err)
			}
		})
		return
	}

	g.protocol = g.selectProtocol()
	g.rebalances++
	g.transition(stateCompletingRebalance, now)
	s.log.Info("join phase complete", "group", g.id, "generation", g.generation,
		"protocol", g.protocol, "leader", g.leader, "members", len(g.members))
	g.pendingSync = make(map[string]bool, len(g.members))
	for _, id := range g.order {
		g.pendingSync[id] = true
	}
	seq := g.rebalanceSeq
	g.syncTimer = s.afterFunc(g.rebalanceTimeout(), func() { s.syncExpired(g, seq) })
	for _, id := range g.order {
		m := g.members[id]
		if m.awaitingJoin() {
			sendJoin(m, g.joinResponse(m))
			s.scheduleSession(g, m)
		}
	}
}

// syncExpired removes the members that have not sent SyncGroup within the
// rebalance timeout after the join phase, and rebalances without them.
func (s *Shard) syncExpired(g *group, seq uint64) {
	if s.groups[g.id] != g || g.rebalanceSeq != seq || len(g.pendingSync) == 0 {
		return
	}
	if g.state != stateCompletingRebalance && g.state != stateStable {
		return
	}
	for id := range g.pendingSync {
		if m := g.members[id]; m != nil {
			s.log.Info("member did not sync in time", "group", g.id, "member", id)
			s.dropMember(g, m, kerr.UnknownMemberID.Code)
		}
	}
	g.pendingSync = nil
	s.prepareRebalance(g, "members did not sync in time")
}

// failSyncs answers every member waiting for its assignment with code and
// forgets the assignments, as Kafka does when a sync cannot complete.
func (s *Shard) failSyncs(g *group, code int16) {
	for _, m := range g.members {
		m.assignment = nil
		if m.syncCh != nil {
			sendSync(m, errSync(code))
			// It was alive while it waited: its session starts again
			// now, as Kafka re-arms it when answering a pending sync,
			// not from the last heartbeat before the wait.
			s.scheduleSession(g, m)
		}
	}
}
