// Package memory is a Store that keeps everything in memory, for
// `openfront serve --memory`: same rules as the durable stores, no disk.
package memory

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/eventlog"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/store/catalog"
)

// Store is an in-memory invalidation.Store, distribution.Store,
// resource.Store and eventlog.Store.
type Store struct {
	mu    sync.Mutex
	dists map[string]*invalidations // invalidations by distribution; guarded by mu
	// cat holds distributions and resources, and enforces their rules;
	// guarded by mu (held across each of its calls, change and check
	// functions included).
	cat       *catalog.Catalog
	events    []eventlog.StoredEvent // the fleet's log, by position; guarded by mu
	eventKeys map[string]uint64      // guarded by mu
	lastPos   uint64                 // guarded by mu
	edges     map[string][]byte      // guarded by mu
	notify    notifier               // wakes the Subscribe channels
}

type invalidations struct {
	invs   []invalidation.Invalidation // oldest first
	byID   map[string]int              // Id -> index in invs
	byRef  map[string]int              // CallerReference -> index in invs
	active invalidation.Usage
}

// New returns an empty Store.
func New() *Store {
	return &Store{dists: map[string]*invalidations{}, cat: catalog.New(),
		eventKeys: map[string]uint64{}, edges: map[string][]byte{}}
}

func (s *Store) dist(id string) *invalidations {
	d := s.dists[id]
	if d == nil {
		d = &invalidations{byID: map[string]int{}, byRef: map[string]int{}}
		s.dists[id] = d
	}
	return d
}

// Create implements invalidation.Store.
func (s *Store) Create(ctx context.Context, inv invalidation.Invalidation, admit func(invalidation.Usage) error) (invalidation.Invalidation, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dist(inv.DistributionID)
	if i, ok := d.byRef[inv.Batch.CallerReference]; ok {
		return clone(d.invs[i]), false, nil
	}
	if err := admit(d.active); err != nil {
		return invalidation.Invalidation{}, false, err
	}
	inv = clone(inv)
	for inv.ID == "" {
		if id := invalidation.NewID(); !d.hasID(id) {
			inv.ID = id
		}
	}
	d.invs = append(d.invs, inv)
	d.byID[inv.ID] = len(d.invs) - 1
	d.byRef[inv.Batch.CallerReference] = len(d.invs) - 1
	if inv.Status == invalidation.InProgress {
		d.active = d.active.Add(inv.Batch.Usage())
	}
	return clone(inv), true, nil
}

func (d *invalidations) hasID(id string) bool {
	_, ok := d.byID[id]
	return ok
}

// Get implements invalidation.Store.
func (s *Store) Get(ctx context.Context, distributionID, id string) (invalidation.Invalidation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dists[distributionID]
	if d == nil {
		return invalidation.Invalidation{}, invalidation.ErrNotFound
	}
	i, ok := d.byID[id]
	if !ok {
		return invalidation.Invalidation{}, invalidation.ErrNotFound
	}
	return clone(d.invs[i]), nil
}

// List implements invalidation.Store.
func (s *Store) List(ctx context.Context, distributionID, marker string, limit int) ([]invalidation.Invalidation, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dists[distributionID]
	if d == nil {
		if marker != "" {
			return nil, false, invalidation.ErrMarkerNotFound
		}
		return nil, false, nil
	}
	start := len(d.invs) - 1
	if marker != "" {
		i, ok := d.byID[marker]
		if !ok {
			return nil, false, invalidation.ErrMarkerNotFound
		}
		start = i - 1
	}
	var page []invalidation.Invalidation
	for i := start; i >= 0 && len(page) < limit; i-- {
		page = append(page, clone(d.invs[i]))
	}
	more := start-len(page) >= 0
	return page, more, nil
}

// Complete implements invalidation.Store.
func (s *Store) Complete(ctx context.Context, distributionID, id string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.completeLocked(distributionID, id, at)
}

// CompleteAll implements invalidation.Store.
func (s *Store) CompleteAll(ctx context.Context, items []invalidation.CompleteItem) []error {
	errs := make([]error, len(items))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, it := range items {
		errs[i] = s.completeLocked(it.DistributionID, it.ID, it.At)
	}
	return errs
}

// completeLocked is Complete with s.mu held.
func (s *Store) completeLocked(distributionID, id string, at time.Time) error {
	d := s.dists[distributionID]
	if d == nil {
		return invalidation.ErrNotFound
	}
	i, ok := d.byID[id]
	if !ok {
		return invalidation.ErrNotFound
	}
	if d.invs[i].Status == invalidation.Completed {
		return nil
	}
	d.invs[i].Status = invalidation.Completed
	d.invs[i].CompleteTime = at.UTC()
	d.active = d.active.Sub(d.invs[i].Batch.Usage())
	return nil
}

