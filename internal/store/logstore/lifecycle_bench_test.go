package logstore

import (
	"os"
	"testing"

	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/storetest"
)

// BenchmarkLifecycle is storetest.BenchLifecycle on the log store (its
// commits are frames, each one write and one fdatasync), with the bytes
// the log grows per invalidation.
func BenchmarkLifecycle(b *testing.B) {
	s := open(b, b.TempDir(), WithInvalidationEvent(fleet.InvalidationEvent))
	defer s.Close()
	fi, _ := os.Stat(s.path)
	sizeBefore := fi.Size()
	storetest.BenchLifecycle(b, s, fleet.InvalidationEvent, s.Commits)
	fi, _ = os.Stat(s.path)
	b.ReportMetric(float64(fi.Size()-sizeBefore)/float64(b.N), "bytes/inv")
}

// BenchmarkCreateParallel is storetest.BenchCreateParallel on the log store.
func BenchmarkCreateParallel(b *testing.B) {
	storetest.BenchCreateParallel(b, func(b *testing.B) (invalidation.Store, func() uint64) {
		s := open(b, b.TempDir())
		return s, s.Commits
	})
}
