package broker

import (
	"fmt"
	"testing"

	"github.com/gokafka/gokafka/replication"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// deleteMany deletes the named topics in one DeleteTopics request and
// returns its answer.
func deleteMany(t testing.TB, cl *kgo.Client, names ...string) *kmsg.DeleteTopicsResponse {
	t.Helper()
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 60_000
	for _, n := range names {
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, rt)
		req.TopicNames = append(req.TopicNames, n)
	}
	return request[*kmsg.DeleteTopicsResponse](t, cl, req)
}

// The topics of one DeleteTopics request are deleted several at a time,
// yet answered in the request's order, each with its own error.
func TestDeleteTopicsManyInOneRequest(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	names := createMany(t, cl, "gone", 40)
	ask := append([]string{"never-was"}, names[:20]...)
	ask = append(ask, "__consumer_offsets")
	ask = append(ask, names[20:]...)
	if err := b.coord.ensureOffsetsTopic(t.Context()); err != nil {
		t.Fatal(err)
	}
	resp := deleteMany(t, cl, ask...)
	if len(resp.Topics) != len(ask) {
		t.Fatalf("%d answers to %d topics", len(resp.Topics), len(ask))
	}
	for i, rt := range resp.Topics {
		want := int16(0)
		switch ask[i] {
		case "never-was":
			want = kerr.UnknownTopicOrPartition.Code
		case "__consumer_offsets":
			want = kerr.InvalidTopicException.Code
		}
		if rt.Topic == nil || *rt.Topic != ask[i] || rt.ErrorCode != want {
			t.Errorf("answer %d: %v %v, want %s %v", i, rt.Topic, kerr.ErrorForCode(rt.ErrorCode), ask[i], kerr.ErrorForCode(want))
		}
	}
	st := b.node.Controller().State()
	for _, n := range names {
		if st.Topics[n] != nil {
			t.Errorf("%s was answered deleted but exists", n)
		}
	}
	waitFor(t, func() bool {
		for _, n := range names {
			if b.node.Partition(n, 0) != nil {
				return false
			}
		}
		return true
	}, "the deleted topics' partitions to stop")
}

// BenchmarkDeleteTopics deletes 100 topics of one partition in one
// DeleteTopics request, as kafka-topics and kadm send a bulk deletion.
func BenchmarkDeleteTopics(b *testing.B) {
	br := startBroker(b, b.TempDir(), nil)
	defer br.Close()
	cl := newClient(b, br)
	const n = 100
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		names := createMany(b, cl, fmt.Sprintf("bench-%d", i), n)
		b.StartTimer()
		for _, rt := range deleteMany(b, cl, names...).Topics {
			if rt.ErrorCode != 0 {
				b.Fatalf("%v: %v", rt.Topic, kerr.ErrorForCode(rt.ErrorCode))
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N*n), "ms/topic")
}

// BenchmarkCreateAfterDelete deletes 100 topics of 3 partitions in one
// request and times the creation of one topic right after: the node stops
// and removes the deleted partitions before it starts new ones.
func BenchmarkCreateAfterDelete(b *testing.B) {
	br := startBroker(b, b.TempDir(), nil)
	defer br.Close()
	cl := newClient(b, br)
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		req := kmsg.NewPtrCreateTopicsRequest()
		req.TimeoutMillis = 60_000
		var names []string
		for j := range 100 {
			rt := kmsg.NewCreateTopicsRequestTopic()
			rt.Topic, rt.NumPartitions, rt.ReplicationFactor = fmt.Sprintf("gone-%d-%d", i, j), 3, 1
			req.Topics = append(req.Topics, rt)
			names = append(names, rt.Topic)
		}
		request[*kmsg.CreateTopicsResponse](b, cl, req)
		deleteMany(b, cl, names...)
		b.StartTimer()
		createTopic(b, cl, fmt.Sprintf("after-%d", i), 1, nil)
	}
}

// A topic named by id in DeleteTopics (v6) is deleted only while it is the
// topic of that id: one deleted and made again under its name while the
// request works through the others (16 at a time) is a new topic, and
// Kafka's controller, which looks ids up as it deletes, answers the old
// id UNKNOWN_TOPIC_ID and leaves the new topic alone.
func TestDeleteTopicsByIDSparesRecreatedTopic(t *testing.T) {
	b := startBroker(t, t.TempDir(), nil)
	defer b.Close()
	cl := newClient(t, b)
	names := createMany(t, cl, "byid", 160)
	victim := names[len(names)-1]
	st := b.node.Controller().State()
	oldID := st.Topics[victim].ID
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.Version, req.TimeoutMillis = 6, 60_000
	for _, n := range names {
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.TopicID = st.Topics[n].ID
		req.Topics = append(req.Topics, rt)
	}
	type result struct {
		resp kmsg.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := cl.Request(t.Context(), req)
		done <- result{resp, err}
	}()
	// Once the first topic is gone the request has looked every id up;
	// the victim, last, is still to be deleted.
	waitFor(t, func() bool { return b.node.Controller().State().Topics[names[0]] == nil }, "the deletions to begin")
	ctl := b.node.Controller()
	if _, err := ctl.Propose(t.Context(), replication.Command{Op: replication.OpDeleteTopic, Name: victim}); err != nil {
		t.Skipf("the request deleted %s before it could be made again: %v", victim, err)
	}
	again := &replication.Topic{Name: victim, ID: replication.NewTopicID(), Replicas: [][]int32{{b.cfg.NodeID}}}
	if _, err := ctl.Propose(t.Context(), replication.Command{Op: replication.OpCreateTopic, Topic: again}); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, rt := range r.resp.(*kmsg.DeleteTopicsResponse).Topics {
		if rt.TopicID == oldID && rt.ErrorCode != kerr.UnknownTopicID.Code {
			t.Errorf("%s (old id): %v, want UNKNOWN_TOPIC_ID", victim, kerr.ErrorForCode(rt.ErrorCode))
		}
	}
	if cur := b.node.Controller().State().Topics[victim]; cur == nil || cur.ID != again.ID {
		t.Fatalf("the topic made again under %s was deleted by a request for the old topic's id", victim)
	}
}
