package e2e

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"

	"github.com/openfront/openfront/internal/testutil"
)

// The edge end to end: `openfront serve` as a process, distributions
// created with the AWS SDK (and declared in the configuration file), a real
// origin server in the test whose content the test changes, and viewers
// that name the distribution in the Host header.

// testOrigin is an origin server whose objects the test sets. It can go
// down and come back on the same address.
type testOrigin struct {
	t    *testing.T
	addr string
	port int32

	srvMu sync.Mutex
	srv   *http.Server // guarded by srvMu; nil while down

	mu      sync.Mutex
	objects map[string]originObject // guarded by mu: request URI -> object
	hits    map[string]int          // guarded by mu: request URI -> requests
	handler http.HandlerFunc        // guarded by mu: replaces objects when set
	last    *http.Request           // guarded by mu
}

type originObject struct {
	body   string
	header http.Header
}

func newTestOrigin(t *testing.T) *testOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &testOrigin{t: t, addr: ln.Addr().String(), objects: map[string]originObject{}, hits: map[string]int{}}
	o.port = int32(ln.Addr().(*net.TCPAddr).Port)
	o.serve(ln)
	t.Cleanup(o.down)
	return o
}

func (o *testOrigin) serve(ln net.Listener) {
	srv := &http.Server{Handler: o}
	o.srvMu.Lock()
	o.srv = srv
	o.srvMu.Unlock()
	go srv.Serve(ln)
}

// down closes the listener and every connection: connections are refused.
func (o *testOrigin) down() {
	o.srvMu.Lock()
	defer o.srvMu.Unlock()
	if o.srv != nil {
		o.srv.Close()
		o.srv = nil
	}
}

// up listens again on the same address.
func (o *testOrigin) up() {
	o.t.Helper()
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		o.t.Skipf("cannot listen again on %s: %v", o.addr, err)
	}
	o.serve(ln)
}

func (o *testOrigin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.hits[r.RequestURI]++
	o.last = r.Clone(r.Context())
	h := o.handler
	obj, ok := o.objects[r.RequestURI]
	o.mu.Unlock()
	if h != nil {
		h(w, r)
		return
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	for k, v := range obj.header {
		w.Header()[k] = v
	}
	io.WriteString(w, obj.body)
}

// set makes uri answer body, with headers kv (name, value, ...).
func (o *testOrigin) set(uri, body string, kv ...string) {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.objects[uri] = originObject{body, h}
}

func (o *testOrigin) del(uri string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.objects, uri)
}

func (o *testOrigin) setHandler(h http.HandlerFunc) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.handler = h
}

func (o *testOrigin) hitsOf(uri string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[uri]
}

func (o *testOrigin) lastRequest() *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.last
}

// origin is the API's Origin for o: DomainName 127.0.0.1, HTTP on o's port.
func (o *testOrigin) origin(id string) types.Origin {
	return types.Origin{
		Id:         aws.String(id),
		DomainName: aws.String("127.0.0.1"),
		CustomOriginConfig: &types.CustomOriginConfig{
			HTTPPort: aws.Int32(o.port), HTTPSPort: aws.Int32(443),
			OriginProtocolPolicy: types.OriginProtocolPolicyHttpOnly,
		},
	}
}

// legacyBehavior is a default cache behavior with legacyBehavior cache settings: TTLs
// 0 / 1 day / 1 year, cookies not forwarded, query strings as asked.
func legacyBehavior(originID string, queryString bool) *types.DefaultCacheBehavior {
	return &types.DefaultCacheBehavior{
		TargetOriginId:       aws.String(originID),
		ViewerProtocolPolicy: types.ViewerProtocolPolicyAllowAll,
		ForwardedValues: &types.ForwardedValues{
			QueryString: aws.Bool(queryString),
			Cookies:     &types.CookiePreference{Forward: types.ItemSelectionNone},
		},
		MinTTL: aws.Int64(0), DefaultTTL: aws.Int64(86400), MaxTTL: aws.Int64(31536000),
	}
}

// pathBehavior is a path-pattern cache behavior with legacyBehavior settings.
func pathBehavior(pattern, originID string, queryString bool, methods ...types.Method) types.CacheBehavior {
	d := legacyBehavior(originID, queryString)
	b := types.CacheBehavior{
		PathPattern: aws.String(pattern), TargetOriginId: d.TargetOriginId, ViewerProtocolPolicy: d.ViewerProtocolPolicy,
		ForwardedValues: d.ForwardedValues, MinTTL: d.MinTTL, DefaultTTL: d.DefaultTTL, MaxTTL: d.MaxTTL,
	}
	if len(methods) > 0 {
		b.AllowedMethods = &types.AllowedMethods{Quantity: aws.Int32(int32(len(methods))), Items: methods,
			CachedMethods: &types.CachedMethods{Quantity: aws.Int32(2), Items: []types.Method{types.MethodHead, types.MethodGet}}}
	}
	return b
}

var edgeAllMethods = []types.Method{types.MethodGet, types.MethodHead, types.MethodOptions, types.MethodPut, types.MethodPost, types.MethodPatch, types.MethodDelete}

// edgeConfig is a DistributionConfig with the given default behavior and
// origins.
func edgeConfig(ref string, def *types.DefaultCacheBehavior, origins ...types.Origin) *types.DistributionConfig {
	return &types.DistributionConfig{
		CallerReference:      aws.String(ref),
		Comment:              aws.String("edge e2e"),
		Enabled:              aws.Bool(true),
		Origins:              &types.Origins{Quantity: aws.Int32(int32(len(origins))), Items: origins},
		DefaultCacheBehavior: def,
	}
}

