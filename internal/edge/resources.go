package edge

import (
	"encoding/json"
	"fmt"
	"maps"

	"github.com/openfront/openfront/internal/originaccess"
	"github.com/openfront/openfront/internal/policy"
	"github.com/openfront/openfront/internal/resource"
)

// The edge's resources.
//
// Cache, origin request and response headers policies, origin access
// controls and CloudFront Functions reach the edge as resources (fleet events and snapshots). The
// edge keeps them, compiled, in one immutable table that a change
// replaces as a whole (copy on write) and that requests read through an
// atomic pointer, so a hit takes no lock. A distribution's compiled
// configuration (site) records the table it was compiled against and is
// compiled again on the first request after the table changes: a policy
// updated while the edge serves takes effect on the next request, without
// a new version of the distributions that use it.

// resources is one version of the edge's resources; immutable.
type resources struct {
	cache   map[string]*cachePolicy
	origin  map[string]*originPolicy
	headers map[string]*headersPolicy
	oac     map[string]originaccess.Control
	fns     map[string]*edgeFunction // by name (functions.go)
}

func (t *resources) cachePolicy(id string) *cachePolicy {
	if t == nil || id == "" {
		return nil
	}
	return t.cache[id]
}

func (t *resources) originPolicy(id string) *originPolicy {
	if t == nil || id == "" {
		return nil
	}
	return t.origin[id]
}

func (t *resources) headersPolicy(id string) *headersPolicy {
	if t == nil || id == "" {
		return nil
	}
	return t.headers[id]
}

// clone returns a copy of t whose maps may be changed.
func (t *resources) clone() *resources {
	n := &resources{cache: map[string]*cachePolicy{}, origin: map[string]*originPolicy{},
		headers: map[string]*headersPolicy{}, oac: map[string]originaccess.Control{},
		fns: map[string]*edgeFunction{}}
	if t != nil {
		maps.Copy(n.cache, t.cache)
		maps.Copy(n.origin, t.origin)
		maps.Copy(n.headers, t.headers)
		maps.Copy(n.oac, t.oac)
		maps.Copy(n.fns, t.fns)
	}
	return n
}

// put compiles r into t (which must be a clone). Kinds the edge does not
// act on are ignored.
func (t *resources) put(r resource.Resource) error {
	switch r.Kind {
	case resource.CachePolicy:
		var p policy.CachePolicy
		if err := json.Unmarshal(r.Config, &p); err != nil {
			return fmt.Errorf("cache policy %s: %w", r.ID, err)
		}
		t.cache[r.ID] = compileCachePolicy(&p)
	case resource.OriginRequestPolicy:
		var p policy.OriginRequestPolicy
		if err := json.Unmarshal(r.Config, &p); err != nil {
			return fmt.Errorf("origin request policy %s: %w", r.ID, err)
		}
		t.origin[r.ID] = compileOriginPolicy(&p)
	case resource.ResponseHeadersPolicy:
		var p policy.ResponseHeadersPolicy
		if err := json.Unmarshal(r.Config, &p); err != nil {
			return fmt.Errorf("response headers policy %s: %w", r.ID, err)
		}
		t.headers[r.ID] = compileHeadersPolicy(&p)
	case resource.OriginAccessControl:
		var c originaccess.Control
		if err := json.Unmarshal(r.Config, &c); err != nil {
			return fmt.Errorf("origin access control %s: %w", r.ID, err)
		}
		t.oac[r.ID] = c
	}
	return nil
}

// forget removes kind id from t (which must be a clone).
func (t *resources) forget(kind resource.Kind, id string) {
	switch kind {
	case resource.CachePolicy:
		delete(t.cache, id)
	case resource.OriginRequestPolicy:
		delete(t.origin, id)
	case resource.ResponseHeadersPolicy:
		delete(t.headers, id)
	case resource.OriginAccessControl:
		delete(t.oac, id)
	case resource.Function:
		delete(t.fns, id)
	}
}

// PutResource makes r (a new resource or a new version of one) the one
// in force on this edge: a policy takes effect on the next request of
// every behavior that names it. Kinds the edge does not act on are
// ignored. An error says r's Config could not be read; the edge then
// keeps what it had. With fleet.Follower, Edge implements fleet.Resources.
func (e *Edge) PutResource(r resource.Resource) error {
	e.resMu.Lock()
	defer e.resMu.Unlock()
	t := e.res.Load().clone()
	if err := e.putInto(t, r, t.fns[r.ID]); err != nil {
		return err
	}
	e.res.Store(t)
	return nil
}

// putInto puts r into t (a clone); a function is compiled unless old is
// the same version of it.
func (e *Edge) putInto(t *resources, r resource.Resource, old *edgeFunction) error {
	if r.Kind != resource.Function {
		return t.put(r)
	}
	f, err := e.compileFunction(r, old)
	if err != nil {
		return err
	}
	t.fns[r.ID] = f
	return nil
}

// ForgetResource forgets a deleted resource. A behavior that still names
// it (which the API prevents) is served as if it named one the edge does
// not know.
func (e *Edge) ForgetResource(kind resource.Kind, id string) {
	e.resMu.Lock()
	defer e.resMu.Unlock()
	t := e.res.Load().clone()
	t.forget(kind, id)
	e.res.Store(t)
}

// ReplaceResources makes rs the only resources the edge knows (a fleet
// snapshot). One that cannot be read is left out and logged.
func (e *Edge) ReplaceResources(rs []resource.Resource) {
	e.resMu.Lock()
	defer e.resMu.Unlock()
	prev := e.res.Load()
	t := (*resources)(nil).clone()
	for _, r := range rs {
		var old *edgeFunction
		if prev != nil {
			old = prev.fns[r.ID]
		}
		if err := e.putInto(t, r, old); err != nil {
			e.log.Error("ignoring a resource the edge cannot read", "kind", r.Kind, "id", r.ID, "err", err)
		}
	}
	e.res.Store(t)
}

// OriginAccessControl returns the origin access control with the Id, as
// the edge last learnt it, without taking a lock.
func (e *Edge) OriginAccessControl(id string) (originaccess.Control, bool) {
	t := e.res.Load()
	if t == nil {
		return originaccess.Control{}, false
	}
	c, ok := t.oac[id]
	return c, ok
}
