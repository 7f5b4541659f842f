package broker

import (
	"cmp"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleDescribeQuorum answers DescribeQuorum (KIP-595, KIP-853), which
// kafka-metadata-quorum and admin clients' describeMetadataQuorum send:
// the metadata controller's raft group as Kafka's KafkaRaftClient
// describes its quorum. As there, a request for anything but partition 0
// of __cluster_metadata, and only it, is answered UNKNOWN_TOPIC_OR_PARTITION
// for each partition asked for, and a node that does not lead the quorum
// answers NOT_LEADER_OR_FOLLOWER. A voter's progress is known only for this
// node (the others' would come from raft's replication, which does not
// report it): -1, Kafka's "unknown", for the rest. There are no observers:
// every broker is a voter. From v2 each voter's node lists its listeners.
func (b *Broker) handleDescribeQuorum(req *kmsg.DescribeQuorumRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.DescribeQuorumResponse)
	if len(req.Topics) != 1 || req.Topics[0].Topic != clusterMetadataTopic ||
		len(req.Topics[0].Partitions) != 1 || req.Topics[0].Partitions[0].Partition != 0 {
		for _, t := range req.Topics {
			rt := kmsg.NewDescribeQuorumResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewDescribeQuorumResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, kerr.UnknownTopicOrPartition.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	rt := kmsg.NewDescribeQuorumResponseTopic()
	rt.Topic = clusterMetadataTopic
	rp := kmsg.NewDescribeQuorumResponseTopicPartition()
	q, err := b.node.MetadataQuorum()
	if err != nil || !q.Leader {
		rp.ErrorCode = kerr.NotLeaderForPartition.Code // NOT_LEADER_OR_FOLLOWER
		rt.Partitions = append(rt.Partitions, rp)
		resp.Topics = append(resp.Topics, rt)
		return resp
	}
	rp.LeaderID, rp.LeaderEpoch, rp.HighWatermark = q.LeaderID, q.Epoch, q.HighWatermark
	now := time.Now().UnixMilli()
	st := b.node.Controller().State()
	for _, v := range q.Voters {
		rs := kmsg.NewDescribeQuorumResponseTopicPartitionReplicaState()
		rs.ReplicaID, rs.LogEndOffset = v.ID, v.LogEndOffset
		if v.ID == b.node.ID() {
			// The leader's own replica, fetched and caught up now, as
			// Kafka's leader reports itself.
			rs.LastFetchTimestamp, rs.LastCaughtUpTimestamp = now, now
		}
		rp.CurrentVoters = append(rp.CurrentVoters, rs)

		br, ok := st.Brokers[v.ID]
		if !ok {
			continue
		}
		// This node serves DescribeQuorum on its client listeners, which
		// are all a voter has.
		node := kmsg.NewDescribeQuorumResponseNode()
		node.NodeID = v.ID
		l := kmsg.NewDescribeQuorumResponseNodeListener()
		l.Name, l.Host, l.Port = cmp.Or(br.Listener, "PLAINTEXT"), br.Host, uint16(br.Port)
		node.Listeners = append(node.Listeners, l)
		for _, e := range br.Endpoints {
			l := kmsg.NewDescribeQuorumResponseNodeListener()
			l.Name, l.Host, l.Port = e.Listener, e.Host, uint16(e.Port)
			node.Listeners = append(node.Listeners, l)
		}
		resp.Nodes = append(resp.Nodes, node)
	}
	rt.Partitions = append(rt.Partitions, rp)
	resp.Topics = append(resp.Topics, rt)
	return resp
}