// edgeDist is a distribution created through the API.
type edgeDist struct {
	id, domain, etag string
	cfg              *types.DistributionConfig
}

func createEdgeDist(t *testing.T, c *cloudfront.Client, cfg *types.DistributionConfig) edgeDist {
	t.Helper()
	out, err := createDist(t, c, cfg)
	if err != nil {
		t.Fatalf("CreateDistribution: %v", err)
	}
	waitDeployed(t, c, *out.Distribution.Id)
	return edgeDist{id: *out.Distribution.Id, domain: *out.Distribution.DomainName, etag: *out.ETag, cfg: out.Distribution.DistributionConfig}
}

// waitDeployed waits with the SDK's distribution_deployed waiter: the
// configuration is then in service on the edge, as on CloudFront's.
func waitDeployed(t *testing.T, c *cloudfront.Client, id string) {
	t.Helper()
	w := cloudfront.NewDistributionDeployedWaiter(c, func(o *cloudfront.DistributionDeployedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, 100*time.Millisecond
	})
	if err := w.Wait(ctx(t), &cloudfront.GetDistributionInput{Id: aws.String(id)}, time.Minute); err != nil {
		t.Fatalf("waiting for %s to deploy: %v", id, err)
	}
}

var edgeInvRef atomic.Int64

// invalidateAndWait creates an invalidation through the SDK and waits for
// it with the SDK's invalidation_completed waiter.
func invalidateAndWait(t *testing.T, c *cloudfront.Client, distID string, paths ...string) {
	t.Helper()
	out, err := create(t, c, distID, batch(fmt.Sprint("edge-", edgeInvRef.Add(1), "-", time.Now().UnixNano()), paths...))
	if err != nil {
		t.Fatalf("CreateInvalidation %v: %v", paths, err)
	}
	w := cloudfront.NewInvalidationCompletedWaiter(c, func(o *cloudfront.InvalidationCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, 100*time.Millisecond
	})
	if err := w.Wait(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(distID), Id: out.Invalidation.Id}, time.Minute); err != nil {
		t.Fatalf("waiting for %v: %v", paths, err)
	}
}

