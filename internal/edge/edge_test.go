package edge

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/memory"
	"github.com/openfront/openfront/internal/testutil"
)

// origin is a test origin whose content the test changes. Each object is
// served with the headers set for it; every request is recorded.
type origin struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	objects  map[string]string      // guarded by mu: request URI -> body
	headers  map[string]http.Header // guarded by mu: request URI -> extra response headers
	hits     map[string]int         // guarded by mu: request URI -> requests seen
	requests []*http.Request        // guarded by mu
	handler  http.HandlerFunc       // guarded by mu: replaces the default when set
}

func newOrigin(t testing.TB) *origin {
	o := &origin{t: t, objects: map[string]string{}, headers: map[string]http.Header{}, hits: map[string]int{}}
	o.srv = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.hits[r.RequestURI]++
	o.requests = append(o.requests, r.Clone(context.Background()))
	h := o.handler
	body, ok := o.objects[r.RequestURI]
	extra := o.headers[r.RequestURI]
	o.mu.Unlock()
	if h != nil {
		h(w, r)
		return
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	for k, v := range extra {
		w.Header()[k] = v
	}
	http.ServeContent(w, r, "", time.Time{}, strings.NewReader(body)) // ETag, Range

}

func (o *origin) set(uri, body string, kv ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.objects[uri] = body
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	o.headers[uri] = h
}

func (o *origin) hitsOf(uri string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[uri]
}

func (o *origin) setHandler(h http.HandlerFunc) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.handler = h
}

func (o *origin) lastRequest() *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.requests[len(o.requests)-1]
}

