package e2e

import (
	"fmt"
	"net/http"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// Hostile paths and TTLs at the edge (issue 14): the binary, distributions
// made through the API or the configuration file, an origin in the test
// that says which request target it received, and viewers that spell one
// path in the ways an attacker would.

// echoOrigin makes o answer every request with its method and request
// target, uncacheable by default TTLs only (no validators).
func echoOrigin(o *testOrigin) {
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Method, r.RequestURI)
	})
}

// TestEdgeHostileDotSegmentMethod: a behavior is chosen on the normalized
// path, so dot segments, escaped dots and doubled slashes do not lead a
// POST past a /admin/* behavior that allows only GET and HEAD.
func TestEdgeHostileDotSegmentMethod(t *testing.T) {
	web := newTestOrigin(t)
	echoOrigin(web)
	s := startServer(t, options{})
	c := s.client("", "")
	v := newEdgeViewer(t, s)
	def := legacyBehavior("web", false)
	def.AllowedMethods = &types.AllowedMethods{Quantity: aws.Int32(int32(len(edgeAllMethods))), Items: edgeAllMethods,
		CachedMethods: &types.CachedMethods{Quantity: aws.Int32(2), Items: []types.Method{types.MethodHead, types.MethodGet}}}
	cfg := edgeConfig("hostile-method", def, web.origin("web"))
	cfg.CacheBehaviors = &types.CacheBehaviors{Quantity: aws.Int32(1), Items: []types.CacheBehavior{
		pathBehavior("/admin/*", "web", false, types.MethodGet, types.MethodHead),
	}}
	d := createEdgeDist(t, c, cfg)

	// The default behavior takes a POST elsewhere.
	if r := v.do(http.MethodPost, d.domain, "/foo/x"); r.status != 200 || r.body != "POST /foo/x" {
		t.Fatalf("POST /foo/x: %d %q", r.status, r.body)
	}
	for _, uri := range []string{
		"/admin/x",
		"/foo/%2e%2e/admin/x",
		"/foo/%2E%2e/admin/x",
		"/foo/.%2e/admin/x",
		"/foo/../admin/x",
		"/foo/./../admin/x",
		"//admin/x",
		"/foo//..//admin/x",
		"/%61dmin/x",
		"/./admin/x",
	} {
		r := v.do(http.MethodPost, d.domain, uri)
		if r.status != http.StatusForbidden || r.xcache() != edgeError || !strings.Contains(r.body, "not configured to allow the HTTP request method") {
			t.Errorf("POST %s: %d %q %.80q; want CloudFront's 403 for the /admin/* behavior", uri, r.status, r.xcache(), r.body)
		}
	}
	if n := web.hitsOf("/admin/x"); n != 0 {
		t.Errorf("the origin got %d requests for /admin/x", n)
	}
	// GET is allowed there, and the origin is asked for the normalized path.
	if r := v.get(d.domain, "/foo/%2e%2e/admin/x"); r.status != 200 || r.body != "GET /admin/x" {
		t.Errorf("GET /foo/%%2e%%2e/admin/x: %d %q", r.status, r.body)
	}
}

// TestEdgeHostileOriginPathEscape: the origin, behind an origin path (a
// configuration-file distribution whose origin URL has a path), is never
// asked for a path that resolves outside it.
func TestEdgeHostileOriginPathEscape(t *testing.T) {
	o := newTestOrigin(t)
	var asked atomic.Int64
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		fmt.Fprintf(w, "%s %s", r.Method, r.RequestURI)
	})
	const id = "EHOSTILEPATHS1"
	s := startServer(t, options{config: fmt.Sprintf("distributions:\n  - id: %s\n    origin: http://127.0.0.1:%d/bucket\n", id, o.port)})
	v := newEdgeViewer(t, s)
	host := strings.ToLower(id) + ".cloudfront.localhost"
	// The edge serves once it has caught up with the control plane.
	deadline := time.Now().Add(30 * time.Second)
	for r, err := v.try(http.MethodGet, host, "/ready"); err != nil || r.status != 200; r, err = v.try(http.MethodGet, host, "/ready") {
		if time.Now().After(deadline) {
			t.Fatalf("the edge does not serve %s: %v %d %q", host, err, r.status, r.xcache())
		}
		time.Sleep(20 * time.Millisecond)
	}

	for uri, want := range map[string]string{
		"/static/../../secret.txt":         "GET /bucket/secret.txt",
		"/static/%2e%2e/%2e%2e/secret.txt": "GET /bucket/secret.txt",
		"/../secret.txt":                   "GET /bucket/secret.txt",
		"/static/./../x/..//y.txt":         "GET /bucket/y.txt",
		"/static/a.txt/..":                 "GET /bucket/static/",
		"/static/..%2Fsecret.txt":          "GET /bucket/static/..%2Fsecret.txt", // one segment: stays below /bucket
	} {
		r := v.get(host, uri)
		if r.status != 200 || r.body != want {
			t.Errorf("GET %s: %d %q; want the origin asked %q", uri, r.status, r.body, want)
		}
	}
	// Escaped separators that would climb out for an origin decoding
	// them: refused, and the origin is not asked.
	for _, uri := range []string{"/..%2F..%2Fsecret.txt", "/static/..%2f..%2f..%2fsecret.txt", "/static/..%5C..%5Csecret.txt"} {
		before := asked.Load()
		r := v.get(host, uri)
		if r.status != http.StatusBadRequest || r.xcache() != edgeError {
			t.Errorf("GET %s: %d %q %.80q; want 400", uri, r.status, r.xcache(), r.body)
		}
		if asked.Load() != before {
			t.Errorf("GET %s reached the origin", uri)
		}
	}
	if last := o.lastRequest(); last != nil && (strings.Contains(last.RequestURI, "/../") || !strings.HasPrefix(last.RequestURI, "/bucket/")) {
		t.Errorf("the origin was last asked %q", last.RequestURI)
	}
}

