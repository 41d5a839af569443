package logstore

import (
	"encoding/binary"
	"io"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/openfront/openfront/internal/store/catalog"
)

// Compaction rewrites the log as its live state only: one create record
// per invalidation with its completion folded in, the distributions and
// resources, the
// edge registry, the retained fleet events (with their keys; those of
// invalidations the retention forgot without) and the keys of trimmed ones,
// and the counters (so sequence numbers and event positions are never
// handed out again). Deleted distributions, trimmed events' data and
// superseded or deleted edge entries are dropped. The new file is fsynced and
// renamed over the log, and the directory fsynced: a crash at any point
// leaves either the old log or the new one, whole.
//
// When: once the log is more than twice the size of the last image
// written (at creation, at Open, or by the last compaction) AND has grown
// by at least compactMin (64 MiB by default) since. Growth that is live
// state raises the next threshold with it, so each byte is rewritten a
// bounded number of times. The check is made at Open (which compacts
// before serving) and by the flusher before each group commit.
//
// Online, writers are not held up by it. The flusher copies a snapshot of
// the state under the store's lock (the in-progress set, the key map and
// slice headers: records are not copied, since only their completion
// changes and the snapshot says which were InProgress), writes the frame
// in hand to the old file as usual and goes on with group commits. A
// goroutine encodes the snapshot and writes it to openfront.log.compact
// with an fsync. Between two frames the flusher then appends to it the
// frames written to the old log since the snapshot, fdatasyncs, renames it
// over the log and fsyncs the directory: only that tail copy (what arrived
// while the image was written) holds up a group commit.
const defaultCompactMin = 64 << 20

// imageFrame is the payload size at which an image starts a new frame.
const imageFrame = 1 << 20

// compactFile is where an image is written before it replaces the log.
const compactSuffix = ".compact"

func (s *Store) shouldCompact() bool {
	return s.size > 2*s.snapSize && s.size-s.snapSize >= s.compactMin
}

// snapshot is the state at one point, for an image encoded without the
// store's lock: what may change afterwards is copied, what does not
// (records but for their completion, event data, distribution JSON and
// resources, an edge's entry) is shared.
type snapshot struct {
	lastSeq, lastPos uint64
	cat              catalog.Snapshot
	edges            map[string][]byte
	keys             map[string]keyEntry
	dists            []distSnapshot // by Id
	inProgress       map[uint64]bool
	events           []event
}

type distSnapshot struct {
	id   string
	invs []*rec
}

// snapshot takes a snapshot; s.mu is held (or Open runs).
func (s *Store) snapshot() *snapshot {
	sn := &snapshot{
		lastSeq:    s.lastSeq,
		lastPos:    s.lastPos,
		cat:        s.cat.Snapshot(),
		edges:      maps.Clone(s.edges),
		keys:       maps.Clone(s.keys),
		inProgress: make(map[uint64]bool, len(s.inProgress)),
		events:     s.events[:len(s.events):len(s.events)],
	}
	for seq := range s.inProgress {
		sn.inProgress[seq] = true
	}
	for _, id := range slices.Sorted(maps.Keys(s.dists)) {
		if invs := s.dists[id].invs; len(invs) > 0 {
			sn.dists = append(sn.dists, distSnapshot{id, invs[:len(invs):len(invs)]})
		}
	}
	return sn
}

// image encodes sn as sealed frames.
func (sn *snapshot) image(s *Store) []byte {
	out := make([]byte, 0, 4096)
	start := len(out)
	out = append(out, make([]byte, frameHeader)...)
	// next closes the current frame if it is big enough.
	next := func(force bool) {
		if len(out)-start-frameHeader >= imageFrame || (force && len(out)-start > frameHeader) {
			sealFrame(out[start:])
			start = len(out)
			out = append(out, make([]byte, frameHeader)...)
		}
	}
	out = append(out, recCounters)
	out = binary.AppendUvarint(out, sn.lastSeq)
	out = binary.AppendUvarint(out, sn.lastPos)
	for _, d := range sn.cat.Distributions {
		out = appendPutDist(out, d.ID, d.Data)
		next(false)
	}
	for _, r := range sn.cat.Resources {
		out = appendPutRes(out, *r)
		next(false)
	}
	out = appendRegistry(out, sn.edges)
	next(false)
	// written marks the retained events written with their key or
	// invalidation; the others (those of invalidations the retention
	// forgot) are written after, without a key.
	written := make([]bool, len(sn.events))
	for _, key := range slices.Sorted(maps.Keys(sn.keys)) {
		k := sn.keys[key]
		if i := eventIndex(sn.events, k.pos); i < len(sn.events) && sn.events[i].pos == k.pos {
			written[i] = true
			out = appendEventRec(out, k.pos, key, sn.events[i].data)
		} else {
			out = append(out, recEventKey)
			out = binary.AppendUvarint(out, k.pos)
			out = appendString(out, key)
		}
		next(false)
	}
	for _, d := range sn.dists {
		for _, r := range d.invs {
			var ev evRef
			if r.eventPos != 0 {
				ev = evRef{ok: true, pos: r.eventPos, trimmed: true}
				if i := eventIndex(sn.events, r.eventPos); i < len(sn.events) && sn.events[i].pos == r.eventPos {
					ev.data, ev.trimmed = sn.events[i].data, false
					written[i] = true
				}
			}
			// Completed before the snapshot, r's completion no longer changes.
			done := !sn.inProgress[r.seq]
			var at time.Time
			if done {
				at = r.completed
			}
			out = s.appendCreate(out, r, done, at, ev)
			next(false)
		}
	}
	for i, e := range sn.events {
		if !written[i] {
			// An edge resuming from before it must still get it.
			out = appendEventRec(out, e.pos, "", e.data)
			next(false)
		}
	}
	next(true)
	return out[:start] // without the empty frame opened last
}

