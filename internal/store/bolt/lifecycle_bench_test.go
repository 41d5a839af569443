package bolt

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLifecycle runs what `openfront serve` asks of the store per
// invalidation, from 16 goroutines: Create (logging its fleet event), the
// hub's AppendEvent of the same key, and Complete. It reports the process
// CPU per invalidation and the commits per invalidation.
func BenchmarkLifecycle(b *testing.B) {
	s, err := Open(b.TempDir(), WithInvalidationEvent(fleet.InvalidationEvent))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	var n atomic.Int64
	commitsBefore := commits(b, s)
	st := s.db.Stats()
	writesBefore := st.TxStats.GetWrite()
	cpu := cpuTime()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			inv, created, err := s.Create(bg, invalidation.Invalidation{DistributionID: "EBENCH", Status: invalidation.InProgress,
				CreateTime: time.Now().UTC().Truncate(time.Millisecond),
				Batch:      invalidation.Batch{CallerReference: fmt.Sprint("ref-", i, "-", time.Now().UnixNano()), Paths: []string{"/index.html"}}}, allowAll)
			if err != nil || !created {
				b.Errorf("Create: %v", err)
				return
			}
			key, data := fleet.InvalidationEvent(inv)
			if _, err := s.AppendEvent(bg, key, data); err != nil {
				b.Error(err)
				return
			}
			if err := s.Complete(bg, inv.DistributionID, inv.ID, time.Now()); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N)/1e3, "cpu-µs/inv")
	txs := float64(commits(b, s) - commitsBefore)
	b.ReportMetric(txs/float64(b.N), "commits/inv")
	st = s.db.Stats()
	b.ReportMetric(float64(st.TxStats.GetWrite()-writesBefore)/txs, "pages/commit")
}
