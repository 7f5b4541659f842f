package protocol

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// allVersions accepts every key and version kmsg knows, so the fuzzer reaches
// every body decoder.
func allVersions() versionTable {
	m := make(map[int16]VersionRange)
	for key := int16(0); key < 1000; key++ {
		if req := kmsg.RequestForKey(key); req != nil {
			m[key] = VersionRange{0, req.MaxVersion()}
		}
	}
	return newVersionTable(m)
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
		frame, err := readFrame(context.Background(), bytes.NewReader(data), limit, nil, 0)
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
