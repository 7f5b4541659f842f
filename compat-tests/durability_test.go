package compattests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type ackedRecord struct {
	seq    int
	offset int64
}

// TestKill9MidStream: every record acknowledged under acks=all before a
// SIGKILL is there after the restart, once, at its acknowledged offset; the
// idempotent producer keeps going across the restart and the broker never
// stores any of its records twice.
func TestKill9MidStream(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 90*time.Second)
	kill9MidStream(t, ctx, b, "kill9")
}

// TestKill9MidStreamRecycled is TestKill9MidStream on a segment file
// recycled from a deleted topic that held the same kind of records: the
// crash must leave neither lost records nor the deleted topic's.
func TestKill9MidStreamRecycled(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 120*time.Second)
	adm := newAdm(t, b.Addr())
	createTopic(t, ctx, adm, "seed", 1, nil)
	seed := newKgo(t, b.Addr(), kgo.ProducerLinger(time.Millisecond))
	// More than the test writes before its kill (incompressible), so the
	// crash falls inside the recycled file; a stale record would not
	// parse as a seq.
	noise := make([]byte, 16)
	for seq := 0; seq < 300000; seq++ {
		rand.Read(noise)
		seed.Produce(ctx, &kgo.Record{Topic: "seed", Value: fmt.Appendf(nil, "%d-%x", seq, noise)}, nil)
	}
	if err := seed.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.DeleteTopics(ctx, "seed"); err != nil {
		t.Fatal(err)
	}
	pool := filepath.Join(b.DataDir(), "recycle")
	deadline := time.Now().Add(30 * time.Second)
	for {
		ready, _ := filepath.Glob(filepath.Join(pool, "*.ready"))
		if len(ready) == 1 {
			fi, _ := os.Stat(ready[0])
			t.Logf("recycled %s, %d bytes", ready[0], fi.Size())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recycled segment file in %s", pool)
		}
		time.Sleep(50 * time.Millisecond)
	}
	kill9MidStream(t, ctx, b, "kill9")
	if ready, _ := filepath.Glob(filepath.Join(pool, "*.ready")); len(ready) != 0 {
		t.Errorf("the recycled file was not used: %v", ready)
	}
}

