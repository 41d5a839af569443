// Package resource holds the API's configuration resources that live beside
// distributions and that distributions refer to by Id: cache, origin
// request and response headers policies, origin access controls and
// origin access identities, functions, public keys, key groups and
// KeyValueStores. Each is
// a named, versioned document with an ETag. The package knows the rules
// every kind shares (unique names, If-Match, references and "in use") and
// the storage interface that enforces them; what a kind's configuration
// means is its own package's business (internal/policy, ...), and its
// document travels here as opaque bytes.
package resource

import (
	"context"
	"errors"
	"slices"
	"time"
)

// Kind names a kind of resource.
type Kind string

// The kinds of resources.
const (
	CachePolicy           Kind = "cache-policy"
	OriginRequestPolicy   Kind = "origin-request-policy"
	ResponseHeadersPolicy Kind = "response-headers-policy"
	OriginAccessControl   Kind = "origin-access-control"
	OriginAccessIdentity  Kind = "origin-access-identity"
	// Function is a CloudFront Function; its Id and Name are the
	// function's name, and its Config is a function.Function.
	Function Kind = "function"
	// PublicKey and KeyGroup are the keys signed URLs and cookies are
	// checked against.
	PublicKey Kind = "public-key"
	KeyGroup  Kind = "key-group"
	// KeyValueStore is a KeyValueStore's control-plane record.
	KeyValueStore Kind = "key-value-store"
)

// Resource is one stored resource.
type Resource struct {
	Kind Kind   `json:"kind"`
	ID   string `json:"id"`
	// Name is unique among the resources of a kind (for origin access
	// identities it is the CallerReference).
	Name string `json:"name"`
	// ETag is the version of the configuration, new on every change.
	ETag         string    `json:"etag"`
	LastModified time.Time `json:"modified"`
	// Managed marks the resources AWS defines (the managed policies):
	// the API may not change or delete them.
	Managed bool `json:"managed,omitempty"`
	// Config is the kind's typed configuration as its package encodes it
	// (what edges act on); Raw is the configuration document as the
	// protocol layer sends it back. Both are opaque here.
	Config []byte `json:"config,omitempty"`
	Raw    []byte `json:"raw,omitempty"`
	// Refs are the resources this one refers to; a store refuses to
	// delete a resource something refers to.
	Refs []Ref `json:"refs,omitempty"`
}

// Ref names a resource by kind and Id.
type Ref struct {
	Kind Kind   `json:"kind"`
	ID   string `json:"id"`
}

// Clone returns a deep copy of r, so that a store and its callers never
// share byte slices.
func (r Resource) Clone() Resource {
	r.Config = slices.Clone(r.Config)
	r.Raw = slices.Clone(r.Raw)
	r.Refs = slices.Clone(r.Refs)
	return r
}

// Errors a Store returns; a store wraps none of them.
var (
	// ErrNotFound: no resource of that kind has that Id.
	ErrNotFound = errors.New("resource: not found")
	// ErrNameTaken: another resource of the kind has that Name.
	ErrNameTaken = errors.New("resource: name taken")
	// ErrIDTaken: a resource of the kind already has that Id.
	ErrIDTaken = errors.New("resource: id taken")
	// ErrInUse: a distribution or another resource refers to it.
	ErrInUse = errors.New("resource: in use")
)

// MissingRefError is returned when a write names a resource (in Refs, or
// a distribution's) that does not exist.
type MissingRefError struct{ Ref Ref }

func (e *MissingRefError) Error() string {
	return "resource: " + string(e.Ref.Kind) + " " + e.Ref.ID + " does not exist"
}

// Store keeps resources durably and enforces, in the write itself, the
// rules a shared database can enforce with constraints and transactions:
// unique Ids and names per kind, references to existing resources, no
// deleting what is referred to, and compare-and-swap updates. Every write
// is on stable storage when it returns nil, and a write that fails writes
// nothing; callers and the store share no memory (what is passed in,
// handed to change and check, and returned are copies). Change and check
// functions run inside the write (under the store's lock, or in its
// transaction): they must not call the store, and may be called more
// than once, only the last call deciding; nil means none. Implementations
// live under internal/store; storetest.RunResources is their conformance
// suite. A store that also keeps distributions counts their Refs as
// references.
type Store interface {
	// CreateResource stores r. When another resource of r.Kind has r.Name
	// it writes nothing and returns that one with ErrNameTaken; when one
	// has r.ID, ErrIDTaken; when one of r.Refs does not exist, a
	// *MissingRefError. Otherwise admit (when not nil) is called, inside
	// the write, with the number of resources of r.Kind that are not
	// Managed: an error from it (a quota) is returned and nothing is
	// written. On success existing is the zero Resource.
	CreateResource(ctx context.Context, r Resource, admit func(count int) error) (existing Resource, err error)
	// UpdateResource calls change with a copy of the stored resource,
	// inside the write, and stores what change leaves in it (Kind and ID
	// cannot change: a change that alters them fails the write). An
	// error from change is returned and nothing is written; ErrNotFound
	// (change is not called), ErrNameTaken and *MissingRefError as for
	// CreateResource.
	UpdateResource(ctx context.Context, kind Kind, id string, change func(r *Resource) error) (Resource, error)
	// DeleteResource calls check with the stored resource, inside the
	// write, and deletes it unless check fails (its error is returned) or
	// something other than itself refers to it (ErrInUse). ErrNotFound
	// for an unknown one.
	DeleteResource(ctx context.Context, kind Kind, id string, check func(r Resource) error) error
	// GetResource returns one resource, or ErrNotFound.
	GetResource(ctx context.Context, kind Kind, id string) (Resource, error)
	// Resources returns every resource of kind, ordered by Id.
	Resources(ctx context.Context, kind Kind) ([]Resource, error)
}

// Publisher brings resource changes to every edge (the fleet's hub
// implements it by logging them). Publishing a version twice is harmless:
// a resumed service publishes every resource again.
type Publisher interface {
	// PublishResource makes r (a new resource, or a new version of one)
	// known to edges; it returns once the change is durably logged.
	PublishResource(ctx context.Context, r Resource) error
	// RemoveResource makes edges forget a deleted resource.
	RemoveResource(ctx context.Context, kind Kind, id string) error
}
