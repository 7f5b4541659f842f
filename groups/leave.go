package groups

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// LeaveGroup handles LeaveGroup v0-v5: v0-v2 remove one member, v3+ a batch
// of members given by member id and/or group instance id, each with its own
// error code. It returns once a resulting empty group is persisted.
func (s *Shard) LeaveGroup(ctx context.Context, req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	resp := kmsg.NewPtrLeaveGroupResponse()
	resp.Version = req.Version
	leaving := req.Members
	if req.Version < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	s.mu.Lock()
	resp.ErrorCode = s.leave(req.Group, leaving, resp)
	s.unlockAndFlush()
	if req.Version < 3 {
		if resp.ErrorCode == 0 && len(resp.Members) == 1 {
			resp.ErrorCode = resp.Members[0].ErrorCode
		}
		resp.Members = nil
	}
	return resp
}

func (s *Shard) leave(groupID string, leaving []kmsg.LeaveGroupRequestMember, resp *kmsg.LeaveGroupResponse) int16 {
	if s.closed {
		return kerr.NotCoordinator.Code
	}
	if groupID == "" {
		return kerr.InvalidGroupID.Code
	}
	g := s.groups[groupID]
	if g != nil && g.state == stateDead {
		return kerr.CoordinatorNotAvailable.Code
	}
	for _, lm := range leaving {
		code := s.leaveOne(g, lm)
		resp.Members = append(resp.Members, kmsg.LeaveGroupResponseMember{
			MemberID:   lm.MemberID,
			InstanceID: lm.InstanceID,
			ErrorCode:  code,
		})
	}
	return 0
}

func (s *Shard) leaveOne(g *group, lm kmsg.LeaveGroupRequestMember) int16 {
	if g == nil {
		return kerr.UnknownMemberID.Code
	}
	id := lm.MemberID
	_, isPending := g.pending[id]
	switch {
	case id == "":
		// Administrative removal of a static member by instance id.
		if lm.InstanceID == nil {
			return kerr.UnknownMemberID.Code
		}
		cur, ok := g.static[*lm.InstanceID]
		if !ok {
			return kerr.UnknownMemberID.Code
		}
		id = cur
	case isPending:
		stopTimer(g.pending[id])
		delete(g.pending, id)
		s.tryCompleteJoin(g)
		return 0
	default:
		if code := g.validateMember(id, lm.InstanceID); code != 0 {
			return code
		}
	}
	s.log.Info("member left", "group", g.id, "member", id)
	s.removeMember(g, g.members[id], kerr.UnknownMemberID.Code, "removing member "+id+" on LeaveGroup"+clientReason(lm.Reason))
	return 0
}
