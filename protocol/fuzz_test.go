package protocol

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// allVersions accepts every key and version kmsg knows, so the fuzzer reaches
// every body decoder.
func allVersions() versionTable { return newVersionTable(allVersionsMap()) }

func allVersionsMap() map[int16]VersionRange {
	m := make(map[int16]VersionRange)
	for key := int16(0); key < 1000; key++ {
		if req := kmsg.RequestForKey(key); req != nil {
			m[key] = VersionRange{0, req.MaxVersion()}
		}
	}
	return m
}

// seedRequests are frame payloads (no size prefix) of a default request of
// every key at its lowest and highest version.
func seedRequests() [][]byte {
	var seeds [][]byte
	for key := int16(0); key < 1000; key++ {
		req := kmsg.RequestForKey(key)
		if req == nil {
			continue
		}
		for _, v := range []int16{0, req.MaxVersion()} {
			req.SetVersion(v)
			if key == 7 && v == 0 {
				// kmsg's formatter writes only the v0 header here;
				// the body (the broker id) follows it.
				hdr := []byte{0, 7, 0, 0, 0, 0, 0, 42}
				seeds = append(seeds, req.AppendTo(hdr))
				continue
			}
			seeds = append(seeds, appendRequest(nil, req, 42)[4:])
		}
	}
	return seeds
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 8, 0, 18, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{0x7f, 0xff, 0xff, 0xff, 1, 2})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	for _, s := range seedRequests()[:8] {
		f.Add(frameOf(s))
	}
	const limit = 1 << 16
	f.Fuzz(func(t *testing.T, data []byte) {
		frame, err := readFrame(context.Background(), bytes.NewReader(data), minHeaderSize, limit, nil, 0)
		if err != nil {
			if errors.Is(err, io.EOF) && len(data) != 0 {
				t.Fatalf("clean EOF reported for %d bytes of input", len(data))
			}
			return
		}
		size := int(binary.BigEndian.Uint32(data))
		if len(frame) != size || size < minHeaderSize || size > limit || !bytes.Equal(frame, data[4:4+size]) {
			t.Fatalf("frame of %d bytes from size prefix %d", len(frame), size)
		}
	})
}

func FuzzParseRequest(f *testing.F) {
	for _, s := range seedRequests() {
		f.Add(s)
	}
	versions := allVersions()
	f.Fuzz(func(t *testing.T, frame []byte) {
		req, unsupported, err := parseRequest(frame, versions)
		if err != nil {
			if errors.Is(err, errBadBody) && bytes.Contains([]byte(err.Error()), []byte("kmsg panicked")) {
				t.Fatalf("kmsg panicked: %v", err)
			}
			return
		}
		if unsupported {
			if req.Key != apiVersionsKey || req.Body != nil {
				t.Fatalf("unsupported set for key %d", req.Key)
			}
			return
		}
		if req.Body.Key() != req.Key || req.Body.GetVersion() != req.Version {
			t.Fatalf("body %d v%d for header %d v%d", req.Body.Key(), req.Body.GetVersion(), req.Key, req.Version)
		}
		// What decoded must re-encode, and the response kind must
		// encode at that version too.
		req.Body.AppendTo(nil)
		resp := req.Body.ResponseKind()
		resp.SetVersion(req.Version)
		appendResponse(nil, req.CorrelationID, resp)
	})
}

// TestParseRequestSeeds runs every seed through parseRequest in plain
// `go test`: each default request of every key and version decodes.
func TestParseRequestSeeds(t *testing.T) {
	versions := allVersions()
	for _, s := range seedRequests() {
		req, _, err := parseRequest(s, versions)
		if err != nil {
			t.Fatalf("key %d v%d: %v", binary.BigEndian.Uint16(s), binary.BigEndian.Uint16(s[2:]), err)
		}
		if req.CorrelationID != 42 {
			t.Fatalf("correlation id %d", req.CorrelationID)
		}
		wantClient := "test"
		if req.Key == 7 && req.Version == 0 {
			wantClient = "" // header v0
		}
		if req.ClientID != wantClient {
			t.Fatalf("key %d v%d: client id %q", req.Key, req.Version, req.ClientID)
		}
	}
}

func TestParseRequestHeaders(t *testing.T) {
	versions := allVersions()
	for _, tt := range []struct {
		name     string
		frame    []byte
		clientID string
		wantErr  error
	}{
		{"v1 null client id", []byte{0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0, 0, 0, 0}, "", nil},
		{"v1 client id", []byte{0, 3, 0, 0, 0, 0, 0, 1, 0, 2, 'h', 'i', 0, 0, 0, 0}, "hi", nil},
		{"v2 with a header tag", []byte{0, 3, 0, 9, 0, 0, 0, 1, 0, 1, 'c', 1, 5, 2, 'x', 'y', 1, 0, 0, 0, 0}, "c", nil},
		{"controlled shutdown v0 header", []byte{0, 7, 0, 0, 0, 0, 0, 1, 0, 0, 0, 3}, "", nil},
		{"truncated header", []byte{0, 3, 0, 0, 0, 0, 0}, "", errBadHeader},
		{"missing client id", []byte{0, 3, 0, 0, 0, 0, 0, 1}, "", errBadHeader},
		{"v2 missing tags", []byte{0, 3, 0, 9, 0, 0, 0, 1, 0xff, 0xff}, "", errBadHeader},
	} {
		req, _, err := parseRequest(tt.frame, versions)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.wantErr)
			continue
		}
		if err == nil && req.ClientID != tt.clientID {
			t.Errorf("%s: client id %q", tt.name, req.ClientID)
		}
	}
}

