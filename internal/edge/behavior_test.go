package edge

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
)

func TestMatchPattern(t *testing.T) {
	for _, c := range []struct {
		pattern string
		yes, no []string
	}{
		{"*", []string{"/", "/a", "/a/b.jpg"}, nil},
		{"/images/*", []string{"/images/", "/images/a.jpg", "/images/a/b/c"}, []string{"/images", "/Images/a", "/x/images/a"}},
		{"images/*", []string{"/images/a.jpg"}, []string{"/images"}},
		{"*.jpg", []string{"/a.jpg", "/x/y/a.jpg", "/.jpg"}, []string{"/a.JPG", "/a.jpg/x", "/a.jpeg"}},
		{"/images/*.jpg", []string{"/images/a.jpg", "/images/x/a.jpg"}, []string{"/a.jpg", "/images/a.png"}},
		{"/a?c", []string{"/abc", "/a.c", "/a%2Fc", "/a~c"}, []string{"/ac", "/abbc"}},
		{"?abc", []string{"/xabc"}, []string{"/abc"}}, // "/?abc"
		{"/api", []string{"/api"}, []string{"/api/", "/apix"}},
		{"/*/x/*", []string{"/a/x/b", "/a/b/x/c"}, []string{"/x/b", "/a/x"}},
		{"/a*b*c", []string{"/abc", "/aXbYc", "/abbbc", "/acbc"}, []string{"/ab", "/acb"}},
		{"/caf\u00e9/*", []string{"/caf%C3%A9/menu", "/caf%c3%a9/menu"}, []string{"/cafe/menu"}},
		{"/%7euser/*", []string{"/~user/a"}, nil}, // escapes are canonical on both sides
		{"/**", []string{"/", "/a"}, nil},
	} {
		pat := compilePattern(c.pattern)
		for _, p := range c.yes {
			if !matchPattern(pat, canonical(p, false)) {
				t.Errorf("pattern %q does not match %q", c.pattern, p)
			}
		}
		for _, p := range c.no {
			if matchPattern(pat, canonical(p, false)) {
				t.Errorf("pattern %q matches %q", c.pattern, p)
			}
		}
	}
	// Worst case stays polynomial.
	pat := compilePattern("/" + strings.Repeat("a*", 20) + "b")
	if matchPattern(pat, "/"+strings.Repeat("a", 5000)) {
		t.Error("matched a path without b")
	}
}

// twoOrigins is a distribution whose default behavior targets a and whose
// path-pattern behaviors target b (Id "b").
func twoOrigins(id string, a, b *origin, host string, behaviors ...distribution.CacheBehavior) *distribution.Distribution {
	d := dist(id, a, host)
	u := b.url()
	port, _ := strconv.Atoi(u.Port())
	d.Config.Origins = append(d.Config.Origins, distribution.Origin{
		ID: "b", DomainName: u.Hostname(), ProtocolPolicy: "match-viewer", HTTPPort: port, HTTPSPort: 443,
		ConnectionAttempts: 3, ConnectionTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
	})
	for i := range behaviors {
		if behaviors[i].TargetOriginID == "" {
			behaviors[i].TargetOriginID = "b"
		}
	}
	d.Config.Behaviors = behaviors
	return d
}

