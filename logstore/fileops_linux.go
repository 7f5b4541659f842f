package logstore

import (
	"io"
	"os"

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
