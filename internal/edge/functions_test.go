package edge

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/function"
	"github.com/openfront/openfront/internal/policy"
	"github.com/openfront/openfront/internal/resource"
)

// fnRes is a function resource whose LIVE stage has code at version etag.
func fnRes(t testing.TB, name, etag, code string) resource.Resource {
	t.Helper()
	c := function.Code{Runtime: function.RuntimeJS2, Code: []byte(code), ETag: etag}
	f := function.Function{Name: name, Development: c, Live: &c}
	return resource.Resource{Kind: resource.Function, ID: name, Name: name, ETag: etag, Config: f.Encode()}
}

func withFunctions(d *distribution.Distribution, kv ...string) *distribution.Distribution {
	for i := 0; i+1 < len(kv); i += 2 {
		d.Config.DefaultBehavior.FunctionAssociations = append(d.Config.DefaultBehavior.FunctionAssociations,
			distribution.FunctionAssociation{EventType: kv[i], FunctionARN: function.ARN("123456789012", kv[i+1])})
	}
	return d
}

const spaRewrite = `function handler(event) {
  var r = event.request;
  if (r.uri.endsWith('/')) { r.uri += 'index.html'; }
  else if (!r.uri.includes('.')) { r.uri = '/index.html'; }
  r.headers['x-api-key'] = {value: 'from-fn'};
  return r;
}`

func TestViewerRequestRewritesBeforeTheCache(t *testing.T) {
	o := newOrigin(t)
	echo(o)
	h := newHarness(t, Config{}, withFunctions(dist("EFN1", o), function.ViewerRequest, "spa"))
	putRes(t, h.edge, fnRes(t, "spa", "E1", spaRewrite))
	host := "efn1.cloudfront.localhost"

	h.expect(host, "/app/", "/app/index.html", xMiss)
	// Another path rewritten to the same object is a hit: the key is the
	// rewritten request's.
	h.expect(host, "/app/index.html", "/app/index.html", xHit)
	h.expect(host, "/deep/link", "/index.html", xMiss)
	h.expect(host, "/other/link", "/index.html", xHit)
	if n := o.hitsOf("/index.html"); n != 1 {
		t.Errorf("origin asked %d times for /index.html", n)
	}
}

func TestViewerRequestGeneratedResponse(t *testing.T) {
	o := newOrigin(t)
	echo(o)
	h := newHarness(t, Config{}, withFunctions(dist("EFN2", o), function.ViewerRequest, "redir"))
	putRes(t, h.edge, fnRes(t, "redir", "E1", `function handler(event) {
  if (event.request.uri === '/old') {
    return {statusCode: 301, statusDescription: 'Moved Permanently', headers: {location: {value: 'https://example.com/new'}}, cookies: {a: {value: 'b', attributes: 'Path=/'}}};
  }
  return event.request;
}`))
	host := "efn2.cloudfront.localhost"
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/old", nil)
	req.Host = host
	c := *h.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "https://example.com/new" || resp.Header.Get("X-Cache") != xFunctionResponse || resp.Header.Get("Set-Cookie") != "a=b; Path=/" {
		t.Errorf("redirect: %d %v", resp.StatusCode, resp.Header)
	}
	if n := o.hitsOf("/old"); n != 0 {
		t.Errorf("origin asked %d times", n)
	}
	h.expect(host, "/x", "/x", xMiss)
}

func TestViewerResponseOnHitsAndMisses(t *testing.T) {
	o := newOrigin(t)
	echo(o)
	h := newHarness(t, Config{}, withFunctions(dist("EFN3", o), function.ViewerResponse, "hdr"))
	putRes(t, h.edge, fnRes(t, "hdr", "E1", `function handler(event) {
  var resp = event.response;
  resp.headers['x-fn'] = {value: 'seen ' + resp.statusCode + ' ' + event.request.uri};
  delete resp.headers['x-powered-by'];
  if (event.request.uri === '/teapot') { resp.statusCode = 418; resp.body = 'short and stout'; }
  return resp;
}`))
	host := "efn3.cloudfront.localhost"
	for _, want := range []string{xMiss, xHit} {
		r := h.expect(host, "/a", "/a", want)
		if r.header.Get("X-Fn") != "seen 200 /a" || r.header.Get("X-Powered-By") != "" {
			t.Errorf("%s: headers %v", want, r.header)
		}
	}
	r := h.get(host, "/teapot")
	if r.status != 418 || r.body != "short and stout" {
		t.Errorf("teapot: %d %q", r.status, r.body)
	}
}

