package edge

import (
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/openfront/openfront/internal/fastserve"
)

// The viewer listener.
//
// net/http's per-request cost (its conn and response structs, the header
// map, bufio, the background read) is most of what a cache hit costs: a
// do-nothing net/http handler answering a hit's bytes falls short of
// issue 4's target against nginx, where fasthttp answering the same bytes
// meets it (docs/benchmarks.md, "Edge cache hits"). So the
// viewer listener is a github.com/valyala/fasthttp server:
//
//   - plain cache hits (a GET or HEAD of a cached, fresh 200 object without
//     Range or conditional headers, on a behavior whose key has no
//     forwarded headers or cookies, a path without percent-encoding) are
//     answered right from the fasthttp RequestCtx with the object's
//     prebuilt header set (hit.go), by serveFastHTTP;
//   - everything else goes through the one net/http code path, the Edge's
//     http.Handler (behind the fleet's Guard), by internal/fastserve's
//     bridge, which makes the request and the ResponseWriter behave as
//     net/http's and streams large bodies.
//
// docs/architecture.md ("The viewer listener") lists what differs on the
// wire from a net/http server.

// ServerConfig is what NewServer builds a viewer listener from.
type ServerConfig struct {
	// Handler answers every request the fast path does not: the Edge
	// itself, or the Edge behind a guard (fleet.Follower.Guard). The Edge
	// when nil.
	Handler http.Handler
	// Fresh, when not nil, must report true for the fast path to answer a
	// hit; when it reports false the request goes to Handler, whose guard
	// then answers (fleet.Follower.Fresh with Guard).
	Fresh func() bool
	// Logger receives connection errors; the Edge's logger when nil.
	Logger *slog.Logger

	// The listener's timeouts and minimum request body rate, as
	// fastserve.Config's (its defaults when 0): ReadHeaderTimeout for a
	// request's header, IdleTimeout between requests, BodyTimeout for a
	// whole request body, WriteTimeout for each write of an answer,
	// MinBodyRate (bytes per second; none when negative) for a body on
	// average.
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	BodyTimeout       time.Duration
	WriteTimeout      time.Duration
	MinBodyRate       int
	// MaxRequestBodySize is the largest request body accepted; 64 MiB
	// when 0. Bodies stream to the origin as they come; a larger declared
	// one is answered 413 without being read.
	MaxRequestBodySize int

	// Observers are told of every viewer request once answered (an
	// Outcome built once per request, outcome.go): the access log
	// (AccessLog), metrics. None: no Outcome is built.
	Observers []Observer
}

// Server is the viewer listener of an Edge: a fastserve.Server whose fast
// path answers plain hits. Build it with NewServer.
type Server = fastserve.Server

// Request header limits: CloudFront's are 8,192 bytes of URL and 20,480
// bytes of headers; the buffer holds the whole request head.
const viewerReadBuffer = 32 << 10

// NewServer returns the viewer listener of e. Serve it with Serve, stop it
// with Shutdown.
func (e *Edge) NewServer(c ServerConfig) *Server {
	if c.Handler == nil {
		c.Handler = e
	}
	// Plain hits are counted by serveFastHTTP, the rest as they leave
	// the handler.
	c.Handler = e.counted(c.Handler)
	if c.Logger == nil {
		c.Logger = e.log
	}
	fresh := c.Fresh
	var finished func(*fastserve.Answer)
	if obs := c.Observers; len(obs) > 0 {
		finished = func(a *fastserve.Answer) { e.observe(obs, a) }
	}
	var s *fastserve.Server
	s = fastserve.New(fastserve.Config{
		Finished: finished,
		Handler:  c.Handler,
		Fast: func(ctx *fasthttp.RequestCtx) bool {
			if !e.serveFastHTTP(ctx, fresh) {
				return false
			}
			s.PaceBody(ctx) // a large hit goes in pieces, each under the write timeout
			return true
		},
		Name:               "viewer listener",
		Logger:             c.Logger,
		ReadHeaderTimeout:  c.ReadHeaderTimeout,
		IdleTimeout:        c.IdleTimeout,
		BodyTimeout:        c.BodyTimeout,
		WriteTimeout:       c.WriteTimeout,
		MinBodyRate:        c.MinBodyRate,
		MaxRequestBodySize: c.MaxRequestBodySize,
		ReadBufferSize:     viewerReadBuffer,
	})
	return s
}

