// Package logstore is the default durable Store of `openfront serve`: one
// append-only log file under the data directory, with everything indexed
// in memory.
//
// Every write is a small binary record appended to an in-memory batch; a
// single flusher goroutine writes the batch as one checksummed frame with
// one write and one fdatasync (group commit: whoever arrives while a frame
// is being synced goes into the next one; no acknowledged write waits for
// a timer), and only then are its writers answered. Completion records,
// which no request waits on, wait up to completeDelay for a frame that
// such a write makes anyway instead of each costing a frame (see
// Complete). Reads are served from memory and never show what is not yet
// on disk: each record carries the batch ("epoch") that
// wrote it, and a read either leaves out what a batch still in flight wrote
// or waits for that batch (a replay of a CallerReference whose create is
// in flight waits for it).
//
// At Open the log is replayed; a torn or corrupt tail (a crash during the
// last write) is cut off at the last intact frame, and the log is
// compacted when it has grown well past its live size. See format.go for
// the format and compact.go for compaction.
package logstore

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/eventlog"
	"github.com/openfront/openfront/internal/invalidation"
)

// FileName is the name of the log in the data directory.
const FileName = "openfront.log"

// ErrClosed is returned for writes after Close.
var ErrClosed = errors.New("store closed")

// EventFunc returns the fleet event to log in the same record as a newly
// created invalidation: its key and data exactly as the fleet's hub would
// append them (serve passes fleet.InvalidationEvent). The hub then finds
// the key logged and writes nothing. An empty key logs nothing.
type EventFunc = eventlog.EventFunc

// Option configures Open.
type Option func(*Store)

// WithInvalidationEvent makes Create log fn's event in the invalidation's
// own record, so that creating it and logging it for the fleet is one
// durable write instead of two.
func WithInvalidationEvent(fn EventFunc) Option {
	return func(s *Store) { s.eventOf = fn }
}

// WithLogger sets where recovery and compaction are reported
// (slog.Default() otherwise).
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) { s.log = l }
}

// WithCommitObserver makes the flusher call fn with the time each group
// commit took to write its frame and fdatasync it (not the wait before);
// fn must not block.
func WithCommitObserver(fn func(time.Duration)) Option {
	return func(s *Store) { s.observeCommit = fn }
}

// Store is a log-backed invalidation.Store, distribution.Store and
// eventlog.Store.
type Store struct {
	dir, path string
	dirLock   *os.File
	eventOf   EventFunc // set at Open, read-only after
	// observeCommit, set at Open, is WithCommitObserver's fn (nil: none).
	observeCommit func(time.Duration)
	log           *slog.Logger
	ids           invalidation.IDCodec // set at Open, read-only after
	idKey         [16]byte

	// compactMin is how much the log must have grown past the last
	// compacted image before it is compacted again (see compact.go).
	compactMin int64

	kick     chan struct{} // wakes the flusher; buffered 1
	lazyKick *time.Timer   // wakes the flusher when a batch of completions only is due
	// completeDelay is how long a completion record may wait for a frame
	// an acknowledged write makes (set at Open; tests change it).
	completeDelay time.Duration
	compacted     chan compactResult // a compaction's image is written; buffered 1
	flushed       chan struct{}      // closed when the flusher has exited
	once          sync.Once

	// f, size, alloc and snapSize are the flusher's (and Open's, before
	// it starts).
	f        *os.File
	size     int64 // bytes of the log: header and frames
	alloc    int64 // bytes of the file: the log, then zeros written ahead
	snapSize int64 // size of the log when last written whole (created, compacted)
	// compacting says a compaction is under way; compactFrom is where the
	// frames to copy after its image start in the current file.
	compacting  bool
	compactFrom int64
	// After a failed write: dirty is the end of what it may have left
	// after size (a part of a frame, in the page cache or on disk), and
	// dirSync says the directory still needs an fsync (a compaction's
	// rename). probe clears both before writes are accepted again.
	dirty   int64
	dirSync bool
	// fault, set by tests only, is asked before each write ("extend",
	// "frame", "probe") and fdatasync ("sync") of the log and fsync of
	// its directory after a compaction ("dirsync"); an error fails it (a
	// frame's write after writing half of it).
	fault atomic.Pointer[func(op string) error]

	mu        sync.Mutex
	closed    bool
	failed    error  // a write or sync failed: writes are refused until a probe succeeds
	broken    bool   // the log could not be read back after a failure: no more writes until restart
	durable   uint64 // last epoch on disk
	open      *batch // collecting writes; never nil
	flushing  *batch // being written, or nil
	spare     []byte // the buffer of the last batch written, for reuse
	lastStamp uint64 // epoch of the last write
	// lastWrite is when the last write to go at once was stamped, and gap
	// a moving average of the time between two such writes.
	lastWrite time.Time
	gap       time.Duration
	frames    uint64 // frames written since Open (commits)
	end       int64  // size of the log after the last frame written

	// memState is what the log holds, in memory; after a failed write it is
	// read again from the log (see recoverFrom).
	memState
	// edgesEpoch and distsEpoch are the epochs of the last SaveEdges and
	// of the last PutDistribution or DeleteDistribution.
	edgesEpoch, distsEpoch uint64
}

// memState is the log's content in memory; guarded by Store.mu.
type memState struct {
	lastSeq       uint64 // last invalidation sequence number handed out (file-wide)
	lastPos       uint64 // last fleet event position handed out
	dists         map[string]*dist
	inProgress    map[uint64]*rec   // InProgress invalidations by sequence number
	distributions map[string][]byte // JSON of API-created distributions, by Id
	events        []event           // the fleet's log, by position
	unsorted      bool              // events out of order (while replaying an image)
	keys          map[string]keyEntry
	edges         map[string][]byte
}

func newState() memState {
	return memState{
		dists:         map[string]*dist{},
		inProgress:    map[uint64]*rec{},
		distributions: map[string][]byte{},
		keys:          map[string]keyEntry{},
		edges:         map[string][]byte{},
	}
}

// batch is the writes of one group commit, in the order they were made.
type batch struct {
	epoch uint64
	buf   []byte // frame header (filled in at write) and records
	// kicked says it holds a write to write at once (one that answers a
	// request, or one a reader waits for); else its records, completions
	// only, are written at due or with the first such write.
	kicked bool
	// writes counts the writes stamped to go at once, and first is when
	// the first of them was: the flusher may hold the batch open a little
	// for more (see linger).
	writes int
	first  time.Time
	due    time.Time
	done   chan struct{} // closed once written and synced, or failed
	err    error         // set before done is closed
}

