package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync is fdatasync, as gokafkad's log uses.
func datasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
