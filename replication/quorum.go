package replication

import (
	"math"
	"strconv"

	"github.com/hashicorp/raft"
)

// MetadataQuorum is the metadata controller's raft group as Kafka's
// DescribeQuorum reports its quorum. Raft entries are counted as offsets
// (entry i at offset i-1), so the high watermark is the commit index and a
// voter's log end offset its last index; the epoch is the raft term.
type MetadataQuorum struct {
	Leader        bool  // this node leads the quorum
	LeaderID      int32 // -1 when no leader is known
	Epoch         int32
	HighWatermark int64
	Voters        []QuorumVoter
}

// QuorumVoter is a voter of the quorum. LogEndOffset is -1 where this node
// does not know it (another voter's progress).
type QuorumVoter struct {
	ID           int32
	LogEndOffset int64
}

// MetadataQuorum describes the metadata quorum as this node sees it.
func (n *Node) MetadataQuorum() (MetadataQuorum, error) {
	r := n.controllerRaft
	q := MetadataQuorum{
		Leader:        r.State() == raft.Leader,
		LeaderID:      -1,
		Epoch:         int32(min(r.CurrentTerm(), math.MaxInt32)),
		HighWatermark: int64(min(r.CommitIndex(), math.MaxInt64)),
	}
	if _, id := r.LeaderWithID(); id != "" {
		if v, err := strconv.ParseInt(string(id), 10, 32); err == nil {
			q.LeaderID = int32(v)
		}
	}
	f := r.GetConfiguration()
	if err := f.Error(); err != nil {
		return q, err
	}
	for _, s := range f.Configuration().Servers {
		id, err := strconv.ParseInt(string(s.ID), 10, 32)
		if s.Suffrage != raft.Voter || err != nil {
			continue
		}
		v := QuorumVoter{ID: int32(id), LogEndOffset: -1}
		if v.ID == n.cfg.NodeID {
			v.LogEndOffset = int64(min(r.LastIndex(), math.MaxInt64))
		}
		q.Voters = append(q.Voters, v)
	}
	return q, nil
}
