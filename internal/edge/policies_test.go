package edge

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/originaccess"
	"github.com/openfront/openfront/internal/policy"
	"github.com/openfront/openfront/internal/resource"
)

// res encodes a typed configuration as the resource the fleet delivers.
func res(t testing.TB, kind resource.Kind, id, etag string, config any) resource.Resource {
	t.Helper()
	b, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	return resource.Resource{Kind: kind, ID: id, Name: id, ETag: etag, Config: b}
}

func putRes(t testing.TB, e *Edge, r resource.Resource) {
	t.Helper()
	if err := e.PutResource(r); err != nil {
		t.Fatal(err)
	}
}

// qsPolicy is a cache policy whose key has the query string parameters
// names (and nothing else), cached a day.
func qsPolicy(names ...string) policy.CachePolicy {
	return policy.CachePolicy{Name: "qs", MinTTL: 1, DefaultTTL: 86400, MaxTTL: 31536000,
		Headers: policy.Selection{Behavior: policy.None}, Cookies: policy.Selection{Behavior: policy.None},
		QueryStrings: policy.Selection{Behavior: policy.Whitelist, Names: names}}
}

// echo makes o answer every request 200 with what it received: the
// request URI in the body, and in headers the ones a test looks for.
func echo(o *origin) {
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("X-Got-Host", r.Host)
		w.Header().Set("X-Got-Api-Key", r.Header.Get("X-Api-Key"))
		w.Header().Set("X-Got-Lang", r.Header.Get("Accept-Language"))
		w.Header().Set("X-Got-Cookie", r.Header.Get("Cookie"))
		w.Header().Set("X-Got-Ae", r.Header.Get("Accept-Encoding"))
		w.Header().Set("X-Got-Viewer-Address", r.Header.Get("CloudFront-Viewer-Address"))
		w.Header().Set("X-Got-Range", r.Header.Get("Range")+r.Header.Get("If-None-Match")+r.Header.Get("Authorization"))
		w.Header().Set("X-Powered-By", "origin")
		w.Header().Set("X-Frame-Options", "SAMEORIGIN")
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(r.RequestURI))
	})
}

func TestCachePolicyQueryStringWhitelist(t *testing.T) {
	o := newOrigin(t)
	echo(o)
	d := dist("EPOL1", o)
	d.Config.DefaultBehavior.CachePolicyID = "cp1"
	h := newHarness(t, Config{}, d)
	putRes(t, h.edge, res(t, resource.CachePolicy, "cp1", "E1", qsPolicy("v")))
	host := "epol1.cloudfront.localhost"

	// Only the whitelisted parameter is in the key, and only it reaches
	// the origin: nothing else is selected.
	h.expect(host, "/a?v=1&x=1", "/a?v=1", xMiss)
	h.expect(host, "/a?x=2&v=1", "/a?v=1", xHit)
	h.expect(host, "/a?v=2&x=1", "/a?v=2", xMiss)
	h.expect(host, "/a", "/a", xMiss)
	h.expect(host, "/a?x=3", "/a", xHit)
}

func TestCachePolicyAllExceptAndCookies(t *testing.T) {
	o := newOrigin(t)
	echo(o)
	d := dist("EPOL2", o)
	d.Config.DefaultBehavior.CachePolicyID = "cp2"
	h := newHarness(t, Config{}, d)
	cp := qsPolicy()
	cp.QueryStrings = policy.Selection{Behavior: policy.AllExcept, Names: []string{"utm"}}
	cp.Cookies = policy.Selection{Behavior: policy.Whitelist, Names: []string{"session"}}
	cp.Headers = policy.Selection{Behavior: policy.Whitelist, Names: []string{"accept-language"}}
	putRes(t, h.edge, res(t, resource.CachePolicy, "cp2", "E1", cp))
	host := "epol2.cloudfront.localhost"

	r := h.get(host, "/b?a=1&utm=x", "Cookie", "session=s1; other=o", "Accept-Language", "fr")
	if r.xcache() != xMiss || r.body != "/b?a=1" || r.header.Get("X-Got-Cookie") != "session=s1" || r.header.Get("X-Got-Lang") != "fr" {
		t.Fatalf("first: %q %q cookie %q lang %q", r.xcache(), r.body, r.header.Get("X-Got-Cookie"), r.header.Get("X-Got-Lang"))
	}
	if r := h.get(host, "/b?a=1&utm=y", "Cookie", "session=s1; other=p", "Accept-Language", "fr"); r.xcache() != xHit {
		t.Errorf("other utm and unlisted cookie: %q, want a hit", r.xcache())
	}
	if r := h.get(host, "/b?a=1", "Cookie", "session=s2", "Accept-Language", "fr"); r.xcache() != xMiss {
		t.Errorf("another whitelisted cookie: %q, want a miss", r.xcache())
	}
	if r := h.get(host, "/b?a=1", "Cookie", "session=s1", "Accept-Language", "de"); r.xcache() != xMiss {
		t.Errorf("another whitelisted header: %q, want a miss", r.xcache())
	}
}

