package broker

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestAlterPartitionReassignments(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	createTopic(t, cl, "moves", 2, nil)

	type part struct {
		topic     string
		partition int32
		replicas  []int32
		want      *kerr.Error // nil: NONE
	}
	cases := []part{
		{"moves", 0, []int32{1}, nil},                              // the current set: done at once
		{"moves", 1, nil, kerr.NoReassignmentInProgress},           // cancel, with nothing moving
		{"moves", 1, []int32{}, kerr.InvalidReplicaAssignment},     // empty
		{"moves", 1, []int32{1, 1}, kerr.InvalidReplicaAssignment}, // a broker twice
		{"moves", 1, []int32{7}, kerr.InvalidReplicaAssignment},    // no such broker
		{"moves", 2, []int32{1}, kerr.UnknownTopicOrPartition},     // no such partition
		{"missing", 0, []int32{1}, kerr.UnknownTopicOrPartition},   // no such topic
		{"moves", -1, []int32{1}, kerr.UnknownTopicOrPartition},    // negative partition
	}
	req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
	req.TimeoutMillis = 5000
	req.AllowReplicationFactorChange = true
	for _, c := range cases {
		rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
		rt.Topic = c.topic
		rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		rp.Partition, rp.Replicas = c.partition, c.replicas
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
	}
	resp := request[*kmsg.AlterPartitionAssignmentsResponse](t, cl, req)
	if resp.ErrorCode != 0 || len(resp.Topics) != len(cases) {
		t.Fatalf("top-level error %d, %d topics; want 0 and %d", resp.ErrorCode, len(resp.Topics), len(cases))
	}
	for i, c := range cases {
		rt := resp.Topics[i]
		if rt.Topic != c.topic || len(rt.Partitions) != 1 || rt.Partitions[0].Partition != c.partition {
			t.Fatalf("case %d: answered %s %+v", i, rt.Topic, rt.Partitions)
		}
		want := int16(0)
		if c.want != nil {
			want = c.want.Code
		}
		// Kafka's controller gives a message with every error but
		// NO_REASSIGNMENT_IN_PROGRESS (ReplicationControlManagerTest's
		// testCancelReassignPartitions expects none there).
		wantMsg := want != 0 && c.want != kerr.NoReassignmentInProgress
		if p := rt.Partitions[0]; p.ErrorCode != want || (p.ErrorMessage != nil) != wantMsg {
			t.Errorf("%s-%d %v: error %d (%v), want %d, a message %v", c.topic, c.partition, c.replicas, p.ErrorCode, deref(p.ErrorMessage), want, wantMsg)
		}
	}
	// Kafka's words for unknown topics and partitions
	// (ReplicationControlManager.alterPartitionReassignment; "Unable to
	// find partition foo:2." in testReassignPartitions).
	for i, want := range map[int]string{
		5: "Unable to find partition moves:2.",
		6: "Unable to find a topic named missing.",
		7: "Unable to find partition moves:-1.",
	} {
		if got := deref(resp.Topics[i].Partitions[0].ErrorMessage); got != want {
			t.Errorf("case %d: message %q, want %q", i, got, want)
		}
	}

	// v1 echoes whether replication factor changes were allowed
	// (KIP-860).
	for _, allow := range []bool{false, true} {
		req := kmsg.NewPtrAlterPartitionAssignmentsRequest()
		req.Version = 1
		req.AllowReplicationFactorChange = allow
		rt := kmsg.NewAlterPartitionAssignmentsRequestTopic()
		rt.Topic = "moves"
		rp := kmsg.NewAlterPartitionAssignmentsRequestTopicPartition()
		rp.Partition, rp.Replicas = 0, []int32{1}
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := rawRequest(t, b, req).(*kmsg.AlterPartitionAssignmentsResponse)
		if resp.AllowReplicationFactorChange != allow || resp.Topics[0].Partitions[0].ErrorCode != 0 {
			t.Fatalf("v1 allowing changes %v: answered AllowReplicationFactorChange %v, error %d", allow, resp.AllowReplicationFactorChange, resp.Topics[0].Partitions[0].ErrorCode)
		}
	}

	// kadm, as a tool would call it.
	var areq kadm.AlterPartitionAssignmentsReq
	areq.Assign("moves", 0, []int32{1})
	areq.Assign("moves", 1, []int32{1, 2})
	ares, err := kadm.NewClient(cl).AlterPartitionAssignments(context.Background(), areq)
	if err != nil {
		t.Fatal(err)
	}
	if r := ares["moves"][0]; r.Err != nil {
		t.Fatalf("kadm: the current replicas of moves-0: %v", r.Err)
	}
	if r := ares["moves"][1]; !errors.Is(r.Err, kerr.InvalidReplicaAssignment) {
		t.Fatalf("kadm: moves-1 onto an unknown broker: %v, want INVALID_REPLICA_ASSIGNMENT", r.Err)
	}

	// Nothing moved, so nothing is listed as moving.
	list := request[*kmsg.ListPartitionReassignmentsResponse](t, cl, kmsg.NewPtrListPartitionReassignmentsRequest())
	if len(list.Topics) != 0 {
		t.Fatalf("ListPartitionReassignments: %+v", list.Topics)
	}
}
