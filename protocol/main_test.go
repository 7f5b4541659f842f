package protocol

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testVersions is what the test servers implement.
var testVersions = map[int16]VersionRange{
	0:  {3, 11}, // Produce
	3:  {0, 12}, // Metadata
	18: {0, 4},  // ApiVersions
}

// logBuffer collects a server's log lines for assertions and prints them
// when the test fails.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startServer starts a server on a free port with cfg (Versions defaulting
// to testVersions) and closes it when the test ends.
func startServer(t *testing.T, cfg Config, h Handler) (*Server, *logBuffer) {
	t.Helper()
	logs := new(logBuffer)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if cfg.Versions == nil {
		cfg.Versions = testVersions
	}
	s, err := Listen("127.0.0.1:0", cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs)
		}
	})
	return s, logs
}

// metadataHandler answers Metadata with this broker and one topic per
// requested name; other keys get their empty response.
func metadataHandler(s **Server) HandlerFunc {
	return func(_ context.Context, req *Request) Reply {
		return func() kmsg.Response {
			return metadataResponse(*s, req)
		}
	}
}

func metadataResponse(s *Server, req *Request) kmsg.Response {
	mreq, ok := req.Body.(*kmsg.MetadataRequest)
	if !ok {
		return req.Body.ResponseKind()
	}
	resp := kmsg.NewPtrMetadataResponse()
	host, port, _ := net.SplitHostPort(s.Addr().String())
	p, _ := strconv.Atoi(port)
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = 0, host, int32(p)
	resp.Brokers = append(resp.Brokers, b)
	resp.ControllerID = 0
	for _, rt := range mreq.Topics {
		t := kmsg.NewMetadataResponseTopic()
		t.Topic = rt.Topic
		t.ErrorCode = 3 // UNKNOWN_TOPIC_OR_PARTITION
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

func dial(t *testing.T, s *Server) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// appendRequest appends req, encoded at its version, as a full frame.
func appendRequest(dst []byte, req kmsg.Request, correlationID int32) []byte {
	// AppendRequest writes the size at dst[0], so it needs an empty dst.
	return append(dst, kmsg.NewRequestFormatter(kmsg.FormatterClientID("test")).AppendRequest(nil, req, correlationID)...)
}

func writeAll(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// readResponse reads one response frame and returns its correlation id and
// everything after it.
func readResponse(t *testing.T, c net.Conn) (int32, []byte) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatalf("read response size: %v", err)
	}
	n := binary.BigEndian.Uint32(size[:])
	if n < 4 || n > 1<<20 {
		t.Fatalf("response size %d", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read response: %v", err)
	}
	return int32(binary.BigEndian.Uint32(b)), b[4:]
}

// roundTrip sends req and decodes its response, checking the correlation id
// and, for flexible versions but ApiVersions, the response header's tags.
func roundTrip(t *testing.T, c net.Conn, req kmsg.Request, correlationID int32) kmsg.Response {
	t.Helper()
	writeAll(t, c, appendRequest(nil, req, correlationID))
	return readAndDecode(t, c, req, correlationID)
}

func readAndDecode(t *testing.T, c net.Conn, req kmsg.Request, correlationID int32) kmsg.Response {
	t.Helper()
	corr, body := readResponse(t, c)
	if corr != correlationID {
		t.Fatalf("correlation id %d, want %d", corr, correlationID)
	}
	resp := req.ResponseKind()
	resp.SetVersion(req.GetVersion())
	if resp.IsFlexible() && resp.Key() != apiVersionsKey {
		if len(body) == 0 || body[0] != 0 {
			t.Fatalf("flexible response header: want one empty tag section, got % x", body[:min(len(body), 4)])
		}
		body = body[1:]
	}
	if err := resp.ReadFrom(body); err != nil {
		t.Fatalf("decode %s v%d response: %v", kmsg.NameForKey(req.Key()), req.GetVersion(), err)
	}
	return resp
}

// expectClosed waits for the server to close c.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [512]byte
	for {
		_, err := c.Read(b[:])
		if err == nil {
			continue // a response sent before the close; keep draining
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("connection still open after 5s")
		}
		return // EOF or reset
	}
}

// checkServed proves c is still served: an ApiVersions and a Metadata
// round trip.
func checkServed(t *testing.T, c net.Conn, correlationID int32) {
	t.Helper()
	av := kmsg.NewPtrApiVersionsRequest()
	av.Version = 3
	av.ClientSoftwareName, av.ClientSoftwareVersion = "test", "1"
	if resp := roundTrip(t, c, av, correlationID).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
		t.Fatalf("ApiVersions error %d", resp.ErrorCode)
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 12
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr("t")
	md.Topics = append(md.Topics, rt)
	resp := roundTrip(t, c, md, correlationID+1).(*kmsg.MetadataResponse)
	if len(resp.Topics) != 1 || *resp.Topics[0].Topic != "t" {
		t.Fatalf("metadata topics %+v", resp.Topics)
	}
}

func metadataRequest(version int16, topic string) *kmsg.MetadataRequest {
	md := kmsg.NewPtrMetadataRequest()
	md.Version = version
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	md.Topics = append(md.Topics, rt)
	return md
}

// produceRequest is a produce naming topic, with no records: what the
// tests of pipelining send, as Produce is the request read and decoded
// ahead of the responses before it.
func produceRequest(version int16, topic string) *kmsg.ProduceRequest {
	pr := kmsg.NewPtrProduceRequest()
	pr.Version, pr.Acks, pr.TimeoutMillis = version, -1, 1000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	pr.Topics = append(pr.Topics, rt)
	return pr
}

// echoResponse answers a produce naming the topics it names, anything
// else as metadataResponse.
func echoResponse(s *Server, req *Request) kmsg.Response {
	pr, ok := req.Body.(*kmsg.ProduceRequest)
	if !ok {
		return metadataResponse(s, req)
	}
	resp := pr.ResponseKind().(*kmsg.ProduceResponse)
	for _, rt := range pr.Topics {
		t := kmsg.NewProduceResponseTopic()
		t.Topic = rt.Topic
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

func topicOf(req *Request) string {
	if md, ok := req.Body.(*kmsg.MetadataRequest); ok && len(md.Topics) > 0 && md.Topics[0].Topic != nil {
		return *md.Topics[0].Topic
	}
	return ""
}

type countingReader struct {
	data []byte
}

func (r *countingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

type runtimeMemStats struct{ totalAlloc uint64 }

func (m *runtimeMemStats) read() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.totalAlloc = ms.TotalAlloc
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// closeWithin closes s and fails the test if Close errs or takes longer
// than d.
func closeWithin(t *testing.T, s *Server, d time.Duration) {
	t.Helper()
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(d):
		t.Fatal("Close did not return")
	}
}
