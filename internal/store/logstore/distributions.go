package logstore

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/openfront/openfront/internal/distribution"
)

// PutDistribution implements distribution.Store.
func (s *Store) PutDistribution(ctx context.Context, d distribution.Distribution) error {
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if err := s.writable(); err != nil {
		s.mu.Unlock()
		return err
	}
	s.distributions[d.ID] = data
	b := s.stamp()
	s.distsEpoch = b.epoch
	b.buf = append(b.buf, recPutDist)
	b.buf = appendString(b.buf, d.ID)
	b.buf = appendBytes(b.buf, data)
	s.mu.Unlock()
	return b.wait()
}

// DeleteDistribution implements distribution.Store: the distribution and
// all its invalidations go in one record. Sequence numbers are not reused,
// so a distribution created again under the same Id never gets an Id (or
// fleet event key) of the deleted one's invalidations; the keys of their
// fleet events stay known, so they are never appended again.
func (s *Store) DeleteDistribution(ctx context.Context, id string) error {
	s.mu.Lock()
	if err := s.writable(); err != nil {
		s.mu.Unlock()
		return err
	}
	b := s.stamp()
	s.distsEpoch = b.epoch
	s.deleteDist(id, b.epoch)
	b.buf = append(b.buf, recDelDist)
	b.buf = appendString(b.buf, id)
	s.mu.Unlock()
	return b.wait()
}

func (s *Store) deleteDist(id string, epoch uint64) {
	delete(s.distributions, id)
	if old := s.dists[id]; old != nil {
		for _, r := range old.invs {
			if !r.done {
				delete(s.inProgress, r.seq)
			}
			if r.eventPos != 0 {
				s.keys[invEventKey(id, s.idOf(r))] = keyEntry{r.eventPos, r.createEpoch}
			}
		}
	}
	s.dists[id] = &dist{id: id, byRef: map[string]*rec{}, resetEpoch: epoch}
}

// Distributions implements distribution.Store.
func (s *Store) Distributions(ctx context.Context) ([]distribution.Distribution, error) {
	if err := s.barrier(); err != nil {
		return nil, err
	}
	// A write made since the barrier must be on disk before it is shown.
	if err := s.lockWhenDurable(&s.distsEpoch); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	var out []distribution.Distribution
	for _, id := range slices.Sorted(maps.Keys(s.distributions)) {
		var d distribution.Distribution
		if err := json.Unmarshal(s.distributions[id], &d); err != nil {
			return nil, fmt.Errorf("distribution %s: %w", id, err)
		}
		out = append(out, d)
	}
	return out, nil
}
