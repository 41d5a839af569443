package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// BenchmarkHit measures one cache hit through each mode's handler, in
// process (no network, no net/http server): the handler's own CPU and
// allocations. Run with
//
//	go test -run '^$' -bench . -benchmem ./bench/edge/harness
func BenchmarkHit(b *testing.B) {
	objects := map[string][]byte{"/1k": body(1 << 10), "/100k": body(100 << 10)}
	modTime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		obj := strings.TrimPrefix(r.URL.Path, "/rewritten")
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Cache-Control", "max-age=3600")
		http.ServeContent(w, r, "", modTime, bytes.NewReader(objects[obj]))
	}))
	defer origin.Close()
	for _, mode := range []string{"edge", "edge-function", "plain"} {
		h, closeFn := handler(mode, origin.URL, objects, modTime)
		for _, obj := range []string{"/1k", "/100k"} {
			req := httptest.NewRequest(http.MethodGet, "http://bench.test"+obj, nil)
			w := &discardWriter{h: http.Header{}}
			h.ServeHTTP(w, req) // the miss that fills the cache
			b.Run(mode+obj, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					w.reset()
					h.ServeHTTP(w, req)
					if w.n != len(objects[obj]) {
						b.Fatalf("wrote %d bytes, want %d", w.n, len(objects[obj]))
					}
				}
			})
		}
		closeFn()
	}
}

// discardWriter is a ResponseWriter that keeps nothing but the byte count.
type discardWriter struct {
	h http.Header
	n int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}
func (w *discardWriter) reset()                      { clear(w.h); w.n = 0 }
