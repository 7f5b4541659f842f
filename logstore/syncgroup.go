package logstore

import (
	"os"
	"sync"
	"time"
)

// SyncGroup syncs the deferred writes of the logs of one data directory
// together (Config.SyncGroup). Each log's sync goroutine hands it the file
// to sync and how many bytes it wrote since the last sync; the calls that
// arrive while a sync is under way wait for the next round, and a round
// covering two or more files syncs them with one call where the system
// allows (syncFiles: on Linux one syncfs of their filesystem) instead of
// one fdatasync per file.
//
// Why: on this project's virtual machines most of an fdatasync's CPU is
// per call, not per byte (submitting the writes to the virtual disk and its
// cache flush: about 60 µs of a 64 KiB sync), and a blocked syscall costs
// the Go scheduler a thread hand-off. Six files synced as one syncfs took a
// third of the CPU of six concurrent fdatasyncs, and less time (see
// docs/benchmarks.md). With one busy partition nothing changes: a round of
// one file is one fdatasync.
//
// A syncfs also writes back whatever else is dirty on the filesystem, so a
// round falls back to one fdatasync per file, run concurrently, when the
// system holds much more dirty data than the round wrote (otherDirtyMax),
// or when the files are not all on one filesystem.
//
// A log that has a large sync to make (soloBytes or more) makes it on its
// own, at once, outside the rounds: there the per-call cost the group saves
// is small against writing the bytes, and in a round the large sync would
// hold up the small ones, which are acknowledged only once their whole
// round is done: a tiny acks=all record waited for other partitions' 20 MB
// batches, tens to hundreds of milliseconds, in the round running when it
// came and then in its own.
//
// A round also waits, up to gatherMax, for the logs that were announced
// a batch (SyncMember.Expect) before it began collecting and have not yet
// handed it in: the partitions of one produce request are handed to their
// logs one after another, and without the wait the first log to finish its
// write would take a round of its own, so that a six-partition request paid
// for two syncs, one after the other, instead of one. A log already in the
// round is not waited for: its later writes cannot join a round its sync
// goroutine is waiting in.
type SyncGroup struct {
	mu   sync.Mutex
	cond sync.Cond
	next *syncRound // collecting: runs once the running round is done
	stop bool
	done chan struct{}
	sync func([]syncFile) error // syncFiles; tests replace it

	outstanding map[*SyncMember]struct{} // members with announced batches not yet arrived
	gatherMax   time.Duration            // tests shorten it
	soloBytes   int64                    // tests change it
}

// gatherMax is how long a round waits at most for the batches announced
// before it: far more than a write takes, little against the sync itself.
const gatherMax = time.Millisecond

// soloBytes is the size of a sync from which a log syncs on its own: the
// disk takes about a millisecond to write a megabyte, against tens of
// microseconds of per-call cost that a round would share.
const soloBytes = 1 << 20

// syncRound is one sync covering every file queued for it.
type syncRound struct {
	files   []syncFile
	awaited []*SyncMember // outstanding when the round began collecting
	waitFor int           // how many of them have not joined or arrived
	done    chan struct{}
	err     error
}

// syncFile is one file of a round and the bytes written to it since its
// last sync.
type syncFile struct {
	f     *os.File
	bytes int64
}

// NewSyncGroup starts a group's sync goroutine; Close stops it.
func NewSyncGroup() *SyncGroup {
	g := &SyncGroup{done: make(chan struct{}), sync: syncFiles, gatherMax: gatherMax,
		soloBytes: soloBytes, outstanding: make(map[*SyncMember]struct{})}
	g.cond.L = &g.mu
	go g.loop()
	return g
}

// SyncMember is one log's place in a SyncGroup: it syncs through the group
// and counts the batches announced to it and arrived. Fields are g.mu's.
type SyncMember struct {
	g                 *SyncGroup
	expected, arrived uint64
	awaitedBy         *syncRound // the collecting round waits for this member
}

// Member adds a log to the group.
func (g *SyncGroup) Member() *SyncMember { return &SyncMember{g: g} }

// Expect announces a batch on its way to the member's log (a produce
// request's partition, before it is handed to raft): a round that begins
// collecting after the call, without this member, waits a little for it
// (gatherMax). A batch announced and never synced (raft refused it) costs
// one such wait at most.
func (m *SyncMember) Expect() {
	g := m.g
	g.mu.Lock()
	m.expected++
	g.outstanding[m] = struct{}{}
	g.mu.Unlock()
}

// Retract takes back an Expect whose batch will not come.
func (m *SyncMember) Retract() {
	g := m.g
	g.mu.Lock()
	if m.expected > m.arrived {
		m.expected--
	}
	if m.arrived >= m.expected {
		delete(g.outstanding, m)
		if m.awaitedBy != nil {
			m.settle(m.awaitedBy)
			g.cond.Signal()
		}
	}
	g.mu.Unlock()
}

