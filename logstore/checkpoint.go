package logstore

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	cleanShutdownFile   = "clean-shutdown"
	startOffsetFile     = "log-start-offset"
	leaderEpochFile     = "leader-epoch-checkpoint"
	corruptFile         = "corrupt-batches"
	emptiedFile         = "emptied-below-start"
	checkpointVersion   = 0
	checkpointTmpSuffix = ".tmp"
)

// WriteFileDurable replaces dir/name with data atomically and durably:
// a temp file, fsync, rename, fsync of dir.
func WriteFileDurable(dir, name string, data []byte) error {
	return writeFileSync(dir, name, data, true)
}

// SyncDir fsyncs the directory dir, making the entries made in it durable.
func SyncDir(dir string) error { return syncDir(dir) }

// writeFileSync replaces dir/name atomically: temp file, fsync, rename, fsync dir.
func writeFileSync(dir, name string, data []byte, sync bool) error {
	tmp := filepath.Join(dir, name+checkpointTmpSuffix)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	_, err = f.Write(data)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err == nil && sync {
		err = syncDir(dir)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// epochEntry: leader epoch `epoch` starts at offset `start`.
type epochEntry struct {
	epoch int32
	start int64
}

// assignEpoch adds epoch starting at start, the log end. As in Kafka's
// leader epoch cache, the entries it does not follow give way: the latest
// epoch if it starts there too (it holds no data), and any entry of a later
// epoch or starting past start, which only a damaged checkpoint holds (raft
// terms only grow) and which would otherwise hide every later epoch.
func assignEpoch(eps []epochEntry, epoch int32, start int64) []epochEntry {
	for n := len(eps); n > 0 && (eps[n-1].start >= start || eps[n-1].epoch >= epoch); n-- {
		eps = eps[:n-1]
	}
	return append(eps, epochEntry{epoch: epoch, start: start})
}

// The checkpoint files use Kafka's text layout: a version line, a count
// line, then one entry per line.
func encodeCheckpoint(lines []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d\n%d\n", checkpointVersion, len(lines))
	for _, s := range lines {
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func decodeCheckpoint(data []byte, fields int) ([][]int64, error) {
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) < 2 || lines[0] != strconv.Itoa(checkpointVersion) {
		return nil, fmt.Errorf("bad checkpoint header")
	}
	n, err := strconv.Atoi(lines[1])
	if err != nil || n != len(lines)-2 {
		return nil, fmt.Errorf("bad checkpoint count")
	}
	out := make([][]int64, 0, n)
	for _, ln := range lines[2:] {
		fs := strings.Fields(ln)
		if len(fs) != fields {
			return nil, fmt.Errorf("bad checkpoint line %q", ln)
		}
		row := make([]int64, fields)
		for i, f := range fs {
			if row[i], err = strconv.ParseInt(f, 10, 64); err != nil {
				return nil, fmt.Errorf("bad checkpoint line %q", ln)
			}
		}
		out = append(out, row)
	}
	return out, nil
}

func (l *Log) writeEpochs(eps []epochEntry) error {
	lines := make([]string, len(eps))
	for i, e := range eps {
		lines[i] = fmt.Sprintf("%d %d", e.epoch, e.start)
	}
	return writeFileSync(l.dir, leaderEpochFile, encodeCheckpoint(lines), !l.cfg.NoSync)
}

func readEpochs(dir string) ([]epochEntry, error) {
	data, err := os.ReadFile(filepath.Join(dir, leaderEpochFile))
	if err != nil {
		return nil, err
	}
	rows, err := decodeCheckpoint(data, 2)
	if err != nil {
		return nil, err
	}
	eps := make([]epochEntry, 0, len(rows))
	for _, r := range rows {
		e := epochEntry{epoch: int32(r[0]), start: r[1]}
		if int64(e.epoch) != r[0] || e.epoch < 0 || e.start < 0 ||
			(len(eps) > 0 && (e.epoch <= eps[len(eps)-1].epoch || e.start < eps[len(eps)-1].start)) {
			return nil, fmt.Errorf("bad epoch entry %v", r)
		}
		eps = append(eps, e)
	}
	return eps, nil
}

func (l *Log) writeStartOffset(off int64) error {
	return writeFileSync(l.dir, startOffsetFile, encodeCheckpoint([]string{strconv.FormatInt(off, 10)}), !l.cfg.NoSync)
}

// writeEmptied records the last raft index and term of the segments Open is
// about to set aside as below the log start (see EmptiedBelowStart), so a
// crash before raft has a snapshot there still finds them.
func (l *Log) writeEmptied(index, term uint64) error {
	return writeFileSync(l.dir, emptiedFile, encodeCheckpoint([]string{strconv.FormatUint(index, 10) + " " + strconv.FormatUint(term, 10)}), !l.cfg.NoSync)
}

func readEmptied(dir string) (index, term uint64) {
	data, err := os.ReadFile(filepath.Join(dir, emptiedFile))
	if err != nil {
		return 0, 0
	}
	rows, err := decodeCheckpoint(data, 2)
	if err != nil || len(rows) != 1 || rows[0][0] <= 0 || rows[0][1] <= 0 {
		return 0, 0
	}
	return uint64(rows[0][0]), uint64(rows[0][1])
}

// writeClean writes the clean-shutdown marker, holding the log end offset.
// On a disk too full for the marker's data, it is written empty, as older
// versions wrote it (a name takes no data block): the stop is still clean,
// and the start checks the log's end as it did then.
func (l *Log) writeClean() error {
	err := writeFileSync(l.dir, cleanShutdownFile, encodeCheckpoint([]string{strconv.FormatInt(l.leo, 10)}), !l.cfg.NoSync)
	if err != nil && writeFileSync(l.dir, cleanShutdownFile, nil, !l.cfg.NoSync) == nil {
		l.log.Warn("clean-shutdown marker written without the log end offset", "err", err)
		return nil
	}
	return err
}

// cleanEnd is the log end offset the clean-shutdown marker holds, -1 if
// it holds none (a marker of a version before it was written, empty).
func cleanEnd(dir string) int64 {
	data, err := os.ReadFile(filepath.Join(dir, cleanShutdownFile))
	if err != nil {
		return -1
	}
	rows, err := decodeCheckpoint(data, 1)
	if err != nil || len(rows) != 1 || rows[0][0] < 0 {
		return -1
	}
	return rows[0][0]
}

func readStartOffset(dir string) (int64, bool) {
	data, err := os.ReadFile(filepath.Join(dir, startOffsetFile))
	if err != nil {
		return 0, false
	}
	rows, err := decodeCheckpoint(data, 1)
	if err != nil || len(rows) != 1 || rows[0][0] < 0 {
		return 0, false
	}
	return rows[0][0], true
}

// corruptBatch names a batch recovery kept although its CRC fails (see
// Log.rebuild): the segment's base offset, the batch's position in its
// .log and its base offset.
type corruptBatch struct{ segment, pos, offset int64 }

// readCorrupt reads the batches kept with a bad CRC, from corruptFile.
func readCorrupt(dir string) map[corruptBatch]bool {
	data, err := os.ReadFile(filepath.Join(dir, corruptFile))
	if err != nil {
		return nil
	}
	rows, err := decodeCheckpoint(data, 3)
	if err != nil {
		return nil
	}
	m := make(map[corruptBatch]bool, len(rows))
	for _, r := range rows {
		m[corruptBatch{r[0], r[1], r[2]}] = true
	}
	return m
}

// writeCorrupt records the batches kept with a bad CRC whose segments
// still exist, so that recovery after a later crash keeps them too rather
// than cutting the log there (with every batch acknowledged since).
func (l *Log) writeCorrupt() error {
	live := map[int64]bool{}
	for _, s := range l.segs {
		live[s.base] = true
	}
	var lines []string
	for c := range l.corrupt {
		if live[c.segment] {
			lines = append(lines, fmt.Sprintf("%d %d %d", c.segment, c.pos, c.offset))
		}
	}
	if len(lines) == 0 {
		if err := os.Remove(filepath.Join(l.dir, corruptFile)); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	slices.Sort(lines)
	return writeFileSync(l.dir, corruptFile, encodeCheckpoint(lines), !l.cfg.NoSync)
}
