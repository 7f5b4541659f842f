package broker

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// handleAlterReplicaLogDirs answers AlterReplicaLogDirs (KIP-113), which
// `kafka-reassign-partitions --reassignment-json-file` sends for a plan
// with "log_dirs" and admin clients' alterReplicaLogDirs. This broker has
// one log directory, the absolute path DescribeLogDirs reports, so every
// replica already lives where it can be moved to: that directory is a
// no-op success, as Kafka answers a move to a replica's current directory.
//
// Each partition's error as Kafka's ReplicaManager.alterReplicaLogDirs
// finds it: a topic name too long for the "-future" directory Kafka would
// make is INVALID_TOPIC_EXCEPTION, a path that is not a log directory
// (compared as given, as Kafka compares absolute paths) LOG_DIR_NOT_FOUND,
// a partition no topic has UNKNOWN_TOPIC_OR_PARTITION, and one whose
// replica is not on this broker REPLICA_NOT_AVAILABLE. A partition named
// twice takes the last directory, as Kafka reads the request into a map.
func (b *Broker) handleAlterReplicaLogDirs(req *kmsg.AlterReplicaLogDirsRequest) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.AlterReplicaLogDirsResponse)
	logDir := b.logDir()

	type tp struct {
		topic string
		part  int32
	}
	dest := make(map[tp]string)
	var order []tp
	for _, d := range req.Dirs {
		for _, t := range d.Topics {
			for _, p := range t.Partitions {
				k := tp{t.Topic, p}
				if _, ok := dest[k]; !ok {
					order = append(order, k)
				}
				dest[k] = d.Dir
			}
		}
	}

	st := b.node.Controller().State()
	byTopic := make(map[string]int) // index in resp.Topics
	for _, k := range order {
		code := int16(0)
		// Kafka's future log directory: "<topic>-<partition>.<32 hex>-future".
		futureDirLen := len(k.topic) + 1 + len(strconv.Itoa(int(k.part))) + 1 + 32 + len("-future")
		switch t, known := st.Topics[k.topic]; {
		case futureDirLen > 255:
			code = kerr.InvalidTopicException.Code
		case dest[k] != logDir:
			code = kerr.LogDirNotFound.Code
		case !known || k.part < 0 || int(k.part) >= len(t.Replicas):
			code = kerr.UnknownTopicOrPartition.Code
		case b.node.Partition(k.topic, k.part) == nil:
			code = kerr.ReplicaNotAvailable.Code
		}
		i, ok := byTopic[k.topic]
		if !ok {
			i = len(resp.Topics)
			byTopic[k.topic] = i
			rt := kmsg.NewAlterReplicaLogDirsResponseTopic()
			rt.Topic = k.topic
			resp.Topics = append(resp.Topics, rt)
		}
		rp := kmsg.NewAlterReplicaLogDirsResponseTopicPartition()
		rp.Partition, rp.ErrorCode = k.part, code
		resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, rp)
	}
	return resp
}
