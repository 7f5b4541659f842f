package logstore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// Walking the records of compressed batches.
//
// Kafka decompresses every batch a producer sends and checks its records:
// their count against the header, their offset deltas, their framing, their
// timestamps. A batch whose records disagree with its header would give its
// consumers offsets that overlap the next batch's. CheckBatch does the same
// here, reading the records as they come out of the decompressor, so memory
// stays at one buffer (and one snappy block) whatever the batch expands to.

// RecordSummary is what one pass over a batch's records learns beyond their
// framing.
type RecordSummary struct {
	// MinTimestampDelta and MaxTimestampDelta bound the records' timestamp
	// deltas (from the batch's base timestamp).
	MinTimestampDelta, MaxTimestampDelta int64
	// NullKey says some record has a null key.
	NullKey bool
}

// CheckBatch is ValidateBatch, and for a compressed batch also decompresses
// its records and makes the same checks of them: n records, each well
// framed, offset deltas 0..n-1, nothing after the last, at most
// MaxDecompressedBytes in all. The summary covers every record.
func CheckBatch(b []byte) (BatchHeader, RecordSummary, error) {
	h, sum, err := validateBatch(b)
	if err != nil || h.Compression() == CodecNone {
		return h, sum, err
	}
	sum, err = scanCompressed(h.Compression(), b[BatchHeaderSize:], int(h.NumRecords), nil)
	return h, sum, err
}

// EachRecord calls fn with the index (its offset delta), timestamp delta
// and key nullness of each record of batch b, in order, until fn returns
// false. It decompresses as it goes, and fails as CheckBatch would on a
// batch whose records are malformed.
func EachRecord(b []byte, h BatchHeader, fn func(i int, tsDelta int64, nullKey bool) bool) error {
	body := b[BatchHeaderSize:]
	if c := h.Compression(); c != CodecNone {
		_, err := scanCompressed(c, body, int(h.NumRecords), fn)
		return err
	}
	return walkRecords(body, int(h.NumRecords), func(r record) bool {
		return fn(int(r.offsetDelta), r.timestampDelta, r.key == nil)
	})
}

// scanCompressed walks the n records of a compressed records section.
func scanCompressed(codec int8, src []byte, n int, fn func(int, int64, bool) bool) (RecordSummary, error) {
	var sum RecordSummary
	var err error
	if oerr := useDecoder(codec, src, func(d *decoder, r *bufio.Reader) {
		d.stream.r = r
		sum, err = d.stream.scan(n, fn)
	}); oerr != nil {
		return RecordSummary{}, oerr
	}
	return sum, err
}

// useDecoder opens src, compressed with codec, in a pooled decoder and runs
// read on it; the error is open's. A decoder that panicked (the handler's
// recover catches it) is left to the garbage collector, not pooled in
// whatever state, but gives back its large-window zstd turn.
func useDecoder(codec int8, src []byte, read func(*decoder, *bufio.Reader)) error {
	d := decoders.Get().(*decoder)
	pooled := false
	defer func() {
		if !pooled {
			d.dropBig()
		}
	}()
	r, err := d.open(codec, src)
	if err == nil {
		read(d, r)
	}
	d.release()
	pooled = true
	return err
}

// recordStream reads records from a decompressing reader, counting bytes.
type recordStream struct {
	r    *bufio.Reader
	read int64 // bytes consumed
	err  error // why the last read failed
}

// decompressLimit is MaxDecompressedBytes; tests lower it.
var decompressLimit int64 = MaxDecompressedBytes

var (
	errTooLarge  = errors.New("records decompress past the limit")
	errBadVarint = errors.New("varint overflows 64 bits")
)

func (s *recordStream) byte() (byte, bool) {
	c, err := s.r.ReadByte()
	if err != nil {
		s.err = err
		return 0, false
	}
	s.read++
	return c, true
}

func (s *recordStream) varint() (int64, bool) {
	var u uint64
	for shift := uint(0); shift < 64; shift += 7 {
		c, ok := s.byte()
		if !ok {
			return 0, false
		}
		if c < 0x80 {
			if shift == 63 && c > 1 {
				break
			}
			u |= uint64(c) << shift
			return int64(u>>1) ^ -int64(u&1), true
		}
		u |= uint64(c&0x7f) << shift
	}
	s.err = errBadVarint
	return 0, false
}

