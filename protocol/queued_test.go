package protocol

import (
	"context"
	"encoding/binary"
	"io"
	"net"
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

// TestTrustedFrameReadWhole: a frame no larger than one its connection has
// already sent whole is read into its full size once its first chunk is in
// (a producer's requests, of about one size, are copied once), while a new
// connection's is grown as it arrives.
func TestTrustedFrameReadWhole(t *testing.T) {
	var s *Server
	s, _ = startServer(t, Config{MaxQueuedBytes: 64 << 20}, metadataHandler(&s))
	frame := produceFrame(3 << 20)
	trusted := dial(t, s)
	writeAll(t, trusted, frame)
	trusted.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(trusted, make([]byte, 8)); err != nil {
		t.Fatalf("a whole frame unanswered: %v", err)
	}
	waitQueued(t, s, func(n int64) bool { return n == 0 }, "nothing once it is answered")
	writeAll(t, trusted, frame[:frameChunk+100])
	waitQueued(t, s, func(n int64) bool { return n == int64(len(frame)-4) }, "the trusted frame's whole size")
	writeAll(t, dial(t, s), frame[:frameChunk+100])
	waitQueued(t, s, func(n int64) bool { return n == int64(len(frame)-4)+frameWhole }, "a megabyte more for a new connection's")
}

// produceFrame is a produce request of size bytes of records, size-prefixed.
func produceFrame(size int) []byte {
	p := kmsg.NewPtrProduceRequest()
	p.Version, p.Acks, p.TimeoutMillis = 7, 1, 1000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = make([]byte, size)
	rt.Partitions = append(rt.Partitions, rp)
	p.Topics = append(p.Topics, rt)
	return appendRequest(nil, p, 1)
}

// TestConcurrentLargeFramesAllRead: frames growing side by side, whose
// partial buffers together hold the budget, are all read and answered. (A
// frame that waited for the budget at each growth, holding what it had, left
// frames that each held part of the budget waiting for one another: read by
// none, answered never, and every other connection waited with them.)
func TestConcurrentLargeFramesAllRead(t *testing.T) {
	var s *Server
	s, _ = startServer(t, Config{MaxQueuedBytes: 4 << 20}, metadataHandler(&s))
	frame := func() []byte { return produceFrame(3 << 20) }
	const peers = 3
	var conns [peers]net.Conn
	var frames [peers][]byte
	// Each sends its first megabyte and a little: the first two frames
	// grow to 2 MiB, holding the budget between them.
	for i := range conns {
		conns[i], frames[i] = dial(t, s), frame()
		writeAll(t, conns[i], frames[i][:1<<20+100])
	}
	waitQueued(t, s, func(n int64) bool { return n >= 4<<20 }, "the budget held by the frames' first megabytes")
	for i, c := range conns {
		go func() { c.Write(frames[i][1<<20+100:]) }()
	}
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 8)); err != nil {
			t.Fatalf("frame %d of %d, each within the budget, unanswered: %v (queued bytes %d)", i, peers, err, s.queued.held())
		}
	}
}
