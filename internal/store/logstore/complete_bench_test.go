package logstore

import (
	"testing"

	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/storetest"
)

// BenchmarkCompleteBatch is storetest.BenchCompleteBatch on the log store,
// batches of 6 (what make bench's concurrency 16 gives).
func BenchmarkCompleteBatch(b *testing.B) {
	storetest.BenchCompleteBatch(b, func(b *testing.B) invalidation.Store {
		return open(b, b.TempDir(), WithInvalidationEvent(fleet.InvalidationEvent))
	}, 6)
}
