package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// As Kafka's coordinators (old and new), a Heartbeat for a group whose shard
// is still loading is answered with no error, while other group requests
// get COORDINATOR_LOAD_IN_PROGRESS.
func TestHeartbeatWhileShardLoads(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	offsetsTopicUp(t, b)

	const group = "g"
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Version = 4
	hb.Group, hb.MemberID, hb.Generation = group, "m-1", 3
	if code := rawRequest(t, b, hb).(*kmsg.HeartbeatResponse).ErrorCode; code != kerr.UnknownMemberID.Code {
		t.Fatalf("loaded shard: %v", kerr.ErrorForCode(code))
	}

	// Pretend the group's shard is loading.
	c := b.coord
	idx := shardIndex(group, c.numShards())
	c.mu.Lock()
	st := c.shards[idx]
	loaded := st.shard
	st.shard = nil
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		st.shard = loaded
		c.mu.Unlock()
	}()

	if code := rawRequest(t, b, hb).(*kmsg.HeartbeatResponse).ErrorCode; code != 0 {
		t.Fatalf("heartbeat while loading: %v, want no error", kerr.ErrorForCode(code))
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Version = 5
	sync.Group, sync.MemberID, sync.Generation = group, "m-1", 3
	if code := rawRequest(t, b, sync).(*kmsg.SyncGroupResponse).ErrorCode; code != kerr.CoordinatorLoadInProgress.Code {
		t.Fatalf("sync while loading: %v", kerr.ErrorForCode(code))
	}
}
