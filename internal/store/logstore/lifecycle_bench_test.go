package logstore

import (
	"fmt"
	"os"
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
// CPU per invalidation, the commits (frames, each one write and one
// fdatasync) per invalidation and the bytes written per invalidation; it
// is the counterpart of internal/store/bolt's BenchmarkLifecycle.
func BenchmarkLifecycle(b *testing.B) {
	s := open(b, b.TempDir(), WithInvalidationEvent(fleet.InvalidationEvent))
	defer s.Close()
	var n atomic.Int64
	commitsBefore := s.Commits()
	fi, _ := os.Stat(s.path)
	sizeBefore := fi.Size()
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
	b.ReportMetric(float64(s.Commits()-commitsBefore)/float64(b.N), "commits/inv")
	fi, _ = os.Stat(s.path)
	b.ReportMetric(float64(fi.Size()-sizeBefore)/float64(b.N), "bytes/inv")
}

// BenchmarkCreateParallel creates invalidations from many goroutines at
// once, as internal/store/bolt's benchmark of the same name.
func BenchmarkCreateParallel(b *testing.B) {
	for _, par := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("goroutines=%dxGOMAXPROCS", par), func(b *testing.B) {
			s := open(b, b.TempDir())
			defer s.Close()
			var n atomic.Int64
			before := s.Commits()
			b.SetParallelism(par)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					inv := invalidation.Invalidation{
						DistributionID: fmt.Sprint("E", i%8),
						Status:         invalidation.InProgress,
						CreateTime:     time.Now().UTC(),
						Batch:          invalidation.Batch{CallerReference: fmt.Sprint("ref-", i), Paths: []string{"/index.html"}},
					}
					if _, created, err := s.Create(bg, inv, allowAll); err != nil || !created {
						b.Errorf("Create: created %v, err %v", created, err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
			if c := s.Commits() - before; c > 0 {
				b.ReportMetric(float64(b.N)/float64(c), "creates/commit")
			}
		})
	}
}