// edgeViewer requests the edge.
type edgeViewer struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newEdgeViewer(t *testing.T, s *server) *edgeViewer {
	t.Helper()
	if s.EdgeURL == "" {
		t.Fatal("the server runs no edge")
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &edgeViewer{t: t, base: s.EdgeURL, c: &http.Client{Transport: tr, Timeout: time.Minute}}
}

type edgeResponse struct {
	status int
	header http.Header
	body   string
}

func (r edgeResponse) xcache() string { return r.header.Get("X-Cache") }

// try requests the edge; it may be called from any goroutine.
func (v *edgeViewer) try(method, host, uri string, hdr ...string) (edgeResponse, error) {
	req, err := http.NewRequest(method, v.base+uri, nil)
	if err != nil {
		return edgeResponse{}, err
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := v.c.Do(req)
	if err != nil {
		return edgeResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return edgeResponse{resp.StatusCode, resp.Header, string(b)}, err
}

func (v *edgeViewer) do(method, host, uri string, hdr ...string) edgeResponse {
	v.t.Helper()
	r, err := v.try(method, host, uri, hdr...)
	if err != nil {
		v.t.Fatalf("%s %s%s: %v", method, host, uri, err)
	}
	return r
}

func (v *edgeViewer) get(host, uri string, hdr ...string) edgeResponse {
	v.t.Helper()
	return v.do(http.MethodGet, host, uri, hdr...)
}

// expect checks a GET answers status, body and X-Cache.
func (v *edgeViewer) expect(host, uri string, status int, body, xcache string) edgeResponse {
	v.t.Helper()
	r := v.get(host, uri)
	if r.status != status || r.body != body || r.xcache() != xcache {
		v.t.Fatalf("GET %s%s = %d %.200q %q; want %d %.200q %q", host, uri, r.status, r.body, r.xcache(), status, body, xcache)
	}
	return r
}

const (
	edgeMiss  = "Miss from cloudfront"
	edgeHit   = "Hit from cloudfront"
	edgeError = "Error from cloudfront"
)

var edgeViaPattern = regexp.MustCompile(`^1\.1 [0-9a-f]{32}\.cloudfront\.net \(CloudFront\)$`)

// checkEdgeStamp checks the headers every edge response carries.
func checkEdgeStamp(t *testing.T, r edgeResponse, pop string) {
	t.Helper()
	if !edgeViaPattern.MatchString(r.header.Get("Via")) {
		t.Errorf("Via %q", r.header.Get("Via"))
	}
	if r.header.Get("X-Amz-Cf-Pop") != pop {
		t.Errorf("X-Amz-Cf-Pop %q, want %q", r.header.Get("X-Amz-Cf-Pop"), pop)
	}
	if id := r.header.Get("X-Amz-Cf-Id"); len(id) != 56 {
		t.Errorf("X-Amz-Cf-Id %q", id)
	}
}

// TestEdgeInvalidationLifecycle: a distribution created with the SDK in
// front of a real origin; miss, hit, the origin changes, the old object is
// still served, CreateInvalidation and the waiter, the new object: for an
// exact path, a wildcard, query string variants and the default root
// object.
func TestEdgeInvalidationLifecycle(t *testing.T) {
	o := newTestOrigin(t)
	s := startServer(t, options{args: []string{"--pop", "TST50-C1"}})
	c := s.client("", "")
	v := newEdgeViewer(t, s)
	cfg := edgeConfig("lifecycle", legacyBehavior("web", true), o.origin("web"))
	cfg.DefaultRootObject = aws.String("index.html")
	d := createEdgeDist(t, c, cfg)
	host := d.domain

	objects := []string{"/a.jpg", "/b.jpg", "/images/x.jpg", "/images/sub/y.jpg", "/css/z.css", "/index.html", "/q?v=1", "/q?v=2"}
	for _, p := range objects {
		o.set(p, p+" v1")
	}
	r := v.expect(host, "/a.jpg", 200, "/a.jpg v1", edgeMiss)
	checkEdgeStamp(t, r, "TST50-C1")
	r = v.expect(host, "/a.jpg", 200, "/a.jpg v1", edgeHit)
	checkEdgeStamp(t, r, "TST50-C1")
	if age, err := strconv.Atoi(r.header.Get("Age")); err != nil || age < 0 {
		t.Errorf("a hit's Age %q", r.header.Get("Age"))
	}
	if req := o.lastRequest(); req.Header.Get("User-Agent") != "Amazon CloudFront" || req.Header.Get("X-Amz-Cf-Id") == "" || !strings.HasSuffix(req.Header.Get("Via"), "(CloudFront)") {
		t.Errorf("the origin saw %v", req.Header)
	}
	for _, p := range objects[1:] {
		v.expect(host, p, 200, p+" v1", edgeMiss)
	}
	v.expect(host, "/", 200, "/index.html v1", edgeHit) // the default root object is /index.html

	// The origin changes; the edge still serves what it cached.
	for _, p := range objects {
		o.set(p, p+" v2")
	}
	for _, p := range objects {
		v.expect(host, p, 200, p+" v1", edgeHit)
	}

	// An exact path.
	invalidateAndWait(t, c, d.id, "/a.jpg")
	v.expect(host, "/a.jpg", 200, "/a.jpg v2", edgeMiss)
	v.expect(host, "/a.jpg", 200, "/a.jpg v2", edgeHit)
	v.expect(host, "/b.jpg", 200, "/b.jpg v1", edgeHit)
	if n := o.hitsOf("/a.jpg"); n != 2 {
		t.Errorf("origin saw /a.jpg %d times, want 2", n)
	}

	// A wildcard.
	invalidateAndWait(t, c, d.id, "/images/*")
	v.expect(host, "/images/x.jpg", 200, "/images/x.jpg v2", edgeMiss)
	v.expect(host, "/images/sub/y.jpg", 200, "/images/sub/y.jpg v2", edgeMiss)
	v.expect(host, "/css/z.css", 200, "/css/z.css v1", edgeHit)

	// Query string variants are objects of their own.
	invalidateAndWait(t, c, d.id, "/q?v=1")
	v.expect(host, "/q?v=1", 200, "/q?v=1 v2", edgeMiss)
	v.expect(host, "/q?v=2", 200, "/q?v=2 v1", edgeHit)
	invalidateAndWait(t, c, d.id, "/q*")
	v.expect(host, "/q?v=2", 200, "/q?v=2 v2", edgeMiss)

	// The default root object: "/" invalidates /index.html.
	invalidateAndWait(t, c, d.id, "/")
	v.expect(host, "/", 200, "/index.html v2", edgeMiss)
	v.expect(host, "/index.html", 200, "/index.html v2", edgeHit)

	// Everything.
	o.set("/b.jpg", "/b.jpg v3")
	invalidateAndWait(t, c, d.id, "/*")
	v.expect(host, "/b.jpg", 200, "/b.jpg v3", edgeMiss)
	v.expect(host, "/css/z.css", 200, "/css/z.css v2", edgeMiss)
}

// TestEdgeDistributionsShareAPath: a distribution from the configuration
// file and one created with the SDK, in front of the same origin, cache
// the same path separately; invalidating one leaves the other's object.
func TestEdgeDistributionsShareAPath(t *testing.T) {
	o := newTestOrigin(t)
	s := startServer(t, options{config: fmt.Sprintf("distributions:\n  - id: EFILEDIST00001\n    origin: http://%s\n    aliases: [files.test]\n", o.addr)})
	c := s.client("", "")
	v := newEdgeViewer(t, s)
	api := createEdgeDist(t, c, edgeConfig("shared", legacyBehavior("web", false), o.origin("web")))
	const fileHost = "files.test"

	o.set("/shared.txt", "v1")
	v.expect(fileHost, "/shared.txt", 200, "v1", edgeMiss)
	v.expect(api.domain, "/shared.txt", 200, "v1", edgeMiss) // not the file distribution's object
	v.expect(fileHost, "/shared.txt", 200, "v1", edgeHit)
	v.expect("efiledist00001.cloudfront.localhost", "/shared.txt", 200, "v1", edgeHit) // its own domain name
	v.expect(api.domain, "/shared.txt", 200, "v1", edgeHit)

	o.set("/shared.txt", "v2")
	invalidateAndWait(t, c, api.id, "/shared.txt")
	v.expect(api.domain, "/shared.txt", 200, "v2", edgeMiss)
	v.expect(fileHost, "/shared.txt", 200, "v1", edgeHit)

	invalidateAndWait(t, c, "EFILEDIST00001", "/*")
	v.expect(fileHost, "/shared.txt", 200, "v2", edgeMiss)
	v.expect(api.domain, "/shared.txt", 200, "v2", edgeHit)
}

// TestEdgePathPatternBehaviors: cache behaviors route paths to two origins,
// each with its own origin path, custom headers, query strings, methods
// and TTLs.
func TestEdgePathPatternBehaviors(t *testing.T) {
	web, api := newTestOrigin(t), newTestOrigin(t)
	s := startServer(t, options{})
	c := s.client("", "")
	v := newEdgeViewer(t, s)
	apiOrigin := api.origin("api")
	apiOrigin.OriginPath = aws.String("/v1")
	apiOrigin.CustomHeaders = &types.CustomHeaders{Quantity: aws.Int32(1), Items: []types.OriginCustomHeader{{HeaderName: aws.String("X-Origin-Verify"), HeaderValue: aws.String("s3cr3t")}}}
	apiOrigin.CustomOriginConfig.OriginProtocolPolicy = types.OriginProtocolPolicyMatchViewer // the viewer is on HTTP
	cfg := edgeConfig("behaviors", legacyBehavior("web", false), web.origin("web"), apiOrigin)
	png := pathBehavior("*.png", "api", false)
	png.DefaultTTL, png.MaxTTL = aws.Int64(1), aws.Int64(1)
	cfg.CacheBehaviors = &types.CacheBehaviors{Quantity: aws.Int32(3), Items: []types.CacheBehavior{
		pathBehavior("/api/*", "api", true, edgeAllMethods...),
		png,
		pathBehavior("api/special", "web", false), // shadowed by /api/*
	}}
	d := createEdgeDist(t, c, cfg)
	host := d.domain

	web.set("/index.html", "web index")
	web.set("/img/logo.png", "web logo")
	api.set("/v1/img/logo.png", "api logo")
	api.set("/v1/api/items?page=1", "items 1")
	api.set("/v1/api/items?page=2", "items 2")
	api.set("/v1/api/special", "api special")

	v.expect(host, "/index.html", 200, "web index", edgeMiss)
	v.expect(host, "/img/logo.png", 200, "api logo", edgeMiss)
	if got := api.lastRequest().Header.Get("X-Origin-Verify"); got != "s3cr3t" {
		t.Errorf("origin custom header: %q", got)
	}
	v.expect(host, "/api/items?page=1", 200, "items 1", edgeMiss)
	v.expect(host, "/api/items?page=2", 200, "items 2", edgeMiss)
	v.expect(host, "/api/items?page=1", 200, "items 1", edgeHit)
	v.expect(host, "/api/special", 200, "api special", edgeMiss)
	if web.hitsOf("/img/logo.png") != 0 || web.hitsOf("/api/special") != 0 {
		t.Error("the default behavior's origin was asked for a path another behavior serves")
	}

	// *.png lives one second: after it, the origin is asked again.
	api.set("/v1/img/logo.png", "api logo 2")
	deadline := time.Now().Add(30 * time.Second)
	for v.get(host, "/img/logo.png").body != "api logo 2" {
		if time.Now().After(deadline) {
			t.Fatal("a MaxTTL of 1s kept the old object")
		}
		time.Sleep(100 * time.Millisecond)
	}
	v.expect(host, "/index.html", 200, "web index", edgeHit) // a day

	// An invalidation path is read under the behavior its path matches.
	api.set("/v1/api/items?page=1", "items 1 new")
	api.set("/v1/api/items?page=2", "items 2 new")
	invalidateAndWait(t, c, d.id, "/api/items?page=1")
	v.expect(host, "/api/items?page=1", 200, "items 1 new", edgeMiss)
	v.expect(host, "/api/items?page=2", 200, "items 2", edgeHit)

	// Methods: everything under /api/*, GET and HEAD elsewhere.
	api.setHandler(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.RequestURI, b)
	})
	req, _ := http.NewRequest(http.MethodPost, s.EdgeURL+"/api/orders?x=1", strings.NewReader("order"))
	req.Host = host
	resp, err := v.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "POST /v1/api/orders?x=1 order" || resp.Header.Get("X-Cache") != edgeMiss {
		t.Errorf("POST /api/orders: %d %q %q", resp.StatusCode, body, resp.Header.Get("X-Cache"))
	}
	for _, m := range []string{http.MethodPost, http.MethodDelete, http.MethodOptions} {
		r := v.do(m, host, "/index.html")
		if r.status != http.StatusForbidden || r.xcache() != edgeError || !strings.Contains(r.body, "not configured to allow the HTTP request method") {
			t.Errorf("%s /index.html: %d %q", m, r.status, r.xcache())
		}
	}
	if r := v.do(http.MethodOptions, host, "/api/items"); r.status != 200 || r.body != "OPTIONS /v1/api/items " {
		t.Errorf("OPTIONS /api/items: %d %q", r.status, r.body)
	}
}

// TestEdgeCustomErrorPages: CustomErrorResponses serve a page fetched
// through the behavior its path matches, with the ResponseCode, and cache
// the error for its ErrorCachingMinTTL.
func TestEdgeCustomErrorPages(t *testing.T) {
	web, pages := newTestOrigin(t), newTestOrigin(t)
	s := startServer(t, options{})
	c := s.client("", "")
	v := newEdgeViewer(t, s)
	cfg := edgeConfig("errors", legacyBehavior("web", false), web.origin("web"), pages.origin("pages"))
	cfg.CacheBehaviors = &types.CacheBehaviors{Quantity: aws.Int32(1), Items: []types.CacheBehavior{pathBehavior("/errors/*", "pages", false)}}
	cfg.CustomErrorResponses = &types.CustomErrorResponses{Quantity: aws.Int32(3), Items: []types.CustomErrorResponse{
		{ErrorCode: aws.Int32(404), ResponsePagePath: aws.String("/errors/404.html"), ResponseCode: aws.String("200"), ErrorCachingMinTTL: aws.Int64(300)},
		{ErrorCode: aws.Int32(503), ResponsePagePath: aws.String("/errors/5xx.html"), ResponseCode: aws.String("503"), ErrorCachingMinTTL: aws.Int64(1)},
		{ErrorCode: aws.Int32(502), ResponsePagePath: aws.String("/errors/5xx.html"), ResponseCode: aws.String("500"), ErrorCachingMinTTL: aws.Int64(0)},
	}}
	d := createEdgeDist(t, c, cfg)
	host := d.domain
	pages.set("/errors/404.html", "<h1>not here</h1>", "Content-Type", "text/html")
	pages.set("/errors/5xx.html", "<h1>down</h1>", "Content-Type", "text/html")

	r := v.expect(host, "/missing", 200, "<h1>not here</h1>", edgeError)
	if r.header.Get("Content-Type") != "text/html" {
		t.Errorf("Content-Type %q", r.header.Get("Content-Type"))
	}
	v.expect(host, "/missing", 200, "<h1>not here</h1>", edgeError)
	v.expect(host, "/also-missing", 200, "<h1>not here</h1>", edgeError)
	if web.hitsOf("/missing") != 1 || pages.hitsOf("/errors/404.html") != 1 || web.hitsOf("/errors/404.html") != 0 {
		t.Errorf("origin requests: /missing %d, page %d (page from web: %d)", web.hitsOf("/missing"), pages.hitsOf("/errors/404.html"), web.hitsOf("/errors/404.html"))
	}

	// The page is an object: invalidating it changes every error's page.
	pages.set("/errors/404.html", "<h1>not here v2</h1>", "Content-Type", "text/html")
	invalidateAndWait(t, c, d.id, "/errors/404.html")
	v.expect(host, "/missing", 200, "<h1>not here v2</h1>", edgeError)

	// The 404 is cached for 300s: the object appearing at the origin is
	// served only once invalidated.
	web.set("/missing", "found it")
	v.expect(host, "/missing", 200, "<h1>not here v2</h1>", edgeError)
	invalidateAndWait(t, c, d.id, "/missing")
	v.expect(host, "/missing", 200, "found it", edgeMiss)
	v.expect(host, "/missing", 200, "found it", edgeHit)

	// An origin 503: the 5xx page with ResponseCode 503, cached for 1s.
	web.setHandler(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	})
	v.expect(host, "/busy", 503, "<h1>down</h1>", edgeError)
	web.setHandler(nil)
	web.set("/busy", "not busy")
	deadline := time.Now().Add(30 * time.Second)
	for v.get(host, "/busy").body != "not busy" {
		if time.Now().After(deadline) {
			t.Fatal("a 503 with ErrorCachingMinTTL 1 stayed cached")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The origin down: the edge's 502 becomes the page with 500.
	web.down()
	v.expect(host, "/unreachable", 500, "<h1>down</h1>", edgeError)
	web.up()
	web.set("/unreachable", "reachable")
	v.expect(host, "/unreachable", 200, "reachable", edgeMiss) // ErrorCachingMinTTL 0: not cached

	// The page itself missing: the viewer gets what the page's origin said.
	pages.del("/errors/404.html")
	invalidateAndWait(t, c, d.id, "/errors/*")
	if r := v.get(host, "/nothing"); r.status != 404 || r.body != "404 page not found\n" || r.xcache() != edgeError {
		t.Errorf("page missing: %d %q %q", r.status, r.body, r.xcache())
	}
}

// TestEdgeErrors: CloudFront's own 403 for a Host no distribution has and
// for a disabled distribution.
func TestEdgeErrors(t *testing.T) {
	o := newTestOrigin(t)
	s := startServer(t, options{})
	c := s.client("", "")
	v := newEdgeViewer(t, s)
	d := createEdgeDist(t, c, edgeConfig("errors", legacyBehavior("web", false), o.origin("web")))
	o.set("/a", "a")
	v.expect(d.domain, "/a", 200, "a", edgeMiss)

	check := func(host, what string) {
		t.Helper()
		r := v.get(host, "/a")
		if r.status != http.StatusForbidden || r.xcache() != edgeError || r.header.Get("Server") != "CloudFront" ||
			!strings.Contains(r.body, "ERROR: The request could not be satisfied") || !strings.Contains(r.body, "403 ERROR") {
			t.Errorf("%s: %d %q %v %.300q", what, r.status, r.xcache(), r.header, r.body)
		}
		checkEdgeStamp(t, r, "LOCAL1-C1")
		if !strings.Contains(r.body, r.header.Get("X-Amz-Cf-Id")) {
			t.Errorf("%s: the page does not carry the request id", what)
		}
	}
	check("nowhere.example.com", "unknown host")
	check("dnotadistribution.cloudfront.localhost", "unknown distribution domain")

	cfg := d.cfg
	cfg.Enabled = aws.Bool(false)
	up, err := c.UpdateDistribution(ctx(t), &cloudfront.UpdateDistributionInput{Id: aws.String(d.id), IfMatch: aws.String(d.etag), DistributionConfig: cfg})
	if err != nil {
		t.Fatal(err)
	}
	waitDeployed(t, c, d.id)
	check(d.domain, "disabled distribution")
	cfg.Enabled = aws.Bool(true)
	if _, err := c.UpdateDistribution(ctx(t), &cloudfront.UpdateDistributionInput{Id: aws.String(d.id), IfMatch: up.ETag, DistributionConfig: cfg}); err != nil {
		t.Fatal(err)
	}
	waitDeployed(t, c, d.id)
	v.expect(d.domain, "/a", 200, "a", edgeHit) // enabled again, its cache intact
}

// TestEdgeOriginFailures: an origin that is down, answers 5xx, is slow to
// answer or to accept connections gets the viewer 502 or 504, and nothing
// of it stays in the cache: once the origin recovers, its content is
// served.
func TestEdgeOriginFailures(t *testing.T) {
	o := newTestOrigin(t)
	s := startServer(t, options{args: []string{"--log-level", "debug"}})
	c := s.client("", "")
	v := newEdgeViewer(t, s)
	web := o.origin("web")
	web.CustomOriginConfig.OriginReadTimeout = aws.Int32(1)
	web.ConnectionAttempts = aws.Int32(1)
	web.ConnectionTimeout = aws.Int32(1)
	d := createEdgeDist(t, c, edgeConfig("failures", legacyBehavior("web", false), web))
	host := d.domain

	// Down: connection refused.
	o.down()
	r := v.get(host, "/down")
	if r.status != http.StatusBadGateway || r.xcache() != edgeError || !strings.Contains(r.body, "502 ERROR") {
		t.Errorf("origin down: %d %q %.100q", r.status, r.xcache(), r.body)
	}
	if !s.logged("origin request failed") {
		t.Error("the failure was not logged")
	}
	o.up()
	o.set("/down", "up again")
	v.expect(host, "/down", 200, "up again", edgeMiss)
	v.expect(host, "/down", 200, "up again", edgeHit)

	// 5xx: passed on, not cached.
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		http.Error(w, "broken", http.StatusInternalServerError)
	})
	for range 2 {
		if r := v.get(host, "/broken"); r.status != 500 || r.body != "broken\n" || r.xcache() != edgeError {
			t.Errorf("origin 500: %d %q %q", r.status, r.body, r.xcache())
		}
	}
	if n := o.hitsOf("/broken"); n != 2 {
		t.Errorf("a 500 was cached: the origin saw %d requests", n)
	}
	o.setHandler(nil)
	o.set("/broken", "fixed")
	v.expect(host, "/broken", 200, "fixed", edgeMiss)

	// Slow: no response headers within OriginReadTimeout (1s).
	release := make(chan struct{})
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		io.WriteString(w, "too late")
	})
	if r := v.get(host, "/slow"); r.status != http.StatusGatewayTimeout || r.xcache() != edgeError || !strings.Contains(r.body, "504 ERROR") {
		t.Errorf("slow origin: %d %q", r.status, r.xcache())
	}
	close(release)
	o.setHandler(nil)
	o.set("/slow", "fast now")
	v.expect(host, "/slow", 200, "fast now", edgeMiss)

	// A body that stalls half way: the viewer sees a broken response, and
	// nothing is cached.
	stall := make(chan struct{})
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	})
	if r, err := v.try(http.MethodGet, host, "/stall"); err == nil && r.status == 200 {
		t.Errorf("a stalled body came back whole: %d %q", r.status, r.body)
	}
	close(stall)
	o.setHandler(nil)
	o.set("/stall", "whole")
	v.expect(host, "/stall", 200, "whole", edgeMiss)

	// Slow to accept connections: ConnectionTimeout (1s), one attempt.
	if hole := blackholePort(t); hole != 0 {
		slow := o.origin("web")
		slow.CustomOriginConfig.HTTPPort = aws.Int32(hole)
		slow.ConnectionAttempts = aws.Int32(1)
		slow.ConnectionTimeout = aws.Int32(1)
		d2 := createEdgeDist(t, c, edgeConfig("blackhole", legacyBehavior("web", false), slow))
		if r := v.get(d2.domain, "/x"); r.status != http.StatusGatewayTimeout || r.xcache() != edgeError {
			t.Errorf("connection timeout: %d %q %.100q", r.status, r.xcache(), r.body)
		}
	}
}

