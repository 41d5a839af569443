package logstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/openfront/openfront/internal/invalidation"
)

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
		s.expireLocked() // as Open would
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
