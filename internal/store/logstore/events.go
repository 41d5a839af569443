package logstore

import (
	"cmp"
	"context"
	"encoding/binary"
	"slices"

	"github.com/openfront/openfront/internal/eventlog"
	"github.com/openfront/openfront/internal/invalidation"
)

type event struct {
	pos   uint64
	data  []byte
	epoch uint64
}

type keyEntry struct {
	pos, epoch uint64
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
