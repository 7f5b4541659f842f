package broker

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestDescribeLogDirs(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	defer b.Close()
	offsetsTopicUp(t, b)
	cl := newClient(t, b)
	createTopic(t, cl, "ld", 2, nil)
	batch := encodeBatch(time.Now().UnixMilli(), -1, -1, -1, values(10, "x"))
	if sp := produceRaw(t, cl, "ld", 1, -1, batch); sp.ErrorCode != 0 {
		t.Fatalf("produce: code %d", sp.ErrorCode)
	}

	describe := func(version int16, topics []kmsg.DescribeLogDirsRequestTopic) kmsg.DescribeLogDirsResponseDir {
		t.Helper()
		req := kmsg.NewPtrDescribeLogDirsRequest()
		req.Version = version
		req.Topics = topics
		resp := rawRequest(t, b, req).(*kmsg.DescribeLogDirsResponse)
		if resp.ErrorCode != 0 || len(resp.Dirs) != 1 || resp.Dirs[0].ErrorCode != 0 {
			t.Fatalf("v%d: %+v", version, resp)
		}
		return resp.Dirs[0]
	}
	sizes := func(d kmsg.DescribeLogDirsResponseDir) map[string]map[int32]int64 {
		out := map[string]map[int32]int64{}
		for _, t := range d.Topics {
			out[t.Topic] = map[int32]int64{}
			for _, p := range t.Partitions {
				out[t.Topic][p.Partition] = p.Size
			}
		}
		return out
	}

	// Null topics: every local partition, with its log's size.
	d := describe(4, nil)
	abs, _ := filepath.Abs(dir)
	if d.Dir != abs || d.TotalBytes <= 0 || d.UsableBytes < 0 || d.UsableBytes > d.TotalBytes {
		t.Fatalf("dir %q total %d usable %d; want %q and a volume's sizes", d.Dir, d.TotalBytes, d.UsableBytes, abs)
	}
	got := sizes(d)
	if got["ld"][0] != 0 || got["ld"][1] != int64(len(batch)) {
		t.Fatalf("ld sizes %v, want partition 1 to hold the %d-byte batch and 0 nothing", got["ld"], len(batch))
	}
	if len(got["__consumer_offsets"]) != 4 {
		t.Fatalf("__consumer_offsets partitions %v, want 4", got["__consumer_offsets"])
	}

	// Named topics and partitions: what is not here is left out.
	d = describe(0, []kmsg.DescribeLogDirsRequestTopic{
		{Topic: "ld", Partitions: []int32{1, 7}},
		{Topic: "nosuch", Partitions: []int32{0}},
	})
	if got := sizes(d); len(got) != 1 || len(got["ld"]) != 1 || got["ld"][1] != int64(len(batch)) {
		t.Fatalf("filtered: %v", got)
	}
	// An empty list asks for nothing.
	if d := describe(5, []kmsg.DescribeLogDirsRequestTopic{}); len(d.Topics) != 0 {
		t.Fatalf("empty topic list: %+v", d.Topics)
	}
}
