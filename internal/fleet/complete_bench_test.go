package fleet_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/logstore"
	"github.com/openfront/openfront/internal/store/memory"
	"github.com/openfront/openfront/internal/testutil"
)

// oneApplier hides the hub's ApplyAll: the service then completes each
// invalidation in a goroutine of its own, as it did before batches.
type oneApplier struct{ invalidation.Applier }

type benchDists struct{}

func (benchDists) Exists(id string) bool            { return id == distID }
func (benchDists) Acquire(id string) (func(), bool) { return func() {}, id == distID }

// BenchmarkComplete is the control plane's cost of creating and completing
// an invalidation with one in-process edge (as `openfront serve`), 16
// creators at once, memory store, per invalidation (cpu-ns/op: the whole
// process), with completion in batches (Hub.ApplyAll) and one by one; and
// in batches with the log store as `openfront serve` runs it (which logs
// each invalidation's event with its create; in a temporary directory).
func BenchmarkComplete(b *testing.B) {
	for _, mode := range []string{"batch", "one", "log"} {
		b.Run(mode, func(b *testing.B) {
			var store interface {
				invalidation.Store
				fleet.Store
			} = memory.New()
			if mode == "log" {
				s, err := logstore.Open(b.TempDir(), logstore.WithInvalidationEvent(fleet.InvalidationEvent), logstore.WithLogger(quiet))
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				store = s
			}
			h := newHub(b, store, fleet.HubConfig{EdgeTimeout: time.Hour})
			f := fleet.NewFollower(fleet.FollowerConfig{Hub: h, Name: "local", Addr: "http://local.test",
				Registry: distribution.NewRegistry(), Cache: &recordingCache{}, MaxStaleness: 2 * time.Second, Logger: quiet})
			runFollower(b, f)
			testutil.Eventually(b, 15*time.Second, f.Fresh, "the follower fresh")
			var applier invalidation.Applier = h
			if mode == "one" {
				applier = oneApplier{h}
			}
			svc := invalidation.NewService(invalidation.Config{Store: store, Distributions: benchDists{}, Applier: applier, Logger: quiet,
				Limits: invalidation.Limits{MaxBatchPaths: 10, MaxInProgressFilePaths: 1 << 30, MaxInProgressWildcardPaths: 10, MaxPathLength: 100}})
			defer svc.Close()
			ctx := context.Background()
			var n atomic.Int64
			b.SetParallelism(8)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ref := fmt.Sprint("r", n.Add(1))
					if _, _, err := svc.Create(ctx, distID, invalidation.Batch{CallerReference: ref, Paths: []string{"/" + ref}}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			for {
				c, err := svc.InProgressBatches(ctx, distID)
				if err != nil {
					b.Fatal(err)
				}
				if c == 0 {
					break
				}
				time.Sleep(100 * time.Microsecond) // inside the measured time: a short pause
			}
			b.StopTimer()
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// encodingStore hides the log store's InvalidationLog: the hub encodes
// each invalidation's event and looks it up with AppendEvent, as it did
// before the interface.
type encodingStore struct{ *logstore.Store }

func (s encodingStore) InvalidationEvents() {} // not fleet.InvalidationLog's

// BenchmarkApplyAllLogged is the hub's cost of logging a batch of 6
// invalidations the log store logged with their creates (no edges): with
// the events taken from the store (logged) and encoded again (encode).
func BenchmarkApplyAllLogged(b *testing.B) {
	for _, mode := range []string{"encode", "logged"} {
		b.Run(mode, func(b *testing.B) {
			ls, err := logstore.Open(b.TempDir(), logstore.WithInvalidationEvent(fleet.InvalidationEvent), logstore.WithLogger(quiet))
			if err != nil {
				b.Fatal(err)
			}
			defer ls.Close()
			var store fleet.Store = ls
			if mode == "encode" {
				store = encodingStore{ls}
			}
			h := newHub(b, store, fleet.HubConfig{EdgeTimeout: time.Hour})
			ctx := context.Background()
			batch := make([]invalidation.Invalidation, 6)
			for i := range batch {
				batch[i], _, err = ls.Create(ctx, invalidation.Invalidation{DistributionID: distID, Status: invalidation.InProgress, CreateTime: time.Now().UTC(),
					Batch: invalidation.Batch{CallerReference: fmt.Sprint("r", i), Paths: []string{fmt.Sprint("/p", i)}}}, func(invalidation.Usage) error { return nil })
				if err != nil {
					b.Fatal(err)
				}
			}
			h.ApplyAll(ctx, batch, func(int, error) {}) // announced once; later ones find them logged
			b.ReportAllocs()
			for b.Loop() {
				h.ApplyAll(ctx, batch, func(int, error) {})
			}
		})
	}
}
