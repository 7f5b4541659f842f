package compattests

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

func saramaConfig(v sarama.KafkaVersion) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = v
	cfg.ClientID = "gokafka-compat"
	cfg.Net.DialTimeout = 5 * time.Second
	cfg.Net.ReadTimeout = 15 * time.Second
	cfg.Net.WriteTimeout = 5 * time.Second
	cfg.Metadata.Retry.Max = 10
	cfg.Metadata.Retry.Backoff = 100 * time.Millisecond
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1 // required by sarama for idempotence
	cfg.Producer.Retry.Max = 5
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.MaxWaitTime = 200 * time.Millisecond
	return cfg
}

// saramaCase is a sarama Version and producer codec to run a test with.
type saramaCase struct {
	name  string
	v     sarama.KafkaVersion
	codec sarama.CompressionCodec
}

func TestSarama(t *testing.T) {
	b := startBroker(t)
	versions := []saramaCase{
		{"V2_8_0_0", sarama.V2_8_0_0, sarama.CompressionNone},
		{"V3_6_0_0", sarama.V3_6_0_0, sarama.CompressionNone},
		{"V3_6_0_0-snappy", sarama.V3_6_0_0, sarama.CompressionSnappy},
		{"V2_8_0_0-gzip", sarama.V2_8_0_0, sarama.CompressionGZIP},
	}
	for _, ver := range versions {
		t.Run(ver.name, func(t *testing.T) {
			topic := "sarama-" + ver.name
			cfg := saramaConfig(ver.v)
			cfg.Producer.Compression = ver.codec

			// Create the topic through sarama's own admin client: two
			// partitions, so the manual partition choice is observable.
			admin, err := sarama.NewClusterAdmin([]string{b.Addr()}, cfg)
			if err != nil {
				t.Fatalf("NewClusterAdmin: %v", err)
			}
			defer admin.Close()
			if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1}, false); err != nil {
				t.Fatalf("CreateTopic: %v", err)
			}

			prod, err := sarama.NewSyncProducer([]string{b.Addr()}, cfg)
			if err != nil {
				t.Fatalf("NewSyncProducer: %v", err)
			}
			const n = 25
			var want []*sarama.ProducerMessage
			for i := 0; i < n; i++ {
				m := &sarama.ProducerMessage{
					Topic:     topic,
					Partition: 1,
					Key:       sarama.StringEncoder("key-" + strconv.Itoa(i)),
					Value:     sarama.StringEncoder(fmt.Sprintf("sarama %s value %d", ver.name, i)),
					Headers: []sarama.RecordHeader{
						{Key: []byte("seq"), Value: []byte(strconv.Itoa(i))},
						{Key: []byte("client"), Value: []byte("sarama")},
					},
				}
				p, off, err := prod.SendMessage(m)
				if err != nil {
					prod.Close()
					t.Fatalf("SendMessage %d: %v", i, err)
				}
				if p != 1 || off != int64(i) {
					t.Errorf("message %d acknowledged at %d/%d, want 1/%d", i, p, off, i)
				}
				want = append(want, m)
			}
			// A batch through SendMessages too.
			var batch []*sarama.ProducerMessage
			for i := n; i < n+10; i++ {
				batch = append(batch, &sarama.ProducerMessage{
					Topic: topic, Partition: 1,
					Key:     sarama.StringEncoder("key-" + strconv.Itoa(i)),
					Value:   sarama.StringEncoder(fmt.Sprintf("sarama %s value %d", ver.name, i)),
					Headers: []sarama.RecordHeader{{Key: []byte("seq"), Value: []byte(strconv.Itoa(i))}, {Key: []byte("client"), Value: []byte("sarama")}},
				})
			}
			if err := prod.SendMessages(batch); err != nil {
				prod.Close()
				t.Fatalf("SendMessages: %v", err)
			}
			want = append(want, batch...)
			if err := prod.Close(); err != nil {
				t.Errorf("producer Close: %v", err)
			}

			cons, err := sarama.NewConsumer([]string{b.Addr()}, cfg)
			if err != nil {
				t.Fatalf("NewConsumer: %v", err)
			}
			defer cons.Close()
			pc, err := cons.ConsumePartition(topic, 1, sarama.OffsetOldest)
			if err != nil {
				t.Fatalf("ConsumePartition: %v", err)
			}
			defer pc.Close()
			timeout := time.After(20 * time.Second)
			for i := 0; i < len(want); i++ {
				select {
				case m := <-pc.Messages():
					w := want[i]
					wk, _ := w.Key.Encode()
					wv, _ := w.Value.Encode()
					if m.Offset != int64(i) || string(m.Key) != string(wk) || string(m.Value) != string(wv) {
						t.Fatalf("message %d: offset %d %q=%q, want offset %d %q=%q", i, m.Offset, m.Key, m.Value, i, wk, wv)
					}
					if len(m.Headers) != len(w.Headers) {
						t.Fatalf("message %d: %d headers, want %d", i, len(m.Headers), len(w.Headers))
					}
					for h, hd := range m.Headers {
						if string(hd.Key) != string(w.Headers[h].Key) || string(hd.Value) != string(w.Headers[h].Value) {
							t.Errorf("message %d header %d: %q=%q, want %q=%q", i, h, hd.Key, hd.Value, w.Headers[h].Key, w.Headers[h].Value)
						}
					}
				case err := <-pc.Errors():
					t.Fatalf("consumer error after %d messages: %v", i, err)
				case <-timeout:
					t.Fatalf("timed out after %d of %d messages", i, len(want))
				}
			}
			select {
			case m := <-pc.Messages():
				t.Fatalf("unexpected extra message at offset %d: %q", m.Offset, m.Value)
			case <-time.After(500 * time.Millisecond):
			}
			if hw := pc.HighWaterMarkOffset(); hw != int64(len(want)) {
				t.Errorf("high watermark %d, want %d", hw, len(want))
			}

			// Partition 0 must be untouched.
			client, err := sarama.NewClient([]string{b.Addr()}, cfg)
			if err != nil {
				t.Fatalf("NewClient: %v", err)
			}
			defer client.Close()
			for p, wantEnd := range map[int32]int64{0: 0, 1: int64(len(want))} {
				end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
				if err != nil {
					t.Fatalf("GetOffset p%d: %v", p, err)
				}
				if end != wantEnd {
					t.Errorf("p%d newest offset %d, want %d", p, end, wantEnd)
				}
			}
		})
	}
}

