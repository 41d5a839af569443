// Package metrics is openfront's Prometheus instrumentation: the registry,
// every collector, and the /metrics endpoint (--metrics-addr). The
// packages it measures do not import Prometheus: each declares a small
// hook (cloudfront.Metrics, edge.Metrics, invalidation.Config.Completed,
// logstore.WithCommitObserver, fleet.Hub.Status) and this package
// implements it, so it depends on them and never the other way round.
//
// Counting on a request path is allocation-free: every counter and
// histogram is bound to its label values once (an edge's distribution
// when the edge first serves it, an API operation's status code the first
// time it is answered) and kept; a request then costs an atomic add or
// two.
package metrics

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/openfront/openfront/internal/cloudfront"
	"github.com/openfront/openfront/internal/edge"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
)

// The metric names (the web console reads some of them by name).
const (
	NameAPIRequests            = "openfront_api_requests_total"
	NameAPIRequestDuration     = "openfront_api_request_duration_seconds"
	NameEdgeRequests           = "openfront_edge_requests_total"
	NameEdgeOriginDuration     = "openfront_edge_origin_duration_seconds"
	NameEdgeCacheBytes         = "openfront_edge_cache_bytes"
	NameInvalidationCompletion = "openfront_invalidation_completion_seconds"
	NameFleetEdgeLag           = "openfront_fleet_edge_lag_events"
	NameStoreCommitDuration    = "openfront_store_commit_duration_seconds"
)

// Registry holds openfront's collectors: the Go runtime's and the
// process's from New, the others as the command wires them.
type Registry struct {
	reg *prometheus.Registry
}

// New returns a registry with the Go runtime and process collectors.
func New() *Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Registry{reg: reg}
}

// Gatherer returns the registry for reading (the /metrics handler, the
// web console).
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Handler returns the /metrics handler: the Prometheus text format (or
// what the scraper negotiates), at most 4 scrapes at a time (more are
// answered 503), each bounded to 10 s.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{MaxRequestsInFlight: 4, Timeout: 10 * time.Second})
}

// Server serves /metrics on --metrics-addr (net/http: scrapes are rare).
type Server struct{ srv *http.Server }

// NewServer returns the metrics listener: /metrics, 404 elsewhere; 10 s
// to read a request head, 30 s to write an answer, 2 minutes idle.
func (r *Registry) NewServer(log *slog.Logger) *Server {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", r.Handler())
	return &Server{srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}
}

// Serve serves on ln until Shutdown; it returns nil after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops the listener, letting scrapes in flight finish within ctx.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Bucket boundaries, in seconds.
var (
	apiBuckets    = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	originBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	// An invalidation completes when every edge applied it, plus
	// --invalidation-delay (rehearsing CloudFront's minutes).
	completionBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900, 1800}
	commitBuckets     = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}
)

// API counts the CloudFront API's requests: it is a cloudfront.Metrics.
type API struct {
	ops [cloudfront.NumOperations]apiOp
}

var _ cloudfront.Metrics = (*API)(nil)

// apiOp is one operation's counters.
type apiOp struct {
	duration prometheus.Observer
	byCode   *prometheus.CounterVec // curried with the operation

	// codes holds a counter per status code answered so far, replaced
	// (never changed) under mu when one is added: an operation answers
	// with a handful of codes, so a request scans a few entries and never
	// looks a label up.
	codes atomic.Pointer[[]codeCounter]
	mu    sync.Mutex
}

type codeCounter struct {
	code int
	c    prometheus.Counter
}

// API registers openfront_api_requests_total{operation,code} and
// openfront_api_request_duration_seconds{operation} and returns what
// counts them. Call it once.
func (r *Registry) API() *API {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: NameAPIRequests,
		Help: "CloudFront API requests answered, by operation and HTTP status code.",
	}, []string{"operation", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    NameAPIRequestDuration,
		Help:    "Time to answer a CloudFront API request, by operation.",
		Buckets: apiBuckets,
	}, []string{"operation"})
	r.reg.MustRegister(requests, duration)
	a := &API{}
	for i := range a.ops {
		name := cloudfront.OperationNames[i]
		a.ops[i].duration = duration.WithLabelValues(name)
		a.ops[i].byCode = requests.MustCurryWith(prometheus.Labels{"operation": name})
		a.ops[i].codes.Store(&[]codeCounter{})
	}
	return a
}

// Request counts one request of op answered with status after d.
func (a *API) Request(op cloudfront.Operation, status int, d time.Duration) {
	if op >= cloudfront.NumOperations {
		op = cloudfront.OpUnknown
	}
	o := &a.ops[op]
	o.counter(status).Inc()
	o.duration.Observe(d.Seconds())
}

