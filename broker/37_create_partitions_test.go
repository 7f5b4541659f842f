package broker

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func createPartitionsReq(topic string, count, timeoutMs int32) *kmsg.CreatePartitionsRequest {
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.TimeoutMillis = timeoutMs
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = topic, count
	req.Topics = append(req.Topics, rt)
	return req
}

// Requests that race to grow a topic to one count on several connections
// are answered as Kafka's controller answers them one after another: the
// first grows it, the others find it grown (INVALID_PARTITIONS), never a
// retriable REQUEST_TIMED_OUT for a change that was refused.
func TestCreatePartitionsRace(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	createTopic(t, newClient(t, b), "grow", 1, nil)
	const racers = 4
	codes := make([]int16, racers)
	var wg sync.WaitGroup
	for i := range racers {
		cl := newClient(t, b)
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := cl.Request(t.Context(), createPartitionsReq("grow", 3, 30_000))
			if err != nil {
				t.Error(err)
				return
			}
			codes[i] = resp.(*kmsg.CreatePartitionsResponse).Topics[0].ErrorCode
		}()
	}
	wg.Wait()
	grew := 0
	for _, c := range codes {
		switch c {
		case 0:
			grew++
		case kerr.InvalidPartitions.Code:
		default:
			t.Errorf("answered %v, want none or INVALID_PARTITIONS", kerr.ErrorForCode(c))
		}
	}
	if grew != 1 {
		t.Errorf("%d requests grew the topic, want 1 (answers %v)", grew, codes)
	}
}

// A new partition that cannot start (its directory's path is taken; in
// the field, a disk that fails) does not hold CreatePartitions, and with
// it the connection, for ever: the partitions are made, and the request
// is answered REQUEST_TIMED_OUT once its timeout passes, as CreateTopics
// answers a topic whose partitions do not lead.
func TestCreatePartitionsWaitBounded(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "stuck", 1, nil)
	if err := os.WriteFile(filepath.Join(dir, "stuck-1"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp := request[*kmsg.CreatePartitionsResponse](t, cl, createPartitionsReq("stuck", 2, 1000))
	if code := resp.Topics[0].ErrorCode; code != kerr.RequestTimedOut.Code {
		t.Errorf("answered %v, want REQUEST_TIMED_OUT", kerr.ErrorForCode(code))
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("answered after %v for a timeout of 1 s", took)
	}
	if n := len(b.node.Controller().State().Topics["stuck"].Replicas); n != 2 {
		t.Errorf("the topic has %d partitions, want 2", n)
	}
}

// CreatePartitions' refusals carry the messages of Kafka's controller
// (ReplicationControlManager.createPartitions and
// validateManualPartitionAssignment; ControllerApis for a topic given
// twice), which Kafka's AddPartitionsTest checks and admin tools print.
func TestCreatePartitionsErrorMessages(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "grow", 2, nil)
	me := b.cfg.NodeID
	for _, tc := range []struct {
		count  int32
		assign [][]int32
		code   *kerr.Error
		msg    string
	}{
		{2, nil, kerr.InvalidPartitions, "Topic already has 2 partition(s)."},
		{1, nil, kerr.InvalidPartitions, "The topic grow currently has 2 partition(s); 1 would not be an increase."},
		{4, [][]int32{{me}}, kerr.InvalidReplicaAssignment, "Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified."},
		{3, [][]int32{{me, me}}, kerr.InvalidReplicaAssignment, fmt.Sprintf("The manual partition assignment includes the broker %d more than once.", me)},
		{3, [][]int32{{me + 4, me, me}}, kerr.InvalidReplicaAssignment, fmt.Sprintf("The manual partition assignment includes the broker %d more than once.", me)},
		{3, [][]int32{{me + 4}}, kerr.InvalidReplicaAssignment, fmt.Sprintf("The manual partition assignment includes broker %d, but no such broker is registered.", me+4)},
		{3, [][]int32{{}}, kerr.InvalidReplicaAssignment, "The manual partition assignment includes an empty replica list."},
	} {
		req := createPartitionsReq("grow", tc.count, 5000)
		for _, reps := range tc.assign {
			a := kmsg.NewCreatePartitionsRequestTopicAssignment()
			a.Replicas = reps
			req.Topics[0].Assignment = append(req.Topics[0].Assignment, a)
		}
		got := request[*kmsg.CreatePartitionsResponse](t, cl, req).Topics[0]
		if got.ErrorCode != tc.code.Code || deref(got.ErrorMessage) != tc.msg {
			t.Errorf("count %d %v: %v %q, want %v %q", tc.count, tc.assign, kerr.ErrorForCode(got.ErrorCode), deref(got.ErrorMessage), tc.code, tc.msg)
		}
	}
	req := createPartitionsReq("grow", 3, 5000)
	req.Topics = append(req.Topics, req.Topics[0])
	resp := request[*kmsg.CreatePartitionsResponse](t, cl, req)
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != kerr.InvalidRequest.Code || deref(resp.Topics[0].ErrorMessage) != "Duplicate topic name." {
		t.Errorf("topic given twice: %+v, want one INVALID_REQUEST \"Duplicate topic name.\"", resp.Topics)
	}
}
