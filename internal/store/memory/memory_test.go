package memory_test

import (
	"testing"

	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/memory"
	"github.com/openfront/openfront/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) invalidation.Store { return memory.New() })
}

var _ invalidation.Store = (*memory.Store)(nil)

// BenchmarkCompleteBatch is storetest.BenchCompleteBatch on the memory
// store: the cost of the calls themselves, without a write.
func BenchmarkCompleteBatch(b *testing.B) {
	storetest.BenchCompleteBatch(b, func(b *testing.B) invalidation.Store { return memory.New() }, 6)
}
