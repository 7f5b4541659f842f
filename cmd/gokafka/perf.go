package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// progressEvery is how often perf produce prints a window's figures, as
// kafka-producer-perf-test does.
const progressEvery = 5 * time.Second

// minPerfSleep is the shortest sleep --throughput takes, as in
// kafka-producer-perf-test's throttler: records due sooner go out at once,
// so the rate holds over any 2 ms while the tool is not woken per record.
// Sleeping per record at 10,000 records/s cost the tool and the broker
// more than half a core each on a 2-core machine, and the contention
// between them, not either one, set the p99 latency.
const minPerfSleep = 2 * time.Millisecond

const mib = 1 << 20

func cmdPerf(e *env, args []string) error {
	return runSubcommand(e, "perf", "produce or consume", args, sub(perfProduce, "produce"), sub(perfConsume, "consume"))
}

// ProduceResult is perf produce's --json output. Latencies are per record,
// from the Produce call (which blocks while the client's buffer is full) to
// its acknowledgement, in milliseconds; MB is 2^20 bytes.
type ProduceResult struct {
	Records    int64   `json:"records"`
	Errors     int64   `json:"errors"`
	RecordSize int     `json:"record_size"`
	ElapsedSec float64 `json:"elapsed_s"`
	RecordsSec float64 `json:"records_per_sec"`
	MBSec      float64 `json:"mb_per_sec"`
	AvgMs      float64 `json:"avg_latency_ms"`
	MaxMs      float64 `json:"max_latency_ms"`
	P50Ms      float64 `json:"p50_ms"`
	P95Ms      float64 `json:"p95_ms"`
	P99Ms      float64 `json:"p99_ms"`
	P999Ms     float64 `json:"p999_ms"`
	// Requests and Batches are the produce requests and record batches
	// the client wrote: records per batch shows how the broker's answer
	// times shaped the client's batching.
	Requests int64 `json:"produce_requests"`
	Batches  int64 `json:"batches"`
}

// produceCounter counts the produce requests and batches a client writes.
type produceCounter struct {
	requests, batches atomic.Int64
}

func (c *produceCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key == 0 && err == nil { // 0: Produce
		c.requests.Add(1)
	}
}

func (c *produceCounter) OnProduceBatchWritten(kgo.BrokerMetadata, string, int32, kgo.ProduceBatchMetrics) {
	c.batches.Add(1)
}

// perfStats is shared by the producing loop, the ack callbacks (run on the
// client's goroutines) and the progress ticker; mu guards all of it.
type perfStats struct {
	mu        sync.Mutex
	total     histogram
	window    histogram
	windowAt  time.Time
	errors    int64
	firstErr  error
	lastAcked time.Time
}

func (s *perfStats) ack(start time.Time, err error) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if errors.Is(err, context.Canceled) {
		// The client fails what it still held with the interrupt's
		// error: not a failed record; the run says it was interrupted.
		return
	}
	if err != nil {
		s.errors++
		if s.firstErr == nil {
			s.firstErr = err
		}
		return
	}
	d := now.Sub(start)
	s.total.record(d)
	s.window.record(d)
	s.lastAcked = now
}

// perfRecord is a record with its send time; Record must stay the first
// field, as the promise finds the perfRecord from the *kgo.Record.
type perfRecord struct {
	kgo.Record
	sent time.Time
}