func TestPathPatternBehaviors(t *testing.T) {
	a, b := newOrigin(t), newOrigin(t)
	d := twoOrigins("E1", a, b, "site.test",
		distribution.CacheBehavior{PathPattern: "/api/*", ForwardQueryString: true, MinTTL: 0, DefaultTTL: 0, MaxTTL: 31536000,
			AllowedMethods: []string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}},
		distribution.CacheBehavior{PathPattern: "*.png", MinTTL: 0, DefaultTTL: 60, MaxTTL: 60},
		distribution.CacheBehavior{PathPattern: "/api/special", TargetOriginID: distribution.FileOriginID}, // shadowed by /api/*
	)
	d.Config.Origins[1].OriginPath = "/v1"
	d.Config.Origins[1].CustomHeaders = []distribution.Header{{Name: "X-From-Edge", Value: "b-secret"}}
	h := newHarness(t, Config{}, d)
	a.set("/index", "a index")
	a.set("/img/x.png", "a png")
	b.set("/v1/img/x.png", "b png", "ETag", `"png1"`)
	b.set("/v1/api/items?page=2", "b items 2", "Cache-Control", "max-age=300")
	b.set("/v1/api/items?page=3", "b items 3", "Cache-Control", "max-age=300")
	b.set("/v1/api/special", "b special", "Cache-Control", "max-age=300")

	h.expect("site.test", "/index", "a index", miss)
	h.expect("site.test", "/img/x.png", "b png", miss)
	h.expect("site.test", "/img/x.png", "b png", hit)
	if got := b.lastRequest().Header.Get("X-From-Edge"); got != "b-secret" {
		t.Errorf("origin b saw X-From-Edge %q", got)
	}
	// *.png's TTL is 60s; the default behavior's is a day.
	h.clock.Advance(2 * time.Minute)
	h.expect("site.test", "/img/x.png", "b png", refresh)
	h.expect("site.test", "/index", "a index", hit)

	// /api/* forwards query strings: two objects.
	h.expect("site.test", "/api/items?page=2", "b items 2", miss)
	h.expect("site.test", "/api/items?page=3", "b items 3", miss)
	h.expect("site.test", "/api/items?page=2", "b items 2", hit)
	h.expect("site.test", "/api/special", "b special", miss)

	// An invalidation path names its object under the behavior its path
	// matches: the query is kept for /api/*, dropped for *.png.
	b.set("/v1/api/items?page=2", "b items 2 new")
	b.set("/v1/api/items?page=3", "b items 3 new")
	b.set("/v1/img/x.png", "b png new")
	h.apply("E1", "/api/items?page=2", "/img/x.png?v=9")
	h.expect("site.test", "/api/items?page=2", "b items 2 new", miss)
	h.expect("site.test", "/api/items?page=3", "b items 3", hit)
	h.expect("site.test", "/img/x.png", "b png new", miss)

	// Methods: POST is allowed under /api/* only.
	b.setHandler(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RequestURI(), body)
	})
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/api/items?x=1", strings.NewReader("payload"))
	req.Host = "site.test"
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != "POST /v1/api/items?x=1 payload" || resp.Header.Get("X-Cache") != miss {
		t.Errorf("POST under /api/*: %d %q %q", resp.StatusCode, got, resp.Header.Get("X-Cache"))
	}
	for _, p := range []string{"/index", "/img/x.png"} {
		if r := h.do(http.MethodPost, "site.test", p); r.status != http.StatusForbidden || !strings.Contains(r.body, "not configured to allow the HTTP request method") {
			t.Errorf("POST %s = %d, want CloudFront's 403", p, r.status)
		}
		if r := h.do(http.MethodOptions, "site.test", p); r.status != http.StatusForbidden {
			t.Errorf("OPTIONS %s = %d, want 403", p, r.status)
		}
	}
	if r := h.do("TRACE", "site.test", "/api/items"); r.status != http.StatusForbidden {
		t.Errorf("TRACE = %d, want 403", r.status)
	}
}

func TestOptionsCachedWhenInCachedMethods(t *testing.T) {
	o := newOrigin(t)
	d := dist("E1", o, "site.test")
	cb := &d.Config.DefaultBehavior
	cb.AllowedMethods = []string{"GET", "HEAD", "OPTIONS"}
	cb.CachedMethods = []string{"GET", "HEAD", "OPTIONS"}
	cb.ForwardedHeaders = []string{"Origin"}
	nocache := dist("E2", o, "nocache.test")
	nocache.Config.DefaultBehavior.AllowedMethods = []string{"GET", "HEAD", "OPTIONS"}
	h := newHarness(t, Config{}, d, nocache)
	var n atomic.Int64
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			w.Header().Set("Access-Control-Allow-Methods", "GET")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		fmt.Fprintf(w, "GET body")
	})
	for i, want := range []string{miss, hit} {
		r := h.do(http.MethodOptions, "site.test", "/a", "Origin", "https://app.test")
		if r.status != http.StatusNoContent || r.xcache() != want || r.header.Get("Access-Control-Allow-Origin") != "https://app.test" {
			t.Errorf("OPTIONS #%d: %d %q %v", i, r.status, r.xcache(), r.header)
		}
	}
	// Another Origin is another object (Origin is forwarded), and GET is
	// not the OPTIONS object.
	if r := h.do(http.MethodOptions, "site.test", "/a", "Origin", "https://other.test"); r.xcache() != miss || r.header.Get("Access-Control-Allow-Origin") != "https://other.test" {
		t.Errorf("OPTIONS from another Origin: %q %v", r.xcache(), r.header)
	}
	if r := h.get("site.test", "/a", "Origin", "https://app.test"); r.body != "GET body" || r.xcache() != miss {
		t.Errorf("GET after OPTIONS: %q %q", r.body, r.xcache())
	}
	if got := n.Load(); got != 3 {
		t.Errorf("origin saw %d requests, want 3", got)
	}
	// An invalidation of the path removes the OPTIONS object too.
	h.apply("E1", "/a")
	if r := h.do(http.MethodOptions, "site.test", "/a", "Origin", "https://app.test"); r.xcache() != miss {
		t.Errorf("OPTIONS after invalidation: %q", r.xcache())
	}
	// Without OPTIONS in CachedMethods, every OPTIONS goes to the origin.
	for range 2 {
		if r := h.do(http.MethodOptions, "nocache.test", "/a"); r.status != http.StatusNoContent || r.xcache() != miss {
			t.Errorf("uncached OPTIONS: %d %q", r.status, r.xcache())
		}
	}
}