func TestAppendResponseHeaders(t *testing.T) {
	md := kmsg.NewPtrMetadataResponse()
	for _, tt := range []struct {
		resp    kmsg.Response
		version int16
		tagByte bool
	}{
		{md, 8, false},
		{md, 9, true},
		{kmsg.NewPtrApiVersionsResponse(), 3, false}, // always header v0
		{kmsg.NewPtrApiVersionsResponse(), 0, false},
	} {
		tt.resp.SetVersion(tt.version)
		b := appendResponse([]byte{9, 9}, 77, tt.resp) // appends after existing bytes
		b = b[2:]
		body := tt.resp.AppendTo(nil)
		want := 4 + len(body)
		if tt.tagByte {
			want++
		}
		if int(binary.BigEndian.Uint32(b)) != want || len(b) != 4+want || binary.BigEndian.Uint32(b[4:]) != 77 {
			t.Fatalf("key %d v%d: bad frame % x", tt.resp.Key(), tt.version, b[:min(len(b), 12)])
		}
		if tt.tagByte && b[8] != 0 {
			t.Fatalf("key %d v%d: no empty tag section", tt.resp.Key(), tt.version)
		}
	}
}

// FuzzServe writes any bytes to a real connection of a real server, as one
// stream of frames, and half-closes it. The server must end the connection
// within seconds (at a frame it cannot take, or at the client's EOF, where,
// as Kafka, it may leave requests unanswered) without panicking, and what
// it did answer must be whole frames, each to a request of the stream. The
// handler answers at once, after a short wait, with nothing (a nil Reply)
// or a hangup, or mutes the connection, by correlation id, so that reading
// ahead, muting and ordering are exercised too.
func FuzzServe(f *testing.F) {
	var stream []byte
	for i, s := range seedRequests()[:12] {
		binary.BigEndian.PutUint32(s[4:], uint32(i))
		stream = append(stream, frameOf(s)...)
	}
	f.Add(stream)
	f.Add(stream[:len(stream)-3])
	f.Add(frameOf(seedRequests()[1]))
	f.Add(append(frameOf([]byte{0, 18, 0, 99, 0, 0, 0, 5}), frameOf(seedRequests()[0])...))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{0x16, 3, 1, 0, 5})

	var mu sync.Mutex
	var handled []int32
	h := HandlerFunc(func(ctx context.Context, req *Request) Reply {
		mu.Lock()
		handled = append(handled, req.CorrelationID)
		mu.Unlock()
		switch uint32(req.CorrelationID) % 8 {
		case 1:
			return nil
		case 2:
			req.Conn.Mute(time.Millisecond)
		case 3:
			return func() kmsg.Response {
				select {
				case <-time.After(time.Millisecond):
				case <-ctx.Done():
				}
				return req.Body.ResponseKind()
			}
		case 4:
			return func() kmsg.Response { return Hangup(req.Body.ResponseKind(), "fuzz") }
		}
		return func() kmsg.Response { return req.Body.ResponseKind() }
	})
	s, err := Listen("127.0.0.1:0", Config{
		Versions:        allVersionsMap(),
		MaxRequestBytes: 1 << 16, MaxNonProduceBytes: 1 << 12,
		MaxInFlight: 3, MaxPendingBytes: 1 << 10, MaxQueuedBytes: 1 << 14,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, h)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })

	f.Fuzz(func(t *testing.T, data []byte) {
		mu.Lock()
		handled = handled[:0]
		mu.Unlock()
		c, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go func() {
			c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			c.Write(data) // the server may close before taking it all
			c.(*net.TCPConn).CloseWrite()
		}()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		// A reset (the server closed with bytes of the stream unread)
		// may cut the last response short.
		reset := errors.Is(err, syscall.ECONNRESET)
		if err != nil && !reset {
			t.Fatalf("after %d bytes of responses: %v", len(got), err)
		}
		mu.Lock()
		want := slices.Clone(handled)
		mu.Unlock()
		for len(got) > 0 {
			if len(got) < 8 {
				if reset {
					break
				}
				t.Fatalf("%d bytes after the last whole response", len(got))
			}
			size := int(binary.BigEndian.Uint32(got))
			if size < 4 || size > len(got)-4 && !reset {
				t.Fatalf("response of %d bytes, %d left", size, len(got)-4)
			}
			if size > len(got)-4 {
				break
			}
			id := int32(binary.BigEndian.Uint32(got[4:]))
			// ApiVersions is answered by the server, not the handler.
			for len(want) > 0 && want[0] != id && uint32(want[0])%8 == 1 {
				want = want[1:] // handled, answered with nothing
			}
			if len(want) > 0 && want[0] == id {
				want = want[1:]
			} else if !bytes.Contains(data, got[4:8]) {
				t.Fatalf("response to correlation id %d, which the stream does not hold", id)
			}
			got = got[4+size:]
		}
	})
}
