// Command harness serves the objects of the edge-cache benchmark from an
// in-process openfront edge (internal/edge, on its fasthttp viewer listener
// as `openfront serve` builds it) or from a plain net/http handler that
// writes the cached bytes, with
// net/http/pprof on a side port, to profile cache hits under wrk:
//
//	go run ./bench/edge/harness -mode edge -addr 127.0.0.1:8080 -pprof 127.0.0.1:6060 &
//	wrk -t2 -c32 -d20s -H 'Host: bench.test' http://127.0.0.1:8080/1k &
//	go tool pprof -top 'http://127.0.0.1:6060/debug/pprof/profile?seconds=10'
//
// -mode edge-nordfrom is the edge's net/http handler on a net/http server,
// behind a ResponseWriter wrapper that
// hides http.ResponseWriter's io.ReaderFrom (what http.ServeContent copies
// the body into), to measure what the extra write system calls of that
// path cost.
//
// -mode edge-policies is -mode edge with the distribution's default
// behavior under a cache policy whose key has one query string parameter
// (v) and a response headers policy adding five headers (three security
// headers, two custom ones), given to the edge as the fleet gives them:
// request /1k?v=1&utm=bench to measure a hit under policies.
//
// -mode edge-signed is -mode edge with the distribution's default behavior
// trusting a key group of one RSA 2048 key (generated at start): it prints
// "signed query: ?Policy=...&Signature=...&Key-Pair-Id=..." (a custom
// policy for http://bench.test/*, valid a day), to request /1k with it to
// measure a hit on a signed URL.
// -mode edge-function is -mode edge with a CloudFront Function on the
// default behavior's viewer requests that rewrites the URI (/1k to
// /rewritten/1k, which the origin serves as /1k) and adds a request
// header, given to the edge as the fleet gives it: every hit runs it.
//
// -mode plain is the ceiling of a Go net/http server on the machine: the
// same bodies and the same response headers as an openfront hit (values
// of the same lengths), written with one w.Write and no cache logic.
//
// -mode fasthttp-plain is the same answer from a github.com/valyala/fasthttp
// server (the same timeouts; no Server header, no default Content-Type,
// header names as given): the ceiling of fasthttp on the machine.
package main

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	_ "net/http/pprof"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/edge"
	"github.com/openfront/openfront/internal/function"
	"github.com/openfront/openfront/internal/policy"
	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/signing"
	"github.com/valyala/fasthttp"
)

func main() {
	mode := flag.String("mode", "edge", "edge: openfront's edge; plain: a net/http handler writing the bytes")
	addr := flag.String("addr", "127.0.0.1:0", "viewer listener")
	pprofAddr := flag.String("pprof", "127.0.0.1:0", "net/http/pprof listener; empty: none")
	flag.Parse()

	objects := map[string][]byte{"/1k": body(1 << 10), "/100k": body(100 << 10)}
	modTime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := objects[strings.TrimPrefix(r.URL.Path, "/rewritten")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Cache-Control", "max-age=3600")
		http.ServeContent(w, r, "", modTime, bytes.NewReader(b))
	}))
	defer origin.Close()

	if *mode == "fasthttp-plain" {
		listenAndServe(*mode, *addr, *pprofAddr, fastPlainServer(objects, modTime).Serve)
		return
	}

	if *mode == "edge" || *mode == "edge-policies" || *mode == "edge-signed" || *mode == "edge-function" {
		// As `openfront serve` serves it: the fasthttp viewer listener.
		e := newEdge(origin.URL)
		switch *mode {
		case "edge-policies":
			e = newPolicyEdge(origin.URL)
		case "edge-signed":
			e = newSignedEdge(origin.URL)
		case "edge-function":
			e = newFunctionEdge(origin.URL)
		}
		defer e.Close()
		listenAndServe(*mode, *addr, *pprofAddr, e.NewServer(edge.ServerConfig{}).Serve)
		return
	}

	h, closeFn := handler(*mode, origin.URL, objects, modTime)
	if h == nil {
		fmt.Fprintln(os.Stderr, "harness: -mode edge, edge-policies, edge-signed, edge-function, edge-nordfrom, plain or fasthttp-plain")
		os.Exit(2)
	}
	defer closeFn()

	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	listenAndServe(*mode, *addr, *pprofAddr, srv.Serve)
}

// listenAndServe starts pprof on pprofAddr (unless empty), listens on addr,
// says so, and serves with serve; it exits the process if either fails.
func listenAndServe(mode, addr, pprofAddr string, serve func(net.Listener) error) {
	servePprof(pprofAddr)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
	fmt.Printf("harness (%s) listening on http://%s\n", mode, ln.Addr())
	if err := serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
}

// servePprof serves net/http/pprof on addr, unless it is empty.
func servePprof(addr string) {
	if addr == "" {
		return
	}
	pl, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
	fmt.Printf("pprof on http://%s/debug/pprof/\n", pl.Addr())
	go http.Serve(pl, http.DefaultServeMux)
}

