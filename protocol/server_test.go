package protocol

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"maps"
	"math"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gokafka/gokafka/internal/bufpool"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFranzGoClient drives the server with kgo: ApiVersions negotiation
// (kgo asks v5 first, gets UNSUPPORTED_VERSION, retries v4) and flexible
// request/response headers on Metadata v12.
func TestFranzGoClient(t *testing.T) {
	var s *Server
	obs := new(countingObserver)
	s, _ = startServer(t, Config{Observer: obs}, metadataHandler(&s))

	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Addr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	req := metadataRequest(12, "orders")
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Brokers) != 1 || len(resp.Topics) != 1 || *resp.Topics[0].Topic != "orders" || resp.Topics[0].ErrorCode != 3 {
		t.Fatalf("unexpected metadata response %+v", resp)
	}
	// Once more, on the now negotiated connection.
	if _, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	done := obs.done()
	if !slices.Contains(done, "18v5") || !slices.Contains(done, "18v4") || !slices.Contains(done, "3v12") {
		t.Errorf("requests seen %v, want ApiVersions v5 (refused) then v4, and Metadata v12", done)
	}
}

type countingObserver struct {
	opened, closed atomic.Int32
	mu             sync.Mutex
	requests       []string
}

func (o *countingObserver) ConnOpened() { o.opened.Add(1) }
func (o *countingObserver) ConnClosed() { o.closed.Add(1) }
func (o *countingObserver) RequestDone(key, version int16, elapsed time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests = append(o.requests, kmsgKeyVersion(key, version))
}
func (o *countingObserver) done() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.requests)
}

func kmsgKeyVersion(key, version int16) string {
	return strings.Join([]string{itoa(int(key)), "v", itoa(int(version))}, "")
}

func itoa(i int) string {
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + itoa(i%10)
}

func TestApiVersions(t *testing.T) {
	var s *Server
	s, _ = startServer(t, Config{}, metadataHandler(&s))
	c := dial(t, s)

	want := []kmsg.ApiVersionsResponseApiKey{
		{ApiKey: 0, MinVersion: 3, MaxVersion: 11},
		{ApiKey: 3, MinVersion: 0, MaxVersion: 12},
		{ApiKey: 18, MinVersion: 0, MaxVersion: 4},
	}
	for v := int16(0); v <= 4; v++ {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = v
		req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1.0"
		resp := roundTrip(t, c, req, int32(100+v)).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != 0 {
			t.Fatalf("v%d: error %d", v, resp.ErrorCode)
		}
		if !sameKeys(resp.ApiKeys, want) {
			t.Fatalf("v%d: keys %+v, want %+v", v, resp.ApiKeys, want)
		}
	}

	// v3 and later must name the client software in Kafka's pattern:
	// INVALID_REQUEST and no keys otherwise, the connection kept.
	for i, sw := range [][2]string{{"", "1.0"}, {"test", ""}, {"my client", "1.0"}, {"-x", "1"}, {"x", "1.0-"}, {"x", "1_0"}} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = 3
		req.ClientSoftwareName, req.ClientSoftwareVersion = sw[0], sw[1]
		resp := roundTrip(t, c, req, int32(150+i)).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != kerr.InvalidRequest.Code || len(resp.ApiKeys) != 0 {
			t.Fatalf("software %q %q: error %d with %d keys, want INVALID_REQUEST and none", sw[0], sw[1], resp.ErrorCode, len(resp.ApiKeys))
		}
	}
	for i, sw := range [][2]string{{"a", "1"}, {"apache-kafka-java", "3.7.0"}, {"librdkafka", "2.0.2"}, {"kgo", "v1.22.3"}} {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = 3
		req.ClientSoftwareName, req.ClientSoftwareVersion = sw[0], sw[1]
		if resp := roundTrip(t, c, req, int32(160+i)).(*kmsg.ApiVersionsResponse); resp.ErrorCode != 0 {
			t.Fatalf("software %q %q: error %d", sw[0], sw[1], resp.ErrorCode)
		}
	}

	// Above our max: error 35 encoded as v0 with our ApiVersions range, and
	// the connection stays open.
	for i, v := range []int16{5, 99, math.MaxInt16} {
		corr := int32(200 + i)
		frame := appendRequest(nil, kmsg.NewPtrApiVersionsRequest(), corr)
		binary.BigEndian.PutUint16(frame[6:], uint16(v)) // version
		frame = append(frame, 0xde, 0xad)                // and a body we must not read
		binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
		writeAll(t, c, frame)
		req := kmsg.NewPtrApiVersionsRequest() // v0, as the reply is encoded
		resp := readAndDecode(t, c, req, corr).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != 35 {
			t.Fatalf("v%d: error %d, want 35", v, resp.ErrorCode)
		}
		if !sameKeys(resp.ApiKeys, want[2:]) {
			t.Fatalf("v%d: keys %+v, want the ApiVersions range", v, resp.ApiKeys)
		}
	}
	checkServed(t, c, 300)
}

