package logstore

import (
	"encoding/binary"
	"math/bits"
)

// Kafka's clients before 0.10 (and librdkafka talking to them) frame a
// magic-0 message's LZ4 value with a wrong header checksum: they hash the
// frame's magic number along with its descriptor (KAFKA-3160). Kafka reads
// magic-0 LZ4 without checking that byte, and from magic 1 on requires the
// right one. The decompressor here always checks it, so a magic-0 value
// gets the checksum its descriptor should carry before it is read.

// lz4FrameMagic starts every LZ4 frame, little-endian on the wire.
const lz4FrameMagic = 0x184D2204

// fixLegacyLZ4 returns v, an LZ4 frame from a magic-0 message, with the
// header checksum recomputed over its descriptor; a copy when the byte
// changes. What is not an LZ4 frame comes back as it is, for the
// decompressor to report.
func fixLegacyLZ4(v []byte) []byte {
	if len(v) < 7 || binary.LittleEndian.Uint32(v) != lz4FrameMagic {
		return v
	}
	flg := v[4]
	end := 6 // after FLG and BD
	if flg&0x08 != 0 {
		end += 8 // content size
	}
	if flg&0x01 != 0 {
		end += 4 // dictionary id
	}
	if len(v) <= end {
		return v
	}
	hc := byte(xxh32(v[4:end], 0) >> 8)
	if v[end] == hc {
		return v
	}
	fixed := append([]byte(nil), v...)
	fixed[end] = hc
	return fixed
}

// lz4FirstFrame returns src cut after its first LZ4 frame (the end mark
// and content checksum included), as Kafka reads an lz4 batch: one frame,
// whatever follows ignored, so records in a second frame are missing (an
// invalid batch) rather than read, which would store a batch Java
// consumers cannot read. What does not parse as a frame comes back whole,
// for the decompressor to report.
func lz4FirstFrame(src []byte) []byte {
	if len(src) < 7 || binary.LittleEndian.Uint32(src) != lz4FrameMagic {
		return src
	}
	flg := src[4]
	pos := 7 // magic, FLG, BD, header checksum
	if flg&0x08 != 0 {
		pos += 8 // content size
	}
	if flg&0x01 != 0 {
		pos += 4 // dictionary id
	}
	for pos+4 <= len(src) {
		size := binary.LittleEndian.Uint32(src[pos:])
		pos += 4
		if size == 0 { // the end mark
			if flg&0x04 != 0 {
				pos += 4 // content checksum
			}
			if pos > len(src) {
				return src
			}
			return src[:pos]
		}
		pos += int(size & 0x7fffffff)
		if flg&0x10 != 0 {
			pos += 4 // block checksum
		}
	}
	return src
}

// xxh32 is the 32-bit xxHash of b, which the LZ4 frame format uses for its
// checksums.
func xxh32(b []byte, seed uint32) uint32 {
	const (
		p1 uint32 = 2654435761
		p2 uint32 = 2246822519
		p3 uint32 = 3266489917
		p4 uint32 = 668265263
		p5 uint32 = 374761393
	)
	round := func(acc, in uint32) uint32 { return bits.RotateLeft32(acc+in*p2, 13) * p1 }
	n := len(b)
	var h uint32
	if n >= 16 {
		v1, v2, v3, v4 := seed+p1+p2, seed+p2, seed, seed-p1
		for ; len(b) >= 16; b = b[16:] {
			v1 = round(v1, binary.LittleEndian.Uint32(b))
			v2 = round(v2, binary.LittleEndian.Uint32(b[4:]))
			v3 = round(v3, binary.LittleEndian.Uint32(b[8:]))
			v4 = round(v4, binary.LittleEndian.Uint32(b[12:]))
		}
		h = bits.RotateLeft32(v1, 1) + bits.RotateLeft32(v2, 7) + bits.RotateLeft32(v3, 12) + bits.RotateLeft32(v4, 18)
	} else {
		h = seed + p5
	}
	h += uint32(n)
	for ; len(b) >= 4; b = b[4:] {
		h = bits.RotateLeft32(h+binary.LittleEndian.Uint32(b)*p3, 17) * p4
	}
	for _, c := range b {
		h = bits.RotateLeft32(h+uint32(c)*p5, 11) * p1
	}
	h ^= h >> 15
	h *= p2
	h ^= h >> 13
	h *= p3
	h ^= h >> 16
	return h
}