// plainHeader is the header set of an openfront hit on the benchmark's
// origin, with values of the same lengths, but for ETag and
// Content-Length (per object) and Date (the server's).
func plainHeader(modTime time.Time) map[string][]string {
	return map[string][]string{
		"Accept-Ranges": {"bytes"},
		"Age":           {"1"},
		"Cache-Control": {"max-age=3600"},
		"Content-Type":  {"application/octet-stream"},
		"Last-Modified": {modTime.Format(http.TimeFormat)},
		"Via":           {"1.1 0123456789abcdef0123456789abcdef.cloudfront.net (CloudFront)"},
		"X-Amz-Cf-Id":   {"bWFkZS11cC1yZXF1ZXN0LWlkLW9mLTQwLWJ5dGVzLWxvbmctLi4uLi4u"},
		"X-Amz-Cf-Pop":  {"LOCAL1-C1"},
		"X-Cache":       {"Hit from cloudfront"},
	}
}

// fastPlainServer is -mode fasthttp-plain: plain's answer from a fasthttp
// server with the timeouts of openfront's edge server.
func fastPlainServer(objects map[string][]byte, modTime time.Time) *fasthttp.Server {
	type object struct {
		body         []byte
		etag, length []byte
	}
	objs := map[string]object{}
	for p, b := range objects {
		objs[p] = object{b, []byte(`"` + strconv.Itoa(len(b)) + `"`), []byte(strconv.Itoa(len(b)))}
	}
	type kv struct{ k, v []byte }
	var static []kv
	for k, vs := range plainHeader(modTime) {
		for _, v := range vs {
			static = append(static, kv{[]byte(k), []byte(v)})
		}
	}
	return &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			o, ok := objs[string(ctx.Path())]
			if !ok {
				ctx.Error("404 page not found", fasthttp.StatusNotFound)
				return
			}
			h := &ctx.Response.Header
			for _, f := range static {
				h.AddBytesKV(f.k, f.v)
			}
			h.AddBytesKV([]byte("Etag"), o.etag)
			ctx.Response.SetBodyRaw(o.body)
		},
		ReadTimeout:                   10 * time.Second,
		IdleTimeout:                   2 * time.Minute,
		NoDefaultServerHeader:         true,
		NoDefaultContentType:          true,
		DisableHeaderNamesNormalizing: true,
	}
}