// serveFastHTTP answers ctx when it is a plain hit, and reports whether it
// did. It answers exactly what ServeHTTP's own fast path (serveFresh)
// would, and leaves everything else, whatever the reason, to the bridge.
func (e *Edge) serveFastHTTP(ctx *fasthttp.RequestCtx, fresh func() bool) bool {
	rh := &ctx.Request.Header
	head := rh.IsHead()
	if !head && !rh.IsGet() {
		return false
	}
	var acceptEncoding []byte
	multiAE, origin := false, false
	for k, v := range rh.All() {
		// The server normalizes request header names (Range, If-Match...).
		switch string(k) {
		case "Range", "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since":
			if len(v) > 0 {
				return false
			}
		case "Accept-Encoding":
			if acceptEncoding != nil {
				multiAE = true
			}
			acceptEncoding = v
		case "Origin":
			origin = true
		case "Transfer-Encoding", "Content-Length":
			return false // a body on a GET: let net/http's rules apply
		}
	}
	if multiAE {
		return false
	}
	if fresh != nil && !fresh() {
		return false
	}
	uri := rh.RequestURI()
	rawPath, rawQuery, ok := plainTarget(uri)
	if !ok {
		return false
	}
	d, ok := e.dists.ByHost(string(rh.Host()))
	if !ok || !d.Enabled {
		return false
	}
	site := e.site(d)
	b := site.match(rawPath)
	method := http.MethodGet
	if head {
		method = http.MethodHead
	}
	if b.origin == nil || !b.allows(method) || b.noCache || b.fnResponse != nil {
		return false
	}
	if b.fnRequest != nil {
		if b.trust != nil {
			return false // signed URLs are checked before the function: the general path's
		}
		return e.serveFunctionFast(ctx, site, b, method, rawPath, rawQuery)
	}
	if b.keyVaries() {
		return false
	}
	if b.trust != nil {
		// A signed URL admitted goes on without its signing parameters;
		// anything else (cookies, a refusal) is the general path's.
		if rawQuery, ok = e.admitSignedFast(ctx, b, rawPath, rawQuery); !ok {
			return false
		}
	}
	if p := b.headersPolicy; p != nil && (p.timing > 0 || (p.cors != nil && origin)) {
		return false // per-request headers: the general path's
	}
	// The normalized Accept-Encoding of the GET key serveFresh looks up
	// (HEAD too); none over HTTP/1.0.
	var ae string
	switch {
	case !rh.IsHTTP11():
	case b.aePolicy:
		ae = b.normalizedAE(acceptedCodings(string(acceptEncoding)))
	case b.compress && acceptsGzipValue(string(acceptEncoding)):
		ae = aeGzipValue
	}
	var suffix string
	if ae != "" {
		suffix = "\x00" + aeVariant(ae) // a constant: no allocation
	}
	key, name := keyedName(site.d.ID, suffix, b, rawPath, rawQuery)
	ent := e.lookup(site.ds, key, name)
	if ent == nil || ent.hit == nil {
		return false
	}
	now := e.now()
	if !now.Before(ent.expires) {
		return false
	}
	e.writeFastHTTP(ctx, hitFields(ent, b), ent, now, head, newRequestID())
	site.ds.metrics.Request(ResultHit)
	return true
}

