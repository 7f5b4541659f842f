package broker

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/testlog"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
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

// Until transactions come, a transactional producer fails at once with a
// plain message: its coordinator lookup (and a transactional
// InitProducerId) answer TRANSACTIONAL_ID_AUTHORIZATION_FAILED, which every
// client takes as fatal, where COORDINATOR_NOT_AVAILABLE held KafkaJS for
// 9.5 s and franz-go for its whole retry timeout, and UNSUPPORTED_VERSION
// librdkafka for its own (compat-tests' TestKcat/TransactionalRefused).
func TestTransactionsRefused(t *testing.T) {
	var logs *testlog.Buffer
	b := startBroker(t, t.TempDir(), func(c *Config) { logs = logTo(c) })
	defer b.Close()
	// kafka-go looks up the empty transactional id before an idempotent
	// producer's InitProducerId: refused too, but no producer to warn of.
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version, req.CoordinatorType = 2, 1
	if resp := rawRequest(t, b, req).(*kmsg.FindCoordinatorResponse); resp.ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("transaction coordinator lookup of the empty id: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	if strings.Contains(logs.String(), "transactions are not supported yet") {
		t.Fatalf("a warning for the empty transactional id:\n%s", logs.String())
	}
	req.CoordinatorKey = "tx"
	resp := rawRequest(t, b, req).(*kmsg.FindCoordinatorResponse)
	if resp.ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code || resp.ErrorMessage == nil || !strings.Contains(*resp.ErrorMessage, "transactions are not supported") {
		t.Fatalf("transaction coordinator lookup: %v %v", kerr.ErrorForCode(resp.ErrorCode), resp.ErrorMessage)
	}
	ipid := kmsg.NewPtrInitProducerIDRequest()
	ipid.Version, ipid.TransactionalID, ipid.ProducerID, ipid.ProducerEpoch = 4, kmsg.StringPtr("tx"), -1, -1
	if r := rawRequest(t, b, ipid).(*kmsg.InitProducerIDResponse); r.ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
		t.Fatalf("transactional InitProducerId: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	// The broker's log says why, once for a transactional id retrying.
	if n := strings.Count(logs.String(), "transactions are not supported yet"); n != 1 {
		t.Fatalf("%d warnings for transactional id tx, want 1:\n%s", n, logs.String())
	}

	cl := newClient(t, b, kgo.TransactionalID("tx"), kgo.DefaultProduceTopic("t"), kgo.RetryTimeout(30*time.Second))
	start := time.Now()
	err := cl.BeginTransaction()
	if err == nil {
		err = cl.ProduceSync(context.Background(), &kgo.Record{Value: []byte("x")}).FirstErr()
	}
	if err == nil || !strings.Contains(err.Error(), "TRANSACTIONAL_ID_AUTHORIZATION_FAILED") || time.Since(start) > 5*time.Second {
		t.Fatalf("transaction: %v after %v; want TRANSACTIONAL_ID_AUTHORIZATION_FAILED at once", err, time.Since(start))
	}
}

// A transactional id is the client's string, as long as a flexible
// request: each new one must not be kept and logged whole.
func TestTransactionsRefusedWarningsBounded(t *testing.T) {
	var logs *testlog.Buffer
	b := startBroker(t, t.TempDir(), func(c *Config) { logs = logTo(c) })
	defer b.Close()
	conn := rawConn(t, b)
	defer conn.Close()
	pad := strings.Repeat("x", 1<<20)
	for i := int32(0); i < 8; i++ {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.Version, req.CoordinatorType = 4, 1
		req.CoordinatorKeys = []string{string(rune('a'+i)) + pad}
		resp, _ := sendRaw(t, conn, rawFormatter, req, i)
		if c := resp.(*kmsg.FindCoordinatorResponse).Coordinators; len(c) != 1 || c[0].ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code {
			t.Fatalf("lookup %d: %+v", i, c)
		}
	}
	if n := strings.Count(logs.String(), "transactions are not supported yet"); n != 8 {
		t.Errorf("%d warnings for 8 transactional ids, want 8", n)
	}
	if n := len(logs.String()); n > 20_000 {
		t.Errorf("%d bytes logged for 8 transactional ids", n)
	}
	b.txnWarn.mu.Lock()
	kept := 0
	for k := range b.txnWarn.warned {
		kept += len(k)
	}
	b.txnWarn.mu.Unlock()
	if kept > 8*300 {
		t.Errorf("%d bytes of transactional ids kept", kept)
	}
}

// One FindCoordinator may name thousands of transactional ids: their
// warnings are at most a hundred a minute, not a line each.
func TestTransactionsRefusedWarningsCapped(t *testing.T) {
	var logs *testlog.Buffer
	b := startBroker(t, t.TempDir(), func(c *Config) { logs = logTo(c) })
	defer b.Close()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.Version, req.CoordinatorType = 4, 1
	for i := 0; i < 5000; i++ {
		req.CoordinatorKeys = append(req.CoordinatorKeys, fmt.Sprintf("txn-%d", i))
	}
	resp := rawRequest(t, b, req).(*kmsg.FindCoordinatorResponse)
	if len(resp.Coordinators) != 5000 {
		t.Fatalf("%d answers for 5000 keys", len(resp.Coordinators))
	}
	if n := strings.Count(logs.String(), "transactions are not supported yet"); n != 100 {
		t.Errorf("%d warnings for 5000 transactional ids in one request, want 100", n)
	}
}
