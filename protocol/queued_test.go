package protocol

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// stallFrame writes, on a new connection, the start of a 3 MiB frame: its
// size and 1.5 MiB of it, then nothing more.
func stallFrame(t *testing.T, s *Server) (close func()) {
	t.Helper()
	c := dial(t, s)
	b := binary.BigEndian.AppendUint32(nil, 3<<20)
	b = binary.BigEndian.AppendUint16(b, produceKey)
	writeAll(t, c, append(b, make([]byte, 3<<19)...))
	return func() { c.Close() }
}

// waitQueued waits until the server's queued bytes satisfy ok.
func waitQueued(t *testing.T, s *Server, ok func(int64) bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(s.queued.held()); {
		if time.Now().After(deadline) {
			t.Fatalf("queued bytes %d: want %s", s.queued.held(), what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestQueuedMaxRequestBytes: once the frames read and not yet answered, on
// all connections, hold queued.max.request.bytes, no connection reads more
// until some are answered or dropped; what they held comes back.
func TestQueuedMaxRequestBytes(t *testing.T) {
	var s *Server
	s, logs := startServer(t, Config{MaxQueuedBytes: 2 << 20}, metadataHandler(&s))
	release := stallFrame(t, s)
	// 1.5 MiB arrived, so the frame's buffer has doubled to 2 MiB.
	waitQueued(t, s, func(n int64) bool { return n == 2<<20 }, "2 MiB")

	c := dial(t, s)
	waitsForSlot(t, c, 1, release, "queued.max.request.bytes")
	waitQueued(t, s, func(n int64) bool { return n == 0 }, "0 once every response is written")
	if !strings.Contains(logs.String(), "queued.max.request.bytes") {
		t.Errorf("no warning names queued.max.request.bytes:\n%s", logs)
	}

}

// TestQueuedBytesOfUnansweredRequests: a connection that ends with a request
// unanswered gives its bytes back.
func TestQueuedBytesOfUnansweredRequests(t *testing.T) {
	s, _ := startServer(t, Config{MaxQueuedBytes: 2 << 20}, HandlerFunc(func(ctx context.Context, req *Request) Reply {
		return func() kmsg.Response {
			<-ctx.Done() // never answered before the connection ends
			return req.Body.ResponseKind()
		}
	}))
	c := dial(t, s)
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	writeAll(t, c, appendRequest(nil, md, 1))
	waitQueued(t, s, func(n int64) bool { return n > 0 }, "the request's bytes")
	c.Close()
	waitQueued(t, s, func(n int64) bool { return n == 0 }, "0 after the connection closed")
}

// TestQueuedMaxRequestBytesUnbounded: a negative bound bounds nothing.
func TestQueuedMaxRequestBytesUnbounded(t *testing.T) {
	var s *Server
	s, _ = startServer(t, Config{MaxQueuedBytes: -1}, metadataHandler(&s))
	if s.queued != nil {
		t.Fatal("a negative MaxQueuedBytes made a budget")
	}
	defer stallFrame(t, s)()
	time.Sleep(50 * time.Millisecond)
	checkServed(t, dial(t, s), 1)
}

// TestStalledFrameHeadersHoldLittle: connections that announce large frames
// and stall after a few bytes are charged only a first chunk each, so a few
// dozen of them do not stop others from being served. (Charged 1 MiB each,
// twenty held a 2 MiB budget, and with it every connection, until they
// closed or went idle.)
func TestStalledFrameHeadersHoldLittle(t *testing.T) {
	var s *Server
	s, _ = startServer(t, Config{MaxQueuedBytes: 2 << 20}, metadataHandler(&s))
	const stalled = 20
	for range stalled {
		c := dial(t, s)
		defer c.Close()
		b := binary.BigEndian.AppendUint32(nil, 3<<20)
		b = binary.BigEndian.AppendUint16(b, produceKey)
		writeAll(t, c, append(b, make([]byte, 100)...))
	}
	waitQueued(t, s, func(n int64) bool { return n == stalled*frameChunk }, "a first chunk for each stalled frame")
	checkServed(t, dial(t, s), 1)
}

// TestStalledFramesHoldWhatArrived: a frame is charged about what its peer
// sent, not what it announced, so a few connections that each send part of
// a large frame and stall do not stop others from being served. (Charged
// the announced size once the first chunk arrived, six such peers held the
// default 500 MiB budget, and with it every connection, until they went
// idle.) Past its first chunk a frame grows to a megabyte, then doubles.
func TestStalledFramesHoldWhatArrived(t *testing.T) {
	var s *Server
	s, _ = startServer(t, Config{MaxQueuedBytes: 16 << 20}, metadataHandler(&s))
	stall := func(sent int) {
		c := dial(t, s)
		t.Cleanup(func() { c.Close() })
		b := binary.BigEndian.AppendUint32(nil, 100<<20)
		b = binary.BigEndian.AppendUint16(b, produceKey)
		writeAll(t, c, append(b, make([]byte, sent-2)...))
	}
	const stalled = 6
	for range stalled {
		stall(frameChunk + 2)
	}
	waitQueued(t, s, func(n int64) bool { return n == stalled*frameWhole }, "a megabyte for each frame past its first chunk")
	stall(3 * frameWhole / 2) // grown to a megabyte, filled, doubled
	waitQueued(t, s, func(n int64) bool { return n == stalled*frameWhole+2*frameWhole }, "two megabytes more for a frame past its first megabyte")
	checkServed(t, dial(t, s), 1)
}