// compactResult is a compaction's image, written and synced.
type compactResult struct {
	f    *os.File // the new file, holding a header and the image
	size int64
	err  error
}

// compact encodes sn and writes it to a new file, then hands it to the
// flusher.
func (s *Store) compact(sn *snapshot) {
	img := sn.image(s)
	f, err := s.createImage(img)
	s.compacted <- compactResult{f, int64(headerSize + len(img)), err}
	select { // wake the flusher even if no write comes
	case s.kick <- struct{}{}:
	default:
	}
}

// createImage writes a header and img to the compaction file and syncs it.
func (s *Store) createImage(img []byte) (*os.File, error) {
	tmp := s.path + compactSuffix
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	_, err = f.Write(encodeHeader(s.idKey))
	if err == nil {
		_, err = f.Write(img)
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	return f, nil
}

// finishCompaction copies the frames written since the snapshot after the
// image and puts the new file in the old one's place. It runs in the
// flusher, between frames. It reports whether writes are now refused
// (the directory's fsync after the rename failed: until it succeeds, a
// crash could bring back the old file, without the frames written since).
func (s *Store) finishCompaction(res compactResult) (failed bool) {
	s.compacting = false
	before := s.size
	err := res.err
	s.mu.Lock()
	if err == nil && s.failed != nil {
		err = s.failed // the old file's last frame is not known good: leave it to recovery
	}
	s.mu.Unlock()
	if err == nil {
		err = s.copyTail(res.f, res.size)
	}
	if err != nil {
		if res.f != nil {
			res.f.Close()
			os.Remove(s.path + compactSuffix)
		}
		s.log.Error("log store: compaction failed; the log goes on as it was", "path", s.path, "err", err)
		s.snapSize = s.size // try again once it has doubled
		return false
	}
	if err := os.Rename(s.path+compactSuffix, s.path); err != nil {
		res.f.Close()
		os.Remove(s.path + compactSuffix)
		s.log.Error("log store: compaction failed; the log goes on as it was", "path", s.path, "err", err)
		s.snapSize = s.size
		return false
	}
	s.f.Close()
	tail := s.size - s.compactFrom
	s.f, s.size, s.alloc, s.snapSize = res.f, res.size+tail, res.size+tail, res.size
	err = s.syncDir()
	s.mu.Lock()
	s.end = s.size
	if err != nil {
		s.dirSync = true
		s.fail(err)
	}
	s.mu.Unlock()
	s.log.Info("log store: compacted", "path", s.path, "bytes_before", before, "bytes_after", s.size)
	return err != nil
}

// copyTail appends the frames written since the snapshot to f, whose image
// ends at off, and syncs them.
func (s *Store) copyTail(f *os.File, off int64) error {
	old, err := os.Open(s.path)
	if err != nil {
		return err
	}
	defer old.Close()
	n := s.size - s.compactFrom
	if n > 0 {
		if _, err := io.Copy(io.NewOffsetWriter(f, off), io.NewSectionReader(old, s.compactFrom, n)); err != nil {
			return err
		}
	}
	return datasync(f)
}

// writeImage replaces the log with a header and img (sealed frames); Open
// uses it to create or compact the log.
func (s *Store) writeImage(img []byte) error {
	f, err := s.createImage(img)
	if err != nil {
		return err
	}
	if err := os.Rename(s.path+compactSuffix, s.path); err != nil {
		f.Close()
		os.Remove(s.path + compactSuffix)
		return err
	}
	if s.f != nil {
		s.f.Close()
	}
	s.f = f
	s.size = int64(headerSize + len(img))
	s.alloc, s.snapSize = s.size, s.size
	return syncDir(s.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