func (s *recordStream) skip(n int64) bool {
	for n > 0 {
		k := int(min(n, 1<<30))
		got, err := s.r.Discard(k)
		s.read += int64(got)
		n -= int64(got)
		if err != nil {
			s.err = err
			return false
		}
	}
	return true
}

// scan makes walkRecords' checks of n records, calling fn (if non-nil) for
// each.
func (s *recordStream) scan(n int, fn func(int, int64, bool) bool) (RecordSummary, error) {
	var sum RecordSummary
	for i := 0; i < n; i++ {
		before := s.read
		size, ok := s.varint()
		if !ok {
			if s.err == io.EOF && s.read == before {
				return sum, fmt.Errorf("%w: batch claims %d records, holds %d", ErrInvalidRecord, n, i)
			}
			return sum, s.failed(i, "length")
		}
		if size <= 0 || size > decompressLimit {
			return sum, fmt.Errorf("%w: record %d: length %d", ErrInvalidRecord, i, size)
		}
		end := s.read + size
		// fits reports whether n more bytes stay inside the record.
		fits := func(n int64) bool { return n <= end-s.read }
		if _, ok := s.byte(); !ok { // attributes, unused in v2
			return sum, s.failed(i, "attributes")
		}
		ts, ok := s.varint()
		if !ok {
			return sum, s.failed(i, "timestamp delta")
		}
		od, ok := s.varint()
		if !ok {
			return sum, s.failed(i, "offset delta")
		}
		if od != int64(i) {
			return sum, fmt.Errorf("%w: record %d has offset delta %d", ErrInvalidRecord, i, od)
		}
		var nullKey bool
		for f, what := range [2]string{"key", "value"} { // -1 is null
			l, ok := s.varint()
			if !ok {
				return sum, s.failed(i, what)
			}
			if l < -1 || !fits(l) {
				return sum, fmt.Errorf("%w: record %d: %s length %d", ErrInvalidRecord, i, what, l)
			}
			if f == 0 {
				nullKey = l < 0
			}
			if l > 0 && !s.skip(l) {
				return sum, s.failed(i, what)
			}
		}
		nh, ok := s.varint()
		if !ok {
			return sum, s.failed(i, "header count")
		}
		if nh < 0 || !fits(nh) {
			return sum, fmt.Errorf("%w: record %d: %d headers", ErrInvalidRecord, i, nh)
		}
		for range nh {
			for f, what := range [2]string{"header key", "header value"} { // a null value is -1
				l, ok := s.varint()
				if !ok {
					return sum, s.failed(i, what)
				}
				if l < -1 || l < 0 && f == 0 || !fits(l) {
					return sum, fmt.Errorf("%w: record %d: %s length %d", ErrInvalidRecord, i, what, l)
				}
				if l > 0 && !s.skip(l) {
					return sum, s.failed(i, what)
				}
			}
		}
		if s.read != end {
			return sum, fmt.Errorf("%w: record %d: length %d, fields take %d", ErrInvalidRecord, i, size, s.read-(end-size))
		}
		if i == 0 || ts < sum.MinTimestampDelta {
			sum.MinTimestampDelta = ts
		}
		if i == 0 || ts > sum.MaxTimestampDelta {
			sum.MaxTimestampDelta = ts
		}
		sum.NullKey = sum.NullKey || nullKey
		if fn != nil && !fn(i, ts, nullKey) {
			return sum, nil
		}
	}
	if _, ok := s.byte(); ok {
		return sum, fmt.Errorf("%w: bytes after the last record", ErrInvalidRecord)
	}
	if s.err != io.EOF {
		return sum, s.failed(n, "end")
	}
	return sum, nil
}