func (o *origin) url() *url.URL {
	u, _ := url.Parse(o.srv.URL)
	return u
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// harness is an edge in front of origins, served by a real HTTP server.
type harness struct {
	t     testing.TB
	edge  *Edge
	srv   *httptest.Server
	reg   *distribution.Registry
	clock *fakeClock
}

func newHarness(t testing.TB, cfg Config, dists ...*distribution.Distribution) *harness {
	h := &harness{t: t, reg: distribution.NewRegistry(dists...), clock: &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}}
	cfg.Distributions = h.reg
	if cfg.Now == nil {
		cfg.Now = h.clock.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h.edge = New(cfg)
	h.srv = serveViewers(t, h.edge)
	t.Cleanup(func() {
		h.srv.Close()
		h.edge.Close()
	})
	return h
}

// serveViewers serves e to the tests as `openfront serve` does, on the
// viewer listener (NewServer), behind an httptest.Server that only lends
// it its URL and Client: the tests of this package run against the real
// listener, fast path and bridge. EDGE_TEST_LISTENER=nethttp serves e with
// net/http instead, to compare.
func serveViewers(t testing.TB, e *Edge) *httptest.Server {
	if os.Getenv("EDGE_TEST_LISTENER") == "nethttp" {
		return httptest.NewServer(e)
	}
	addr, _ := startViewerListener(t, e, ServerConfig{})
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Listener.Close()
	srv.Listener = &addrOnly{addr: addr, closed: make(chan struct{})}
	srv.Start()
	return srv
}

// addrOnly is a listener that accepts nothing and reports addr.
type addrOnly struct {
	addr   net.Addr
	closed chan struct{}
	once   sync.Once
}

func (l *addrOnly) Accept() (net.Conn, error) { <-l.closed; return nil, net.ErrClosed }
func (l *addrOnly) Close() error              { l.once.Do(func() { close(l.closed) }); return nil }
func (l *addrOnly) Addr() net.Addr            { return l.addr }

// dist is a distribution as the configuration file declares one, with
// CloudFront's defaults; change d.Config before newHarness.
func dist(id string, o *origin, aliases ...string) *distribution.Distribution {
	return distURL(id, o.url(), aliases...)
}

func distURL(id string, u *url.URL, aliases ...string) *distribution.Distribution {
	return distribution.FromFile(id, u, aliases, "cloudfront.localhost", time.Now())
}

// response is a viewer's view of an answer.
type response struct {
	status int
	header http.Header
	body   string
}

func (r response) xcache() string { return r.header.Get("X-Cache") }

func (h *harness) do(method, host, uri string, hdr ...string) response {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+uri, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, uri, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: reading body: %v", method, uri, err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func (h *harness) get(host, uri string, hdr ...string) response {
	h.t.Helper()
	return h.do(http.MethodGet, host, uri, hdr...)
}

// expect checks a GET answers status 200 with body and X-Cache xcache.
func (h *harness) expect(host, uri, body, xcache string) response {
	h.t.Helper()
	r := h.get(host, uri)
	if r.status != http.StatusOK || r.body != body || r.xcache() != xcache {
		h.t.Fatalf("GET %s%s = %d %.200q %q; want 200 %.200q %q", host, uri, r.status, r.body, r.xcache(), body, xcache)
	}
	return r
}

func (h *harness) apply(distID string, paths ...string) {
	h.t.Helper()
	inv := invalidation.Invalidation{DistributionID: distID, ID: invalidation.NewID(), Status: invalidation.InProgress, Batch: invalidation.Batch{CallerReference: "t", Paths: paths}}
	if err := h.edge.Apply(context.Background(), inv); err != nil {
		h.t.Fatal(err)
	}
}

const (
	hit     = "Hit from cloudfront"
	miss    = "Miss from cloudfront"
	refresh = "RefreshHit from cloudfront"
	errX    = "Error from cloudfront"
)

func TestMissHitInvalidateExact(t *testing.T) {
	o := newOrigin(t)
	h := newHarness(t, Config{}, dist("E1", o, "site.test"))
	o.set("/a.jpg", "v1")
	o.set("/b.jpg", "b1")

	h.expect("site.test", "/a.jpg", "v1", miss)
	r := h.expect("site.test", "/a.jpg", "v1", hit)
	if r.header.Get("Age") == "" {
		t.Error("a hit has no Age header")
	}
	h.expect("site.test", "/b.jpg", "b1", miss)

	o.set("/a.jpg", "v2")
	o.set("/b.jpg", "b2")
	h.clock.Advance(time.Hour)
	r = h.expect("site.test", "/a.jpg", "v1", hit)
	if got := r.header.Get("Age"); got != "3600" {
		t.Errorf("Age = %q, want 3600", got)
	}

	h.apply("E1", "/a.jpg")
	h.expect("site.test", "/a.jpg", "v2", miss)
	h.expect("site.test", "/a.jpg", "v2", hit)
	h.expect("site.test", "/b.jpg", "b1", hit) // not named: untouched
	if n := o.hitsOf("/a.jpg"); n != 2 {
		t.Errorf("origin saw /a.jpg %d times, want 2", n)
	}
}

func TestWildcard(t *testing.T) {
	o := newOrigin(t)
	h := newHarness(t, Config{}, dist("E1", o, "site.test"))
	for _, p := range []string{"/images/a.jpg", "/images/sub/b.jpg", "/imagesX", "/css/x.css"} {
		o.set(p, p+" v1")
		h.expect("site.test", p, p+" v1", miss)
		o.set(p, p+" v2")
	}
	h.apply("E1", "/images/*")
	h.expect("site.test", "/images/a.jpg", "/images/a.jpg v2", miss)
	h.expect("site.test", "/images/sub/b.jpg", "/images/sub/b.jpg v2", miss)
	h.expect("site.test", "/imagesX", "/imagesX v1", hit)
	h.expect("site.test", "/css/x.css", "/css/x.css v1", hit)

	h.apply("E1", "/*")
	h.expect("site.test", "/imagesX", "/imagesX v2", miss)
	h.expect("site.test", "/css/x.css", "/css/x.css v2", miss)
	h.expect("site.test", "/images/a.jpg", "/images/a.jpg v2", miss) // fetched before "/*"
	h.expect("site.test", "/images/a.jpg", "/images/a.jpg v2", hit)
}

func TestQueryVariantsForwarded(t *testing.T) {
	o := newOrigin(t)
	d := dist("E1", o, "site.test")
	d.Config.DefaultBehavior.ForwardQueryString = true
	h := newHarness(t, Config{}, d)
	uris := []string{"/a.jpg", "/a.jpg?v=1", "/a.jpg?v=2", "/a.jpgx?v=1"}
	gen := 1
	setAll := func() {
		for _, u := range uris {
			o.set(u, fmt.Sprintf("%s #%d", u, gen))
		}
	}
	setAll()
	for _, u := range uris {
		h.expect("site.test", u, u+" #1", miss)
		h.expect("site.test", u, u+" #1", hit)
	}
	gen = 2
	setAll()

	h.apply("E1", "/a.jpg") // the object without a query only
	h.expect("site.test", "/a.jpg", "/a.jpg #2", miss)
	h.expect("site.test", "/a.jpg?v=1", "/a.jpg?v=1 #1", hit)
	h.expect("site.test", "/a.jpg?v=2", "/a.jpg?v=2 #1", hit)

	h.apply("E1", "/a.jpg?v=1")
	h.expect("site.test", "/a.jpg?v=1", "/a.jpg?v=1 #2", miss)
	h.expect("site.test", "/a.jpg?v=2", "/a.jpg?v=2 #1", hit)

	gen = 3
	setAll()
	h.apply("E1", "/a.jpg*") // every query variant, and /a.jpgx too
	for _, u := range uris {
		h.expect("site.test", u, u+" #3", miss)
	}
	gen = 4
	setAll()
	h.apply("E1", "/a.jpg?*") // query variants only
	h.expect("site.test", "/a.jpg", "/a.jpg #3", hit)
	h.expect("site.test", "/a.jpg?v=1", "/a.jpg?v=1 #4", miss)
	h.expect("site.test", "/a.jpgx?v=1", "/a.jpgx?v=1 #3", hit)
}

func TestQueryNotForwarded(t *testing.T) {
	o := newOrigin(t)
	h := newHarness(t, Config{}, dist("E1", o, "site.test"))
	o.set("/a.jpg", "v1")
	h.expect("site.test", "/a.jpg?v=1", "v1", miss)
	if got := o.lastRequest().RequestURI; got != "/a.jpg" {
		t.Errorf("origin was asked for %q; the query must not be forwarded", got)
	}
	h.expect("site.test", "/a.jpg?v=2", "v1", hit)
	h.expect("site.test", "/a.jpg", "v1", hit)
	o.set("/a.jpg", "v2")
	h.apply("E1", "/a.jpg?v=9") // the query cannot narrow it: same object
	h.expect("site.test", "/a.jpg?v=1", "v2", miss)
}

func TestDefaultRootObject(t *testing.T) {
	o := newOrigin(t)
	d := dist("E1", o, "site.test")
	d.Config.DefaultRootObject = "index.html"
	h := newHarness(t, Config{}, d)
	o.set("/index.html", "home v1")
	h.expect("site.test", "/", "home v1", miss)
	if got := o.lastRequest().RequestURI; got != "/index.html" {
		t.Errorf("origin was asked for %q, want /index.html", got)
	}
	h.expect("site.test", "/index.html", "home v1", hit) // one object
	o.set("/index.html", "home v2")
	h.apply("E1", "/")
	h.expect("site.test", "/", "home v2", miss)
	o.set("/index.html", "home v3")
	h.apply("E1", "/index.html")
	h.expect("site.test", "/", "home v3", miss)
}

func TestDistributionsAreSeparate(t *testing.T) {
	oa, ob := newOrigin(t), newOrigin(t)
	h := newHarness(t, Config{}, dist("EA", oa, "a.test"), dist("EB", ob, "b.test"))
	oa.set("/x", "a1")
	ob.set("/x", "b1")
	h.expect("a.test", "/x", "a1", miss)
	h.expect("b.test", "/x", "b1", miss)
	oa.set("/x", "a2")
	ob.set("/x", "b2")
	h.apply("EA", "/x")
	h.apply("EA", "/*")
	h.expect("a.test", "/x", "a2", miss)
	h.expect("b.test", "/x", "b1", hit)
	h.apply("EB", "/x")
	h.expect("b.test", "/x", "b2", miss)
	// The distribution's own domain name reaches it too, in any case and
	// with a port.
	h.expect("EA.cloudfront.localhost:80", "/x", "a2", hit)
}

func TestPercentEncodingCanonical(t *testing.T) {
	o := newOrigin(t)
	h := newHarness(t, Config{}, dist("E1", o, "site.test"))
	o.set("/caf%C3%A9%20menu", "menu v1")
	o.set("/~user/a%2Fb", "user v1")
	h.expect("site.test", "/caf%c3%a9%20menu", "menu v1", miss) // lower-case hex: same object
	h.expect("site.test", "/caf%C3%A9%20menu", "menu v1", hit)
	h.expect("site.test", "/%7Euser/a%2fb", "user v1", miss)
	h.expect("site.test", "/~user/a%2Fb", "user v1", hit)
	o.set("/caf%C3%A9%20menu", "menu v2")
	o.set("/~user/a%2Fb", "user v2")
	h.apply("E1", "/café menu")  // raw UTF-8 and space, as a client may send them
	h.apply("E1", "/~user/a/b")  // %2F is not '/': no match
	h.apply("E1", "/Caf%C3%A9*") // case-sensitive: no match
	h.expect("site.test", "/caf%C3%A9%20menu", "menu v2", miss)
	h.expect("site.test", "/~user/a%2Fb", "user v1", hit)
	h.apply("E1", "/%7euser/*")
	h.expect("site.test", "/~user/a%2Fb", "user v2", miss)
}

func TestUnknownHostDisabledAndMethods(t *testing.T) {
	o := newOrigin(t)
	off := dist("EOFF", o, "off.test")
	off.Config.Enabled = false
	opt := dist("EOPT", o, "opt.test")
	opt.Config.DefaultBehavior.AllowedMethods = []string{"GET", "HEAD", "OPTIONS"}
	h := newHarness(t, Config{}, dist("E1", o, "site.test"), off, opt)
	for _, host := range []string{"nowhere.test", "off.test"} {
		r := h.get(host, "/a")
		if r.status != http.StatusForbidden || r.xcache() != errX || !strings.Contains(r.body, "The request could not be satisfied") {
			t.Errorf("GET on %s = %d %q %.80q; want 403 from the edge", host, r.status, r.xcache(), r.body)
		}
		if r.header.Get("X-Amz-Cf-Id") == "" || r.header.Get("Server") != "CloudFront" {
			t.Errorf("error page headers: %v", r.header)
		}
	}
	r := h.do(http.MethodPost, "site.test", "/a")
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "not configured to allow the HTTP request method") {
		t.Errorf("POST = %d %.200q; want CloudFront's 403", r.status, r.body)
	}
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
		w.Header().Set("X-Method", r.Method)
		w.WriteHeader(http.StatusNoContent)
	})
	if r := h.do(http.MethodOptions, "site.test", "/a"); r.status != http.StatusForbidden {
		t.Errorf("OPTIONS with AllowedMethods GET, HEAD = %d, want 403", r.status)
	}
	r = h.do(http.MethodOptions, "opt.test", "/a", "Origin", "https://app.test")
	if r.status != http.StatusNoContent || r.header.Get("X-Method") != "OPTIONS" || r.header.Get("Access-Control-Allow-Origin") != "https://app.test" || r.xcache() != miss {
		t.Errorf("OPTIONS = %d %v; want it passed through", r.status, r.header)
	}
	if n := o.hitsOf("/a"); n != 1 {
		t.Errorf("origin saw %d requests, want the OPTIONS only", n)
	}
}

