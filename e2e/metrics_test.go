package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape is one reading of a /metrics endpoint.
type scrape map[string]*dto.MetricFamily

// scrapeMetrics GETs url and parses the Prometheus text format.
func scrapeMetrics(t *testing.T, url string) scrape {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	return mfs
}

// value returns the counter's, gauge's or histogram's sample count of the
// series of name whose labels include the given pairs (added up over the
// series that match); ok is false when there is none.
func (s scrape) value(name string, labels ...string) (v float64, ok bool) {
	mf := s[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		ok = true
		switch {
		case m.Counter != nil:
			v += m.Counter.GetValue()
		case m.Gauge != nil:
			v += m.Gauge.GetValue()
		case m.Histogram != nil:
			v += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			v += m.Untyped.GetValue()
		}
	}
	return v, ok
}

// get is value, 0 for a series not there.
func (s scrape) get(name string, labels ...string) float64 {
	v, _ := s.value(name, labels...)
	return v
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// TestMetricsServe runs `openfront serve --metrics-addr` with a real
// origin and checks that API calls, edge misses, hits and errors, an
// invalidation completed and the log store's commits move their series
// by what was done.
func TestMetricsServe(t *testing.T) {
	o := newFleetOrigin(t, "origin")
	maddr := fleetFreeAddr(t)
	s := startServer(t, options{config: fleetConfig(o), args: []string{"--metrics-addr", maddr}})
	murl := "http://" + maddr + "/metrics"
	c := s.client("", "")
	v := newEdgeViewer(t, s)

	before := scrapeMetrics(t, murl)
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes", "openfront_edge_cache_bytes"} {
		if _, ok := before.value(name); !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	if _, err := c.ListDistributions(ctx(t), &cloudfront.ListDistributionsInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: aws.String(fleetDist)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetInvalidation(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(fleetDist), Id: aws.String("I2J0I21PCUYOIK")}); err == nil {
		t.Fatal("GetInvalidation of no invalidation succeeded")
	}

	old := o.body("/page", 1)
	v.expect(fleetHost, "/page", 200, old, edgeMiss)
	v.expect(fleetHost, "/page", 200, old, edgeHit) // the listener's fast path
	if r := v.do(http.MethodGet, fleetHost, "/page", "Range", "bytes=0-3"); r.status != 206 || r.xcache() != edgeHit {
		t.Fatalf("range request: %d %q", r.status, r.xcache()) // the handler's path
	}
	if r := v.get("nobody.test", "/page"); r.status != 403 || r.xcache() != edgeError {
		t.Fatalf("unknown host: %d %q", r.status, r.xcache())
	}
	o.version.Store(2)
	id := fleetInvalidate(t, c, fleetDist, "metrics-1", "/page")
	waitCompleted(t, c, fleetDist, id, time.Minute)
	v.expect(fleetHost, "/page", 200, o.body("/page", 2), edgeMiss)

	after := scrapeMetrics(t, murl)
	delta := func(name string, labels ...string) float64 {
		return after.get(name, labels...) - before.get(name, labels...)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"openfront_api_requests_total", []string{"operation", "ListDistributions", "code", "200"}, 1},
		{"openfront_api_requests_total", []string{"operation", "GetDistribution", "code", "200"}, 1},
		{"openfront_api_requests_total", []string{"operation", "GetInvalidation", "code", "404"}, 1},
		{"openfront_api_requests_total", []string{"operation", "CreateInvalidation", "code", "201"}, 1},
		{"openfront_api_request_duration_seconds", []string{"operation", "CreateInvalidation"}, 1},
		{"openfront_api_request_duration_seconds", []string{"operation", "ListDistributions"}, 1},
		{"openfront_edge_requests_total", []string{"distribution", fleetDist, "result", "Miss"}, 2},
		{"openfront_edge_requests_total", []string{"distribution", fleetDist, "result", "Hit"}, 2},
		{"openfront_edge_requests_total", []string{"distribution", fleetDist, "result", "RefreshHit"}, 0},
		{"openfront_edge_requests_total", []string{"distribution", "-", "result", "Error"}, 1},
		{"openfront_edge_origin_duration_seconds", []string{"distribution", fleetDist}, 2},
		{"openfront_invalidation_completion_seconds", nil, 1},
	} {
		if got := delta(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v moved by %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// The waiter polled GetInvalidation until Completed.
	if got := delta("openfront_api_requests_total", "operation", "GetInvalidation", "code", "200"); got < 1 {
		t.Errorf("GetInvalidation 200 moved by %v", got)
	}
	if got := delta("openfront_store_commit_duration_seconds"); got < 1 {
		t.Errorf("log store commits moved by %v, want at least the create's", got)
	}
	if got := after.get("openfront_edge_cache_bytes"); got <= 0 {
		t.Errorf("openfront_edge_cache_bytes %v with an object cached", got)
	}
	if lag, ok := after.value("openfront_fleet_edge_lag_events", "edge", "local"); !ok || lag != 0 {
		t.Errorf("lag of the in-process edge: %v %v, want 0 once Completed", lag, ok)
	}

	// The web console reads the same registry: 4 requests, 2 hits.
	resp, err := http.Get(s.URL + "/console/distributions/" + fleetDist)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "<dt>Viewer requests</dt><dd>4</dd>") ||
		!strings.Contains(string(page), `id="hit-ratio">50.0 %<`) {
		t.Errorf("console page %d without the metrics' figures:\n%s", resp.StatusCode, page)
	}
}

// TestMetricsFleet runs a control plane and two `openfront edge
// --metrics-addr`: each edge counts its own viewers, and the control
// plane's lag gauge shows a stopped edge falling behind by the events
// logged meanwhile, then catching up.
func TestMetricsFleet(t *testing.T) {
	o := newFleetOrigin(t, "origin")
	cpAddr := fleetFreeAddr(t)
	cp := startControlPlane(t, options{config: fleetConfig(o), args: []string{"--metrics-addr", cpAddr, "--edge-timeout", "60s"}})
	cpURL := "http://" + cpAddr + "/metrics"
	aAddr := fleetFreeAddr(t)
	a := startEdge(t, cp.URL, "edge-a", nil, "--metrics-addr", aAddr, "--max-staleness", "10s")
	b := startEdge(t, cp.URL, "edge-b", nil, "--max-staleness", "10s")
	waitInFleet(t, cp, "edge-a", "edge-b")

	old := o.body("/p", 1)
	if r := viewEdge(a.URL, fleetHost, "/p"); r.status != 200 || r.xcache != edgeMiss {
		t.Fatalf("first request: %v", r)
	}
	if r := viewEdge(a.URL, fleetHost, "/p"); r.status != 200 || r.body != old || r.xcache != edgeHit {
		t.Fatalf("second request: %v", r)
	}
	m := scrapeMetrics(t, "http://"+aAddr+"/metrics")
	if got := m.get("openfront_edge_requests_total", "distribution", fleetDist, "result", "Miss"); got != 1 {
		t.Errorf("edge-a misses %v, want 1", got)
	}
	if got := m.get("openfront_edge_requests_total", "distribution", fleetDist, "result", "Hit"); got != 1 {
		t.Errorf("edge-a hits %v, want 1", got)
	}
	if got := m.get("openfront_edge_origin_duration_seconds", "distribution", fleetDist); got != 1 {
		t.Errorf("edge-a origin requests %v, want 1", got)
	}
	if got := m.get("openfront_edge_cache_bytes"); got <= 0 {
		t.Errorf("edge-a cache bytes %v", got)
	}
	if _, ok := m.value("go_goroutines"); !ok {
		t.Error("edge-a's /metrics lacks the Go runtime's")
	}
	if _, ok := m.value("openfront_api_requests_total"); ok {
		t.Error("an edge reports API requests")
	}

	lag := func(edge string) (float64, bool) {
		return scrapeMetrics(t, cpURL).value("openfront_fleet_edge_lag_events", "edge", edge)
	}
	fleetWaitFor(t, 30*time.Second, "both edges at lag 0", func() (bool, string) {
		la, oka := lag("edge-a")
		lb, okb := lag("edge-b")
		return oka && okb && la == 0 && lb == 0, fmt.Sprint(la, oka, lb, okb)
	})
	b.pause()
	c := cp.client("", "")
	id := fleetInvalidate(t, c, fleetDist, "metrics-lag", "/p")
	fleetWaitFor(t, 30*time.Second, "edge-b behind and edge-a not", func() (bool, string) {
		la, _ := lag("edge-a")
		lb, _ := lag("edge-b")
		return la == 0 && lb >= 1, fmt.Sprintf("edge-a %v, edge-b %v", la, lb)
	})
	if st := invalidationStatusOf(t, c, fleetDist, id); st != "InProgress" {
		t.Errorf("with edge-b stopped the invalidation is %s", st)
	}
	b.resume()
	waitCompleted(t, c, fleetDist, id, time.Minute)
	fleetWaitFor(t, 30*time.Second, "edge-b caught up", func() (bool, string) {
		lb, ok := lag("edge-b")
		return ok && lb == 0, fmt.Sprint(lb, ok)
	})
	if got := scrapeMetrics(t, cpURL).get("openfront_invalidation_completion_seconds"); got < 1 {
		t.Errorf("completions on the control plane %v", got)
	}
}

// TestVersion checks `openfront version` of the test binary, built with
// -buildvcs=true: the module's version as the build info has it, never a
// bare "dev", and, in a clone (a .git directory: Go does not stamp the
// revision of a git worktree, whose .git is a file), the VCS revision.
func TestVersion(t *testing.T) {
	out, err := exec.Command(binary, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("openfront version: %v\n%s", err, out)
	}
	line := strings.TrimSpace(string(out))
	if !regexp.MustCompile(`^openfront \S+, .*go1\.`).MatchString(line) || strings.Contains(line, " dev") {
		t.Errorf("version line %q", line)
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not a git checkout (%v): no revision to expect in %q", err, line)
	}
	if fi, err := os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git")); err != nil || !fi.IsDir() {
		t.Skipf("a git worktree: go build does not stamp its revision; got %q", line)
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, "revision "+strings.TrimSpace(string(head))) {
		t.Errorf("version line %q lacks the revision %s", line, head)
	}
}

// TestLogFormatJSON: `log_format: json` in serve's configuration file and
// `--log-format json` on an edge make every log line a JSON object.
func TestLogFormatJSON(t *testing.T) {
	o := newFleetOrigin(t, "origin")
	cp := startControlPlane(t, options{config: fleetConfig(o) + "log_format: json\n"})
	e := startEdge(t, cp.URL, "edge-json", nil, "--log-format", "json")
	waitInFleet(t, cp, "edge-json")
	for _, p := range []*fleetProc{cp, e} {
		logs := strings.TrimSpace(p.logs())
		if logs == "" {
			t.Fatalf("%s logged nothing", p.name)
		}
		for _, l := range strings.Split(logs, "\n") {
			var line map[string]any
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Errorf("%s: not a JSON line: %q", p.name, l)
				continue
			}
			if line["time"] == nil || line["level"] == nil || line["msg"] == nil {
				t.Errorf("%s: JSON line without time, level or msg: %q", p.name, l)
			}
		}
	}
}
