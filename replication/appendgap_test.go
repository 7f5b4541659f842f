package replication

import (
	"testing"
	"time"

	"github.com/gokafka/gokafka/logstore"
)

// A batch that raft never took (its apply queue stayed full: a stalled
// disk, a stalled state machine) must not let the producer's next batch in
// behind it: as in Kafka, a batch that failed leaves the producer's
// sequence where it was, and its successor is refused
// (OUT_OF_ORDER_SEQUENCE_NUMBER) until the failed one is retried. Here the
// next batch is already waiting for the append lock, as a pipelined
// request of the same connection would be, when the first one fails.
func TestFailedAppendLetsNoLaterBatchIn(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out raft's enqueue timeout")
	}
	n := startWithTopic(t, "gap", 1)
	p := n.Partition("gap", 0)
	const pid = 42
	batch := func(seq int32) ([]byte, logstore.BatchHeader) {
		b := logstore.AppendBatch(nil, logstore.BatchOptions{ProducerID: pid, ProducerEpoch: 0, BaseSequence: seq, FirstTimestamp: time.Now().UnixMilli()},
			[]logstore.Record{{Value: []byte("v")}})
		h, _ := logstore.ParseBatchHeader(b)
		return b, h
	}
	// Stall the state machine: raft's commit queue, then its apply queue,
	// fill up, and an append waits to be taken.
	p.mu.Lock()
	stalled := true
	defer func() {
		if stalled {
			p.mu.Unlock()
		}
	}()
	results := map[int32]AppendResult{}
	var stuck int32 = -1
	// How many appends raft takes before one waits depends on how it
	// batched the commits (its FSM queue holds 128 batches of up to
	// MaxAppendEntries each): up to about 66,000 here.
	for seq := int32(0); seq < 100_000; seq++ {
		got := make(chan AppendResult, 1)
		go func() {
			b, h := batch(seq)
			got <- p.Append(b, h)
		}()
		select {
		case r := <-got:
			results[seq] = r
			continue
		case <-time.After(500 * time.Millisecond):
		}
		stuck = seq
		// The next batch of the producer queues behind it.
		next := make(chan AppendResult, 1)
		go func() {
			b, h := batch(seq + 1)
			next <- p.Append(b, h)
		}()
		// The stuck batch is given up (raft's enqueue timeout), or after
		// 12 s the state machine goes on anyway.
		var first AppendResult
		taken := false
		select {
		case first = <-got:
			<-first.Done()
			taken = true
		case <-time.After(12 * time.Second):
		}
		p.mu.Unlock()
		stalled = false
		if !taken {
			first = <-got
		}
		results[seq] = first
		results[seq+1] = <-next
		break
	}
	if stuck < 0 {
		t.Fatal("appends never waited for raft")
	}
	_, errFirst := results[stuck].Wait()
	_, errNext := results[stuck+1].Wait()
	t.Logf("batch %d: %v; batch %d: %v", stuck, errFirst, stuck+1, errNext)
	if errFirst != nil && errNext == nil {
		t.Fatalf("batch %d failed (%v) but batch %d, its successor, was stored: the log skips a sequence", stuck, errFirst, stuck+1)
	}
}