func TestAllMethodsPassThrough(t *testing.T) {
	o := newOrigin(t)
	d := dist("E1", o, "site.test")
	d.Config.DefaultBehavior.AllowedMethods = []string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}
	h := newHarness(t, Config{}, d)
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.Header.Get("Content-Type"), body)
	})
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/form", strings.NewReader("x=1"))
	req.Host = "site.test"
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != "POST application/x-www-form-urlencoded x=1" || resp.Header.Get("X-Cache") != miss {
		t.Errorf("POST answered %q %q", got, resp.Header.Get("X-Cache"))
	}
}

func TestHeaders(t *testing.T) {
	o := newOrigin(t)
	h := newHarness(t, Config{PopName: "TST1-C1"}, dist("E1", o, "site.test"))
	o.set("/a", "x", "Set-Cookie", "session=secret", "Content-Type", "text/plain")
	r := h.get("site.test", "/a", "Cookie", "c=1", "X-Forwarded-For", "203.0.113.9", "User-Agent", "viewer/1")
	if !strings.HasPrefix(r.header.Get("Via"), "1.1 ") || !strings.HasSuffix(r.header.Get("Via"), ".cloudfront.net (CloudFront)") {
		t.Errorf("Via = %q", r.header.Get("Via"))
	}
	if r.header.Get("X-Amz-Cf-Pop") != "TST1-C1" || len(r.header.Get("X-Amz-Cf-Id")) != 56 {
		t.Errorf("X-Amz-Cf-Pop %q, X-Amz-Cf-Id %q", r.header.Get("X-Amz-Cf-Pop"), r.header.Get("X-Amz-Cf-Id"))
	}
	if r.header.Get("Set-Cookie") != "" {
		t.Error("a cached response kept Set-Cookie")
	}
	if r.header.Get("Content-Type") != "text/plain" {
		t.Errorf("Content-Type = %q", r.header.Get("Content-Type"))
	}
	req := o.lastRequest()
	if req.Host != o.url().Host {
		t.Errorf("origin saw Host %q, want its own %q", req.Host, o.url().Host)
	}
	if req.Header.Get("Cookie") != "" || req.Header.Get("User-Agent") != "Amazon CloudFront" {
		t.Errorf("origin saw Cookie %q, User-Agent %q", req.Header.Get("Cookie"), req.Header.Get("User-Agent"))
	}
	if got := req.Header.Get("X-Forwarded-For"); got != "203.0.113.9, 127.0.0.1" {
		t.Errorf("origin saw X-Forwarded-For %q", got)
	}
	if !strings.HasSuffix(req.Header.Get("Via"), "(CloudFront)") || req.Header.Get("X-Amz-Cf-Id") != r.header.Get("X-Amz-Cf-Id") {
		t.Errorf("origin saw Via %q, X-Amz-Cf-Id %q", req.Header.Get("Via"), req.Header.Get("X-Amz-Cf-Id"))
	}
	if req.Header.Get("Accept-Encoding") != "" {
		t.Errorf("origin saw Accept-Encoding %q", req.Header.Get("Accept-Encoding"))
	}
}

