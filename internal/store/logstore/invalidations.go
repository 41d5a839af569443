package logstore

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/openfront/openfront/internal/eventlog"
	"github.com/openfront/openfront/internal/invalidation"
)

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
