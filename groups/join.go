package groups

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// JoinGroup handles JoinGroup v0-v9. It blocks until the join phase of the
// rebalance ends (or ctx ends, answered with REQUEST_TIMED_OUT).
func (s *Shard) JoinGroup(ctx context.Context, req *kmsg.JoinGroupRequest, clientID, clientHost string) *kmsg.JoinGroupResponse {
	s.mu.Lock()
	ch, resp := s.join(req, clientID, clientHost)
	s.unlockAndFlush()
	if resp == nil {
		select {
		case resp = <-ch:
		case <-ctx.Done():
			resp = errJoin(kerr.RequestTimedOut.Code, req.MemberID)
		}
	}
	resp.Version = req.Version
	if req.Version < 9 {
		resp.SkipAssignment = false
	}
	return resp
}

// join validates the request and either answers it at once (resp) or
// returns the channel its answer will arrive on.
func (s *Shard) join(req *kmsg.JoinGroupRequest, clientID, clientHost string) (<-chan *kmsg.JoinGroupResponse, *kmsg.JoinGroupResponse) {
	fail := func(e *kerr.Error) (<-chan *kmsg.JoinGroupResponse, *kmsg.JoinGroupResponse) {
		return nil, errJoin(e.Code, req.MemberID)
	}
	if s.closed {
		return fail(kerr.NotCoordinator)
	}
	if req.Group == "" {
		return fail(kerr.InvalidGroupID)
	}
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	if session < s.cfg.MinSessionTimeout || session > s.cfg.MaxSessionTimeout {
		return fail(kerr.InvalidSessionTimeout)
	}
	rebalance := time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	if req.Version == 0 || rebalance <= 0 {
		rebalance = session // v0 has no rebalance timeout: Kafka uses the session timeout
	}
	if req.ProtocolType == "" || len(req.Protocols) == 0 {
		return fail(kerr.InconsistentGroupProtocol)
	}
	var instanceID *string
	if req.Version >= 5 && req.InstanceID != nil {
		instanceID = kmsg.StringPtr(*req.InstanceID)
	}

	g := s.groups[req.Group]
	if g == nil {
		if req.MemberID != "" {
			return fail(kerr.UnknownMemberID)
		}
		g = newGroup(req.Group, s.clock.Now())
		s.groups[req.Group] = g
	}
	if !s.accepts(g, req.MemberID, instanceID) {
		s.rejectFull(g, req.MemberID)
		return nil, errJoin(kerr.GroupMaxSizeReached.Code, "")
	}
	if g.state == stateDead {
		return fail(kerr.CoordinatorNotAvailable)
	}
	if !g.supports(req.MemberID, req.ProtocolType, req.Protocols) {
		return fail(kerr.InconsistentGroupProtocol)
	}
	j := joiner{req: req, instanceID: instanceID, clientID: clientID, clientHost: clientHost, session: session, rebalance: rebalance}
	if req.MemberID == "" {
		return s.joinUnknown(g, j)
	}
	return s.joinKnown(g, j)
}

type joiner struct {
	req                  *kmsg.JoinGroupRequest
	instanceID           *string
	clientID, clientHost string
	session, rebalance   time.Duration
}

// accepts is Kafka's acceptJoiningMember, the group.max.size check of a
// join. While the group prepares a rebalance it counts the members that have
// rejoined, not all members: the group may hold more than the limit (it was
// lowered, or was loaded over it), and the last members to rejoin are the
// ones turned away. Otherwise a member already in the group is always
// accepted and a new one only below the limit. Unlike Kafka, a static member
// rejoining without its member id (a restarted process) counts as the member
// it replaces, so that it is not turned away from a full Stable group.
func (s *Shard) accepts(g *group, memberID string, instanceID *string) bool {
	limit := s.cfg.MaxGroupSize
	if limit <= 0 {
		return true
	}
	if memberID == "" && instanceID != nil {
		if id, ok := g.static[*instanceID]; ok {
			memberID = id
		}
	}
	m := g.members[memberID]
	switch g.state {
	case stateEmpty, stateDead:
		return true
	case statePreparingRebalance:
		if m != nil && m.awaitingJoin() || len(g.members) < limit {
			return true
		}
		n := 0
		for _, o := range g.members {
			if o.awaitingJoin() {
				n++
			}
		}
		return n < limit
	}
	return m != nil || len(g.members) < limit
}