func TestHeadAndRangeFromCache(t *testing.T) {
	o := newOrigin(t)
	h := newHarness(t, Config{}, dist("E1", o, "site.test"))
	o.set("/f", "0123456789", "ETag", `"v1"`, "Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
	r := h.do(http.MethodHead, "site.test", "/f")
	if r.status != 200 || r.body != "" || r.header.Get("Content-Length") != "10" || r.xcache() != miss {
		t.Errorf("HEAD = %d %q len %q %q", r.status, r.body, r.header.Get("Content-Length"), r.xcache())
	}
	if m := o.lastRequest().Method; m != http.MethodGet {
		t.Errorf("a HEAD miss fetched with %s, want GET", m)
	}
	r = h.get("site.test", "/f", "Range", "bytes=2-5")
	if r.status != http.StatusPartialContent || r.body != "2345" || r.header.Get("Content-Range") != "bytes 2-5/10" || r.xcache() != hit {
		t.Errorf("Range = %d %q %q %q", r.status, r.body, r.header.Get("Content-Range"), r.xcache())
	}
	r = h.get("site.test", "/f", "If-None-Match", `"v1"`)
	if r.status != http.StatusNotModified {
		t.Errorf("If-None-Match = %d, want 304", r.status)
	}
	r = h.get("site.test", "/f", "Range", "bytes=20-")
	if r.status != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("unsatisfiable Range = %d", r.status)
	}
	if n := o.hitsOf("/f"); n != 1 {
		t.Errorf("origin saw /f %d times, want 1", n)
	}
}