// failed explains a read that ended inside record i.
func (s *recordStream) failed(i int, what string) error {
	switch {
	case errors.Is(s.err, errTooLarge):
		return fmt.Errorf("%w: records decompress to more than %d bytes", ErrInvalidRecord, decompressLimit)
	case s.err == io.EOF:
		return fmt.Errorf("%w: record %d: records end inside its %s", ErrInvalidRecord, i, what)
	}
	// A bad varint, or the decompressor failed (io.ErrUnexpectedEOF
	// included: a truncated stream). The CRC held, so the client
	// compressed these bytes as they are, and sending them again cannot
	// help: INVALID_RECORD, which clients do not retry, as Kafka answers a
	// stream that ends early (its other decompression failures answer
	// UNKNOWN_SERVER_ERROR, not retried either).
	return fmt.Errorf("%w: record %d: %s: %v", ErrInvalidRecord, i, what, s.err)
}

// decoder holds one of each decompressor, reused through a pool.
type decoder struct {
	src    bytes.Reader
	limit  limitedReader
	buf    *bufio.Reader
	stream recordStream
	gz     gzipMembers
	lz     *lz4.Reader
	zs     *zstd.Decoder // pooled: windows up to pooledZstdWindow
	zsBig  *zstd.Decoder // for one batch with a larger window; see open
	sn     snappyReader
}

var decoders = sync.Pool{New: func() any { return new(decoder) }}

// gzipMembers reads gzip as Java's GZIPInputStream does, which Kafka reads
// gzip batches with: members one after another, and after a member, bytes
// that do not begin another end the stream rather than fail it (a batch
// with trailing bytes after its gzip data is accepted, as by Kafka).
type gzipMembers struct {
	r   *gzip.Reader
	src *bytes.Reader
}

func (g *gzipMembers) reset(src *bytes.Reader) error {
	if g.r == nil {
		g.r = new(gzip.Reader)
	}
	g.src = src
	if err := g.r.Reset(src); err != nil {
		return err
	}
	g.r.Multistream(false)
	return nil
}

func (g *gzipMembers) Read(p []byte) (int, error) {
	for {
		n, err := g.r.Read(p)
		if err != io.EOF {
			return n, err
		}
		// The member ended whole (its CRC and size checked).
		if g.src.Len() == 0 || g.r.Reset(g.src) != nil {
			return n, io.EOF
		}
		g.r.Multistream(false)
		if n > 0 {
			return n, nil
		}
	}
}

// open returns a reader of src decompressed with codec, limited to
// MaxDecompressedBytes.
func (d *decoder) open(codec int8, src []byte) (*bufio.Reader, error) {
	d.src.Reset(src)
	var r io.Reader
	switch codec {
	case CodecGzip:
		if err := d.gz.reset(&d.src); err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrInvalidRecord, err)
		}
		r = &d.gz
	case CodecSnappy:
		d.sn.reset(src)
		r = &d.sn
	case CodecLZ4:
		if d.lz == nil {
			d.lz = lz4.NewReader(nil)
		}
		d.src.Reset(lz4FirstFrame(src))
		d.lz.Reset(&d.src)
		r = d.lz
	case CodecZstd:
		var zh zstd.Header
		if err := zh.Decode(src); err != nil {
			return nil, fmt.Errorf("%w: zstd: %v", ErrInvalidRecord, err)
		}
		zs := d.zs
		if zh.WindowSize > pooledZstdWindow {
			// A decoder keeps its window once it has one, so one for a
			// window this large is made for this batch alone, and one at
			// a time: a few bytes declaring a large window cost its
			// allocation, which must not stay pooled nor pile up over
			// connections.
			bigZstd.Lock()
			big, err := newZstd(maxZstdWindow)
			if err != nil {
				bigZstd.Unlock()
				return nil, err
			}
			d.zsBig, zs = big, big
		} else if zs == nil {
			var err error
			if zs, err = newZstd(pooledZstdWindow); err != nil {
				return nil, err
			}
			d.zs = zs
		}
		if err := zs.Reset(&d.src); err != nil {
			return nil, fmt.Errorf("%w: zstd: %v", ErrInvalidRecord, err)
		}
		r = zs
	default:
		return nil, fmt.Errorf("%w: %d", ErrUnsupportedCodec, codec)
	}
	d.limit = limitedReader{r: r, left: decompressLimit}
	if d.buf == nil {
		d.buf = bufio.NewReaderSize(&d.limit, 32<<10)
	} else {
		d.buf.Reset(&d.limit)
	}
	return d.buf, nil
}

