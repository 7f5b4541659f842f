package protocol

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	"github.com/gokafka/gokafka/internal/bufpool"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// minHeaderSize is the smallest request header: api key, api version and
// correlation id (header v0).
const minHeaderSize = 8

// frameChunk caps the first allocation for a frame, and what the frame is
// charged to queued.max.request.bytes until that much has arrived: a peer
// must send the bytes before we hold memory for them, so announcing 100 MiB
// in four bytes and stalling costs us this much (bufpool's smallest class),
// and it takes thousands of such connections, not hundreds, to hold the
// default queue budget. Past it the buffer grows as bytes arrive: to
// frameWhole at once, then doubling.
const frameChunk = 64 << 10

// frameWhole is the size a frame's buffer grows to in one step once its
// first chunk has arrived: a produce request of a megabyte (what clients
// send by default) is read with one copy of its first chunk, where
// doubling from the chunk copied it almost whole again (5-7% of produce
// throughput with 100-byte records). Past it the buffer doubles, so a
// large frame is charged at most twice what its peer sent.
const frameWhole = 1 << 20

// keptWriteBuf is the largest encoding buffer a connection keeps between
// responses.
const keptWriteBuf = 1 << 20

// Errors that close a connection. Each is wrapped with the detail that
// explains it (size, key, version).
var (
	errFrameSize      = errors.New("invalid frame size")
	errTruncated      = errors.New("truncated frame")
	errBadHeader      = errors.New("malformed request header")
	errUnknownKey     = errors.New("unknown api key")
	errUnsupportedVer = errors.New("unsupported api version")
	errBadBody        = errors.New("undecodable request body")
	errIdle           = errors.New("idle timeout")
	// errUnauthenticated: a request other than ApiVersions, SaslHandshake
	// and SaslAuthenticate before SASL authentication succeeded.
	errUnauthenticated = errors.New("request before SASL authentication")
)

// notKafka names what a connection's first bytes look like when they are
// not a Kafka frame but something a misconfigured client sends: a TLS
// handshake (security.protocol=SSL or SASL_SSL) or an HTTP request.
func notKafka(first [4]byte) string {
	switch {
	case first[0] == 0x16 && first[1] == 0x03:
		return ": this is a TLS handshake; the client is set up for SSL/TLS and this listener is plaintext (connect to an SSL or SASL_SSL listener, or use security.protocol=PLAINTEXT)"
	case slices.Contains([]string{"GET ", "POST", "PUT ", "HEAD", "DELE", "OPTI", "PATC", "PRI "}, string(first[:])):
		return ": this is an HTTP request; the Kafka port speaks only the Kafka protocol (/metrics and /healthz are on admin.listen)"
	}
	return ""
}

// readFrame reads one size-prefixed frame of minSize to maxSize bytes from
// r and returns its payload.
// io.EOF means the peer closed cleanly between frames; any other error means
// the stream is unusable. Decoded requests alias the payload (kmsg byte fields
// such as produce records are sub-slices of it), so it is reused only when
// its owner hands it back (Request.ReleaseFrame); large payloads come from
// bufpool and cost no zeroing when they do. The frame's len is charged to q
// (nil: none), waiting while q is spent; the caller gives it back once the
// frame is done with. Only ctx ending interrupts such a wait. trust is the
// largest frame the connection has sent whole: a frame no larger is read
// into its full size once its first chunk is in, without the growth a
// peer that has sent less must earn.
func readFrame(ctx context.Context, r io.Reader, minSize, maxSize int32, q *queueBudget, trust int) ([]byte, error) {
	var sizeBuf [4]byte
	if _, err := io.ReadFull(r, sizeBuf[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: EOF inside the size prefix", errTruncated)
		}
		return nil, err
	}
	size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
	if size < minSize || size > maxSize {
		return nil, fmt.Errorf("%w: %d (allowed %d..%d)%s", errFrameSize, size, minSize, maxSize, notKafka(sizeBuf))
	}
	n := int(size)
	held := min(n, frameChunk) // charged to q
	if err := q.take(ctx, held); err != nil {
		return nil, err
	}
	buf := bufpool.Get(held)
	for len(buf) < n {
		if len(buf) == cap(buf) {
			// What has arrived fills the buffer: grow it to
			// frameWhole, then double it, so that what a large frame
			// holds (and is charged) is at most twice what its peer
			// really sent. Kafka allocates the claimed size up front;
			// making room for the rest in one step let six peers each
			// send 64 KiB of a 100 MiB frame and stall, holding the
			// default queued.max.request.bytes and with it every
			// connection, until they went idle.
			grow := min(n, max(2*cap(buf), frameWhole))
			if n <= trust {
				// A producer sends requests of about one size: each
				// growth past a megabyte copied a 6 MB request about
				// whole again (a quarter more of the broker's CPU).
				grow = n
			}
			if held > frameChunk {
				// Past its first growth a frame is charged without
				// waiting: frames that waited holding megabytes each
				// could hold the budget between them and wait on one
				// another, read by none and answered never.
				q.charge(grow - held)
			} else if err := q.take(ctx, grow-held); err != nil {
				bufpool.Put(buf)
				q.give(int64(held))
				return nil, err
			}
			held = grow
			grown := append(bufpool.Get(grow), buf...)
			bufpool.Put(buf)
			buf = grown
		}
		m, err := io.ReadFull(r, buf[len(buf):min(cap(buf), n)])
		buf = buf[:len(buf)+m]
		if err != nil {
			bufpool.Put(buf)
			q.give(int64(held))
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("%w: EOF after %d of %d bytes", errTruncated, len(buf), n)
			}
			return nil, err
		}
	}
	return buf, nil
}

