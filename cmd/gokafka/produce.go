package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// maxLine bounds one stdin line; a record larger than the broker's
// message.max.bytes fails at the broker anyway.
const maxLine = 64 << 20

// deliveryTimeout is Kafka's delivery.timeout.ms default: how long a record
// may wait for its ack, retries included.
const deliveryTimeout = 2 * time.Minute

func cmdProduce(e *env, args []string) error {
	fs := e.newFlagSet("produce", "produce --topic T [--key-separator SEP] [--header k=v ...] [--property k=v ...] [--partition N] [--acks all|1|0] [--compression-codec C]")
	topic := fs.String("topic", "", "topic to produce to (required)")
	keySep := fs.String("key-separator", "", "split each line into key and value at the first `SEP` (no key when empty); short for --property parse.key=true --property key.separator=SEP")
	var headers, properties listFlag
	fs.Var(&headers, "header", "header `key=value` put on every record (repeatable)")
	fs.Var(&properties, "property", "kafka-console-producer's line reader settings, `key=value` (repeatable): parse.key, key.separator (tab), parse.headers, headers.delimiter (tab), headers.separator (,), headers.key.separator (:), ignore.error, null.marker")
	partition := fs.Int("partition", -1, "partition to produce to (-1: the default partitioner, by key)")
	acks := fs.String("acks", "all", "all, 1 or 0")
	timeout := fs.Duration("timeout", deliveryTimeout, "how long a record may take to be acknowledged, retries included (delivery.timeout.ms)")
	codec := fs.String("compression-codec", "none", "compress batches with none, gzip, snappy, lz4 or zstd")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("produce: unexpected argument %q", pos[0])
	}
	if *topic == "" {
		return usagef("produce: --topic is required")
	}
	props, err := parseProperties("produce", properties)
	if err != nil {
		return err
	}
	if *keySep != "" {
		if v, ok := props["key.separator"]; ok && v != *keySep || !propBool(props, "parse.key", true) {
			return usagef("produce: --key-separator %q and --property say different things", *keySep)
		}
		props["parse.key"], props["key.separator"] = "true", *keySep
	}
	reader, err := newLineReader(props)
	if err != nil {
		return err
	}
	warnUnused(e.stderr, "produce", props, readerProperties)
	var hdrs []kgo.RecordHeader
	for _, h := range headers {
		k, v, err := splitKV(h)
		if err != nil {
			return err
		}
		hdrs = append(hdrs, kgo.RecordHeader{Key: k, Value: []byte(v)})
	}
	opts, err := parseAcks(*acks)
	if err != nil {
		return err
	}
	compression, err := parseCompression(*codec)
	if err != nil {
		return err
	}
	opts = append(opts,
		kgo.DefaultProduceTopic(*topic),
		kgo.AllowAutoTopicCreation(), // as kafka-console-producer, on brokers that allow it
		compression,
		kgo.RecordDeliveryTimeout(*timeout),
		// As kafka-console-producer's delivery.timeout.ms: a record not
		// acknowledged in time fails, even one sent to a broker that then
		// went away (franz-go would otherwise wait for that broker however
		// long it takes, to keep its idempotent sequence).
		kgo.AllowIdempotentProduceCancellation(),
	)
	retries := &retryLog{w: e.stderr}
	opts = append(opts, kgo.WithLogger(retries))
	if *partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := e.client(opts...)
	if err != nil {
		return err
	}
	var closeOnce sync.Once
	closeClient := func() { closeOnce.Do(cl.Close) }
	defer closeClient()
	if err := ping(e.ctx, cl); err != nil {
		return err
	}

	var (
		mu       sync.Mutex
		acked    int64
		failed   int64
		firstErr []string // distinct error texts, a few
	)
	done := func(_ *kgo.Record, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			acked++
			return
		}
		if e.ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed)) {
			return // stopped before its answer came: counted as not acknowledged
		}
		failed++
		msg := err.Error()
		for _, m := range firstErr {
			if m == msg {
				return
			}
		}
		if len(firstErr) < 5 {
			firstErr = append(firstErr, msg)
		}
	}

	start := time.Now()
	// stdin is read in its own goroutine so that an interrupt stops the
	// producer while it waits for a line (a terminal), as Ctrl-C stops
	// kafka-console-producer; a read left blocked ends with the process.
	sc := bufio.NewScanner(e.stdin)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	lines, stopReading := make(chan string), make(chan struct{})
	defer close(stopReading)
	var scanErr error // set before lines is closed, read after
	go func() {
		defer close(lines)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-stopReading:
				return
			}
		}
		scanErr = sc.Err()
	}()
	var sent, lineNo int64
	var lineErr, readErr error
	for {
		var line string
		var ok bool
		select {
		case line, ok = <-lines:
			if !ok {
				readErr = scanErr
			}
		case <-e.ctx.Done():
		}
		if !ok {
			break
		}
		lineNo++
		line = strings.TrimSuffix(line, "\r")
		r := &kgo.Record{Headers: slices.Clip(hdrs), Partition: int32(*partition)}
		// As kafka-console-producer's: a line without a separator it
		// was told to parse is an error (unless ignore.error), not a
		// record without a key.
		if lineErr = reader.record(r, line, lineNo); lineErr != nil {
			break
		}
		sent++
		cl.Produce(e.ctx, r, done)
	}
	flushErr := cl.Flush(e.ctx)
	if flushErr != nil {
		// Interrupted: closing the client fails what it still holds, so
		// that the counts below take in every record read.
		closeClient()
	}

	mu.Lock()
	defer mu.Unlock()
	for _, m := range firstErr {
		fmt.Fprintf(e.stderr, "gokafka produce: %s\n", m)
	}
	if last := retries.last(); failed > 0 && last != "" {
		fmt.Fprintf(e.stderr, "gokafka produce: the broker's last answer before that: %s\n", last)
	}
	notSent := ""
	if n := sent - acked - failed; n > 0 {
		notSent = fmt.Sprintf(", %d not acknowledged when stopped", n)
	}
	fmt.Fprintf(e.stderr, "%d records produced to %s, %d failed%s, in %s\n",
		acked, *topic, failed, notSent, time.Since(start).Round(time.Millisecond))
	switch {
	case lineErr != nil:
		return lineErr
	case readErr != nil:
		return fmt.Errorf("reading stdin: %w", readErr)
	case flushErr != nil && !errors.Is(flushErr, context.Canceled):
		return fmt.Errorf("flush: %w", flushErr)
	case failed > 0 || acked != sent:
		return errReported
	}
	return nil
}

