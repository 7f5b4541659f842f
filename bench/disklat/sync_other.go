//go:build !linux

package main

import "os"

// datasync falls back to fsync (F_FULLFSYNC on macOS), as gokafkad's log
// does on systems without fdatasync.
func datasync(f *os.File) error { return f.Sync() }
