package replication

import (
	"bytes"
	"log/slog"
)

// raftLogWriter carries hashicorp/raft's log lines (hclog, level Error and
// above) into the node's structured log.
type raftLogWriter struct{ logger *slog.Logger }

func (w raftLogWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimSpace(p), []byte("\n")) {
		if len(line) > 0 {
			w.logger.Error("raft", "line", string(line))
		}
	}
	return len(p), nil
}