func (b *batch) wait() error {
	if b == nil {
		return nil
	}
	<-b.done
	return b.err
}

// dist is one distribution's invalidations.
type dist struct {
	id    string
	invs  []*rec          // by sequence number, oldest first
	byRef map[string]*rec // by CallerReference
	byID  map[string]*rec // Ids not derived from the sequence number
	usage invalidation.Usage
	count int // InProgress invalidations
	// resetEpoch is the epoch of the deletion that emptied it (0 if none).
	resetEpoch uint64
}

// rec is one invalidation.
type rec struct {
	seq           uint64
	dist          string
	id            string // "" when derived from seq
	ref           string
	paths         []string
	created       time.Time
	completed     time.Time
	done          bool
	createEpoch   uint64
	completeEpoch uint64
	eventPos      uint64 // position of its fleet event, logged with it under inv/<dist>/<id>; 0 if none
	// path1 is the array of paths when there is one, as for most
	// invalidations: one allocation (and one object for the GC to mark on
	// every cycle, every record being kept) less per record.
	path1 [1]string
}

type event struct {
	pos   uint64
	data  []byte
	epoch uint64
}

type keyEntry struct {
	pos, epoch uint64
}

// Open opens (creating if needed) the log in dir, recovering from a torn
// tail and compacting it if it has grown well past its live size.
func Open(dir string, opts ...Option) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w%s", err, spaceHint(err, filepath.Dir(dir)))
	}
	s := &Store{
		dir:           dir,
		path:          filepath.Join(dir, FileName),
		log:           slog.Default(),
		compactMin:    defaultCompactMin,
		completeDelay: defaultCompleteDelay,
		kick:          make(chan struct{}, 1),
		compacted:     make(chan compactResult, 1),
		flushed:       make(chan struct{}),
		memState:      newState(),
	}
	for _, o := range opts {
		o(s)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s.dirLock = lock
	if err := s.load(); err != nil {
		lock.Close()
		return nil, fmt.Errorf("open %s: %w%s", s.path, err, spaceHint(err, dir))
	}
	s.end = s.size
	s.open = s.newBatch(1)
	s.lazyKick = time.AfterFunc(time.Hour, s.kickFlusher)
	s.lazyKick.Stop()
	go s.flushLoop()
	return s, nil
}

// load reads the log into memory, or creates it.
func (s *Store) load() error {
	data, err := os.ReadFile(s.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	os.Remove(s.path + compactSuffix) // of a compaction a crash cut short
	if len(data) == 0 {
		if err == nil {
			s.log.Warn("log store: the log file is empty (never written to); starting a new log", "path", s.path)
		}
		if _, err := rand.Read(s.idKey[:]); err != nil {
			return err
		}
		s.ids = invalidation.NewIDCodec(s.idKey[:])
		return s.writeImage(nil)
	}
	if s.idKey, err = parseHeader(data); err != nil {
		return err
	}
	s.ids = invalidation.NewIDCodec(s.idKey[:])
	off := headerSize
	for off < len(data) {
		payload, next, ok := frameAt(data, off)
		if !ok {
			break
		}
		if err := s.replay(payload); err != nil {
			return fmt.Errorf("frame at offset %d: %w", off, err)
		}
		off = next
	}
	if off < len(data) && allZero(data[off:]) {
		// Space written ahead (see writeFrame), or a crash while it was
		// being written: nothing lost.
		s.alloc = int64(len(data))
		data = data[:off]
	} else if off < len(data) {
		// Only the last frame can be torn: each is written after the one
		// before it is synced. An intact frame further on means the damage
		// is not from a crash, and cutting there would drop acknowledged
		// writes.
		switch o, err := intactFrameAfter(data, off); {
		case err != nil:
			return fmt.Errorf("corrupt frame at offset %d, followed by %d bytes: %w; refusing to open (restore the file, or move it away to start empty)", off, len(data)-off, err)
		case o >= 0:
			return fmt.Errorf("corrupt frame at offset %d, followed by an intact frame at offset %d: not a torn write from a crash; refusing to open (restore the file, or move it away to start empty)", off, o)
		}
		s.log.Warn("log store: cut off a torn or corrupt tail (a crash during its last write)", "path", s.path, "offset", off, "bytes_dropped", len(data)-off)
		if err := os.Truncate(s.path, int64(off)); err != nil {
			return err
		}
		data = data[:off]
	}
	s.sortEvents()
	img := s.snapshot().image(s)
	s.size, s.snapSize = int64(len(data)), int64(headerSize+len(img))
	s.alloc = max(s.alloc, s.size)
	if s.shouldCompact() {
		before := s.size
		err := s.writeImage(img)
		if err == nil {
			s.log.Info("log store: compacted", "path", s.path, "bytes_before", before, "bytes_after", s.size)
			return nil
		}
		if s.f != nil {
			return fmt.Errorf("compacting: %w", err) // the new file is in place, its directory entry not synced
		}
		// The log is as it was: go on with it (on a disk too full for
		// the image, say) and compact later.
		s.log.Warn("log store: compaction at open failed; going on with the log as it is", "path", s.path, "err", err, "hint", spaceHint(err, s.dir))
		s.snapSize = s.size
	}
	if s.f, err = os.OpenFile(s.path, os.O_WRONLY, 0); err != nil {
		return err
	}
	// The cut, if any, must be on disk before anything follows it.
	return datasync(s.f)
}

func (s *Store) newBatch(epoch uint64) *batch {
	buf := s.spare
	s.spare = nil
	if buf == nil {
		buf = make([]byte, frameHeader, 4096)
	}
	return &batch{epoch: epoch, buf: buf[:frameHeader], done: make(chan struct{})}
}

// flushLoop is the single writer of the file: it writes each batch as one
// frame as soon as the previous one is synced, and starts and finishes
// compactions between frames.
func (s *Store) flushLoop() {
	defer close(s.flushed)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	// probe fires while writes are refused after a failure.
	probe := time.NewTimer(time.Hour)
	probe.Stop()
	for {
		select {
		case <-s.kick:
		case res := <-s.compacted:
			if s.finishCompaction(res) {
				probe.Reset(retryInterval)
			}
		case <-probe.C:
			if !s.probe() {
				probe.Reset(retryInterval)
			}
			continue
		}
		// Let the goroutines already runnable (requests about to write)
		// join this frame: no timer, only the work at hand.
		runtime.Gosched()
		s.mu.Lock()
		b := s.open
		if len(b.buf) == frameHeader {
			closed := s.closed
			s.mu.Unlock()
			if closed {
				s.lazyKick.Stop()
				probe.Stop()
				s.closeFile()
				return
			}
			continue
		}
		if !b.kicked && !s.closed && time.Now().Before(b.due) {
			// Completions only: they wait for a write that must go now,
			// or for s.lazyKick at b.due.
			s.mu.Unlock()
			continue
		}
		if wait := s.linger(b); wait > 0 {
			s.mu.Unlock()
			linger.Reset(wait)
			select {
			case <-s.kick: // lingerWrites reached, Close, or a reader waits
			case <-linger.C:
			}
			linger.Stop()
			s.mu.Lock()
		}
		s.open = s.newBatch(b.epoch + 1)
		s.flushing = b
		err := s.failed
		var sn *snapshot
		if err == nil && !s.compacting && s.shouldCompact() {
			// The image is of the state with b's writes, so the frames
			// after b's are what goes after it in the new file.
			sn = s.snapshot()
		}
		s.mu.Unlock()

		if err == nil {
			start := time.Now()
			err = s.writeFrame(b.buf)
			if err == nil && s.observeCommit != nil {
				s.observeCommit(time.Since(start))
			}
			if err != nil {
				// Whatever the write left after s.size is of unknown
				// state; probe overwrites it before the next frame.
				s.dirty = max(s.dirty, s.size+int64(len(b.buf)))
			}
		}
		if err != nil {
			// b's writes failed (or came before a failure between
			// frames: a compaction's directory fsync): undo them.
			err = s.recoverFrom(err, b)
			if !s.isBroken() {
				probe.Reset(retryInterval)
			}
		}
		if err == nil && sn != nil {
			s.compacting, s.compactFrom = true, s.size
			go s.compact(sn)
		}

		s.mu.Lock()
		if err == nil {
			s.durable = b.epoch
			s.frames++
			s.end = s.size
		}
		s.flushing = nil
		s.spare = b.buf
		// A batch of completions only is due by s.lazyKick.
		again := s.open.kicked || s.closed
		s.mu.Unlock()
		b.err = err
		close(b.done)
		if again {
			select {
			case s.kick <- struct{}{}:
			default:
			}
		}
	}
}

// retryInterval is how often, while writes are refused after a failed
// write, the flusher checks whether the log can be written again.
const retryInterval = time.Second

// probeAhead is how much room after the log a probe must be able to write
// (and sync) before writes are accepted again.
const probeAhead = 64 << 10

// fail refuses writes after err until a probe succeeds; s.mu is held.
func (s *Store) fail(err error) {
	if pe := (*os.PathError)(nil); errors.As(err, &pe) && filepath.Base(pe.Path) != filepath.Base(s.path) {
		// A file a compaction renamed keeps its first name in errors.
		err = &os.PathError{Op: pe.Op, Path: s.path, Err: pe.Err}
	}
	if s.failed == nil {
		s.failed = fmt.Errorf("log store: %w: %w%s", invalidation.ErrUnavailable, err, spaceHint(err, s.dir))
		s.log.Error("log store: write failed; refusing writes until the log can be written again", "path", s.path, "err", err, "retry_every", retryInterval)
	}
}

func (s *Store) isBroken() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.broken
}