func TestCustomErrorPages(t *testing.T) {
	a, b := newOrigin(t), newOrigin(t)
	d := twoOrigins("E1", a, b, "site.test", distribution.CacheBehavior{PathPattern: "/errors/*",
		AllowedMethods: []string{"GET", "HEAD"}, MinTTL: 0, DefaultTTL: 86400, MaxTTL: 86400})
	d.Config.DefaultBehavior.AllowedMethods = []string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}
	d.Config.CustomErrorResponses = []distribution.ErrorResponse{
		{ErrorCode: 404, ResponsePagePath: "/errors/404.html", ResponseCode: "200", ErrorCachingMinTTL: 30},
		{ErrorCode: 503, ResponsePagePath: "/errors/5xx.html", ErrorCachingMinTTL: 5},
		{ErrorCode: 502, ResponsePagePath: "/errors/5xx.html", ResponseCode: "503", ErrorCachingMinTTL: 0},
		{ErrorCode: 403, ErrorCachingMinTTL: 0}, // no page: TTL only
	}
	h := newHarness(t, Config{}, d)
	b.set("/errors/404.html", "sorry, not here", "Content-Type", "text/html")
	b.set("/errors/5xx.html", "we are down")

	check := func(uri string, status int, body string) response {
		t.Helper()
		r := h.get("site.test", uri)
		if r.status != status || r.body != body || r.xcache() != errX {
			t.Fatalf("GET %s = %d %q %q; want %d %q with X-Cache Error", uri, r.status, r.body, r.xcache(), status, body)
		}
		return r
	}
	r := check("/missing", 200, "sorry, not here")
	if r.header.Get("Content-Type") != "text/html" {
		t.Errorf("custom page Content-Type %q", r.header.Get("Content-Type"))
	}
	check("/missing", 200, "sorry, not here")
	check("/other-missing", 200, "sorry, not here")
	if a.hitsOf("/missing") != 1 || b.hitsOf("/errors/404.html") != 1 {
		t.Errorf("origin requests: /missing %d, page %d; want 1 and 1 (both cached)", a.hitsOf("/missing"), b.hitsOf("/errors/404.html"))
	}
	// The page is an object: invalidating it changes what errors show.
	b.set("/errors/404.html", "sorry v2")
	h.apply("E1", "/errors/404.html")
	check("/missing", 200, "sorry v2")
	// The error stays cached for ErrorCachingMinTTL (30s), then the origin
	// is asked again.
	a.set("/missing", "found")
	h.clock.Advance(20 * time.Second)
	check("/missing", 200, "sorry v2")
	h.clock.Advance(11 * time.Second)
	h.expect("site.test", "/missing", "found", miss)

	// An origin 503: the page with the original status.
	a.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "raw 503")
	})
	check("/busy", 503, "we are down")
	check("/busy", 503, "we are down")
	if n := a.hitsOf("/busy"); n != 1 {
		t.Errorf("a 503 with ErrorCachingMinTTL 5 was asked for %d times", n)
	}
	h.clock.Advance(6 * time.Second)
	a.setHandler(nil)
	a.set("/busy", "fine")
	h.expect("site.test", "/busy", "fine", miss)

	// A 403 has a TTL of 0 and no page: passed as is, not cached.
	a.setHandler(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "denied", http.StatusForbidden) })
	for range 2 {
		if r := h.get("site.test", "/secret"); r.status != 403 || r.body != "denied\n" {
			t.Errorf("403: %d %q", r.status, r.body)
		}
	}
	if n := a.hitsOf("/secret"); n != 2 {
		t.Errorf("a 403 with ErrorCachingMinTTL 0 was cached: %d origin requests", n)
	}

	// A passthrough's error gets the page too.
	a.setHandler(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	if r := h.do(http.MethodPost, "site.test", "/form"); r.status != 200 || r.body != "sorry v2" || r.xcache() != errX {
		t.Errorf("POST answered 404: %d %q %q", r.status, r.body, r.xcache())
	}
	// HEAD: the page's status and headers, no body.
	if r := h.do(http.MethodHead, "site.test", "/nothing"); r.status != 200 || r.body != "" || r.header.Get("Content-Length") != strconv.Itoa(len("sorry v2")) {
		t.Errorf("HEAD: %d %q %v", r.status, r.body, r.header)
	}

	// The page itself missing: the viewer gets what its origin said.
	b.mu.Lock()
	delete(b.objects, "/errors/404.html")
	b.mu.Unlock()
	h.apply("E1", "/errors/*")
	if r := h.get("site.test", "/gone"); r.status != 404 || r.body != "404 page not found\n" || r.xcache() != errX {
		t.Errorf("page missing: %d %q %q", r.status, r.body, r.xcache())
	}

	// The origin down: 502 becomes the 5xx page with ResponseCode 503.
	a.srv.CloseClientConnections()
	a.srv.Close()
	check("/down", 503, "we are down")
}