// blackholePort returns a local port whose connection attempts hang (a
// listener whose accept queue is full, so the kernel drops further SYNs),
// or 0 when this system does not behave so.
func blackholePort(t *testing.T) int32 {
	t.Helper()
	ln, err := listenBacklog0()
	if err != nil {
		t.Logf("no blackhole listener: %v", err)
		return 0
	}
	t.Cleanup(func() { ln.Close() })
	addr := ln.Addr().String()
	var fill []net.Conn
	t.Cleanup(func() {
		for _, c := range fill {
			c.Close()
		}
	})
	for range 4 {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			// The queue is full: this attempt hung. One more to be sure.
			if _, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
				t.Log("blackhole listener accepted a connection; skipping the connection timeout check")
				return 0
			}
			return int32(ln.Addr().(*net.TCPAddr).Port)
		}
		fill = append(fill, c)
	}
	t.Log("the accept queue never filled; skipping the connection timeout check")
	return 0
}

// TestEdgeEviction: with a small --cache-size, objects are evicted under
// memory pressure and fetched again; the edge keeps serving correctly.
func TestEdgeEviction(t *testing.T) {
	o := newTestOrigin(t)
	s := startServer(t, options{args: []string{"--cache-size", "65536"}})
	c := s.client("", "")
	v := newEdgeViewer(t, s)
	d := createEdgeDist(t, c, edgeConfig("eviction", legacyBehavior("web", false), o.origin("web")))
	body := strings.Repeat("x", 4<<10)
	const n = 64 // 256 KiB of bodies in a 64 KiB cache
	for i := range n {
		p := "/obj" + strconv.Itoa(i)
		o.set(p, body+p)
		v.expect(d.domain, p, 200, body+p, edgeMiss)
	}
	hits := 0
	for i := range n {
		p := "/obj" + strconv.Itoa(i)
		r := v.get(d.domain, p)
		if r.status != 200 || r.body != body+p {
			t.Fatalf("GET %s: %d, %d bytes", p, r.status, len(r.body))
		}
		if r.xcache() == edgeHit {
			hits++
		}
	}
	if hits == n {
		t.Errorf("every one of %d objects of 4 KiB stayed in a 64 KiB cache", n)
	}
	t.Logf("%d of %d objects still cached", hits, n)
	if o.hitsOf("/obj0") < 2 {
		t.Errorf("the first object was never evicted")
	}
	// The cache still caches.
	o.set("/fresh", "fresh")
	v.expect(d.domain, "/fresh", 200, "fresh", edgeMiss)
	v.expect(d.domain, "/fresh", 200, "fresh", edgeHit)
}

