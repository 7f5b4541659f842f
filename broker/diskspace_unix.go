//go:build linux || darwin || freebsd

package broker

import "golang.org/x/sys/unix"

// diskSpace returns the bytes an unprivileged writer may still use on the
// filesystem holding dir, and its size.
func diskSpace(dir string) (free, total int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return -1, -1, err
	}
	return int64(st.Bavail) * int64(st.Bsize), int64(st.Blocks) * int64(st.Bsize), nil
}
