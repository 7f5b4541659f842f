package protocol

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gokafka/gokafka/internal/bufpool"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// conn is one client connection. The reader goroutine (serve) owns parsing
// and Handle calls; the writer goroutine owns the socket's write side and
// the write buffer; each Reply runs on its own goroutine and hands its result
// to the writer through its pending entry.
type conn struct {
	s    *Server
	nc   net.Conn
	info *ConnInfo
	log  *slog.Logger

	ctx    context.Context // cancelled by close; the ctx Handle and Replies see
	cancel context.CancelFunc

	// slots is a semaphore of MaxInFlight: the reader takes a slot before
	// reading a frame and the writer gives it back once that request's
	// response is written. len(slots)-1 is thus the number of requests
	// awaiting their response while the reader waits for the next frame.
	slots chan struct{}
	// queue holds requests in arrival order for the writer. It has
	// MaxInFlight capacity and every entry holds a slot, so sending to it
	// never blocks.
	queue chan *pending

	// pendBytes is the size of the frames read whose responses are not
	// yet written; pendFreed (capacity 1) is signalled as it falls.
	pendBytes atomic.Int64
	pendFreed chan struct{}

	// current is the request the writer is on, until its AfterWrite ran;
	// the writer's alone until it has returned.
	current *pending

	// trust is the largest frame the peer has sent whole (readFrame); the
	// reader's alone.
	trust int

	lastActive atomic.Int64   // unix nanos of the last frame read or response written
	wg         sync.WaitGroup // writer and Replies
	closeOnce  sync.Once
}

// pending is a request whose response is not yet written.
type pending struct {
	key         int16
	version     int16 // of the response, which for unsupported ApiVersions is v0
	reqVersion  int16 // as the client asked, for the Observer
	correlation int32
	received    time.Time
	done        chan struct{} // closed once resp is set (or the Reply panicked)
	resp        kmsg.Response // nil: send nothing
	failed      bool          // the Reply panicked; the connection is closing
	req         *Request      // for AfterEncode, read once done is closed
	frameLen    int           // counted in conn.pendBytes until written
	written     chan struct{} // closed once the writer is done with it (written or nothing to send)
	observed    bool          // told to the Observer (by the writer, or once the connection ended)
	raw         bool          // a bare SASL token's: its answer goes back bare (rawToken)
}

func newConn(s *Server, nc net.Conn, listener string, log *slog.Logger) *conn {
	c := &conn{
		s:  s,
		nc: nc,
		info: &ConnInfo{
			Remote:   nc.RemoteAddr(),
			Local:    nc.LocalAddr(),
			ID:       s.nextID.Add(1),
			Listener: listener,
		},
		slots:     make(chan struct{}, s.cfg.MaxInFlight),
		pendFreed: make(chan struct{}, 1),
		queue:     make(chan *pending, s.cfg.MaxInFlight),
	}
	c.info.authPending.Store(s.cfg.SASLListeners[listener])
	c.log = log.With("remote", c.info.Remote.String(), "conn", c.info.ID)
	c.ctx, c.cancel = context.WithCancel(s.ctx)
	return c
}

// close cancels the connection's ctx and closes the socket, which unblocks
// the reader and writer. Safe from any goroutine, any number of times.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.cancel()
		c.nc.Close()
	})
}

// serve runs the reader until the connection ends, then waits for the writer
// and every Reply.
func (c *conn) serve() {
	if o := c.s.cfg.Observer; o != nil {
		o.ConnOpened()
		defer o.ConnClosed()
	}
	c.log.Debug("connection opened")
	if tc, ok := c.nc.(*tls.Conn); ok {
		if err := c.handshake(tc); err != nil {
			switch {
			case c.ctx.Err() != nil:
			case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), isTimeout(err):
				// A client gone or silent (a TCP probe, say): as
				// Kafka's Selector logs an IOException in the
				// handshake, at debug.
				c.log.Debug("connection closed during the TLS handshake", "reason", err)
			default:
				// As Kafka's Selector logs a failed SSL handshake,
				// at INFO ("Failed authentication ... (SSL handshake
				// failed)"): a client's mistake, not the broker's.
				c.log.Info("closing connection: TLS handshake failed", "reason", err)
			}
			c.close()
			return
		}
	}
	c.lastActive.Store(time.Now().UnixNano())
	if c.s.cfg.IdleTimeout > 0 {
		c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.IdleTimeout))
	}

	c.wg.Add(1)
	go c.writeLoop()
	err := c.readLoop()
	c.close()
	c.wg.Wait()
	c.finishUnwritten()
	// The frames read whose responses were never written.
	c.s.queued.give(c.pendBytes.Swap(0))
	c.logEnd(err)
}

