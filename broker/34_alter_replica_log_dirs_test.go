package broker

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAlterReplicaLogDirs: moving a replica to the log directory it is in
// (the one DescribeLogDirs reports) succeeds without doing anything, as in
// Kafka; other paths, unknown partitions and over-long names get Kafka's
// per-partition errors, at every version.
func TestAlterReplicaLogDirs(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "ard", 2, nil)
	long := strings.Repeat("l", 215) // 215+1+1+1+32+7 = 257 > 255: no room for Kafka's "-future" directory
	createTopic(t, cl, long, 1, nil)
	abs, _ := filepath.Abs(dir)

	for version := int16(0); version <= 2; version++ {
		req := kmsg.NewPtrAlterReplicaLogDirsRequest()
		req.Version = version
		add := func(path, topic string, parts ...int32) {
			d := kmsg.NewAlterReplicaLogDirsRequestDir()
			d.Dir = path
			rt := kmsg.NewAlterReplicaLogDirsRequestDirTopic()
			rt.Topic, rt.Partitions = topic, parts
			d.Topics = append(d.Topics, rt)
			req.Dirs = append(req.Dirs, d)
		}
		add(abs, "ard", 0, 5)
		add(abs+"-elsewhere", "ard", 1)
		add(abs, "nosuch", 0)
		add(abs, long, 0)
		add("relative/"+filepath.Base(abs), "nosuch", 1)
		add(abs, "nosuch", 1) // the last directory given for a partition counts
		resp := rawRequest(t, b, req).(*kmsg.AlterReplicaLogDirsResponse)

		var got []string
		for _, rt := range resp.Topics {
			name := rt.Topic
			if name == long {
				name = "long"
			}
			for _, p := range rt.Partitions {
				e := "ok"
				if p.ErrorCode != 0 {
					e = kerr.ErrorForCode(p.ErrorCode).(*kerr.Error).Message
				}
				got = append(got, fmt.Sprintf("%s-%d:%s", name, p.Partition, e))
			}
		}
		want := "ard-0:ok ard-5:UNKNOWN_TOPIC_OR_PARTITION ard-1:LOG_DIR_NOT_FOUND nosuch-0:UNKNOWN_TOPIC_OR_PARTITION nosuch-1:UNKNOWN_TOPIC_OR_PARTITION long-0:INVALID_TOPIC_EXCEPTION"
		if g := strings.Join(got, " "); g != want {
			t.Errorf("v%d: %s\nwant %s", version, g, want)
		}
	}
}
