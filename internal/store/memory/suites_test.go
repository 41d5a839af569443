package memory_test

import (
	"testing"

	"github.com/openfront/openfront/internal/store/memory"
	"github.com/openfront/openfront/internal/store/storetest"
)

func TestDistributionConformance(t *testing.T) {
	storetest.RunDistributions(t, func(t *testing.T) storetest.DistributionStore { return memory.New() })
}

func TestResourceConformance(t *testing.T) {
	storetest.RunResources(t, func(t *testing.T) storetest.DistributionStore { return memory.New() })
}

func TestEventLogConformance(t *testing.T) {
	storetest.RunEventLog(t, func(t *testing.T) storetest.EventStore { return memory.New() })
}

func TestRegistryConformance(t *testing.T) {
	storetest.RunRegistry(t, func(t *testing.T) storetest.EventStore { return memory.New() })
}

func TestNotifierConformance(t *testing.T) {
	storetest.RunNotifier(t, func(t *testing.T) storetest.Replicas {
		s := memory.New()
		return storetest.Replicas{Writer: s, Watcher: s.Shared()}
	})
}
