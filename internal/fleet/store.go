// Package fleet keeps a fleet of edges in step with the control plane.
//
// The control plane (Hub) appends every change an edge must apply — an
// invalidation, a distribution's new configuration, a deletion, a new
// version of a resource such as a cache policy — to a
// durable, ordered log, and pushes it to each edge over a long-lived
// Server-Sent Events stream whose event ids are log positions. Each edge
// (Follower) applies events in order and acknowledges the position it has
// reached. An invalidation is Completed, and a configuration Deployed, once
// every live edge has acknowledged its position. An edge reconnecting
// resumes after the last position it applied, so it misses nothing.
package fleet

import "github.com/openfront/openfront/internal/eventlog"

// The event log's vocabulary lives in internal/eventlog, which the stores
// import instead of this package; these names are the fleet's for it.
type (
	// Store is the durable part of the hub: eventlog.Store.
	Store = eventlog.Store
	// StoredEvent is one entry of the log: eventlog.StoredEvent.
	StoredEvent = eventlog.StoredEvent
	// InvalidationLog is eventlog.InvalidationLog: a Store that logs each
	// invalidation's event (InvalidationEvent) with its create.
	InvalidationLog = eventlog.InvalidationLog
)
