package edge

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// slowHeader, on a request to fastPathServer, makes it answer through
// serveEntry's general path instead of ServeHTTP.
const slowHeader = "X-Test-General-Path"

// fastPathServer serves h.edge over a real HTTP server, answering a
// request with slowHeader from the cached object through serveEntry (the
// general path, http.ServeContent) so that both paths can be compared on
// the wire.
func fastPathServer(t *testing.T, h *harness) *httptest.Server {
	e := h.edge
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(slowHeader) == "" {
			e.ServeHTTP(w, r)
			return
		}
		r.Header.Del(slowHeader)
		d, _ := e.dists.ByHost(r.Host)
		s := e.site(d)
		b := s.match(r.URL.EscapedPath())
		name := objectName(b, r.URL.EscapedPath(), r.URL.RawQuery)
		ent := e.lookup(s.ds, cacheKey(s, b, r, http.MethodGet, name, ""), name)
		if ent == nil {
			t.Errorf("%s: not cached", r.URL)
			http.Error(w, "not cached", http.StatusInternalServerError)
			return
		}
		e.serveEntry(w, r, nil, ent, xHit, true, newRequestID().String(), 0)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func fetch(t *testing.T, srv *httptest.Server, method, host, uri string, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+uri, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("Accept-Encoding", "gzip") // the client must not decompress /encoded
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// TestFastPathHeadersAsGeneralPath checks that a plain hit answered by the
// fast path (hit.go) carries exactly the headers, status and body the
// general path (serveEntry, http.ServeContent) gives the same object, on
// the wire, but for the per-request Date and X-Amz-Cf-Id.
func TestFastPathHeadersAsGeneralPath(t *testing.T) {
	o := newOrigin(t)
	const lm = "Mon, 01 Jan 2024 00:00:00 GMT"
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		body := "hello, " + r.URL.Path
		switch r.URL.Path {
		case "/typed":
			h.Set("Content-Type", "text/plain; charset=utf-8")
			h.Set("Cache-Control", "max-age=600")
			h.Set("ETag", `"v1"`)
			h.Set("Last-Modified", lm)
		case "/untyped": // no Content-Type: the edge must not sniff one
			h["Content-Type"] = nil
			h.Set("Cache-Control", "public, max-age=600")
		case "/encoded": // no Content-Length from ServeContent with Content-Encoding
			h.Set("Content-Type", "text/css")
			h.Set("Content-Encoding", "gzip")
			h.Set("Cache-Control", "max-age=600")
		case "/large": // more than net/http's buffers: a streamed Content-Length answer
			body = strings.Repeat("0123456789abcdef", 8<<10)
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Cache-Control", "max-age=600")
		case "/odd": // headers the edge replaces, several values, the origin's Age
			h.Set("Content-Type", "text/html")
			h.Set("Cache-Control", "max-age=600")
			h.Set("Last-Modified", "Monday, 01-Jan-24 00:00:00 GMT") // RFC 850: reformatted
			h.Set("X-Cache", "from the origin")
			h.Set("Via", "1.1 origin-proxy")
			h.Set("X-Amz-Cf-Pop", "ORIGIN")
			h.Add("X-Multi", "a")
			h.Add("X-Multi", "b")
			h.Set("Age", "5")          // the edge's Age adds its own time: at least 5 + 7
			h.Set("Set-Cookie", "s=1") // dropped: cookies are not forwarded
		case "/epoch": // Last-Modified at the Unix epoch: ServeContent leaves the origin's
			h.Set("Cache-Control", "max-age=600")
			h.Set("Last-Modified", "Thu, 01 Jan 1970 00:00:00 GMT")
		default:
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, body)
	})
	h := newHarness(t, Config{}, dist("EFAST", o, "fast.test"))
	srv := fastPathServer(t, h)
	for _, uri := range []string{"/typed", "/untyped", "/encoded", "/large", "/odd", "/epoch"} {
		if r := fetch(t, srv, http.MethodGet, "fast.test", uri); r.xcache() != miss {
			t.Fatalf("%s: first GET X-Cache %q, want a miss", uri, r.xcache())
		}
		h.clock.Advance(7 * time.Second)
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			fast := fetch(t, srv, method, "fast.test", uri)
			slow := fetch(t, srv, method, "fast.test", uri, slowHeader, "1")
			if fast.status != http.StatusOK || fast.xcache() != hit {
				t.Fatalf("%s %s: fast path answered %d %q", method, uri, fast.status, fast.xcache())
			}
			if fast.status != slow.status || fast.body != slow.body {
				t.Errorf("%s %s: fast path %d %.40q, general path %d %.40q", method, uri, fast.status, fast.body, slow.status, slow.body)
			}
			for _, k := range []string{"Date", "X-Amz-Cf-Id"} {
				if fast.header.Get(k) == "" || slow.header.Get(k) == "" {
					t.Errorf("%s %s: %s missing: fast %q, general %q", method, uri, k, fast.header.Get(k), slow.header.Get(k))
				}
				if fast.header.Get(k) == slow.header.Get(k) && k == "X-Amz-Cf-Id" {
					t.Errorf("%s %s: two requests with one X-Amz-Cf-Id", method, uri)
				}
				fast.header.Del(k)
				slow.header.Del(k)
			}
			if !equalHeaders(fast.header, slow.header) {
				t.Errorf("%s %s: headers differ\nfast path:    %v\ngeneral path: %v", method, uri, fast.header, slow.header)
			}
		}
	}
	// What the comparison is about.
	r := fetch(t, srv, http.MethodGet, "fast.test", "/odd")
	if age, _ := strconv.Atoi(r.header.Get("Age")); age < 12 || r.header.Get("Last-Modified") != lm || r.header.Get("Via") == "1.1 origin-proxy" ||
		r.header.Get("X-Amz-Cf-Pop") != "LOCAL1-C1" || !slices.Equal(r.header.Values("X-Multi"), []string{"a", "b"}) ||
		r.header.Get("Set-Cookie") != "" || r.header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("/odd: %v", r.header)
	}
	if r := fetch(t, srv, http.MethodGet, "fast.test", "/untyped"); r.header["Content-Type"] != nil {
		t.Errorf("/untyped: Content-Type %q, want none", r.header["Content-Type"])
	}
	if r := fetch(t, srv, http.MethodGet, "fast.test", "/epoch"); r.header.Get("Last-Modified") != "Thu, 01 Jan 1970 00:00:00 GMT" {
		t.Errorf("/epoch: Last-Modified %q, want the origin's", r.header["Last-Modified"])
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !slices.Equal(v, w) {
			return false
		}
	}
	return true
}