func sameKeys(a, b []kmsg.ApiVersionsResponseApiKey) bool {
	return slices.EqualFunc(a, b, func(x, y kmsg.ApiVersionsResponseApiKey) bool {
		return x.ApiKey == y.ApiKey && x.MinVersion == y.MinVersion && x.MaxVersion == y.MaxVersion
	})
}

// frameOf wraps a payload in a size prefix.
func frameOf(payload []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(payload))), payload...)
}

// header builds a request header v1 (key, version, correlation id, client id).
func header(key, version int16, extra ...byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, 7)
	b = append(b, 0, 1, 'x') // client id "x"
	return append(b, extra...)
}

func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	var s *Server
	s, logs := startServer(t, Config{}, metadataHandler(&s))
	good := dial(t, s)
	checkServed(t, good, 1)

	size := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	tests := []struct {
		name      string
		in        []byte
		halfClose bool   // close our write side after sending
		reason    string // in the server's log
	}{
		{"http garbage", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false, "invalid frame size"},
		{"max int32 size", append(size(math.MaxInt32), 1, 2, 3), false, "invalid frame size"},
		{"one over limit", append(size(DefaultMaxRequestBytes+1), 1, 2, 3), false, "invalid frame size"},
		{"negative size", append(size(math.MaxUint32), 1, 2, 3), false, "invalid frame size"},
		{"below minimal header", append(size(4), 0, 3, 0, 0), false, "invalid frame size"},
		{"zero size", size(0), false, "invalid frame size"},
		{"truncated frame", append(size(100), header(3, 1)...), true, "truncated frame"},
		{"truncated size prefix", []byte{0, 0}, true, "truncated frame"},
		{"unknown key", frameOf(header(9999, 0)), false, "unknown api key"},
		{"negative key", frameOf(header(-1, 0)), false, "unknown api key"},
		{"key not implemented", frameOf(header(10, 0, 0, 1, 'g')), false, "unsupported api version"},
		{"version above range", frameOf(header(3, 13)), false, "unsupported api version"},
		{"version below range", frameOf(header(0, 2)), false, "unsupported api version"},
		{"negative version", frameOf(header(3, -1)), false, "unsupported api version"},
		{"undecodable body", frameOf(header(3, 1, 0, 0, 0, 5)), false, "undecodable request body"},
		{"trailing-less flexible body", frameOf(header(3, 12, 0)), false, "undecodable request body"},
		{"client id too long", frameOf([]byte{0, 3, 0, 1, 0, 0, 0, 7, 1, 0, 'x'}), false, "malformed request header"},
		{"client id length -2", frameOf([]byte{0, 3, 0, 1, 0, 0, 0, 7, 0xff, 0xfe}), false, "malformed request header"},
		{"bad header tags", frameOf(header(3, 12, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)), false, "malformed request header"},
		{"header tag overruns", frameOf(header(3, 12, 1, 0, 50, 1)), false, "malformed request header"},
		{"huge non-produce request", frameOf(append(header(3, 1), make([]byte, 9<<20)...)), false, "non-produce requests are limited"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := dial(t, s)
			writeAll(t, bad, tt.in)
			if tt.halfClose {
				bad.(*net.TCPConn).CloseWrite()
			}
			expectClosed(t, bad)
			checkServed(t, good, int32(10+2*i))
		})
	}

	// Every close is logged with the peer and the reason. Close first so
	// the last close has been logged.
	s.Close()
	log := logs.String()
	for _, tt := range tests {
		if !strings.Contains(log, tt.reason) {
			t.Errorf("log lacks %q", tt.reason)
		}
	}
	if !strings.Contains(log, "level=WARN msg=\"closing connection\" listener=") || !strings.Contains(log, "remote=127.0.0.1:") {
		t.Errorf("log lacks warnings naming the remote address:\n%s", log)
	}
}

// TestBigFrameNotPreallocated: a peer announcing a frame near the limit and
// sending little of it must not make us allocate the announced size.
func TestBigFrameNotPreallocated(t *testing.T) {
	r := &countingReader{data: append(binary.BigEndian.AppendUint32(nil, 90<<20), make([]byte, 10)...)}
	if _, err := readFrame(context.Background(), r, minHeaderSize, DefaultMaxRequestBytes, nil, 0); err == nil {
		t.Fatal("truncated frame accepted")
	}
	var ms1, ms2 runtimeMemStats
	ms1.read()
	for range 10 {
		r := &countingReader{data: append(binary.BigEndian.AppendUint32(nil, 90<<20), make([]byte, 10)...)}
		readFrame(context.Background(), r, minHeaderSize, DefaultMaxRequestBytes, nil, 0)
	}
	ms2.read()
	if got := ms2.totalAlloc - ms1.totalAlloc; got > 10*2*frameChunk {
		t.Fatalf("allocated %d bytes for 10 truncated 90 MiB frames", got)
	}
}