// TestEdgeInvalidationOrdering hammers the edge from goroutines while
// invalidations run: once GetInvalidation has said Completed, no request
// made after that returns the old object.
func TestEdgeInvalidationOrdering(t *testing.T) {
	o := newTestOrigin(t)
	s := startServer(t, options{})
	c := s.client("", "")
	v := newEdgeViewer(t, s)
	d := createEdgeDist(t, c, edgeConfig("ordering", legacyBehavior("web", false), o.origin("web")))
	var version atomic.Int64
	version.Store(1)
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s@%d", r.URL.Path, version.Load())
	})
	paths := []string{"/hot", "/dir/a", "/dir/b", "/dir/sub/c"}
	for _, p := range paths {
		v.expect(d.domain, p, 200, p+"@1", edgeMiss)
	}

	type result struct {
		start  time.Time
		path   string
		status int
		body   string
	}
	var (
		mu      sync.Mutex
		results []result
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	var stopOnce sync.Once
	halt := func() {
		stopOnce.Do(func() { close(stop) })
		wg.Wait()
	}
	t.Cleanup(halt) // before the server is killed
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
				p := paths[i%len(paths)]
				start := time.Now()
				r, err := v.try(http.MethodGet, d.domain, p)
				if err != nil {
					t.Errorf("GET %s: %v", p, err)
					return
				}
				mu.Lock()
				results = append(results, result{start, p, r.status, r.body})
				mu.Unlock()
			}
		}()
	}

	rounds := []struct{ paths []string }{{[]string{"/hot"}}, {[]string{"/dir/*"}}, {[]string{"/*"}}, {[]string{"/hot", "/dir/a", "/dir/b", "/dir/sub/c"}}}
	var completedAt []time.Time
	staleServed := func(since time.Time, current int) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range results {
			_, ver, _ := strings.Cut(r.body, "@")
			if n, _ := strconv.Atoi(ver); r.start.After(since) && n < current {
				return true
			}
		}
		return false
	}
	for i, round := range rounds {
		changed := time.Now()
		version.Store(int64(i + 2))
		// The edge goes on serving older versions from its cache until the
		// invalidation: wait until a viewer got one.
		for deadline := time.Now().Add(10 * time.Second); !staleServed(changed, i+2); {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: no viewer got an older version than %d after the origin changed", i, i+2)
			}
			time.Sleep(2 * time.Millisecond)
		}
		out, err := create(t, c, d.id, batch(fmt.Sprint("order-", i), round.paths...))
		if err != nil {
			t.Fatal(err)
		}
		for {
			g, err := c.GetInvalidation(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(d.id), Id: out.Invalidation.Id})
			if err != nil {
				t.Fatal(err)
			}
			if *g.Invalidation.Status == "Completed" {
				completedAt = append(completedAt, time.Now())
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		// Some viewer asks for a path the round named after Completed,
		// before the next round changes the origin again.
		testutil.Eventually(t, 10*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range results {
				if r.start.After(completedAt[i]) && invalidationCovers(round.paths, r.path) {
					return true
				}
			}
			return false
		}, fmt.Sprintf("a request covered by round %d after it completed", i))
	}
	halt()

	// After round i completed, a request for a path the round named must
	// see a version of at least i+2.
	checked := 0
	for _, r := range results {
		if r.status != 200 {
			t.Errorf("GET %s: %d", r.path, r.status)
			continue
		}
		_, ver, _ := strings.Cut(r.body, "@")
		got, _ := strconv.Atoi(ver)
		for i, round := range rounds {
			if !r.start.After(completedAt[i]) || !invalidationCovers(round.paths, r.path) {
				continue
			}
			checked++
			if got < i+2 {
				t.Errorf("GET %s started %v after invalidation %d (%v) completed returned version %d, want at least %d",
					r.path, r.start.Sub(completedAt[i]), i, round.paths, got, i+2)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no request was made after an invalidation completed")
	}
	t.Logf("%d requests, %d checked against a completed invalidation", len(results), checked)
}

// invalidationCovers reports whether an invalidation of paths names path.
func invalidationCovers(paths []string, path string) bool {
	for _, p := range paths {
		if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(path, prefix) || p == path {
			return true
		}
	}
	return false
}

// TestEdgeCompress: a behavior with Compress (set through the SDK) gzips
// what CloudFront would for viewers that accept gzip, caches that copy
// beside the uncompressed one, and an invalidation removes both.
func TestEdgeCompress(t *testing.T) {
	o := newTestOrigin(t)
	s := startServer(t, options{})
	c := s.client("", "")
	v := newEdgeViewer(t, s)
	def := legacyBehavior("web", false)
	def.Compress = aws.Bool(true)
	d := createEdgeDist(t, c, edgeConfig("compress", def, o.origin("web")))
	host := d.domain

	page := func(v string) string { return strings.Repeat("<p>"+v+" of a page worth compressing</p>\n", 60) }
	set := func(v string) {
		o.set("/app.js", page(v), "Content-Type", "application/javascript", "Content-Length", strconv.Itoa(len(page(v))), "ETag", `"`+v+`"`)
	}
	set("v1")
	gz := func(want, version string) {
		t.Helper()
		r := v.get(host, "/app.js", "Accept-Encoding", "gzip, deflate, br")
		if r.status != 200 || r.xcache() != want || r.header.Get("Content-Encoding") != "gzip" || r.header.Get("ETag") != `W/"`+version+`"` {
			t.Fatalf("gzip GET: %d %q Content-Encoding %q ETag %q; want %q", r.status, r.xcache(), r.header.Get("Content-Encoding"), r.header.Get("ETag"), want)
		}
		if body, err := gunzip(t, r.body); err != nil || body != page(version) {
			t.Fatalf("gzip GET: body %.60q, %v", body, err)
		}
	}
	plain := func(want, version string) {
		t.Helper()
		r := v.get(host, "/app.js", "Accept-Encoding", "identity")
		if r.status != 200 || r.xcache() != want || r.header.Get("Content-Encoding") != "" || r.body != page(version) {
			t.Fatalf("identity GET: %d %q Content-Encoding %q body %.40q; want %q", r.status, r.xcache(), r.header.Get("Content-Encoding"), r.body, want)
		}
	}
	gz(edgeMiss, "v1")
	if ae := o.lastRequest().Header.Values("Accept-Encoding"); len(ae) != 1 || ae[0] != "gzip" {
		t.Errorf("origin got Accept-Encoding %q for the gzip copy, want the normalized gzip", ae)
	}
	gz(edgeHit, "v1")
	plain(edgeMiss, "v1")
	if ae := o.lastRequest().Header.Values("Accept-Encoding"); ae != nil {
		t.Errorf("origin got Accept-Encoding %q for the identity copy, want none", ae)
	}
	plain(edgeHit, "v1")
	if n := o.hitsOf("/app.js"); n != 2 {
		t.Errorf("origin asked %d times, want 2 (one per copy)", n)
	}

	set("v2")
	gz(edgeHit, "v1")
	invalidateAndWait(t, c, d.id, "/app.js")
	gz(edgeMiss, "v2")
	plain(edgeMiss, "v2")

	// An origin that compresses itself when asked, and records the
	// Accept-Encoding it gets: the gzip copy is its own gzip, kept as it
	// is (not compressed twice, its ETag unchanged).
	o2 := newTestOrigin(t)
	var (
		mu   sync.Mutex
		seen []string
	)
	version := "z1"
	o2.setHandler(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, strings.Join(r.Header.Values("Accept-Encoding"), ","))
		ver := version
		mu.Unlock()
		w.Header().Set("Content-Type", "text/css")
		w.Header().Set("ETag", `"`+ver+`"`)
		w.Header().Set("Vary", "Accept-Encoding")
		if r.Header.Get("Accept-Encoding") == "gzip" {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			io.WriteString(zw, page(ver))
			zw.Close()
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Set("X-Origin-Gzip", "1")
			w.Write(buf.Bytes())
			return
		}
		io.WriteString(w, page(ver))
	})
	def2 := legacyBehavior("self", false)
	def2.Compress = aws.Bool(true)
	d2 := createEdgeDist(t, c, edgeConfig("compress-origin", def2, o2.origin("self")))
	selfGz := func(want, ver string) {
		t.Helper()
		r := v.get(d2.domain, "/site.css", "Accept-Encoding", "br, deflate, gzip")
		if r.status != 200 || r.xcache() != want || r.header.Get("Content-Encoding") != "gzip" || r.header.Get("X-Origin-Gzip") != "1" || r.header.Get("ETag") != `"`+ver+`"` {
			t.Fatalf("gzip GET: %d %q Content-Encoding %q X-Origin-Gzip %q ETag %q; want %q", r.status, r.xcache(), r.header.Get("Content-Encoding"), r.header.Get("X-Origin-Gzip"), r.header.Get("ETag"), want)
		}
		if body, err := gunzip(t, r.body); err != nil || body != page(ver) {
			t.Fatalf("gzip GET: body %.60q, %v (compressed twice?)", body, err)
		}
	}
	selfPlain := func(ae, want, ver string) {
		t.Helper()
		r := v.get(d2.domain, "/site.css", "Accept-Encoding", ae)
		if r.status != 200 || r.xcache() != want || r.header.Get("Content-Encoding") != "" || r.body != page(ver) {
			t.Fatalf("Accept-Encoding %q GET: %d %q Content-Encoding %q body %.40q; want %q", ae, r.status, r.xcache(), r.header.Get("Content-Encoding"), r.body, want)
		}
	}
	selfGz(edgeMiss, "z1")
	selfGz(edgeHit, "z1")
	selfPlain("identity", edgeMiss, "z1")
	selfPlain("deflate", edgeHit, "z1")
	selfPlain("*", edgeHit, "z1")
	mu.Lock()
	if !slices.Equal(seen, []string{"gzip", ""}) {
		t.Errorf("origin got Accept-Encoding %q, want [gzip, none]", seen)
	}
	version = "z2"
	mu.Unlock()
	invalidateAndWait(t, c, d2.id, "/site.css")
	selfPlain("identity", edgeMiss, "z2")
	selfGz(edgeMiss, "z2")
}

// gunzip returns the gzipped body s decompressed (failing t when s is not
// gzip), and the error of reading it.
func gunzip(t *testing.T, s string) (string, error) {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	return string(b), err
}
