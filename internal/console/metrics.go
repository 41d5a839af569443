package console

import (
	"math"
	"sort"

	dto "github.com/prometheus/client_model/go"
)

// Names of the metric families the console reads: the edge's, as
// /metrics exports them.
const (
	metricRequests       = "openfront_edge_requests_total"
	metricOriginDuration = "openfront_edge_origin_duration_seconds"
	labelDistribution    = "distribution"
	labelResult          = "result"
)

// cacheStats is one distribution's cache statistics since the process
// started, as its counters and histogram hold them.
type cacheStats struct {
	Requests uint64 // every viewer request, whatever its result
	Hits     uint64 // Hit and RefreshHit
	// OriginFetches is the histogram's count; OriginSeconds its sum.
	OriginFetches uint64
	OriginSeconds float64
	// P50 is the median origin latency in seconds, interpolated in the
	// histogram's buckets as Prometheus's histogram_quantile does; NaN
	// without fetches.
	P50 float64
}

// HitRatio is Hits over Requests, NaN without requests.
func (s cacheStats) HitRatio() float64 {
	if s.Requests == 0 {
		return math.NaN()
	}
	return float64(s.Hits) / float64(s.Requests)
}

// MeanOrigin is the mean origin latency in seconds, NaN without fetches.
func (s cacheStats) MeanOrigin() float64 {
	if s.OriginFetches == 0 {
		return math.NaN()
	}
	return s.OriginSeconds / float64(s.OriginFetches)
}

// bucket is a histogram's cumulative count up to an upper bound.
type bucket struct {
	upper float64
	count float64
}

// cacheStatsByDistribution computes every distribution's statistics from
// gathered families. Series of one distribution with other labels (an
// edge's name, say) are added up; histograms by upper bound.
func cacheStatsByDistribution(families []*dto.MetricFamily) map[string]cacheStats {
	out := map[string]cacheStats{}
	buckets := map[string]map[float64]float64{}
	for _, f := range families {
		switch f.GetName() {
		case metricRequests:
			for _, m := range f.GetMetric() {
				dist, result := labels(m)
				if dist == "" {
					continue
				}
				var n float64
				switch {
				case m.GetCounter() != nil:
					n = m.GetCounter().GetValue()
				case m.GetUntyped() != nil:
					n = m.GetUntyped().GetValue()
				default:
					continue
				}
				if n < 0 || math.IsNaN(n) {
					continue
				}
				s := out[dist]
				s.Requests += uint64(n)
				if result == "Hit" || result == "RefreshHit" {
					s.Hits += uint64(n)
				}
				out[dist] = s
			}
		case metricOriginDuration:
			for _, m := range f.GetMetric() {
				dist, _ := labels(m)
				h := m.GetHistogram()
				if dist == "" || h == nil {
					continue
				}
				s := out[dist]
				s.OriginFetches += h.GetSampleCount()
				s.OriginSeconds += h.GetSampleSum()
				out[dist] = s
				bs := buckets[dist]
				if bs == nil {
					bs = map[float64]float64{}
					buckets[dist] = bs
				}
				for _, b := range h.GetBucket() {
					bs[b.GetUpperBound()] += float64(b.GetCumulativeCount())
				}
				// The +Inf bucket is the count, listed or not.
				bs[math.Inf(1)] += float64(h.GetSampleCount()) - infCount(h)
			}
		}
	}
	for dist, s := range out {
		var bs []bucket
		for u, c := range buckets[dist] {
			bs = append(bs, bucket{u, c})
		}
		sort.Slice(bs, func(i, j int) bool { return bs[i].upper < bs[j].upper })
		s.P50 = quantile(0.5, bs)
		out[dist] = s
	}
	return out
}

// infCount is the count of h's +Inf bucket if it lists one, else 0.
func infCount(h *dto.Histogram) float64 {
	for _, b := range h.GetBucket() {
		if math.IsInf(b.GetUpperBound(), 1) {
			return float64(b.GetCumulativeCount())
		}
	}
	return 0
}

func labels(m *dto.Metric) (dist, result string) {
	for _, l := range m.GetLabel() {
		switch l.GetName() {
		case labelDistribution:
			dist = l.GetValue()
		case labelResult:
			result = l.GetValue()
		}
	}
	return dist, result
}

// quantile is Prometheus's histogram_quantile over cumulative buckets
// sorted by upper bound, the last +Inf: linear interpolation inside the
// bucket holding the rank (from 0 for the first bucket), the highest
// finite bound when the rank falls in +Inf. NaN without observations.
func quantile(q float64, bs []bucket) float64 {
	if len(bs) == 0 {
		return math.NaN()
	}
	total := bs[len(bs)-1].count
	if total == 0 {
		return math.NaN()
	}
	rank := q * total
	i := sort.Search(len(bs), func(i int) bool { return bs[i].count >= rank })
	if i == len(bs) {
		i = len(bs) - 1
	}
	if math.IsInf(bs[i].upper, 1) {
		if i == 0 {
			return math.NaN()
		}
		return bs[i-1].upper
	}
	lower, below := 0.0, 0.0
	if i > 0 {
		lower, below = bs[i-1].upper, bs[i-1].count
	}
	in := bs[i].count - below
	if in == 0 {
		return bs[i].upper
	}
	return lower + (bs[i].upper-lower)*(rank-below)/in
}