// serveFunctionFast is serveFastHTTP for a behavior with a viewer-request
// function and no viewer-response one. It runs the function on the
// request as ServeHTTP would see it, and answers a fresh hit for the
// request the function returns exactly as serveFresh would (the same
// checks and key, on the rewritten path, query string and headers).
// Anything else (a miss, a generated response, a failure) goes to the
// bridge with the run's outcome (fnCarry): the function runs once per
// request whichever path answers.
func (e *Edge) serveFunctionFast(ctx *fasthttp.RequestCtx, s *site, b *behavior, method, rawPath, rawQuery string) bool {
	path := normalizePath(rawPath)
	if climbsOut(path) {
		return false // ServeHTTP's 400, before the function
	}
	r := viewerRequest(ctx, method, rawPath, rawQuery)
	rid := newRequestID()
	out, err := e.callViewerRequest(ctx, r, s, b, path, rid.String())
	if err == nil && out.Request != nil {
		r2 := applyRequest(r, out.Request, queryOrder(rawQuery))
		if path2 := normalizePath(out.Request.URI); !climbsOut(path2) {
			if ent, now := e.freshEntry(r2, s, b, path2); ent != nil {
				e.writeFastHTTP(ctx, hitFields(ent, b), ent, now, method == http.MethodHead, rid)
				s.ds.metrics.Request(ResultHit)
				return true
			}
		}
	}
	fastserve.Carry(ctx, &fnCarry{f: b.fnRequest, rid: rid, out: out, err: err})
	return false
}

// viewerRequest is ctx's request as the bridge gives it to ServeHTTP, for
// what a viewer-request function and the cache read of it: method, plain
// target (plainTarget), Host, the other headers as sent (the server
// normalized their names), protocol version, the viewer's address.
func viewerRequest(ctx *fasthttp.RequestCtx, method, rawPath, rawQuery string) *http.Request {
	rh := &ctx.Request.Header
	h := make(http.Header, rh.Len())
	for k, v := range rh.All() {
		if string(k) == "Host" {
			continue
		}
		name := string(k)
		h[name] = append(h[name], string(v))
	}
	r := &http.Request{Method: method, URL: &url.URL{Path: rawPath, RawQuery: rawQuery},
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h, Host: string(rh.Host()),
		RemoteAddr: ctx.RemoteAddr().String(), RequestURI: string(rh.RequestURI())}
	if !rh.IsHTTP11() {
		r.Proto, r.ProtoMinor = "HTTP/1.0", 0
	}
	return r
}

// plainTarget splits a request target into its path and query when the
// path is one that net/url gives back unchanged by EscapedPath: origin
// form, no percent-encoding, only characters that need none. Anything else
// (percent-encoding, absolute form, control characters) is the bridge's.
func plainTarget(uri []byte) (rawPath, rawQuery string, ok bool) {
	if len(uri) == 0 || uri[0] != '/' {
		return "", "", false
	}
	i := 0
	for ; i < len(uri); i++ {
		c := uri[i]
		if c == '?' {
			break
		}
		if !plainPathByte[c] {
			return "", "", false
		}
	}
	for j := i + 1; j < len(uri); j++ {
		if c := uri[j]; c <= ' ' || c >= 0x7f || c == '#' {
			return "", "", false
		}
	}
	s := string(uri) // one allocation for both
	if i < len(s) {
		return s[:i], s[i+1:], true
	}
	return s, "", true
}

// plainPathByte holds the bytes a path may have for net/url's EscapedPath
// to give it back unchanged (url.shouldEscape in encodePath mode is false
// for them), '%' aside.
var plainPathByte = fastserve.AlnumAnd("-._~!$&'()*+,;=:@/")

// writeFastHTTP is writeFast (hit.go) on a fasthttp response: ent's full
// 200 answer as a cache hit.
func (e *Edge) writeFastHTTP(ctx *fasthttp.RequestCtx, hit *hitHeader, ent *entry, now time.Time, head bool, id *requestID) {
	h := &ctx.Response.Header
	// The names are canonical already (http.Header keys, and ours): as
	// fasthttp would normalize them, without the cost per header.
	h.DisableNormalizing()
	for _, f := range hit.fields {
		for _, v := range f.vals {
			h.Add(f.key, v)
		}
	}
	h.Add("X-Cache", xHit)
	h.Add("X-Amz-Cf-Id", id.vals[0])
	age := ent.originAge + int64(now.Sub(ent.stored)/time.Second)
	h.Add("Age", ageValue(max(age, 0))[0])
	// Date: fasthttp's (the server writes every answer's).
	if head {
		ctx.Response.SkipBody = true // with the Content-Length of the fields
		return
	}
	ctx.Response.SetBodyRaw(ent.body)
}