// rejectFull forgets a member turned away by accepts, as Kafka removes it: a
// pending member id, or a member that had not rejoined yet.
func (s *Shard) rejectFull(g *group, memberID string) {
	if t, ok := g.pending[memberID]; ok {
		stopTimer(t)
		delete(g.pending, memberID)
	} else if m := g.members[memberID]; m != nil {
		s.log.Info("member removed: group is full", "group", g.id, "member", memberID)
		s.dropMember(g, m, kerr.GroupMaxSizeReached.Code)
	}
	s.tryCompleteJoin(g)
}

// joinUnknown handles a join without a member id: a static member (known or
// new) or a new dynamic member, which from v4 on must first get its id with
// MEMBER_ID_REQUIRED (KIP-394).
func (s *Shard) joinUnknown(g *group, j joiner) (<-chan *kmsg.JoinGroupResponse, *kmsg.JoinGroupResponse) {
	if j.instanceID != nil {
		if oldID, ok := g.static[*j.instanceID]; ok {
			return s.replaceStatic(g, g.members[oldID], j)
		}
		return s.addMemberAndRebalance(g, newMemberID(*j.instanceID), j), nil
	}
	id := newMemberID(j.clientID)
	if j.req.Version >= 4 {
		s.addPending(g, id, j.session)
		return nil, errJoin(kerr.MemberIDRequired.Code, id)
	}
	return s.addMemberAndRebalance(g, id, j), nil
}

// addPending remembers a member id handed out with MEMBER_ID_REQUIRED; it is
// forgotten if the member does not join with it within its session timeout.
// A join phase waits for pending members too.
func (s *Shard) addPending(g *group, id string, session time.Duration) {
	g.pending[id] = s.afterFunc(session, func() {
		if _, ok := g.pending[id]; !ok || s.groups[g.id] != g {
			return
		}
		delete(g.pending, id)
		s.tryCompleteJoin(g)
	})
}

func (s *Shard) joinKnown(g *group, j joiner) (<-chan *kmsg.JoinGroupResponse, *kmsg.JoinGroupResponse) {
	id := j.req.MemberID
	if t, ok := g.pending[id]; ok {
		stopTimer(t)
		delete(g.pending, id)
		return s.addMemberAndRebalance(g, id, j), nil
	}
	// As Kafka: an instance id must be the member's own (FENCED_INSTANCE_ID
	// if another member has it, UNKNOWN_MEMBER_ID if none does), so that a
	// dynamic member cannot join as if it were static.
	if code := g.validateMember(id, j.instanceID); code != 0 {
		return nil, errJoin(code, id)
	}
	m := g.members[id]
	if m == nil {
		return nil, errJoin(kerr.UnknownMemberID.Code, id)
	}
	switch g.state {
	case statePreparingRebalance:
		ch := s.updateMember(m, j)
		s.tryCompleteJoin(g)
		return ch, nil
	case stateCompletingRebalance:
		if sameProtocols(m, j.req.Protocols) {
			// A retry of a join whose answer was lost: answer again.
			return nil, g.joinResponse(m)
		}
		ch := s.updateMember(m, j)
		s.prepareRebalance(g, "updating metadata for member "+m.id+" during CompletingRebalance"+clientReason(j.req.Reason))
		return ch, nil
	case stateStable:
		if m.id != g.leader && sameProtocols(m, j.req.Protocols) {
			// Nothing changed for a follower: no rebalance.
			return nil, g.joinResponse(m)
		}
		ch := s.updateMember(m, j)
		s.prepareRebalance(g, "updating metadata for member "+m.id+" during Stable"+clientReason(j.req.Reason))
		return ch, nil
	}
	return nil, errJoin(kerr.UnknownMemberID.Code, id)
}

// updateMember records a rejoin: new protocols and timeouts, and the member
// now awaits the end of the join phase.
func (s *Shard) updateMember(m *member, j joiner) <-chan *kmsg.JoinGroupResponse {
	if m.joinCh != nil {
		sendJoin(m, errJoin(kerr.RebalanceInProgress.Code, m.id)) // superseded
	}
	m.protocols = toProtocols(j.req.Protocols)
	m.sessionTimeout, m.rebalanceTimeout = j.session, j.rebalance
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	m.joinCh = ch
	return ch
}

