package edge

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
)

// The benchmarks share one edge whose cache holds 1M small objects of
// distribution EAPPLY (what Apply is measured against) and 100k of ELOOKUP
// (what lookups are measured on). Run them with
//
//	go test -run '^$' -bench . -benchtime 2s ./internal/edge
const (
	benchApplyObjects  = 1_000_000
	benchLookupObjects = 100_000
)

var (
	benchOnce sync.Once
	benchEdge *Edge
)

func benchName(i int) string { return fmt.Sprintf("/dir%d/file%d.jpg", i%1000, i) }

// benchFixture builds the shared edge, filling the cache directly (the
// objects are what a fill would insert: small body, no headers).
func benchFixture(b *testing.B) *Edge {
	benchOnce.Do(func() {
		u, _ := url.Parse("http://127.0.0.1:1")
		reg := distribution.NewRegistry(
			distribution.FromFile("EAPPLY", u, nil, "", time.Now()),
			distribution.FromFile("ELOOKUP", u, nil, "", time.Now()),
		)
		e := New(Config{
			Distributions:   reg,
			CacheSize:       8 << 30,
			Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
			ReclaimInterval: time.Hour,
		})
		start := time.Now()
		fill(e, "EAPPLY", benchApplyObjects)
		fill(e, "ELOOKUP", benchLookupObjects)
		e.cache.CleanUp()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.Logf("fixture: %d objects, weight %d MiB, heap %d MiB, built in %v",
			e.cache.EstimatedSize(), e.cache.WeightedSize()>>20, ms.HeapAlloc>>20, time.Since(start))
		benchEdge = e
	})
	return benchEdge
}

func fill(e *Edge, id string, n int) {
	for i := range n {
		put(e, id, benchName(i))
	}
}

var benchBody = []byte("0123456789abcdef")

// put caches a small object, as a fill starting now would.
func put(e *Edge, id, name string) {
	ds := e.state(id)
	key := id + "\x00" + name
	now := time.Now()
	ent := &entry{ds: ds, name: name, seq: ds.pin(&e.clock), status: 200, header: http.Header{},
		body: benchBody, stored: now, expires: now.Add(24 * time.Hour)}
	ent.weight = uint32(entryOverhead + 2*len(key) + len(benchBody))
	e.cache.Set(key, ent)
}

func benchApply(b *testing.B, e *Edge, id string, paths []string) {
	b.Helper()
	inv := invalidation.Invalidation{DistributionID: id, ID: invalidation.NewID(), Batch: invalidation.Batch{CallerReference: "b", Paths: paths}}
	if err := e.Apply(context.Background(), inv); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkApplyAll applies "/*" to a distribution with 1M cached objects.
func BenchmarkApplyAll(b *testing.B) {
	e := benchFixture(b)
	paths := []string{"/*"}
	b.ResetTimer()
	for b.Loop() {
		benchApply(b, e, "EAPPLY", paths)
	}
}

// BenchmarkApplyBatch3000 applies a batch of 3,000 exact paths, each
// naming a cached object (a different slice of the 1M each time; the
// objects are put back, untimed, after each batch), then of 3,000 wildcard
// paths.
func BenchmarkApplyBatch3000(b *testing.B) {
	e := benchFixture(b)
	batches := make([][]string, benchApplyObjects/3000)
	for i := range batches {
		batches[i] = make([]string, 3000)
		for j := range batches[i] {
			batches[i][j] = benchName(i*3000 + j)
		}
	}
	b.Run("exact", func(b *testing.B) {
		i := 0
		for b.Loop() {
			batch := batches[i%len(batches)]
			benchApply(b, e, "EAPPLY", batch)
			b.StopTimer()
			for _, name := range batch {
				put(e, "EAPPLY", name)
			}
			b.StartTimer()
			i++
		}
	})
	wild := make([]string, 3000)
	for j := range wild {
		wild[j] = fmt.Sprintf("/dir%d/file%d*", j%1000, j)
	}
	b.Run("wildcard", func(b *testing.B) {
		for b.Loop() {
			benchApply(b, e, "EAPPLY", wild)
		}
	})
}

// BenchmarkLookup measures a cache lookup (with the validity check against
// the markers) of ELOOKUP's objects, with 0, 1k and 10k active wildcard
// markers. The markers end in "?v=*" on paths that share the objects'
// directories and whole names, so the radix-tree walk goes the length of
// the name: the worst case.
func BenchmarkLookup(b *testing.B) {
	e := benchFixture(b)
	for _, markers := range []int{0, 1_000, 10_000} {
		paths := make([]string, markers)
		for i := range paths {
			paths[i] = benchName(i*7) + "?v=*"
		}
		b.Run(fmt.Sprintf("markers=%d", markers), func(b *testing.B) {
			st := e.state("ELOOKUP")
			st.mu.Lock()
			st.prefix = node{}
			st.exact = map[string]uint64{}
			st.markers.Store(0)
			pats := make([]pattern, len(paths))
			beh := &site{def: behavior{keyQuery: sel{mode: selAll}}}
			for i, p := range paths {
				pats[i] = invalidationPattern(beh, p)
			}
			st.mark(pats, e.clock.Add(1))
			st.mu.Unlock()
			if got := st.markers.Load(); got != int64(markers) {
				b.Fatalf("%d markers, want %d", got, markers)
			}
			keys := make([]string, 4096)
			names := make([]string, len(keys))
			for i := range keys {
				n := rand.IntN(benchLookupObjects)
				names[i] = benchName(n)
				keys[i] = "ELOOKUP\x00" + names[i]
			}
			i := 0
			b.ResetTimer()
			for b.Loop() {
				if e.lookup(st, keys[i&4095], names[i&4095]) == nil {
					b.Fatal("miss")
				}
				i++
			}
		})
	}
}

// BenchmarkServeHit measures a whole cache hit through ServeHTTP (routing
// by Host, the lookup with 10k markers, the response headers).
func BenchmarkServeHit(b *testing.B) {
	e := benchFixture(b)
	reqs := make([]*http.Request, 256)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodGet, "http://elookup.cloudfront.localhost"+benchName(rand.IntN(benchLookupObjects)), nil)
	}
	i := 0
	for b.Loop() {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, reqs[i&255])
		if w.Code != 200 || w.Header().Get("X-Cache") != xHit {
			b.Fatalf("%d %q", w.Code, w.Header().Get("X-Cache"))
		}
		i++
	}
}
