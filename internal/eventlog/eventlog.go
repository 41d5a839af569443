// Package eventlog is the vocabulary shared by the fleet's control plane
// (internal/fleet) and the stores that keep its log (internal/store/...):
// the durable, ordered log of changes every edge applies, the registry of
// edges, and the keys under which an invalidation's event is logged. It is
// a leaf: it knows the domain's Invalidation and nothing of HTTP, the
// fleet's protocol or any store, so that a store implements the log
// without importing the fleet.
package eventlog

import (
	"context"
	"strings"

	"github.com/openfront/openfront/internal/invalidation"
)

// Store is the durable part of the fleet's control plane: the event log
// and the registry of edges. Implementations live under internal/store;
// storetest.RunEventLog and storetest.RunRegistry are their conformance
// suites.
type Store interface {
	// AppendEvent adds data to the log under key and returns its position.
	// If key was appended before, nothing is written and that position is
	// returned: appending is idempotent, so work resumed after a restart
	// does not log twice. The event is on stable storage when it returns.
	AppendEvent(ctx context.Context, key string, data []byte) (pos uint64, err error)
	// EventsAfter returns up to limit events with positions above after,
	// in order. The caller must not modify their data.
	EventsAfter(ctx context.Context, after uint64, limit int) ([]StoredEvent, error)
	// LogBounds returns the first retained and the last position. When no
	// event is retained (none appended yet, or all trimmed), first is
	// last+1: (1, 0) for a new log.
	LogBounds(ctx context.Context) (first, last uint64, err error)
	// TrimEvents drops events at positions below before. Their keys stay
	// logged: appending one again returns its old position.
	TrimEvents(ctx context.Context, before uint64) error
	// PutEdge stores data as the registry entry of the edge called name,
	// replacing any entry stored under that name. It writes that entry
	// only, as one single-row write in a shared database would: control
	// planes writing different edges do not undo each other's writes. The
	// entry is on stable storage when it returns. Neither side's later
	// changes to data reach the other (nor to the slices Edges returns).
	PutEdge(ctx context.Context, name string, data []byte) error
	// DeleteEdge removes the registry entry of the edge called name, and
	// only that one; a name not stored is no error. The removal is on
	// stable storage when it returns.
	DeleteEdge(ctx context.Context, name string) error
	// Edges returns the stored registry of edges, by name.
	Edges(ctx context.Context) (map[string][]byte, error)
}

// StoredEvent is one entry of the log.
type StoredEvent struct {
	Pos  uint64
	Data []byte
}

// InvalidationLog is what a Store may also implement when it logs each
// invalidation's event with the invalidation itself, in the write that
// creates it (under InvalidationKey; the fleet encodes the data): the
// fleet then takes the logged events from it for a batch, at one call,
// instead of encoding each again to append it (which finds it logged).
type InvalidationLog interface {
	// InvalidationEvents sets evs[i] (len(evs) == len(invs)) to the event
	// logged for invs[i], its position and data, once that is on stable
	// storage; it leaves evs[i] zero when it holds none (the fleet then
	// appends one). The data is the log's own: neither side modifies it.
	InvalidationEvents(ctx context.Context, invs []invalidation.Invalidation, evs []StoredEvent) error
}

// EventFunc returns the key and data of the event the fleet logs for a new
// invalidation, so that a store can log it in the write that creates the
// invalidation. An empty key means the store logs nothing for it (the
// fleet then appends the event itself).
type EventFunc func(invalidation.Invalidation) (key string, data []byte)

// InvalidationKey is the log key of the event of distribution distID's
// invalidation id.
func InvalidationKey(distID, id string) string { return "inv/" + distID + "/" + id }

// ParseInvalidationKey splits a key made by InvalidationKey; ok is false
// for any other key.
func ParseInvalidationKey(key string) (distID, id string, ok bool) {
	rest, ok := strings.CutPrefix(key, "inv/")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return "", "", false
	}
	return rest[:i], rest[i+1:], true
}

// Notifier is what a Store shared by several control-plane replicas (one
// database, many `openfront serve --no-edge` processes) also implements,
// so that each replica learns of what the others write without reading
// the log in a loop. A hub whose Store does not implement it is the only
// replica: it keeps the head, the acknowledgements of its edges and the
// completion of work in memory and trusts nothing else to write the log
// or the registry.
//
// The contract:
//   - After any change to the log (an AppendEvent that added an event,
//     a TrimEvents) is committed, by any replica (this process included),
//     every subscription receives a wake-up on its log channel; after any
//     change to the registry (PutEdge, DeleteEdge of a stored entry), on
//     its registry channel. It is sent after the commit, so that what the
//     subscriber reads next includes the change.
//   - Wake-ups carry nothing: they may be coalesced (many changes, one
//     wake-up; the channel holds at most one pending) and may be spurious
//     (a wake-up with nothing changed, e.g. after a reconnection to the
//     database, which must send one since changes made while it was cut
//     off were not notified). After each, the subscriber re-reads what it
//     needs: LogBounds for the head, Edges for the registry.
//   - A shared log's positions become visible in order: once LogBounds
//     returns last, every event at or below last (not trimmed) is
//     readable by EventsAfter. A store whose positions may commit out of
//     order (a database sequence) reports as last only the end of the
//     run of committed positions.
//
// Subscribe never blocks the writers: a subscriber that does not read
// holds one pending wake-up, not a queue.
type Notifier interface {
	// Subscribe returns the channels that receive a wake-up after each
	// committed change of the log and of the registry (as above), and a
	// function that ends the subscription (the channels are not closed).
	Subscribe() (log, registry <-chan struct{}, cancel func())
}