// counter returns the counter of status, binding it the first time.
func (o *apiOp) counter(status int) prometheus.Counter {
	for _, cc := range *o.codes.Load() {
		if cc.code == status {
			return cc.c
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	codes := *o.codes.Load()
	for _, cc := range codes {
		if cc.code == status {
			return cc.c
		}
	}
	if status < 100 || status > 599 {
		status = 0 // cannot happen from net/http or fasthttp; bounded anyway
	}
	c := o.byCode.WithLabelValues(strconv.Itoa(status))
	codes = append(codes[:len(codes):len(codes)], codeCounter{status, c})
	o.codes.Store(&codes)
	return c
}

// Edge counts an edge's viewer requests and origin latency: it is an
// edge.Metrics.
type Edge struct {
	requests *prometheus.CounterVec
	origin   *prometheus.HistogramVec
}

var _ edge.Metrics = (*Edge)(nil)

// Edge registers openfront_edge_requests_total{distribution,result} and
// openfront_edge_origin_duration_seconds{distribution} and returns what
// counts them; cacheBytes, when not nil, is read at each scrape for
// openfront_edge_cache_bytes. Call it once.
func (r *Registry) Edge(cacheBytes func() uint64) *Edge {
	e := &Edge{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: NameEdgeRequests,
			Help: "Viewer requests answered by the edge, by distribution Id (\"-\": the Host named none) and result (the X-Cache outcome: Hit, RefreshHit, Miss, Error).",
		}, []string{"distribution", "result"}),
		origin: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    NameEdgeOriginDuration,
			Help:    "Time from sending a request to a distribution's origin to its response headers (first byte latency).",
			Buckets: originBuckets,
		}, []string{"distribution"}),
	}
	r.reg.MustRegister(e.requests, e.origin)
	if cacheBytes != nil {
		r.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: NameEdgeCacheBytes,
			Help: "Bytes the edge's cached objects take (bodies, headers, keys and per-object overhead): what --cache-size bounds.",
		}, func() float64 { return float64(cacheBytes()) }))
	}
	return e
}

// Distribution returns the distribution's counters, bound to its Id.
func (e *Edge) Distribution(id string) edge.DistributionMetrics {
	d := &EdgeDistribution{origin: e.origin.WithLabelValues(id)}
	for r := range d.results {
		d.results[r] = e.requests.WithLabelValues(id, edge.ResultNames[r])
	}
	return d
}

// EdgeDistribution is one distribution's edge counters.
type EdgeDistribution struct {
	results [edge.NumResults]prometheus.Counter
	origin  prometheus.Observer
}

// Request counts one viewer request answered with res.
func (d *EdgeDistribution) Request(res edge.Result) {
	if res >= edge.NumResults {
		res = edge.ResultError
	}
	d.results[res].Inc()
}

// OriginLatency records one origin request's time to first byte.
func (d *EdgeDistribution) OriginLatency(t time.Duration) { d.origin.Observe(t.Seconds()) }

// Invalidations registers openfront_invalidation_completion_seconds and
// returns the invalidation.Config.Completed hook that observes it: the
// time from an invalidation's CreateTime to its completion.
func (r *Registry) Invalidations() func(inv invalidation.Invalidation, at time.Time) {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    NameInvalidationCompletion,
		Help:    "Time from CreateInvalidation (its CreateTime) to the invalidation recorded Completed.",
		Buckets: completionBuckets,
	})
	r.reg.MustRegister(h)
	return func(inv invalidation.Invalidation, at time.Time) {
		h.Observe(max(at.Sub(inv.CreateTime).Seconds(), 0))
	}
}

// StoreCommits registers openfront_store_commit_duration_seconds and
// returns the hook that observes it (logstore.WithCommitObserver).
func (r *Registry) StoreCommits() func(time.Duration) {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    NameStoreCommitDuration,
		Help:    "Time the log store takes to write a group commit's frame and fdatasync it.",
		Buckets: commitBuckets,
	})
	r.reg.MustRegister(h)
	return func(d time.Duration) { h.Observe(d.Seconds()) }
}

// Fleet registers openfront_fleet_edge_lag_events{edge}: at each scrape,
// for every edge in the registry status returns (fleet.Hub.Status), how
// many logged events it has yet to apply (the head position minus its
// applied position). Edges that left the registry are not reported.
func (r *Registry) Fleet(status func() fleet.Status) {
	r.reg.MustRegister(&lagCollector{status: status})
}

var lagDesc = prometheus.NewDesc(NameFleetEdgeLag,
	"Events of the fleet log an edge has yet to apply: the control plane's head position minus the edge's applied position.",
	[]string{"edge"}, nil)

// lagCollector reads the hub's registry at each scrape.
type lagCollector struct{ status func() fleet.Status }

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- lagDesc }

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	for _, e := range c.status().Edges {
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(e.Lag), e.Name)
	}
}