// newEdge returns the benchmark's edge in front of the origin at originURL.
func newEdge(originURL string) *edge.Edge {
	u, _ := url.Parse(originURL)
	reg := distribution.NewRegistry(distribution.FromFile("EBENCH", u, []string{"bench.test"}, "cloudfront.localhost", time.Now()))
	return edge.New(edge.Config{Distributions: reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// newPolicyEdge is newEdge whose default behavior names a cache policy
// keyed on the query string parameter v and a response headers policy
// adding five headers, both given to the edge as resources.
func newPolicyEdge(originURL string) *edge.Edge {
	u, _ := url.Parse(originURL)
	d := distribution.FromFile("EBENCH", u, []string{"bench.test"}, "cloudfront.localhost", time.Now())
	d.Config.DefaultBehavior.CachePolicyID = "bench-cache-policy"
	d.Config.DefaultBehavior.ResponseHeadersPolicyID = "bench-headers-policy"
	e := edge.New(edge.Config{Distributions: distribution.NewRegistry(d), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	cp, _ := json.Marshal(policy.CachePolicy{Name: "bench", MinTTL: 1, DefaultTTL: 86400, MaxTTL: 31536000,
		Headers: policy.Selection{Behavior: policy.None}, Cookies: policy.Selection{Behavior: policy.None},
		QueryStrings: policy.Selection{Behavior: policy.Whitelist, Names: []string{"v"}}})
	rhp, _ := json.Marshal(policy.ResponseHeadersPolicy{Name: "bench",
		Security: &policy.SecurityHeaders{
			FrameOptions:            &policy.FrameOptions{Override: true, FrameOption: "DENY"},
			ContentTypeOptions:      &policy.ContentTypeOptions{Override: true},
			StrictTransportSecurity: &policy.StrictTransportSecurity{Override: true, MaxAgeSec: 63072000, IncludeSubdomains: true},
		},
		CustomHeaders: []policy.CustomHeader{{Header: "X-Bench-A", Value: "a", Override: true}, {Header: "X-Bench-B", Value: "b", Override: false}},
	})
	for _, r := range []resource.Resource{
		{Kind: resource.CachePolicy, ID: "bench-cache-policy", ETag: "E1", Config: cp},
		{Kind: resource.ResponseHeadersPolicy, ID: "bench-headers-policy", ETag: "E1", Config: rhp},
	} {
		if err := e.PutResource(r); err != nil {
			fmt.Fprintln(os.Stderr, "harness:", err)
			os.Exit(1)
		}
	}
	return e
}

// newSignedEdge is newEdge whose default behavior trusts a key group of a
// fresh RSA 2048 key, given to the edge as resources; it prints the query
// string of a URL signed for every object (a custom policy).
func newSignedEdge(originURL string) *edge.Edge {
	u, _ := url.Parse(originURL)
	d := distribution.FromFile("EBENCH", u, []string{"bench.test"}, "cloudfront.localhost", time.Now())
	d.Config.DefaultBehavior.TrustedKeyGroups = []string{"bench-key-group"}
	e := edge.New(edge.Config{Distributions: distribution.NewRegistry(d), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pk, _ := json.Marshal(signing.PublicKey{Name: "bench", CallerReference: "bench",
		EncodedKey: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))})
	kg, _ := json.Marshal(signing.KeyGroup{Name: "bench", Keys: []string{"KBENCHKEY00001"}})
	for _, r := range []resource.Resource{
		{Kind: resource.PublicKey, ID: "KBENCHKEY00001", ETag: "E1", Config: pk},
		{Kind: resource.KeyGroup, ID: "bench-key-group", ETag: "E1", Config: kg},
	} {
		if err := e.PutResource(r); err != nil {
			fmt.Fprintln(os.Stderr, "harness:", err)
			os.Exit(1)
		}
	}
	pol := fmt.Sprintf(`{"Statement":[{"Resource":"http://bench.test/*","Condition":{"DateLessThan":{"AWS:EpochTime":%d}}}]}`,
		time.Now().Add(24*time.Hour).Unix())
	digest := sha1.Sum([]byte(pol))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA1, digest[:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
	b64 := func(b []byte) string {
		return strings.NewReplacer("+", "-", "=", "_", "/", "~").Replace(base64.StdEncoding.EncodeToString(b))
	}
	fmt.Printf("signed query: ?Policy=%s&Signature=%s&Key-Pair-Id=KBENCHKEY00001\n", b64([]byte(pol)), b64(sig))
	return e
}

// benchFunction is -mode edge-function's viewer-request function.
const benchFunction = `function handler(event) {
  var request = event.request;
  request.uri = '/rewritten' + request.uri;
  request.headers['x-bench-fn'] = {value: 'on'};
  return request;
}`

// newFunctionEdge is newEdge whose default behavior runs benchFunction on
// viewer requests, given to the edge as a resource.
func newFunctionEdge(originURL string) *edge.Edge {
	u, _ := url.Parse(originURL)
	d := distribution.FromFile("EBENCH", u, []string{"bench.test"}, "cloudfront.localhost", time.Now())
	d.Config.DefaultBehavior.FunctionAssociations = []distribution.FunctionAssociation{
		{EventType: function.ViewerRequest, FunctionARN: function.ARN("123456789012", "bench")}}
	// Function failures are logged (to the harness's log): a benchmark run
	// should have none.
	e := edge.New(edge.Config{Distributions: distribution.NewRegistry(d), Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	code := function.Code{Runtime: function.RuntimeJS2, Code: []byte(benchFunction), ETag: "E1"}
	f := function.Function{Name: "bench", Development: code, Live: &code}
	if err := e.PutResource(resource.Resource{Kind: resource.Function, ID: "bench", Name: "bench", ETag: "E1", Config: f.Encode()}); err != nil {
		fmt.Fprintln(os.Stderr, "harness:", err)
		os.Exit(1)
	}
	return e
}

// handler returns the handler of mode in front of the origin at originURL,
// and what stops it; nil for an unknown mode.
func handler(mode, originURL string, objects map[string][]byte, modTime time.Time) (http.Handler, func()) {
	switch mode {
	case "edge-function":
		e := newFunctionEdge(originURL)
		return e, e.Close
	case "edge", "edge-nordfrom":
		e := newEdge(originURL)
		if mode == "edge" {
			return e, e.Close
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e.ServeHTTP(writerOnly{w}, r)
		}), e.Close
	case "plain":
		// The header set of an openfront hit on the benchmark's origin,
		// with values of the same lengths (net/http adds Date), so that
		// plain answers the same bytes as openfront and differs only in
		// doing nothing per request: no cache lookup, no request id.
		static := plainHeader(modTime)
		type object struct {
			body         []byte
			etag, length []string
		}
		objs := map[string]object{}
		for p, b := range objects {
			objs[p] = object{b, []string{`"` + strconv.Itoa(len(b)) + `"`}, []string{strconv.Itoa(len(b))}}
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			o, ok := objs[r.URL.Path]
			if !ok {
				http.NotFound(w, r)
				return
			}
			hd := w.Header()
			for k, v := range static {
				hd[k] = v
			}
			hd["Etag"] = o.etag // as the origin sends it (Header.Set canonicalizes ETag)
			hd["Content-Length"] = o.length
			_, _ = w.Write(o.body)
		}), func() {}
	}
	return nil, nil
}

// writerOnly hides every method of a ResponseWriter but its own three.
type writerOnly struct{ w http.ResponseWriter }

func (w writerOnly) Header() http.Header         { return w.w.Header() }
func (w writerOnly) Write(b []byte) (int, error) { return w.w.Write(b) }
func (w writerOnly) WriteHeader(code int)        { w.w.WriteHeader(code) }

func body(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[(i*7+i/36)%36]
	}
	return b
}