func TestOrdering(t *testing.T) {
	const n = 16
	var done [n + 1]chan struct{}
	for i := range done {
		done[i] = make(chan struct{})
	}
	close(done[n])
	var mu sync.Mutex
	var finished []int32
	var s *Server
	s, _ = startServer(t, Config{}, HandlerFunc(func(ctx context.Context, req *Request) Reply {
		i := req.CorrelationID
		return func() kmsg.Response {
			// Reply i finishes only after reply i+1: reverse order.
			select {
			case <-done[i+1]:
			case <-ctx.Done():
			}
			mu.Lock()
			finished = append(finished, i)
			mu.Unlock()
			defer close(done[i])
			return echoResponse(s, req)
		}
	}))
	c := dial(t, s)
	var frames []byte
	for i := range int32(n) {
		frames = appendRequest(frames, produceRequest(3+int16(i%9), "t"+itoa(int(i))), i)
	}
	writeAll(t, c, frames) // pipelined, one write
	for i := range int32(n) {
		req := produceRequest(3+int16(i%9), "")
		resp := readAndDecode(t, c, req, i).(*kmsg.ProduceResponse)
		if got := resp.Topics[0].Topic; got != "t"+itoa(int(i)) {
			t.Fatalf("response %d is for topic %s", i, got)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if finished[0] != n-1 || finished[n-1] != 0 {
		t.Fatalf("replies did not finish in reverse order: %v", finished)
	}
}

// heldFirstServer starts a server that calls handled with each request
// it is handed and holds the reply to correlation id 1 until release is
// called (at the latest when the test ends, so that a failure does not
// leave the server's Close waiting on it).
func heldFirstServer(t *testing.T, handled func(*Request)) (*Server, func()) {
	held := make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(held) }) }
	var s *Server
	s, _ = startServer(t, Config{}, HandlerFunc(func(ctx context.Context, req *Request) Reply {
		handled(req)
		first := req.CorrelationID == 1
		return func() kmsg.Response {
			if first {
				<-held
			}
			return metadataResponse(s, req)
		}
	}))
	t.Cleanup(release) // after startServer's: cleanups run last first
	return s, release
}

// heldServer starts a server whose Replies wait for release (or their
// connection's end), counting the requests handled.
func heldServer(t *testing.T, cfg Config) (s *Server, handled *atomic.Int32, release chan struct{}) {
	handled, release = new(atomic.Int32), make(chan struct{})
	s, _ = startServer(t, cfg, HandlerFunc(func(ctx context.Context, req *Request) Reply {
		handled.Add(1)
		return func() kmsg.Response {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return metadataResponse(s, req)
		}
	}))
	return s, handled, release
}

func TestMaxInFlight(t *testing.T) {
	s, handled, release := heldServer(t, Config{MaxInFlight: 2})
	c := dial(t, s)
	var frames []byte
	for i := range int32(5) {
		frames = appendRequest(frames, produceRequest(9, "t"), i)
	}
	writeAll(t, c, frames)
	deadline := time.Now().Add(5 * time.Second)
	for handled.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if got := handled.Load(); got != 2 {
		t.Fatalf("%d requests handled with 2 allowed in flight", got)
	}
	close(release)
	for i := range int32(5) {
		readAndDecode(t, c, produceRequest(9, ""), i)
	}
}

// TestNilReply: a nil Reply and a Reply returning nil send nothing; the
// next response still comes, in order.
func TestNilReply(t *testing.T) {
	var s *Server
	s, _ = startServer(t, Config{}, HandlerFunc(func(ctx context.Context, req *Request) Reply {
		switch topicOf(req) {
		case "nil-reply":
			return nil
		case "nil-response":
			return func() kmsg.Response { return nil }
		}
		return func() kmsg.Response { return metadataResponse(s, req) }
	}))
	c := dial(t, s)
	var frames []byte
	frames = appendRequest(frames, metadataRequest(9, "nil-reply"), 1)
	frames = appendRequest(frames, metadataRequest(9, "nil-response"), 2)
	frames = appendRequest(frames, metadataRequest(9, "real"), 3)
	writeAll(t, c, frames)
	readAndDecode(t, c, metadataRequest(9, ""), 3)
}