// handshake runs the TLS handshake of a TLS listener's connection, within
// HandshakeTimeout and until the server closes, and records its state in
// the ConnInfo.
func (c *conn) handshake(tc *tls.Conn) error {
	tc.SetDeadline(time.Now().Add(c.s.cfg.HandshakeTimeout))
	if err := tc.HandshakeContext(c.ctx); err != nil {
		return err
	}
	tc.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	c.info.TLS = &st
	return nil
}

// finishUnwritten runs AfterWrite for the requests whose responses were
// never written, once every Reply has returned, so that what they hold is
// given back however the connection ended.
func (c *conn) finishUnwritten() {
	if p := c.current; p != nil {
		c.observeUnwritten(p)
		p.afterWrite()
	}
	for {
		select {
		case p := <-c.queue:
			c.observeUnwritten(p)
			p.afterWrite()
		default:
			return
		}
	}
}

// observeUnwritten tells the Observer of a request handled but not answered
// because its connection ended first (an acks=0 produce whose client closed
// at once, a long poll given up on), as Kafka counts every request it
// handled, its response sent or dropped with its connection.
func (c *conn) observeUnwritten(p *pending) {
	o := c.s.cfg.Observer
	if o == nil || p.observed || p.failed {
		return
	}
	select {
	case <-p.done:
	default:
		return // never handled
	}
	p.observed = true
	o.RequestDone(p.key, p.reqVersion, time.Since(p.received))
}

func (p *pending) afterWrite() {
	if p.req != nil && p.req.AfterWrite != nil {
		p.req.AfterWrite()
	}
}

func (c *conn) logEnd(err error) {
	switch {
	case err == nil, errors.Is(err, io.EOF):
		c.log.Debug("connection closed")
	case errors.Is(err, syscall.ECONNRESET):
		// A client that closes with unread data, or dies, resets the
		// connection: routine, and logged at debug as in Kafka.
		c.log.Debug("connection reset by the client")
	case errors.Is(err, syscall.ECONNABORTED):
		// A socket the host aborted (ss -K, SOCK_DESTROY): a network
		// disconnect like a reset, which Kafka's Selector logs at debug
		// as it does every IOException.
		c.log.Debug("connection lost", "reason", err)
	case c.ctx.Err() != nil && errors.Is(err, net.ErrClosed):
		// We closed it: server stopping, write failure or a panic,
		// each already logged where it happened.
		c.log.Debug("connection closed")
	case errors.Is(err, errTruncated):
		// A client that closed halfway through a request: routine, and
		// logged at debug as in Kafka, so that connecting and closing
		// cannot fill the log.
		c.log.Debug("connection closed inside a request", "reason", err)
	case errors.Is(err, errUnauthenticated):
		// As Kafka: a client that does not authenticate on a SASL
		// listener (one set up for PLAINTEXT, say) is told nothing.
		c.log.Info("closing connection", "reason", err)
	case errors.Is(err, errIdle):
		// Routine (a client that went quiet), and logged at debug as in
		// Kafka: a thousand idle clients made a thousand INFO lines.
		c.log.Debug("closing idle connection", "idle_timeout", c.s.cfg.IdleTimeout)
	default:
		c.log.Warn("closing connection", "reason", err)
	}
}

