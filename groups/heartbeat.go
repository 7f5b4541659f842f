package groups

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Heartbeat handles Heartbeat v0-v4: it keeps the member's session alive
// and tells it when the group is rebalancing.
func (s *Shard) Heartbeat(req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	resp := kmsg.NewPtrHeartbeatResponse()
	resp.Version = req.Version
	s.mu.Lock()
	defer s.mu.Unlock()
	resp.ErrorCode = s.heartbeat(req)
	return resp
}

func (s *Shard) heartbeat(req *kmsg.HeartbeatRequest) int16 {
	if s.closed {
		return kerr.NotCoordinator.Code
	}
	if req.Group == "" {
		return kerr.InvalidGroupID.Code
	}
	g := s.groups[req.Group]
	if g == nil {
		return kerr.UnknownMemberID.Code
	}
	if g.state == stateDead {
		return kerr.CoordinatorNotAvailable.Code
	}
	var instanceID *string
	if req.Version >= 3 {
		instanceID = req.InstanceID
	}
	if code := g.validateMember(req.MemberID, instanceID); code != 0 {
		return code
	}
	if req.Generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	m := g.members[req.MemberID]
	switch g.state {
	case stateEmpty:
		return kerr.UnknownMemberID.Code
	case statePreparingRebalance:
		s.scheduleSession(g, m)
		return kerr.RebalanceInProgress.Code
	}
	s.scheduleSession(g, m)
	return 0
}