func TestOriginRequestPolicyForwardsOutsideTheKey(t *testing.T) {
	o := newOrigin(t)
	echo(o)
	d := dist("EPOL3", o)
	d.Config.DefaultBehavior.CachePolicyID = "cp"
	d.Config.DefaultBehavior.OriginRequestPolicyID = "orp"
	h := newHarness(t, Config{}, d)
	putRes(t, h.edge, res(t, resource.CachePolicy, "cp", "E1", qsPolicy("v")))
	putRes(t, h.edge, res(t, resource.OriginRequestPolicy, "orp", "E1", policy.OriginRequestPolicy{Name: "orp",
		Headers:      policy.Selection{Behavior: policy.Whitelist, Names: []string{"x-api-key", "CloudFront-Viewer-Address"}},
		Cookies:      policy.Selection{Behavior: policy.None},
		QueryStrings: policy.Selection{Behavior: policy.Whitelist, Names: []string{"x"}}}))
	host := "epol3.cloudfront.localhost"

	r := h.get(host, "/c?v=1&x=1&y=1", "X-Api-Key", "k1", "Accept-Language", "fr")
	if r.xcache() != xMiss || r.body != "/c?v=1&x=1" || r.header.Get("X-Got-Api-Key") != "k1" {
		t.Fatalf("miss: %q body %q api key %q", r.xcache(), r.body, r.header.Get("X-Got-Api-Key"))
	}
	if got := r.header.Get("X-Got-Lang"); got != "" {
		t.Errorf("Accept-Language reached the origin (%q): not selected", got)
	}
	if got := r.header.Get("X-Got-Host"); got != o.url().Host {
		t.Errorf("origin saw Host %q, want its own %q", got, o.url().Host)
	}
	if got := r.header.Get("X-Got-Viewer-Address"); !strings.HasPrefix(got, "127.0.0.1:") {
		t.Errorf("CloudFront-Viewer-Address %q, want the viewer's address and port", got)
	}
	// The forwarded header and parameter are not in the key.
	if r := h.get(host, "/c?v=1&x=2", "X-Api-Key", "k2"); r.xcache() != xHit || r.header.Get("X-Got-Api-Key") != "k1" {
		t.Errorf("other api key and x: %q (origin saw %q), want a hit of the first", r.xcache(), r.header.Get("X-Got-Api-Key"))
	}

	// allViewer: every viewer header, and the viewer's Host.
	putRes(t, h.edge, res(t, resource.OriginRequestPolicy, "orp", "E2", policy.OriginRequestPolicy{Name: "orp",
		Headers: policy.Selection{Behavior: policy.AllViewer}, Cookies: policy.Selection{Behavior: policy.All},
		QueryStrings: policy.Selection{Behavior: policy.All}}))
	r = h.get(host, "/c2?v=1&y=2", "Accept-Language", "fr", "Cookie", "a=b", "Range", "bytes=0-3", "If-None-Match", `"x"`, "Authorization", "secret")
	if got := r.header.Get("X-Got-Range"); got != "" {
		t.Errorf("allViewer forwarded Range, If-None-Match or Authorization to a fill: %q", got)
	}
	if r.status != http.StatusPartialContent || r.body != "/c2?" {
		t.Errorf("Range answered %d %q, want the edge's 206 of the cached object", r.status, r.body)
	}
	r = h.get(host, "/c2?v=1&y=2", "Accept-Language", "fr", "Cookie", "a=b")
	if r.body != "/c2?v=1&y=2" || r.header.Get("X-Got-Lang") != "fr" || r.header.Get("X-Got-Host") != host || r.header.Get("X-Got-Cookie") != "a=b" {
		t.Errorf("allViewer: body %q lang %q host %q cookie %q", r.body, r.header.Get("X-Got-Lang"), r.header.Get("X-Got-Host"), r.header.Get("X-Got-Cookie"))
	}
}