func TestFunctionFailuresAnswer503(t *testing.T) {
	o := newOrigin(t)
	echo(o)
	h := newHarness(t, Config{FunctionBudget: 50 * time.Millisecond},
		withFunctions(dist("EFN4", o), function.ViewerRequest, "bad"),
		withFunctions(dist("EFN5", o), function.ViewerRequest, "missing"))
	putRes(t, h.edge, fnRes(t, "bad", "E1", `function handler(event) {
  if (event.request.uri === '/throw') throw new Error('boom');
  if (event.request.uri === '/loop') { while (true) {} }
  return event.request;
}`))
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			uri := []string{"/throw", "/loop", "/fine"}[i%3]
			r := h.get("efn4.cloudfront.localhost", uri)
			if uri == "/fine" {
				if r.status != 200 || r.body != "/fine" {
					t.Errorf("/fine beside failing runs: %d %q", r.status, r.body)
				}
				return
			}
			want := xFunctionError
			if uri == "/loop" {
				want = xFunctionThrottle
			}
			if r.status != 503 || r.xcache() != want || !strings.Contains(r.body, "The CloudFront function associated with the CloudFront distribution is invalid or could not run.") {
				t.Errorf("%s: %d %q %.300q", uri, r.status, r.xcache(), r.body)
			}
		}()
	}
	wg.Wait()
	if r := h.get("efn5.cloudfront.localhost", "/a"); r.status != 503 {
		t.Errorf("unknown function: %d", r.status)
	}
}

func TestFunctionRepublished(t *testing.T) {
	o := newOrigin(t)
	echo(o)
	h := newHarness(t, Config{}, withFunctions(dist("EFN6", o), function.ViewerResponse, "ver"))
	host := "efn6.cloudfront.localhost"
	code := func(v int) string {
		return fmt.Sprintf(`function handler(e) { e.response.headers['x-ver'] = {value: '%d'}; return e.response; }`, v)
	}
	putRes(t, h.edge, fnRes(t, "ver", "E1", code(1)))
	if r := h.get(host, "/a"); r.header.Get("X-Ver") != "1" {
		t.Fatalf("v1: %v", r.header)
	}
	first := h.edge.res.Load().fns["ver"]
	// The same LIVE version again (a DEVELOPMENT change) keeps the program.
	putRes(t, h.edge, fnRes(t, "ver", "E1", code(1)))
	if h.edge.res.Load().fns["ver"] != first {
		t.Error("the same version was compiled again")
	}
	putRes(t, h.edge, fnRes(t, "ver", "E2", code(2)))
	if r := h.get(host, "/a"); r.header.Get("X-Ver") != "2" || r.xcache() != xHit {
		t.Fatalf("v2: %v", r.header)
	}
	// A snapshot keeps compiled programs of unchanged versions.
	cur := h.edge.res.Load().fns["ver"]
	h.edge.ReplaceResources([]resource.Resource{fnRes(t, "ver", "E2", code(2))})
	if h.edge.res.Load().fns["ver"] != cur {
		t.Error("the snapshot compiled an unchanged version again")
	}
	h.edge.ForgetResource(resource.Function, "ver")
	if r := h.get(host, "/a"); r.status != 503 {
		t.Errorf("deleted function: %d", r.status)
	}
}

// countingKV answers every cf.kvs() get and counts them: a function that
// reads the store once per run tells how many times it ran.
type countingKV struct{ n atomic.Int64 }

func (c *countingKV) Get(context.Context, string, string) (string, bool, error) {
	c.n.Add(1)
	return "v", true, nil
}

