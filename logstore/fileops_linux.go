package logstore

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// maxIovecs is Linux's IOV_MAX.
const maxIovecs = 1024

// writevAt writes bufs back to back at off with pwritev, so the batches go
// from the requests' buffers to the page cache without being gathered into
// one buffer first.
func writevAt(f *os.File, bufs [][]byte, off int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	for len(bufs) > 0 {
		if len(bufs[0]) == 0 {
			bufs = bufs[1:]
			continue
		}
		chunk := bufs[:min(len(bufs), maxIovecs)]
		var n int
		var werr error
		if err := rc.Write(func(fd uintptr) bool {
			n, werr = ignoringEINTR(func() (int, error) { return unix.Pwritev(int(fd), chunk, off) })
			return true
		}); err != nil {
			return err
		}
		if werr != nil {
			return &os.PathError{Op: "pwritev", Path: f.Name(), Err: werr}
		}
		if n == 0 {
			return &os.PathError{Op: "pwritev", Path: f.Name(), Err: io.ErrShortWrite}
		}
		off += int64(n)
		// Skip what was written; a partly written buffer is resumed.
		for n > 0 {
			if n >= len(bufs[0]) {
				n -= len(bufs[0])
				bufs = bufs[1:]
				continue
			}
			bufs[0] = bufs[0][n:]
			n = 0
		}
	}
	return nil
}

// reserve allocates n bytes of disk for f from off without changing its
// size (fallocate with FALLOC_FL_KEEP_SIZE). Appends into reserved blocks
// need no block allocation when they are synced, which on ext4 makes each
// per-batch sync markedly cheaper. Truncating the file to any size releases
// whatever lies past it.
func reserve(f *os.File, off, n int64) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		_, ferr = ignoringEINTR(func() (int, error) {
			return 0, unix.Fallocate(int(fd), unix.FALLOC_FL_KEEP_SIZE, off, n)
		})
	}); err != nil {
		return err
	}
	return ferr
}

// datasync is fdatasync: the data and what is needed to read it back (the
// size) become durable, but not timestamps.
func datasync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		_, serr = ignoringEINTR(func() (int, error) { return 0, unix.Fdatasync(int(fd)) })
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}

func ignoringEINTR(fn func() (int, error)) (int, error) {
	for {
		n, err := fn()
		if err != unix.EINTR {
			return n, err
		}
	}
}

// syncFiles makes the data written to files durable: one syncfs of their
// filesystem when there are several, all on one filesystem, with little
// else dirty (see SyncGroup), else one fdatasync each.
func syncFiles(files []syncFile) error {
	if len(files) < 2 || !syncfsReports() {
		return datasyncEach(files)
	}
	var st unix.Stat_t
	var dev uint64
	var own int64
	for i, sf := range files {
		if err := fstat(sf.f, &st); err != nil {
			return err
		}
		if i > 0 && st.Dev != dev {
			return datasyncEach(files)
		}
		dev = st.Dev
		own += sf.bytes
	}
	if dirty, ok := dirtyBytes(); !ok || dirty-own > otherDirtyMax {
		return datasyncEach(files)
	}
	rc, err := files[0].f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		_, serr = ignoringEINTR(func() (int, error) { return 0, unix.Syncfs(int(fd)) })
	}); err != nil {
		return err
	}
	if serr != nil {
		// syncfs reports an error of any file on the filesystem since
		// files[0] was opened: another program's, or a partition's not in
		// this round. Each file's own sync says whether it is this
		// round's (and then fails it, as before).
		return datasyncEach(files)
	}
	// syncfs reports only the writeback errors the filesystem met after
	// the descriptor it is called on was opened: one that hit another
	// file's pages before (the kernel's flusher writing them back), when
	// files[0] is a segment rolled since, passed unseen, and that file's
	// batches were acknowledged with their data gone. So each file's own
	// error, which its fdatasync would return, is collected too: a wait
	// on pages syncfs left clean, no I/O.
	for _, sf := range files {
		if err := writebackErr(sf.f); err != nil {
			return err
		}
	}
	return nil
}

// writebackErr returns the writeback error f's descriptor has not yet
// seen, if any (sync_file_range waiting on the whole file).
func writebackErr(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		_, serr = ignoringEINTR(func() (int, error) {
			return 0, unix.SyncFileRange(int(fd), 0, 0, unix.SYNC_FILE_RANGE_WAIT_AFTER)
		})
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "sync_file_range", Path: f.Name(), Err: serr}
	}
	return nil
}

func fstat(f *os.File, st *unix.Stat_t) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Fstat(int(fd), st) }); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fstat", Path: f.Name(), Err: serr}
	}
	return nil
}

// syncfsReports says whether syncfs returns the writeback errors of the
// filesystem's files: only from Linux 5.8 on. Before, it returned success
// after a failed writeback, so it never stands in for fdatasync there.
var syncfsReports = sync.OnceValue(func() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	return kernelAtLeast(unix.ByteSliceToString(u.Release[:]), 5, 8)
})

// kernelAtLeast says whether a release such as "6.1.0-13-amd64" is at
// least major.minor.
func kernelAtLeast(release string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(release, "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

// dirtyBytes is the page cache waiting for or under writeback, system-wide
// (Dirty plus Writeback in /proc/meminfo), as read at most dirtyEvery ago:
// the kernel builds all of /proc/meminfo for each read, which cost a few
// percent of the broker's CPU when read for every sync round. A reading a
// few milliseconds old is good enough to tell a round from a system with
// much else to write back.
func dirtyBytes() (int64, bool) {
	dirtyCache.mu.Lock()
	defer dirtyCache.mu.Unlock()
	if now := time.Now(); dirtyCache.at.IsZero() || now.Sub(dirtyCache.at) >= dirtyEvery {
		dirtyCache.at = now
		dirtyCache.v, dirtyCache.ok = 0, false
		if b, err := os.ReadFile("/proc/meminfo"); err == nil {
			dirtyCache.v, dirtyCache.ok = parseDirty(b)
		}
	}
	return dirtyCache.v, dirtyCache.ok
}

const dirtyEvery = 10 * time.Millisecond

var dirtyCache struct {
	mu sync.Mutex
	at time.Time
	v  int64
	ok bool
}

func parseDirty(meminfo []byte) (int64, bool) {
	var total int64
	found := 0
	for line := range bytes.Lines(meminfo) {
		name, rest, ok := bytes.Cut(line, []byte(":"))
		if !ok || !bytes.Equal(name, []byte("Dirty")) && !bytes.Equal(name, []byte("Writeback")) {
			continue
		}
		var kb int64
		if _, err := fmt.Sscanf(string(rest), "%d kB", &kb); err != nil {
			return 0, false
		}
		total += kb << 10
		found++
	}
	return total, found == 2
}
