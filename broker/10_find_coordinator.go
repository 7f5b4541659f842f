package broker

import (
	"github.com/gokafka/gokafka/protocol"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleFindCoordinator(r *kmsg.FindCoordinatorRequest, req *protocol.Request) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
	if r.Version < 4 {
		node, host, port, err := b.findCoordinator(r.CoordinatorKey, r.CoordinatorType, req)
		resp.NodeID, resp.Host, resp.Port = node, host, port
		resp.ErrorCode, resp.ErrorMessage = errCodeMsg(err)
		return resp
	}
	for _, key := range r.CoordinatorKeys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key = key
		node, host, port, err := b.findCoordinator(key, r.CoordinatorType, req)
		c.NodeID, c.Host, c.Port = node, host, port
		c.ErrorCode, c.ErrorMessage = errCodeMsg(err)
		resp.Coordinators = append(resp.Coordinators, c)
	}
	return resp
}

// findCoordinator answers with the leader of the key's __consumer_offsets
// partition, and its address on the client's listener.
func (b *Broker) findCoordinator(key string, keyType int8, req *protocol.Request) (int32, string, int32, error) {
	listener := req.Conn.Listener
	switch keyType {
	case 0: // group
	case 1:
		// No transaction coordinator yet. A transactional producer must
		// fail at once with this message, and only an authorization error
		// stops every client: COORDINATOR_NOT_AVAILABLE held them all for
		// their whole timeout, and UNSUPPORTED_VERSION still held
		// librdkafka's init_transactions (confluent-kafka, kcat) for its
		// timeout, as it retries any other error of this lookup.
		if key != "" {
			// kafka-go looks up the empty id before every idempotent
			// producer's InitProducerId, and ignores the answer: no
			// transactional producer to warn about.
			b.warnTransactions(key, req)
		}
		return -1, "", -1, errTransactionsRefused
	default:
		return -1, "", -1, kafkaErrorf(kerr.InvalidRequest, "unsupported coordinator type %d", keyType)
	}
	n := b.coord.numShards()
	if n == 0 {
		// As in Kafka, the first lookup makes the offsets topic. Kafka
		// answers COORDINATOR_NOT_AVAILABLE meanwhile; not every admin
		// client retries that (kadm's DescribeGroups does not), so the
		// lookup waits for the topic instead, a fraction of a second once.
		if err := b.coord.offsetsTopicReady(b.ctx); err != nil {
			// Clients only retry, so no group works and none says why:
			// the operator hears of it here (an open files limit, a
			// full disk), as of a failed auto-creation.
			if b.autoCreateWarn.allow(offsetsTopic) {
				b.logger.Warn("cannot create the offsets topic: consumer groups cannot work until it is", "topic", offsetsTopic, "err", err)
			}
			return -1, "", -1, kafkaErrorf(kerr.CoordinatorNotAvailable, "creating %s: %v", offsetsTopic, err)
		}
		n = b.coord.numShards()
	}
	leader, _ := b.leaderOf(offsetsTopic, shardIndex(key, n))
	if leader < 0 {
		return -1, "", -1, kerr.CoordinatorNotAvailable
	}
	br, ok := b.node.Controller().State().Brokers[leader]
	if !ok {
		return -1, "", -1, kerr.CoordinatorNotAvailable
	}
	host, port, ok := br.Endpoint(listener)
	if !ok {
		return -1, "", -1, kerr.CoordinatorNotAvailable
	}
	return br.ID, host, port, nil
}

// maxTxnIDLog bounds a transactional id as kept and logged by
// warnTransactions.
const maxTxnIDLog = 256

// warnTransactions says in the log why a transactional producer fails:
// the client hears only of an authorization failure. The id is the
// client's, and in a flexible request as long as the request (8 MiB): it
// is kept and logged clipped, or each new long one stayed in the heap and
// went whole into the log.
func (b *Broker) warnTransactions(id string, req *protocol.Request) {
	if len(id) > maxTxnIDLog {
		id = id[:maxTxnIDLog] + "..."
	}
	if b.txnWarn.allow(id) {
		b.logger.Warn("a transactional producer was refused: transactions are not supported yet (the client sees TRANSACTIONAL_ID_AUTHORIZATION_FAILED)",
			append([]any{"transactional_id", id}, clientAttrs(req)...)...)
	}
}

// errTransactionsRefused answers a transaction coordinator lookup, and a
// transactional InitProducerId, until transactions come: the error clients
// treat as fatal for a transactional id, with the reason.
var errTransactionsRefused = kafkaErrorf(kerr.TransactionalIDAuthorizationFailed, "transactions are not supported yet")