// TestEdgeHostileZeroTTL: a behavior with MinTTL = DefaultTTL = MaxTTL = 0
// never serves one viewer's response to another, even when the origin
// sends max-age (MaxTTL caps it) or validators, and not to a concurrent
// viewer either.
func TestEdgeHostileZeroTTL(t *testing.T) {
	o := newTestOrigin(t)
	var mu sync.Mutex
	n := 0
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		body := fmt.Sprintf("private page %d", n)
		mu.Unlock()
		switch r.URL.Path {
		case "/maxage":
			w.Header().Set("Cache-Control", "max-age=3600")
		case "/etag":
			w.Header().Set("ETag", `"v1"`)
			w.Header().Set("Last-Modified", "Mon, 07 Dec 2026 00:00:00 GMT")
		}
		fmt.Fprint(w, body)
	})
	s := startServer(t, options{})
	c := s.client("", "")
	v := newEdgeViewer(t, s)
	def := legacyBehavior("o", false)
	def.MinTTL, def.DefaultTTL, def.MaxTTL = aws.Int64(0), aws.Int64(0), aws.Int64(0)
	d := createEdgeDist(t, c, edgeConfig("hostile-ttl", def, o.origin("o")))

	for _, path := range []string{"/plain", "/maxage", "/etag"} {
		first := v.get(d.domain, path)
		second := v.get(d.domain, path)
		if first.status != 200 || second.status != 200 || first.body == second.body {
			t.Errorf("GET %s twice: %q then %q (%q); the second viewer got the first one's page", path, first.body, second.body, second.xcache())
		}
		if second.xcache() != edgeMiss {
			t.Errorf("GET %s: X-Cache %q, want %q", path, second.xcache(), edgeMiss)
		}
	}

	// Concurrent viewers: each gets its own origin response. The origin
	// holds every answer until two requests are in (or a deadline).
	var arrived sync.WaitGroup
	arrived.Add(2)
	both := make(chan struct{})
	go func() { arrived.Wait(); close(both) }()
	var once [2]sync.Once
	var k int
	var km sync.Mutex
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		km.Lock()
		i := k
		k++
		km.Unlock()
		if i < 2 {
			once[i].Do(arrived.Done)
		}
		select {
		case <-both:
		case <-time.After(20 * time.Second):
		}
		fmt.Fprintf(w, "private page of viewer %d", i)
	})
	var wg sync.WaitGroup
	bodies := make([]string, 2)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := v.try(http.MethodGet, d.domain, "/concurrent")
			if err != nil {
				t.Error(err)
				return
			}
			bodies[i] = r.body
		}()
	}
	wg.Wait()
	select {
	case <-both:
	default:
		t.Errorf("the origin got one request for two concurrent viewers (%q, %q)", bodies[0], bodies[1])
	}
	if bodies[0] == bodies[1] {
		t.Errorf("two concurrent viewers got the same page %q", bodies[0])
	}
}

// TestEdgeHostileInvalidationVariant: spellings of one path are one
// object, so an invalidation of one spelling purges what another cached.
// The origin cleans paths, as many do: every spelling reaches its object.
func TestEdgeHostileInvalidationVariant(t *testing.T) {
	o := newTestOrigin(t)
	var mu sync.Mutex
	objects := map[string]string{"/a/b.html": "v1", "/docs/guide.html": "g1"}
	set := func(p, body string) {
		mu.Lock()
		defer mu.Unlock()
		objects[p] = body
	}
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		body, ok := objects[path.Clean(r.URL.Path)]
		mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, body)
	})
	s := startServer(t, options{})
	c := s.client("", "")
	v := newEdgeViewer(t, s)
	d := createEdgeDist(t, c, edgeConfig("hostile-inv", legacyBehavior("o", false), o.origin("o")))
	host := d.domain

	v.expect(host, "/a/./b.html", 200, "v1", edgeMiss)
	v.expect(host, "/a/./b.html", 200, "v1", edgeHit) // the viewer listener's fast path
	set("/a/b.html", "v2")
	invalidateAndWait(t, c, d.id, "/a/b.html")
	v.expect(host, "/a/./b.html", 200, "v2", edgeMiss)
	v.expect(host, "/a/%62.html", 200, "v2", edgeHit)
	v.expect(host, "/x/../a//b.html", 200, "v2", edgeHit)
	v.expect(host, "/a/b.html", 200, "v2", edgeHit)

	// An invalidation path is normalized too, wildcards included.
	v.expect(host, "/docs/x/../guide.html", 200, "g1", edgeMiss)
	v.expect(host, "/docs/guide.html", 200, "g1", edgeHit)
	set("/a/b.html", "v3")
	set("/docs/guide.html", "g2")
	invalidateAndWait(t, c, d.id, "/z/../a/./b.html", "/x/../docs/*")
	v.expect(host, "/a/%62.html", 200, "v3", edgeMiss)
	v.expect(host, "/docs/guide.html", 200, "g2", edgeMiss)
}
