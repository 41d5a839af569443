package logstore

import (
	"context"
	"maps"
	"slices"
)

// The fleet's registry of edges. Each PutEdge or DeleteEdge writes one
// record for its one edge (putedge, deledge), and compaction writes one
// putedge per edge. Logs written before per-edge writes hold edges
// records, each the whole registry: replay still reads them as "replace
// all" (see replayRegistry).

// PutEdge implements eventlog.Store.
func (s *Store) PutEdge(ctx context.Context, name string, data []byte) error {
	s.mu.Lock()
	if err := s.writable(); err != nil {
		s.mu.Unlock()
		return err
	}
	// The entry is a new slice, never changed afterwards: snapshots and
	// Edges may share it.
	s.edges[name] = slices.Clone(data)
	b := s.stamp()
	s.edgesEpoch = b.epoch
	b.buf = appendPutEdge(b.buf, name, data)
	s.mu.Unlock()
	return b.wait()
}

// DeleteEdge implements eventlog.Store. A name the registry does not hold
// writes nothing.
func (s *Store) DeleteEdge(ctx context.Context, name string) error {
	s.mu.Lock()
	if err := s.writable(); err != nil {
		s.mu.Unlock()
		return err
	}
	if _, ok := s.edges[name]; !ok {
		// A removal of it may still be on its way to disk: wait for the
		// last registry write.
		b := s.batchOf(s.edgesEpoch)
		s.mu.Unlock()
		if b == nil {
			return nil
		}
		return b.wait()
	}
	delete(s.edges, name)
	b := s.stamp()
	s.edgesEpoch = b.epoch
	b.buf = append(b.buf, recDelEdge)
	b.buf = appendString(b.buf, name)
	s.mu.Unlock()
	return b.wait()
}

func appendPutEdge(buf []byte, name string, data []byte) []byte {
	buf = append(buf, recPutEdge)
	buf = appendString(buf, name)
	return appendBytes(buf, data)
}

// appendRegistry appends a putedge record per edge, in name order: the
// registry in a compaction's image.
func appendRegistry(buf []byte, edges map[string][]byte) []byte {
	for _, name := range slices.Sorted(maps.Keys(edges)) {
		buf = appendPutEdge(buf, name, edges[name])
	}
	return buf
}

// replayRegistry applies a registry record of type typ read at Open.
func (s *Store) replayRegistry(typ byte, d *decoder) {
	switch typ {
	case recEdges: // the whole registry, as written before per-edge records
		n := d.uvarint()
		edges := map[string][]byte{}
		for i := uint64(0); i < n && d.err == nil; i++ {
			name, data := d.string(), d.bytes()
			edges[name] = slices.Clone(data)
		}
		if d.err == nil {
			s.edges = edges
		}
	case recPutEdge:
		name, data := d.string(), d.bytes()
		if d.err == nil {
			s.edges[name] = slices.Clone(data)
		}
	case recDelEdge:
		name := d.string()
		if d.err == nil {
			delete(s.edges, name)
		}
	}
}

// Edges implements eventlog.Store.
func (s *Store) Edges(ctx context.Context) (map[string][]byte, error) {
	if err := s.barrier(); err != nil {
		return nil, err
	}
	// A write made since the barrier must be on disk before it is shown.
	if err := s.lockWhenDurable(&s.edgesEpoch); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	out := make(map[string][]byte, len(s.edges))
	for name, data := range s.edges {
		out[name] = slices.Clone(data)
	}
	return out, nil
}
