package memory

import (
	"context"
	"slices"
)

// The fleet's registry of edges: one entry per edge, written one at a time.

// PutEdge implements eventlog.Store.
func (s *Store) PutEdge(ctx context.Context, name string, data []byte) error {
	s.mu.Lock()
	s.edges[name] = slices.Clone(data)
	s.mu.Unlock()
	s.changed(true)
	return nil
}

// DeleteEdge implements eventlog.Store.
func (s *Store) DeleteEdge(ctx context.Context, name string) error {
	s.mu.Lock()
	_, ok := s.edges[name]
	delete(s.edges, name)
	s.mu.Unlock()
	if ok {
		s.changed(true)
	}
	return nil
}

// Edges implements eventlog.Store.
func (s *Store) Edges(ctx context.Context) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]byte, len(s.edges))
	for name, data := range s.edges {
		out[name] = slices.Clone(data)
	}
	return out, nil
}