// retryLog is the producer's logger: it reports each distinct error a
// broker answers a produce with while the client retries it, as the Java
// producer logs a WARN per retried batch, so that a record that fails at
// its delivery timeout is not the first word of a retriable error (a full
// disk, too few in-sync replicas) the user hears.
type retryLog struct {
	mu   sync.Mutex
	w    io.Writer
	seen map[string]bool
	prev string
}

// Level is debug: franz-go names a retried batch's error only in its
// debug summary of each produce response ("produced").
func (l *retryLog) Level() kgo.LogLevel { return kgo.LogLevelDebug }

// retriedBatch matches a partition retried in that summary:
// 0{retrying@-1,2(NOT_ENOUGH_REPLICAS: ...)}.
var retriedBatch = regexp.MustCompile(`(\d+)\{retrying@-?\d+,\d+\((.*?)\)\}`)

func (l *retryLog) Log(_ kgo.LogLevel, msg string, keyvals ...any) {
	if msg != "produced" {
		return
	}
	var summary string
	for i := 0; i+1 < len(keyvals); i += 2 {
		if k, _ := keyvals[i].(string); k == "to" {
			summary, _ = keyvals[i+1].(string)
		}
	}
	// topic[0{...}, 1{...}], topic2[...]
	for _, chunk := range strings.Split(summary, "], ") {
		topic, parts, ok := strings.Cut(chunk, "[")
		if !ok {
			continue
		}
		for _, m := range retriedBatch.FindAllStringSubmatch(parts, -1) {
			l.retried(topic+"-"+m[1], m[2])
		}
	}
}

func (l *retryLog) retried(partition, errText string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prev = errText
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	if !l.seen[errText] && len(l.seen) < 20 {
		l.seen[errText] = true
		fmt.Fprintf(l.w, "gokafka produce: %s: retrying: %s\n", partition, errText)
	}
}

// last is the last error a broker answered.
func (l *retryLog) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.prev
}

// ping fails at once when no broker answers, where a producer would wait
// out its delivery timeout (two minutes) saying nothing.
func ping(ctx context.Context, cl *kgo.Client) error {
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		return fmt.Errorf("no broker answers: %w", err)
	}
	return nil
}