// fiveHeaders is a response headers policy adding five headers.
func fiveHeaders() policy.ResponseHeadersPolicy {
	return policy.ResponseHeadersPolicy{Name: "five",
		Security: &policy.SecurityHeaders{
			FrameOptions:            &policy.FrameOptions{Override: false, FrameOption: "DENY"},
			ContentTypeOptions:      &policy.ContentTypeOptions{Override: true},
			StrictTransportSecurity: &policy.StrictTransportSecurity{Override: true, MaxAgeSec: 63072000, IncludeSubdomains: true},
		},
		CustomHeaders: []policy.CustomHeader{{Header: "X-Custom", Value: "c1", Override: true}, {Header: "Cache-Control", Value: "no-store", Override: true}},
		RemoveHeaders: []string{"x-powered-by"},
	}
}

func TestResponseHeadersPolicyOnMissAndHit(t *testing.T) {
	o := newOrigin(t)
	echo(o)
	d := dist("EPOL4", o)
	d.Config.DefaultBehavior.ResponseHeadersPolicyID = "rhp"
	h := newHarness(t, Config{}, d)
	putRes(t, h.edge, res(t, resource.ResponseHeadersPolicy, "rhp", "E1", fiveHeaders()))
	host := "epol4.cloudfront.localhost"
	check := func(r response) {
		t.Helper()
		want := map[string]string{
			"X-Frame-Options":           "SAMEORIGIN", // the origin's: no override
			"X-Content-Type-Options":    "nosniff",
			"Strict-Transport-Security": "max-age=63072000; includeSubDomains",
			"X-Custom":                  "c1",
			"Cache-Control":             "no-store", // overrides the origin's max-age=3600 for viewers only
			"X-Powered-By":              "",
		}
		for k, v := range want {
			if got := r.header.Get(k); got != v {
				t.Errorf("%s %s: %q, want %q", r.xcache(), k, got, v)
			}
		}
	}
	check(h.expect(host, "/d", "/d", xMiss))
	check(h.expect(host, "/d", "/d", xHit)) // the fast path
	check(h.do(http.MethodHead, host, "/d"))
	if r := h.get(host, "/d", "Range", "bytes=0-0"); r.status != http.StatusPartialContent {
		t.Errorf("range: %d", r.status)
	} else {
		check(r) // the general path
	}

	// The object was cached for the origin's max-age, not the policy's
	// Cache-Control: the policy changes the viewer's answer only.
	if n := o.hitsOf("/d"); n != 1 {
		t.Errorf("origin asked %d times, want 1", n)
	}
}

func TestPolicyUpdatesReachServingEdge(t *testing.T) {
	o := newOrigin(t)
	echo(o)
	d := dist("EPOL5", o)
	d.Config.DefaultBehavior.CachePolicyID = "cp"
	d.Config.DefaultBehavior.ResponseHeadersPolicyID = "rhp"
	h := newHarness(t, Config{}, d)
	putRes(t, h.edge, res(t, resource.CachePolicy, "cp", "E1", qsPolicy("v")))
	putRes(t, h.edge, res(t, resource.ResponseHeadersPolicy, "rhp", "E1", policy.ResponseHeadersPolicy{Name: "r",
		CustomHeaders: []policy.CustomHeader{{Header: "X-Version", Value: "1", Override: true}}}))
	host := "epol5.cloudfront.localhost"
	if r := h.expect(host, "/e?v=1&w=1", "/e?v=1", xMiss); r.header.Get("X-Version") != "1" {
		t.Fatalf("X-Version %q", r.header.Get("X-Version"))
	}
	if r := h.expect(host, "/e?v=1&w=2", "/e?v=1", xHit); r.header.Get("X-Version") != "1" {
		t.Fatalf("hit: X-Version %q", r.header.Get("X-Version"))
	}
	// New versions of both policies, with the distribution unchanged.
	putRes(t, h.edge, res(t, resource.CachePolicy, "cp", "E2", qsPolicy("v", "w")))
	putRes(t, h.edge, res(t, resource.ResponseHeadersPolicy, "rhp", "E2", policy.ResponseHeadersPolicy{Name: "r",
		CustomHeaders: []policy.CustomHeader{{Header: "X-Version", Value: "2", Override: true}}}))
	if r := h.expect(host, "/e?v=1&w=2", "/e?v=1&w=2", xMiss); r.header.Get("X-Version") != "2" {
		t.Errorf("after the update: X-Version %q", r.header.Get("X-Version"))
	}
	if r := h.expect(host, "/e?v=1&w=2", "/e?v=1&w=2", xHit); r.header.Get("X-Version") != "2" {
		t.Errorf("hit after the update: X-Version %q", r.header.Get("X-Version"))
	}
	// Forgotten: the behavior names a policy the edge does not know and
	// falls back to its legacy settings (no query string in the key).
	h.edge.ForgetResource(resource.CachePolicy, "cp")
	h.edge.ForgetResource(resource.ResponseHeadersPolicy, "rhp")
	if r := h.expect(host, "/e?v=3", "/e", xMiss); r.header.Get("X-Version") != "" {
		t.Errorf("forgotten policy still applied: X-Version %q", r.header.Get("X-Version"))
	}
}