// parseRequest parses a frame payload: the request header, then the body with
// kmsg. versions says what is accepted.
//
// ApiVersions is special, as in Kafka: a version above what we implement is
// not an error but gets an UNSUPPORTED_VERSION reply, so for it parseRequest
// returns the request with a nil Body and unsupported set; nothing past the
// correlation id is read.
func parseRequest(frame []byte, versions versionTable) (req *Request, unsupported bool, err error) {
	if len(frame) < minHeaderSize {
		return nil, false, fmt.Errorf("%w: %d bytes", errBadHeader, len(frame))
	}
	req = &Request{
		Key:           int16(binary.BigEndian.Uint16(frame[0:])),
		Version:       int16(binary.BigEndian.Uint16(frame[2:])),
		CorrelationID: int32(binary.BigEndian.Uint32(frame[4:])),
	}
	rest := frame[minHeaderSize:]

	body := kmsg.RequestForKey(req.Key)
	if body == nil {
		return nil, false, fmt.Errorf("%w %d", errUnknownKey, req.Key)
	}
	rng, ok := versions.lookup(req.Key)
	if !ok || req.Version < rng.Min || req.Version > rng.Max {
		if req.Key == apiVersionsKey {
			return req, true, nil
		}
		if !ok {
			return nil, false, fmt.Errorf("%w: %s (key %d) is not implemented", errUnsupportedVer, kmsg.NameForKey(req.Key), req.Key)
		}
		return nil, false, fmt.Errorf("%w: %s v%d (implemented v%d..v%d)", errUnsupportedVer, kmsg.NameForKey(req.Key), req.Version, rng.Min, rng.Max)
	}
	body.SetVersion(req.Version)

	// Header v0 (no client id) is used only by ControlledShutdown v0; header
	// v1 adds the client id, and v2 (flexible versions) adds tagged fields.
	// The client id is a classic nullable string even in v2.
	if req.Key != 7 || req.Version != 0 {
		if len(rest) < 2 {
			return nil, false, fmt.Errorf("%w: no client id", errBadHeader)
		}
		l := int16(binary.BigEndian.Uint16(rest))
		rest = rest[2:]
		switch {
		case l == -1: // null client id
		case l < -1 || int(l) > len(rest):
			return nil, false, fmt.Errorf("%w: client id length %d", errBadHeader, l)
		default:
			req.ClientID = string(rest[:l])
			rest = rest[l:]
		}
		if body.IsFlexible() {
			if rest, err = skipTags(rest); err != nil {
				return nil, false, err
			}
		}
	}

	if err := decodeBody(body, rest); err != nil {
		// kmsg's error speaks of a "response" whatever it decoded.
		why := strings.Replace(err.Error(), "response did not contain", "request did not contain", 1)
		return nil, false, fmt.Errorf("%w: %s v%d: %s", errBadBody, kmsg.NameForKey(req.Key), req.Version, why)
	}
	req.Body = body
	return req, false, nil
}

// skipTags skips a tagged-field section (we know no header tags).
func skipTags(b []byte) ([]byte, error) {
	n, l := binary.Uvarint(b)
	if l <= 0 {
		return nil, fmt.Errorf("%w: bad tag count", errBadHeader)
	}
	b = b[l:]
	for range n {
		if _, l = binary.Uvarint(b); l <= 0 {
			return nil, fmt.Errorf("%w: bad tag", errBadHeader)
		}
		b = b[l:]
		size, l := binary.Uvarint(b)
		if l <= 0 || size > uint64(len(b)-l) {
			return nil, fmt.Errorf("%w: bad tag size", errBadHeader)
		}
		b = b[l+int(size):]
	}
	return b, nil
}

// decodeBody is kmsg's ReadFrom behind a recover: kmsg is not supposed to
// panic on any input, but a panic here would be a remote crash, so it is
// turned into a decode error (and the connection closes).
func decodeBody(body kmsg.Request, b []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kmsg panicked decoding: %v", r)
		}
	}()
	return body.ReadFrom(b)
}

// appendResponse appends one response frame to dst: size, correlation id,
// the response header's tagged fields for flexible versions, then the body.
// resp's version must already be set. ApiVersions always uses response header
// v0, whatever its version: clients read its header before knowing whether
// the broker speaks flexible versions (KIP-511).
func appendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0) // size, filled in below
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if resp.IsFlexible() && resp.Key() != apiVersionsKey {
		dst = append(dst, 0) // no header tags
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// sizeHint estimates the encoded size of responses that carry record data,
// so the write buffer is allocated once instead of doubling (and copying
// every record byte again) as the encoder appends.
func sizeHint(resp kmsg.Response) int {
	f, ok := resp.(*kmsg.FetchResponse)
	if !ok {
		return 0
	}
	n := 64
	for i := range f.Topics {
		t := &f.Topics[i]
		n += 32 + len(t.Topic)
		for j := range t.Partitions {
			p := &t.Partitions[j]
			n += 96 + len(p.RecordBatches) + 24*len(p.AbortedTransactions)
		}
	}
	return n
}

// isTimeout reports whether err is a deadline expiring on a net.Conn.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
