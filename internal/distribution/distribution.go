// Package distribution holds the distributions invalidations attach to.
// Until the distribution API exists they come from the configuration file.
package distribution

import (
	"net/url"
	"slices"
	"sync"
)

// Distribution is one CloudFront distribution as openfront knows it.
type Distribution struct {
	ID      string
	Origin  *url.URL
	Aliases []string
	Enabled bool
}

// Registry is the set of known distributions. It is safe for concurrent use.
type Registry struct {
	mu   sync.RWMutex
	byID map[string]*Distribution // guarded by mu
}

// NewRegistry returns a registry holding ds.
func NewRegistry(ds ...*Distribution) *Registry {
	r := &Registry{byID: make(map[string]*Distribution, len(ds))}
	for _, d := range ds {
		r.byID[d.ID] = d
	}
	return r
}

// Exists reports whether id names a distribution.
func (r *Registry) Exists(id string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.byID[id]
	return ok
}

// Get returns the distribution named id.
func (r *Registry) Get(id string) (*Distribution, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.byID[id]
	return d, ok
}

// All returns every distribution, ordered by Id.
func (r *Registry) All() []*Distribution {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Distribution, 0, len(r.byID))
	for _, d := range r.byID {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *Distribution) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}
