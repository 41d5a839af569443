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
