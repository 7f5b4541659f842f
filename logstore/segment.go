package logstore

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

const (
	extLog       = ".log"
	extIndex     = ".index"
	extTimeIndex = ".timeindex"
	extRaft      = ".raft"
	extRaftMeta  = ".raftmeta"

	raftHdrSize = 32 // "GKRAFT\x00\x01", first raft index, reserved
	raftRecSize = 32 // pos u64, length u32, type u8, kind u8, pad u16, term u64, appendedAt i64
	metaHdrSize = 32 // "GKMETA\x00\x01", first raft index, created (unix ms), crc32c of the first 24 bytes, pad
	metaRecHdr  = 45 // length u32, crc u32, index u64, term u64, logPos u64, appendedAt i64, type u8, extLen u32
	idxRecSize  = 8  // relative base offset u32, position u32
	tsRecSize   = 12 // max timestamp so far i64, relative base offset u32

	kindBatch = 0
	kindMeta  = 1

	// maxMetaRecord bounds a sidecar record we are willing to read back.
	maxMetaRecord = 1 << 30
)

var (
	raftMagic = [8]byte{'G', 'K', 'R', 'A', 'F', 'T', 0, 1}
	metaMagic = [8]byte{'G', 'K', 'M', 'E', 'T', 'A', 0, 1}
)

// raftEnt locates one raft entry: a batch in .log or a record in .raftmeta.
type raftEnt struct {
	pos      uint64
	length   uint32
	typ      uint8
	kind     uint8
	term     uint64
	appended int64
}

func (e raftEnt) end() int64 { return int64(e.pos) + int64(e.length) }

// within reports whether the entry lies inside a file of size bytes.
func (e raftEnt) within(size int64) bool {
	return e.pos <= uint64(size) && uint64(e.length) <= uint64(size)-e.pos
}

func (e raftEnt) encode(b []byte) {
	be := binary.BigEndian
	be.PutUint64(b[0:], e.pos)
	be.PutUint32(b[8:], e.length)
	b[12] = e.typ
	b[13] = e.kind
	b[14], b[15] = 0, 0
	be.PutUint64(b[16:], e.term)
	be.PutUint64(b[24:], uint64(e.appended))
}

func decodeRaftEnt(b []byte) raftEnt {
	be := binary.BigEndian
	return raftEnt{
		pos:      be.Uint64(b[0:]),
		length:   be.Uint32(b[8:]),
		typ:      b[12],
		kind:     b[13],
		term:     be.Uint64(b[16:]),
		appended: int64(be.Uint64(b[24:])),
	}
}

// idxEnt is one sparse index point: the batch with base offset base+relOff
// starts at pos, and maxTs is the largest batch max timestamp in the segment
// up to and including that batch. The offset index and the time index are
// always appended together, so one slice serves both.
type idxEnt struct {
	relOff uint32
	pos    uint32
	maxTs  int64
}

// metaRec is a decoded .raftmeta record.
type metaRec struct {
	pos, length int64
	index, term uint64
	logPos      int64
	appended    int64
	typ         uint8
	ext, data   []byte
}

func encodeMetaRec(dst []byte, e *raft.Log, logPos int64) []byte {
	n := metaRecHdr + len(e.Extensions) + len(e.Data)
	start := len(dst)
	dst = append(dst, make([]byte, n)...)
	b := dst[start:]
	be := binary.BigEndian
	be.PutUint32(b[0:], uint32(n))
	be.PutUint64(b[8:], e.Index)
	be.PutUint64(b[16:], e.Term)
	be.PutUint64(b[24:], uint64(logPos))
	be.PutUint64(b[32:], uint64(appendedNanos(e)))
	b[40] = uint8(e.Type)
	be.PutUint32(b[41:], uint32(len(e.Extensions)))
	copy(b[metaRecHdr:], e.Extensions)
	copy(b[metaRecHdr+len(e.Extensions):], e.Data)
	be.PutUint32(b[4:], crc32.Checksum(b[8:], castagnoli))
	return dst
}