func kill9MidStream(t *testing.T, ctx context.Context, b *brokerProc, topic string) {
	createTopic(t, ctx, newAdm(t, b.Addr()), topic, 1, nil)

	prod := newKgo(t, b.Addr(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.MaxBufferedRecords(200),
		kgo.ProducerLinger(time.Millisecond),
		kgo.RecordRetries(1000), // ride out the restart
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
	)
	var (
		mu      sync.Mutex
		acked   []ackedRecord
		failed  int
		lastErr error
		sent    int
	)
	prodCtx, stopProducing := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for seq := 0; prodCtx.Err() == nil; seq++ {
			r := &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(seq))}
			prod.Produce(prodCtx, r, func(r *kgo.Record, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed++
					lastErr = err
					return
				}
				s, _ := strconv.Atoi(string(r.Value))
				acked = append(acked, ackedRecord{s, r.Offset})
			})
			mu.Lock()
			sent = seq + 1
			mu.Unlock()
		}
	}()

	time.Sleep(2 * time.Second)
	mu.Lock()
	ackedBeforeKill := len(acked)
	mu.Unlock()
	b.Kill9()
	if ackedBeforeKill < 10 {
		t.Fatalf("only %d records acknowledged in 2s before the kill", ackedBeforeKill)
	}
	t.Logf("SIGKILL after %d acknowledged records", ackedBeforeKill)
	time.Sleep(300 * time.Millisecond)
	b.Restart()
	restarted := time.Now()
	// The same producer continues; give it time to reconnect and append
	// new records after the in-flight ones it retries. (It takes about
	// 3 s; a 10 s wait left little room on a loaded 2-core machine.)
	for recovered := restarted.Add(30 * time.Second); time.Now().Before(recovered); {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n > ackedBeforeKill+2000 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%v after the restart", time.Since(restarted))
	stopProducing()
	<-done
	flushCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if err := prod.Flush(flushCtx); err != nil {
		t.Errorf("flush after restart: %v", err)
	}
	cancel()
	prod.Close()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("sent %d, acknowledged %d (%d before the kill), failed %d (last: %v)", sent, len(acked), ackedBeforeKill, failed, lastErr)
	if len(acked) <= ackedBeforeKill+2000 {
		t.Errorf("only %d records acknowledged after the restart: the producer did not recover", len(acked)-ackedBeforeKill)
	}

	adm := newAdm(t, b.Addr())
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, 0)
	if end.Err != nil {
		t.Fatalf("end offset: %v", end.Err)
	}
	got := consumeExactly(t, ctx, b.Addr(), topic, 0, int(end.Offset))

	atOffset := make(map[int64]int, len(got)) // offset -> seq
	seen := make(map[int]int64, len(got))     // seq -> offset
	prev := -1
	for i, r := range got {
		if r.Offset != int64(i) {
			t.Fatalf("record %d at offset %d: offsets are not contiguous from 0", i, r.Offset)
		}
		seq, err := strconv.Atoi(string(r.Value))
		if err != nil {
			t.Fatalf("offset %d: value %q", r.Offset, r.Value)
		}
		if first, dup := seen[seq]; dup {
			t.Errorf("seq %d stored twice: offsets %d and %d", seq, first, r.Offset)
		}
		if seq <= prev {
			t.Errorf("offset %d holds seq %d after seq %d: order broken", r.Offset, seq, prev)
		}
		prev = seq
		seen[seq] = r.Offset
		atOffset[r.Offset] = seq
	}
	lost := 0
	for _, a := range acked {
		s, ok := atOffset[a.offset]
		if !ok || s != a.seq {
			lost++
			if lost <= 10 {
				t.Errorf("seq %d was acknowledged at offset %d, but that offset holds %v (present: %v)", a.seq, a.offset, valueOr(s, ok), ok)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged records lost or moved", lost, len(acked))
	}
}

func valueOr(s int, ok bool) string {
	if !ok {
		return "nothing"
	}
	return "seq " + strconv.Itoa(s)
}

// batchBounds parses the record batches of a segment file: the file
// position, base offset, record count and total size of each, up to the end
// of the file or the zeros a killed broker leaves past its data.
type batchBound struct {
	pos, size  int64
	baseOffset int64
	records    int32
}

func batchBounds(t *testing.T, path string) []batchBound {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []batchBound
	for pos := int64(0); pos+61 <= int64(len(data)); {
		if bytes.Equal(data[pos:pos+12], make([]byte, 12)) {
			// The zeros a running broker writes ahead of its data; a
			// killed one leaves them. Nothing but zeros may follow.
			if i := bytes.IndexFunc(data[pos:], func(r rune) bool { return r != 0 }); i >= 0 {
				t.Fatalf("%s: data at position %d after zeros from position %d", path, pos+int64(i), pos)
			}
			break
		}
		base := int64(binary.BigEndian.Uint64(data[pos:]))
		length := int64(binary.BigEndian.Uint32(data[pos+8:]))
		if data[pos+16] != 2 || pos+12+length > int64(len(data)) {
			t.Fatalf("%s: no valid batch at position %d (magic %d, length %d, file %d bytes)", path, pos, data[pos+16], length, len(data))
		}
		n := int32(binary.BigEndian.Uint32(data[pos+57:]))
		out = append(out, batchBound{pos: pos, size: 12 + length, baseOffset: base, records: n})
		pos += 12 + length
	}
	return out
}

// produceBatches produces nBatches batches of perBatch records to partition
// 0, one ProduceSync (one batch) at a time, values "0".."n-1".
func produceBatches(t *testing.T, ctx context.Context, cl *kgo.Client, topic string, first, nBatches, perBatch int) {
	t.Helper()
	seq := first
	for i := 0; i < nBatches; i++ {
		var rs []*kgo.Record
		for j := 0; j < perBatch; j++ {
			rs = append(rs, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte(strconv.Itoa(seq))})
			seq++
		}
		produceSync(t, ctx, cl, rs...)
	}
}

