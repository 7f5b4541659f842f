package protocol

import (
	"testing"

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
