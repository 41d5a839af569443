package postgres

import (
	"testing"

	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/storetest"
	"github.com/openfront/openfront/internal/testutil/pgtest"
)

// BenchmarkCreateParallel is storetest.BenchCreateParallel on PostgreSQL,
// the fleet event logged with each create as serve does: creates/commit
// is how many Creates each transaction grouped.
func BenchmarkCreateParallel(b *testing.B) {
	storetest.BenchCreateParallel(b, func(b *testing.B) (invalidation.Store, func() uint64) {
		s, err := Open(bg, pgtest.NewDatabase(b), WithLogger(quiet), WithInvalidationEvent(fleet.InvalidationEvent))
		if err != nil {
			b.Fatal(err)
		}
		return s, s.Groups
	})
}
