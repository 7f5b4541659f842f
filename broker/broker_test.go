package broker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// consumeAll reads every record of topic from the start until n are seen.
func consumeAll(t testing.TB, b *Broker, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := newClient(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(out), n, err)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

func TestLibraryStartProduceConsumeRestart(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	cl := newClient(t, b, kgo.DefaultProduceTopic("lib"))
	createTopic(t, cl, "lib", 3, map[string]string{"retention.ms": "3600000"})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	want := map[string]int64{}
	for i := 0; i < 100; i++ {
		r := &kgo.Record{Key: []byte(fmt.Sprint(i % 7)), Value: []byte(fmt.Sprintf("v%03d", i))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
		want[string(r.Value)] = int64(r.Partition)<<32 | r.Offset
	}
	cl.Close()
	if err := b.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	// A new broker on the same directory has every record at its offset,
	// and the topic's configuration.
	b = startBroker(t, dir, nil)
	defer b.Close()
	got := consumeAll(t, b, "lib", 100)
	if len(got) != 100 {
		t.Fatalf("got %d records after restart, want 100", len(got))
	}
	for _, r := range got {
		if pos, ok := want[string(r.Value)]; !ok || pos != int64(r.Partition)<<32|r.Offset {
			t.Fatalf("record %s at %d/%d, produced at %d/%d", r.Value, r.Partition, r.Offset, pos>>32, pos&0xffffffff)
		}
		delete(want, string(r.Value))
	}
	if tp := b.node.Controller().State().Topics["lib"]; tp == nil || tp.Configs["retention.ms"] != "3600000" {
		t.Fatalf("topic config lost across restart: %+v", tp)
	}
}
