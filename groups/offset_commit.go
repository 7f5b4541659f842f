package groups

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetCommit handles OffsetCommit v0-v9. Offsets are persisted (one
// OffsetCommitValue record per partition) before they are visible to
// OffsetFetch and before the commit is acknowledged.
func (s *Shard) OffsetCommit(ctx context.Context, req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	resp := kmsg.NewPtrOffsetCommitResponse()
	resp.Version = req.Version
	for _, t := range req.Topics {
		rt := kmsg.OffsetCommitResponseTopic{Topic: t.Topic, TopicID: t.TopicID}
		for _, p := range t.Partitions {
			rt.Partitions = append(rt.Partitions, kmsg.OffsetCommitResponseTopicPartition{Partition: p.Partition})
		}
		resp.Topics = append(resp.Topics, rt)
	}
	setAll := func(code int16) *kmsg.OffsetCommitResponse {
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				resp.Topics[i].Partitions[j].ErrorCode = code
			}
		}
		return resp
	}

	s.mu.Lock()
	code, w := s.commit(req, resp)
	s.unlockAndFlush()
	if code != 0 {
		return setAll(code)
	}
	if w != nil && !awaitApplied(ctx, w) {
		// The apply may still write into resp: answer with a copy.
		out := *resp
		out.Topics = nil
		for _, t := range resp.Topics {
			rt := kmsg.OffsetCommitResponseTopic{Topic: t.Topic, TopicID: t.TopicID}
			for _, p := range t.Partitions {
				rt.Partitions = append(rt.Partitions, kmsg.OffsetCommitResponseTopicPartition{Partition: p.Partition, ErrorCode: kerr.RequestTimedOut.Code})
			}
			out.Topics = append(out.Topics, rt)
		}
		return &out
	}
	return resp
}

// commit validates the commit and appends its records. A non-zero code
// applies to every partition; otherwise per-partition codes are set in resp,
// now or when w is applied.
func (s *Shard) commit(req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse) (int16, *write) {
	if s.closed {
		return kerr.NotCoordinator.Code, nil
	}
	if req.Version >= 10 {
		return kerr.UnsupportedVersion.Code, nil // the broker resolves topic ids and commits as v9
	}
	var instanceID *string
	if req.Version >= 7 {
		instanceID = req.InstanceID
	}
	g := s.groups[req.Group]
	created := false
	if g == nil {
		if req.Generation >= 0 {
			// A member of a generation this coordinator does not know:
			// as Kafka, GROUP_ID_NOT_FOUND from v9, which the new consumer
			// protocol's clients understand too, and ILLEGAL_GENERATION
			// before.
			if req.Version >= 9 {
				return kerr.GroupIDNotFound.Code, nil
			}
			return kerr.IllegalGeneration.Code, nil
		}
		// A group used only to store offsets (simple consumer).
		g = newGroup(req.Group, s.clock.Now())
		s.groups[req.Group] = g
		created = true
	}
	if g.state == stateDead {
		return kerr.CoordinatorNotAvailable.Code, nil
	}
	var m *member
	switch {
	case req.Generation < 0 && g.state == stateEmpty:
		// As Kafka: no generation, on a group with no members, is the
		// admin client or a consumer assigning its own partitions, which
		// may send its member or instance id, and is taken as it is.
	case req.Generation >= 0 || req.MemberID != "" || instanceID != nil:
		if code := g.validateMember(req.MemberID, instanceID); code != 0 {
			return code, nil
		}
		if req.Generation != g.generation {
			return kerr.IllegalGeneration.Code, nil
		}
		m = g.members[req.MemberID]
	default:
		// Only members commit to a group with members.
		return kerr.UnknownMemberID.Code, nil
	}
	if g.state == stateCompletingRebalance {
		// The member knows the new generation but has no assignment yet.
		return kerr.RebalanceInProgress.Code, nil
	}
	if m != nil {
		s.scheduleSession(g, m)
	}

	now := s.clock.Now()
	expire := int64(-1)
	// As Kafka: only -1 is "no retention time"; any other value, negative
	// too, is added to the commit time.
	if req.Version >= 2 && req.Version <= 4 && req.RetentionTimeMillis != -1 {
		expire = now.Add(time.Duration(req.RetentionTimeMillis) * time.Millisecond).UnixMilli()
	}
	type slot struct{ t, p int }
	var (
		recs  []Record
		slots []slot
		tps   []tp
		offs  []offset
	)
	for i, t := range req.Topics {
		for j, p := range t.Partitions {
			md := ""
			if p.Metadata != nil {
				md = *p.Metadata
			}
			if len(md) > s.cfg.OffsetMetadataMaxBytes && javaLen(md) > s.cfg.OffsetMetadataMaxBytes {
				resp.Topics[i].Partitions[j].ErrorCode = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			o := offset{offset: p.Offset, leaderEpoch: -1, metadata: md, commitMillis: now.UnixMilli(), expireMillis: expire}
			if req.Version >= 6 {
				o.leaderEpoch = p.LeaderEpoch
			}
			if req.Version == 1 && p.Timestamp != -1 {
				// v1 carried the commit time. As Kafka since 2.1
				// (KIP-211), it is only that: retention counts from
				// it as from any commit time, and an Empty group's
				// offsets are kept from when it became Empty.
				o.commitMillis = p.Timestamp
			}
			k := tp{t.Topic, p.Partition}
			recs = append(recs, Record{Key: offsetKey(g.id, k.topic, k.part), Value: offsetValue(o)})
			slots = append(slots, slot{i, j})
			tps = append(tps, k)
			offs = append(offs, o)
		}
	}
	if len(recs) == 0 {
		if created {
			delete(s.groups, g.id)
		}
		return 0, nil
	}
	for _, k := range tps {
		g.inflight[k]++
	}
	w := s.appendLocked(recs, func(err error) {
		for _, k := range tps {
			if g.inflight[k]--; g.inflight[k] <= 0 {
				delete(g.inflight, k)
			}
		}
		if err != nil {
			code := storeErrCode(err)
			if errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) {
				code = kerr.InvalidCommitOffsetSize.Code // as Kafka
			}
			for _, sl := range slots {
				resp.Topics[sl.t].Partitions[sl.p].ErrorCode = code
			}
			if created && len(g.offsets) == 0 && len(g.members) == 0 && len(g.inflight) == 0 &&
				len(g.pending) == 0 && g.state == stateEmpty && s.groups[g.id] == g {
				delete(s.groups, g.id) // leave no trace of the failed commit
			}
			return
		}
		for i, k := range tps {
			g.offsets[k] = offs[i]
		}
	})
	return 0, w
}

// javaLen is the length of s as Kafka measures offset metadata against
// offset.metadata.max.bytes: Java's String.length, in UTF-16 code units, not
// bytes. It is never more than len(s).
func javaLen(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r > 0xFFFF {
			n++ // a surrogate pair
		}
	}
	return n
}
