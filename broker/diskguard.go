package broker

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Free-space guard (log.dir.min.free.bytes).
//
// Kafka writes until the disk is full and then takes the log directory
// offline. Here a full disk would be worse: raft must save a new term at
// every election and panics when it cannot. So, as Redpanda does, produce
// is refused with KAFKA_STORAGE_ERROR (retriable: the client keeps its
// records) while the filesystem holding log.dirs has less free space than
// the threshold, which leaves room for the metadata, the groups' offset
// commits and the segment files already open; new partitions (CreateTopics,
// CreatePartitions, auto-creation, the offsets topic) are refused the same
// way when their files would take the space below it. Meanwhile deleted segments
// are not kept for reuse (log.segment.recycle.bytes) and those kept are
// freed. Writes resume by themselves once space is freed (retention,
// DeleteRecords, deleting a topic).

const (
	diskCheckInterval = time.Second
	// diskCheckBytes is at most how much produce may accept between two
	// measurements besides the ticker's (at a few hundred MB/s the ticker
	// alone would let a second of writes past the threshold), and at most
	// a quarter of the threshold.
	diskCheckBytes = 64 << 20
	// The automatic threshold: the smaller of these.
	diskAutoMinBytes = 1 << 30
	diskAutoMinShare = 0.05 // of the filesystem
)

type diskGuard struct {
	dir    string
	min    atomic.Int64 // log.dir.min.free.bytes: -1 automatic, 0 never refuse
	logger *slog.Logger
	onLow  func(low bool)                                  // called when the state changes (segment recycling stops while low)
	space  func(dir string) (free, total int64, err error) // diskSpace; tests set another

	free      atomic.Int64 // free bytes at the last measurement; -1 unknown
	threshold atomic.Int64 // the threshold in force; 0 none
	written   atomic.Int64 // bytes admitted since the last measurement

	// said is set once a refusal was logged, until the free space is
	// clearly back above the threshold (a tenth of it above), so that a
	// disk hovering at the threshold logs once, not at every measurement.
	said atomic.Bool

	mu    sync.Mutex // one measurement at a time; guards low and blind
	low   bool       // below the threshold at the last measurement
	blind bool       // the last measurement failed
}

func newDiskGuard(dir string, min int64, logger *slog.Logger, onLow func(bool)) *diskGuard {
	g := &diskGuard{dir: dir, logger: logger, onLow: onLow, space: diskSpace}
	g.min.Store(min)
	g.free.Store(-1)
	if min != 0 {
		g.measure()
	}
	return g
}

// run measures every diskCheckInterval until ctx ends.
func (g *diskGuard) run(ctx context.Context) {
	if g.min.Load() == 0 {
		return
	}
	t := time.NewTicker(diskCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.mu.Lock()
			g.measureLocked()
			g.mu.Unlock()
		}
	}
}

// measure takes a measurement unless another is under way.
func (g *diskGuard) measure() {
	if !g.mu.TryLock() {
		return
	}
	g.measureLocked()
	g.mu.Unlock()
}

func (g *diskGuard) measureLocked() {
	free, total, err := g.space(g.dir)
	if err != nil {
		// Unknown: never refuse on a failed measurement, but say so once.
		if !g.blind {
			g.logger.Warn("cannot measure the data directory's free space; produce is not held back by log.dir.min.free.bytes", "dir", g.dir, "err", err)
		}
		g.free.Store(-1)
		g.blind, g.low = true, false
		return
	}
	g.blind = false
	threshold := g.min.Load()
	if threshold < 0 {
		threshold = min(diskAutoMinBytes, int64(float64(total)*diskAutoMinShare))
	}
	g.threshold.Store(threshold)
	g.free.Store(free)
	g.written.Store(0)
	low := free < threshold
	if free-threshold >= threshold/10 {
		g.said.Store(false)
	}
	if low != g.low {
		g.low = low
		if g.onLow != nil {
			g.onLow(low)
		}
		if low {
			g.said.Store(true)
			g.logger.Error("the data directory is nearly full: produce is refused (KAFKA_STORAGE_ERROR) until space is freed", "dir", g.dir, "free_bytes", free, "log.dir.min.free.bytes", threshold)
		} else {
			g.said.Store(false)
			g.logger.Info("the data directory has room again: produce resumes", "dir", g.dir, "free_bytes", free)
		}
	}
}

// admit counts n bytes about to be written and returns KAFKA_STORAGE_ERROR
// when the free space, less what was admitted since the last measurement,
// is below the threshold.
func (g *diskGuard) admit(n int) error {
	if g.min.Load() == 0 {
		return nil
	}
	if w := g.written.Add(int64(n)); w >= diskCheckBytes || w >= g.threshold.Load()/4 {
		g.measure()
	}
	free, threshold := g.free.Load(), g.threshold.Load()
	if free < 0 {
		return nil
	}
	if left := free - g.written.Load(); left < threshold {
		g.written.Add(-int64(n)) // refused: nothing is written
		if g.said.CompareAndSwap(false, true) {
			// Measured above the threshold, but not by this batch: what
			// is written into space prepared ahead in the segments does
			// not show in the measurement, which can hover here while
			// every larger batch is refused.
			g.logger.Warn("the data directory is nearly full: produce is refused (KAFKA_STORAGE_ERROR) while the free space less the batch is below the threshold", "dir", g.dir, "free_bytes", free, "batch_bytes", n, "log.dir.min.free.bytes", threshold)
		}
		return kafkaErrorf(kerr.KafkaStorageError, "the data directory has %d bytes free, below log.dir.min.free.bytes (%d)", max(left, 0), threshold)
	}
	return nil
}

// partitionDiskBytes is about what a new partition replica takes on disk
// soon: its directory and files (28 KiB measured on ext4) and, at its
// first write, the first 64 KiB prepared ahead in its segment.
const partitionDiskBytes = 128 << 10

// roomFor refuses n new partition replicas with KAFKA_STORAGE_ERROR when
// their files would take the free space below the threshold: produce is
// refused there, and new partitions (a topic created, or the offsets topic
// a first consumer group makes) would fill the rest of the disk.
func (g *diskGuard) roomFor(n int) error {
	if g.min.Load() == 0 || n <= 0 {
		return nil
	}
	g.measure()
	free, threshold := g.free.Load(), g.threshold.Load()
	if free < 0 {
		return nil
	}
	if left := free - g.written.Load() - int64(n)*partitionDiskBytes; left < threshold {
		return kafkaErrorf(kerr.KafkaStorageError, "the data directory has %d bytes free, too little for %d more partitions above log.dir.min.free.bytes (%d): free space first", max(free, 0), n, threshold)
	}
	return nil
}

// freeBytes is the last measurement, -1 when unknown (for /metrics).
func (g *diskGuard) freeBytes() int64 { return g.free.Load() }
