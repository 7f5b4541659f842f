package broker

import (
	"os"
	"testing"
)

// TestOpenFilesCounts: openFiles follows the files the process opens and
// closes, by either way of counting.
func TestOpenFilesCounts(t *testing.T) {
	before, _, ok := openFiles()
	if !ok {
		t.Skip("open files cannot be counted here")
	}
	var fs []*os.File
	for range 200 {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	during, _, _ := openFiles()
	listed, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		f.Close()
	}
	after, _, _ := openFiles()
	if d := during - before; d < 195 || d > 205 {
		t.Errorf("200 files opened: the count went from %d to %d", before, during)
	}
	if d := len(listed) - during; d < -5 || d > 5 { // the listing holds its own
		t.Errorf("counted %d open files, /proc/self/fd lists %d", during, len(listed))
	}
	if d := during - after; d < 195 || d > 205 {
		t.Errorf("200 files closed: the count went from %d to %d", during, after)
	}
}
