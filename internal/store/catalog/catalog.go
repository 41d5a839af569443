// Package catalog is the in-memory state of the distributions and
// resources a store under internal/store keeps, with the rules
// distribution.Store and resource.Store enforce in each write: unique Ids,
// CallerReferences, aliases (by distribution.AliasKey) and names per
// kind, references to existing resources, no deleting what is referred
// to, and change and check functions run inside the write. The memory
// store and the log store both keep one, so that they enforce the same
// rules the same way; a database enforces them with constraints and
// transactions instead (docs/architecture.md, "Storage").
//
// A Catalog is not safe for concurrent use: its store's lock guards it,
// and holds it across each call, so that a check and the write it admits
// are one step. A write that fails changes nothing.
package catalog

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/resource"
)

// ErrImmutable is returned when a change function alters what a write may
// not change: a distribution's Id or CallerReference, a resource's Kind
// or Id.
var ErrImmutable = errors.New("catalog: a change altered an Id, a Kind or a CallerReference")

// Catalog holds distributions and resources and their indexes.
type Catalog struct {
	dists   map[string]*distEntry
	byRef   map[string]string // CallerReference -> distribution Id
	byAlias map[string]string // distribution.AliasKey -> distribution Id
	res     map[resource.Ref]*resource.Resource
	names   map[nameKey]string               // (kind, name) -> Id
	holders map[resource.Ref]map[holder]bool // what refers to each resource
	custom  map[resource.Kind]int            // resources per kind that are not Managed
}

// distEntry is a stored distribution: its JSON (what a log keeps, and
// what every read decodes afresh, so that callers never share memory with
// the store) and the fields the indexes hold.
type distEntry struct {
	data    []byte
	ref     string
	aliases []string // AliasKeys
	refs    []resource.Ref
}

type nameKey struct {
	kind resource.Kind
	name string
}

// holder is what holds a reference: a distribution (kind "") or a
// resource.
type holder struct {
	kind resource.Kind
	id   string
}

// New returns an empty Catalog.
func New() *Catalog {
	return &Catalog{
		dists:   map[string]*distEntry{},
		byRef:   map[string]string{},
		byAlias: map[string]string{},
		res:     map[resource.Ref]*resource.Resource{},
		names:   map[nameKey]string{},
		holders: map[resource.Ref]map[holder]bool{},
		custom:  map[resource.Kind]int{},
	}
}

// CreateDistribution adds d (see distribution.Store) and returns the JSON
// it keeps, for the store's record.
func (c *Catalog) CreateDistribution(d distribution.Distribution) ([]byte, error) {
	if _, ok := c.dists[d.ID]; ok {
		return nil, distribution.ErrIDTaken
	}
	if _, ok := c.byRef[d.CallerReference]; ok {
		return nil, distribution.ErrCallerReferenceTaken
	}
	if err := c.checkDist(d, ""); err != nil {
		return nil, err
	}
	data, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	c.putDist(d.ID, data, d)
	return data, nil
}

// UpdateDistribution applies change to a copy of the distribution named
// id (see distribution.Store) and returns the stored result and its JSON.
func (c *Catalog) UpdateDistribution(id string, change func(*distribution.Distribution) error) (distribution.Distribution, []byte, error) {
	e, ok := c.dists[id]
	if !ok {
		return distribution.Distribution{}, nil, distribution.ErrNotFound
	}
	d, err := decodeDist(e.data)
	if err != nil {
		return distribution.Distribution{}, nil, err
	}
	if change != nil {
		if err := change(&d); err != nil {
			return distribution.Distribution{}, nil, err
		}
	}
	if d.ID != id || d.CallerReference != e.ref {
		return distribution.Distribution{}, nil, ErrImmutable
	}
	if err := c.checkDist(d, id); err != nil {
		return distribution.Distribution{}, nil, err
	}
	data, err := json.Marshal(d)
	if err != nil {
		return distribution.Distribution{}, nil, err
	}
	out, err := decodeDist(data)
	if err != nil {
		return distribution.Distribution{}, nil, err
	}
	c.removeDist(id)
	c.putDist(id, data, d)
	return out, data, nil
}

// checkDist refuses d's aliases held by a distribution other than self
// and references to resources that do not exist.
func (c *Catalog) checkDist(d distribution.Distribution, self string) error {
	for _, a := range d.Config.Aliases {
		if owner, ok := c.byAlias[distribution.AliasKey(a)]; ok && owner != self {
			return distribution.ErrAliasTaken
		}
	}
	return c.checkRefs(d.Refs)
}

func (c *Catalog) checkRefs(refs []resource.Ref) error {
	for _, r := range refs {
		if _, ok := c.res[r]; !ok {
			return &resource.MissingRefError{Ref: r}
		}
	}
	return nil
}