// readLoop reads, parses and dispatches requests until an error. It returns
// nil when the connection was closed by us.
func (c *conn) readLoop() error {
	// Small requests and frame headers come through this buffer; a large
	// body is read straight into its frame (bufio skips its buffer for
	// reads larger than it), so a bigger one saves nothing and costs every
	// idle connection (64 KiB made 1000 idle clients 65 MB of heap).
	br := bufio.NewReaderSize(idleReader{c}, 16<<10)
	lastWritten := make(chan struct{}) // the previous request's pending.written
	close(lastWritten)
	for {
		select {
		case c.slots <- struct{}{}:
		case <-c.ctx.Done():
			return nil
		}
		for c.pendBytes.Load() >= int64(c.s.cfg.MaxPendingBytes) {
			select {
			case <-c.pendFreed:
			case <-c.ctx.Done():
				return nil
			}
		}
		minSize, maxSize := int32(minHeaderSize), c.s.cfg.MaxRequestBytes
		authenticating := c.info.authPending.Load()
		if authenticating {
			// Authentication first, a request at a time, as Kafka's
			// SaslServerAuthenticator reads them: the next frame is
			// read once the last is answered, so that what its answer
			// changed (authenticated, bare tokens next) holds for it,
			// and a client pipelining requests behind its
			// SaslAuthenticate is not served before it is answered,
			// nor at all if it fails.
			select {
			case <-lastWritten:
			case <-c.ctx.Done():
				return nil
			}
			authenticating = c.info.authPending.Load()
			if authenticating {
				// Kafka's sasl.server.max.receive.size: a client not
				// yet authenticated makes the broker hold no more.
				maxSize = min(maxSize, maxUnauthenticatedBytes)
				if c.info.rawSASL.Load() {
					minSize = 0 // a bare SASL token (RawSASLTokens), not a request
				}
			}
		}
		frame, err := readFrame(c.ctx, br, minSize, maxSize, c.s.queued, c.trust)
		if err != nil {
			if c.ctx.Err() != nil {
				return nil // closed by us while waiting for c.s.queued
			}
			if errors.Is(err, errFrameSize) {
				return c.answerEarlier(lastWritten, err)
			}
			return err
		}
		c.trust = max(c.trust, len(frame))
		c.pendBytes.Add(int64(len(frame)))
		received := time.Now()
		c.lastActive.Store(received.UnixNano())
		if len(frame) > int(c.s.cfg.MaxNonProduceBytes) && binary.BigEndian.Uint16(frame) != produceKey {
			return c.answerEarlier(lastWritten, fmt.Errorf("%w: %d bytes for api key %d (non-produce requests are limited to %d)",
				errFrameSize, len(frame), int16(binary.BigEndian.Uint16(frame)), c.s.cfg.MaxNonProduceBytes))
		}

		if authenticating {
			if minSize == 0 {
				written, err := c.rawToken(frame, received)
				if err != nil {
					return err
				}
				lastWritten = written
				continue
			}
			if key := int16(binary.BigEndian.Uint16(frame)); key != apiVersionsKey && key != saslHandshakeKey && key != saslAuthenticateKey {
				return fmt.Errorf("%w: api key %d", errUnauthenticated, key)
			}
		}
		if binary.BigEndian.Uint16(frame) != produceKey {
			// Any other request is decoded only once the requests before
			// it are answered, as Kafka reads a connection's next request
			// only then: kmsg's structs can take fifty times a frame's
			// bytes (arrays of tiny elements with tagged fields), so
			// frames read ahead must not all be decoded at once. Produce
			// keeps its pipelining: its bytes are records, one slice.
			select {
			case <-lastWritten:
			case <-c.ctx.Done():
				return nil
			}
		}
		if err := c.waitMuted(); err != nil || c.ctx.Err() != nil {
			return err
		}
		req, unsupported, err := parseRequest(frame, c.s.versions)
		if err != nil {
			// Only a produce gets here with responses owed: any other
			// request is parsed once they are written.
			return c.answerEarlier(lastWritten, err)
		}
		req.Conn, req.Received, req.Size, req.frame = c.info, received, len(frame), frame
		req.Earlier = lastWritten
		p := &pending{
			frameLen:    len(frame),
			written:     make(chan struct{}),
			key:         req.Key,
			version:     req.Version,
			reqVersion:  req.Version,
			correlation: req.CorrelationID,
			received:    received,
			done:        make(chan struct{}),
			req:         req,
		}
		lastWritten = p.written

		if req.Key == apiVersionsKey {
			p.resp = c.s.apiVersions(req, unsupported, c.log)
			p.version = p.resp.GetVersion()
			close(p.done)
			c.queue <- p
			continue
		}

		c.log.Debug("request", "key", req.Key, "version", req.Version, "correlation_id", req.CorrelationID)
		reply, err := c.handle(req)
		if err != nil {
			return err
		}
		c.queue <- p
		if reply == nil {
			close(p.done)
			continue
		}
		c.wg.Add(1)
		go c.runReply(p, reply)
	}
}