// recoverFrom handles the failure err of writing b, in the flusher: writes
// are refused from now on (until probe succeeds), and what memory holds is
// put back to what the log holds, so that no write whose writer is told it
// failed is shown, counted (the in-progress usage) or written later. The
// writes of the open batch, made on top of b's, fail with it. It returns
// the error for b's writers.
//
// The log is read back up to s.size, the end of the last frame whose
// fdatasync succeeded: those bytes are on disk, and the page cache holds
// them as they are (a failed fdatasync may drop or mark clean only pages
// dirtied since, which is what probe writes again). Reading it is what
// Open does after a crash at this point: the same code, the same state.
// It costs as much as an Open, once per failure (writes are refused, with
// no work, until a probe succeeds).
func (s *Store) recoverFrom(err error, b *batch) error {
	s.mu.Lock()
	s.fail(err)
	err = s.failed
	s.mu.Unlock()

	t, rerr := s.readBack()

	s.mu.Lock()
	open := s.open
	s.open = s.newBatch(open.epoch + 1)
	if rerr != nil {
		s.broken = true
		s.failed = fmt.Errorf("%w; reading the log back failed: %w (no more writes until restart)", err, rerr)
		s.log.Error("log store: cannot read the log back after a failed write; refusing writes until restart", "path", s.path, "err", rerr)
	} else {
		s.memState = t
	}
	// Nothing in memory refers to b's or open's epochs any more.
	s.lastStamp, s.distsEpoch, s.edgesEpoch = s.durable, min(s.distsEpoch, s.durable), min(s.edgesEpoch, s.durable)
	s.lazyKick.Stop()
	s.mu.Unlock()
	open.err = err
	close(open.done)
	return err
}

// readBack reads the log's first s.size bytes into a new state.
func (s *Store) readBack() (memState, error) {
	f, err := os.Open(s.path)
	if err != nil {
		return memState{}, err
	}
	defer f.Close()
	data := make([]byte, s.size)
	if _, err := f.ReadAt(data, 0); err != nil {
		return memState{}, err
	}
	if _, err := parseHeader(data); err != nil {
		return memState{}, err
	}
	t := &Store{ids: s.ids, memState: newState()}
	for off := headerSize; off < len(data); {
		payload, next, ok := frameAt(data, off)
		if !ok {
			return memState{}, fmt.Errorf("the frame at offset %d, synced before, does not read back", off)
		}
		if err := t.replay(payload); err != nil {
			return memState{}, fmt.Errorf("frame at offset %d: %w", off, err)
		}
		off = next
	}
	t.sortEvents()
	return t.memState, nil
}

