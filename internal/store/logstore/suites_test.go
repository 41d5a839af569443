package logstore

import (
	"testing"

	"github.com/openfront/openfront/internal/store/storetest"
)

func TestDistributionConformance(t *testing.T) {
	storetest.RunDistributions(t, func(t *testing.T) storetest.DistributionStore { return open(t, t.TempDir()) })
	storetest.RunDistributionsDurable(t, func(t *testing.T, dir string) storetest.DistributionStore { return open(t, dir) })
}

func TestResourceConformance(t *testing.T) {
	storetest.RunResources(t, func(t *testing.T) storetest.DistributionStore { return open(t, t.TempDir()) })
	storetest.RunResourcesDurable(t, func(t *testing.T, dir string) storetest.DistributionStore { return open(t, dir) })
}

func TestEventLogConformance(t *testing.T) {
	storetest.RunEventLog(t, func(t *testing.T) storetest.EventStore { return open(t, t.TempDir()) })
	storetest.RunEventLogDurable(t, func(t *testing.T, dir string) storetest.EventStore { return open(t, dir) })
}

func TestRegistryConformance(t *testing.T) {
	storetest.RunRegistry(t, func(t *testing.T) storetest.EventStore { return open(t, t.TempDir()) })
	storetest.RunRegistryDurable(t, func(t *testing.T, dir string) storetest.EventStore { return open(t, dir) })
}
