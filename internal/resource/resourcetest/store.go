// Package resourcetest holds an in-memory resource.Store for tests of
// the layers above it (and for serve until the durable stores keep
// resources). It keeps nothing on disk.
package resourcetest

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/openfront/openfront/internal/resource"
)

// Store is an in-memory resource.Store. The zero value is not usable; use
// NewStore.
type Store struct {
	mu  sync.Mutex
	res map[resource.Kind]map[string]resource.Resource // guarded by mu
}

// NewStore returns an empty Store.
func NewStore() *Store { return &Store{res: map[resource.Kind]map[string]resource.Resource{}} }

var _ resource.Store = (*Store)(nil)

func (s *Store) kind(k resource.Kind) map[string]resource.Resource {
	m := s.res[k]
	if m == nil {
		m = map[string]resource.Resource{}
		s.res[k] = m
	}
	return m
}

// check applies the constraints to r, which is to be stored (replacing
// the resource with its Id, if any).
func (s *Store) check(r resource.Resource) (resource.Resource, error) {
	for _, x := range s.kind(r.Kind) {
		if x.ID != r.ID && x.Name == r.Name {
			return x.Clone(), resource.ErrNameTaken
		}
	}
	for _, ref := range r.Refs {
		if _, ok := s.kind(ref.Kind)[ref.ID]; !ok {
			return resource.Resource{}, &resource.MissingRefError{Ref: ref}
		}
	}
	return resource.Resource{}, nil
}

// CreateResource implements resource.Store.
func (s *Store) CreateResource(_ context.Context, r resource.Resource) (resource.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.kind(r.Kind)[r.ID]; ok {
		return resource.Resource{}, resource.ErrIDTaken
	}
	if x, err := s.check(r); err != nil {
		return x, err
	}
	s.kind(r.Kind)[r.ID] = r.Clone()
	return resource.Resource{}, nil
}

// UpdateResource implements resource.Store.
func (s *Store) UpdateResource(_ context.Context, kind resource.Kind, id string, change func(r *resource.Resource) error) (resource.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.kind(kind)[id]
	if !ok {
		return resource.Resource{}, resource.ErrNotFound
	}
	r := old.Clone()
	if err := change(&r); err != nil {
		return resource.Resource{}, err
	}
	r.Kind, r.ID = kind, id
	if _, err := s.check(r); err != nil {
		return resource.Resource{}, err
	}
	s.kind(kind)[id] = r.Clone()
	return r, nil
}

// DeleteResource implements resource.Store.
func (s *Store) DeleteResource(_ context.Context, kind resource.Kind, id string, check func(r resource.Resource) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.kind(kind)[id]
	if !ok {
		return resource.ErrNotFound
	}
	if err := check(r.Clone()); err != nil {
		return err
	}
	for _, m := range s.res {
		for _, x := range m {
			if slices.Contains(x.Refs, resource.Ref{Kind: kind, ID: id}) {
				return resource.ErrInUse
			}
		}
	}
	delete(s.kind(kind), id)
	return nil
}

// GetResource implements resource.Store.
func (s *Store) GetResource(_ context.Context, kind resource.Kind, id string) (resource.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.kind(kind)[id]
	if !ok {
		return resource.Resource{}, resource.ErrNotFound
	}
	return r.Clone(), nil
}

// Resources implements resource.Store.
func (s *Store) Resources(_ context.Context, kind resource.Kind) ([]resource.Resource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]resource.Resource, 0, len(s.kind(kind)))
	for _, r := range s.kind(kind) {
		out = append(out, r.Clone())
	}
	slices.SortFunc(out, func(a, b resource.Resource) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// Refer makes from refer to to, as a distribution's behavior refers to a
// policy (for tests of "in use"); Unrefer undoes it.
func (s *Store) Refer(from resource.Ref, to resource.Ref) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.kind(from.Kind)
	r := m[from.ID]
	r.Kind, r.ID = from.Kind, from.ID
	if r.Name == "" {
		r.Name = "ref-" + from.ID
	}
	r.Refs = append(r.Refs, to)
	m[from.ID] = r
}
