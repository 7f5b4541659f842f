package logstore

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/hashicorp/raft"
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

// TestPreparedSpace checks the active segment prepares disk ahead of its
// writes (zeros when every batch is synced, a fallocate reservation when
// syncs are rare) and that rolling and closing give the space back, without
// changing what the files hold.
func TestPreparedSpace(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		fill bool
	}{
		{"fill", Config{SegmentBytes: 300 << 10}, true},
		{"reserve", Config{SegmentBytes: 300 << 10, FsyncInterval: time.Hour}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openT(t, dir, tc.cfg)
			g := &entryGen{t: t, term: 1}
			var all []*raft.Log
			store := func(n int) {
				for range n {
					e := g.batch(1, 20<<10, 1)
					all = append(all, e)
					mustStore(t, l, e)
				}
			}
			store(1)
			active := lastSegFile(t, dir, extLog)
			fi, err := os.Stat(active)
			if err != nil {
				t.Fatal(err)
			}
			data := int64(len(all[0].Data))
			if tc.fill {
				b, err := os.ReadFile(active)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Size() < data+minReserve/2 || !bytes.Equal(b[:data], all[0].Data) || bytes.ContainsFunc(b[data:], func(r rune) bool { return r != 0 }) {
					t.Fatalf("active segment: %d bytes for %d of data, or not the batch then zeros", fi.Size(), data)
				}
			} else {
				if runtime.GOOS != "linux" {
					t.Skip("reservation uses fallocate")
				}
				if got := diskBytes(t, active); fi.Size() != data || got < minReserve {
					t.Skipf("file system did not reserve: %d bytes on disk for %d (size %d)", got, data, fi.Size())
				}
			}
			store(20) // rolls at least once
			if len(l.segs) < 2 {
				t.Fatalf("%d segments, want a roll", len(l.segs))
			}
			for _, s := range l.segs[:len(l.segs)-1] {
				p := s.path(extLog)
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if got := diskBytes(t, p); got >= s.logSize+minReserve/2 || fi.Size() != s.logSize {
					t.Errorf("sealed %s is %d bytes, %d on disk, for %d of data", p, fi.Size(), got, s.logSize)
				}
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			active = lastSegFile(t, dir, extLog)
			fi, err = os.Stat(active)
			if err != nil {
				t.Fatal(err)
			}
			if got := diskBytes(t, active); got >= fi.Size()+minReserve/2 {
				t.Errorf("closed active segment holds %d bytes on disk for %d", got, fi.Size())
			}
			l = openT(t, dir, tc.cfg)
			defer l.Close()
			checkEntries(t, l, all)
			store(2)
			checkEntries(t, l, all)
		})
	}
}

// TestFillOnlyForSmallSyncs: zeros go ahead of the writes while the syncs
// are small, stop once they are large (where writing every byte twice
// costs more than the sync saves), and come back when they shrink again.
func TestFillOnlyForSmallSyncs(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Config{})
	defer l.Close()
	g := &entryGen{t: t, term: 1}
	var data int64
	store := func(n, size int) {
		for range n {
			e := g.batch(1, size, 1)
			data += int64(len(e.Data))
			mustStore(t, l, e)
		}
	}
	size := func() int64 {
		fi, err := os.Stat(lastSegFile(t, dir, extLog))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	store(3, 2<<10)
	if got := size(); got <= data {
		t.Fatalf("small syncs: .log is %d bytes for %d of data, want zeros ahead", got, data)
	}
	store(20, 600<<10)
	if got := size(); got != data {
		t.Fatalf("large syncs: .log is %d bytes for %d of data, want no zeros ahead", got, data)
	}
	store(30, 2<<10)
	if got := size(); got <= data {
		t.Fatalf("small syncs again: .log is %d bytes for %d of data, want zeros ahead", got, data)
	}
}
