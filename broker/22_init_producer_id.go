package broker

import (
	"context"

	"github.com/gokafka/gokafka/protocol"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (b *Broker) handleInitProducerID(ctx context.Context, r *kmsg.InitProducerIDRequest, req *protocol.Request) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	// As Kafka: an id without an epoch, or an epoch without an id, and an
	// empty transactional id are invalid requests.
	if (r.ProducerID == -1) != (r.ProducerEpoch == -1) || (r.TransactionalID != nil && *r.TransactionalID == "") {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	if r.TransactionalID != nil {
		// The transaction coordinator comes with its own issue; until then a
		// transactional producer is told plainly that none is here, with
		// an error every client treats as fatal (see findCoordinator).
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		b.warnTransactions(*r.TransactionalID, req)
		return resp
	}
	if r.ProducerID >= 0 && r.ProducerEpoch >= 0 {
		// KIP-360: an idempotent producer bumping its epoch after an error.
		// Without a coordinator holding its state, a fresh id serves the same
		// purpose: the partitions fence nothing and sequences restart at 0.
	}
	id, err := b.node.NextProducerID(ctx)
	if err != nil {
		// As Kafka when no block of ids is to be had: retriable for every
		// client, where older ones take COORDINATOR_NOT_AVAILABLE as fatal.
		resp.ErrorCode = kerr.CoordinatorLoadInProgress.Code
		return resp
	}
	resp.ProducerID = id
	resp.ProducerEpoch = 0
	return resp
}
