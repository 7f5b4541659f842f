package groups

import (
	"bytes"
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// SyncGroup handles SyncGroup v0-v5. Followers block until the leader's
// assignment is persisted (or ctx ends, answered with REQUEST_TIMED_OUT).
func (s *Shard) SyncGroup(ctx context.Context, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	s.mu.Lock()
	ch, resp := s.sync(req)
	s.unlockAndFlush()
	if resp == nil {
		select {
		case resp = <-ch:
		case <-ctx.Done():
			resp = errSync(kerr.RequestTimedOut.Code)
		}
	}
	resp.Version = req.Version
	return resp
}

func syncResponse(g *group, assignment []byte) *kmsg.SyncGroupResponse {
	resp := kmsg.NewPtrSyncGroupResponse()
	resp.ProtocolType = kmsg.StringPtr(g.protocolType)
	resp.Protocol = kmsg.StringPtr(g.protocol)
	resp.MemberAssignment = assignment
	return resp
}

func (s *Shard) sync(req *kmsg.SyncGroupRequest) (<-chan *kmsg.SyncGroupResponse, *kmsg.SyncGroupResponse) {
	fail := func(code int16) (<-chan *kmsg.SyncGroupResponse, *kmsg.SyncGroupResponse) {
		return nil, errSync(code)
	}
	if s.closed {
		return fail(kerr.NotCoordinator.Code)
	}
	if req.Group == "" {
		return fail(kerr.InvalidGroupID.Code)
	}
	g := s.groups[req.Group]
	if g == nil {
		return fail(kerr.UnknownMemberID.Code)
	}
	if g.state == stateDead {
		return fail(kerr.CoordinatorNotAvailable.Code)
	}
	var instanceID *string
	if req.Version >= 3 {
		instanceID = req.InstanceID
	}
	if code := g.validateMember(req.MemberID, instanceID); code != 0 {
		return fail(code)
	}
	if req.Generation != g.generation {
		return fail(kerr.IllegalGeneration.Code)
	}
	if req.ProtocolType != nil && *req.ProtocolType != g.protocolType ||
		req.Protocol != nil && *req.Protocol != g.protocol {
		return fail(kerr.InconsistentGroupProtocol.Code)
	}
	m := g.members[req.MemberID]
	switch g.state {
	case stateEmpty:
		return fail(kerr.UnknownMemberID.Code)
	case statePreparingRebalance:
		return fail(kerr.RebalanceInProgress.Code)
	case stateStable:
		delete(g.pendingSync, m.id)
		s.scheduleSession(g, m)
		return nil, syncResponse(g, m.assignment)
	}

	// CompletingRebalance: wait for the leader's assignment.
	if m.syncCh != nil {
		sendSync(m, errSync(kerr.RebalanceInProgress.Code)) // superseded
	}
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	m.syncCh = ch
	delete(g.pendingSync, m.id)
	if m.id == g.leader && !g.syncWriting {
		s.persistAssignment(g, req.GroupAssignment)
	}
	return ch, nil
}

// persistAssignment writes the leader's assignment; once committed the
// group is Stable and every waiting member gets its part. Members the leader
// left out get an empty assignment, as in Kafka.
func (s *Shard) persistAssignment(g *group, assigned []kmsg.SyncGroupRequestGroupAssignment) {
	assignments := make(map[string][]byte, len(g.members))
	for _, a := range assigned {
		if _, ok := g.members[a.MemberID]; ok {
			assignments[a.MemberID] = bytes.Clone(a.MemberAssignment)
		}
	}
	for id := range g.members {
		if assignments[id] == nil {
			assignments[id] = []byte{}
		}
	}
	g.syncWriting = true
	gen := g.generation
	s.appendLocked([]Record{{Key: groupKey(g.id), Value: g.metadataValue(assignments)}}, func(err error) {
		if s.groups[g.id] != g || g.state != stateCompletingRebalance || g.generation != gen {
			return // a new rebalance has already answered the waiting members
		}
		g.syncWriting = false
		if err != nil {
			s.log.Warn("persisting group assignment failed", "group", g.id, "generation", gen, "err", err)
			s.failSyncs(g, storeErrCode(err))
			s.prepareRebalance(g, "persisting the assignment failed")
			return
		}
		for id, m := range g.members {
			m.assignment = assignments[id]
		}
		g.transition(stateStable, s.clock.Now())
		s.log.Info("group stable", "group", g.id, "generation", gen, "members", len(g.members))
		for _, id := range g.order {
			m := g.members[id]
			if m.syncCh != nil {
				sendSync(m, syncResponse(g, m.assignment))
				s.scheduleSession(g, m)
			}
		}
	})
}
