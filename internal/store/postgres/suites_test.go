package postgres

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/storetest"
	"github.com/openfront/openfront/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var quiet = slog.New(slog.DiscardHandler)

// open opens a Store on a new database.
func open(t *testing.T) *Store {
	t.Helper()
	return openURL(t, pgtest.NewDatabase(t))
}

func openURL(t *testing.T, url string, opts ...Option) *Store {
	t.Helper()
	opts = append([]Option{WithLogger(quiet)}, opts...)
	s, err := Open(context.Background(), url, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// dirs gives the durable suites' directories a database each: "reopen"
// is a Close and an Open of the same database.
var dirs sync.Map // dir -> URL

func openDir(t *testing.T, dir string) *Store {
	t.Helper()
	url, ok := dirs.Load(dir)
	if !ok {
		url, _ = dirs.LoadOrStore(dir, pgtest.NewDatabase(t))
	}
	return openURL(t, url.(string))
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) invalidation.Store { return open(t) })
	storetest.RunDurable(t, func(t *testing.T, dir string) invalidation.Store { return openDir(t, dir) })
}

func TestDistributionConformance(t *testing.T) {
	storetest.RunDistributions(t, func(t *testing.T) storetest.DistributionStore { return open(t) })
	storetest.RunDistributionsDurable(t, func(t *testing.T, dir string) storetest.DistributionStore { return openDir(t, dir) })
}

func TestResourceConformance(t *testing.T) {
	storetest.RunResources(t, func(t *testing.T) storetest.DistributionStore { return open(t) })
	storetest.RunResourcesDurable(t, func(t *testing.T, dir string) storetest.DistributionStore { return openDir(t, dir) })
}

func TestEventLogConformance(t *testing.T) {
	storetest.RunEventLog(t, func(t *testing.T) storetest.EventStore { return open(t) })
	storetest.RunEventLogDurable(t, func(t *testing.T, dir string) storetest.EventStore { return openDir(t, dir) })
}

func TestRegistryConformance(t *testing.T) {
	storetest.RunRegistry(t, func(t *testing.T) storetest.EventStore { return open(t) })
	storetest.RunRegistryDurable(t, func(t *testing.T, dir string) storetest.EventStore { return openDir(t, dir) })
}
