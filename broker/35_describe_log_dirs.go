package broker

import (
	"path/filepath"
	"sort"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// logDir is the broker's one log directory as Kafka names a log directory:
// its absolute path.
func (b *Broker) logDir() string {
	if abs, err := filepath.Abs(b.cfg.DataDir); err == nil {
		return abs
	}
	return b.cfg.DataDir
}

// handleDescribeLogDirs reports the one log directory of this broker with
// the size of each local partition's log, as `kafka-log-dirs --describe`
// and kadm's DescribeAllLogDirs read it. Null topics ask for every local
// partition; a topic or partition that is not here is left out, as Kafka
// does.
func (b *Broker) handleDescribeLogDirs(r *kmsg.DescribeLogDirsRequest) kmsg.Response {
	resp := r.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = b.logDir()
	// -1, as Kafka answers, where the sizes are unknown.
	dir.UsableBytes, dir.TotalBytes, _ = diskSpace(dir.Dir)

	var wanted map[string]map[int32]bool // nil: every partition
	if r.Topics != nil {
		wanted = make(map[string]map[int32]bool, len(r.Topics))
		for _, t := range r.Topics {
			if wanted[t.Topic] == nil {
				wanted[t.Topic] = make(map[int32]bool, len(t.Partitions))
			}
			for _, p := range t.Partitions {
				wanted[t.Topic][p] = true
			}
		}
	}
	byTopic := map[string][]kmsg.DescribeLogDirsResponseDirTopicPartition{}
	for _, p := range b.node.Partitions() {
		if wanted != nil && !wanted[p.Topic][p.Index] {
			continue
		}
		rp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		rp.Partition = p.Index
		rp.Size = p.Log().Size()
		rp.OffsetLag = max(p.HighWatermark()-p.Log().EndOffset(), 0)
		byTopic[p.Topic] = append(byTopic[p.Topic], rp)
	}
	names := make([]string, 0, len(byTopic))
	for name := range byTopic {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ps := byTopic[name]
		sort.Slice(ps, func(i, j int) bool { return ps[i].Partition < ps[j].Partition })
		t := kmsg.NewDescribeLogDirsResponseDirTopic()
		t.Topic, t.Partitions = name, ps
		dir.Topics = append(dir.Topics, t)
	}
	resp.Dirs = append(resp.Dirs, dir)
	return resp
}