// Sync returns once the data written to f before the call is durable, or
// why it is not; bytes is how much of it is not yet synced, entries how
// many announced batches it holds.
func (m *SyncMember) Sync(f *os.File, bytes int64, entries int) error {
	g := m.g
	g.mu.Lock()
	m.count(entries)
	if g.stop {
		g.mu.Unlock()
		return datasync(f)
	}
	if bytes >= g.soloBytes {
		// A round waiting for this log's batch would wait in vain: its
		// next one comes only after this sync.
		if m.awaitedBy != nil {
			m.settle(m.awaitedBy)
			g.cond.Signal()
		}
		g.mu.Unlock()
		return datasync(f)
	}
	r := g.next
	if r == nil {
		r = &syncRound{done: make(chan struct{})}
		g.next = r
		for o := range g.outstanding {
			if o != m && o.awaitedBy == nil {
				o.awaitedBy = r
				r.awaited = append(r.awaited, o)
				r.waitFor++
			}
		}
	}
	m.settle(r)
	r.files = append(r.files, syncFile{f, bytes})
	g.cond.Signal()
	g.mu.Unlock()
	<-r.done
	return r.err
}

// arrive counts announced batches that were stored without a deferred
// sync.
func (m *SyncMember) arrive(entries int) {
	if entries == 0 {
		return
	}
	g := m.g
	g.mu.Lock()
	m.count(entries)
	if m.arrived >= m.expected && m.awaitedBy != nil {
		m.settle(m.awaitedBy)
		g.cond.Signal()
	}
	g.mu.Unlock()
}

// Leave takes the member out of the group: no round waits for it again.
func (m *SyncMember) Leave() {
	g := m.g
	g.mu.Lock()
	delete(g.outstanding, m)
	if m.awaitedBy != nil {
		m.settle(m.awaitedBy)
		g.cond.Signal()
	}
	m.arrived = m.expected
	g.mu.Unlock()
}

// count adds arrived batches, never past those announced. A batch counted
// that was not announced (a DeleteRecords entry), or one forgotten by
// gather that arrives late, can thus make a later announced batch look
// arrived: its round then does not wait for it, which costs a sync, never
// a wait.
func (m *SyncMember) count(entries int) {
	m.arrived = min(m.arrived+uint64(entries), m.expected)
	if m.arrived >= m.expected {
		delete(m.g.outstanding, m)
	}
}

// settle stops r waiting for the member, if it does.
func (m *SyncMember) settle(r *syncRound) {
	if m.awaitedBy == r {
		m.awaitedBy = nil
		r.waitFor--
	}
}

// Close ends the sync goroutine once the queued rounds are done; later
// calls of Sync fsync on their own.
func (g *SyncGroup) Close() {
	g.mu.Lock()
	g.stop = true
	g.cond.Signal()
	g.mu.Unlock()
	<-g.done
}

func (g *SyncGroup) loop() {
	defer close(g.done)
	g.mu.Lock()
	for {
		for g.next == nil && !g.stop {
			g.cond.Wait()
		}
		r := g.next
		if r == nil {
			g.mu.Unlock()
			return
		}
		g.gather(r)
		g.next = nil
		g.mu.Unlock()
		r.err = g.sync(r.files)
		close(r.done)
		g.mu.Lock()
	}
}

// gather waits, with g.mu held, until the members r awaits have joined it
// or have nothing outstanding, for at most gatherMax. What those that have
// not by then were announced is forgotten, so that a batch that never comes
// delays one round only.
func (g *SyncGroup) gather(r *syncRound) {
	if r.waitFor > 0 && !g.stop {
		timedOut := false
		t := time.AfterFunc(g.gatherMax, func() {
			g.mu.Lock()
			timedOut = true
			g.cond.Signal()
			g.mu.Unlock()
		})
		for r.waitFor > 0 && !g.stop && !timedOut {
			g.cond.Wait()
		}
		t.Stop()
	}
	for _, m := range r.awaited {
		if m.awaitedBy == r {
			m.settle(r)
			m.arrived = m.expected
			delete(g.outstanding, m)
		}
	}
}

// otherDirtyMax is how much more dirty page cache than a round wrote the
// system may hold for the round to sync the whole filesystem: about what
// the segment recycler dirties between its own syncs.
const otherDirtyMax = 16 << 20

// datasyncEach fdatasyncs every file, concurrently, and returns the first
// error.
func datasyncEach(files []syncFile) error {
	if len(files) == 1 {
		return datasync(files[0].f)
	}
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i := 1; i < len(files); i++ {
		wg.Go(func() { errs[i] = datasync(files[i].f) })
	}
	errs[0] = datasync(files[0].f)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