func checkSeqs(t *testing.T, got []*kgo.Record, from int) {
	t.Helper()
	for i, r := range got {
		if r.Offset != int64(from+i) || string(r.Value) != strconv.Itoa(from+i) {
			t.Fatalf("record %d: offset %d value %q, want offset %d value %d", i, r.Offset, r.Value, from+i, from+i)
		}
	}
}

// TestTornTail damages the last batch of the last segment of a stopped
// broker. Where the write can have been torn (the broker was killed), or
// the batch is cut short, the log must end at the last intact batch after
// the restart and accept new records right after it; a batch of a cleanly
// stopped broker whose only fault is its CRC was synced, so the disk
// changed it, and it is kept.
func TestTornTail(t *testing.T) {
	damages := []struct {
		name   string
		damage func(t *testing.T, path string, last batchBound)
	}{
		{"Truncated", func(t *testing.T, path string, last batchBound) {
			if err := os.Truncate(path, last.pos+last.size-7); err != nil {
				t.Fatal(err)
			}
		}},
		{"Garbage", func(t *testing.T, path string, last batchBound) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			// Inside the records, past the 61-byte header: only the CRC
			// can tell.
			if _, err := f.WriteAt([]byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0xff}, last.pos+61+(last.size-61)/2); err != nil {
				t.Fatal(err)
			}
		}},
	}
	// SIGTERM leaves the clean-shutdown marker (the damage then happened
	// while the broker was down); SIGKILL makes the broker run recovery.
	stops := []struct {
		name string
		stop func(*brokerProc)
	}{
		{"AfterSIGTERM", (*brokerProc).Stop},
		{"AfterSIGKILL", (*brokerProc).Kill9},
	}
	for _, d := range damages {
		for _, st := range stops {
			t.Run(d.name+"-"+st.name, func(t *testing.T) {
				b := startBroker(t)
				ctx := testCtx(t, 60*time.Second)
				const topic = "torn"
				createTopic(t, ctx, newAdm(t, b.Addr()), topic, 1, nil)
				cl := newKgo(t, b.Addr(), kgo.ProducerLinger(100*time.Millisecond))
				produceBatches(t, ctx, cl, topic, 0, 10, 10)
				cl.Close()
				st.stop(b)

				path := filepath.Join(b.DataDir(), topic+"-0", "00000000000000000000.log")
				if _, err := os.Stat(path); err != nil {
					entries, _ := filepath.Glob(filepath.Join(b.DataDir(), "*", "*"))
					t.Fatalf("segment file: %v; data dir holds %v", err, entries)
				}
				bounds := batchBounds(t, path)
				// kgo may split a ProduceSync into several batches; what
				// counts is where the last one starts.
				if len(bounds) < 10 {
					t.Fatalf("%d batches in %s, want at least 10: %+v", len(bounds), path, bounds)
				}
				last := bounds[len(bounds)-1]
				good := int(last.baseOffset)
				if int(last.baseOffset)+int(last.records) != 100 {
					t.Fatalf("last batch %+v does not end at offset 100", last)
				}
				d.damage(t, path, last)

				b.Restart()
				adm := newAdm(t, b.Addr())
				ends, err := adm.ListEndOffsets(ctx, topic)
				if err != nil {
					t.Fatal(err)
				}
				if d.name == "Garbage" && st.name == "AfterSIGTERM" {
					// After a clean stop every batch was synced: a CRC that
					// fails is the disk's doing, not a torn write. The
					// batch is kept as it is, as Kafka keeps it (cutting
					// there would cut every acknowledged batch after it),
					// and the broker says so; new records follow it.
					if o, _ := ends.Lookup(topic, 0); o.Err != nil || o.Offset != 100 {
						t.Errorf("end offset after damage: %d (err %v), want 100", o.Offset, o.Err)
					}
					if !strings.Contains(b.Logs(), "batch fails its CRC in synced data") {
						t.Error("the damaged batch was not logged")
					}
					cl2 := newKgo(t, b.Addr(), kgo.ProducerLinger(0))
					res := cl2.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("100")})
					if r, err := res.First(); err != nil || r.Offset != 100 {
						t.Fatalf("produce after recovery: offset %v, %v; want 100", r, err)
					}
					checkSeqs(t, consumeFrom(t, ctx, b.Addr(), topic, 0, kgo.NewOffset().At(100), 1), 100)
					return
				}
				if o, _ := ends.Lookup(topic, 0); o.Err != nil || o.Offset != int64(good) {
					t.Errorf("end offset after damage: %d (err %v), want %d", o.Offset, o.Err, good)
				}
				checkSeqs(t, consumeExactly(t, ctx, b.Addr(), topic, 0, good), 0)

				cl2 := newKgo(t, b.Addr(), kgo.ProducerLinger(0))
				var rs []*kgo.Record
				for i := 0; i < 5; i++ {
					rs = append(rs, &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte(strconv.Itoa(good + i))})
				}
				res := cl2.ProduceSync(ctx, rs...)
				if err := res.FirstErr(); err != nil {
					t.Fatalf("produce after recovery: %v", err)
				}
				for i, r := range res {
					if r.Record.Offset != int64(good+i) {
						t.Errorf("new record %d acknowledged at offset %d, want %d", i, r.Record.Offset, good+i)
					}
				}
				checkSeqs(t, consumeExactly(t, ctx, b.Addr(), topic, 0, good+5), 0)
			})
		}
	}
}