func TestCORSAndPreflightAtTheEdge(t *testing.T) {
	o := newOrigin(t)
	echo(o)
	d := dist("EPOL6", o)
	d.Config.DefaultBehavior.AllowedMethods = []string{"GET", "HEAD", "OPTIONS"}
	d.Config.DefaultBehavior.ResponseHeadersPolicyID = "cors"
	h := newHarness(t, Config{}, d)
	putRes(t, h.edge, res(t, resource.ResponseHeadersPolicy, "cors", "E1", policy.ResponseHeadersPolicy{Name: "cors",
		CORS: &policy.CORS{AllowOrigins: []string{"https://app.example.com", "https://*.example.org"},
			AllowHeaders: []string{"X-Api-Key"}, AllowMethods: []string{"GET", "POST"}, ExposeHeaders: []string{"X-Custom"},
			AllowCredentials: true, MaxAgeSec: 600, OriginOverride: true}}))
	host := "epol6.cloudfront.localhost"

	r := h.get(host, "/f", "Origin", "https://app.example.com")
	if r.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || r.header.Get("Access-Control-Allow-Credentials") != "true" ||
		r.header.Get("Access-Control-Expose-Headers") != "X-Custom" || r.header.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("CORS request: %v", r.header)
	}
	if r := h.get(host, "/f", "Origin", "https://b.example.org"); r.xcache() != xHit || r.header.Get("Access-Control-Allow-Origin") != "https://b.example.org" {
		t.Errorf("wildcard origin on a hit: %q %q", r.xcache(), r.header.Get("Access-Control-Allow-Origin"))
	}
	if r := h.get(host, "/f", "Origin", "https://evil.example.net"); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("origin not allowed got %q", r.header.Get("Access-Control-Allow-Origin"))
	}
	if r := h.get(host, "/f"); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("no Origin header got %q", r.header.Get("Access-Control-Allow-Origin"))
	}

	before := o.hitsOf("/g")
	r = h.do(http.MethodOptions, host, "/g", "Origin", "https://app.example.com", "Access-Control-Request-Method", "POST")
	if r.status != http.StatusOK || r.header.Get("Access-Control-Allow-Methods") != "GET, POST" ||
		r.header.Get("Access-Control-Allow-Headers") != "X-Api-Key" || r.header.Get("Access-Control-Max-Age") != "600" ||
		r.header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Errorf("preflight: %d %v", r.status, r.header)
	}
	if o.hitsOf("/g") != before {
		t.Error("the preflight reached the origin")
	}

	// Without OriginOverride the origin answers the preflight, and the
	// policy adds what it did not send.
	putRes(t, h.edge, res(t, resource.ResponseHeadersPolicy, "cors", "E2", policy.ResponseHeadersPolicy{Name: "cors",
		CORS: &policy.CORS{AllowOrigins: []string{"*"}, AllowHeaders: []string{"X-Api-Key"}, AllowMethods: []string{"ALL"}, MaxAgeSec: -1}}))
	r = h.do(http.MethodOptions, host, "/g", "Origin", "https://app.example.com", "Access-Control-Request-Method", "POST")
	if o.hitsOf("/g") != before+1 {
		t.Error("without OriginOverride the preflight did not reach the origin")
	}
	if r.header.Get("Access-Control-Allow-Origin") != "*" || r.header.Get("Access-Control-Allow-Methods") != "GET, DELETE, HEAD, OPTIONS, PATCH, POST, PUT" ||
		r.header.Get("Access-Control-Max-Age") != "" || r.header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("origin's preflight: %v", r.header)
	}
}