// probe checks, in the flusher, whether the log can be written again after
// a failure: it writes zeros over what the failed writes may have left
// after the log and probeAhead more, fdatasyncs (and fsyncs the directory
// if a compaction's rename still needs it), and accepts writes again if
// that worked. Overwriting, rather than trusting what the page cache
// holds there, is what makes the next fdatasync cover it: after a failed
// fdatasync, Linux may have marked those pages clean although they never
// reached the disk.
func (s *Store) probe() bool {
	s.mu.Lock()
	failed, broken := s.failed != nil, s.broken
	s.mu.Unlock()
	if !failed || broken {
		return true
	}
	err := func() error {
		if s.dirSync {
			if err := s.syncDir(); err != nil {
				return err
			}
			s.dirSync = false
		}
		end := max(s.dirty, s.size+probeAhead)
		for o := s.size; o < end; {
			n, err := s.writeAt("probe", zeros[:min(pageSize, end-o)], o)
			o += int64(n)
			s.alloc = max(s.alloc, o)
			if err != nil {
				return err
			}
		}
		return s.datasync()
	}()
	if err != nil {
		return false
	}
	s.dirty = 0
	s.mu.Lock()
	s.failed = nil
	s.mu.Unlock()
	s.log.Info("log store: the log can be written again; accepting writes", "path", s.path)
	return true
}

// closeFile finishes a compaction under way, trims the zeros written
// ahead and closes the file.
func (s *Store) closeFile() {
	if s.compacting {
		s.finishCompaction(<-s.compacted)
	}
	if s.f == nil {
		return
	}
	// Leave the file as long as the log (without what a failed write
	// left after it).
	if max(s.alloc, s.dirty) > s.size && s.f.Truncate(s.size) == nil {
		datasync(s.f)
	}
	s.f.Close()
}

// writeAhead is how much zeroed space writeFrame adds to the file at a
// time.
const writeAhead = 4 << 20

var zeros = make([]byte, 256<<10)

// aheadFor is how many zeros to write ahead in f's filesystem: writeAhead,
// or a quarter of the space free when that is less.
func aheadFor(f *os.File) int64 {
	free, ok := freeSpace(f)
	if !ok || free/4 >= writeAhead {
		return writeAhead
	}
	if free/4 < pageSize {
		return 0
	}
	return free / 4
}

// pageSize is how much of zeros writeFrame writes at a time.
var pageSize = int64(min(os.Getpagesize(), len(zeros)))

// writeFrame appends buf (a frame header and records) and syncs it.
//
// The frame overwrites zeros written ahead rather than growing the file:
// fdatasync of a write that changes the file's size must also write the
// inode (and, on a journaling filesystem, commit the journal). On this
// project's machine (ext4), 1.2 KiB writes + fdatasync took 0.13–8 ms and
// 60–80µs of CPU each appending, against 0.09–0.43 ms and 50–54µs
// overwriting. Once per writeAhead bytes the file is extended with zeros,
// which the next frame's fdatasync makes durable with it. Recovery reads
// zeros after the last frame as the end of the log.
//
// The zeros are written a page at a time: the page cache keeps what one
// write brings in as one folio (up to 256 KiB here, Linux 6.18 ext4), and
// writeback writes a dirty folio whole, so zeros written 256 KiB at a time
// had every frame's fdatasync write 256 KiB (≈ 25–50 KiB per request
// under make bench) instead of the page or two the frame touches.
//
// Space is short when the filesystem has less than 4 × writeAhead free:
// then the zeros written ahead are a quarter of what is free (none once
// that is less than a page), and running out of space while writing them
// only fails the frame if the frame itself does not fit.
func (s *Store) writeFrame(buf []byte) error {
	sealFrame(buf)
	if need := s.size + int64(len(buf)); need > s.alloc {
		to := need + aheadFor(s.f)
		for s.alloc < to {
			n, err := s.writeAt("extend", zeros[:min(pageSize, to-s.alloc)], s.alloc)
			s.alloc += int64(n)
			if err != nil {
				if s.alloc >= need {
					break
				}
				return err
			}
		}
	}
	if _, err := s.writeAt("frame", buf, s.size); err != nil {
		return err
	}
	if err := s.datasync(); err != nil {
		return err
	}
	s.size += int64(len(buf))
	return nil
}

// writeAt writes b at off in the log (see fault).
func (s *Store) writeAt(op string, b []byte, off int64) (int, error) {
	if f := s.fault.Load(); f != nil {
		if err := (*f)(op); err != nil {
			n, _ := s.f.WriteAt(b[:len(b)/2], off)
			return n, err
		}
	}
	return s.f.WriteAt(b, off)
}

// syncDir fsyncs the data directory (see fault: "dirsync").
func (s *Store) syncDir() error {
	if f := s.fault.Load(); f != nil {
		if err := (*f)("dirsync"); err != nil {
			return err
		}
	}
	return syncDir(s.dir)
}

// datasync fdatasyncs the log (see fault).
func (s *Store) datasync() error {
	if f := s.fault.Load(); f != nil {
		if err := (*f)("sync"); err != nil {
			return err
		}
	}
	return datasync(s.f)
}

func allZero(b []byte) bool {
	for len(b) > 0 {
		n := min(len(b), len(zeros))
		if !bytes.Equal(b[:n], zeros[:n]) {
			return false
		}
		b = b[n:]
	}
	return true
}

// writable is nil if writes are accepted; s.mu is held.
func (s *Store) writable() error {
	if s.closed {
		return ErrClosed
	}
	return s.failed
}

// stamp notes that the open batch holds a write to write at once; s.mu
// is held.
func (s *Store) stamp() *batch {
	b := s.open
	s.lastStamp = b.epoch
	now := time.Now()
	s.gap += (min(now.Sub(s.lastWrite), maxGap) - s.gap) / 8
	s.lastWrite = now
	b.writes++
	if b.writes == 1 {
		b.first = now
	}
	if b.writes == lingerWrites {
		s.kickFlusher() // the flusher may be lingering for this one
	}
	s.urge(b)
	return b
}

// Group commit holds a frame open up to lingerMax after its first write
// for more writes, until it has lingerWrites, when writes arrive at least
// twice per lingerMax on average (a moving average of the gap between
// them): under concurrent load, one fdatasync then serves about half as
// many requests again (make bench at concurrency 16: 3.6–4.0 → 5.4–6.9 per
// frame, server CPU per request about 5% lower; docs/benchmarks.md), while
// a lone writer (one client, or a few far apart) never waits. A frame whose first write arrived
// while the previous frame was being synced has waited that long already.
const (
	lingerMax    = 300 * time.Microsecond
	lingerWrites = 8
	maxGap       = 10 * time.Millisecond // caps an idle pause's weight in gap
)

// linger reports how long the flusher should hold b open for more writes;
// s.mu is held.
func (s *Store) linger(b *batch) time.Duration {
	if s.closed || b.writes == 0 || b.writes >= lingerWrites || s.gap > lingerMax/2 {
		return 0
	}
	return lingerMax - time.Since(b.first)
}

