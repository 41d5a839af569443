package logstore

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/resource"
)

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
	expired := off // where the retention was last applied
	for off < len(data) {
		payload, next, ok := frameAt(data, off)
		if !ok {
			break
		}
		if err := s.replay(payload); err != nil {
			return fmt.Errorf("frame at offset %d: %w", off, err)
		}
		off = next
		if off-expired >= expireEvery {
			// Forget as the log is read, so that the memory of a long
			// history held by a log not yet compacted does not all
			// come back at once.
			s.expireLocked()
			expired = off
		}
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
	// What the retention forgets is left out of the image, so that the
	// log is compacted when it holds much of it.
	s.expireLocked()
	img := s.snapshot().image(s)
	s.size, s.snapSize = int64(len(data)), int64(headerSize+len(img))
	s.alloc = max(s.alloc, s.size)
	// A log that is mostly what the retention forgot is compacted at
	// once, however little it grew: otherwise every Open reads it again.
	if s.shouldCompact() || (s.forgotten > 0 && s.size > 2*s.snapSize) {
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

// expireEvery is how many bytes of the log Open replays between two
// applications of the retention.
const expireEvery = 16 << 20

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
			if d.err == nil {
				if err := s.cat.PutDistributionJSON(id, slices.Clone(data)); err != nil {
					return err
				}
			}
		case recDelDist:
			id := d.string()
			if d.err == nil {
				s.cat.RemoveDistribution(id)
				s.deleteDist(id, 0)
			}
		case recPutRes:
			r := decodePutRes(&d)
			if d.err == nil {
				s.cat.PutResource(r)
			}
		case recDelRes:
			kind, id := d.string(), d.string()
			if d.err == nil {
				s.cat.RemoveResource(resource.Kind(kind), id)
			}
		case recEvent:
			pos, key, data := d.uvarint(), d.string(), d.bytes()
			if d.err == nil {
				s.replayEvent(pos, slices.Clone(data))
				if key != "" { // "": an event whose invalidation was forgotten
					s.keys[key] = keyEntry{pos: pos}
				}
			}
		case recTrim:
			before := d.uvarint()
			s.sortEvents()
			if len(s.events) > 0 {
				s.trim(before)
			}
		case recEdges, recPutEdge, recDelEdge:
			s.replayRegistry(typ, &d)
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
