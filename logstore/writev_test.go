package logstore

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestWritevAt(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// More buffers than one pwritev takes, some empty, after a prefix.
	var bufs [][]byte
	var want bytes.Buffer
	want.WriteString("head")
	for i := range 2500 {
		b := bytes.Repeat([]byte{byte(i)}, i%7)
		bufs = append(bufs, b)
		want.Write(b)
	}
	if _, err := f.WriteAt([]byte("head"), 0); err != nil {
		t.Fatal(err)
	}
	if err := writevAt(f, bufs, 4); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("file is %d bytes, want %d, or contents differ", len(got), want.Len())
	}
}