// decodeMetaRec parses and checks a whole record.
func decodeMetaRec(b []byte) (metaRec, error) {
	be := binary.BigEndian
	if len(b) < metaRecHdr || int(be.Uint32(b)) != len(b) {
		return metaRec{}, errors.New("bad sidecar record length")
	}
	if crc32.Checksum(b[8:], castagnoli) != be.Uint32(b[4:]) {
		return metaRec{}, errors.New("bad sidecar record crc")
	}
	extLen := int64(be.Uint32(b[41:]))
	if extLen > int64(len(b)-metaRecHdr) {
		return metaRec{}, errors.New("bad sidecar extensions length")
	}
	r := metaRec{
		length:   int64(len(b)),
		index:    be.Uint64(b[8:]),
		term:     be.Uint64(b[16:]),
		logPos:   int64(be.Uint64(b[24:])),
		appended: int64(be.Uint64(b[32:])),
		typ:      b[40],
	}
	body := b[metaRecHdr:]
	if extLen > 0 {
		r.ext = body[:extLen:extLen]
	}
	if len(body) > int(extLen) {
		r.data = body[extLen:]
	}
	return r, nil
}

func appendedNanos(e *raft.Log) int64 {
	if e.AppendedAt.IsZero() {
		return 0
	}
	return e.AppendedAt.UnixNano()
}

// segment is one <base>.log with its companions. Fields below the line are
// guarded by Log.mu for readers; only the holder of Log.wmu changes them.
type segment struct {
	dir        string
	base       int64
	firstIndex uint64
	createdMs  int64
	rollJitter int64 // taken off SegmentMs for this segment (Config.SegmentJitterMs)

	// logF stays open while the segment exists. The companions (metaF,
	// raftF, idxF, tsF) stay open while it is active; once it is sealed
	// they are closed while unused (closeIdleAux), so that a partition's
	// old segments hold one file each, and opened again by useAux.
	logF, metaF, raftF, idxF, tsF *os.File
	auxMu                         sync.Mutex // guards the companions of a sealed segment, auxRefs, auxUsed
	auxRefs                       int        // users of the companions (useAux)
	auxUsed                       time.Time  // when the last of them let go

	// ---- published state ----
	logSize  int64 // bytes of batches in .log
	metaSize int64 // bytes of .raftmeta, header included
	nraft    int   // raft entries; indexes firstIndex..firstIndex+nraft-1
	// checked: the derived files (.raft, indexes) were made, checked or
	// rebuilt by this process. Raft entries are read from .raft, the
	// active segment's too: one a batch, they are too many to hold.
	checked  bool
	repaired bool // Log.repair rebuilt the derived files (or tried), mu
	nidx     int
	idx      []idxEnt // in memory while active; nil once sealed
	sealed   bool
	end      int64 // next offset after the last batch (== base when no batch)
	maxTs    int64 // largest batch max timestamp, -1 when no batch
	// writer-private
	bytesSinceIdx int64
	writes        uint64 // writes made, counted (interval mode: see synced)
	synced        uint64 // writes, of those counted, known to be on disk
	reserved      int64  // .log is reserved up to here (see prepareLog)
	filled        int64  // .log is written, with data or zeros, up to here
}

// The space ahead of the .log writes grows with the segment, from 64 KiB to
// maxReserve (fallocate) or maxFill (zeros), so an idle partition holds
// little disk and a busy one prepares seldom.
const (
	minReserve = 64 << 10
	maxReserve = 16 << 20
	maxFill    = 1 << 20
)

// zeros is what prepareLog writes; never written to.
var zeros [maxFill]byte