// Zstd windows: what clients write at their usual levels fits the pooled
// decoders; zstd's own default limit (2^27, which Kafka's decoder keeps)
// bounds the rest.
const (
	pooledZstdWindow = 8 << 20
	maxZstdWindow    = 128 << 20
)

// bigZstd lets one large-window zstd decode run at a time.
var bigZstd sync.Mutex

func newZstd(window uint64) (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(window),
		zstd.WithDecoderMaxMemory(MaxDecompressedBytes), zstd.WithDecoderLowmem(true))
}

// dropBig closes a large-window zstd decoder and lets the next one run. It
// must run however the decode ended, a panic included.
func (d *decoder) dropBig() {
	if d.zsBig != nil {
		d.zsBig.Close()
		d.zsBig = nil
		bigZstd.Unlock()
	}
}

// release drops every reference to the batch and returns d to the pool.
func (d *decoder) release() {
	d.dropBig()
	d.src.Reset(nil)
	d.limit = limitedReader{}
	d.stream = recordStream{}
	if d.buf != nil {
		d.buf.Reset(&d.limit)
	}
	if d.zs != nil {
		d.zs.Reset(nil)
	}
	if d.lz != nil {
		d.lz.Reset(nil)
	}
	d.sn.reset(nil)
	decoders.Put(d)
}

// limitedReader fails with errTooLarge past its limit.
type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One byte more tells a stream that ends here from one that goes on.
		var one [1]byte
		if n, _ := io.ReadFull(l.r, one[:]); n == 0 {
			return 0, io.EOF
		}
		return 0, errTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// snappyReader decodes snappy as Kafka clients write it: one raw block, or
// the xerial framing of the Java client (a 16-byte header, then blocks each
// after a big-endian int32 length), a block at a time.
type snappyReader struct {
	src    []byte // what is left to decode
	err    error  // a malformed xerial header
	xerial bool
	out    []byte // the decoded block being read
	buf    []byte // out's storage, kept between blocks
}

const maxPooledSnappy = 4 << 20

func (s *snappyReader) reset(src []byte) {
	s.src, s.out, s.err = src, nil, nil
	s.xerial = bytes.HasPrefix(src, xerialMagic)
	if s.xerial {
		// The magic, then int32 version and minimum compatible version.
		if len(src) < 16 {
			s.err = errors.New("snappy: short xerial header")
		} else {
			s.src = src[16:]
		}
	}
	if cap(s.buf) > maxPooledSnappy {
		s.buf = nil
	}
}

func (s *snappyReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	for len(s.out) == 0 {
		if len(s.src) == 0 {
			return 0, io.EOF
		}
		if err := s.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}

// next decodes the next block into out.
func (s *snappyReader) next() error {
	blk := s.src
	if s.xerial {
		if len(s.src) < 4 {
			return fmt.Errorf("snappy: truncated xerial block")
		}
		n := binary.BigEndian.Uint32(s.src)
		if uint64(n) > uint64(len(s.src)-4) {
			return fmt.Errorf("snappy: xerial block of %d with %d bytes left", n, len(s.src)-4)
		}
		blk = s.src[4 : 4+n]
	}
	if s.xerial {
		s.src = s.src[4+len(blk):]
	} else {
		s.src = nil
	}
	n, err := snappy.DecodedLen(blk)
	if err != nil {
		return fmt.Errorf("snappy: %v", err)
	}
	if n < 0 || int64(n) > decompressLimit {
		return errTooLarge
	}
	// Snappy expands at most about 21 times (a 3-byte copy of 64 bytes),
	// so a block claiming more is corrupt, and is refused before its
	// claimed length is allocated.
	if int64(n) > 32*int64(len(blk))+64 {
		return fmt.Errorf("snappy: %d bytes claim %d decoded", len(blk), n)
	}
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	out, err := snappy.Decode(s.buf[:n], blk)
	if err != nil {
		return fmt.Errorf("snappy: %v", err)
	}
	s.out = out
	return nil
}
