package logstore

import (
	"fmt"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
)

// BenchmarkImage takes a snapshot of 200,000 completed invalidations whose
// last 100,000 fleet events are retained (the hub's default) and encodes
// its image, as online compaction does; µs-locked is the part done under
// the store's lock (the snapshot).
func BenchmarkImage(b *testing.B) {
	s := open(b, b.TempDir())
	defer s.Close()
	s.mu.Lock()
	d := s.distFor("EBENCHDIST0001")
	for i := range 200000 {
		s.lastSeq++
		r := &rec{seq: s.lastSeq, dist: d.id, ref: fmt.Sprint("ref-", i), paths: []string{fmt.Sprint("/bench/", i, ".html")},
			created: time.Now(), done: true, completed: time.Now()}
		s.insert(d, r)
		if i >= 100000 {
			_, data := fleet.InvalidationEvent(invalidation.Invalidation{DistributionID: d.id, ID: s.idOf(r), CreateTime: r.created, Batch: invalidation.Batch{CallerReference: r.ref, Paths: r.paths}})
			s.lastPos++
			r.eventPos = s.lastPos
			s.events = append(s.events, event{pos: s.lastPos, data: data})
		}
	}
	s.mu.Unlock()
	b.ResetTimer()
	var n int
	var locked time.Duration
	for range b.N {
		start := time.Now()
		s.mu.Lock()
		sn := s.snapshot()
		s.mu.Unlock()
		locked += time.Since(start)
		n = len(sn.image(s))
	}
	b.ReportMetric(float64(n)/(1<<20), "MiB")
	b.ReportMetric(float64(locked.Microseconds())/float64(b.N), "µs-locked/op")
}
