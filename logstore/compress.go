package logstore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// MaxDecompressedBytes bounds what Decompress will produce, so a small
// malicious batch cannot make the broker allocate without limit.
const MaxDecompressedBytes = 256 << 20

var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

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
		return nil, fmt.Errorf("%w: records decompress to more than %d bytes", ErrCorruptBatch, decompressLimit)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrCorruptBatch, err)
	}
	return out, nil
}

// Recompress returns a copy of the magic-2 batch with its records section
// in codec instead (CodecNone: uncompressed), and the attributes, length and
// CRC to match, as Kafka stores a batch on a topic whose compression.type
// names a codec other than the producer's. The records themselves (offsets,
// timestamps, keys, values, headers) are unchanged, and so is every other
// header field. A batch already in codec is returned as it is. batch must
// have passed CheckBatch.
func Recompress(batch []byte, codec int8) ([]byte, error) {
	if len(batch) < BatchHeaderSize {
		return nil, fmt.Errorf("%w: batch of %d bytes", ErrCorruptBatch, len(batch))
	}
	h := parseHeader(batch)
	if h.Compression() == codec {
		return batch, nil
	}
	raw, err := Decompress(h.Compression(), batch[BatchHeaderSize:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, BatchHeaderSize, BatchHeaderSize+len(raw)/2+64)
	copy(out, batch[:BatchHeaderSize])
	if out, err = compress(codec, out, raw); err != nil {
		return nil, err
	}
	be := binary.BigEndian
	be.PutUint32(out[offLength:], uint32(len(out)-batchLogOverhead))
	be.PutUint16(out[offAttributes:], be.Uint16(out[offAttributes:])&^7|uint16(codec))
	be.PutUint32(out[offCRC:], batchCRC(out))
	return out, nil
}

// compress appends src compressed with codec to dst: gzip, snappy as one
// raw block (what franz-go and librdkafka send, and every client reads),
// lz4 frames, zstd frames.
func compress(codec int8, dst, src []byte) ([]byte, error) {
	switch codec {
	case CodecNone:
		return append(dst, src...), nil
	case CodecSnappy:
		return append(dst, snappy.Encode(nil, src)...), nil
	case CodecZstd:
		return zstdEncoder.EncodeAll(src, dst), nil
	}
	buf := bytes.NewBuffer(dst)
	var w io.WriteCloser
	switch codec {
	case CodecGzip:
		w = gzip.NewWriter(buf)
	case CodecLZ4:
		w = lz4.NewWriter(buf)
	default:
		return nil, fmt.Errorf("%w: codec %d", ErrUnsupportedCodec, codec)
	}
	if _, err := w.Write(src); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// zstdEncoder compresses every recompressed zstd batch; EncodeAll is safe
// for concurrent use.
var zstdEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
