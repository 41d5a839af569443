package bolt

import (
	"testing"

	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/storetest"
)

// BenchmarkLifecycle is storetest.BenchLifecycle on bbolt, with the pages
// written per commit.
func BenchmarkLifecycle(b *testing.B) {
	s, err := Open(b.TempDir(), WithInvalidationEvent(fleet.InvalidationEvent))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	commitsBefore := commits(b, s)
	st := s.db.Stats()
	writesBefore := st.TxStats.GetWrite()
	storetest.BenchLifecycle(b, s, func() uint64 { return uint64(commits(b, s)) })
	txs := float64(commits(b, s) - commitsBefore)
	st = s.db.Stats()
	b.ReportMetric(float64(st.TxStats.GetWrite()-writesBefore)/txs, "pages/commit")
}

// BenchmarkCreateParallel is storetest.BenchCreateParallel on bbolt.
func BenchmarkCreateParallel(b *testing.B) {
	storetest.BenchCreateParallel(b, func(b *testing.B) (invalidation.Store, func() uint64) {
		s := open(b, b.TempDir())
		return s, func() uint64 { return uint64(commits(b, s)) }
	})
}