func TestServerTiming(t *testing.T) {
	o := newOrigin(t)
	echo(o)
	d := dist("EPOL7", o)
	d.Config.DefaultBehavior.ResponseHeadersPolicyID = "st"
	h := newHarness(t, Config{PopName: "TST1-C1"}, d)
	putRes(t, h.edge, res(t, resource.ResponseHeadersPolicy, "st", "E1", policy.ResponseHeadersPolicy{Name: "st",
		ServerTiming: &policy.ServerTiming{Enabled: true, SamplingRate: 100}}))
	host := "epol7.cloudfront.localhost"
	miss := h.expect(host, "/s", "/s", xMiss).header.Get("Server-Timing")
	if !strings.Contains(miss, "cdn-upstream-fbl;dur=") || !strings.Contains(miss, "cdn-cache-miss") || !strings.Contains(miss, `cdn-pop;desc="TST1-C1"`) {
		t.Errorf("miss: Server-Timing %q", miss)
	}
	r := h.expect(host, "/s", "/s", xHit)
	hit := r.header.Get("Server-Timing")
	if !strings.Contains(hit, "cdn-cache-hit") || strings.Contains(hit, "cdn-upstream") ||
		!strings.Contains(hit, `cdn-rid;desc="`+r.header.Get("X-Amz-Cf-Id")+`"`) || !strings.Contains(hit, `cdn-hit-layer;desc="EDGE"`) {
		t.Errorf("hit: Server-Timing %q", hit)
	}
	// Sampling rate 0: never.
	putRes(t, h.edge, res(t, resource.ResponseHeadersPolicy, "st", "E2", policy.ResponseHeadersPolicy{Name: "st",
		ServerTiming: &policy.ServerTiming{Enabled: true, SamplingRate: 0}}))
	if got := h.expect(host, "/s", "/s", xHit).header.Get("Server-Timing"); got != "" {
		t.Errorf("rate 0: Server-Timing %q", got)
	}
}

func TestCachePolicyAcceptEncoding(t *testing.T) {
	o := newOrigin(t)
	echo(o)
	d := dist("EPOL8", o)
	d.Config.DefaultBehavior.CachePolicyID = "cp"
	h := newHarness(t, Config{}, d)
	cp := qsPolicy()
	cp.AcceptEncodingGzip, cp.AcceptEncodingBrotli = true, true
	putRes(t, h.edge, res(t, resource.CachePolicy, "cp", "E1", cp))
	host := "epol8.cloudfront.localhost"
	for _, c := range []struct{ ae, origin, xcache string }{
		{"gzip, deflate, br", "br,gzip", xMiss},
		{"br;q=1, gzip", "br,gzip", xHit},
		{"br", "br", xMiss},
		{"deflate", "", xMiss},
		{"identity", "", xHit},
		{"gzip;q=0, br", "br", xHit},
	} {
		r := h.get(host, "/ae", "Accept-Encoding", c.ae)
		if r.xcache() != c.xcache || r.header.Get("X-Got-Ae") != c.origin {
			t.Errorf("Accept-Encoding %q: %q, origin got %q; want %q, %q", c.ae, r.xcache(), r.header.Get("X-Got-Ae"), c.xcache, c.origin)
		}
	}
}

func TestUnknownCachePolicyKeepsLegacySettings(t *testing.T) {
	o := newOrigin(t)
	echo(o)
	d := dist("EPOL9", o)
	d.Config.DefaultBehavior.CachePolicyID = "658327ea-f89d-4fab-a63d-7e88639e58f6" // CachingOptimized, not a resource here
	d.Config.DefaultBehavior.ForwardQueryString = false
	h := newHarness(t, Config{}, d)
	h.expect("epol9.cloudfront.localhost", "/u?a=1", "/u", xMiss)
	h.expect("epol9.cloudfront.localhost", "/u?a=2", "/u", xHit)
}

func TestResourceTable(t *testing.T) {
	e := New(Config{Distributions: distribution.NewRegistry()})
	defer e.Close()
	if _, ok := e.OriginAccessControl("oac1"); ok {
		t.Fatal("an unknown origin access control was found")
	}
	putRes(t, e, res(t, resource.OriginAccessControl, "oac1", "E1", originaccess.Control{Name: "o", SigningProtocol: "sigv4",
		SigningBehavior: originaccess.SignAlways, OriginType: "s3"}))
	if c, ok := e.OriginAccessControl("oac1"); !ok || c.SigningBehavior != originaccess.SignAlways || c.OriginType != "s3" {
		t.Fatalf("oac1: %+v %v", c, ok)
	}
	if err := e.PutResource(resource.Resource{Kind: resource.CachePolicy, ID: "bad", Config: []byte("{")}); err == nil {
		t.Error("an unreadable configuration was accepted")
	}
	e.ReplaceResources([]resource.Resource{res(t, resource.CachePolicy, "cp", "E1", qsPolicy("v"))})
	if _, ok := e.OriginAccessControl("oac1"); ok {
		t.Error("a snapshot without oac1 kept it")
	}
	if e.res.Load().cachePolicy("cp") == nil {
		t.Error("the snapshot's cache policy is missing")
	}
	e.ForgetResource(resource.CachePolicy, "cp")
	if e.res.Load().cachePolicy("cp") != nil {
		t.Error("a forgotten cache policy is still there")
	}
}

