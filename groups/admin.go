package groups

import (
	"context"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupType is the KIP-848 group type of every group here (ListGroups v5+).
const groupType = "classic"

// DescribeGroup answers one group of DescribeGroups v0-v5. An unknown group
// is described as Dead with no error, as Kafka does before v6. Member
// metadata and assignments are shown only when the group is Stable.
func (s *Shard) DescribeGroup(groupID string) kmsg.DescribeGroupsResponseGroup {
	d := kmsg.NewDescribeGroupsResponseGroup()
	d.Group = groupID
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		d.ErrorCode = kerr.NotCoordinator.Code
		return d
	}
	g := s.groups[groupID]
	if g == nil {
		d.State = stateDead.String()
		return d
	}
	d.State = g.state.String()
	d.ProtocolType = g.protocolType
	stable := g.state == stateStable
	if stable {
		d.Protocol = g.protocol
	}
	for _, id := range g.order {
		m := g.members[id]
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID = m.id
		dm.InstanceID = m.instanceID
		dm.ClientID = m.clientID
		dm.ClientHost = m.clientHost
		if stable {
			dm.ProtocolMetadata = m.metadataFor(g.protocol)
			dm.MemberAssignment = m.assignment
		}
		d.Members = append(d.Members, dm)
	}
	return d
}

