package edge

import (
	"net/http"
	"time"
)

// Result is how the edge answered a viewer request: the first word of its
// X-Cache header, which is also what CloudFront's access logs call the
// x-edge-result-type. The edge has four: it does not redirect (viewer
// protocol policies are not enforced) and has no request rate limit, so
// CloudFront's Redirect, LimitExceeded and CapacityExceeded never occur.
type Result uint8

// The results, in the order of ResultNames.
const (
	// ResultHit: served from the cache (also a stale object served
	// because the origin failed, as CloudFront's X-Cache says Hit).
	ResultHit Result = iota
	// ResultRefreshHit: a stale object the origin revalidated (304).
	ResultRefreshHit
	// ResultMiss: from the origin, cached or not (uncached behaviors and
	// methods included).
	ResultMiss
	// ResultError: an error page (4xx/5xx from the origin or the edge,
	// no distribution for the Host, a method not allowed, the edge out of
	// touch with its control plane), or a viewer that went away before
	// the answer began.
	ResultError
	// NumResults is the number of results.
	NumResults
)

// ResultNames are the results' names, indexed by Result.
var ResultNames = [NumResults]string{"Hit", "RefreshHit", "Miss", "Error"}

// String returns the result's name.
func (r Result) String() string {
	if r < NumResults {
		return ResultNames[r]
	}
	return "Error"
}

// Metrics receives what the edge measures (internal/metrics implements it
// over Prometheus). The edge asks for each distribution's counters once,
// when it first serves the distribution, and keeps them: counting a
// request is one call on values already at hand.
type Metrics interface {
	// Distribution returns the counters of the distribution with the Id;
	// NoDistribution for requests whose Host names no distribution.
	Distribution(id string) DistributionMetrics
}

// NoDistribution is the distribution Id requests are counted under when
// their Host names no distribution.
const NoDistribution = "-"

// DistributionMetrics are one distribution's counters. Both methods are
// called on the request path and must not block or allocate.
type DistributionMetrics interface {
	// Request counts one viewer request answered with r.
	Request(r Result)
	// OriginLatency records the time from sending a request to the
	// origin to its response headers (time to first byte); origin
	// requests that fail get none.
	OriginLatency(d time.Duration)
}

// nopMetrics counts nothing: the edge without Config.Metrics.
type nopMetrics struct{}

func (nopMetrics) Distribution(string) DistributionMetrics { return nopMetrics{} }
func (nopMetrics) Request(Result)                          {}
func (nopMetrics) OriginLatency(time.Duration)             {}

// resultOf maps an answer's X-Cache header to its result; none (a viewer
// that went away, an answer the handler never began) is an Error, as in
// CloudFront's logs.
func resultOf(h http.Header) Result {
	v := h["X-Cache"]
	if len(v) == 0 {
		return ResultError
	}
	switch v[0] {
	case xHit:
		return ResultHit
	case xRefreshHit:
		return ResultRefreshHit
	case xMiss:
		return ResultMiss
	}
	return ResultError
}

// counted returns next counting every request it answers by the X-Cache
// header of the answer, under the distribution the Host names: the
// requests that are not plain hits (those the viewer listener's fast path
// counts itself), including those a guard in front of the edge refuses.
func (e *Edge) counted(next http.Handler) http.Handler {
	if _, off := e.metrics.(nopMetrics); off {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			m := e.noDist
			if d, ok := e.dists.ByHost(r.Host); ok {
				m = e.state(d.ID).metrics
			}
			if p := recover(); p != nil {
				m.Request(ResultError) // an aborted answer (ErrAbortHandler)
				panic(p)
			}
			m.Request(resultOf(w.Header()))
		}()
		next.ServeHTTP(w, r)
	})
}