func TestTTLAndRevalidation(t *testing.T) {
	o := newOrigin(t)
	h := newHarness(t, Config{}, dist("E1", o, "site.test"))
	o.set("/etag", "e1", "Cache-Control", "max-age=60", "ETag", `"e1"`)
	o.set("/plain", "p1", "Cache-Control", "max-age=60")
	o.set("/nostore", "n1", "Cache-Control", "no-store")
	o.set("/default", "d1")

	h.expect("site.test", "/etag", "e1", miss)
	h.expect("site.test", "/plain", "p1", miss)
	h.expect("site.test", "/nostore", "n1", miss)
	h.expect("site.test", "/nostore", "n1", miss)
	h.expect("site.test", "/default", "d1", miss)

	h.clock.Advance(61 * time.Second)
	o.set("/plain", "p2", "Cache-Control", "max-age=60")
	h.expect("site.test", "/etag", "e1", refresh)
	if got := o.lastRequest().Header.Get("If-None-Match"); got != `"e1"` {
		t.Errorf("revalidation sent If-None-Match %q", got)
	}
	h.expect("site.test", "/etag", "e1", hit)
	h.expect("site.test", "/plain", "p2", miss)
	h.expect("site.test", "/default", "d1", hit) // DefaultTTL: a day

	h.clock.Advance(24 * time.Hour)
	o.set("/default", "d2")
	h.expect("site.test", "/default", "d2", miss)
	if n := o.hitsOf("/etag"); n != 2 {
		t.Errorf("origin saw /etag %d times, want 2", n)
	}
}

// waiting returns how many callers wait on another's fill right now.
func (g *flightGroup) waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, f := range g.m {
		n += f.waiters
	}
	return n
}

func TestConcurrentMissesMakeOneOriginRequest(t *testing.T) {
	o := newOrigin(t)
	h := newHarness(t, Config{}, dist("E1", o, "site.test"))
	release := make(chan struct{})
	var started atomic.Int32
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		<-release
		io.WriteString(w, "slow")
	})
	const n = 20
	var wg sync.WaitGroup
	results := make([]response, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = h.get("site.test", "/slow")
		}()
	}
	// Every viewer is either at the origin or waiting on a fill in
	// progress before the origin answers: without coalescing all n reach
	// the origin, and the count below says so.
	testutil.Eventually(t, 10*time.Second, func() bool {
		return int(started.Load())+h.edge.flights.waiting() == n
	}, "every viewer to reach the origin or wait on a fill")
	close(release)
	wg.Wait()
	for i, r := range results {
		if r.status != 200 || r.body != "slow" {
			t.Errorf("viewer %d got %d %q", i, r.status, r.body)
		}
	}
	if got := o.hitsOf("/slow"); got != 1 {
		t.Errorf("origin saw %d requests, want 1", got)
	}
}

// TestInvalidationDuringFetch: content a fetch started before an
// invalidation brings back must not be served after Apply returned.
func TestInvalidationDuringFetch(t *testing.T) {
	o := newOrigin(t)
	h := newHarness(t, Config{}, dist("E1", o, "site.test"))
	release := make(chan struct{})
	var version atomic.Int32
	version.Store(1)
	var first atomic.Bool
	first.Store(true)
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		v := version.Load() // read when the request arrives
		if first.Swap(false) {
			<-release
		}
		fmt.Fprintf(w, "v%d", v)
	})
	done := make(chan response)
	go func() { done <- h.get("site.test", "/a") }()
	testutil.Eventually(t, 10*time.Second, func() bool { return !first.Load() }, "the first fetch to reach the origin")
	version.Store(2)
	h.apply("E1", "/a")
	close(release)
	<-done // may be v1 or v2: the viewer came before Apply returned
	h.expect("site.test", "/a", "v2", hit)
}

func TestEvictionUnderMemoryPressure(t *testing.T) {
	o := newOrigin(t)
	const size = 64 << 10
	h := newHarness(t, Config{CacheSize: size}, dist("E1", o, "site.test"))
	body := strings.Repeat("x", 4<<10)
	for i := range 100 {
		p := "/obj" + strconv.Itoa(i)
		o.set(p, body)
		h.expect("site.test", p, body, miss)
	}
	h.edge.cache.CleanUp()
	st := h.edge.Stats()
	if st.Bytes > size {
		t.Errorf("cache holds %d bytes, over its %d", st.Bytes, size)
	}
	if st.Objects > 16 || st.Objects == 0 {
		t.Errorf("cache holds %d objects of 4 KiB in 64 KiB", st.Objects)
	}
	h.expect("site.test", "/obj0", body, miss) // evicted long ago
	checkLive(t, h.edge)
}