func TestHandlerFailuresCloseConnection(t *testing.T) {
	var s *Server
	s, logs := startServer(t, Config{}, HandlerFunc(func(ctx context.Context, req *Request) Reply {
		switch topicOf(req) {
		case "panic-handle":
			panic("boom in handle")
		case "panic-reply":
			return func() kmsg.Response { panic("boom in reply") }
		case "wrong-kind":
			return func() kmsg.Response { return kmsg.NewPtrApiVersionsResponse() }
		}
		return func() kmsg.Response { return metadataResponse(s, req) }
	}))
	good := dial(t, s)
	for i, topic := range []string{"panic-handle", "panic-reply", "wrong-kind"} {
		bad := dial(t, s)
		writeAll(t, bad, appendRequest(nil, metadataRequest(4, topic), 1))
		expectClosed(t, bad)
		checkServed(t, good, int32(2*i))
	}
	s.Close()
	log := logs.String()
	for _, want := range []string{"boom in handle", "boom in reply", "wrong kind", "goroutine "} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

// A Reply's Hangup closes its connection once the responses before it are
// written, and sends nothing of its own. The Observer counts it, as Kafka
// counts the requests it closes a connection for.
func TestHangup(t *testing.T) {
	var s *Server
	obs := new(countingObserver)
	s, logs := startServer(t, Config{Observer: obs}, HandlerFunc(func(ctx context.Context, req *Request) Reply {
		return func() kmsg.Response {
			switch topicOf(req) {
			case "slow":
				time.Sleep(100 * time.Millisecond)
			case "hangup":
				return Hangup(metadataResponse(s, req), "the test said so")
			}
			return metadataResponse(s, req)
		}
	}))
	c := dial(t, s)
	b := appendRequest(nil, metadataRequest(4, "slow"), 1)
	b = appendRequest(b, metadataRequest(4, "hangup"), 2)
	b = appendRequest(b, metadataRequest(4, "after"), 3)
	writeAll(t, c, b)
	if id, _ := readResponse(t, c); id != 1 {
		t.Fatalf("first response has correlation id %d, want 1", id)
	}
	expectClosed(t, c)
	if done := obs.done(); len(done) != 2 {
		t.Errorf("requests observed %v, want the first and the hangup", done)
	}
	checkServed(t, dial(t, s), 7)
	s.Close()
	if !strings.Contains(logs.String(), "the test said so") {
		t.Error("the reason is not logged")
	}
}

// A request handled but not answered because its client closed first (an
// acks=0 produce from a client that closes at once, a long poll given up
// on) is still counted, as Kafka counts every request it handled: such
// produce requests were missing from the request counts.
func TestObserverCountsRequestsOfClosedConnections(t *testing.T) {
	obs := new(countingObserver)
	handled := make(chan struct{}, 2)
	s, _ := startServer(t, Config{Observer: obs}, HandlerFunc(func(ctx context.Context, req *Request) Reply {
		return func() kmsg.Response {
			handled <- struct{}{}
			// Stored after the client has gone, and nothing to send.
			<-ctx.Done()
			return nil
		}
	}))
	c := dial(t, s)
	writeAll(t, c, appendRequest(nil, metadataRequest(4, "t"), 1))
	<-handled
	c.Close()
	for deadline := time.Now().Add(5 * time.Second); obs.closed.Load() < 1; {
		if time.Now().After(deadline) {
			t.Fatal("connection not closed by the server")
		}
		time.Sleep(time.Millisecond)
	}
	if done := obs.done(); len(done) != 1 {
		t.Errorf("requests observed %v, want the one handled", done)
	}
	s.Close()
}

func TestIdleTimeout(t *testing.T) {
	var s *Server
	var logs *logBuffer
	s, logs = startServer(t, Config{IdleTimeout: 300 * time.Millisecond}, HandlerFunc(func(ctx context.Context, req *Request) Reply {
		return func() kmsg.Response {
			if topicOf(req) == "slow" {
				// A long poll outlasting the idle timeout must not
				// lose its connection.
				time.Sleep(800 * time.Millisecond)
			}
			return metadataResponse(s, req)
		}
	}))

	quiet := dial(t, s)
	start := time.Now()
	expectClosed(t, quiet)
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Fatalf("closed after %v, before the idle timeout", el)
	}

	busy := dial(t, s)
	roundTrip(t, busy, metadataRequest(1, "slow"), 1)
	// Active connections stay open past the timeout.
	for i := range int32(5) {
		time.Sleep(50 * time.Millisecond)
		roundTrip(t, busy, metadataRequest(1, "t"), 2+i)
	}
	expectClosed(t, busy)
	// Routine: logged at debug, as Kafka does.
	s.Close()
	if log := logs.String(); !strings.Contains(log, `level=DEBUG msg="closing idle connection"`) || strings.Contains(log, `level=INFO msg="closing idle connection"`) {
		t.Fatalf("want idle closes logged at debug only:\n%s", log)
	}
}

