package broker

import (
	"os"

	"golang.org/x/sys/unix"
)

// openFiles returns how many files the process has open and how many it may
// (RLIMIT_NOFILE, which Go raises to the hard limit at start); ok is false
// where that cannot be told.
func openFiles() (open, limit int, ok bool) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == unix.RLIM_INFINITY {
		return 0, 0, false
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, 0, false
	}
	return len(fds), int(min(rl.Cur, 1<<30)), true
}