// rawToken hands a bare SASL token, read after a SaslHandshake v0
// (ConnInfo.RawSASLTokens), to the Handler as a SaslAuthenticate v0
// request and queues its answer, which the writer sends back as a bare
// token. It returns the channel closed once that answer is written.
func (c *conn) rawToken(frame []byte, received time.Time) (chan struct{}, error) {
	body := kmsg.NewPtrSASLAuthenticateRequest()
	body.SASLAuthBytes = frame
	req := &Request{Key: saslAuthenticateKey, Body: body, Conn: c.info, Received: received, Size: len(frame), frame: frame, RawSASL: true}
	req.Earlier = closedChan
	p := &pending{
		frameLen: len(frame),
		written:  make(chan struct{}),
		key:      saslAuthenticateKey,
		received: received,
		done:     make(chan struct{}),
		req:      req,
		raw:      true,
	}
	reply, err := c.handle(req)
	if err != nil {
		return nil, err
	}
	c.queue <- p
	if reply == nil {
		close(p.done)
		return p.written, nil
	}
	c.wg.Add(1)
	go c.runReply(p, reply)
	return p.written, nil
}

// closedChan is a closed channel: the Earlier of a request with none
// before it unanswered.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// answerEarlier waits until the responses to the requests before a bad one
// are written, or the connection ends, then returns err, which closes the
// connection. Kafka reads a connection's next request only once the last
// is answered, so a request that makes it close the connection (a frame
// too large, a header or body it cannot parse) comes after every earlier
// response: a client pipelining requests gets their answers and does not
// send again, as failed, requests that were carried out.
func (c *conn) answerEarlier(lastWritten <-chan struct{}, err error) error {
	select {
	case <-lastWritten:
	case <-c.ctx.Done():
	}
	return err
}

// waitMuted waits while the connection is muted (ConnInfo.Mute): a quota
// throttles the client, and its next request, already read, waits. The idle
// timeout still holds meanwhile, as Kafka's idle expiry closes a muted
// channel: a client that sent during a long throttle and then gave up is
// not kept for the rest of it. It returns nil once the mute is over, or
// the connection closed by us; errIdle when idle.
func (c *conn) waitMuted() error {
	for {
		d := c.info.MutedFor()
		if d <= 0 {
			return nil
		}
		idle := c.s.cfg.IdleTimeout
		if idle > 0 {
			// The request read holds one slot; more means responses
			// are still owed, and the connection is not idle.
			last := time.Unix(0, c.lastActive.Load())
			if left := last.Add(idle).Sub(time.Now()); len(c.slots) > 1 {
				d = min(d, idle)
			} else if left <= 0 {
				return errIdle
			} else {
				d = min(d, left)
			}
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return nil
		}
	}
}

// handle calls the Handler, turning a panic into an error that closes this
// connection.
func (c *conn) handle(req *Request) (reply Reply, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("handler panicked; closing connection",
				"key", req.Key, "version", req.Version, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return c.s.h.Handle(c.ctx, req), nil
}

func (c *conn) runReply(p *pending, reply Reply) {
	defer c.wg.Done()
	defer close(p.done)
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("reply panicked; closing connection",
				"key", p.key, "version", p.version, "panic", r, "stack", string(debug.Stack()))
			p.failed = true
			c.close()
		}
	}()
	p.resp = reply()
}

// closeAnswered closes the connection for p, whose answer is the close (a
// Hangup) or was written just before it (CloseAfter), logging why. The
// request is counted, as Kafka counts the requests it closes a connection
// for (a failed acks=0 produce, a failed authentication), before the
// client can see the close.
func (c *conn) closeAnswered(p *pending, reason string) {
	c.log.Info("closing connection: "+reason, "key", p.key, "correlation_id", p.correlation)
	if o := c.s.cfg.Observer; o != nil {
		p.observed = true
		o.RequestDone(p.key, p.reqVersion, time.Since(p.received))
	}
	c.close()
}

