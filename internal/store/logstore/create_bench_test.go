//go:build linux

package logstore

import (
	"context"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
)

// BenchmarkCreate is Create as the API's fast path calls it (the fleet
// event logged with the record, one path, 16 writers per CPU as make
// bench's clients at concurrency 16), measured by what issue 2's target
// pays for: the process's CPU per create (user and system, flusher
// included), allocations, and what each create leaves on the live heap
// (bytes and objects the GC marks on every cycle from then on: the record
// and the request's strings it keeps).
func BenchmarkCreate(b *testing.B) {
	s := open(b, b.TempDir(), WithInvalidationEvent(fleet.InvalidationEvent))
	defer s.Close()
	bg := context.Background()
	allowAll := func(invalidation.Usage) error { return nil }
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heap0, objs0 := ms.HeapAlloc, ms.HeapObjects
	// The inputs are made before the clock starts: the batch as the API
	// decodes it, its strings the request's.
	invs := make([]invalidation.Invalidation, b.N)
	for i := range invs {
		n := strconv.Itoa(i)
		invs[i] = invalidation.Invalidation{DistributionID: "EDFDVBD6EXAMPLE", Status: invalidation.InProgress,
			CreateTime: time.Now().UTC().Truncate(time.Millisecond),
			Batch:      invalidation.Batch{CallerReference: "bench-" + n, Paths: []string{"/images/bench-" + n + ".png"}}}
	}
	cpu0 := cpuTime()
	var next atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			inv := invs[next.Add(1)-1]
			if _, created, err := s.Create(bg, inv, allowAll); err != nil || !created {
				b.Errorf("Create: created %v, err %v", created, err)
				return
			}
		}
	})
	b.StopTimer()
	cpu := cpuTime() - cpu0
	invs = nil
	runtime.GC()
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric((float64(ms.HeapAlloc)-float64(heap0))/float64(b.N), "live-B/op")
	b.ReportMetric((float64(ms.HeapObjects)-float64(objs0))/float64(b.N), "live-objs/op")
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
