package logstore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
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