func TestOriginDownThenRecovers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connection refused
	u, _ := url.Parse("http://" + addr)
	h := newHarness(t, Config{}, distURL("E1", u, "site.test"))
	r := h.get("site.test", "/a")
	if r.status != http.StatusBadGateway || r.xcache() != errX || !strings.Contains(r.body, "502 ERROR") {
		t.Fatalf("origin down: %d %q %.100q", r.status, r.xcache(), r.body)
	}
	// The origin comes up on the same address.
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen again on %s: %v", addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "up") })}
	go srv.Serve(ln)
	defer srv.Close()
	h.expect("site.test", "/a", "up", miss)
	h.expect("site.test", "/a", "up", hit)
}

func TestOriginResetIs502(t *testing.T) {
	o := newOrigin(t)
	h := newHarness(t, Config{}, dist("E1", o, "site.test"))
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		c, _, _ := w.(http.Hijacker).Hijack()
		c.Close()
	})
	if r := h.get("site.test", "/a"); r.status != http.StatusBadGateway {
		t.Errorf("origin reset: %d", r.status)
	}
	o.setHandler(nil)
	o.set("/a", "ok")
	h.expect("site.test", "/a", "ok", miss)
}

func TestOriginTimeouts(t *testing.T) {
	o := newOrigin(t)
	d := dist("E1", o, "site.test")
	d.Config.Origins[0].ReadTimeout = 200 * time.Millisecond // the origin's response timeout
	h := newHarness(t, Config{}, d)
	stop := make(chan struct{})
	defer close(stop)
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(2 * time.Second):
		case <-stop:
		case <-r.Context().Done():
		}
	})
	// The origin answers (an empty 200) only after 2s: a 504 shows the edge
	// gave up first, whatever the machine's speed.
	r := h.get("site.test", "/slow")
	if r.status != http.StatusGatewayTimeout || r.xcache() != errX || !strings.Contains(r.body, "504 ERROR") {
		t.Errorf("slow origin: %d %q", r.status, r.xcache())
	}
	// A body that stalls half way.
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "01234")
		w.(http.Flusher).Flush()
		select {
		case <-time.After(2 * time.Second):
		case <-stop:
		case <-r.Context().Done():
		}
	})
	if r := h.get("site.test", "/stall"); r.status != http.StatusGatewayTimeout {
		t.Errorf("stalled body: %d %q", r.status, r.body)
	}
	o.setHandler(nil)
	o.set("/slow", "fast now")
	h.expect("site.test", "/slow", "fast now", miss)
	h.expect("site.test", "/slow", "fast now", hit)
}

func TestOrigin5xxNotCachedAndStaleServed(t *testing.T) {
	o := newOrigin(t)
	h := newHarness(t, Config{}, dist("E1", o, "site.test"))
	fail := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "origin overloaded")
	}
	o.setHandler(fail)
	for range 2 {
		r := h.get("site.test", "/a")
		if r.status != http.StatusServiceUnavailable || r.body != "origin overloaded" || r.xcache() != errX {
			t.Errorf("origin 503: %d %q %q", r.status, r.body, r.xcache())
		}
	}
	if n := o.hitsOf("/a"); n != 2 {
		t.Errorf("a 503 was cached: origin saw %d requests", n)
	}
	o.setHandler(nil)
	o.set("/a", "good", "Cache-Control", "max-age=60")
	h.expect("site.test", "/a", "good", miss)

	// Stale and the origin fails: the stale copy is served.
	h.clock.Advance(2 * time.Minute)
	o.setHandler(fail)
	h.expect("site.test", "/a", "good", hit)
	// An invalidated object is not served stale.
	h.apply("E1", "/a")
	if r := h.get("site.test", "/a"); r.status != http.StatusServiceUnavailable {
		t.Errorf("after invalidation: %d %q", r.status, r.body)
	}
}

func TestErrorsCachedBriefly(t *testing.T) {
	o := newOrigin(t)
	h := newHarness(t, Config{}, dist("E1", o, "site.test"))
	for range 2 {
		if r := h.get("site.test", "/missing"); r.status != 404 || r.xcache() != errX {
			t.Errorf("404: %d %q", r.status, r.xcache())
		}
	}
	if n := o.hitsOf("/missing"); n != 1 {
		t.Errorf("origin saw %d requests for a 404 within 10s", n)
	}
	h.clock.Advance(11 * time.Second)
	o.set("/missing", "here")
	h.expect("site.test", "/missing", "here", miss)
}

