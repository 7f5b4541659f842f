package compattests

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
)

// kafkagoCreateTopic creates a topic the kafka-go way: dial any broker, ask
// it for the controller, send CreateTopics there.
func kafkagoCreateTopic(t *testing.T, addr, topic string, partitions int) {
	t.Helper()
	conn, err := kafka.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("kafka.Dial: %v", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	ctrl, err := conn.Controller()
	if err != nil {
		t.Fatalf("Controller: %v", err)
	}
	cc, err := kafka.Dial("tcp", net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)))
	if err != nil {
		t.Fatalf("dial controller %v: %v", ctrl, err)
	}
	defer cc.Close()
	cc.SetDeadline(time.Now().Add(15 * time.Second))
	if err := cc.CreateTopics(kafka.TopicConfig{Topic: topic, NumPartitions: partitions, ReplicationFactor: 1}); err != nil {
		t.Fatalf("CreateTopics %s: %v", topic, err)
	}
}

// kafkagoRead reads partition p from its first offset until it has n
// messages; then it requires that nothing more arrives for a moment.
func kafkagoRead(t *testing.T, ctx context.Context, addr, topic string, p, n int) []kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   []string{addr},
		Topic:     topic,
		Partition: p,
		MinBytes:  1,
		MaxBytes:  1 << 20,
		MaxWait:   200 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		t.Fatalf("SetOffset: %v", err)
	}
	var out []kafka.Message
	for len(out) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("ReadMessage %s/%d after %d of %d: %v", topic, p, len(out), n, err)
		}
		out = append(out, m)
	}
	grace, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if m, err := r.ReadMessage(grace); err == nil {
		t.Fatalf("%s/%d: unexpected message beyond %d: offset %d %q", topic, p, n, m.Offset, m.Value)
	}
	return out
}

func TestKafkaGo(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 60*time.Second)

	cases := []struct {
		name       string
		balancer   kafka.Balancer
		autoCreate bool
		codec      kafka.Compression
	}{
		{"Hash", &kafka.Hash{}, false, 0},
		{"LeastBytes-autocreate", &kafka.LeastBytes{}, true, 0},
		{"Hash-lz4", &kafka.Hash{}, false, kafka.Lz4},
		{"Hash-zstd", &kafka.Hash{}, false, kafka.Zstd},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			topic := "kafkago-" + c.name
			partitions := 3
			if c.autoCreate {
				partitions = 1 // the broker's num.partitions default
			} else {
				kafkagoCreateTopic(t, b.Addr(), topic, partitions)
			}
			// A Transport of its own: kafka-go's shared DefaultTransport serves
			// the Writer's metadata from a cache (6 s TTL) that does not see
			// topics created over a kafka.Conn.
			tr := &kafka.Transport{ClientID: "gokafka-compat"}
			defer tr.CloseIdleConnections()
			w := &kafka.Writer{
				Transport:              tr,
				Addr:                   kafka.TCP(b.Addr()),
				Topic:                  topic,
				Balancer:               c.balancer,
				RequiredAcks:           kafka.RequireAll,
				AllowAutoTopicCreation: c.autoCreate,
				Compression:            c.codec,
				BatchTimeout:           10 * time.Millisecond,
				MaxAttempts:            10,
				WriteBackoffMin:        50 * time.Millisecond,
				WriteBackoffMax:        500 * time.Millisecond,
			}
			const n = 60
			var msgs []kafka.Message
			for i := 0; i < n; i++ {
				msgs = append(msgs, kafka.Message{
					Key:     []byte("user-" + strconv.Itoa(i%9)),
					Value:   []byte(fmt.Sprintf("kafka-go %s message %d", c.name, i)),
					Headers: []kafka.Header{{Key: "seq", Value: []byte(strconv.Itoa(i))}},
				})
			}
			// Write in a few calls; each call's messages are written in
			// order, and a call returns only once acknowledged.
			for i := 0; i < n; i += 20 {
				if err := w.WriteMessages(ctx, msgs[i:i+20]...); err != nil {
					w.Close()
					t.Fatalf("WriteMessages [%d,%d): %v", i, i+20, err)
				}
			}
			if err := w.Close(); err != nil {
				t.Errorf("writer Close: %v", err)
			}

			// Expected placement: with Hash, a pure function of the key.
			want := make([][]kafka.Message, partitions)
			if _, ok := c.balancer.(*kafka.Hash); ok {
				all := make([]int, partitions)
				for p := range all {
					all[p] = p
				}
				for _, m := range msgs {
					p := (&kafka.Hash{}).Balance(m, all...)
					want[p] = append(want[p], m)
				}
			} else {
				want[0] = msgs
			}
			for p := range want {
				got := kafkagoRead(t, ctx, b.Addr(), topic, p, len(want[p]))
				for i, m := range got {
					w := want[p][i]
					if m.Offset != int64(i) || m.Partition != p {
						t.Errorf("p%d message %d at %d/%d", p, i, m.Partition, m.Offset)
					}
					if string(m.Key) != string(w.Key) || string(m.Value) != string(w.Value) {
						t.Errorf("p%d message %d: %q=%q, want %q=%q", p, i, m.Key, m.Value, w.Key, w.Value)
					}
					if len(m.Headers) != 1 || m.Headers[0].Key != "seq" || string(m.Headers[0].Value) != string(w.Headers[0].Value) {
						t.Errorf("p%d message %d headers %v, want %v", p, i, m.Headers, w.Headers)
					}
				}
			}
		})
	}
}
