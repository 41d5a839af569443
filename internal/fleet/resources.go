package fleet

import (
	"context"
	"errors"

	"github.com/openfront/openfront/internal/resource"
)

// ResourceSource returns every resource the control plane holds, for
// snapshots. A change must be visible here before it is published (as a
// distribution is in the registry before it is logged), so that a
// snapshot is never older than the head it claims.
type ResourceSource func() []resource.Resource

// Resources is what a follower applies resource events to. The
// follower's Cache implements it when it acts on resources (the edge
// does); a Cache that does not ignores them.
type Resources interface {
	// PutResource makes r (a new resource or a new version of one) the
	// one in force. An error says its Config could not be read: the edge
	// keeps what it had.
	PutResource(r resource.Resource) error
	// ForgetResource forgets a deleted resource.
	ForgetResource(kind resource.Kind, id string)
	// ReplaceResources makes rs the only resources known (a snapshot).
	ReplaceResources(rs []resource.Resource)
}

var _ resource.Publisher = (*Hub)(nil)

// PublishResource implements resource.Publisher: r is logged under
// "res/<kind>/<id>/<etag>" (so publishing a version again logs nothing
// new) and streamed to every edge. It returns once the event is logged,
// without waiting for the edges.
func (h *Hub) PublishResource(ctx context.Context, r resource.Resource) error {
	if r.Kind == "" || r.ID == "" {
		return errors.New("fleet: a resource needs a kind and an id")
	}
	r = r.Clone()
	r.Raw = nil // edges act on Config only
	_, err := h.Publish(ctx, ResourceKey(r.Kind, r.ID, r.ETag), Event{Kind: KindResource, Resource: &r})
	return err
}

// RemoveResource implements resource.Publisher: edges forget the
// resource. The event is logged under "res-del/<kind>/<id>".
func (h *Hub) RemoveResource(ctx context.Context, kind resource.Kind, id string) error {
	_, err := h.Publish(ctx, "res-del/"+string(kind)+"/"+id, Event{Kind: KindResourceRemove, ResourceKind: kind, ResourceID: id})
	return err
}

// ResourceKey is the log key of the event of a resource's version.
func ResourceKey(kind resource.Kind, id, etag string) string {
	return "res/" + string(kind) + "/" + id + "/" + etag
}