// urge makes the flusher write b at once if it is the open batch; s.mu
// is held.
func (s *Store) urge(b *batch) {
	if b != nil && !b.kicked {
		b.kicked = true
		s.kickFlusher()
	}
}

func (s *Store) kickFlusher() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// defaultCompleteDelay bounds how long a completion record waits for a
// frame that an acknowledged write makes anyway.
const defaultCompleteDelay = time.Millisecond

// stampLazy notes that the open batch holds a completion record, which
// may wait: the batch is written with the next write stamped, or when a
// reader waits for it (barrier), or at the latest completeDelay after its
// first completion; s.mu is held.
func (s *Store) stampLazy() *batch {
	b := s.open
	s.lastStamp = b.epoch
	if !b.kicked && b.due.IsZero() {
		b.due = time.Now().Add(s.completeDelay)
		// The open batch changes only once the flusher takes it, so the
		// timer is never still due for an earlier batch.
		s.lazyKick.Reset(s.completeDelay)
	}
	return b
}

// batchOf returns the batch of epoch e if it is not on disk yet, else nil;
// s.mu is held.
func (s *Store) batchOf(e uint64) *batch {
	switch {
	case e <= s.durable:
		return nil
	case s.open.epoch == e:
		return s.open
	case s.flushing != nil && s.flushing.epoch == e:
		return s.flushing
	}
	// Only a failed batch is neither on disk nor in flight.
	b := &batch{done: make(chan struct{}), err: s.failed}
	if b.err == nil {
		b.err = errors.New("log store: batch lost")
	}
	close(b.done)
	return b
}

// lockWhenDurable locks s.mu once the write of epoch *e (read under
// s.mu, as the writes that set it change it) is on disk; on error s.mu is
// not held. For state written rarely (distributions, the edge registry):
// a reader waits for each new write made while it waits.
func (s *Store) lockWhenDurable(e *uint64) error {
	s.mu.Lock()
	for {
		b := s.batchOf(*e)
		if b == nil {
			return nil
		}
		s.mu.Unlock()
		if err := b.wait(); err != nil {
			return err
		}
		s.mu.Lock()
	}
}

// barrier waits until every write made before it is on disk; completions
// waiting for a frame are written at once.
func (s *Store) barrier() error {
	s.mu.Lock()
	b := s.batchOf(s.lastStamp)
	if b == s.open {
		s.urge(b)
	}
	s.mu.Unlock()
	return b.wait()
}

func (s *Store) distFor(id string) *dist {
	d := s.dists[id]
	if d == nil {
		d = &dist{id: id, byRef: map[string]*rec{}}
		s.dists[id] = d
	}
	return d
}

func (s *Store) idOf(r *rec) string {
	if r.id != "" {
		return r.id
	}
	return s.ids.Encode(r.seq)
}

// bySeq returns the invalidation numbered n of d, or nil.
func (d *dist) bySeq(n uint64) (*rec, int) {
	i, ok := slices.BinarySearchFunc(d.invs, n, func(r *rec, n uint64) int { return cmp.Compare(r.seq, n) })
	if !ok {
		return nil, -1
	}
	return d.invs[i], i
}

// find returns d's invalidation with Id id, or nil.
func (s *Store) find(d *dist, id string) *rec {
	if d == nil {
		return nil
	}
	if n, ok := s.ids.Decode(id); ok {
		if r, _ := d.bySeq(n); r != nil && r.id == "" {
			return r
		}
	}
	return d.byID[id]
}

// view returns r as readers may see it: completed only once that is on disk.
func (s *Store) view(r *rec) invalidation.Invalidation {
	inv := invalidation.Invalidation{
		DistributionID: r.dist,
		ID:             s.idOf(r),
		Status:         invalidation.InProgress,
		CreateTime:     r.created,
		Batch:          invalidation.Batch{CallerReference: r.ref, Paths: slices.Clone(r.paths)},
	}
	if r.done && r.completeEpoch <= s.durable {
		inv.Status, inv.CompleteTime = invalidation.Completed, r.completed
	}
	return inv
}

// lookup finds invalidation id of distID for a read. If the answer
// depends on a write not yet on disk, it returns that write's batch to
// wait for before asking again.
func (s *Store) lookup(distID, id string) (*dist, *rec, *batch) {
	d := s.dists[distID]
	r := s.find(d, id)
	switch {
	case r != nil:
		return d, r, s.batchOf(r.createEpoch)
	case d != nil:
		return d, nil, s.batchOf(d.resetEpoch)
	}
	return nil, nil, nil
}

// Create implements invalidation.Store. An empty inv.ID gets the Id of the
// invalidation's sequence number.
func (s *Store) Create(ctx context.Context, inv invalidation.Invalidation, admit func(invalidation.Usage) error) (invalidation.Invalidation, bool, error) {
	s.mu.Lock()
	var d *dist
	for {
		if err := s.writable(); err != nil {
			s.mu.Unlock()
			return invalidation.Invalidation{}, false, err
		}
		d = s.distFor(inv.DistributionID)
		b := s.batchOf(d.resetEpoch)
		r := d.byRef[inv.Batch.CallerReference]
		if r != nil {
			b = s.batchOf(r.createEpoch)
		}
		if b == nil {
			if r != nil {
				got := s.view(r)
				s.mu.Unlock()
				return got, false, nil
			}
			break
		}
		// The answer depends on a write in flight: it must be on disk
		// before it is returned (or relied on).
		s.mu.Unlock()
		if err := b.wait(); err != nil {
			return invalidation.Invalidation{}, false, err
		}
		s.mu.Lock()
	}
	if inv.ID != "" && s.find(d, inv.ID) != nil {
		s.mu.Unlock()
		return invalidation.Invalidation{}, false, fmt.Errorf("invalidation id %s already used", inv.ID)
	}
	if err := admit(d.usage); err != nil {
		s.mu.Unlock()
		return invalidation.Invalidation{}, false, err
	}
	r := &rec{dist: d.id, id: inv.ID, ref: inv.Batch.CallerReference, created: inv.CreateTime}
	r.setPaths(inv.Batch.Paths)
	for {
		s.lastSeq++
		r.seq = s.lastSeq
		// A derived Id equal to an Id given by a caller is skipped.
		if inv.ID != "" || len(d.byID) == 0 || d.byID[s.ids.Encode(r.seq)] == nil {
			break
		}
	}
	b := s.stamp()
	r.createEpoch = b.epoch
	if inv.Status == invalidation.Completed {
		r.done, r.completed, r.completeEpoch = true, inv.CompleteTime, b.epoch
	}
	got := inv // its Paths the caller's own: r keeps a copy
	got.ID = s.idOf(r)
	var key string
	var data []byte
	if s.eventOf != nil {
		key, data = s.eventOf(got)
	}
	derived := false
	if key != "" {
		derived = isInvEventKey(key, r.dist, got.ID)
		var known bool
		if derived {
			// What lookupEvent would find: r is not indexed yet and its
			// Id is new in d, so only a key kept in s.keys (of a deleted
			// distribution's invalidation) can be there.
			_, known = s.keys[key]
		} else {
			_, _, known = s.lookupEvent(key)
		}
		if known {
			key = "" // cannot happen for a new Id, but appends stay idempotent
		}
	}
	var ev evRef
	if key != "" {
		s.lastPos++
		s.events = append(s.events, event{pos: s.lastPos, data: data, epoch: b.epoch})
		ev = evRef{ok: true, pos: s.lastPos, data: data}
		if derived {
			r.eventPos = s.lastPos
		} else {
			s.keys[key] = keyEntry{s.lastPos, b.epoch}
			ev.key = key
		}
	}
	b.buf = s.appendCreate(b.buf, r, r.done, r.completed, ev)
	s.insert(d, r)
	s.mu.Unlock()
	if err := b.wait(); err != nil {
		return invalidation.Invalidation{}, false, err
	}
	return got, true, nil
}

