//go:build !linux

package logstore

import "os"

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