// prepareLog readies the disk for .log bytes [from, to) before they are
// written. Failure only costs speed: a file system that refuses gets no more
// attempts of that kind for this segment.
//
// With fill > 0 (every batch synced, and the syncs small: see
// Log.fillChunk), the file is kept written with zeros ahead of its data, in
// chunks of up to fill bytes, so an fdatasync after an append has only the
// data blocks to write: they are allocated and written already, and the
// file size covers them. On ext4 that saves two of the four waits for the
// disk in each sync (the extent tree and the inode) and a third of its CPU,
// measured on this project's machines; journaling file systems save a
// journal commit. The cost is writing every byte twice, zeros first, which
// pays only while the syncs are small. The zeros past the data are cut off
// when the segment is sealed or closed, and recovery after a crash stops at
// them. Zeros never go below to, so they cannot overwrite data.
//
// Otherwise the space is reserved with fallocate(FALLOC_FL_KEEP_SIZE),
// which leaves the file size marking the end of the data.
func (s *segment) prepareLog(from, to, fill int64) {
	if fill > 0 {
		n := min(max(to, minReserve), fill)
		if s.filled-to >= n/2 {
			return // also after a failure: filled is MaxInt64
		}
		from = max(to, s.filled)
		if err := writevAt(s.logF, [][]byte{zeros[:n]}, from); err != nil {
			s.filled = math.MaxInt64
			return
		}
		s.filled = from + n
		return
	}
	if to <= s.reserved {
		return
	}
	from = max(from, s.reserved)
	n := max(to-from, min(max(from, minReserve), maxReserve))
	if err := reserve(s.logF, from, n); err != nil {
		s.reserved = math.MaxInt64
		return
	}
	s.reserved = from + n
}

// prepared reports whether .log may hold zeros or reserved blocks past its
// data.
func (s *segment) prepared() bool { return max(s.reserved, s.filled) > s.logSize }

// truncateLog cuts .log to size, which also frees the blocks reserved or
// filled past it.
func (s *segment) truncateLog(size int64) error {
	if err := s.logF.Truncate(size); err != nil {
		return err
	}
	s.reserved, s.filled = size, size
	return nil
}

// releaseLog cuts .log to size, the end of its data, freeing what was
// reserved or filled past it, and keeps the file's modification time: a
// truncation stamps the file with the time of the cut, and that time is
// the segment's last write for ListOffsets v0 and for the age of records
// without a timestamp (lastModified). Kafka's trim leaves it too.
func (s *segment) releaseLog(size int64) error {
	fi, statErr := s.logF.Stat()
	if err := s.truncateLog(size); err != nil {
		return err
	}
	if statErr == nil {
		// Best effort: a time not restored only makes the segment look
		// newer.
		_ = os.Chtimes(s.path(extLog), time.Time{}, fi.ModTime())
	}
	return nil
}

func segPath(dir string, base int64, ext string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", base, ext))
}

func (s *segment) path(ext string) string { return segPath(s.dir, s.base, ext) }

// lastModified is when .log was last written, in Unix ms: the age of a
// segment whose records carry no timestamp (magic-0 messages, -1), as Kafka's
// LogSegment.largestTimestamp. Its creation time would let retention delete
// records appended a moment ago to a long-lived segment.
func (s *segment) lastModified() int64 {
	fi, err := s.logF.Stat()
	if err != nil {
		return s.createdMs
	}
	return fi.ModTime().UnixMilli()
}

func (s *segment) lastIndex() uint64 { return s.firstIndex + uint64(s.nraft) - 1 }

// parseSegName returns the base offset of a "<20 digits>.log" file name.
func parseSegName(name string) (int64, bool) {
	stem, ok := strings.CutSuffix(name, extLog)
	if !ok || len(stem) != 20 {
		return 0, false
	}
	v, err := strconv.ParseInt(stem, 10, 64)
	if err != nil || v < 0 {
		return 0, false
	}
	return v, true
}

// files returns the segment's open files; a sealed segment's companions
// may be closed.
func (s *segment) files() []*os.File {
	var fs []*os.File
	for _, f := range []*os.File{s.logF, s.metaF, s.raftF, s.idxF, s.tsF} {
		if f != nil {
			fs = append(fs, f)
		}
	}
	return fs
}

