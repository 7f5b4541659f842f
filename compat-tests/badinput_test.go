package compattests

import (
	"encoding/binary"
	"errors"
	"io"
	"math/rand"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// requestFrame builds a Kafka request with a v1 header (non-flexible):
// size, api key, version, correlation id, client id, body.
func requestFrame(key, version int16, corr int32, body []byte) []byte {
	const client = "badinput"
	hdr := make([]byte, 0, 4+2+2+4+2+len(client)+len(body))
	hdr = binary.BigEndian.AppendUint32(hdr, 0) // size, patched below
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(key))
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(version))
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(corr))
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(client)))
	hdr = append(hdr, client...)
	hdr = append(hdr, body...)
	binary.BigEndian.PutUint32(hdr, uint32(len(hdr)-4))
	return hdr
}

// exchange writes raw bytes on a fresh connection, optionally half-closes
// it, and returns what the broker answered before closing or the deadline.
// closed reports whether the broker closed the connection.
func exchange(t *testing.T, addr string, raw []byte, halfClose bool, wait time.Duration) (resp []byte, closed bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write(raw); err != nil {
		// The broker may legitimately close while we still write.
		return nil, true
	}
	if halfClose {
		c.(*net.TCPConn).CloseWrite()
	}
	buf, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return buf, false
	}
	return buf, true // EOF or reset: closed
}

func TestBadInput(t *testing.T) {
	b := startBroker(t)
	ctx := testCtx(t, 90*time.Second)
	const topic = "still-works"
	createTopic(t, ctx, newAdm(t, b.Addr()), topic, 1, nil)

	rng := rand.New(rand.NewSource(1))
	garbage := make([]byte, 4096)
	rng.Read(garbage)
	garbage[0] = 0x7f // a huge positive size prefix

	sizeOnly := func(n uint32, rest ...byte) []byte {
		return append(binary.BigEndian.AppendUint32(nil, n), rest...)
	}
	// Metadata v1 whose topics array claims a million entries and holds
	// one truncated string.
	badMetadata := requestFrame(3, 1, 42, []byte{0x00, 0x0f, 0x42, 0x40, 0x00, 0x50, 'a', 'b'})
	// Metadata v9 (flexible) with a compact array length that is a varint
	// never terminated.
	badFlexible := requestFrame(3, 9, 43, []byte{0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})

	cases := []struct {
		name      string
		raw       []byte
		halfClose bool
		// mustClose: the broker must drop the connection by itself; Kafka
		// closes on any request it cannot frame or decode.
		mustClose bool
	}{
		{"RandomGarbage", garbage, false, true},
		{"SizeMaxInt32", sizeOnly(1<<31-1, 0, 1, 0, 0), false, true},
		{"NegativeSize", sizeOnly(0xffffffff, 0, 3, 0, 1), false, true},
		{"ZeroSize", sizeOnly(0), false, true},
		{"TruncatedFrame", sizeOnly(100, 0, 3, 0, 1, 0, 0, 0, 9, 0, 0), true, false},
		{"UnknownAPIKey9999", requestFrame(9999, 0, 7, nil), false, true},
		{"ProduceV99", requestFrame(0, 99, 8, []byte{0, 0, 0, 0}), false, true},
		{"UndecodableMetadata", badMetadata, false, true},
		{"UndecodableFlexibleMetadata", badFlexible, false, true},
		{"HeaderOnlyNoClientID", sizeOnly(6, 0, 18, 0, 0, 0, 1), false, false},
	}
	t.Run("ControlValidApiVersions", func(t *testing.T) {
		// The framing above is right: a valid ApiVersions v0 is answered.
		c, err := net.DialTimeout("tcp", b.Addr(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(requestFrame(18, 0, 99, nil)); err != nil {
			t.Fatal(err)
		}
		var hdr [10]byte // size, correlation id, error code
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			t.Fatalf("no ApiVersions answer: %v", err)
		}
		if corr := int32(binary.BigEndian.Uint32(hdr[4:])); corr != 99 {
			t.Errorf("correlation id %d, want 99", corr)
		}
		if code := int16(binary.BigEndian.Uint16(hdr[8:])); code != 0 {
			t.Errorf("ApiVersions error code %d", code)
		}
	})

	seq := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, closed := exchange(t, b.Addr(), c.raw, c.halfClose, 5*time.Second)
			t.Logf("broker answered %d bytes, closed=%v", len(resp), closed)
			if c.mustClose && !closed {
				t.Errorf("connection still open 5s after an invalid request (answered %d bytes)", len(resp))
			}
			if len(resp) >= 8 {
				// Whatever it answers must be a well-formed frame.
				if n := binary.BigEndian.Uint32(resp); int(n) != len(resp)-4 {
					t.Errorf("answer frame size %d, but %d bytes followed", n, len(resp)-4)
				}
			}
			if !b.Alive() {
				t.Fatalf("gokafkad died on %s", c.name)
			}
			// A well-behaved client on another connection is unaffected.
			cl := newKgo(t, b.Addr())
			v := c.name + "-" + strconv.Itoa(seq)
			res := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)})
			if err := res.FirstErr(); err != nil {
				t.Fatalf("produce after %s: %v", c.name, err)
			}
			if off := res[0].Record.Offset; off != int64(seq) {
				t.Errorf("produced at offset %d, want %d", off, seq)
			}
			got := consumeFrom(t, ctx, b.Addr(), topic, 0, kgo.NewOffset().At(int64(seq)), 1)
			if string(got[0].Value) != v {
				t.Errorf("consumed %q at %d, want %q", got[0].Value, got[0].Offset, v)
			}
			seq++
		})
	}

	t.Run("ManyAtOnce", func(t *testing.T) {
		// All the bad inputs concurrently, several times over.
		errs := make(chan error, 5*len(cases))
		for i := 0; i < 5; i++ {
			for _, c := range cases {
				go func(raw []byte) {
					conn, err := net.DialTimeout("tcp", b.Addr(), 5*time.Second)
					if err != nil {
						errs <- err
						return
					}
					conn.SetDeadline(time.Now().Add(5 * time.Second))
					conn.Write(raw)
					conn.(*net.TCPConn).CloseWrite()
					io.Copy(io.Discard, conn)
					conn.Close()
					errs <- nil
				}(c.raw)
			}
		}
		for i := 0; i < 5*len(cases); i++ {
			if err := <-errs; err != nil {
				t.Errorf("dial: %v", err)
			}
		}
		if !b.Alive() {
			t.Fatal("gokafkad died")
		}
	})

	// The process is alive, healthy and never panicked.
	if !b.Alive() {
		t.Fatal("gokafkad is not running at the end")
	}
	if err := b.waitReady(5 * time.Second); err != nil {
		t.Fatalf("gokafkad not healthy at the end: %v", err)
	}
	if logs := b.Logs(); strings.Contains(logs, "panic") {
		t.Errorf("broker log mentions panic")
	}
}