func (s *Shard) addMemberAndRebalance(g *group, id string, j joiner) <-chan *kmsg.JoinGroupResponse {
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	m := &member{
		id:               id,
		instanceID:       j.instanceID,
		clientID:         j.clientID,
		clientHost:       j.clientHost,
		sessionTimeout:   j.session,
		rebalanceTimeout: j.rebalance,
		protocols:        toProtocols(j.req.Protocols),
		joinCh:           ch,
	}
	if len(g.members) == 0 {
		g.protocolType = j.req.ProtocolType
	}
	g.addMember(m)
	s.log.Debug("member joined", "group", g.id, "member", id, "client_id", j.clientID)
	if g.state == statePreparingRebalance {
		if g.initialDelay {
			g.newMemberAdded = true
		}
		s.tryCompleteJoin(g)
	} else {
		s.maybePrepareRebalance(g, "adding new member "+id+clientReason(j.req.Reason))
	}
	return ch
}

// replaceStatic handles a static member that rejoins without its member id
// (a restarted process): it takes a new member id, the old id is fenced, and
// in a Stable group whose protocol would not change the member gets the
// current generation without a rebalance (KIP-345).
func (s *Shard) replaceStatic(g *group, m *member, j joiner) (<-chan *kmsg.JoinGroupResponse, *kmsg.JoinGroupResponse) {
	oldID := m.id
	if m.joinCh != nil {
		sendJoin(m, errJoin(kerr.FencedInstanceID.Code, oldID))
	}
	if m.syncCh != nil {
		sendSync(m, errSync(kerr.FencedInstanceID.Code))
	}
	oldProtocols, oldSession, oldRebalance := m.protocols, m.sessionTimeout, m.rebalanceTimeout
	newID := newMemberID(*j.instanceID)
	oldLeader := g.leader
	g.renameMember(m, newID)
	s.log.Info("static member replaced", "group", g.id, "instance_id", *j.instanceID, "old_member", oldID, "member", newID)

	switch g.state {
	case stateStable:
		m.protocols = toProtocols(j.req.Protocols)
		m.sessionTimeout, m.rebalanceTimeout = j.session, j.rebalance
		if g.selectProtocol() != g.protocol {
			ch := make(chan *kmsg.JoinGroupResponse, 1)
			m.joinCh = ch
			s.prepareRebalance(g, "static member "+*j.instanceID+" rejoined with other protocols"+clientReason(j.req.Reason))
			return ch, nil
		}
		s.scheduleSession(g, m)
		ch := make(chan *kmsg.JoinGroupResponse, 1)
		gen := g.generation
		s.appendLocked([]Record{{Key: groupKey(g.id), Value: g.metadataValue(nil)}}, func(err error) {
			if err != nil {
				// Undo the replacement if nothing else changed it.
				if g.members[newID] == m && g.generation == gen {
					g.renameMember(m, oldID)
					m.protocols, m.sessionTimeout, m.rebalanceTimeout = oldProtocols, oldSession, oldRebalance
					s.scheduleSession(g, m)
				}
				ch <- errJoin(storeErrCode(err), oldID)
				return
			}
			resp := g.joinResponse(m)
			resp.MemberID = newID
			if j.req.Version >= 9 {
				resp.SkipAssignment = newID == g.leader // KIP-814: the leader must not reassign
			} else {
				// As Kafka: a client that cannot be told to skip its
				// assignment is told the leader's id from before the
				// replacement, and no members, so that a restarted
				// leader does not take itself for the leader and run an
				// assignment the stable group would ignore.
				resp.LeaderID, resp.Members = oldLeader, nil
			}
			ch <- resp
		})
		return ch, nil
	case stateCompletingRebalance:
		// The leader may already be assigning to the old id: rebalance.
		ch := s.updateMember(m, j)
		s.prepareRebalance(g, "static member "+*j.instanceID+" rejoined during CompletingRebalance"+clientReason(j.req.Reason))
		return ch, nil
	case statePreparingRebalance:
		ch := s.updateMember(m, j)
		s.tryCompleteJoin(g)
		return ch, nil
	}
	return nil, errJoin(kerr.UnknownMemberID.Code, "")
}

// maxClientReasonLog bounds the reason a client gives (KIP-800) as logged:
// a request may make it as long as itself.
const maxClientReasonLog = 256

// clientReason is the reason a client gave for a JoinGroup or LeaveGroup
// (KIP-800, v5 and later), as a rebalance's reason ends with it in
// Kafka's log; empty when it gave none.
func clientReason(r *string) string {
	if r == nil || *r == "" {
		return ""
	}
	s := *r
	if len(s) > maxClientReasonLog {
		s = s[:maxClientReasonLog] + "..."
	}
	return "; client reason: " + s
}