// evRef is the fleet event logged with an invalidation, for its record.
type evRef struct {
	ok      bool // there is one
	pos     uint64
	key     string // "" when it is the derived inv/<dist>/<id>
	data    []byte
	trimmed bool // data trimmed away: position (and key) only
}

// appendCreate encodes r's create record, completed at completed if done.
func (s *Store) appendCreate(buf []byte, r *rec, done bool, completed time.Time, ev evRef) []byte {
	var flags byte
	if r.id != "" {
		flags |= flagOwnID
	}
	if done {
		flags |= flagCompleted
	}
	if ev.ok {
		flags |= flagEvent
		if ev.key != "" {
			flags |= flagEventKey
		}
		if ev.trimmed {
			flags |= flagEventNoData
		}
	}
	buf = append(buf, recCreate)
	buf = binary.AppendUvarint(buf, r.seq)
	buf = append(buf, flags)
	buf = appendString(buf, r.dist)
	if r.id != "" {
		buf = appendString(buf, r.id)
	}
	buf = appendString(buf, r.ref)
	buf = appendTime(buf, r.created)
	buf = binary.AppendUvarint(buf, uint64(len(r.paths)))
	for _, p := range r.paths {
		buf = appendString(buf, p)
	}
	if done {
		buf = appendTime(buf, completed)
	}
	if ev.ok {
		buf = binary.AppendUvarint(buf, ev.pos)
		if ev.key != "" {
			buf = appendString(buf, ev.key)
		}
		if !ev.trimmed {
			buf = appendBytes(buf, ev.data)
		}
	}
	return buf
}

// setPaths makes r's paths a copy of ps (in r itself when there is one).
func (r *rec) setPaths(ps []string) {
	if len(ps) == 1 {
		r.path1[0] = ps[0]
		r.paths = r.path1[:]
		return
	}
	r.paths = slices.Clone(ps)
}

// insert adds r, the newest invalidation of d.
func (s *Store) insert(d *dist, r *rec) {
	d.invs = append(d.invs, r)
	d.byRef[r.ref] = r
	if r.id != "" {
		if d.byID == nil {
			d.byID = map[string]*rec{}
		}
		d.byID[r.id] = r
	}
	if !r.done {
		s.inProgress[r.seq] = r
		d.usage = d.usage.Add(invalidation.Batch{Paths: r.paths}.Usage())
		d.count++
	}
}

// complete marks r completed at t.
func (s *Store) complete(r *rec, t time.Time, epoch uint64) {
	r.done, r.completed, r.completeEpoch = true, t.UTC(), epoch
	delete(s.inProgress, r.seq)
	if d := s.dists[r.dist]; d != nil {
		d.usage = d.usage.Sub(invalidation.Batch{Paths: r.paths}.Usage())
		d.count--
	}
}

// invEventKey is the key under which the fleet logs an invalidation.
func invEventKey(distID, id string) string { return eventlog.InvalidationKey(distID, id) }

// isInvEventKey reports whether key == invEventKey(distID, id), without
// building the latter (Create asks for every new invalidation).
func isInvEventKey(key, distID, id string) bool {
	d, i, ok := eventlog.ParseInvalidationKey(key)
	return ok && d == distID && i == id
}

// Get implements invalidation.Store.
func (s *Store) Get(ctx context.Context, distributionID, id string) (invalidation.Invalidation, error) {
	s.mu.Lock()
	for {
		_, r, b := s.lookup(distributionID, id)
		if b == nil {
			if r == nil {
				s.mu.Unlock()
				return invalidation.Invalidation{}, invalidation.ErrNotFound
			}
			inv := s.view(r)
			s.mu.Unlock()
			return inv, nil
		}
		s.mu.Unlock()
		if err := b.wait(); err != nil {
			return invalidation.Invalidation{}, err
		}
		s.mu.Lock()
	}
}

// List implements invalidation.Store. Invalidations whose create is not on
// disk yet are left out (they are the newest).
func (s *Store) List(ctx context.Context, distributionID, marker string, limit int) ([]invalidation.Invalidation, bool, error) {
	s.mu.Lock()
	var d *dist
	for {
		d = s.dists[distributionID]
		var b *batch
		if d != nil {
			b = s.batchOf(d.resetEpoch)
		}
		if b == nil {
			break
		}
		s.mu.Unlock()
		if err := b.wait(); err != nil {
			return nil, false, err
		}
		s.mu.Lock()
	}
	defer s.mu.Unlock()
	var n int
	if d != nil {
		n = len(d.invs)
		for n > 0 && d.invs[n-1].createEpoch > s.durable {
			n--
		}
	}
	start := n - 1
	if marker != "" {
		r := s.find(d, marker)
		if r == nil || r.createEpoch > s.durable {
			return nil, false, invalidation.ErrMarkerNotFound
		}
		_, start = d.bySeq(r.seq)
		start--
	}
	var page []invalidation.Invalidation
	for i := start; i >= 0 && len(page) < limit; i-- {
		page = append(page, s.view(d.invs[i]))
	}
	return page, start-len(page) >= 0, nil
}