// TestFastPathOnlyForPlainHits checks which requests the fast path takes,
// and that the others still get http.ServeContent's answers from the
// cache.
func TestFastPathOnlyForPlainHits(t *testing.T) {
	o := newOrigin(t)
	o.set("/a", "0123456789", "Cache-Control", "max-age=600", "ETag", `"v1"`, "Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
	h := newHarness(t, Config{}, dist("EFAST", o, "fast.test"))
	h.expect("fast.test", "/a", "0123456789", miss)
	etag := h.expect("fast.test", "/a", "0123456789", hit).header.Get("ETag")
	if etag == "" {
		t.Fatal("the origin sent no ETag")
	}
	for _, c := range []struct {
		method string
		hdr    []string
		fast   bool
		status int
		body   string
	}{
		{http.MethodGet, nil, true, 200, "0123456789"},
		{http.MethodHead, nil, true, 200, ""},
		{http.MethodGet, []string{"Range", ""}, true, 200, "0123456789"}, // empty: as not sent
		{http.MethodGet, []string{"Range", "bytes=2-4"}, false, 206, "234"},
		{http.MethodGet, []string{"Range", "bytes=20-"}, false, 416, ""},
		{http.MethodGet, []string{"If-None-Match", etag}, false, 304, ""},
		{http.MethodGet, []string{"If-None-Match", `"other"`}, false, 200, "0123456789"},
		{http.MethodGet, []string{"If-Modified-Since", "Mon, 01 Jan 2024 00:00:00 GMT"}, false, 304, ""},
		{http.MethodGet, []string{"If-Match", `"other"`}, false, 412, ""},
		{http.MethodGet, []string{"If-Unmodified-Since", "Sun, 31 Dec 2023 00:00:00 GMT"}, false, 412, ""},
		{http.MethodHead, []string{"If-None-Match", etag}, false, 304, ""},
	} {
		req := httptest.NewRequest(c.method, "http://fast.test/a", nil)
		for i := 0; i+1 < len(c.hdr); i += 2 {
			req.Header.Set(c.hdr[i], c.hdr[i+1])
		}
		if got := fastRequest(req); got != c.fast {
			t.Errorf("%s %v: fastRequest %v, want %v", c.method, c.hdr, got, c.fast)
		}
		r := h.do(c.method, "fast.test", "/a", c.hdr...)
		if r.status != c.status || (c.status != 416 && r.body != c.body) || r.xcache() != hit {
			t.Errorf("%s %v: %d %q %q, want %d %q %q", c.method, c.hdr, r.status, r.body, r.xcache(), c.status, c.body, hit)
		}
	}
	if n := o.hitsOf("/a"); n != 1 {
		t.Errorf("origin asked %d times, want 1", n)
	}
	// A stale object is not a plain hit: it is revalidated (RefreshHit).
	h.clock.Advance(601 * time.Second)
	h.expect("fast.test", "/a", "0123456789", refresh)
	h.expect("fast.test", "/a", "0123456789", hit)
}

// TestFastPathAllocations bounds the allocations of a plain hit in the
// handler (the ResponseWriter's own excluded): the request id is the only
// one left, and the cache key.
func TestFastPathAllocations(t *testing.T) {
	o := newOrigin(t)
	o.set("/a", strings.Repeat("x", 1024), "Cache-Control", "max-age=600", "Content-Type", "text/plain")
	h := newHarness(t, Config{}, dist("EFAST", o, "fast.test"))
	h.expect("fast.test", "/a", strings.Repeat("x", 1024), miss)
	req := httptest.NewRequest(http.MethodGet, "http://fast.test/a", nil)
	w := &countingWriter{h: http.Header{}}
	n := testing.AllocsPerRun(200, func() {
		clear(w.h)
		w.n = 0
		h.edge.ServeHTTP(w, req)
	})
	if w.n != 1024 || w.h.Get("X-Cache") != hit {
		t.Fatalf("wrote %d bytes, X-Cache %q", w.n, w.h.Get("X-Cache"))
	}
	if n > 2 {
		t.Errorf("a plain hit allocates %v times, want at most 2", n)
	}
}

type countingWriter struct {
	h http.Header
	n int
}

func (w *countingWriter) Header() http.Header         { return w.h }
func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *countingWriter) WriteHeader(int)             {}

