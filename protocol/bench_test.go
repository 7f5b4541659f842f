package protocol

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/gokafka/gokafka/internal/bufpool"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BenchmarkProduceParseEncode measures the protocol layer's share of a small
// produce: parse the frame (header and body) and encode the response.
func BenchmarkProduceParseEncode(b *testing.B) {
	batch := kmsg.NewRecordBatch()
	batch.Magic = 2
	batch.NumRecords = 1
	batch.Records = make([]byte, 100)
	records := batch.AppendTo(nil)

	req := kmsg.NewPtrProduceRequest()
	req.Version = 9
	req.Acks = -1
	req.TimeoutMillis = 5000
	topic := kmsg.NewProduceRequestTopic()
	topic.Topic = "orders"
	part := kmsg.NewProduceRequestTopicPartition()
	part.Records = records
	topic.Partitions = append(topic.Partitions, part)
	req.Topics = append(req.Topics, topic)
	frame := appendRequest(nil, req, 1)[4:]

	versions := newVersionTable(map[int16]VersionRange{0: {3, 11}})
	var out []byte
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		r, _, err := parseRequest(frame, versions)
		if err != nil {
			b.Fatal(err)
		}
		pr := r.Body.(*kmsg.ProduceRequest)
		resp := kmsg.NewPtrProduceResponse()
		resp.SetVersion(r.Version)
		for _, t := range pr.Topics {
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rp.BaseOffset = 42
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		out = appendResponse(out[:0], r.CorrelationID, resp)
	}
}

// BenchmarkReadFrame reads a produce-sized frame, from a connection that
// has not yet sent one as large (grown as it arrives) and from one that
// has (read into its full size once its first chunk is in).
func BenchmarkReadFrame(b *testing.B) {
	for _, size := range []int{1<<20 + 300, 6 << 20} {
		frame := binary.BigEndian.AppendUint32(nil, uint32(size))
		frame = append(frame, make([]byte, size)...)
		for _, trust := range []int{0, size} {
			b.Run(fmt.Sprintf("%d/trust=%d", size, trust), func(b *testing.B) {
				b.SetBytes(int64(size))
				r := bytes.NewReader(frame)
				for b.Loop() {
					r.Reset(frame)
					buf, err := readFrame(context.Background(), r, minHeaderSize, DefaultMaxRequestBytes, nil, trust)
					if err != nil {
						b.Fatal(err)
					}
					bufpool.Put(buf)
				}
			})
		}
	}
}
