// Command disklat measures this disk's synced-write latency the way the
// produce latency test loads it: a small append (about the batch of 20
// records of 100 B that --throughput 10000 sends every 2 ms), then an
// fdatasync, every interval, into a file written with zeros ahead of the
// appends as gokafkad's active segment is. bench/run.sh prints its figures
// next to gokafkad's produce latency, which cannot beat the disk's.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"
)

func main() {
	path := flag.String("file", "disklat.tmp", "file to write (removed afterwards)")
	size := flag.Int("size", 2200, "bytes per append")
	every := flag.Duration("every", 2*time.Millisecond, "time between appends")
	dur := flag.Duration("duration", 10*time.Second, "how long to run")
	flag.Parse()
	if err := run(*path, *size, *every, *dur); err != nil {
		fmt.Fprintln(os.Stderr, "disklat:", err)
		os.Exit(1)
	}
}

func run(path string, size int, every, dur time.Duration) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer os.Remove(path)
	defer f.Close()
	const chunk = 1 << 20
	zeros := make([]byte, chunk)
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = byte(i*31 + 7)
	}
	var off, filled int64
	var lat []time.Duration
	next := time.Now()
	for end := next.Add(dur); time.Now().Before(end); {
		if filled-off < chunk/2 {
			if _, err := f.WriteAt(zeros, filled); err != nil {
				return err
			}
			filled += chunk
		}
		if _, err := f.WriteAt(buf, off); err != nil {
			return err
		}
		off += int64(size)
		t := time.Now()
		if err := datasync(f); err != nil {
			return err
		}
		lat = append(lat, time.Since(t))
		next = next.Add(every)
		time.Sleep(time.Until(next))
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"syncs": len(lat), "p50_ms": q(0.5), "p99_ms": q(0.99), "p999_ms": q(0.999), "max_ms": q(1),
	})
}
