package fleet_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/store/memory"
	"github.com/openfront/openfront/internal/testutil"
)

// BenchmarkPublish is the hub's own cost of logging an event (memory
// store, three registered edges, no streams), with the admin view full.
func BenchmarkPublish(b *testing.B) {
	h, err := fleet.NewHub(context.Background(), fleet.HubConfig{Store: memory.New(), Logger: quiet, EdgeTimeout: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	for _, n := range []string{"a", "b", "c"} {
		h.Expect(n, "")
	}
	i := inv("I", "/x")
	ev := fleet.Event{Kind: fleet.KindInvalidation, Invalidation: &i}
	ctx := context.Background()
	for n := range 25000 { // past the 20,000 events the admin view keeps
		h.Publish(ctx, fmt.Sprint("warm/", n), ev)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; b.Loop(); n++ {
		if _, err := h.Publish(ctx, fmt.Sprint("inv/", n), ev); err != nil {
			b.Fatal(err)
		}
	}
}

// processCPU is the CPU time (user and system) this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFanout is one invalidation logged and applied by every edge:
// followers over loopback HTTP (SSE stream, acknowledgements), in this
// process, memory store. ns/op is the time to WaitApplied, on a machine
// where the hub and the followers share the CPUs; cpu-ns/op is the CPU
// the whole process (hub and followers) used per invalidation.
func BenchmarkFanout(b *testing.B) {
	for _, edges := range []int{1, 3, 10, 50} {
		b.Run(fmt.Sprint("edges=", edges), func(b *testing.B) {
			r := newRig(b, fleet.HubConfig{EdgeTimeout: time.Hour})
			var es []*edge
			for n := range edges {
				es = append(es, startFollower(b, r.srv.URL, fmt.Sprint("edge-", n), time.Hour))
			}
			for _, e := range es {
				testutil.Eventually(b, 15*time.Second, e.f.Fresh, "every follower fresh")
			}
			i := inv("I", "/x")
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			for n := 0; b.Loop(); n++ {
				i.ID = fmt.Sprint("I", n)
				if err := r.hub.Apply(ctx, i); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// BenchmarkFanoutReplicas is BenchmarkFanout with two replicas on one
// shared memory store, half the edges on each, invalidations logged at
// the first: what the shared path (wake-ups, registry writes within
// ackFlush, entries read back) costs; ns/op includes the other replica's
// acknowledgements reaching the first through the store.
func BenchmarkFanoutReplicas(b *testing.B) {
	for _, edges := range []int{2, 10} {
		b.Run(fmt.Sprint("edges=", edges), func(b *testing.B) {
			shared := memory.New().Shared()
			var hubs []*fleet.Hub
			var urls []string
			for range 2 {
				h := newHub(b, shared, fleet.HubConfig{EdgeTimeout: time.Hour})
				srv := httptest.NewServer(h.Handler())
				b.Cleanup(srv.Close)
				b.Cleanup(h.StopStreams)
				hubs, urls = append(hubs, h), append(urls, srv.URL)
			}
			var es []*edge
			for n := range edges {
				es = append(es, startFollower(b, urls[n%2], fmt.Sprint("edge-", n), time.Hour))
			}
			for _, e := range es {
				testutil.Eventually(b, 15*time.Second, e.f.Fresh, "every follower fresh")
			}
			testutil.Eventually(b, 15*time.Second, func() bool { return len(hubs[0].Status().Edges) == edges }, "every edge known to the first replica")
			i := inv("I", "/x")
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU()
			for n := 0; b.Loop(); n++ {
				i.ID = fmt.Sprint("I", n)
				if err := hubs[0].Apply(ctx, i); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}
