package replication

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"testing"
)

// encodeWhole is the state's encoding with every topic encoded afresh.
func encodeWhole(s *State) []byte {
	f := stateFile{ClusterID: s.ClusterID, Index: s.Index, NextProducerID: s.NextProducerID, Brokers: s.SortedBrokers()}
	if len(s.BrokerConfigs) > 0 {
		f.BrokerConfigs = s.BrokerConfigs
	}
	for _, n := range s.SortedTopics() {
		f.Topics = append(f.Topics, s.Topics[n])
	}
	for _, k := range slices.Sorted(maps.Keys(s.ClientQuotas)) {
		f.ClientQuotas = append(f.ClientQuotas, s.ClientQuotas[k])
	}
	f.ScramCredentials = s.ScramCredentials
	b, _ := json.Marshal(f)
	return b
}

// The encoder reuses a topic's encoding while the state holds the same
// *Topic, and encodes what encoding everything afresh would: a changed,
// added or deleted topic shows at once.
func TestEncoderKeepsTopicsCurrent(t *testing.T) {
	c := &Controller{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s := emptyState()
	s.ClusterID, s.Index = "cluster", 7
	s.Brokers[1] = BrokerInfo{ID: 1, Host: "127.0.0.1", Port: 9092}
	for i := range 5 {
		name := fmt.Sprintf("t%d", i)
		if res := c.apply(s, &Command{Op: OpCreateTopic, Topic: &Topic{Name: name, ID: TopicID{byte(i + 1)}, Replicas: [][]int32{{1}}}}); res != nil {
			t.Fatal(res)
		}
	}
	var e encoder
	check := func(s *State, step string) {
		t.Helper()
		got, want := e.encode(s), encodeWhole(s)
		var gotF, wantF stateFile
		if err := json.Unmarshal(got, &gotF); err != nil {
			t.Fatalf("%s: %v in\n%s", step, err, got)
		}
		json.Unmarshal(want, &wantF)
		if !reflect.DeepEqual(gotF, wantF) {
			t.Fatalf("%s: encoded\n%s\nwant\n%s", step, got, want)
		}
		back := emptyState()
		if err := decodeState(got, back); err != nil || len(back.Topics) != len(s.Topics) {
			t.Fatalf("%s: decoded %d topics of %d: %v", step, len(back.Topics), len(s.Topics), err)
		}
	}
	check(emptyState(), "no topics")
	check(s, "first")
	next := s.clone()
	v := "1000"
	for _, cmd := range []*Command{
		{Op: OpAlterConfigs, Name: "t1", Configs: map[string]*string{"retention.ms": &v}},
		{Op: OpCreatePartitions, Name: "t2", Replicas: [][]int32{{1}, {1}}},
		{Op: OpDeleteTopic, Name: "t3"},
		{Op: OpCreateTopic, Topic: &Topic{Name: "t9", ID: TopicID{9}, Replicas: [][]int32{{1}}}},
	} {
		if res := c.apply(next, cmd); res != nil {
			t.Fatal(res)
		}
	}
	next.Index++
	check(next, "after changes")
	check(s, "the older state again")
}

// BenchmarkEncodeState encodes a state of 3,000 topics after one of them
// changed, as the controller persists every applied change.
func BenchmarkEncodeState(b *testing.B) {
	c := &Controller{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s := emptyState()
	for i := range 3000 {
		t := &Topic{Name: fmt.Sprintf("topic-%04d", i), ID: TopicID{byte(i), byte(i >> 8)}, Replicas: [][]int32{{1}}, Configs: map[string]string{"retention.ms": "86400000"}}
		c.apply(s, &Command{Op: OpCreateTopic, Topic: t})
	}
	var e encoder
	e.encode(s)
	v := "1000"
	for i := 0; b.Loop(); i++ {
		s = s.clone()
		c.apply(s, &Command{Op: OpAlterConfigs, Name: fmt.Sprintf("topic-%04d", i%3000), Configs: map[string]*string{"retention.ms": &v}})
		e.encode(s)
	}
}

// BenchmarkEncodeWholeState is BenchmarkEncodeState encoding every topic
// afresh, as persist did.
func BenchmarkEncodeWholeState(b *testing.B) {
	c := &Controller{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s := emptyState()
	for i := range 3000 {
		t := &Topic{Name: fmt.Sprintf("topic-%04d", i), ID: TopicID{byte(i), byte(i >> 8)}, Replicas: [][]int32{{1}}, Configs: map[string]string{"retention.ms": "86400000"}}
		c.apply(s, &Command{Op: OpCreateTopic, Topic: t})
	}
	v := "1000"
	for i := 0; b.Loop(); i++ {
		s = s.clone()
		c.apply(s, &Command{Op: OpAlterConfigs, Name: fmt.Sprintf("topic-%04d", i%3000), Configs: map[string]*string{"retention.ms": &v}})
		encodeWhole(s)
	}
}