// TestSaramaOldVersions: sarama set to Kafka 0.9 and 0.10 speaks produce
// v1/v2 and fetch v1/v3, whose message sets (magic 0 and 1) the broker
// converts as Kafka 3.x does; newer clients read what it wrote.
func TestSaramaOldVersions(t *testing.T) {
	b := startBroker(t)
	for _, ver := range []saramaCase{
		{"V0_9_0_0", sarama.V0_9_0_0, sarama.CompressionNone},
		{"V0_10_2_0", sarama.V0_10_2_0, sarama.CompressionNone},
		{"V0_10_2_0-gzip", sarama.V0_10_2_0, sarama.CompressionGZIP},
		{"V0_10_2_0-snappy", sarama.V0_10_2_0, sarama.CompressionSnappy},
	} {
		t.Run(ver.name, func(t *testing.T) {
			ctx := testCtx(t, 60*time.Second)
			topic := "sarama-old-" + ver.name
			createTopic(t, ctx, newAdm(t, b.Addr()), topic, 1, nil)
			cfg := saramaConfig(ver.v)
			cfg.Producer.Idempotent = false // needs 0.11
			cfg.Net.MaxOpenRequests = 5
			cfg.Producer.Compression = ver.codec
			prod, err := sarama.NewSyncProducer([]string{b.Addr()}, cfg)
			if err != nil {
				t.Fatalf("NewSyncProducer: %v", err)
			}
			const n = 20
			var msgs []*sarama.ProducerMessage
			for i := 0; i < n; i++ {
				msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Partition: 0,
					Key: sarama.StringEncoder("key-" + strconv.Itoa(i)), Value: sarama.StringEncoder("old " + strconv.Itoa(i))})
			}
			if err := prod.SendMessages(msgs[:n/2]); err != nil {
				t.Fatalf("SendMessages: %v", err)
			}
			for _, m := range msgs[n/2:] {
				if _, _, err := prod.SendMessage(m); err != nil {
					t.Fatalf("SendMessage: %v", err)
				}
			}
			prod.Close()
			for i, m := range msgs {
				if m.Offset != int64(i) {
					t.Fatalf("message %d acknowledged at offset %d", i, m.Offset)
				}
			}

			cons, err := sarama.NewConsumer([]string{b.Addr()}, cfg)
			if err != nil {
				t.Fatalf("NewConsumer: %v", err)
			}
			defer cons.Close()
			pc, err := cons.ConsumePartition(topic, 0, 5) // mid-log: earlier messages are left out
			if err != nil {
				t.Fatalf("ConsumePartition: %v", err)
			}
			defer pc.Close()
			timeout := time.After(20 * time.Second)
			for i := 5; i < n; i++ {
				select {
				case m := <-pc.Messages():
					if m.Offset != int64(i) || string(m.Key) != "key-"+strconv.Itoa(i) || string(m.Value) != "old "+strconv.Itoa(i) {
						t.Fatalf("message %d: offset %d %q=%q", i, m.Offset, m.Key, m.Value)
					}
				case err := <-pc.Errors():
					t.Fatalf("consumer error after %d messages: %v", i, err)
				case <-timeout:
					t.Fatalf("timed out at message %d", i)
				}
			}
			got := consumeExactly(t, ctx, b.Addr(), topic, 0, n) // franz-go, newest versions
			for i, r := range got {
				if string(r.Key) != "key-"+strconv.Itoa(i) || string(r.Value) != "old "+strconv.Itoa(i) {
					t.Fatalf("franz-go record %d: %q=%q", i, r.Key, r.Value)
				}
			}
		})
	}
}