// Complete implements invalidation.Store.
func (s *Store) Complete(ctx context.Context, distributionID, id string, at time.Time) error {
	s.mu.Lock()
	for {
		b, again, err := s.completeLocked(distributionID, id, at)
		s.mu.Unlock()
		if err != nil {
			return err
		}
		if err := b.wait(); err != nil || !again {
			return err
		}
		s.mu.Lock()
	}
}

// CompleteAll implements invalidation.Store: the completion records go
// into the open batch together, under one hold of s.mu, and are on disk
// with it (one frame for all of them).
func (s *Store) CompleteAll(ctx context.Context, items []invalidation.CompleteItem) []error {
	errs := make([]error, len(items))
	waits := make([]*batch, len(items))
	s.mu.Lock()
	for i, it := range items {
		for {
			b, again, err := s.completeLocked(it.DistributionID, it.ID, it.At)
			if err != nil || !again {
				waits[i], errs[i] = b, err
				break
			}
			s.mu.Unlock()
			err = b.wait()
			s.mu.Lock()
			if err != nil {
				errs[i] = err
				break
			}
		}
	}
	s.mu.Unlock()
	for i, b := range waits {
		if errs[i] == nil {
			errs[i] = b.wait()
		}
	}
	return errs
}

// completeLocked marks invalidation id of distributionID completed at at;
// s.mu is held. It returns the batch that writes the completion (or wrote
// an earlier one: completing is a no-op then) to wait for, nil when that
// is on disk already; with again, the invalidation's create or its
// distribution's deletion is still in flight: wait for b, then ask again.
func (s *Store) completeLocked(distributionID, id string, at time.Time) (b *batch, again bool, err error) {
	if err := s.writable(); err != nil {
		return nil, false, err
	}
	_, r, b := s.lookup(distributionID, id)
	if b != nil {
		return b, true, nil
	}
	if r == nil {
		return nil, false, invalidation.ErrNotFound
	}
	if r.done {
		// Completed already, perhaps by a write still in flight.
		return s.batchOf(r.completeEpoch), false, nil
	}
	// Nobody is answered on a completion (the service completes in the
	// background), so it waits for a frame that a create makes anyway
	// rather than costing a frame (an fdatasync) of its own: see
	// stampLazy. Reads show it Completed only once it is on disk (view).
	b = s.stampLazy()
	s.complete(r, at, b.epoch)
	b.buf = append(b.buf, recComplete)
	b.buf = binary.AppendUvarint(b.buf, r.seq)
	b.buf = appendTime(b.buf, r.completed)
	return b, false, nil
}

