//go:build !linux

package logstore

import (
	"errors"
	"os"
)

// writevAt writes bufs back to back at off.
func writevAt(f *os.File, bufs [][]byte, off int64) error {
	for _, b := range bufs {
		if _, err := f.WriteAt(b, off); err != nil {
			return err
		}
		off += int64(len(b))
	}
	return nil
}

// reserve is a no-op where fallocate is not available.
func reserve(*os.File, int64, int64) error { return errors.ErrUnsupported }

// datasync falls back to fsync.
func datasync(f *os.File) error { return f.Sync() }

// syncFiles fdatasyncs each file (syncfs is Linux's).
func syncFiles(files []syncFile) error { return datasyncEach(files) }
