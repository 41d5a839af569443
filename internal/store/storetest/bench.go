package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/eventlog"
	"github.com/openfront/openfront/internal/invalidation"
)

// LifecycleStore is what BenchLifecycle asks of a backend: the stores
// `openfront serve` uses, the invalidations and the fleet's log.
type LifecycleStore interface {
	invalidation.Store
	eventlog.Store
}

// BenchLifecycle runs what `openfront serve` asks of s per invalidation,
// from 8×GOMAXPROCS goroutines: Create (s should be opened so that it logs
// the fleet event with it, as serve opens it), the hub's AppendEvent of
// the same key (event gives it: serve's is fleet.InvalidationEvent), and
// Complete. It reports the process CPU per invalidation
// and, from commits (the backend's group commits so far), the commits per
// invalidation. Backends report their own metrics around it.
func BenchLifecycle(b *testing.B, s LifecycleStore, event eventlog.EventFunc, commits func() uint64) {
	bg := context.Background()
	allowAll := func(invalidation.Usage) error { return nil }
	var n atomic.Int64
	commitsBefore := commits()
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
				b.Errorf("Create: created %v, err %v", created, err)
				return
			}
			key, data := event(inv)
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
	b.ReportMetric(float64(commits()-commitsBefore)/float64(b.N), "commits/inv")
}

// BenchCreateParallel creates invalidations (Ids left to the store) from
// 1, 4, 16 and 64×GOMAXPROCS goroutines at once, each run on a fresh store
// from open, which also returns the backend's commit count. Group commit
// shows as creates/commit well above 1 and creates/s well above what one
// fsync per create allows (compare goroutines=1).
func BenchCreateParallel(b *testing.B, open func(b *testing.B) (s invalidation.Store, commits func() uint64)) {
	bg := context.Background()
	allowAll := func(invalidation.Usage) error { return nil }
	for _, par := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("goroutines=%dxGOMAXPROCS", par), func(b *testing.B) {
			s, commits := open(b)
			defer s.Close()
			var n atomic.Int64
			before := commits()
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
			if c := commits() - before; c > 0 {
				b.ReportMetric(float64(b.N)/float64(c), "creates/commit")
			}
		})
	}
}

// BenchCompleteBatch records batches of size invalidations Completed, as
// the invalidation service does once the fleet has applied a batch: "one"
// is a goroutine and a Complete per invalidation (the service before
// CompleteAll), "all" one CompleteAll per batch. The invalidations are
// created first, untimed (use -benchtime=Nx: N×size creates); it reports
// the process CPU per invalidation completed.
func BenchCompleteBatch(b *testing.B, open func(b *testing.B) invalidation.Store, size int) {
	bg := context.Background()
	allowAll := func(invalidation.Usage) error { return nil }
	for _, mode := range []string{"one", "all"} {
		b.Run(mode, func(b *testing.B) {
			s := open(b)
			defer s.Close()
			invs := make([]invalidation.Invalidation, b.N*size)
			var wg sync.WaitGroup
			var next atomic.Int64
			for range 64 {
				wg.Go(func() {
					for i := int(next.Add(1)) - 1; i < len(invs); i = int(next.Add(1)) - 1 {
						inv, _, err := s.Create(bg, invalidation.Invalidation{DistributionID: "EBENCH", Status: invalidation.InProgress,
							CreateTime: time.Now().UTC().Truncate(time.Millisecond),
							Batch:      invalidation.Batch{CallerReference: fmt.Sprint("ref-", i), Paths: []string{"/index.html"}}}, allowAll)
						if err != nil {
							b.Error(err)
							return
						}
						invs[i] = inv
					}
				})
			}
			wg.Wait()
			items := make([]invalidation.CompleteItem, size)
			b.ResetTimer()
			cpu := cpuTime()
			for n := range b.N {
				batch := invs[n*size : (n+1)*size]
				at := time.Now()
				if mode == "one" {
					var wg sync.WaitGroup
					for _, inv := range batch {
						wg.Go(func() {
							if err := s.Complete(bg, inv.DistributionID, inv.ID, at); err != nil {
								b.Error(err)
							}
						})
					}
					wg.Wait()
					continue
				}
				for i, inv := range batch {
					items[i] = invalidation.CompleteItem{DistributionID: inv.DistributionID, ID: inv.ID, At: at}
				}
				for _, err := range s.CompleteAll(bg, items) {
					if err != nil {
						b.Error(err)
					}
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N*size), "cpu-ns/inv")
		})
	}
}