// A hit under a cache policy with a whitelisted query string and a
// response headers policy allocates no more than a plain hit does, but
// for the name of the narrowed query.
func TestPolicyHitAllocations(t *testing.T) {
	o := newOrigin(t)
	echo(o)
	d := dist("EPOLA", o)
	d.Config.DefaultBehavior.CachePolicyID = "cp"
	d.Config.DefaultBehavior.ResponseHeadersPolicyID = "rhp"
	h := newHarness(t, Config{}, d)
	putRes(t, h.edge, res(t, resource.CachePolicy, "cp", "E1", qsPolicy("v")))
	putRes(t, h.edge, res(t, resource.ResponseHeadersPolicy, "rhp", "E1", fiveHeaders()))
	host := "epola.cloudfront.localhost"
	h.expect(host, "/h?v=1&w=1", "/h?v=1", xMiss)
	req := httptest.NewRequest(http.MethodGet, "http://"+host+"/h?v=1&w=2", nil)
	w := httptest.NewRecorder()
	h.edge.ServeHTTP(w, req)
	if w.Header().Get("X-Cache") != xHit || w.Header().Get("X-Custom") != "c1" {
		t.Fatalf("%q %q", w.Header().Get("X-Cache"), w.Header().Get("X-Custom"))
	}
	hdr := http.Header{}
	rw := &headerOnly{h: hdr}
	n := testing.AllocsPerRun(200, func() {
		clear(hdr)
		h.edge.ServeHTTP(rw, req)
	})
	// A plain hit: the request id and the key (BenchmarkServeHit); the
	// narrowed query's name is one more.
	if n > 4 {
		t.Errorf("a hit under policies allocates %v times", n)
	}
}

// headerOnly is a ResponseWriter that keeps only the header.
type headerOnly struct{ h http.Header }

func (w *headerOnly) Header() http.Header         { return w.h }
func (w *headerOnly) Write(b []byte) (int, error) { return len(b), nil }
func (w *headerOnly) WriteHeader(int)             {}

// BenchmarkPolicyHit compares, in one run, a plain hit with a hit under a
// cache policy whitelisting one query string parameter and a response
// headers policy adding five headers (fiveHeaders), through the viewer
// listener's fast path (fasthttp) and through ServeHTTP:
//
//	go test -run '^$' -bench PolicyHit -benchmem ./internal/edge
func BenchmarkPolicyHit(b *testing.B) {
	o := newOrigin(b)
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("X-Powered-By", "origin")
		http.ServeContent(w, r, "", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), strings.NewReader(strings.Repeat("x", 1024)))
	})
	plain := dist("EPLAIN", o, "plain.test")
	pol := dist("EPOLICY", o, "policy.test")
	pol.Config.DefaultBehavior.CachePolicyID = "cp"
	pol.Config.DefaultBehavior.ResponseHeadersPolicyID = "rhp"
	h := newHarness(b, Config{}, plain, pol)
	h.edge.realClock, h.edge.now = true, time.Now
	putRes(b, h.edge, res(b, resource.CachePolicy, "cp", "E1", qsPolicy("v")))
	putRes(b, h.edge, res(b, resource.ResponseHeadersPolicy, "rhp", "E1", fiveHeaders()))
	h.get("plain.test", "/1k")
	h.get("policy.test", "/1k?v=1")
	for _, c := range []struct{ name, host, uri string }{
		{"plain", "plain.test", "/1k"},
		{"policies", "policy.test", "/1k?v=1&utm=x"},
	} {
		b.Run("fasthttp/"+c.name, func(b *testing.B) {
			var ctx fasthttp.RequestCtx
			raw := "GET " + c.uri + " HTTP/1.1\r\nHost: " + c.host + "\r\nUser-Agent: wrk\r\n\r\n"
			if err := ctx.Request.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				ctx.Response.Reset()
				if !h.edge.serveFastHTTP(&ctx, nil) {
					b.Fatal("not answered by the fast path")
				}
			}
		})
		b.Run("nethttp/"+c.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "http://"+c.host+c.uri, nil)
			hdr := http.Header{}
			w := &headerOnly{h: hdr}
			b.ReportAllocs()
			for b.Loop() {
				clear(hdr)
				h.edge.ServeHTTP(w, req)
				if hdr.Get("X-Cache") != xHit {
					b.Fatal(hdr.Get("X-Cache"))
				}
			}
		})
	}
}