// CountInProgress implements invalidation.Store.
func (s *Store) CountInProgress(ctx context.Context, distributionID string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	if d := s.dists[distributionID]; d != nil {
		for _, inv := range d.invs {
			if inv.Status == invalidation.InProgress {
				n++
			}
		}
	}
	return n, nil
}

// CreateDistribution implements distribution.Store.
func (s *Store) CreateDistribution(ctx context.Context, d distribution.Distribution) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.cat.CreateDistribution(d)
	return err
}

// UpdateDistribution implements distribution.Store.
func (s *Store) UpdateDistribution(ctx context.Context, id string, change func(d *distribution.Distribution) error) (distribution.Distribution, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, _, err := s.cat.UpdateDistribution(id, change)
	return d, err
}

// DeleteDistribution implements distribution.Store: the distribution and
// its invalidations go together.
func (s *Store) DeleteDistribution(ctx context.Context, id string, check func(d distribution.Distribution) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.cat.DeleteDistribution(id, check); err != nil {
		return err
	}
	delete(s.dists, id)
	return nil
}

// GetDistribution implements distribution.Store.
func (s *Store) GetDistribution(ctx context.Context, id string) (distribution.Distribution, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cat.Distribution(id)
}

// Distributions implements distribution.Store.
func (s *Store) Distributions(ctx context.Context) ([]distribution.Distribution, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cat.Distributions()
}

// CreateResource implements resource.Store.
func (s *Store) CreateResource(ctx context.Context, r resource.Resource, admit func(int) error) (resource.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cat.CreateResource(r, admit)
}

// UpdateResource implements resource.Store.
func (s *Store) UpdateResource(ctx context.Context, kind resource.Kind, id string, change func(r *resource.Resource) error) (resource.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cat.UpdateResource(kind, id, change)
}

// DeleteResource implements resource.Store.
func (s *Store) DeleteResource(ctx context.Context, kind resource.Kind, id string, check func(r resource.Resource) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cat.DeleteResource(kind, id, check)
}

// GetResource implements resource.Store.
func (s *Store) GetResource(ctx context.Context, kind resource.Kind, id string) (resource.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cat.Resource(kind, id)
}

// Resources implements resource.Store.
func (s *Store) Resources(ctx context.Context, kind resource.Kind) ([]resource.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cat.Resources(kind), nil
}

// AppendEvent implements eventlog.Store.
func (s *Store) AppendEvent(ctx context.Context, key string, data []byte) (uint64, error) {
	s.mu.Lock()
	if p, ok := s.eventKeys[key]; ok {
		s.mu.Unlock()
		return p, nil
	}
	s.lastPos++
	s.events = append(s.events, eventlog.StoredEvent{Pos: s.lastPos, Data: slices.Clone(data)})
	s.eventKeys[key] = s.lastPos
	pos := s.lastPos
	s.mu.Unlock()
	s.changed(false)
	return pos, nil
}

// EventsAfter implements eventlog.Store.
func (s *Store) EventsAfter(ctx context.Context, after uint64, limit int) ([]eventlog.StoredEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, _ := slices.BinarySearchFunc(s.events, after+1, func(e eventlog.StoredEvent, p uint64) int {
		return cmp.Compare(e.Pos, p)
	})
	var out []eventlog.StoredEvent
	for ; i < len(s.events) && len(out) < limit; i++ {
		out = append(out, s.events[i])
	}
	return out, nil
}

// LogBounds implements eventlog.Store.
func (s *Store) LogBounds(ctx context.Context) (uint64, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) == 0 {
		return s.lastPos + 1, s.lastPos, nil
	}
	return s.events[0].Pos, s.lastPos, nil
}

// TrimEvents implements eventlog.Store.
func (s *Store) TrimEvents(ctx context.Context, before uint64) error {
	s.mu.Lock()
	s.events = slices.DeleteFunc(s.events, func(e eventlog.StoredEvent) bool { return e.Pos < before })
	s.mu.Unlock()
	s.changed(false)
	return nil
}

// InProgress implements invalidation.Store.
func (s *Store) InProgress(ctx context.Context) ([]invalidation.Invalidation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []invalidation.Invalidation
	for _, d := range s.dists {
		for _, inv := range d.invs {
			if inv.Status == invalidation.InProgress {
				out = append(out, clone(inv))
			}
		}
	}
	slices.SortFunc(out, func(a, b invalidation.Invalidation) int { return a.CreateTime.Compare(b.CreateTime) })
	return out, nil
}

// Close implements invalidation.Store.
func (s *Store) Close() error { return nil }

func clone(inv invalidation.Invalidation) invalidation.Invalidation {
	inv.Batch.Paths = slices.Clone(inv.Batch.Paths)
	return inv
}
