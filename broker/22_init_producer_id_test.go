package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestInitProducerIDRequests: a fresh id for (-1, -1), and a bumped one for
// an existing id with its epoch (KIP-360); Kafka's INVALID_REQUEST for an
// id without an epoch, an epoch without an id, or an empty transactional
// id. kgo would send the transactional one to a coordinator, so the
// requests go on a bare connection.
func TestInitProducerIDRequests(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	init := func(txn *string, id int64, epoch int16) *kmsg.InitProducerIDResponse {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.Version = 4
		req.TransactionalID, req.ProducerID, req.ProducerEpoch = txn, id, epoch
		req.TransactionTimeoutMillis = 60000
		return rawRequest(t, b, req).(*kmsg.InitProducerIDResponse)
	}
	first := init(nil, -1, -1)
	if first.ErrorCode != 0 || first.ProducerID < 0 || first.ProducerEpoch != 0 {
		t.Fatalf("fresh: %+v", first)
	}
	if bumped := init(nil, first.ProducerID, first.ProducerEpoch); bumped.ErrorCode != 0 || bumped.ProducerID < 0 {
		t.Fatalf("bump: %+v", bumped)
	}
	for name, tc := range map[string]struct {
		txn   *string
		id    int64
		epoch int16
	}{
		"id without epoch":    {nil, first.ProducerID, -1},
		"epoch without id":    {nil, -1, 3},
		"empty transactional": {kmsg.StringPtr(""), -1, -1},
	} {
		if r := init(tc.txn, tc.id, tc.epoch); r.ErrorCode != kerr.InvalidRequest.Code || r.ProducerID != -1 {
			t.Errorf("%s: %v (id %d), want INVALID_REQUEST", name, kerr.ErrorForCode(r.ErrorCode), r.ProducerID)
		}
	}
}
