package logstore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// MaxDecompressedBytes bounds what Decompress will produce, so a small
// malicious batch cannot make the broker allocate without limit.
const MaxDecompressedBytes = 256 << 20

var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// inflating bounds how many batches the process holds decompressed at once
// (Recompress, ReadRecords, UpConvert; up to MaxDecompressedBytes each).
// A batch of 25 KB can inflate to 250 MB: sent to a topic that
// recompresses, four at once took 2.4 GB, and every connection could send
// one. Decompressing is work for a core, so a slot a core costs no
// throughput. CheckBatch streams and holds no slot.
var inflating = make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))

// inflate waits for a slot of inflating and returns its release.
func inflate() func() {
	inflating <- struct{}{}
	return func() { <-inflating }
}

// Decompress returns the records section src decompressed with codec (the
// batch attribute's low bits), through the same pooled decoders as
// CheckBatch. Snappy accepts raw blocks and the xerial framing the Java
// client writes; lz4 is the frame format.
func Decompress(codec int8, src []byte) ([]byte, error) {
	if codec == CodecNone {
		return src, nil
	}
	var out []byte
	var err error
	if oerr := useDecoder(codec, src, func(_ *decoder, r *bufio.Reader) { out, err = io.ReadAll(r) }); oerr != nil {
		return nil, oerr
	}
	switch {
	case errors.Is(err, errTooLarge):
		return nil, fmt.Errorf("%w: records decompress to more than %d bytes", ErrInvalidRecord, decompressLimit)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrInvalidRecord, err)
	}
	return out, nil
}

// Recompress returns a copy of the magic-2 batch with its records section
// in codec instead (CodecNone: uncompressed) at level, and the attributes,
// length and CRC to match, as Kafka stores a batch on a topic whose
// compression.type names a codec other than the producer's. The records
// themselves (offsets, timestamps, keys, values, headers) are unchanged, and
// so is every other header field. A batch already in codec is returned as it
// is, whatever its level, as Kafka keeps it. batch must have passed
// CheckBatch.
//
// level is Kafka's for the codec (compression.gzip.level, .lz4.level,
// .zstd.level), or DefaultLevel: gzip 1–9; lz4 1–17, of which this
// library has the high-compression levels 1–9 (above 9 compresses as 9)
// and Kafka's default, 9, is its fast compressor, as in Kafka; zstd
// -131072–22, which the zstd library rounds to its four speeds. Snappy
// and none take no level.
func Recompress(batch []byte, codec int8, level int) ([]byte, error) {
	if len(batch) < BatchHeaderSize {
		return nil, fmt.Errorf("%w: batch of %d bytes", ErrCorruptBatch, len(batch))
	}
	h := parseHeader(batch)
	if h.Compression() == codec {
		return batch, nil
	}
	defer inflate()()
	raw, err := Decompress(h.Compression(), batch[BatchHeaderSize:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, BatchHeaderSize, BatchHeaderSize+len(raw)/2+64)
	copy(out, batch[:BatchHeaderSize])
	if out, err = compress(codec, level, out, raw); err != nil {
		return nil, err
	}
	be := binary.BigEndian
	be.PutUint32(out[offLength:], uint32(len(out)-batchLogOverhead))
	be.PutUint16(out[offAttributes:], be.Uint16(out[offAttributes:])&^7|uint16(codec))
	be.PutUint32(out[offCRC:], batchCRC(out))
	return out, nil
}

// DefaultLevel asks Recompress for the codec's default level, as Kafka's
// -1 for gzip.
const DefaultLevel = -1 << 31

// Kafka's default lz4 level, which it compresses with lz4's fast compressor.
const kafkaLZ4DefaultLevel = 9

// compress appends src compressed with codec at level to dst: gzip, snappy
// as one raw block (what franz-go and librdkafka send, and every client
// reads), lz4 frames, zstd frames.
func compress(codec int8, level int, dst, src []byte) ([]byte, error) {
	switch codec {
	case CodecNone:
		return append(dst, src...), nil
	case CodecSnappy:
		n := snappy.MaxEncodedLen(len(src))
		dst = slices.Grow(dst, n)
		return dst[:len(dst)+len(snappy.Encode(dst[len(dst):len(dst)+n], src))], nil
	case CodecZstd:
		e, err := zstdEncoderFor(level)
		if err != nil {
			return nil, err
		}
		return e.EncodeAll(src, dst), nil
	case CodecGzip:
		if level == DefaultLevel {
			level = gzip.DefaultCompression
		}
		buf := bytes.NewBuffer(dst)
		w, err := gzip.NewWriterLevel(buf, level)
		if err != nil {
			return nil, err
		}
		return writeAll(w, buf, src)
	case CodecLZ4:
		buf := bytes.NewBuffer(dst)
		w := lz4.NewWriter(buf)
		if level != DefaultLevel && level != kafkaLZ4DefaultLevel && level > 0 {
			if err := w.Apply(lz4.CompressionLevelOption(lz4.Level1 << (min(level, 9) - 1))); err != nil {
				return nil, err
			}
		}
		return writeAll(w, buf, src)
	}
	return nil, fmt.Errorf("%w: codec %d", ErrUnsupportedCodec, codec)
}

// writeAll writes src through the compressor w into buf and closes w.
func writeAll(w io.WriteCloser, buf *bytes.Buffer, src []byte) ([]byte, error) {
	if _, err := w.Write(src); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// zstdEncoders hold one encoder for each of the zstd library's speeds,
// made when first used; EncodeAll is safe for concurrent use.
var zstdEncoders [zstd.SpeedBestCompression + 1]struct {
	once sync.Once
	enc  *zstd.Encoder
	err  error
}

// zstdEncoderFor returns the encoder for Kafka's zstd level (3 by default).
func zstdEncoderFor(level int) (*zstd.Encoder, error) {
	if level == DefaultLevel {
		level = 3
	}
	speed := zstd.EncoderLevelFromZstd(level)
	e := &zstdEncoders[speed]
	e.once.Do(func() {
		e.enc, e.err = zstd.NewWriter(nil, zstd.WithEncoderLevel(speed), zstd.WithEncoderConcurrency(1))
	})
	return e.enc, e.err
}