func perfProduce(e *env, args []string) error {
	fs := e.newFlagSet("perf produce", "perf produce --topic T --num-records N --record-size B [flags]")
	topic := fs.String("topic", "", "topic to produce to (required)")
	numRecords := fs.Int64("num-records", 0, "records to send (required)")
	recordSize := fs.Int("record-size", 0, "value size in bytes (required); values are random, so incompressible")
	partitions := fs.Int("partitions", 0, "create the topic with this many partitions if it does not exist (0: do not create)")
	acks := fs.String("acks", "all", "all, 1 or 0")
	maxInFlight := fs.Int("max-in-flight", 0, "produce requests in flight per broker, used with --acks 1 or 0 (idempotent --acks all always allows 5); 0: client default")
	linger := fs.Duration("linger", 0, "wait this long to fill a batch (0: send as soon as possible)")
	batchBytes := fs.Int("batch-bytes", 0, "maximum batch size in bytes (0: client default, 1 MB)")
	codec := fs.String("compression-codec", "none", "compress batches with none, gzip, snappy, lz4 or zstd (compression.type; the values are random, so they barely shrink)")
	throughput := fs.Float64("throughput", -1, "target records/s (-1: unlimited)")
	asJSON := fs.Bool("json", false, "print the final figures as one JSON object on stdout (progress goes to stderr)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 0:
		return usagef("perf produce: unexpected argument %q", pos[0])
	case *topic == "":
		return usagef("perf produce: --topic is required")
	case *numRecords <= 0:
		return usagef("perf produce: --num-records must be > 0")
	case *recordSize <= 0:
		return usagef("perf produce: --record-size must be > 0")
	case *throughput == 0:
		return usagef("perf produce: --throughput must be > 0 or -1")
	}
	opts, err := parseAcks(*acks)
	if err != nil {
		return err
	}
	compression, err := parseCompression(*codec)
	if err != nil {
		return err
	}
	var counter produceCounter
	opts = append(opts,
		kgo.DefaultProduceTopic(*topic),
		kgo.AllowAutoTopicCreation(), // as kafka-producer-perf-test, on brokers that allow it
		compression,
		kgo.ProducerLinger(*linger),
		kgo.RecordDeliveryTimeout(deliveryTimeout),
		kgo.WithHooks(&counter),
	)
	if *maxInFlight > 0 {
		opts = append(opts, kgo.MaxProduceRequestsInflightPerBroker(*maxInFlight))
	}
	if *batchBytes > 0 {
		opts = append(opts, kgo.ProducerBatchMaxBytes(int32(*batchBytes)))
	}
	cl, err := e.client(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if *partitions > 0 {
		if err := ensureTopic(e.ctx, kadm.NewClient(cl), *topic, int32(*partitions)); err != nil {
			return err
		}
	}

	progress := e.stdout
	if *asJSON {
		progress = e.stderr
	}
	// One random pool; each record's value is a window into it at a moving
	// offset, so batches are incompressible and sending allocates no payload.
	size := *recordSize
	pool := make([]byte, max(4*mib, 4*size))
	rand.Read(pool)

	st := &perfStats{}
	start := time.Now()
	st.windowAt = start
	stopTicker := make(chan struct{})
	tickerDone := make(chan struct{})
	go func() {
		defer close(tickerDone)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-stopTicker:
				return
			case now := <-t.C:
				st.mu.Lock()
				w := st.window
				st.window = histogram{}
				el := now.Sub(st.windowAt).Seconds()
				st.windowAt = now
				st.mu.Unlock()
				fmt.Fprintf(progress, "%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.\n",
					w.n, float64(w.n)/el, float64(w.n)*float64(*recordSize)/mib/el, w.meanMs(), w.maxMs())
			}
		}
	}()

	// Records are recycled once acknowledged and one promise serves them
	// all, so the tool itself allocates next to nothing per record: its
	// garbage collections would otherwise show up in the latencies it
	// reports. (The send time cannot ride in Timestamp: the client
	// truncates that to the millisecond.)
	var free []*perfRecord
	var freeMu sync.Mutex
	promise := func(r *kgo.Record, err error) {
		pr := (*perfRecord)(unsafe.Pointer(r)) // every record produced is a perfRecord
		st.ack(pr.sent, err)
		*pr = perfRecord{}
		freeMu.Lock()
		free = append(free, pr)
		freeMu.Unlock()
	}
	off := 0
	var sent int64
	for i := int64(0); i < *numRecords && e.ctx.Err() == nil; i++ {
		if *throughput > 0 {
			// Ahead of schedule by minPerfSleep or more: sleep until this
			// record is due. Late is caught up by sending without
			// sleeping, so the mean holds.
			due := start.Add(time.Duration(float64(i) / *throughput * float64(time.Second)))
			if d := time.Until(due); d >= minPerfSleep {
				// An interrupt ends the wait: at a low --throughput it
				// can be long, and no record is sent after it.
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-e.ctx.Done():
					t.Stop()
				}
				if e.ctx.Err() != nil {
					break
				}
			}
		}
		if off+size > len(pool) {
			off = 0
		}
		var r *perfRecord
		freeMu.Lock()
		if n := len(free); n > 0 {
			r, free = free[n-1], free[:n-1]
		}
		freeMu.Unlock()
		if r == nil {
			r = new(perfRecord)
		}
		r.Value = pool[off : off+size : off+size]
		off += 61 // an odd step so consecutive values differ
		r.sent = time.Now()
		sent++
		cl.Produce(e.ctx, &r.Record, promise)
	}
	flushErr := cl.Flush(e.ctx)
	close(stopTicker)
	<-tickerDone

	st.mu.Lock()
	defer st.mu.Unlock()
	end := st.lastAcked
	if end.IsZero() {
		end = time.Now()
	}
	el := end.Sub(start).Seconds()
	h := &st.total
	res := ProduceResult{
		Records:    h.n,
		Errors:     st.errors,
		RecordSize: *recordSize,
		ElapsedSec: el,
		RecordsSec: float64(h.n) / el,
		MBSec:      float64(h.n) * float64(*recordSize) / mib / el,
		AvgMs:      h.meanMs(),
		MaxMs:      h.maxMs(),
		P50Ms:      h.quantile(0.50),
		P95Ms:      h.quantile(0.95),
		P99Ms:      h.quantile(0.99),
		P999Ms:     h.quantile(0.999),
		Requests:   counter.requests.Load(),
		Batches:    counter.batches.Load(),
	}
	if *asJSON {
		if err := json.NewEncoder(e.stdout).Encode(res); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "%d records sent, %.1f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, %.2f ms 50th, %.2f ms 95th, %.2f ms 99th, %.2f ms 99.9th.\n",
			res.Records, res.RecordsSec, res.MBSec, res.AvgMs, res.MaxMs, res.P50Ms, res.P95Ms, res.P99Ms, res.P999Ms)
	}
	switch {
	case st.errors > 0:
		fmt.Fprintf(e.stderr, "gokafka perf produce: %d of %d records failed; first error: %v\n", st.errors, sent, st.firstErr)
		return errReported
	case e.ctx.Err() != nil:
		// Before flushErr, which an interrupt makes context.Canceled.
		return fmt.Errorf("interrupted after %d of %d records", sent, *numRecords)
	case flushErr != nil:
		return fmt.Errorf("flush: %w", flushErr)
	}
	return nil
}