// TestViewerRequestFastPath checks that the viewer listener's fast path
// answers a hit for the request a viewer-request function rewrote, that a
// miss and a generated response go on from the fast path's run, and that
// the function runs exactly once per request whichever path answers.
func TestViewerRequestFastPath(t *testing.T) {
	o := newOrigin(t)
	echo(o)
	kv := &countingKV{}
	d := withFunctions(dist("EFN9", o), function.ViewerRequest, "fast")
	d.Config.DefaultBehavior.CachePolicyID = "cp"
	d.Config.DefaultBehavior.OriginRequestPolicyID = "orp"
	h := newHarness(t, Config{KeyValues: kv}, d)
	putRes(t, h.edge, res(t, resource.CachePolicy, "cp", "E1", qsPolicy("v")))
	putRes(t, h.edge, res(t, resource.OriginRequestPolicy, "orp", "E1", policy.OriginRequestPolicy{Name: "orp",
		Headers:      policy.Selection{Behavior: policy.Whitelist, Names: []string{"x-api-key"}},
		Cookies:      policy.Selection{Behavior: policy.None},
		QueryStrings: policy.Selection{Behavior: policy.None}}))
	c := function.Code{Runtime: function.RuntimeJS2, ETag: "E1",
		KeyValueStoreARNs: []string{"arn:aws:cloudfront::123456789012:key-value-store/0123"},
		Code: []byte(`import cf from 'cloudfront';
async function handler(event) {
  var r = event.request;
  await cf.kvs().get('k');
  if (r.uri === '/old') {
    return {statusCode: 302, statusDescription: 'Found', headers: {location: {value: '/new'}}};
  }
  r.uri = '/index.html';
  r.headers['x-api-key'] = {value: event.context.requestId};
  return r;
}`)}
	f := function.Function{Name: "fast", Development: c, Live: &c}
	putRes(t, h.edge, resource.Resource{Kind: resource.Function, ID: "fast", Name: "fast", ETag: "E1", Config: f.Encode()})
	host := "efn9.cloudfront.localhost"
	runs := func(want int64) {
		t.Helper()
		if n := kv.n.Load(); n != want {
			t.Fatalf("the function ran %d times; want %d", n, want)
		}
	}

	// A miss: the bridge goes on from the fast path's run, under its id.
	miss := h.expect(host, "/a", "/index.html", xMiss)
	runs(1)
	if got := o.lastRequest().Header.Get("X-Api-Key"); got == "" || got != miss.header.Get("X-Amz-Cf-Id") {
		t.Errorf("origin got x-api-key %q; the answer's X-Amz-Cf-Id is %q", got, miss.header.Get("X-Amz-Cf-Id"))
	}
	h.expect(host, "/b", "/index.html", xHit)
	runs(2)

	// The fast path itself answers the rewritten hit.
	var ctx fasthttp.RequestCtx
	raw := "GET /c?x=1 HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
	if err := ctx.Request.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatal(err)
	}
	if !h.edge.serveFastHTTP(&ctx, nil) {
		t.Fatal("a hit for a rewritten request was not answered by the fast path")
	}
	runs(3)
	if got := string(ctx.Response.Header.Peek("X-Cache")); got != xHit || string(ctx.Response.Body()) != "/index.html" {
		t.Errorf("fast path answered %q %q", got, ctx.Response.Body())
	}

	// A generated response: written once, by the bridge.
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/old", nil)
	req.Host = host
	cl := *h.srv.Client()
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/new" || resp.Header.Get("X-Cache") != xFunctionResponse {
		t.Errorf("generated response: %d %v", resp.StatusCode, resp.Header)
	}
	runs(4)
	if n := o.hitsOf("/index.html"); n != 1 {
		t.Errorf("origin asked %d times for /index.html", n)
	}
}

// BenchmarkViewerListenerFunctionHit measures a 1 KiB hit through a
// viewer-request function that rewrites the URI and adds a header (as
// bench/edge's edge-function), answered by the viewer listener's fast
// path on a fasthttp RequestCtx (no network):
//
//	go test -run '^$' -bench ViewerListenerFunctionHit -benchmem ./internal/edge
func BenchmarkViewerListenerFunctionHit(b *testing.B) {
	o := newOrigin(b)
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Cache-Control", "max-age=3600")
		http.ServeContent(w, r, "", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), strings.NewReader(strings.Repeat("x", 1024)))
	})
	h := newHarness(b, Config{}, withFunctions(dist("E1", o, "bench.test"), function.ViewerRequest, "bench"))
	putRes(b, h.edge, fnRes(b, "bench", "E1", `function handler(event) {
  var request = event.request;
  request.uri = '/rewritten' + request.uri;
  request.headers['x-bench-fn'] = {value: 'on'};
  return request;
}`))
	h.edge.realClock, h.edge.now = true, time.Now
	h.get("bench.test", "/1k")
	var ctx fasthttp.RequestCtx
	raw := "GET /1k HTTP/1.1\r\nHost: bench.test\r\nUser-Agent: wrk\r\n\r\n"
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
}
