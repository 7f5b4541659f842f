package replication

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestCollidingTopic(t *testing.T) {
	s := &State{Topics: map[string]*Topic{"a.b_c": {Name: "a.b_c"}, "plain": {Name: "plain"}}}
	for name, want := range map[string]string{
		"a_b.c": "a.b_c",
		"a.b.c": "a.b_c",
		"a.b_c": "", // itself
		"a-b_c": "",
		"plain": "",
		"x.y":   "",
	} {
		if got := s.CollidingTopic(name); got != want {
			t.Errorf("CollidingTopic(%q) = %q, want %q", name, got, want)
		}
	}

	// The rule applies to commands that ask for it, so a log written before
	// it existed replays as it was first applied.
	c := &Controller{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	st := &State{Topics: map[string]*Topic{"a.b": {Name: "a.b", ID: TopicID{1}}}, ByID: map[TopicID]*Topic{{1}: nil}}
	err, _ := c.apply(st, &Command{Op: OpCreateTopic, Topic: &Topic{Name: "a_b", ID: TopicID{2}}, NoCollision: true}).(error)
	if !errors.Is(err, ErrTopicCollision) || st.Topics["a_b"] != nil {
		t.Fatalf("colliding create with NoCollision: %v, created %v", err, st.Topics["a_b"] != nil)
	}
	if res := c.apply(st, &Command{Op: OpCreateTopic, Topic: &Topic{Name: "a_b", ID: TopicID{3}}}); res != nil || st.Topics["a_b"] == nil {
		t.Fatalf("an old create_topic entry: %v", res)
	}
}

// Client quota changes and added partitions are logged as topic config
// changes are: an operator reading the log could not tell when a client
// began to be throttled, or when a topic's key-to-partition mapping moved.
// A deleted topic is named with its id, as a created one is, so that the
// two lines of one topic among re-creations of its name pair up.
func TestControllerLogsQuotaAndPartitionChanges(t *testing.T) {
	var logs bytes.Buffer
	c := &Controller{logger: slog.New(slog.NewTextHandler(&logs, nil))}
	st := &State{Topics: map[string]*Topic{"t": {Name: "t", ID: TopicID{1}, Replicas: [][]int32{{1}}}}, ByID: map[TopicID]*Topic{}}
	app := "app"
	if res := c.apply(st, &Command{Op: OpAlterClientQuotas, Quotas: []QuotaAlteration{
		{Entity: []QuotaEntityPart{{Type: QuotaClientID, Name: &app}}, Set: map[string]float64{"producer_byte_rate": 10240}, Remove: []string{"consumer_byte_rate"}},
		{Entity: []QuotaEntityPart{{Type: QuotaUser}}, Remove: []string{"request_percentage"}},
	}}); res != nil {
		t.Fatal(res)
	}
	if res := c.apply(st, &Command{Op: OpCreatePartitions, Name: "t", Replicas: [][]int32{{1}, {1}, {1}}}); res != nil {
		t.Fatal(res)
	}
	if res := c.apply(st, &Command{Op: OpDeleteTopic, Name: "t"}); res != nil {
		t.Fatal(res)
	}
	for _, want := range []string{
		`msg="topic deleted" topic=t id=` + TopicID{1}.String(),
		`msg="client quotas changed" entity="client-id=\"app\"" changes="producer_byte_rate=10240 -consumer_byte_rate"`,
		`msg="client quotas changed" entity="user=<default>" changes=-request_percentage`,
		`msg="topic partitions added" topic=t partitions=3 were=1`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no line %s in:\n%s", want, logs.String())
		}
	}
}
