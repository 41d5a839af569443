package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/openfront/openfront/internal/keyvalue"
	"github.com/openfront/openfront/internal/originaccess"
	"github.com/openfront/openfront/internal/policy"
	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/signing"
)

// The edge's resources.
//
// Cache, origin request and response headers policies, origin access
// controls, public keys, key groups, KeyValueStores (keys and all) and CloudFront
// Functions reach the edge as resources (fleet events and snapshots). The
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
	keys    map[string]*signing.Key     // public keys by Id, parsed
	groups  map[string]signing.KeyGroup // key groups by Id
	// kvs are the KeyValueStores' pairs by store Id; each map is built
	// once and never changed (a new version replaces it).
	kvs map[string]map[string]string
	fns map[string]*edgeFunction // by name (functions.go)
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
		keys: map[string]*signing.Key{}, groups: map[string]signing.KeyGroup{},
		kvs: map[string]map[string]string{},
		fns: map[string]*edgeFunction{}}
	if t != nil {
		maps.Copy(n.keys, t.keys)
		maps.Copy(n.groups, t.groups)
		maps.Copy(n.cache, t.cache)
		maps.Copy(n.origin, t.origin)
		maps.Copy(n.headers, t.headers)
		maps.Copy(n.oac, t.oac)
		maps.Copy(n.kvs, t.kvs)
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
	case resource.PublicKey:
		k, err := signing.DecodePublicKey(r.Config)
		if err != nil {
			return fmt.Errorf("public key %s: %w", r.ID, err)
		}
		key, err := signing.NewKey(r.ID, k.EncodedKey)
		if err != nil {
			return fmt.Errorf("public key %s: %w", r.ID, err)
		}
		t.keys[r.ID] = key
	case resource.KeyGroup:
		g, err := signing.DecodeKeyGroup(r.Config)
		if err != nil {
			return fmt.Errorf("key group %s: %w", r.ID, err)
		}
		t.groups[r.ID] = g
	case resource.KeyValueStore:
		s, err := keyvalue.Decode(r.Config)
		if err != nil {
			return fmt.Errorf("key value store %s: %w", r.ID, err)
		}
		if s.Keys == nil {
			s.Keys = map[string]string{}
		}
		t.kvs[r.ID] = s.Keys
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
	case resource.PublicKey:
		delete(t.keys, id)
	case resource.KeyGroup:
		delete(t.groups, id)
	case resource.KeyValueStore:
		delete(t.kvs, id)
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

// trust returns the keys a behavior trusting key groups groups and, for
// TrustedSigners, signers (any: every public key of the account) accepts
// signatures from; nil when it trusts none (not restricted). A key group
// or key the edge does not know adds nothing: its signatures are refused.
func (t *resources) trust(groups, signers []string) signing.Trust {
	if len(groups) == 0 && len(signers) == 0 {
		return nil
	}
	tr := signing.Trust{}
	if t == nil {
		return tr
	}
	if len(signers) > 0 {
		maps.Copy(tr, t.keys)
	}
	for _, id := range groups {
		for _, k := range t.groups[id].Keys {
			if key := t.keys[k]; key != nil {
				tr[k] = key
			}
		}
	}
	return tr
}

// KeyValues reads the KeyValueStores as this edge last learnt them, for
// the functions' runtime (cf.kvs()): a PutKey is visible here once its
// version of the store has reached the edge through the fleet, as an
// invalidation does. It takes no lock.
type KeyValues struct{ e *Edge }

// KeyValues returns the edge's reader of KeyValueStores.
func (e *Edge) KeyValues() KeyValues { return KeyValues{e} }

// ErrNoKeyValueStore is Get's error for a store the edge does not know
// (deleted, not yet propagated, or not a KeyValueStore ARN).
var ErrNoKeyValueStore = errors.New("edge: no such key value store")

// Get returns the value of key in the store with the ARN, and whether
// the store has the key. An unknown store is ErrNoKeyValueStore.
func (k KeyValues) Get(_ context.Context, storeARN, key string) (string, bool, error) {
	id, ok := keyvalue.IDOfARN(storeARN)
	if !ok {
		return "", false, ErrNoKeyValueStore
	}
	t := k.e.res.Load()
	if t == nil {
		return "", false, ErrNoKeyValueStore
	}
	keys, ok := t.kvs[id]
	if !ok {
		return "", false, ErrNoKeyValueStore
	}
	v, found := keys[key]
	return v, found, nil
}