// TestCloseStopsEverything: Close returns while a Reply is blocked, after
// cancelling its ctx; goleak (TestMain) checks that nothing is left.
func TestCloseStopsEverything(t *testing.T) {
	handled := make(chan struct{})
	replyErr := make(chan error, 1)
	obs := new(countingObserver)
	s, err := Listen("127.0.0.1:0", Config{Versions: testVersions, Observer: obs, Logger: discardLogger()},
		HandlerFunc(func(ctx context.Context, req *Request) Reply {
			close(handled)
			return func() kmsg.Response {
				<-ctx.Done()
				replyErr <- ctx.Err()
				return nil
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, s)
	idle := dial(t, s)
	writeAll(t, c, appendRequest(nil, metadataRequest(1, "t"), 1))
	<-handled
	// A dial returns once the kernel has the connection; wait until the
	// server has accepted the idle one too, or Close may beat the accept.
	for deadline := time.Now().Add(5 * time.Second); obs.opened.Load() < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("server accepted %d of 2 connections", obs.opened.Load())
		}
		time.Sleep(time.Millisecond)
	}

	closeWithin(t, s, 5*time.Second)
	if err := <-replyErr; err == nil {
		t.Fatal("reply ctx not cancelled")
	}
	expectClosed(t, c)
	expectClosed(t, idle)
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if o, cl := obs.opened.Load(), obs.closed.Load(); o != 2 || cl != 2 {
		t.Fatalf("observer saw %d opened, %d closed connections", o, cl)
	}
	if _, err := net.DialTimeout("tcp", s.Addr().String(), time.Second); err == nil {
		t.Fatal("still accepting after Close")
	}
}

func TestConfigValidation(t *testing.T) {
	h := HandlerFunc(func(context.Context, *Request) Reply { return nil })
	for name, cfg := range map[string]Config{
		"unknown key":          {Versions: map[int16]VersionRange{9999: {0, 0}}},
		"above kmsg max":       {Versions: map[int16]VersionRange{3: {0, 99}}},
		"min above max":        {Versions: map[int16]VersionRange{3: {5, 4}}},
		"negative min":         {Versions: map[int16]VersionRange{3: {-1, 4}}},
		"ApiVersions min 1":    {Versions: map[int16]VersionRange{18: {1, 3}}},
		"tiny MaxRequestBytes": {MaxRequestBytes: 4},
	} {
		if s, err := Listen("127.0.0.1:0", cfg, h); err == nil {
			s.Close()
			t.Errorf("%s: accepted", name)
		}
	}

	// ApiVersions is advertised even when not configured.
	s, _ := startServer(t, Config{Versions: map[int16]VersionRange{3: {0, 12}}}, h)
	resp := roundTrip(t, dial(t, s), kmsg.NewPtrApiVersionsRequest(), 1).(*kmsg.ApiVersionsResponse)
	want := []kmsg.ApiVersionsResponseApiKey{{ApiKey: 3, MaxVersion: 12}, {ApiKey: 18, MaxVersion: DefaultApiVersionsMax}}
	if !sameKeys(resp.ApiKeys, want) {
		t.Fatalf("keys %+v", resp.ApiKeys)
	}
}

func TestReleaseFrameOnce(t *testing.T) {
	req := &Request{frame: bufpool.Get(1 << 20)}
	release := req.ReleaseFrame()
	release()
	release()
	if again := req.ReleaseFrame(); again == nil {
		t.Fatal("ReleaseFrame on a released request returned nil")
	} else {
		again()
	}
}

// A client that resets its connection (dying, or closing with data
// unread) is routine: logged at debug, as Kafka does, not as a warning.
func TestClientResetLoggedAtDebug(t *testing.T) {
	var s *Server
	s, logs := startServer(t, Config{}, metadataHandler(&s))
	c := dial(t, s)
	checkServed(t, c, 1)
	writeAll(t, c, []byte{0, 0}) // half a frame length
	tc := c.(*net.TCPConn)
	if err := tc.SetLinger(0); err != nil { // close sends a reset
		t.Fatal(err)
	}
	tc.Close()
	checkServed(t, dial(t, s), 2)
	// The reset reaches the connection's reader in its own time: closing
	// the server first would close the connection as a normal close.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !strings.Contains(logs.String(), "connection reset by the client"); {
		time.Sleep(5 * time.Millisecond)
	}
	s.Close()
	log := logs.String()
	if !strings.Contains(log, `level=DEBUG msg="connection reset by the client"`) || strings.Contains(log, "level=WARN") {
		t.Fatalf("want the reset logged at debug and no warning:\n%s", log)
	}
}