// ListGroups lists the shard's groups, keeping those whose state (v4+) and
// type (v5+) match the filters case-insensitively; an empty filter keeps all.
func (s *Shard) ListGroups(statesFilter, typesFilter []string) []kmsg.ListGroupsResponseGroup {
	// As Kafka, which trims the states asked for (as Java's String.trim),
	// though not the types.
	states := make([]string, len(statesFilter))
	for i, f := range statesFilter {
		states[i] = strings.TrimFunc(f, func(r rune) bool { return r <= ' ' })
	}
	match := func(filter []string, v string) bool {
		if len(filter) == 0 {
			return true
		}
		for _, f := range filter {
			if strings.EqualFold(f, v) {
				return true
			}
		}
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	out := make([]kmsg.ListGroupsResponseGroup, 0, len(s.groups))
	for _, g := range s.groups {
		if g.state == stateDead || !match(states, g.state.String()) || !match(typesFilter, groupType) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group = g.id
		lg.ProtocolType = g.protocolType
		lg.GroupState = g.state.String()
		lg.GroupType = groupType
		out = append(out, lg)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}

// DeleteGroup deletes an Empty group: tombstones for its offsets and its
// metadata are persisted, then it is forgotten. GROUP_ID_NOT_FOUND if
// unknown, NON_EMPTY_GROUP if it has members.
func (s *Shard) DeleteGroup(ctx context.Context, groupID string) int16 {
	s.mu.Lock()
	code, w := s.deleteGroup(groupID)
	s.unlockAndFlush()
	if code != 0 || w == nil {
		return code
	}
	if !awaitApplied(ctx, w.write) {
		return kerr.RequestTimedOut.Code
	}
	return w.code
}

func (s *Shard) deleteGroup(groupID string) (int16, *codeWrite) {
	if s.closed {
		return kerr.NotCoordinator.Code, nil
	}
	g := s.groups[groupID]
	switch {
	case g == nil || g.state == stateDead:
		return kerr.GroupIDNotFound.Code, nil
	case g.state != stateEmpty:
		return kerr.NonEmptyGroup.Code, nil
	}
	recs := g.offsetTombstones(nil)
	recs = append(recs, Record{Key: groupKey(g.id)})
	// Dead while the tombstones are written: joins and commits get
	// COORDINATOR_NOT_AVAILABLE and retry.
	prevTime := g.stateTime
	g.transition(stateDead, s.clock.Now())
	cw := &codeWrite{}
	cw.write = s.appendLocked(recs, func(err error) {
		if err != nil {
			cw.code = storeErrCode(err)
			g.state, g.stateTime = stateEmpty, prevTime
			return
		}
		s.forget(g)
		s.log.Info("group deleted", "group", g.id)
	})
	return 0, cw
}

// codeWrite is a write whose outcome is one error code.
type codeWrite struct {
	*write
	code int16 // set by apply, read after applied is closed
}

// offsetTombstones returns tombstones for the offsets of the group in keep
// (nil: all), including commits still in flight, which apply before them.
func (g *group) offsetTombstones(keep func(tp) bool) []Record {
	var keys []tp
	for k := range g.offsets {
		if keep == nil || keep(k) {
			keys = append(keys, k)
		}
	}
	for k := range g.inflight {
		if _, ok := g.offsets[k]; !ok && (keep == nil || keep(k)) {
			keys = append(keys, k)
		}
	}
	sortTPs(keys)
	recs := make([]Record, 0, len(keys)+1)
	for _, k := range keys {
		recs = append(recs, Record{Key: offsetKey(g.id, k.topic, k.part)})
	}
	return recs
}

// forget removes a deleted (Dead) group from memory.
func (s *Shard) forget(g *group) {
	if s.groups[g.id] != g {
		return
	}
	stopTimer(g.rebalanceTimer)
	stopTimer(g.syncTimer)
	for _, t := range g.pending {
		stopTimer(t)
	}
	delete(s.groups, g.id)
}

// OffsetDelete handles OffsetDelete v0: it removes committed offsets of an
// Empty group, or of topics a consumer group is not subscribed to
// (GROUP_SUBSCRIBED_TO_TOPIC otherwise). A non-consumer group with members
// gets NON_EMPTY_GROUP.
func (s *Shard) OffsetDelete(ctx context.Context, req *kmsg.OffsetDeleteRequest) *kmsg.OffsetDeleteResponse {
	resp := kmsg.NewPtrOffsetDeleteResponse()
	resp.Version = req.Version
	for _, t := range req.Topics {
		rt := kmsg.OffsetDeleteResponseTopic{Topic: t.Topic}
		for _, p := range t.Partitions {
			rt.Partitions = append(rt.Partitions, kmsg.OffsetDeleteResponseTopicPartition{Partition: p.Partition})
		}
		resp.Topics = append(resp.Topics, rt)
	}
	s.mu.Lock()
	code, cw := s.offsetDelete(req, resp)
	s.unlockAndFlush()
	if code != 0 {
		resp.ErrorCode = code
		resp.Topics = nil
		return resp
	}
	if cw == nil {
		return resp
	}
	if !awaitApplied(ctx, cw.write) {
		resp.ErrorCode = kerr.RequestTimedOut.Code
		resp.Topics = nil
		return resp
	}
	if cw.code != 0 {
		resp.ErrorCode = cw.code
		resp.Topics = nil
	}
	return resp
}

func (s *Shard) offsetDelete(req *kmsg.OffsetDeleteRequest, resp *kmsg.OffsetDeleteResponse) (int16, *codeWrite) {
	if s.closed {
		return kerr.NotCoordinator.Code, nil
	}
	if req.Group == "" {
		// As Kafka: the empty group id, which commits and fetches accept
		// for old clients, is no group OffsetDelete works on.
		return kerr.InvalidGroupID.Code, nil
	}
	g := s.groups[req.Group]
	if g == nil || g.state == stateDead {
		return kerr.GroupIDNotFound.Code, nil
	}
	var subscribed func(string) bool
	if g.state != stateEmpty {
		if g.protocolType != "consumer" {
			return kerr.NonEmptyGroup.Code, nil
		}
		topics, ok := g.subscribedTopics()
		subscribed = func(t string) bool { return !ok || topics[t] }
	}
	deleting := make(map[tp]bool)
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			if subscribed != nil && subscribed(t.Topic) {
				resp.Topics[i].Partitions[j].ErrorCode = kerr.GroupSubscribedToTopic.Code
				continue
			}
			deleting[tp{t.Topic, p.Partition}] = true
		}
	}
	recs := g.offsetTombstones(func(k tp) bool { return deleting[k] })
	if len(recs) == 0 {
		return 0, nil
	}
	cw := &codeWrite{}
	cw.write = s.appendLocked(recs, func(err error) {
		if err != nil {
			cw.code = storeErrCode(err)
			return
		}
		for k := range deleting {
			delete(g.offsets, k)
		}
	})
	return 0, cw
}
