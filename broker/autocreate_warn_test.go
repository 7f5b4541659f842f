package broker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/gokafka/gokafka/internal/testlog"
)

// Failed auto-creations make one warning per Metadata request, and a topic
// that failed is not warned about again at once: a client asks for its
// topic every second or so, and one request may name thousands.
func TestAutoCreateWarningsBounded(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	var w autoCreateWarnings
	fail := func(names ...string) []autoCreateFailure {
		var out []autoCreateFailure
		for _, n := range names {
			out = append(out, autoCreateFailure{n, errors.New("replication factor: 2 larger than available brokers: 1")})
		}
		return out
	}
	warnings := func() int { n := strings.Count(buf.String(), "level=WARN"); buf.Reset(); return n }

	w.log(logger, fail("a", "b", "c"))
	if got := buf.String(); strings.Count(got, "level=WARN") != 1 || !strings.Contains(got, "count=3") {
		t.Fatalf("three failures in one request logged:\n%s", got)
	}
	buf.Reset()
	w.log(logger, fail("a", "b", "c"))
	if n := warnings(); n != 0 {
		t.Fatalf("the same failures again at once: %d warnings", n)
	}
	w.log(logger, fail("a", "d"))
	if got := buf.String(); strings.Count(got, "level=WARN") != 1 || !strings.Contains(got, "topic=d") {
		t.Fatalf("a new topic's failure:\n%s", got)
	}
}

// An auto-creation whose request ended first (its client went away, as
// librdkafka's suite does) is no trouble of the broker's: no warning.
func TestAutoCreateRequestGoneNoWarning(t *testing.T) {
	var buf testlog.Buffer
	b := startBroker(t, t.TempDir(), func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&buf, nil)) })
	defer b.Close()
	// Gone once the creation began: a context whose Done had closed
	// could stop autoCreateAll before it, as its select picks either of
	// a free slot and Done, and the test then passed without the change.
	b.autoCreateAll(goneCtx{context.Background()}, []string{"gone-client"}, nil)
	if strings.Contains(buf.String(), "level=WARN") {
		t.Errorf("warned about an auto-creation whose request ended:\n%s", buf.String())
	}
}

// goneCtx is a request whose client went away just after its work began:
// Err says so, and Done never closes.
type goneCtx struct{ context.Context }

func (goneCtx) Done() <-chan struct{} { return nil }
func (goneCtx) Err() error            { return context.Canceled }
