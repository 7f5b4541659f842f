package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleFindCoordinator(r *kmsg.FindCoordinatorRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
	if r.Version < 4 {
		node, host, port, err := b.findCoordinator(r.CoordinatorKey, r.CoordinatorType)
		resp.NodeID, resp.Host, resp.Port = node, host, port
		resp.ErrorCode, resp.ErrorMessage = errCodeMsg(err)
		return resp
	}
	for _, key := range r.CoordinatorKeys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key = key
		node, host, port, err := b.findCoordinator(key, r.CoordinatorType)
		c.NodeID, c.Host, c.Port = node, host, port
		c.ErrorCode, c.ErrorMessage = errCodeMsg(err)
		resp.Coordinators = append(resp.Coordinators, c)
	}
	return resp
}

// findCoordinator answers with the leader of the key's __consumer_offsets
// partition.
func (b *Broker) findCoordinator(key string, keyType int8) (int32, string, int32, error) {
	switch keyType {
	case 0: // group
	case 1:
		return -1, "", -1, kafkaErrorf(kerr.CoordinatorNotAvailable, "transactions are not supported yet")
	default:
		return -1, "", -1, kafkaErrorf(kerr.InvalidRequest, "unsupported coordinator type %d", keyType)
	}
	n := b.coord.numShards()
	if n == 0 {
		b.coord.requestOffsetsTopic()
		return -1, "", -1, kafkaErrorf(kerr.CoordinatorNotAvailable, "creating %s", offsetsTopic)
	}
	leader, _ := b.leaderOf(offsetsTopic, shardIndex(key, n))
	if leader < 0 {
		return -1, "", -1, kerr.CoordinatorNotAvailable
	}
	br, ok := b.node.Controller().State().Brokers[leader]
	if !ok {
		return -1, "", -1, kerr.CoordinatorNotAvailable
	}
	return br.ID, br.Host, br.Port, nil
}