// writeLoop writes responses in request order until the connection closes.
func (c *conn) writeLoop() {
	defer c.wg.Done()
	var buf []byte
	for {
		var p *pending
		select {
		case p = <-c.queue:
		case <-c.ctx.Done():
			return
		}
		c.current = p
		select {
		case <-p.done:
		case <-c.ctx.Done():
			return
		}
		if p.failed {
			return
		}
		if h, ok := p.resp.(*hangup); ok && h.Key() == p.key {
			c.closeAnswered(p, h.reason)
			return
		}
		var closing *closeAfter
		if ca, ok := p.resp.(*closeAfter); ok && ca.Key() == p.key {
			closing, p.resp = ca, ca.Response
		}
		if p.resp != nil {
			if p.resp.Key() != p.key {
				c.log.Error("handler returned a response of the wrong kind; closing connection",
					"key", p.key, "response_key", p.resp.Key())
				c.close()
				return
			}
			p.resp.SetVersion(p.version)
			pooled := false
			if need := sizeHint(p.resp); cap(buf) < need {
				// A response carrying records: encode it into a pooled
				// buffer big enough for it, not a fresh zeroed one.
				buf = bufpool.Get(need)
				pooled = true
			}
			if p.raw {
				// A bare token back, as Kafka answers SaslHandshake v0's
				// exchange; a failure has no answer but the close.
				ar, ok := p.resp.(*kmsg.SASLAuthenticateResponse)
				if !ok || ar.ErrorCode != 0 {
					c.log.Info("closing connection: SASL token refused")
					c.close()
					return
				}
				buf = binary.BigEndian.AppendUint32(buf[:0], uint32(len(ar.SASLAuthBytes)))
				buf = append(buf, ar.SASLAuthBytes...)
			} else {
				buf = appendResponse(buf[:0], p.correlation, p.resp)
			}
			if f := p.req.AfterEncode; f != nil {
				f()
			}
			if err := c.write(buf); err != nil {
				switch {
				case c.ctx.Err() != nil:
				case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
					// The client went with a response unread: routine,
					// at debug as on the read side and in Kafka.
					c.log.Debug("connection reset by the client while writing", "err", err)
				default:
					c.log.Info("closing connection: write failed", "err", err)
				}
				c.close()
				return
			}
			if pooled {
				bufpool.Put(buf)
				buf = nil
			} else if cap(buf) > keptWriteBuf {
				buf = nil // do not pin one big response's memory
			}
		}
		c.current = nil
		p.afterWrite()
		if closing != nil {
			c.closeAnswered(p, closing.reason)
			return
		}
		close(p.written)
		c.pendBytes.Add(-int64(p.frameLen))
		c.s.queued.give(int64(p.frameLen))
		select {
		case c.pendFreed <- struct{}{}:
		default:
		}
		now := time.Now()
		c.lastActive.Store(now.UnixNano())
		if o := c.s.cfg.Observer; o != nil {
			o.RequestDone(p.key, p.reqVersion, now.Sub(p.received))
		}
		<-c.slots
	}
}

// write writes b, failing only once a write deadline of WriteTimeout passes
// with nothing of b written: a client that keeps reading, however slowly,
// is served, as Kafka closes a connection only when nothing moves on it,
// and one that stops is dropped within twice WriteTimeout. (A deadline per
// 256 KiB dropped clients on links slower than 256 KiB per WriteTimeout.)
//
// A TLS connection cannot go on once a write has timed out (crypto/tls
// keeps the error), so there b is written in tlsWriteChunk pieces, each
// under a deadline of its own: a client is dropped only when it reads
// less than a piece in WriteTimeout.
func (c *conn) write(b []byte) error {
	_, isTLS := c.nc.(*tls.Conn)
	for len(b) > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
		piece := b
		if isTLS && len(piece) > tlsWriteChunk {
			piece = piece[:tlsWriteChunk]
		}
		n, err := c.nc.Write(piece)
		b = b[n:]
		if n > 0 {
			c.lastActive.Store(time.Now().UnixNano())
		}
		if err != nil && (n == 0 || !isTimeout(err)) {
			return err
		}
	}
	return nil
}

// tlsWriteChunk is the most a TLS connection writes under one write
// deadline (see write): four TLS records.
const tlsWriteChunk = 64 << 10

// idleReader reads the socket, enforcing the idle timeout: a read deadline
// firing closes the connection only if nothing is outstanding and nothing
// was read or written for IdleTimeout; otherwise the deadline moves on. A
// long-poll fetch in progress thus keeps its connection open.
type idleReader struct{ c *conn }

func (r idleReader) Read(p []byte) (int, error) {
	for {
		n, err := r.c.nc.Read(p)
		if err == nil || n > 0 || !isTimeout(err) {
			if n > 0 && err != nil && isTimeout(err) {
				err = nil
			}
			return n, err
		}
		idle := r.c.s.cfg.IdleTimeout
		now := time.Now()
		if len(r.c.slots) > 1 {
			r.c.nc.SetReadDeadline(now.Add(idle))
			continue
		}
		last := time.Unix(0, r.c.lastActive.Load())
		if now.Sub(last) >= idle {
			return 0, errIdle
		}
		r.c.nc.SetReadDeadline(last.Add(idle))
	}
}