// keyedName (the hit's key) and cacheKey of objectName (the fill's) agree.
func TestKeyedNameMatchesObjectName(t *testing.T) {
	s := &site{d: &distribution.Distribution{ID: "EK"}}
	for _, b := range []behavior{
		{},
		{keyQuery: sel{mode: selAll}},
		{keyQuery: sel{mode: selWhitelist, names: []string{"v", "w"}}},
		{keyQuery: sel{mode: selAllExcept, names: []string{"utm"}}},
		{keyQuery: sel{mode: selWhitelist, names: []string{"v"}}, rootObject: "index.html"},
	} {
		for _, uri := range []string{"/a", "/a?", "/a?v=1", "/a?w=2&v=1&x=3", "/a?utm=1", "/a?x&v&utm=", "/?v=%7e1", "/a?v=1&v=2"} {
			path, query, _ := strings.Cut(uri, "?")
			name := objectName(&b, path, query)
			want := cacheKey(s, &b, httptest.NewRequest(http.MethodGet, uri, nil), http.MethodGet, name, "")
			key, got := keyedName("EK", "", &b, path, query)
			if key != want || got != name {
				t.Errorf("%+v %q: keyedName %q %q, want %q %q", b.keyQuery, uri, key, got, want, name)
			}
			key, _ = keyedName("EK", "\x00"+gzipVariant, &b, path, query)
			if want := cacheKey(s, &b, httptest.NewRequest(http.MethodGet, uri, nil), http.MethodGet, name, "gzip"); key != want {
				t.Errorf("%+v %q with gzip: %q, want %q", b.keyQuery, uri, key, want)
			}
		}
	}
}

// Policies change while viewers are served (run with -race): every answer
// carries one version or the other, and the last one wins.
func TestPolicyChangesWhileServing(t *testing.T) {
	o := newOrigin(t)
	echo(o)
	d := dist("EPOLC", o)
	d.Config.DefaultBehavior.ResponseHeadersPolicyID = "rhp"
	h := newHarness(t, Config{}, d)
	version := func(v string) resource.Resource {
		return res(t, resource.ResponseHeadersPolicy, "rhp", "E"+v, policy.ResponseHeadersPolicy{Name: "r",
			CustomHeaders: []policy.CustomHeader{{Header: "X-Version", Value: v, Override: true}}})
	}
	putRes(t, h.edge, version("0"))
	host := "epolc.cloudfront.localhost"
	h.get(host, "/c")
	done := make(chan struct{})
	errs := make(chan string, 4)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				w := httptest.NewRecorder()
				h.edge.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://"+host+"/c", nil))
				if v := w.Header().Values("X-Version"); len(v) != 1 || len(v[0]) != 1 || v[0] < "0" || v[0] > "9" {
					select {
					case errs <- fmt.Sprint(v):
					default:
					}
					return
				}
			}
		})
	}
	for i := 1; i <= 9; i++ {
		putRes(t, h.edge, version(strconv.Itoa(i)))
	}
	close(done)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("X-Version %s", e)
	}
	if v := h.get(host, "/c").header.Get("X-Version"); v != "9" {
		t.Errorf("after the last update: X-Version %q", v)
	}
}

func TestOriginPolicyForward(t *testing.T) {
	viewer := httptest.NewRequest(http.MethodGet, "http://viewer.test/x", nil)
	viewer.RemoteAddr = "192.0.2.7:4567"
	viewer.Header.Set("X-A", "a")
	viewer.Header.Set("X-B", "b")
	viewer.Header.Set("Cookie", "c=1")
	viewer.Header.Set("Connection", "keep-alive")
	viewer.Header.Set("CloudFront-Viewer-Address", "203.0.113.1:1") // spoofed
	forward := func(p policy.OriginRequestPolicy) *http.Request {
		out := httptest.NewRequest(http.MethodGet, "http://origin.test/x", nil)
		out.Header = http.Header{}
		compileOriginPolicy(&p).forward(out, viewer)
		return out
	}
	sel := func(b string, names ...string) policy.Selection { return policy.Selection{Behavior: b, Names: names} }

	out := forward(policy.OriginRequestPolicy{Headers: sel(policy.AllExcept, "x-b")})
	if out.Header.Get("X-A") != "a" || out.Header.Get("X-B") != "" || out.Header.Get("Cookie") != "" ||
		out.Header.Get("Connection") != "" || out.Host != "viewer.test" {
		t.Errorf("allExcept: %v host %q", out.Header, out.Host)
	}
	out = forward(policy.OriginRequestPolicy{Headers: sel(policy.AllExcept, "host")})
	if out.Host != "origin.test" {
		t.Errorf("allExcept Host: host %q, want the origin's", out.Host)
	}
	out = forward(policy.OriginRequestPolicy{Headers: sel(policy.AllViewerAndWhitelistCloudFront,
		"CloudFront-Viewer-Address", "CloudFront-Forwarded-Proto", "CloudFront-Viewer-Http-Version", "CloudFront-Is-Mobile-Viewer")})
	want := http.Header{"X-A": {"a"}, "X-B": {"b"}, "CloudFront-Viewer-Address": {"192.0.2.7:4567"},
		"CloudFront-Forwarded-Proto": {"http"}, "CloudFront-Viewer-Http-Version": {"1.1"}}
	for k, v := range want {
		if got := out.Header[k]; len(got) != 1 || got[0] != v[0] {
			t.Errorf("allViewerAndWhitelistCloudFront %s: %q, want %q", k, got, v)
		}
	}
	if _, ok := out.Header["Cloudfront-Is-Mobile-Viewer"]; ok {
		t.Error("CloudFront-Is-Mobile-Viewer sent: the edge cannot tell")
	}
	if v, ok := out.Header["Cloudfront-Viewer-Address"]; ok {
		t.Errorf("the viewer's own CloudFront-Viewer-Address passed on: %q", v)
	}
	out = forward(policy.OriginRequestPolicy{Headers: sel(policy.Whitelist, "x-b", "CloudFront-Viewer-Header-Count")})
	if out.Header.Get("X-A") != "" || out.Header.Get("X-B") != "b" || out.Header["CloudFront-Viewer-Header-Count"][0] != "6" || out.Host != "origin.test" {
		t.Errorf("whitelist: %v host %q", out.Header, out.Host)
	}
}

