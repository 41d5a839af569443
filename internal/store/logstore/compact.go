package logstore

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"os"
	"slices"
)

// Compaction rewrites the log as its live state only: one create record
// per invalidation with its completion folded in, the distributions, the
// edge registry, the retained fleet events and the keys of trimmed ones,
// and the counters (so sequence numbers and event positions are never
// handed out again). Deleted distributions, trimmed events' data and
// superseded edge registries are dropped. The image is written to a new
// file, fsynced, renamed over the log, and the directory fsynced: a crash
// at any point leaves either the old log or the new one, whole.
//
// When: the log is compacted once it is more than twice the size of the
// last image written (at creation, at Open, or by the last compaction) AND
// has grown by at least compactMin (64 MiB by default) since. Growth that
// is live state raises the next threshold with it, so each byte is
// rewritten a bounded number of times. The check is made at Open and by
// the flusher before each group commit: online compaction takes the batch
// about to be written into the image instead (its writers wait for the
// image's write and sync), and holds the store's lock only while it
// encodes the image in memory (tens of ms per 10 MB of live state); writes
// meanwhile queue for the next group commit.
const defaultCompactMin = 64 << 20

// imageFrame is the payload size at which an image starts a new frame.
const imageFrame = 1 << 20

func (s *Store) shouldCompact() bool {
	return s.size > 2*s.snapSize && s.size-s.snapSize >= s.compactMin
}

// image encodes the whole state as frames; s.mu is held (or Open runs).
func (s *Store) image() []byte {
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
	out = binary.AppendUvarint(out, s.lastSeq)
	out = binary.AppendUvarint(out, s.lastPos)
	for _, id := range slices.Sorted(maps.Keys(s.distributions)) {
		out = append(out, recPutDist)
		out = appendString(out, id)
		out = appendBytes(out, s.distributions[id])
		next(false)
	}
	if len(s.edges) > 0 {
		out = appendEdges(out, s.edges)
	}
	for _, key := range slices.Sorted(maps.Keys(s.keys)) {
		k := s.keys[key]
		if i := s.eventIndex(k.pos); i < len(s.events) && s.events[i].pos == k.pos {
			out = appendEventRec(out, k.pos, key, s.events[i].data)
		} else {
			out = append(out, recEventKey)
			out = binary.AppendUvarint(out, k.pos)
			out = appendString(out, key)
		}
		next(false)
	}
	for _, id := range slices.Sorted(maps.Keys(s.dists)) {
		for _, r := range s.dists[id].invs {
			var key string
			var data []byte
			if r.eventPos != 0 {
				key = invEventKey(r.dist, s.idOf(r))
				if i := s.eventIndex(r.eventPos); i < len(s.events) && s.events[i].pos == r.eventPos {
					data = s.events[i].data
				}
			}
			out = s.appendCreate(out, r, key, data)
			next(false)
		}
	}
	next(true)
	return out[:start] // without the empty frame opened last
}

// errRenamed marks a failure after the image replaced the log: the store
// cannot go back to appending to the old file.
type errRenamed struct{ error }

// writeImage replaces the log with a header and img (sealed frames).
func (s *Store) writeImage(img []byte) error {
	tmp := s.path + ".compact"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
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
		return err
	}
	if err := os.Rename(tmp, s.path); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if s.f != nil {
		s.f.Close()
	}
	s.f = f
	s.size = int64(headerSize + len(img))
	s.alloc, s.snapSize = s.size, s.size
	if err := syncDir(s.dir); err != nil {
		return errRenamed{err}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// replay applies the records of one frame read at Open.
func (s *Store) replay(payload []byte) error {
	d := decoder{b: payload}
	for len(d.b) > 0 && d.err == nil {
		typ := d.byte()
		switch typ {
		case recCreate:
			s.replayCreate(&d)
		case recComplete:
			seq, t := d.uvarint(), d.time()
			if r := s.inProgress[seq]; r != nil && d.err == nil {
				s.complete(r, t, 0)
			}
		case recPutDist:
			id, data := d.string(), d.bytes()
			s.distributions[id] = slices.Clone(data)
		case recDelDist:
			id := d.string()
			if d.err == nil {
				s.deleteDist(id, 0)
			}
		case recEvent:
			pos, key, data := d.uvarint(), d.string(), d.bytes()
			if d.err == nil {
				s.replayEvent(pos, slices.Clone(data))
				s.keys[key] = keyEntry{pos: pos}
			}
		case recTrim:
			before := d.uvarint()
			s.sortEvents()
			if len(s.events) > 0 {
				s.trim(before)
			}
		case recEdges:
			n := d.uvarint()
			edges := map[string][]byte{}
			for i := uint64(0); i < n && d.err == nil; i++ {
				name, data := d.string(), d.bytes()
				edges[name] = slices.Clone(data)
			}
			s.edges = edges
		case recCounters:
			s.lastSeq = max(s.lastSeq, d.uvarint())
			s.lastPos = max(s.lastPos, d.uvarint())
		case recEventKey:
			pos, key := d.uvarint(), d.string()
			if d.err == nil {
				s.keys[key] = keyEntry{pos: pos}
				s.lastPos = max(s.lastPos, pos)
			}
		default:
			if d.err == nil {
				return fmt.Errorf("unknown record type %d in an intact frame (a newer or damaged file)", typ)
			}
		}
	}
	return d.err
}

func (s *Store) replayCreate(d *decoder) {
	r := &rec{seq: d.uvarint()}
	flags := d.byte()
	r.dist = d.string()
	if flags&flagOwnID != 0 {
		r.id = d.string()
	}
	r.ref = d.string()
	r.created = d.time()
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail(errShort)
		return
	}
	r.paths = make([]string, n)
	for i := range r.paths {
		r.paths[i] = d.string()
	}
	if flags&flagCompleted != 0 {
		r.done, r.completed = true, d.time()
	}
	var eventPos uint64
	var key string
	var data []byte
	hasEvent := flags&flagEvent != 0
	if hasEvent {
		eventPos = d.uvarint()
		if flags&flagEventKey != 0 {
			key = d.string()
		}
		if flags&flagEventNoData == 0 {
			data = slices.Clone(d.bytes())
		}
	}
	if d.err != nil {
		return
	}
	if hasEvent {
		if key != "" {
			s.keys[key] = keyEntry{pos: eventPos}
		} else {
			r.eventPos = eventPos
		}
		if data != nil {
			s.replayEvent(eventPos, data)
		}
		s.lastPos = max(s.lastPos, eventPos)
	}
	s.insert(s.distFor(r.dist), r)
	s.lastSeq = max(s.lastSeq, r.seq)
}

// replayEvent adds an event read at Open.
func (s *Store) replayEvent(pos uint64, data []byte) {
	if n := len(s.events); n > 0 && s.events[n-1].pos >= pos {
		s.unsorted = true
	}
	s.events = append(s.events, event{pos: pos, data: data})
	s.lastPos = max(s.lastPos, pos)
}

func (s *Store) sortEvents() {
	if s.unsorted {
		slices.SortFunc(s.events, func(a, b event) int { return cmp.Compare(a.pos, b.pos) })
		s.unsorted = false
	}
}
