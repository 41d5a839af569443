package metrics

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/openfront/openfront/internal/cloudfront"
	"github.com/openfront/openfront/internal/edge"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
)

// TestAPICountsWithoutAllocating checks the API's counters by operation
// and code, and that a request's count allocates nothing once its code
// was seen.
func TestAPICountsWithoutAllocating(t *testing.T) {
	r := New()
	a := r.API()
	a.Request(cloudfront.OpCreateInvalidation, 201, time.Millisecond)
	a.Request(cloudfront.OpCreateInvalidation, 400, time.Millisecond)
	a.Request(cloudfront.OpGetDistribution, 200, time.Millisecond)
	a.Request(cloudfront.Operation(200), 404, time.Millisecond) // out of range: Unknown
	n := testing.AllocsPerRun(1000, func() { a.Request(cloudfront.OpCreateInvalidation, 201, 50*time.Microsecond) })
	if n != 0 {
		t.Errorf("counting an API request allocates %v times, want 0", n)
	}
	want := `
# HELP openfront_api_requests_total CloudFront API requests answered, by operation and HTTP status code.
# TYPE openfront_api_requests_total counter
openfront_api_requests_total{code="200",operation="GetDistribution"} 1
openfront_api_requests_total{code="201",operation="CreateInvalidation"} 1002
openfront_api_requests_total{code="400",operation="CreateInvalidation"} 1
openfront_api_requests_total{code="404",operation="Unknown"} 1
`
	if err := testutil.GatherAndCompare(r.Gatherer(), strings.NewReader(want), NameAPIRequests); err != nil {
		t.Error(err)
	}
}

// TestEdgeCountsWithoutAllocating checks the edge's per-distribution
// counters, bound once, count without allocating.
func TestEdgeCountsWithoutAllocating(t *testing.T) {
	r := New()
	bytes := uint64(12345)
	e := r.Edge(func() uint64 { return bytes })
	d := e.Distribution("E1")
	n := testing.AllocsPerRun(1000, func() {
		d.Request(edge.ResultHit)
		d.OriginLatency(3 * time.Millisecond)
	})
	if n != 0 {
		t.Errorf("counting an edge request allocates %v times, want 0", n)
	}
	d.Request(edge.ResultMiss)
	d.Request(edge.NumResults) // out of range: Error
	e.Distribution(edge.NoDistribution).Request(edge.ResultError)
	want := `
# HELP openfront_edge_cache_bytes Bytes the edge's cached objects take (bodies, headers, keys and per-object overhead): what --cache-size bounds.
# TYPE openfront_edge_cache_bytes gauge
openfront_edge_cache_bytes 12345
`
	if err := testutil.GatherAndCompare(r.Gatherer(), strings.NewReader(want), NameEdgeCacheBytes); err != nil {
		t.Error(err)
	}
	for _, c := range []struct {
		dist, result string
		want         float64
	}{{"E1", "Hit", 1001}, {"E1", "Miss", 1}, {"E1", "Error", 1}, {"E1", "RefreshHit", 0}, {"-", "Error", 1}} {
		if got := testutil.ToFloat64(e.requests.WithLabelValues(c.dist, c.result)); got != c.want {
			t.Errorf("%s %s = %v, want %v", c.dist, c.result, got, c.want)
		}
	}
	if got := histogramCount(t, r, NameEdgeOriginDuration); got != 1001 {
		t.Errorf("origin latencies %v, want 1001", got)
	}
}

// TestCompletionCommitAndLag checks the invalidation, store and fleet
// collectors.
func TestCompletionCommitAndLag(t *testing.T) {
	r := New()
	done := r.Invalidations()
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	done(invalidation.Invalidation{CreateTime: created}, created.Add(1500*time.Millisecond))
	commit := r.StoreCommits()
	commit(300 * time.Microsecond)
	commit(2 * time.Millisecond)
	if n := testing.AllocsPerRun(100, func() { commit(time.Millisecond) }); n != 0 {
		t.Errorf("observing a commit allocates %v times", n)
	}
	r.Fleet(func() fleet.Status {
		return fleet.Status{Head: 10, Edges: []fleet.EdgeStatus{{Name: "a", Applied: 10}, {Name: "b", Applied: 7, Lag: 3}}}
	})
	if got := histogramCount(t, r, NameInvalidationCompletion); got != 1 {
		t.Errorf("completions %v, want 1", got)
	}
	if got := histogramSum(t, r, NameInvalidationCompletion); got != 1.5 {
		t.Errorf("completion seconds %v, want 1.5", got)
	}
	if got := histogramCount(t, r, NameStoreCommitDuration); got != 103 { // AllocsPerRun runs once more
		t.Errorf("commits %v, want 103", got)
	}
	want := `
# HELP openfront_fleet_edge_lag_events Events of the fleet log an edge has yet to apply: the control plane's head position minus the edge's applied position.
# TYPE openfront_fleet_edge_lag_events gauge
openfront_fleet_edge_lag_events{edge="a"} 0
openfront_fleet_edge_lag_events{edge="b"} 3
`
	if err := testutil.GatherAndCompare(r.Gatherer(), strings.NewReader(want), NameFleetEdgeLag); err != nil {
		t.Error(err)
	}
}

// TestServer scrapes /metrics over HTTP: the text format, with the Go
// runtime's and the process's collectors; other paths are 404.
func TestServer(t *testing.T) {
	r := New()
	r.API().Request(cloudfront.OpListDistributions, 200, time.Millisecond)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := r.NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("GET /metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, s := range []string{`openfront_api_requests_total{code="200",operation="ListDistributions"} 1`, "go_goroutines ", "process_resident_memory_bytes "} {
		if !strings.Contains(string(body), s) {
			t.Errorf("/metrics lacks %q", s)
		}
	}
	if resp, err := http.Get(base + "/other"); err != nil || resp.StatusCode != 404 {
		t.Errorf("GET /other: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Errorf("Serve after Shutdown: %v", err)
	}
}

func histogramCount(t *testing.T, r *Registry, name string) float64 {
	return histogramField(t, r, name, false)
}

func histogramSum(t *testing.T, r *Registry, name string) float64 {
	return histogramField(t, r, name, true)
}

// histogramField adds up the sample count (or sum) of every series of
// the histogram name.
func histogramField(t *testing.T, r *Registry, name string, sum bool) float64 {
	t.Helper()
	mfs, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if sum {
				total += m.GetHistogram().GetSampleSum()
			} else {
				total += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return total
}

// BenchmarkCount is what counting costs a request: an API request (a
// counter and a histogram, as CreateInvalidation's fast path counts it,
// its two clock readings included) and an edge hit (one counter), from
// parallel goroutines as a server counts:
//
//	go test -run '^$' -bench Count -benchmem ./internal/metrics
func BenchmarkCount(b *testing.B) {
	r := New()
	api := r.API()
	d := r.Edge(nil).Distribution("E1")
	b.Run("api", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				start := time.Now()
				api.Request(cloudfront.OpCreateInvalidation, 201, time.Since(start))
			}
		})
	})
	b.Run("edge-hit", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				d.Request(edge.ResultHit)
			}
		})
	})
}
