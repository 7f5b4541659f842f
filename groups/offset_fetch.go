package groups

import (
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// OffsetFetchTopic is the committed offsets of one topic; the broker builds
// OffsetFetch responses of every version from it.
type OffsetFetchTopic struct {
	Topic      string
	Partitions []OffsetFetchPartition
}

// OffsetFetchPartition is one committed offset; Offset -1 (with
// LeaderEpoch -1 and empty Metadata) means none is committed.
type OffsetFetchPartition struct {
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    *string
	ErrorCode   int16
}

// OffsetFetch returns the group's committed offsets for topics, or every
// committed offset when topics is nil. An unknown group is no error: its
// requested partitions read -1. With requireStable (KIP-447), a partition
// whose commit is still being persisted gets UNSTABLE_OFFSET_COMMIT.
func (s *Shard) OffsetFetch(group string, topics []kmsg.OffsetFetchRequestTopic, requireStable bool) ([]OffsetFetchTopic, int16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, kerr.NotCoordinator.Code
	}
	g := s.groups[group]
	if g != nil && g.state == stateDead {
		g = nil // being deleted: as if it did not exist
	}
	part := func(k tp) OffsetFetchPartition {
		p := OffsetFetchPartition{Partition: k.part, Offset: -1, LeaderEpoch: -1, Metadata: kmsg.StringPtr("")}
		if g == nil {
			return p
		}
		if o, ok := g.offsets[k]; ok {
			p.Offset, p.LeaderEpoch, p.Metadata = o.offset, o.leaderEpoch, kmsg.StringPtr(o.metadata)
		}
		if requireStable && g.inflight[k] > 0 {
			p.ErrorCode = kerr.UnstableOffsetCommit.Code
		}
		return p
	}

	if topics != nil {
		out := make([]OffsetFetchTopic, 0, len(topics))
		for _, t := range topics {
			ft := OffsetFetchTopic{Topic: t.Topic, Partitions: make([]OffsetFetchPartition, 0, len(t.Partitions))}
			for _, p := range t.Partitions {
				ft.Partitions = append(ft.Partitions, part(tp{t.Topic, p}))
			}
			out = append(out, ft)
		}
		return out, 0
	}
	if g == nil {
		return []OffsetFetchTopic{}, 0
	}
	keys := make([]tp, 0, len(g.offsets))
	for k := range g.offsets {
		keys = append(keys, k)
	}
	sortTPs(keys)
	var out []OffsetFetchTopic
	for _, k := range keys {
		if len(out) == 0 || out[len(out)-1].Topic != k.topic {
			out = append(out, OffsetFetchTopic{Topic: k.topic})
		}
		last := &out[len(out)-1]
		last.Partitions = append(last.Partitions, part(k))
	}
	if out == nil {
		out = []OffsetFetchTopic{}
	}
	return out, 0
}

func sortTPs(keys []tp) {
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].topic != keys[j].topic {
			return keys[i].topic < keys[j].topic
		}
		return keys[i].part < keys[j].part
	})
}
