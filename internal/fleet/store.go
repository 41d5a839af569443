// Package fleet keeps a fleet of edges in step with the control plane.
//
// The control plane (Hub) appends every change an edge must apply — an
// invalidation, a distribution's new configuration, a deletion — to a
// durable, ordered log, and pushes it to each edge over a long-lived
// Server-Sent Events stream whose event ids are log positions. Each edge
// (Follower) applies events in order and acknowledges the position it has
// reached. An invalidation is Completed, and a configuration Deployed, once
// every live edge has acknowledged its position. An edge reconnecting
// resumes after the last position it applied, so it misses nothing.
package fleet

import (
	"context"

	"github.com/openfront/openfront/internal/invalidation"
)

// Store is the durable part of the hub: the event log and the registry of
// edges. Implementations live under internal/store.
type Store interface {
	// AppendEvent adds data to the log under key and returns its position.
	// If key was appended before, nothing is written and that position is
	// returned: appending is idempotent, so work resumed after a restart
	// does not log twice. The event is on stable storage when it returns.
	AppendEvent(ctx context.Context, key string, data []byte) (pos uint64, err error)
	// EventsAfter returns up to limit events with positions above after,
	// in order.
	EventsAfter(ctx context.Context, after uint64, limit int) ([]StoredEvent, error)
	// LogBounds returns the first retained and the last position. When no
	// event is retained (none appended yet, or all trimmed), first is
	// last+1: (1, 0) for a new log.
	LogBounds(ctx context.Context) (first, last uint64, err error)
	// TrimEvents drops events at positions below before. Their keys stay
	// logged: appending one again returns its old position.
	TrimEvents(ctx context.Context, before uint64) error
	// SaveEdges replaces the stored registry of edges. Neither side's later
	// changes to the byte slices reach the other (nor for Edges).
	SaveEdges(ctx context.Context, edges map[string][]byte) error
	// Edges returns the stored registry of edges.
	Edges(ctx context.Context) (map[string][]byte, error)
}

// StoredEvent is one entry of the log.
type StoredEvent struct {
	Pos  uint64
	Data []byte
}

// InvalidationLog is what a Store may also implement when it logs each
// invalidation's event with the invalidation itself, in the write that
// creates it (as InvalidationEvent encodes it, under InvalidationKey): the
// hub then takes the logged events from it for a batch, at one call,
// instead of encoding each again to append it (which finds it logged).
type InvalidationLog interface {
	// InvalidationEvents sets evs[i] (len(evs) == len(invs)) to the event
	// logged for invs[i], its position and data, once that is on stable
	// storage; it leaves evs[i] zero when it holds none (the hub then
	// appends one). The data is the log's own: neither side modifies it.
	InvalidationEvents(ctx context.Context, invs []invalidation.Invalidation, evs []StoredEvent) error
}
