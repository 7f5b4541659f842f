package replication

import (
	"errors"
	"io"
	"log/slog"
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