// Request.Earlier closes only once every earlier response of the
// connection is written, so a Reply can wait to build a large response
// until the connection holds no other.
func TestEarlierResponsesWritten(t *testing.T) {
	earlier := make(chan (<-chan struct{}), 2)
	s, release := heldFirstServer(t, func(req *Request) { earlier <- req.Earlier })
	c := dial(t, s)
	// The second is a produce: the one request read and decoded ahead of
	// the responses before it.
	produce := kmsg.NewPtrProduceRequest()
	produce.Version, produce.Acks, produce.TimeoutMillis = 9, -1, 1000
	var frames []byte
	frames = appendRequest(frames, metadataRequest(9, "a"), 1)
	frames = appendRequest(frames, produce, 2)
	writeAll(t, c, frames)
	first, second := <-earlier, <-earlier
	select {
	case <-first:
	default:
		t.Fatal("the first request's Earlier is not closed")
	}
	select {
	case <-second:
		t.Fatal("the second request's Earlier closed before the first response was written")
	case <-time.After(100 * time.Millisecond):
	}
	release()
	readAndDecode(t, c, metadataRequest(9, ""), 1)
	select {
	case <-second:
	case <-time.After(5 * time.Second):
		t.Fatal("the second request's Earlier did not close once the first response was written")
	}
	readAndDecode(t, c, produce, 2)
}

// A request other than Produce is decoded, and handed to the handler,
// only once every response before it is written, as Kafka reads a
// connection's next request only then: decoded requests can take fifty
// times their frames' bytes, so frames read ahead are not all decoded.
func TestNonProduceNotDecodedAhead(t *testing.T) {
	handled := make(chan int32, 3)
	s, release := heldFirstServer(t, func(req *Request) { handled <- req.CorrelationID })
	c := dial(t, s)
	var frames []byte
	frames = appendRequest(frames, metadataRequest(9, "a"), 1)
	frames = appendRequest(frames, metadataRequest(9, "b"), 2)
	writeAll(t, c, frames)
	if id := <-handled; id != 1 {
		t.Fatalf("request %d handled first", id)
	}
	select {
	case id := <-handled:
		t.Fatalf("request %d handled while the first is unanswered", id)
	case <-time.After(100 * time.Millisecond):
	}
	release()
	readAndDecode(t, c, metadataRequest(9, ""), 1)
	readAndDecode(t, c, metadataRequest(9, ""), 2)
	if id := <-handled; id != 2 {
		t.Fatalf("request %d handled second", id)
	}
}

// A client that reads a large response slowly, but keeps reading, gets it
// whole: WriteTimeout bounds a write that makes no progress, not the
// whole response.
func TestSlowReaderServed(t *testing.T) {
	const topics, nameLen = 16 << 10, 1000 // a response of about 16 MiB
	var s *Server
	s, _ = startServer(t, Config{WriteTimeout: time.Second}, HandlerFunc(func(ctx context.Context, req *Request) Reply {
		return func() kmsg.Response {
			resp := metadataResponse(s, req).(*kmsg.MetadataResponse)
			name := strings.Repeat("x", nameLen)
			for range topics {
				mt := kmsg.NewMetadataResponseTopic()
				mt.Topic = &name
				resp.Topics = append(resp.Topics, mt)
			}
			return resp
		}
	}))
	c := dial(t, s)
	c.(*net.TCPConn).SetReadBuffer(64 << 10)
	writeAll(t, c, appendRequest(nil, metadataRequest(9, "t"), 1))
	// 128 KiB every 40 ms: about 3 MiB/s, so the response takes about 5 s
	// to read, five times the write timeout. (A timeout of half a second
	// failed once on a loaded machine, when the reader's sleep stretched.)
	buf := make([]byte, 128<<10)
	total, want := 0, topics*nameLen
	deadline := time.Now().Add(60 * time.Second)
	for total < want && time.Now().Before(deadline) {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := io.ReadFull(c, buf)
		total += n
		if err != nil {
			t.Fatalf("after %d bytes of a %d-byte response: %v", total, want, err)
		}
		time.Sleep(40 * time.Millisecond)
	}
	if total < want {
		t.Fatalf("read %d bytes of %d", total, want)
	}
}

// smallSendBufListener gives accepted connections a small socket send
// buffer, as a slow link keeps the kernel's (autotuned on loopback to
// megabytes, which would take a whole response at once).
type smallSendBufListener struct{ net.Listener }

func (l smallSendBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		c.(*net.TCPConn).SetWriteBuffer(16 << 10)
	}
	return c, err
}