// DeleteDistribution removes the distribution named id unless check
// refuses it.
func (c *Catalog) DeleteDistribution(id string, check func(distribution.Distribution) error) error {
	e, ok := c.dists[id]
	if !ok {
		return distribution.ErrNotFound
	}
	if check != nil {
		d, err := decodeDist(e.data)
		if err != nil {
			return err
		}
		if err := check(d); err != nil {
			return err
		}
	}
	c.removeDist(id)
	return nil
}

// Distribution returns a copy of the distribution named id.
func (c *Catalog) Distribution(id string) (distribution.Distribution, error) {
	e, ok := c.dists[id]
	if !ok {
		return distribution.Distribution{}, distribution.ErrNotFound
	}
	return decodeDist(e.data)
}

// Distributions returns copies of every distribution, ordered by Id.
func (c *Catalog) Distributions() ([]distribution.Distribution, error) {
	var out []distribution.Distribution
	for _, id := range slices.Sorted(maps.Keys(c.dists)) {
		d, err := decodeDist(c.dists[id].data)
		if err != nil {
			return nil, fmt.Errorf("distribution %s: %w", id, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// PutDistributionJSON creates or replaces the distribution named id with
// its JSON, without checking any rule: a log replays what it checked
// when it was written (and logs of earlier versions, written before the
// rules were the store's, hold nothing else they would refuse but for
// aliases differing in a final dot). The catalog keeps data.
func (c *Catalog) PutDistributionJSON(id string, data []byte) error {
	d, err := decodeDist(data)
	if err != nil {
		return fmt.Errorf("distribution %s: %w", id, err)
	}
	c.removeDist(id)
	c.putDist(id, data, d)
	return nil
}

// RemoveDistribution removes the distribution named id, if any, without
// checking any rule (see PutDistributionJSON).
func (c *Catalog) RemoveDistribution(id string) { c.removeDist(id) }

func (c *Catalog) putDist(id string, data []byte, d distribution.Distribution) {
	e := &distEntry{data: data, ref: d.CallerReference, refs: slices.Clone(d.Refs)}
	for _, a := range d.Config.Aliases {
		e.aliases = append(e.aliases, distribution.AliasKey(a))
	}
	c.dists[id] = e
	c.byRef[e.ref] = id
	for _, a := range e.aliases {
		c.byAlias[a] = id
	}
	c.addHolder(holder{id: id}, e.refs)
}

func (c *Catalog) removeDist(id string) {
	e, ok := c.dists[id]
	if !ok {
		return
	}
	delete(c.dists, id)
	// The indexes name id unless a log of an earlier version held a
	// duplicate (see PutDistributionJSON): the other holder keeps it.
	if c.byRef[e.ref] == id {
		delete(c.byRef, e.ref)
	}
	for _, a := range e.aliases {
		if c.byAlias[a] == id {
			delete(c.byAlias, a)
		}
	}
	c.dropHolder(holder{id: id}, e.refs)
}

func (c *Catalog) addHolder(h holder, refs []resource.Ref) {
	for _, r := range refs {
		hs := c.holders[r]
		if hs == nil {
			hs = map[holder]bool{}
			c.holders[r] = hs
		}
		hs[h] = true
	}
}

func (c *Catalog) dropHolder(h holder, refs []resource.Ref) {
	for _, r := range refs {
		if hs := c.holders[r]; hs != nil {
			delete(hs, h)
			if len(hs) == 0 {
				delete(c.holders, r)
			}
		}
	}
}

func decodeDist(data []byte) (distribution.Distribution, error) {
	var d distribution.Distribution
	err := json.Unmarshal(data, &d)
	return d, err
}

// CreateResource adds a copy of r (see resource.Store). On ErrNameTaken
// and ErrIDTaken it returns a copy of the resource that holds the name or
// Id.
func (c *Catalog) CreateResource(r resource.Resource, admit func(count int) error) (resource.Resource, error) {
	if id, ok := c.names[nameKey{r.Kind, r.Name}]; ok {
		return c.res[resource.Ref{Kind: r.Kind, ID: id}].Clone(), resource.ErrNameTaken
	}
	if old, ok := c.res[resource.Ref{Kind: r.Kind, ID: r.ID}]; ok {
		return old.Clone(), resource.ErrIDTaken
	}
	if err := c.checkRefs(r.Refs); err != nil {
		return resource.Resource{}, err
	}
	if admit != nil {
		if err := admit(c.custom[r.Kind]); err != nil {
			return resource.Resource{}, err
		}
	}
	c.putRes(r.Clone())
	return resource.Resource{}, nil
}

// UpdateResource applies change to a copy of the resource (see
// resource.Store) and returns a copy of the result, which the catalog
// keeps (and the store writes) as it is.
func (c *Catalog) UpdateResource(kind resource.Kind, id string, change func(*resource.Resource) error) (resource.Resource, error) {
	key := resource.Ref{Kind: kind, ID: id}
	old, ok := c.res[key]
	if !ok {
		return resource.Resource{}, resource.ErrNotFound
	}
	r := old.Clone()
	if change != nil {
		if err := change(&r); err != nil {
			return resource.Resource{}, err
		}
	}
	if r.Kind != kind || r.ID != id {
		return resource.Resource{}, ErrImmutable
	}
	if owner, ok := c.names[nameKey{kind, r.Name}]; ok && owner != id {
		return resource.Resource{}, resource.ErrNameTaken
	}
	if err := c.checkRefs(r.Refs); err != nil {
		return resource.Resource{}, err
	}
	stored := r.Clone() // change may keep r, and what it put in it
	c.removeRes(key)
	c.putRes(stored)
	return stored.Clone(), nil
}

// DeleteResource removes the resource unless check refuses it or
// something other than itself refers to it (resource.ErrInUse).
func (c *Catalog) DeleteResource(kind resource.Kind, id string, check func(resource.Resource) error) error {
	key := resource.Ref{Kind: kind, ID: id}
	r, ok := c.res[key]
	if !ok {
		return resource.ErrNotFound
	}
	if check != nil {
		if err := check(r.Clone()); err != nil {
			return err
		}
	}
	for h := range c.holders[key] {
		if h != (holder{kind, id}) {
			return resource.ErrInUse
		}
	}
	c.removeRes(key)
	return nil
}

// Resource returns a copy of one resource.
func (c *Catalog) Resource(kind resource.Kind, id string) (resource.Resource, error) {
	r, ok := c.res[resource.Ref{Kind: kind, ID: id}]
	if !ok {
		return resource.Resource{}, resource.ErrNotFound
	}
	return r.Clone(), nil
}

// Resources returns copies of the resources of kind, ordered by Id.
func (c *Catalog) Resources(kind resource.Kind) []resource.Resource {
	var out []resource.Resource
	for key, r := range c.res {
		if key.Kind == kind {
			out = append(out, r.Clone())
		}
	}
	slices.SortFunc(out, func(a, b resource.Resource) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// PutResource creates or replaces r without checking any rule (see
// PutDistributionJSON). The catalog keeps r's slices.
func (c *Catalog) PutResource(r resource.Resource) {
	c.removeRes(resource.Ref{Kind: r.Kind, ID: r.ID})
	c.putRes(r)
}

// RemoveResource removes a resource, if there, without checking any rule.
func (c *Catalog) RemoveResource(kind resource.Kind, id string) {
	c.removeRes(resource.Ref{Kind: kind, ID: id})
}

// putRes stores r, which the catalog owns from now on and never changes
// (a snapshot may share it).
func (c *Catalog) putRes(r resource.Resource) {
	key := resource.Ref{Kind: r.Kind, ID: r.ID}
	c.res[key] = &r
	c.names[nameKey{r.Kind, r.Name}] = r.ID
	if !r.Managed {
		c.custom[r.Kind]++
	}
	c.addHolder(holder{r.Kind, r.ID}, r.Refs)
}

func (c *Catalog) removeRes(key resource.Ref) {
	r, ok := c.res[key]
	if !ok {
		return
	}
	delete(c.res, key)
	if !r.Managed {
		c.custom[r.Kind]--
	}
	if nk := (nameKey{r.Kind, r.Name}); c.names[nk] == key.ID {
		delete(c.names, nk)
	}
	c.dropHolder(holder{r.Kind, r.ID}, r.Refs)
}

// Snapshot is the catalog's content at one point, for a log's image
// encoded without the store's lock: it shares what the catalog never
// changes (distribution JSON, resources), so taking it costs a copy of
// the index only.
type Snapshot struct {
	// Distributions are Ids and JSON, ordered by Id.
	Distributions []DistJSON
	// Resources are ordered by kind, then Id; they must not be changed.
	Resources []*resource.Resource
}

// DistJSON is a distribution's Id and JSON.
type DistJSON struct {
	ID   string
	Data []byte
}

// Snapshot returns the catalog's content.
func (c *Catalog) Snapshot() Snapshot {
	var sn Snapshot
	for _, id := range slices.Sorted(maps.Keys(c.dists)) {
		sn.Distributions = append(sn.Distributions, DistJSON{id, c.dists[id].data})
	}
	for _, r := range c.res {
		sn.Resources = append(sn.Resources, r)
	}
	slices.SortFunc(sn.Resources, func(a, b *resource.Resource) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID))
	})
	return sn
}