func (s *segment) close() error {
	s.auxMu.Lock()
	defer s.auxMu.Unlock()
	var first error
	for _, f := range s.files() {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	s.logF, s.metaF, s.raftF, s.idxF, s.tsF = nil, nil, nil, nil, nil
	return first
}

// useAux makes sure the companions are open and keeps them so until the
// returned func is called. Every read of a sealed segment's companions, and
// every write to a segment that may be sealed, goes through it.
func (s *segment) useAux() (func(), error) {
	s.auxMu.Lock()
	defer s.auxMu.Unlock()
	if s.metaF == nil {
		if s.logF == nil {
			return nil, ErrClosed
		}
		fs := make([]*os.File, 0, 4)
		for _, ext := range []string{extRaftMeta, extRaft, extIndex, extTimeIndex} {
			f, err := os.OpenFile(s.path(ext), os.O_RDWR, 0)
			if err != nil {
				for _, f := range fs {
					f.Close()
				}
				return nil, fmt.Errorf("segment %d: reopen: %w", s.base, err)
			}
			fs = append(fs, f)
		}
		s.metaF, s.raftF, s.idxF, s.tsF = fs[0], fs[1], fs[2], fs[3]
	}
	s.auxRefs++
	return s.releaseAux, nil
}

func (s *segment) releaseAux() {
	s.auxMu.Lock()
	s.auxRefs--
	s.auxUsed = time.Now()
	s.auxMu.Unlock()
}

// closeIdleAux closes the companions of a sealed segment that nobody is
// using and nobody used after idleSince. The caller knows s is sealed (it
// holds Log.wmu, or is opening the log): its companions are then fsynced
// and only read.
func (s *segment) closeIdleAux(idleSince time.Time) {
	s.auxMu.Lock()
	defer s.auxMu.Unlock()
	if s.metaF == nil || s.auxRefs > 0 || s.auxUsed.After(idleSince) {
		return
	}
	for _, f := range []*os.File{s.metaF, s.raftF, s.idxF, s.tsF} {
		f.Close()
	}
	s.metaF, s.raftF, s.idxF, s.tsF = nil, nil, nil, nil
}

// remove closes and deletes the segment's files, .log first so that a crash
// part way leaves only orphan companions, which Open deletes.
// segmentExts are the extensions of a segment's files.
var segmentExts = []string{extLog, extRaftMeta, extRaft, extIndex, extTimeIndex}

func (s *segment) remove() error {
	s.close()
	var first error
	for _, ext := range segmentExts {
		if err := os.Remove(s.path(ext)); err != nil && !errors.Is(err, os.ErrNotExist) && first == nil {
			first = err
		}
	}
	return first
}

// raftAt returns the i-th raft entry of the segment. Caller holds Log.mu.
func (s *segment) raftAt(i int) (raftEnt, error) {
	if i < 0 || i >= s.nraft {
		return raftEnt{}, raft.ErrLogNotFound
	}
	done, err := s.useAux()
	if err != nil {
		return raftEnt{}, err
	}
	defer done()
	var b [raftRecSize]byte
	if _, err := s.raftF.ReadAt(b[:], raftHdrSize+int64(i)*raftRecSize); err != nil {
		return raftEnt{}, fmt.Errorf("segment %d: read raft entry %d: %w", s.base, i, err)
	}
	return decodeRaftEnt(b[:]), nil
}

// raftEnts returns the segment's first k raft entries, read at once.
// Caller holds Log.mu.
func (s *segment) raftEnts(k int) ([]raftEnt, error) {
	if k < 0 || k > s.nraft {
		return nil, raft.ErrLogNotFound
	}
	done, err := s.useAux()
	if err != nil {
		return nil, err
	}
	defer done()
	raw := make([]byte, k*raftRecSize)
	if _, err := s.raftF.ReadAt(raw, raftHdrSize); err != nil {
		return nil, fmt.Errorf("segment %d: read %d raft entries: %w", s.base, k, err)
	}
	ents := make([]raftEnt, k)
	for i := range ents {
		ents[i] = decodeRaftEnt(raw[i*raftRecSize:])
	}
	return ents, nil
}

// idxAt returns the i-th sparse index entry. Caller holds Log.mu.
func (s *segment) idxAt(i int) (idxEnt, error) {
	if s.idx != nil {
		return s.idx[i], nil
	}
	done, err := s.useAux()
	if err != nil {
		return idxEnt{}, err
	}
	defer done()
	var a [idxRecSize]byte
	var t [tsRecSize]byte
	if _, err := s.idxF.ReadAt(a[:], int64(i)*idxRecSize); err != nil {
		return idxEnt{}, fmt.Errorf("segment %d: read index: %w", s.base, err)
	}
	if _, err := s.tsF.ReadAt(t[:], int64(i)*tsRecSize); err != nil {
		return idxEnt{}, fmt.Errorf("segment %d: read time index: %w", s.base, err)
	}
	return idxEnt{
		relOff: binary.BigEndian.Uint32(a[0:]),
		pos:    binary.BigEndian.Uint32(a[4:]),
		maxTs:  int64(binary.BigEndian.Uint64(t[0:])),
	}, nil
}

// lookup returns the position of the last index point whose batch base is
// <= off (0 when none).
func (s *segment) lookup(off int64) (int64, error) {
	rel := off - s.base
	lo, hi := 0, s.nidx // find first entry with relOff > rel
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		e, err := s.idxAt(m)
		if err != nil {
			return 0, err
		}
		if int64(e.relOff) <= rel {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0, nil
	}
	e, err := s.idxAt(lo - 1)
	return int64(e.pos), err
}

// boundFor returns the position of the first index point whose batch base
// is >= off, or logSize: every batch from there on has base >= off.
func (s *segment) boundFor(off int64) (int64, error) {
	rel := off - s.base
	lo, hi := 0, s.nidx
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		e, err := s.idxAt(m)
		if err != nil {
			return 0, err
		}
		if int64(e.relOff) < rel {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == s.nidx {
		return s.logSize, nil
	}
	e, err := s.idxAt(lo)
	return int64(e.pos), err
}

// headerScanner walks batch headers of a .log through a read-ahead window.
type headerScanner struct {
	f     *os.File
	limit int64
	buf   []byte
	start int64                // file position of buf[0]
	first [firstScanChunk]byte // the first read
	big   []byte               // later reads
}

// The first read of a scan is small: a fetch at a batch boundary, the usual
// case, needs one header, and the sparse index puts any offset within about
// log.index.interval.bytes (4096) of its batch. Later reads take scanChunk.
const (
	firstScanChunk = 4096 + BatchHeaderSize
	scanChunk      = 64 << 10
)

// at returns the header of the batch at pos, or ok=false at the end or on
// garbage (a length that cannot be a batch or runs past limit).
func (hs *headerScanner) at(pos int64) (BatchHeader, bool, error) {
	if pos+BatchHeaderSize > hs.limit {
		return BatchHeader{}, false, nil
	}
	if pos < hs.start || pos+BatchHeaderSize > hs.start+int64(len(hs.buf)) {
		if hs.buf == nil {
			hs.buf = hs.first[:min(int64(firstScanChunk), hs.limit-pos)]
		} else {
			if hs.big == nil {
				hs.big = make([]byte, scanChunk)
			}
			hs.buf = hs.big[:min(int64(scanChunk), hs.limit-pos)]
		}
		if _, err := hs.f.ReadAt(hs.buf, pos); err != nil {
			hs.buf = hs.buf[:0]
			return BatchHeader{}, false, err
		}
		hs.start = pos
	}
	b := hs.buf[pos-hs.start:]
	if b[offMagic] != 2 {
		return BatchHeader{}, false, nil
	}
	h := parseHeader(b)
	if h.Length < BatchHeaderSize-batchLogOverhead || pos+int64(h.Size()) > hs.limit || h.LastOffsetDelta < 0 {
		return h, false, nil
	}
	return h, true, nil
}

// logReader streams whole batches from the start of a .log for recovery.
type logReader struct {
	r   *bufio.Reader
	pos int64
	max int64
	buf []byte
}

// errZeroFilled is where a crash left the log: its data stops at the zeros
// written ahead of it (see prepareLog).
var errZeroFilled = errors.New("zero-filled space past the last batch")

func newLogReader(f *os.File, size int64) *logReader {
	return &logReader{r: bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 1<<20), max: size}
}

// next returns the next batch (valid until the following call) and its
// position, or nil at a clean end. A torn or corrupt batch returns an error
// describing it (with the batch too for errBadCRC); pos is then where the
// damage starts.
func (lr *logReader) next(checkCRC bool) ([]byte, error) {
	if lr.pos == lr.max {
		return nil, nil
	}
	if lr.max-lr.pos < BatchHeaderSize {
		return nil, fmt.Errorf("torn batch header (%d bytes)", lr.max-lr.pos)
	}
	var hdr [12]byte
	if _, err := io.ReadFull(lr.r, hdr[:]); err != nil {
		return nil, err
	}
	n := int64(int32(binary.BigEndian.Uint32(hdr[8:]))) + batchLogOverhead
	if hdr == [12]byte{} {
		return nil, errZeroFilled
	}
	if n < BatchHeaderSize || n > lr.max-lr.pos {
		return nil, fmt.Errorf("batch length %d with %d bytes left", n-batchLogOverhead, lr.max-lr.pos)
	}
	if int64(cap(lr.buf)) < n {
		lr.buf = make([]byte, n)
	}
	b := lr.buf[:n]
	copy(b, hdr[:])
	if _, err := io.ReadFull(lr.r, b[12:]); err != nil {
		return nil, err
	}
	if b[offMagic] != 2 {
		return nil, fmt.Errorf("magic %d", int8(b[offMagic]))
	}
	if checkCRC && batchCRC(b) != binary.BigEndian.Uint32(b[offCRC:]) {
		return b, errBadCRC
	}
	return b, nil
}

// errBadCRC is a batch whose length and magic hold but whose CRC does not;
// logReader.next returns the batch with it.
var errBadCRC = errors.New("crc mismatch")

// readMeta reads the sidecar record at pos, bounded by size.
func (s *segment) readMeta(pos, size int64) (metaRec, error) {
	var h [4]byte
	if pos+metaRecHdr > size {
		return metaRec{}, io.ErrUnexpectedEOF
	}
	done, err := s.useAux()
	if err != nil {
		return metaRec{}, err
	}
	defer done()
	if _, err := s.metaF.ReadAt(h[:], pos); err != nil {
		return metaRec{}, err
	}
	n := int64(binary.BigEndian.Uint32(h[:]))
	if n < metaRecHdr || n > maxMetaRecord || pos+n > size {
		return metaRec{}, fmt.Errorf("sidecar record length %d at %d", n, pos)
	}
	b := make([]byte, n)
	if _, err := s.metaF.ReadAt(b, pos); err != nil {
		return metaRec{}, err
	}
	r, err := decodeMetaRec(b)
	r.pos = pos
	return r, err
}

func encodeMetaHeader(firstIndex uint64, createdMs int64) []byte {
	b := make([]byte, metaHdrSize)
	copy(b, metaMagic[:])
	binary.BigEndian.PutUint64(b[8:], firstIndex)
	binary.BigEndian.PutUint64(b[16:], uint64(createdMs))
	binary.BigEndian.PutUint32(b[24:], crc32.Checksum(b[:24], castagnoli))
	return b
}

func decodeMetaHeader(b []byte) (firstIndex uint64, createdMs int64, ok bool) {
	if len(b) < metaHdrSize || [8]byte(b[:8]) != metaMagic ||
		crc32.Checksum(b[:24], castagnoli) != binary.BigEndian.Uint32(b[24:]) {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(b[8:]), int64(binary.BigEndian.Uint64(b[16:])), true
}

func encodeRaftHeader(firstIndex uint64) []byte {
	b := make([]byte, raftHdrSize)
	copy(b, raftMagic[:])
	binary.BigEndian.PutUint64(b[8:], firstIndex)
	return b
}

func encodeIdx(dstIdx, dstTs []byte, e idxEnt) ([]byte, []byte) {
	dstIdx = binary.BigEndian.AppendUint32(dstIdx, e.relOff)
	dstIdx = binary.BigEndian.AppendUint32(dstIdx, e.pos)
	dstTs = binary.BigEndian.AppendUint64(dstTs, uint64(e.maxTs))
	dstTs = binary.BigEndian.AppendUint32(dstTs, e.relOff)
	return dstIdx, dstTs
}