// A client on a slow link that keeps reading, at 160 KiB/s here against a
// WriteTimeout of 1 s (under 8.7 KiB/s against the default 30 s), gets
// its response whole: the deadline is on progress, as Kafka closes a
// connection only when nothing moves on it. (Writes of 256 KiB under one
// deadline each dropped it once a step took longer than the timeout.)
func TestSteadySlowLinkReaderServed(t *testing.T) {
	const topics, nameLen = 512, 1000 // a response of about 512 KB
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var s *Server
	obs := new(countingObserver)
	s, err = Serve(smallSendBufListener{ln}, Config{Versions: testVersions, Logger: discardLogger(), WriteTimeout: time.Second, Observer: obs},
		HandlerFunc(func(ctx context.Context, req *Request) Reply {
			return func() kmsg.Response {
				resp := metadataResponse(s, req).(*kmsg.MetadataResponse)
				name := strings.Repeat("x", nameLen)
				for range topics {
					mt := kmsg.NewMetadataResponseTopic()
					mt.Topic = &name
					resp.Topics = append(resp.Topics, mt)
				}
				return resp
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stalled := dial(t, s)
	stalled.(*net.TCPConn).SetReadBuffer(16 << 10)
	writeAll(t, stalled, appendRequest(nil, metadataRequest(9, "t"), 1))
	c := dial(t, s)
	c.(*net.TCPConn).SetReadBuffer(16 << 10)
	writeAll(t, c, appendRequest(nil, metadataRequest(9, "t"), 1))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var size [4]byte
	if _, err := io.ReadFull(c, size[:]); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16<<10)
	for total, want := 0, int(binary.BigEndian.Uint32(size[:])); total < want; {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := io.ReadFull(c, buf[:min(len(buf), want-total)])
		total += n
		if err != nil {
			t.Fatalf("after %d bytes of a %d-byte response: %v", total, want, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The reading took over 3 s: the one reading nothing is gone.
	if n := obs.closed.Load(); n != 1 {
		t.Fatalf("%d connections closed, want the stalled one", n)
	}
}

// The frames one connection has read ahead of their responses are bounded
// in bytes (MaxPendingBytes), not only in number: a client pipelining big
// requests waits for answers before the server reads more, so one
// connection pins about Kafka's one request, not MaxInFlight of them.
func TestPendingBytesBounded(t *testing.T) {
	const frame = 512 << 10 // the test's reader takes responses up to 1 MiB
	s, seen, release := heldServer(t, Config{MaxPendingBytes: 3 * frame})
	c := dial(t, s)
	big := metadataRequest(9, strings.Repeat("t", frame))
	var wire []byte
	for i := range 10 {
		wire = appendRequest(wire, big, int32(i))
	}
	go c.Write(wire) // blocks once the server stops reading
	time.Sleep(300 * time.Millisecond)
	if n := seen.Load(); n < 1 || n > 4 {
		t.Fatalf("%d requests of 512 KiB read ahead with a 1.5 MiB bound", n)
	}
	close(release)
	for i := range 10 {
		readAndDecode(t, c, big, int32(i))
	}
}

// A client speaking TLS or HTTP to the Kafka port is told so in the log
// line that closes its connection, not just given a frame size.
func TestNotKafkaNamed(t *testing.T) {
	for _, c := range []struct {
		first []byte
		want  string
	}{
		{[]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}, "TLS handshake"},
		{[]byte("GET /metrics HTTP/1.1\r\n"), "HTTP request"},
		{[]byte{0x7f, 0xff, 0xff, 0xff}, "allowed"},
	} {
		_, err := readFrame(context.Background(), bytes.NewReader(c.first), minHeaderSize, DefaultMaxRequestBytes, nil, 0)
		if !errors.Is(err, errFrameSize) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("% x: %v, want a frame size error naming %q", c.first[:4], err, c.want)
		}
	}
}

// abortingConn is a real connection whose next read fails as the kernel
// fails one that the host aborted (ss -K): ECONNABORTED.
type abortingConn struct {
	net.Conn
	abort chan struct{}
}

func (c *abortingConn) Read(p []byte) (int, error) {
	select {
	case <-c.abort:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("read", syscall.ECONNABORTED)}
	default:
		return c.Conn.Read(p)
	}
}

type abortingListener struct {
	net.Listener
	conns chan *abortingConn
}

func (l *abortingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	ac := &abortingConn{Conn: c, abort: make(chan struct{})}
	l.conns <- ac
	return ac, nil
}

// A connection the host aborted (ss -K) is a network disconnect like a
// reset: logged at debug, as Kafka's Selector logs every IOException, not
// as a warning.
func TestAbortedConnLoggedAtDebug(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	al := &abortingListener{Listener: ln, conns: make(chan *abortingConn, 4)}
	logs := new(logBuffer)
	var s *Server
	s, err = Serve(al, Config{
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Versions: testVersions,
	}, metadataHandler(&s))
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, s)
	checkServed(t, c, 1)
	close((<-al.conns).abort)
	// The reader waits in a read begun before the abort: a request ends
	// that one, and its next read fails.
	writeAll(t, c, appendRequest(nil, kmsg.NewPtrApiVersionsRequest(), 3))
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !strings.Contains(logs.String(), "connection abort"); {
		time.Sleep(5 * time.Millisecond)
	}
	s.Close()
	log := logs.String()
	if !strings.Contains(log, `level=DEBUG msg="connection lost"`) || strings.Contains(log, "level=WARN") {
		t.Fatalf("want the abort logged at debug and no warning:\n%s", log)
	}
}

// The client software's name and version are the client's strings, as
// long as the request: one outside Kafka's pattern is logged clipped, not
// whole at each request.
func TestApiVersionsBadSoftwareLoggedClipped(t *testing.T) {
	var s *Server
	s, logs := startServer(t, Config{}, metadataHandler(&s))
	c := dial(t, s)
	for i := 0; i < 4; i++ {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = 3
		req.ClientSoftwareName, req.ClientSoftwareVersion = strings.Repeat("bad name ", 100_000), "1.0"
		resp := roundTrip(t, c, req, int32(200+i)).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != kerr.InvalidRequest.Code {
			t.Fatalf("error %d, want INVALID_REQUEST", resp.ErrorCode)
		}
	}
	if n := len(logs.String()); n > 10_000 {
		t.Fatalf("%d bytes logged for 4 requests", n)
	}
}

// ApiVersions v5 naming another cluster is logged with the client's id and
// the cluster it named clipped, as the software above: both are the
// client's strings, a megabyte each at every request if it likes, and the
// cluster was logged as its pointer, not its value.
func TestApiVersionsOtherClusterLoggedClipped(t *testing.T) {
	var s *Server
	versions := maps.Clone(testVersions)
	versions[18] = VersionRange{0, 5} // ApiVersions v5 checks the cluster
	s, logs := startServer(t, Config{Versions: versions, Identity: func() (string, int32) { return "this-cluster", 1 }}, metadataHandler(&s))
	c := dial(t, s)
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID(strings.Repeat("i", 30_000)))
	for i := int32(0); i < 4; i++ {
		req := kmsg.NewPtrApiVersionsRequest()
		req.Version = 5
		req.ClientSoftwareName, req.ClientSoftwareVersion = "test", "1.0"
		req.ClusterID, req.NodeID = kmsg.StringPtr("other"+strings.Repeat("c", 1<<20)), 1
		writeAll(t, c, f.AppendRequest(nil, req, 300+i))
		resp := readAndDecode(t, c, req, 300+i).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != kerr.RebootstrapRequired.Code {
			t.Fatalf("error %d, want REBOOTSTRAP_REQUIRED", resp.ErrorCode)
		}
	}
	log := logs.String()
	if n := len(log); n > 10_000 {
		t.Fatalf("%d bytes logged for 4 requests", n)
	}
	if !strings.Contains(log, "cluster_id=othercc") {
		t.Fatalf("the cluster named is not logged:\n%s", log)
	}
}

// A request that closes the connection (a frame too large, a produce that
// does not decode) is read only once the responses before it are written,
// as Kafka reads a connection's next request only once the last is
// answered: the client gets every earlier response, then the close, and
// does not send again the requests it was answered for.
func TestBadRequestAfterEarlierAnswered(t *testing.T) {
	badProduce := appendRequest(nil, produceRequest(9, "t"), 2)
	badProduce = badProduce[:len(badProduce)-2] // body cut short
	binary.BigEndian.PutUint32(badProduce, uint32(len(badProduce)-4))
	tests := []struct {
		name string
		bad  []byte
	}{
		{"frame too large", binary.BigEndian.AppendUint32(nil, DefaultMaxRequestBytes+1)},
		{"negative size", binary.BigEndian.AppendUint32(nil, math.MaxUint32)},
		{"non-produce too large", frameOf(append(header(3, 1), make([]byte, 9<<20)...))},
		{"undecodable produce", badProduce},
		{"produce version below range", appendRequest(nil, produceRequest(2, "t"), 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, release := heldFirstServer(t, func(*Request) {})
			c := dial(t, s)
			frames := appendRequest(nil, metadataRequest(9, "a"), 1)
			writeAll(t, c, append(frames, tt.bad...))
			time.Sleep(100 * time.Millisecond) // the bad request is read, and waits
			release()
			readAndDecode(t, c, metadataRequest(9, ""), 1)
			expectClosed(t, c)
		})
	}
}
