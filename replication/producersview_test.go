package replication

import (
	"testing"
	"time"

	"github.com/gokafka/gokafka/logstore"
)

// TestProducersAfterAck: a producer's batch, once acknowledged, is in the
// partition's Producers (DescribeProducers) at once, though raft has not
// applied it: a single voter acknowledges at store, and Kafka's producer
// state is updated at append.
func TestProducersAfterAck(t *testing.T) {
	n := startWithTopic(t, "pv", 1)
	p := n.Partition("pv", 0)
	b := logstore.AppendBatch(nil, logstore.BatchOptions{ProducerID: 9, BaseSequence: 0, FirstTimestamp: time.Now().UnixMilli()},
		[]logstore.Record{{Value: []byte("a")}, {Value: []byte("b")}})
	h, _ := logstore.ParseBatchHeader(b)

	p.mu.Lock() // raft's apply waits: the applied state stays behind
	locked := true
	defer func() {
		if locked {
			p.mu.Unlock()
		}
	}()
	if _, err := p.Append(b, h).Wait(); err != nil {
		t.Fatal(err)
	}
	got := make(chan []ProducerInfo, 1)
	go func() { got <- p.Producers() }()
	select {
	case infos := <-got:
		if len(infos) != 1 || infos[0].ID != 9 || infos[0].LastSequence != 1 {
			t.Fatalf("producers after the acknowledgement: %+v, want producer 9 at sequence 1", infos)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Producers waits for raft to apply an acknowledged batch")
	}
}
