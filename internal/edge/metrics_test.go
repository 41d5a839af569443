package edge

import (
	"bufio"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// countMetrics is a Metrics that counts in memory.
type countMetrics struct {
	mu    sync.Mutex
	dists map[string]*countDist
}

type countDist struct {
	results [NumResults]atomic.Int64
	origin  atomic.Int64 // origin latencies recorded
	asked   int          // times Distribution returned it; guarded by countMetrics.mu
}

func (m *countMetrics) Distribution(id string) DistributionMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dists == nil {
		m.dists = map[string]*countDist{}
	}
	d := m.dists[id]
	if d == nil {
		d = &countDist{}
		m.dists[id] = d
	}
	d.asked++
	return d
}

func (d *countDist) Request(r Result)              { d.results[r].Add(1) }
func (d *countDist) OriginLatency(t time.Duration) { d.origin.Add(1) }

// counts returns the distribution's counts by result name.
func (m *countMetrics) counts(id string) map[string]int64 {
	m.mu.Lock()
	d := m.dists[id]
	m.mu.Unlock()
	got := map[string]int64{}
	if d == nil {
		return got
	}
	for r := range NumResults {
		if n := d.results[r].Load(); n > 0 {
			got[r.String()] = n
		}
	}
	return got
}

func (m *countMetrics) origins(id string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d := m.dists[id]; d != nil {
		return d.origin.Load()
	}
	return 0
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestMetricsCountResults serves misses, hits (through the listener's
// fast path and through the handler), a revalidation, errors, a
// passthrough and a request for no distribution, and checks each is
// counted once under its distribution and result, with an origin latency
// per origin request answered.
func TestMetricsCountResults(t *testing.T) {
	o := newOrigin(t)
	o.set("/a", "0123456789", "Cache-Control", "max-age=600", "ETag", `"v1"`)
	m := &countMetrics{}
	d := dist("EMETRICS", o, "metrics.test")
	d.Config.DefaultBehavior.AllowedMethods = []string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}
	h := newHarness(t, Config{Metrics: m}, d)

	h.expect("metrics.test", "/a", "0123456789", miss)
	h.expect("metrics.test", "/a", "0123456789", hit) // fast path
	if r := h.do(http.MethodGet, "metrics.test", "/a", "Range", "bytes=0-1"); r.status != 206 || r.xcache() != hit {
		t.Fatalf("range: %d %q", r.status, r.xcache()) // the handler's path
	}
	h.clock.Advance(601 * time.Second)
	h.expect("metrics.test", "/a", "0123456789", refresh)
	if r := h.get("metrics.test", "/missing"); r.xcache() != errX {
		t.Fatalf("404 from the origin: X-Cache %q", r.xcache())
	}
	if r := h.do(http.MethodPost, "metrics.test", "/post"); r.xcache() == "" {
		t.Fatalf("passthrough: no X-Cache")
	}
	if r := h.get("nobody.test", "/a"); r.status != http.StatusForbidden {
		t.Fatalf("unknown host: %d", r.status)
	}

	// The origin knows neither /missing nor /post: 404s, so Errors.
	if o.hitsOf("/post") != 1 {
		t.Fatal("the passthrough did not reach the origin")
	}
	want := map[string]int64{"Miss": 1, "Hit": 2, "RefreshHit": 1, "Error": 2}
	if got := m.counts("EMETRICS"); !equalCounts(got, want) {
		t.Errorf("EMETRICS counts %v, want %v", got, want)
	}
	if got := m.counts(NoDistribution); !equalCounts(got, map[string]int64{"Error": 1}) {
		t.Errorf("counts without a distribution %v, want one Error", got)
	}
	// Origin requests answered: the miss, the revalidation, the 404 and
	// the passthrough.
	if n := m.origins("EMETRICS"); n != 4 {
		t.Errorf("%d origin latencies recorded, want 4", n)
	}
	m.mu.Lock()
	asked := m.dists["EMETRICS"].asked
	m.mu.Unlock()
	if asked != 1 {
		t.Errorf("the edge asked for the distribution's counters %d times, want once", asked)
	}
}

// TestMetricsFastPathAllocations checks that counting adds no allocation
// to the viewer listener's fast path: a plain hit allocates as much with
// Metrics as without.
func TestMetricsFastPathAllocations(t *testing.T) {
	allocs := func(m Metrics) (float64, *Edge) {
		o := newOrigin(t)
		o.set("/1k", strings.Repeat("x", 1024), "Cache-Control", "max-age=3600")
		h := newHarness(t, Config{Metrics: m}, dist("E1", o, "bench.test"))
		h.edge.realClock, h.edge.now = true, time.Now
		h.get("bench.test", "/1k")
		var ctx fasthttp.RequestCtx
		raw := "GET /1k HTTP/1.1\r\nHost: bench.test\r\n\r\n"
		if err := ctx.Request.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
			t.Fatal(err)
		}
		n := testing.AllocsPerRun(200, func() {
			ctx.Response.Reset()
			if !h.edge.serveFastHTTP(&ctx, nil) {
				t.Fatal("not answered by the fast path")
			}
		})
		return n, h.edge
	}
	off, _ := allocs(nil)
	m := &countMetrics{}
	on, _ := allocs(m)
	if on > off {
		t.Errorf("a plain hit allocates %v times with metrics, %v without", on, off)
	}
	if n := m.counts("E1")["Hit"]; n < 200 {
		t.Errorf("%d hits counted, want at least 200", n)
	}
}