// CountInProgress implements invalidation.Store.
func (s *Store) CountInProgress(ctx context.Context, distributionID string) (int, error) {
	if err := s.barrier(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.dists[distributionID]; d != nil {
		return d.count, nil
	}
	return 0, nil
}

// InProgress implements invalidation.Store.
func (s *Store) InProgress(ctx context.Context) ([]invalidation.Invalidation, error) {
	if err := s.barrier(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	var rs []*rec
	for _, r := range s.inProgress {
		if r.createEpoch <= s.durable {
			rs = append(rs, r)
		}
	}
	slices.SortFunc(rs, func(a, b *rec) int {
		if c := a.created.Compare(b.created); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	out := make([]invalidation.Invalidation, len(rs))
	for i, r := range rs {
		out[i] = s.view(r)
	}
	s.mu.Unlock()
	return out, nil
}

// PutDistribution implements distribution.Store.
func (s *Store) PutDistribution(ctx context.Context, d distribution.Distribution) error {
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if err := s.writable(); err != nil {
		s.mu.Unlock()
		return err
	}
	s.distributions[d.ID] = data
	b := s.stamp()
	s.distsEpoch = b.epoch
	b.buf = append(b.buf, recPutDist)
	b.buf = appendString(b.buf, d.ID)
	b.buf = appendBytes(b.buf, data)
	s.mu.Unlock()
	return b.wait()
}

// DeleteDistribution implements distribution.Store: the distribution and
// all its invalidations go in one record. Sequence numbers are not reused,
// so a distribution created again under the same Id never gets an Id (or
// fleet event key) of the deleted one's invalidations; the keys of their
// fleet events stay known, so they are never appended again.
func (s *Store) DeleteDistribution(ctx context.Context, id string) error {
	s.mu.Lock()
	if err := s.writable(); err != nil {
		s.mu.Unlock()
		return err
	}
	b := s.stamp()
	s.distsEpoch = b.epoch
	s.deleteDist(id, b.epoch)
	b.buf = append(b.buf, recDelDist)
	b.buf = appendString(b.buf, id)
	s.mu.Unlock()
	return b.wait()
}

func (s *Store) deleteDist(id string, epoch uint64) {
	delete(s.distributions, id)
	if old := s.dists[id]; old != nil {
		for _, r := range old.invs {
			if !r.done {
				delete(s.inProgress, r.seq)
			}
			if r.eventPos != 0 {
				s.keys[invEventKey(id, s.idOf(r))] = keyEntry{r.eventPos, r.createEpoch}
			}
		}
	}
	s.dists[id] = &dist{id: id, byRef: map[string]*rec{}, resetEpoch: epoch}
}

// Distributions implements distribution.Store.
func (s *Store) Distributions(ctx context.Context) ([]distribution.Distribution, error) {
	if err := s.barrier(); err != nil {
		return nil, err
	}
	// A write made since the barrier must be on disk before it is shown.
	if err := s.lockWhenDurable(&s.distsEpoch); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []distribution.Distribution
	for _, id := range slices.Sorted(maps.Keys(s.distributions)) {
		var d distribution.Distribution
		if err := json.Unmarshal(s.distributions[id], &d); err != nil {
			return nil, fmt.Errorf("distribution %s: %w", id, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// lookupEvent returns the position of the event logged under key and the
// epoch that logged it; s.mu is held.
func (s *Store) lookupEvent(key string) (pos, epoch uint64, ok bool) {
	if distID, id, ok := eventlog.ParseInvalidationKey(key); ok {
		if r := s.find(s.dists[distID], id); r != nil && r.eventPos != 0 {
			return r.eventPos, r.createEpoch, true
		}
	}
	if k, ok := s.keys[key]; ok {
		return k.pos, k.epoch, true
	}
	return 0, 0, false
}

// AppendEvent implements eventlog.Store. A key already logged (the event of an
// invalidation, logged by its Create) is found in memory, without a write.
func (s *Store) AppendEvent(ctx context.Context, key string, data []byte) (uint64, error) {
	s.mu.Lock()
	if pos, e, ok := s.lookupEvent(key); ok {
		b := s.batchOf(e)
		s.mu.Unlock()
		return pos, b.wait()
	}
	if err := s.writable(); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	b := s.stamp()
	s.lastPos++
	pos := s.lastPos
	s.events = append(s.events, event{pos: pos, data: slices.Clone(data), epoch: b.epoch})
	s.keys[key] = keyEntry{pos, b.epoch}
	b.buf = appendEventRec(b.buf, pos, key, data)
	s.mu.Unlock()
	return pos, b.wait()
}

// InvalidationEvents implements eventlog.InvalidationLog: the events Create
// logged with the invalidations (WithInvalidationEvent), found in memory
// under one hold of s.mu, so that the hub neither encodes them again nor
// looks each up with AppendEvent. An invalidation without one (none
// logged, its distribution deleted, its event trimmed) is left zero.
func (s *Store) InvalidationEvents(ctx context.Context, invs []invalidation.Invalidation, evs []eventlog.StoredEvent) error {
	var waits []*batch // writes of the events returned not yet on disk
	s.mu.Lock()
	for i := range invs {
		r := s.find(s.dists[invs[i].DistributionID], invs[i].ID)
		if r == nil || r.eventPos == 0 {
			continue
		}
		j := s.eventIndex(r.eventPos)
		if j == len(s.events) || s.events[j].pos != r.eventPos {
			continue // trimmed
		}
		evs[i] = eventlog.StoredEvent{Pos: r.eventPos, Data: s.events[j].data}
		if b := s.batchOf(r.createEpoch); b != nil && !slices.Contains(waits, b) {
			waits = append(waits, b)
		}
	}
	s.mu.Unlock()
	for _, b := range waits {
		if err := b.wait(); err != nil {
			return err
		}
	}
	return nil
}

func appendEventRec(buf []byte, pos uint64, key string, data []byte) []byte {
	buf = append(buf, recEvent)
	buf = binary.AppendUvarint(buf, pos)
	buf = appendString(buf, key)
	return appendBytes(buf, data)
}

// eventIndex returns the index in s.events of the first event at or after pos.
func (s *Store) eventIndex(pos uint64) int { return eventIndex(s.events, pos) }

// eventIndex returns the index of the event at pos in events (in position
// order), or where it would go.
func eventIndex(events []event, pos uint64) int {
	// Positions are mostly consecutive: try the offset first.
	if len(events) > 0 && pos >= events[0].pos {
		if j := pos - events[0].pos; j < uint64(len(events)) && events[j].pos == pos {
			return int(j)
		}
	}
	i, _ := slices.BinarySearchFunc(events, pos, func(e event, p uint64) int { return cmp.Compare(e.pos, p) })
	return i
}

// EventsAfter implements eventlog.Store. Events not on disk yet are left out
// (they are the last ones).
func (s *Store) EventsAfter(ctx context.Context, after uint64, limit int) ([]eventlog.StoredEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []eventlog.StoredEvent
	for i := s.eventIndex(after + 1); i < len(s.events) && len(out) < limit && s.events[i].epoch <= s.durable; i++ {
		out = append(out, eventlog.StoredEvent{Pos: s.events[i].pos, Data: slices.Clone(s.events[i].data)})
	}
	return out, nil
}

// LogBounds implements eventlog.Store.
func (s *Store) LogBounds(ctx context.Context) (first, last uint64, err error) {
	if err := s.barrier(); err != nil {
		return 0, 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.events)
	for n > 0 && s.events[n-1].epoch > s.durable {
		n--
	}
	switch {
	case n > 0:
		return s.events[0].pos, s.events[n-1].pos, nil
	case len(s.events) > 0:
		return s.events[0].pos, s.events[0].pos - 1, nil
	}
	return s.lastPos + 1, s.lastPos, nil
}

// TrimEvents implements eventlog.Store. Keys of trimmed events stay, so a
// trimmed event is never appended again.
func (s *Store) TrimEvents(ctx context.Context, before uint64) error {
	s.mu.Lock()
	if err := s.writable(); err != nil {
		s.mu.Unlock()
		return err
	}
	if len(s.events) == 0 || s.events[0].pos >= before {
		s.mu.Unlock()
		return nil
	}
	b := s.stamp()
	s.trim(before)
	b.buf = append(b.buf, recTrim)
	b.buf = binary.AppendUvarint(b.buf, before)
	s.mu.Unlock()
	return b.wait()
}

func (s *Store) trim(before uint64) {
	// The trimmed events are not cleared: an image being encoded may
	// still read them (see snapshot). The array goes once appends outgrow it.
	s.events = s.events[s.eventIndex(before):]
}

// SaveEdges implements eventlog.Store.
func (s *Store) SaveEdges(ctx context.Context, edges map[string][]byte) error {
	s.mu.Lock()
	if err := s.writable(); err != nil {
		s.mu.Unlock()
		return err
	}
	s.edges = map[string][]byte{}
	for name, data := range edges {
		s.edges[name] = slices.Clone(data)
	}
	b := s.stamp()
	s.edgesEpoch = b.epoch
	b.buf = appendEdges(b.buf, s.edges)
	s.mu.Unlock()
	return b.wait()
}

func appendEdges(buf []byte, edges map[string][]byte) []byte {
	buf = append(buf, recEdges)
	buf = binary.AppendUvarint(buf, uint64(len(edges)))
	for _, name := range slices.Sorted(maps.Keys(edges)) {
		buf = appendString(buf, name)
		buf = appendBytes(buf, edges[name])
	}
	return buf
}

// Edges implements eventlog.Store.
func (s *Store) Edges(ctx context.Context) (map[string][]byte, error) {
	if err := s.barrier(); err != nil {
		return nil, err
	}
	// A write made since the barrier must be on disk before it is shown.
	if err := s.lockWhenDurable(&s.edgesEpoch); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make(map[string][]byte, len(s.edges))
	for name, data := range s.edges {
		out[name] = slices.Clone(data)
	}
	return out, nil
}

// Commits returns how many frames (group commits) were written since Open.
func (s *Store) Commits() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frames
}

// Close waits for writes under way, then closes the file.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		select {
		case s.kick <- struct{}{}:
		default:
		}
		<-s.flushed
		s.dirLock.Close()
	})
	return nil
}
