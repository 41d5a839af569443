package logstore

import (
	"errors"
	"os"
	"runtime"
	"time"
)

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
// inode (and, on a journaling filesystem, commit the journal), which
// costs more time and CPU than an overwrite. Once per writeAhead bytes the
// file is extended with zeros, which the next frame's fdatasync makes
// durable with it. Recovery reads zeros after the last frame as the end of
// the log.
//
// The zeros are written a page at a time: the page cache may keep what one
// write brings in as one large folio, and writeback writes a dirty folio
// whole, so zeros written in larger pieces would have every frame's
// fdatasync write the whole folio instead of the page or two the frame
// touches (docs/architecture.md, "Storage: an append-only log").
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
// them): under concurrent load, one fdatasync then serves more requests,
// while a lone writer (one client, or a few far apart) never waits. A
// frame whose first write arrived while the previous frame was being
// synced has waited that long already (docs/architecture.md, "Storage:
// an append-only log").
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