// ensureTopic creates topic with partitions unless it exists.
func ensureTopic(ctx context.Context, adm *kadm.Client, topic string, partitions int32) error {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, -1, nil, topic)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", topic, withMessage(err, resp.ErrMessage))
	}
	return nil
}

// ConsumeResult is perf consume's --json output; bytes are key plus value
// as in kafka-consumer-perf-test, MB is 2^20 bytes.
type ConsumeResult struct {
	Records    int64   `json:"records"`
	MB         float64 `json:"mb"`
	ElapsedSec float64 `json:"elapsed_s"`
	RecordsSec float64 `json:"records_per_sec"`
	MBSec      float64 `json:"mb_per_sec"`
	// start and end frame the run in the text form's first two columns.
	start, end time.Time
}

func perfConsume(e *env, args []string) error {
	fs := e.newFlagSet("perf consume", "perf consume --topic T --messages N [--timeout DUR] [--json]")
	topic := fs.String("topic", "", "topic to read from the start of every partition (required)")
	messages := fs.Int64("messages", 0, "records to consume (required)")
	timeout := new(time.Duration)
	durationVar(fs, timeout, "timeout", 10*time.Second, "give up when no record arrives for this long: a duration (10s) or, as kafka-consumer-perf-test's --timeout, milliseconds")
	fetchMax := fs.Int("fetch-max-bytes", 0, "fetch.max.bytes (0: client default, 50 MB)")
	asJSON := fs.Bool("json", false, "print the figures as one JSON object")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) != 0:
		return usagef("perf consume: unexpected argument %q", pos[0])
	case *topic == "":
		return usagef("perf consume: --topic is required")
	case *messages <= 0:
		return usagef("perf consume: --messages must be > 0")
	case *timeout <= 0:
		return usagef("perf consume: --timeout must be > 0")
	}
	opts := []kgo.Opt{kgo.ConsumeTopics(*topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	if *fetchMax > 0 {
		opts = append(opts, kgo.FetchMaxBytes(int32(*fetchMax)))
	}
	cl, err := e.client(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	// A topic that does not exist fails at once, as consume does, rather
	// than after --timeout of nothing.
	if err := checkConsumable(e.ctx, cl, *topic, -1); err != nil {
		return err
	}
	start := time.Now()
	var bytes int64
	var last time.Time
	n, err := consumeLoop(e.ctx, cl, *messages, *timeout, func(r *kgo.Record) error {
		bytes += int64(len(r.Key) + len(r.Value))
		last = time.Now()
		return nil
	}, func() error { return nil }, e.stderr)
	if err != nil {
		return err
	}
	if last.IsZero() {
		last = time.Now()
	}
	el := last.Sub(start).Seconds()
	res := ConsumeResult{
		Records:    n,
		MB:         float64(bytes) / mib,
		ElapsedSec: el,
		RecordsSec: float64(n) / el,
		MBSec:      float64(bytes) / mib / el,
		start:      start,
		end:        last,
	}
	printConsume(e.stdout, res, *asJSON)
	switch {
	case n < *messages && e.ctx.Err() != nil:
		fmt.Fprintf(e.stderr, "gokafka perf consume: interrupted after %d of %d records\n", n, *messages)
		return errReported
	case n < *messages:
		fmt.Fprintf(e.stderr, "gokafka perf consume: stopped after %d of %d records: nothing arrived for %s\n", n, *messages, *timeout)
		return errReported
	}
	return nil
}

func printConsume(w io.Writer, r ConsumeResult, asJSON bool) {
	if asJSON {
		json.NewEncoder(w).Encode(r)
		return
	}
	// kafka-consumer-perf-test's columns, in its order, so that scripts
	// that read them by position (MB.sec is the 4th) read the same figure.
	// Without a group there is no rebalance: all of the run is fetching.
	// Its times are yyyy-MM-dd HH:mm:ss:SSS (Go's layouts take fractions
	// only after '.' or ',').
	date := func(t time.Time) string {
		return fmt.Sprintf("%s:%03d", t.Format("2006-01-02 15:04:05"), t.Nanosecond()/int(time.Millisecond))
	}
	fmt.Fprintln(w, "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec")
	fmt.Fprintf(w, "%s, %s, %.4f, %.4f, %d, %.4f, %d, %d, %.4f, %.4f\n", date(r.start), date(r.end),
		r.MB, r.MBSec, r.Records, r.RecordsSec, 0, r.end.Sub(r.start).Milliseconds(), r.MBSec, r.RecordsSec)
}