func TestSecurityHeaderValues(t *testing.T) {
	p := compileHeadersPolicy(&policy.ResponseHeadersPolicy{Security: &policy.SecurityHeaders{
		XSSProtection:           &policy.XSSProtection{Override: true, Protection: true, ReportURI: "https://r.example/x"},
		FrameOptions:            &policy.FrameOptions{Override: true, FrameOption: "sameorigin"},
		ReferrerPolicy:          &policy.ReferrerPolicy{Override: true, ReferrerPolicy: "no-referrer"},
		ContentSecurityPolicy:   &policy.ContentSecurityPolicy{Override: false, ContentSecurityPolicy: "default-src 'self'"},
		StrictTransportSecurity: &policy.StrictTransportSecurity{Override: true, MaxAgeSec: 60, Preload: true},
	}})
	h := http.Header{"Content-Security-Policy": {"origin's"}}
	p.applyStatic(h)
	want := map[string]string{
		"X-Xss-Protection":          "1; report=https://r.example/x",
		"X-Frame-Options":           "SAMEORIGIN",
		"Referrer-Policy":           "no-referrer",
		"Content-Security-Policy":   "origin's",
		"Strict-Transport-Security": "max-age=60; preload",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
}

// Cookies the origin request policy alone forwards do not make the origin's
// Set-Cookie part of an object other viewers share.
func TestOriginPolicyCookiesKeepSetCookieOutOfSharedObjects(t *testing.T) {
	o := newOrigin(t)
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Set-Cookie", "session="+r.Header.Get("Cookie"))
		_, _ = w.Write([]byte("x"))
	})
	d := dist("EPOLK", o)
	d.Config.DefaultBehavior.CachePolicyID = "cp"
	d.Config.DefaultBehavior.OriginRequestPolicyID = "orp"
	h := newHarness(t, Config{}, d)
	putRes(t, h.edge, res(t, resource.CachePolicy, "cp", "E1", qsPolicy()))
	putRes(t, h.edge, res(t, resource.OriginRequestPolicy, "orp", "E1", policy.OriginRequestPolicy{Name: "orp",
		Headers: policy.Selection{Behavior: policy.None}, Cookies: policy.Selection{Behavior: policy.All},
		QueryStrings: policy.Selection{Behavior: policy.None}}))
	host := "epolk.cloudfront.localhost"
	if r := h.get(host, "/k", "Cookie", "a=1"); r.header.Get("Set-Cookie") != "" {
		t.Errorf("miss: Set-Cookie %q kept in a shared object", r.header.Get("Set-Cookie"))
	}
	if r := h.get(host, "/k", "Cookie", "b=2"); r.xcache() != xHit || r.header.Get("Set-Cookie") != "" {
		t.Errorf("another viewer's hit: %q Set-Cookie %q", r.xcache(), r.header.Get("Set-Cookie"))
	}
	if got := o.lastRequest().Header.Get("Cookie"); got != "a=1" {
		t.Errorf("the origin got Cookie %q, want the viewer's", got)
	}
}