func TestRequestIDShape(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newRequestID().String()
		if len(id) != 56 || !strings.HasSuffix(id, "==") {
			t.Fatalf("X-Amz-Cf-Id %q: want 56 characters ending in ==", id)
		}
		raw, err := base64.URLEncoding.DecodeString(id)
		if err != nil || len(raw) != 40 {
			t.Fatalf("X-Amz-Cf-Id %q: not URL-safe base64 of 40 bytes: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("X-Amz-Cf-Id %q repeated", id)
		}
		seen[id] = true
	}
}

// BenchmarkHit measures one cache hit in the handler, in process (no
// network; the ResponseWriter keeps nothing): a plain GET through the
// fast path, and the same object through the general path
// (http.ServeContent). Run with
//
//	go test -run '^$' -bench Hit -benchmem ./internal/edge
func BenchmarkHit(b *testing.B) {
	o := newOrigin(b)
	for _, size := range []int{1 << 10, 100 << 10} {
		o.set("/"+strconv.Itoa(size), strings.Repeat("x", size), "Cache-Control", "max-age=3600", "Content-Type", "application/octet-stream",
			"ETag", `"v1"`, "Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT")
	}
	h := newHarness(b, Config{}, dist("EBENCH", o, "bench.test"))
	for _, size := range []int{1 << 10, 100 << 10} {
		uri := "/" + strconv.Itoa(size)
		h.expect("bench.test", uri, strings.Repeat("x", size), miss)
		req := httptest.NewRequest(http.MethodGet, "http://bench.test"+uri, nil)
		w := &countingWriter{h: http.Header{}}
		b.Run(fmt.Sprintf("fast/%dKiB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.n = 0
				h.edge.ServeHTTP(w, req)
			}
			if w.n != size {
				b.Fatalf("wrote %d bytes", w.n)
			}
		})
		e := h.edge
		d, _ := e.dists.ByHost("bench.test")
		s := e.site(d)
		ent := e.lookup(s.ds, cacheKey(s, &s.def, req, http.MethodGet, uri, ""), uri)
		b.Run(fmt.Sprintf("general/%dKiB", size>>10), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				w.n = 0
				e.serveEntry(w, req, nil, ent, xHit, true, newRequestID().String(), 0)
			}
			if w.n != size {
				b.Fatalf("wrote %d bytes", w.n)
			}
		})
	}
}
