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
// compacted when it has grown well past its live size.
//
// Files: logstore.go (the Store, Open, Close), replay.go (reading the log
// at Open), commit.go (batches and the flusher), failure.go (refusing and
// resuming writes after a failed one), format.go (the format), compact.go
// (compaction), and one file per API: invalidations.go, distributions.go
// (distributions and resources), events.go (the fleet's event log),
// registry.go (its edge registry).
package logstore

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfront/openfront/internal/eventlog"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/catalog"
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

// Store is a log-backed invalidation.Store, distribution.Store,
// resource.Store and eventlog.Store.
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
	// retention, now and stopExpire are set at Open, read-only after;
	// stopExpire is closed by Close to end expireLoop.
	retention  Retention
	now        func() time.Time
	stopExpire chan struct{}
	// catalogWaits counts the refusals waiting for a write in flight
	// (see catalogWrite); tests watch it.
	catalogWaits atomic.Int64

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
	forgotten uint64 // invalidations forgotten under the retention since Open
	end       int64  // size of the log after the last frame written

	// memState is what the log holds, in memory; after a failed write it is
	// read again from the log (see recoverFrom).
	memState
	// edgesEpoch and distsEpoch are the epochs of the last PutEdge or
	// DeleteEdge and of the last write to the catalog (distributions and
	// resources).
	edgesEpoch, distsEpoch uint64
}

// memState is the log's content in memory; guarded by Store.mu.
type memState struct {
	lastSeq    uint64 // last invalidation sequence number handed out (file-wide)
	lastPos    uint64 // last fleet event position handed out
	dists      map[string]*dist
	inProgress map[uint64]*rec  // InProgress invalidations by sequence number
	cat        *catalog.Catalog // API-created distributions and the resources
	events     []event          // the fleet's log, by position
	unsorted   bool             // events out of order (while replaying an image)
	keys       map[string]keyEntry
	edges      map[string][]byte
}

func newState() memState {
	return memState{
		dists:      map[string]*dist{},
		inProgress: map[uint64]*rec{},
		cat:        catalog.New(),
		keys:       map[string]keyEntry{},
		edges:      map[string][]byte{},
	}
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
		stopExpire:    make(chan struct{}),
		now:           time.Now,
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
	if s.retention != (Retention{}) {
		go s.expireLoop()
	}
	// The file read whole, and what the retention forgot while it was
	// read, are garbage now: give them back rather than keep the heap at
	// its peak (one collection, at start-up).
	debug.FreeOSMemory()
	return s, nil
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
		close(s.stopExpire)
		s.dirLock.Close()
	})
	return nil
}
