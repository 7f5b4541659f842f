package replication

import (
	"testing"

	"github.com/hashicorp/raft"
)

// TestTimingsAllowKick: kickElection lowers the heartbeat timeout by 5%
// through ReloadConfig, which raft refuses (and the first election then
// waits a whole heartbeat timeout) if the lease no longer fits under it.
func TestTimingsAllowKick(t *testing.T) {
	for name, tm := range map[string]RaftTimings{"solo": soloTimings, "default": DefaultRaftTimings} {
		c := raft.DefaultConfig()
		c.LocalID = "1"
		c.HeartbeatTimeout, c.ElectionTimeout = tm.HeartbeatTimeout, tm.ElectionTimeout
		c.LeaderLeaseTimeout, c.CommitTimeout = tm.LeaderLeaseTimeout, tm.CommitTimeout
		if err := raft.ValidateConfig(c); err != nil {
			t.Fatalf("%s timings: %v", name, err)
		}
		c.HeartbeatTimeout -= c.HeartbeatTimeout / 20
		if err := raft.ValidateConfig(c); err != nil {
			t.Errorf("%s timings after the kick: %v", name, err)
		}
	}
}
