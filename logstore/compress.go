package logstore

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// MaxDecompressedBytes bounds what Decompress will produce, so a small
// malicious batch cannot make the broker allocate without limit.
const MaxDecompressedBytes = 256 << 20

var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

var zstdDec = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(MaxDecompressedBytes))
})

// Decompress returns the records section src decompressed with codec (the
// batch attribute's low bits). Snappy accepts raw blocks and the xerial
// framing the Java client writes; lz4 is the frame format.
func Decompress(codec int8, src []byte) ([]byte, error) {
	switch codec {
	case CodecNone:
		return src, nil
	case CodecGzip:
		zr, err := gzip.NewReader(bytes.NewReader(src))
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrCorruptBatch, err)
		}
		return readLimited(zr, "gzip")
	case CodecSnappy:
		return decodeSnappy(src)
	case CodecLZ4:
		return readLimited(lz4.NewReader(bytes.NewReader(src)), "lz4")
	case CodecZstd:
		d, err := zstdDec()
		if err != nil {
			return nil, err
		}
		out, err := d.DecodeAll(src, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %v", ErrCorruptBatch, err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %d", ErrUnsupportedCodec, codec)
}

func readLimited(r io.Reader, what string) ([]byte, error) {
	out, err := io.ReadAll(io.LimitReader(r, MaxDecompressedBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptBatch, what, err)
	}
	if len(out) > MaxDecompressedBytes {
		return nil, fmt.Errorf("%w: %s: more than %d bytes", ErrCorruptBatch, what, MaxDecompressedBytes)
	}
	return out, nil
}

func decodeSnappy(src []byte) ([]byte, error) {
	if !bytes.HasPrefix(src, xerialMagic) {
		return snappyBlock(nil, src)
	}
	// xerial: 8-byte magic, int32 version, int32 min compatible version, then
	// blocks each prefixed by a big-endian int32 length.
	if len(src) < 16 {
		return nil, fmt.Errorf("%w: snappy: short xerial header", ErrCorruptBatch)
	}
	src = src[16:]
	var out []byte
	for len(src) > 0 {
		if len(src) < 4 {
			return nil, fmt.Errorf("%w: snappy: truncated xerial block", ErrCorruptBatch)
		}
		n := binary.BigEndian.Uint32(src)
		src = src[4:]
		if uint64(n) > uint64(len(src)) {
			return nil, fmt.Errorf("%w: snappy: xerial block of %d with %d bytes left", ErrCorruptBatch, n, len(src))
		}
		var err error
		if out, err = snappyBlock(out, src[:n]); err != nil {
			return nil, err
		}
		src = src[n:]
	}
	return out, nil
}

// snappyBlock appends the decoding of one raw snappy block to dst.
func snappyBlock(dst, src []byte) ([]byte, error) {
	n, err := snappy.DecodedLen(src)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %v", ErrCorruptBatch, err)
	}
	if n < 0 || len(dst)+n > MaxDecompressedBytes {
		return nil, fmt.Errorf("%w: snappy: block of %d bytes", ErrCorruptBatch, n)
	}
	blk, err := snappy.Decode(nil, src)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %v", ErrCorruptBatch, err)
	}
	return append(dst, blk...), nil
}
