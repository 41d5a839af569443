package invalidation

import (
	"context"
	"time"
)

// Store keeps invalidations durably. Implementations live under
// internal/store and all pass internal/store/storetest.
type Store interface {
	// Create records inv unless its distribution already holds an
	// invalidation with the same CallerReference; then it writes nothing and
	// returns that one with created == false. Otherwise admit is called, in
	// the same transaction, with the distribution's in-progress usage; an
	// error from admit is returned and nothing is written. When Create returns
	// created == true the record is on stable storage. When inv.ID is empty
	// the store gives the invalidation a fresh Id shaped like CloudFront's
	// ("I" and 13 of A-Z0-9), unique in the distribution for good; got
	// carries it.
	Create(ctx context.Context, inv Invalidation, admit func(inProgress Usage) error) (got Invalidation, created bool, err error)

	// Get returns one invalidation, or ErrNotFound.
	Get(ctx context.Context, distributionID, id string) (Invalidation, error)

	// List returns up to limit invalidations of a distribution, newest first,
	// starting after the one whose Id is marker ("" starts at the newest),
	// and whether more follow. An unknown marker gives ErrMarkerNotFound.
	List(ctx context.Context, distributionID, marker string, limit int) (page []Invalidation, more bool, err error)

	// Complete durably marks an invalidation Completed. Completing a
	// Completed invalidation is a no-op; an unknown one gives ErrNotFound.
	Complete(ctx context.Context, distributionID, id string, at time.Time) error

	// CompleteAll is Complete for many invalidations at once: errs[i]
	// (len(errs) == len(items)) is what Complete would return for
	// items[i], and one item's error (ErrNotFound above all) fails no
	// other. A durable store writes them together (one transaction, one
	// sync), which is why the service completes each batch with one call.
	CompleteAll(ctx context.Context, items []CompleteItem) (errs []error)

	// CountInProgress counts a distribution's InProgress invalidations.
	CountInProgress(ctx context.Context, distributionID string) (int, error)

	// InProgress returns every InProgress invalidation, oldest first, so that
	// work interrupted by a restart can go on.
	InProgress(ctx context.Context) ([]Invalidation, error)

	// Close releases the store; it waits for writes under way.
	Close() error
}

// CompleteItem is one invalidation for Store.CompleteAll to mark Completed
// at At.
type CompleteItem struct {
	DistributionID, ID string
	At                 time.Time
}