func TestOversizedStreamsUncached(t *testing.T) {
	o := newOrigin(t)
	h := newHarness(t, Config{MaxObjectSize: 1 << 10}, dist("E1", o, "site.test"))
	big := strings.Repeat("0123456789", 1000)
	o.set("/big", big)
	h.expect("site.test", "/big", big, miss)
	h.expect("site.test", "/big", big, miss)
	if n := o.hitsOf("/big"); n != 2 {
		t.Errorf("origin saw /big %d times, want 2 (not cached)", n)
	}
	// Without Content-Length (chunked).
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < len(big); i += 500 {
			io.WriteString(w, big[i:i+500])
			w.(http.Flusher).Flush()
		}
	})
	h.expect("site.test", "/chunked", big, miss)
	// A Range request for a large object goes to the origin with its Range.
	o.setHandler(nil)
	r := h.get("site.test", "/big", "Range", "bytes=10-19")
	if r.status != http.StatusPartialContent || r.body != "0123456789" {
		t.Errorf("Range on a large object: %d %.100q", r.status, r.body)
	}
	r = h.do(http.MethodHead, "site.test", "/big")
	if r.status != 200 || r.header.Get("Content-Length") != strconv.Itoa(len(big)) {
		t.Errorf("HEAD of a large object: %d %v", r.status, r.header)
	}
	if st := h.edge.Stats(); st.Objects != 0 {
		t.Errorf("%d objects cached", st.Objects)
	}
}

func TestOversizedConcurrent(t *testing.T) {
	o := newOrigin(t)
	h := newHarness(t, Config{MaxObjectSize: 1 << 10}, dist("E1", o, "site.test"))
	big := strings.Repeat("abcdefghij", 500)
	release := make(chan struct{})
	var once sync.Once
	var arrived atomic.Int32
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		arrived.Add(1)
		once.Do(func() { <-release })
		io.WriteString(w, big)
	})
	const n = 5
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := h.get("site.test", "/big"); r.status != 200 || r.body != big {
				t.Errorf("got %d, %d bytes", r.status, len(r.body))
			}
		}()
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		return int(arrived.Load())+h.edge.flights.waiting() == n
	}, "every viewer to reach the origin or wait on a fill")
	close(release)
	wg.Wait()
}

func TestHTTPSOrigin(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls host=%s", r.Host)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	tlsConf := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	h := newHarness(t, Config{OriginTLS: tlsConf}, distURL("E1", u, "site.test"))
	h.expect("site.test", "/x", "tls host="+u.Host, miss)
	h.expect("site.test", "/x", "tls host="+u.Host, hit)
}

func TestOriginPath(t *testing.T) {
	o := newOrigin(t)
	u := o.url()
	u.Path = "/prefix/"
	h := newHarness(t, Config{}, distURL("E1", u, "site.test"))
	o.set("/prefix/a", "under prefix")
	h.expect("site.test", "/a", "under prefix", miss)
	h.apply("E1", "/a")
	h.expect("site.test", "/a", "under prefix", miss)
}

func TestMarkersReclaimed(t *testing.T) {
	o := newOrigin(t)
	h := newHarness(t, Config{}, dist("E1", o, "site.test"))
	o.set("/a", "a1")
	o.set("/b/c", "c1")
	h.expect("site.test", "/a", "a1", miss)
	h.expect("site.test", "/b/c", "c1", miss)
	h.apply("E1", "/b/*", "/a")
	if got := h.edge.Stats().Markers; got != 2 {
		t.Fatalf("markers = %d, want 2", got)
	}
	// /b/c is still cached, dead and older than both markers: they stay
	// until the sweep removes it.
	if left := h.edge.reclaimStates(); left != 2 {
		t.Errorf("after reclaim: %d markers, want 2", left)
	}
	if left := h.edge.reclaim(); left != 0 { // sweeps: nothing was swept yet
		t.Errorf("after sweep: %d markers, want 0", left)
	}
	h.expect("site.test", "/b/c", "c1", miss)
	checkLive(t, h.edge)
}