// TestCleanRestart: SIGTERM exits 0 and everything, data and topic
// configuration, is there after the restart.
func TestCleanRestart(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 60*time.Second)
	adm := newAdm(t, b.Addr())
	createTopic(t, ctx, adm, "keep-a", 1, map[string]*string{"retention.ms": kadm.StringPtr("86400000")})
	createTopic(t, ctx, adm, "keep-b", 3, nil)
	alt, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: kadm.StringPtr("500000")}}, "keep-b")
	if err != nil {
		t.Fatalf("AlterTopicConfigs: %v", err)
	}
	for _, r := range alt {
		if r.Err != nil {
			t.Fatalf("AlterTopicConfigs %s: %v %s", r.Name, r.Err, r.ErrMessage)
		}
	}
	cl := newKgo(t, b.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceBatches(t, ctx, cl, "keep-a", 0, 5, 7)
	for p := int32(0); p < 3; p++ {
		produceSync(t, ctx, cl, &kgo.Record{Topic: "keep-b", Partition: p, Value: []byte("p" + strconv.Itoa(int(p)))})
	}
	cl.Close()

	for round := 0; round < 2; round++ {
		b.Stop()
		b.Restart()
		ctx := ctx
		adm := newAdm(t, b.Addr())
		md, err := adm.Metadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(md.Topics["keep-a"].Partitions); n != 1 {
			t.Errorf("round %d: keep-a has %d partitions, want 1", round, n)
		}
		if n := len(md.Topics["keep-b"].Partitions); n != 3 {
			t.Errorf("round %d: keep-b has %d partitions, want 3", round, n)
		}
		rc, err := adm.DescribeTopicConfigs(ctx, "keep-a", "keep-b")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ topic, key, want string }{
			{"keep-a", "retention.ms", "86400000"},
			{"keep-b", "max.message.bytes", "500000"},
		} {
			var v *string
			for _, r := range rc {
				if r.Name == c.topic {
					v = configValue(r, c.key)
				}
			}
			if v == nil || *v != c.want {
				t.Errorf("round %d: %s %s = %s, want %s", round, c.topic, c.key, deref(v), c.want)
			}
		}
		checkSeqs(t, consumeExactly(t, ctx, b.Addr(), "keep-a", 0, 35), 0)
		for p := int32(0); p < 3; p++ {
			got := consumeExactly(t, ctx, b.Addr(), "keep-b", p, 1)
			if string(got[0].Value) != "p"+strconv.Itoa(int(p)) {
				t.Errorf("round %d: keep-b/%d holds %q", round, p, got[0].Value)
			}
		}
	}
	// And the log says it stopped cleanly each time.
	if n := strings.Count(b.Logs(), "stopped cleanly"); n != 2 {
		t.Errorf("%d clean stops logged, want 2", n)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("ran out of time")
	}
}
