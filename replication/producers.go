package replication

import (
	"cmp"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
)

// maxBatchesPerProducer is how many recent batches per producer are kept for
// duplicate detection: the idempotent producer allows five in flight.
const maxBatchesPerProducer = 5

// batchMeta is one recent batch of an idempotent producer.
type batchMeta struct {
	FirstSeq   int32 `json:"first_seq"`
	LastSeq    int32 `json:"last_seq"`
	BaseOffset int64 `json:"base_offset"`
	// MaxTimestamp is the batch's max timestamp (DescribeProducers' last
	// timestamp); 0 in states saved before it was kept, which Restore
	// replaces with the time of the restore (partitionSnapshot).
	MaxTimestamp int64 `json:"max_ts,omitempty"`

	// pending is set on the leader while the batch is in raft but not yet
	// applied; a retried duplicate waits on it for the original's offset.
	pending *appendCall `json:"-"`
}

// inFlight reports whether the batch is still on its way through raft on
// the leader: not yet acknowledged or failed. The leader's view keeps a
// batch's call after it settles, so only an unsettled one holds its
// producer from expiring there.
func (b batchMeta) inFlight() bool {
	if b.pending == nil {
		return false
	}
	select {
	case <-b.pending.done:
		return false
	default:
		return true
	}
}

// producerState is what a partition remembers of one producer id.
type producerState struct {
	Epoch   int16       `json:"epoch"`
	Batches []batchMeta `json:"batches"` // oldest first, at most five
}

type producerMap map[int64]*producerState

func (m producerMap) clone() producerMap {
	c := make(producerMap, len(m))
	for id, p := range m {
		np := &producerState{Epoch: p.Epoch, Batches: append([]batchMeta(nil), p.Batches...)}
		c[id] = np
	}
	return c
}

// lastSeqOf returns the sequence of the last record of a batch.
func lastSeqOf(first int32, lastOffsetDelta int32) int32 {
	s := int64(first) + int64(lastOffsetDelta)
	if s > 1<<31-1 {
		s -= 1 << 31
	}
	return int32(s)
}

// inSequence says whether next directly follows last (sequences wrap at 2^31).
func inSequence(last, next int32) bool {
	return next == last+1 || (last == 1<<31-1 && next == 0)
}

// check decides what happens to a batch of producer id with epoch and
// sequences [first, last]. It returns the duplicate it matches, if any, or a
// Kafka error. The rules follow Kafka's producer state checks: an older
// epoch is fenced; a newer epoch must start at sequence 0; the same epoch
// must continue the sequence; a producer we know nothing about (new, or its
// state expired) is accepted at any sequence.
func (m producerMap) check(id int64, epoch int16, first, last int32) (*batchMeta, error) {
	p := m[id]
	if p == nil {
		return nil, nil
	}
	switch {
	case epoch < p.Epoch:
		return nil, kerr.InvalidProducerEpoch
	case epoch > p.Epoch:
		if first != 0 {
			return nil, kerr.OutOfOrderSequenceNumber
		}
		return nil, nil
	}
	for i := range p.Batches {
		b := &p.Batches[i]
		if b.FirstSeq == first && b.LastSeq == last {
			return b, nil
		}
	}
	if n := len(p.Batches); n > 0 && !inSequence(p.Batches[n-1].LastSeq, first) {
		return nil, kerr.OutOfOrderSequenceNumber
	}
	return nil, nil
}

// record remembers an accepted batch.
func (m producerMap) record(id int64, epoch int16, b batchMeta) {
	p := m[id]
	if p == nil || epoch > p.Epoch {
		p = &producerState{Epoch: epoch}
		m[id] = p
	}
	p.Batches = append(p.Batches, b)
	if len(p.Batches) > maxBatchesPerProducer {
		p.Batches = append(p.Batches[:0], p.Batches[len(p.Batches)-maxBatchesPerProducer:]...)
	}
}

// expire forgets the producers whose last batch's max timestamp is before
// cutoff (Unix ms), as Kafka forgets a producer once it has written
// nothing for producer.id.expiration.ms by its batches' timestamps; one
// whose last batch is still in raft is kept. A producer forgotten is
// accepted at any sequence when it writes again (check). It returns how
// many it forgot.
func (m producerMap) expire(cutoff int64) int {
	n := 0
	for id, p := range m {
		if k := len(p.Batches); k > 0 && (p.Batches[k-1].inFlight() || p.Batches[k-1].MaxTimestamp >= cutoff) {
			continue
		}
		delete(m, id)
		n++
	}
	return n
}

// stored returns the producers of the leader's view m with only the
// batches stored: not those still in raft, nor one that failed.
func (m producerMap) stored() producerMap {
	out := make(producerMap, len(m))
	for id, p := range m {
		var keep []batchMeta
		for _, b := range p.Batches {
			if b.pending != nil && (b.inFlight() || b.pending.err != nil) {
				continue
			}
			keep = append(keep, b)
		}
		if len(keep) > 0 {
			out[id] = &producerState{Epoch: p.Epoch, Batches: keep}
		}
	}
	return out
}

// ProducerInfo is one idempotent producer as a partition knows it, for
// DescribeProducers.
type ProducerInfo struct {
	ID            int64
	Epoch         int16
	LastSequence  int32 // of its last batch's last record
	LastTimestamp int64 // its last batch's max timestamp; -1 if not known
}

// infos lists the producers of m by id.
func (m producerMap) infos() []ProducerInfo {
	out := make([]ProducerInfo, 0, len(m))
	for id, p := range m {
		if len(p.Batches) == 0 {
			continue
		}
		last := p.Batches[len(p.Batches)-1]
		ts := last.MaxTimestamp
		if ts == 0 {
			ts = -1
		}
		out = append(out, ProducerInfo{ID: id, Epoch: p.Epoch, LastSequence: last.LastSeq, LastTimestamp: ts})
	}
	slices.SortFunc(out, func(a, b ProducerInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