// TestService drives the edge through invalidation.Service, as
// `openfront serve` will: the invalidation completes only once applied.
func TestService(t *testing.T) {
	o := newOrigin(t)
	h := newHarness(t, Config{}, dist("E1", o, "site.test"))
	o.set("/a", "v1")
	h.expect("site.test", "/a", "v1", miss)
	o.set("/a", "v2")
	svc := invalidation.NewService(invalidation.Config{
		Store:         memory.New(),
		Distributions: h.reg,
		Applier:       h.edge,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	defer svc.Close()
	inv, _, err := svc.Create(context.Background(), "E1", invalidation.Batch{CallerReference: "r1", Paths: []string{"/*"}})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, func() bool {
		got, err := svc.Get(context.Background(), "E1", inv.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status == invalidation.Completed
	}, "the invalidation to complete")
	h.expect("site.test", "/a", "v2", miss)
}

// checkLive verifies the live counts match the cached objects.
func checkLive(t *testing.T, e *Edge) {
	t.Helper()
	e.cache.CleanUp()
	n := 0
	for range e.cache.All() {
		n++
	}
	live := 0
	for _, d := range *e.states.Load() {
		d.liveMu.Lock()
		for _, c := range d.live {
			live += c
		}
		d.liveMu.Unlock()
	}
	if live != n {
		t.Errorf("live counts say %d, the cache holds %d objects", live, n)
	}
}

func TestForwardedHeadersCookiesAndQueryKeys(t *testing.T) {
	o := newOrigin(t)
	d := dist("E1", o, "site.test", "other.test")
	cb := &d.Config.DefaultBehavior
	cb.ForwardedHeaders = []string{"Host", "accept-language"}
	cb.ForwardCookies = "whitelist"
	cb.CookieNames = []string{"lang"}
	cb.ForwardQueryString = true
	cb.QueryStringCacheKeys = []string{"v"}
	d.Config.Origins[0].CustomHeaders = []distribution.Header{{Name: "X-Origin-Secret", Value: "s3cret"}}
	h := newHarness(t, Config{}, d)
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Cookie("lang")
		other, _ := r.Cookie("session")
		fmt.Fprintf(w, "host=%s al=%s lang=%v session=%v uri=%s secret=%s",
			r.Host, r.Header.Get("Accept-Language"), c != nil && c.Value == "fr", other != nil, r.RequestURI, r.Header.Get("X-Origin-Secret"))
	})
	want := "host=site.test al=fr lang=true session=false uri=/a?v=1&x=2 secret=s3cret"
	r := h.get("site.test", "/a?v=1&x=2", "Accept-Language", "fr", "Cookie", "lang=fr; session=abc")
	if r.body != want || r.xcache() != miss {
		t.Fatalf("got %q %q, want %q", r.body, r.xcache(), want)
	}
	// x is not a cache key: same object. The session cookie is not either.
	if r := h.get("site.test", "/a?v=1&x=3", "Accept-Language", "fr", "Cookie", "lang=fr; session=xyz"); r.body != want || r.xcache() != hit {
		t.Errorf("same key: %q %q", r.body, r.xcache())
	}
	// Another forwarded header value, cookie or Host: another object.
	for _, c := range [][]string{
		{"site.test", "Accept-Language", "de", "Cookie", "lang=fr"},
		{"site.test", "Accept-Language", "fr", "Cookie", "lang=de"},
		{"other.test", "Accept-Language", "fr", "Cookie", "lang=fr"},
	} {
		if r := h.get(c[0], "/a?v=1", c[1:]...); r.xcache() != miss {
			t.Errorf("%v: %q, want a miss", c, r.xcache())
		}
	}
	// One invalidation of the path removes every variant.
	h.apply("E1", "/a?v=1")
	if r := h.get("site.test", "/a?v=1&x=2", "Accept-Language", "fr", "Cookie", "lang=fr"); r.xcache() != miss {
		t.Errorf("after invalidation: %q", r.xcache())
	}
	if r := h.get("other.test", "/a?v=1", "Accept-Language", "fr", "Cookie", "lang=fr"); r.xcache() != miss {
		t.Errorf("other variant after invalidation: %q", r.xcache())
	}
}

func TestCachingDisabledPolicy(t *testing.T) {
	o := newOrigin(t)
	d := dist("E1", o, "site.test")
	d.Config.DefaultBehavior.CachePolicyID = cachingDisabledPolicy
	h := newHarness(t, Config{}, d)
	o.set("/a", "x")
	for range 3 {
		h.expect("site.test", "/a", "x", miss)
	}
	if n := o.hitsOf("/a"); n != 3 {
		t.Errorf("origin saw %d requests, want 3", n)
	}
}

// TestConcurrentInvalidations hammers the edge with viewers while
// invalidations are applied, then checks the last one took effect.
func TestConcurrentInvalidations(t *testing.T) {
	o := newOrigin(t)
	h := newHarness(t, Config{CacheSize: 256 << 10}, dist("E1", o, "site.test"))
	var version atomic.Int64
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s@%d", r.URL.Path, version.Load())
	})
	paths := make([]string, 50)
	for i := range paths {
		paths[i] = fmt.Sprintf("/d%d/f%d", i%5, i)
	}
	stop := make(chan struct{})
	var served atomic.Int64 // fetches the viewers completed
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if r := h.get("site.test", paths[i%len(paths)]); r.status != 200 {
					t.Errorf("status %d", r.status)
					return
				}
				served.Add(1)
			}
		}()
	}
	for v := range 30 {
		version.Store(int64(v + 1))
		switch v % 3 {
		case 0:
			h.apply("E1", "/*")
		case 1:
			h.apply("E1", "/d1/*", "/d2/*")
		default:
			h.apply("E1", paths[:10]...)
		}
		// Viewers fetch between two invalidations: each one races fills.
		from := served.Load()
		testutil.Eventually(t, 10*time.Second, func() bool { return served.Load() >= from+4 }, "viewers to fetch after an invalidation")
	}
	version.Store(100)
	h.apply("E1", "/*")
	for _, p := range paths {
		want := fmt.Sprintf("%s@100", p)
		if r := h.get("site.test", p); r.body != want {
			t.Errorf("GET %s = %q after the last invalidation, want %q", p, r.body, want)
		}
	}
	close(stop)
	wg.Wait()
	h.edge.reclaim()
	checkLive(t, h.edge)
}