// dialCounter is an origin transport whose first fails dials fail.
type dialCounter struct {
	rt    http.RoundTripper
	fails int64
	dials atomic.Int64
}

func (c *dialCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.dials.Add(1) <= c.fails {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}
	return c.rt.RoundTrip(r)
}

func TestConnectionAttempts(t *testing.T) {
	o := newOrigin(t)
	d := dist("E1", o, "site.test")
	d.Config.DefaultBehavior.AllowedMethods = []string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}
	d.Config.Origins[0].ConnectionAttempts = 3
	tr := &dialCounter{rt: http.DefaultTransport, fails: 2}
	h := newHarness(t, Config{Transport: tr}, d)
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s", r.Method, body)
	})
	h.expect("site.test", "/a", "GET ", miss)
	if n := tr.dials.Load(); n != 3 {
		t.Errorf("GET: %d attempts, want 3", n)
	}
	tr.dials.Store(0)
	req, _ := http.NewRequest(http.MethodPut, h.srv.URL+"/a", strings.NewReader("data"))
	req.Host = "site.test"
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(got) != "PUT data" || tr.dials.Load() != 3 {
		t.Errorf("PUT after 2 failed connections: %q, %d attempts", got, tr.dials.Load())
	}
	// Every attempt fails: 502 after ConnectionAttempts.
	tr.dials.Store(0)
	tr.fails = 100
	if r := h.get("site.test", "/b"); r.status != http.StatusBadGateway || tr.dials.Load() != 3 {
		t.Errorf("origin down: %d after %d attempts", r.status, tr.dials.Load())
	}
	tr.dials.Store(0)
	if r := h.do(http.MethodDelete, "site.test", "/b"); r.status != http.StatusBadGateway || tr.dials.Load() != 3 {
		t.Errorf("DELETE, origin down: %d after %d attempts", r.status, tr.dials.Load())
	}
}

// TestBehaviorTimeouts checks each behavior's origin has its own response
// timeout.
func TestBehaviorTimeouts(t *testing.T) {
	a, b := newOrigin(t), newOrigin(t)
	d := twoOrigins("E1", a, b, "site.test", distribution.CacheBehavior{PathPattern: "/slow/*"})
	d.Config.Origins[1].ReadTimeout = 100 * time.Millisecond
	h := newHarness(t, Config{}, d)
	stop := make(chan struct{})
	defer close(stop)
	slow := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(400 * time.Millisecond):
		case <-stop:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "late")
	}
	a.setHandler(slow)
	b.setHandler(slow)
	h.expect("site.test", "/fast/x", "late", miss) // origin a: 30s
	if r := h.get("site.test", "/slow/x"); r.status != http.StatusGatewayTimeout {
		t.Errorf("origin b with a 100ms response timeout: %d", r.status)
	}
}

// swapDists is a Distributions whose registry a test replaces.
type swapDists struct {
	reg atomic.Pointer[distribution.Registry]
}

func (s *swapDists) ByHost(host string) (*distribution.Distribution, bool) {
	return s.reg.Load().ByHost(host)
}

func (s *swapDists) Get(id string) (*distribution.Distribution, bool) { return s.reg.Load().Get(id) }

func TestConfigChangeTakesEffect(t *testing.T) {
	a, b := newOrigin(t), newOrigin(t)
	dists := &swapDists{}
	dists.reg.Store(distribution.NewRegistry(dist("E1", a, "site.test")))
	h := newHarness(t, Config{})
	h.edge.dists = dists // before any request
	a.set("/x.png", "from a")
	b.set("/x.png", "from b")
	h.expect("site.test", "/x.png", "from a", miss)
	// A new version routes *.png to b: cached objects stay (as in
	// CloudFront) until invalidated.
	dists.reg.Store(distribution.NewRegistry(twoOrigins("E1", a, b, "site.test", distribution.CacheBehavior{PathPattern: "*.png", DefaultTTL: 86400, MaxTTL: 31536000})))
	h.expect("site.test", "/x.png", "from a", hit)
	h.apply("E1", "/x.png")
	h.expect("site.test", "/x.png", "from b", miss)
	// Disabled: CloudFront's 403.
	off := dist("E1", a, "site.test")
	off.Config.Enabled = false
	dists.reg.Store(distribution.NewRegistry(off))
	if r := h.get("site.test", "/x.png"); r.status != http.StatusForbidden || r.xcache() != errX {
		t.Errorf("disabled: %d %q", r.status, r.xcache())
	}
}
