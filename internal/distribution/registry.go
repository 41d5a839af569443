package distribution

import (
	"slices"
	"strings"
	"sync"
)

// Registry is the in-memory index of distributions, by Id and by alias.
// It is safe for concurrent use; Service keeps it in step with the store.
type Registry struct {
	mu      sync.RWMutex
	byID    map[string]*Distribution // guarded by mu
	byAlias map[string]string        // AliasKey -> Id; guarded by mu
	// leases keeps a distribution from being deleted while an invalidation
	// is being written for it (see Acquire).
	leases sync.Map // Id -> *lease
}

// lease is one distribution's: read-held by the invalidations being
// written for it, write-held by its deletion. release is mu.RUnlock made
// once, so that Acquire returns it without allocating a method value on
// every CreateInvalidation.
type lease struct {
	mu      sync.RWMutex
	release func()
}

// NewRegistry returns a registry holding ds.
func NewRegistry(ds ...*Distribution) *Registry {
	r := &Registry{byID: make(map[string]*Distribution, len(ds)), byAlias: map[string]string{}}
	for _, d := range ds {
		r.put(d)
	}
	return r
}

// put adds or replaces d.
func (r *Registry) put(d *Distribution) {
	d.derive()
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.byID[d.ID]; old != nil {
		for _, a := range old.Config.Aliases {
			delete(r.byAlias, AliasKey(a))
		}
	}
	r.byID[d.ID] = d
	for _, a := range d.Config.Aliases {
		r.byAlias[AliasKey(a)] = d.ID
	}
}

// remove drops the distribution named id.
func (r *Registry) remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old := r.byID[id]; old != nil {
		for _, a := range old.Config.Aliases {
			delete(r.byAlias, AliasKey(a))
		}
	}
	delete(r.byID, id)
}

// Exists reports whether id names a distribution.
func (r *Registry) Exists(id string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.byID[id]
	return ok
}

// Acquire holds the distribution named id so that it cannot be deleted
// until release is called; ok is false if it does not exist.
func (r *Registry) Acquire(id string) (release func(), ok bool) {
	l := r.leaseOf(id, false)
	if l == nil {
		return nil, false
	}
	l.mu.RLock()
	if !r.Exists(id) {
		l.mu.RUnlock()
		return nil, false
	}
	return l.release, true
}

// lease returns the lease lock of id, made on first use. The lookup comes
// first: LoadOrStore would allocate the lock (and box id) on every call.
func (r *Registry) lease(id string) *sync.RWMutex { return &r.leaseOf(id, true).mu }

// leaseOf returns the lease of id; when it has none yet and id names no
// distribution it returns nil unless always, so that requests for made-up
// Ids leave no lease behind.
func (r *Registry) leaseOf(id string, always bool) *lease {
	if l, ok := r.leases.Load(id); ok {
		return l.(*lease)
	}
	if !always && !r.Exists(id) {
		return nil
	}
	l := &lease{}
	l.release = l.mu.RUnlock
	got, _ := r.leases.LoadOrStore(id, l)
	return got.(*lease)
}

// Get returns the distribution named id. The value must not be modified.
func (r *Registry) Get(id string) (*Distribution, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.byID[id]
	return d, ok
}

// aliasOwner returns the Id of the distribution holding alias, or "".
func (r *Registry) aliasOwner(alias string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byAlias[AliasKey(alias)]
}

// All returns every distribution, ordered by Id.
func (r *Registry) All() []*Distribution {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*Distribution, 0, len(r.byID))
	for _, d := range r.byID {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *Distribution) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Put adds or replaces d. Edges following a control plane keep their
// registry in step with it this way; the control plane's own registry is
// changed through Service only.
func (r *Registry) Put(d *Distribution) { r.put(d) }

// Remove drops the distribution named id.
func (r *Registry) Remove(id string) { r.remove(id) }

// Replace makes ds the whole content of the registry.
func (r *Registry) Replace(ds []*Distribution) {
	keep := map[string]bool{}
	for _, d := range ds {
		keep[d.ID] = true
		r.put(d)
	}
	for _, d := range r.All() {
		if !keep[d.ID] {
			r.remove(d.ID)
		}
	}
}
