package edge

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// The viewer listener.
//
// net/http's per-request cost (its conn and response structs, the header
// map, bufio, the background read) is most of what a cache hit costs: a
// do-nothing net/http handler answering a hit's bytes reaches only 0.6 of
// nginx's hits per second on this project's benchmark, where fasthttp
// answering the same bytes passes it (docs/benchmarks.md, issue 4). So the
// viewer listener is a github.com/valyala/fasthttp server:
//
//   - plain cache hits (a GET or HEAD of a cached, fresh 200 object without
//     Range or conditional headers, on a behavior whose key has no
//     forwarded headers or cookies, a path without percent-encoding) are
//     answered right from the fasthttp RequestCtx with the object's
//     prebuilt header set (hit.go), by serveFastHTTP;
//   - everything else goes through the one net/http code path, the Edge's
//     http.Handler (behind the fleet's Guard), by the bridge (bridge.go),
//     which makes the request and the ResponseWriter behave as net/http's
//     and streams large bodies.
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

	// ReadHeaderTimeout bounds reading a request's header (10s when 0);
	// IdleTimeout, the wait for the next request on a kept-alive
	// connection (2 minutes when 0); BodyTimeout, reading a request body
	// after its header (10 minutes when 0).
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	BodyTimeout       time.Duration
	// MaxRequestBodySize is the largest request body accepted (bodies are
	// read before the request is handled); 64 MiB when 0. A larger one is
	// answered 413.
	MaxRequestBodySize int
}

// Server is the viewer listener of an Edge. Build it with NewServer.
type Server struct {
	e       *Edge
	handler http.Handler
	fresh   func() bool
	log     *slog.Logger
	srv     *fasthttp.Server
	baseCtx context.Context // ends when Shutdown gives up waiting
	stop    context.CancelFunc

	// Answers written on hijacked connections (bridge.go), which
	// fasthttp no longer counts as in flight, and the hijack functions
	// set but not yet run, by connection.
	hijacks  sync.WaitGroup
	hijackMu sync.Mutex
	pending  map[net.Conn]func()
}

// Request header limits: CloudFront's are 8,192 bytes of URL and 20,480
// bytes of headers; the buffer holds the whole request head.
const viewerReadBuffer = 32 << 10

// NewServer returns the viewer listener of e. Serve it with Serve, stop it
// with Shutdown.
func (e *Edge) NewServer(c ServerConfig) *Server {
	if c.Handler == nil {
		c.Handler = e
	}
	if c.Logger == nil {
		c.Logger = e.log
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	if c.BodyTimeout <= 0 {
		c.BodyTimeout = 10 * time.Minute
	}
	if c.MaxRequestBodySize <= 0 {
		c.MaxRequestBodySize = 64 << 20
	}
	s := &Server{e: e, handler: c.Handler, fresh: c.Fresh, log: c.Logger, pending: make(map[net.Conn]func())}
	// As net/http's, the requests' context holds a server under
	// http.ServerContextKey: httputil.ReverseProxy (passthrough) then
	// panics with http.ErrAbortHandler when the origin's body ends early,
	// and the bridge cuts the answer short, instead of returning as if
	// the body were complete (a chunked answer would then end cleanly).
	base := context.WithValue(context.Background(), http.ServerContextKey, &http.Server{})
	s.baseCtx, s.stop = context.WithCancel(base)
	bodyTimeout := c.BodyTimeout
	s.srv = &fasthttp.Server{
		Handler: s.serve,
		// fasthttp's ReadTimeout covers the request head; HeaderReceived
		// gives a request with a body its own, longer, deadline.
		ReadTimeout: c.ReadHeaderTimeout,
		IdleTimeout: c.IdleTimeout,
		HeaderReceived: func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
			if h.ContentLength() != 0 {
				return fasthttp.RequestConfig{ReadTimeout: bodyTimeout}
			}
			return fasthttp.RequestConfig{}
		},
		MaxRequestBodySize:           c.MaxRequestBodySize,
		ReadBufferSize:               viewerReadBuffer,
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		NoDefaultDate:                true, // the answers set theirs, as net/http's
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
		SecureErrorLogMessage:        true, // a malformed request's bytes (cookies, Authorization) stay out of the log
		Logger:                       fastLogger{c.Logger},
		ErrorHandler:                 s.badRequest,
		ConnState:                    s.connState,
	}
	return s
}

// Serve accepts viewer connections on ln until Shutdown; it then returns
// nil.
func (s *Server) Serve(ln net.Listener) error {
	// The connections stay *net.TCPConn: fasthttp sends a large hit's
	// header and body in one writev only to those.
	return s.srv.Serve(ln)
}

// Shutdown stops accepting connections, closes idle ones and waits for the
// requests in flight to finish (their answers say Connection: close), and
// the answers written on hijacked connections (HTTP/1.0 of unknown length,
// whose body the close ends), or for ctx to end; the requests' contexts
// end then.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.ShutdownWithContext(ctx)
	if ctx.Err() == nil {
		// No request is in flight, so no hijack is added while we wait.
		done := make(chan struct{})
		go func() {
			s.hijacks.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	s.stop()
	return err
}

// fastLogger passes fasthttp's messages to slog.
type fastLogger struct{ log *slog.Logger }

func (l fastLogger) Printf(format string, args ...any) {
	l.log.Warn("viewer listener: " + fmt.Sprintf(format, args...))
}

// badRequest answers a request fasthttp could not read, as net/http
// answers one it cannot parse: a plain-text status line and close.
func (s *Server) badRequest(ctx *fasthttp.RequestCtx, err error) {
	status := fasthttp.StatusBadRequest
	msg := "400 Bad Request"
	switch e := err.(type) {
	case *fasthttp.ErrSmallBuffer:
		status, msg = fasthttp.StatusRequestHeaderFieldsTooLarge, "431 Request Header Fields Too Large"
	case interface{ Timeout() bool }:
		if e.Timeout() {
			status, msg = fasthttp.StatusRequestTimeout, "408 Request Timeout"
		}
	}
	if err == fasthttp.ErrBodyTooLarge {
		status, msg = fasthttp.StatusRequestEntityTooLarge, "413 Request Entity Too Large"
	}
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	if strings.Contains(err.Error(), "missing required host header") {
		// net/http's words, in its status line too.
		msg = "400 Bad Request: missing required Host header"
		ctx.Response.Header.SetStatusMessage([]byte("Bad Request: missing required Host header"))
	}
	ctx.Response.Header.Set("Content-Type", "text/plain; charset=utf-8")
	ctx.Response.Header.SetConnectionClose()
	ctx.SetBodyString(msg)
}

var http10 = []byte("HTTP/1.0")

// serve answers one viewer request: the fast path for a plain hit, else
// the bridge to the net/http handler.
func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	// fasthttp does not recover a handler's panic: the process would die.
	// As net/http: log it with its stack, answer nothing, close the
	// connection. (The handler's own panics are recovered in run.)
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("viewer listener: panic serving", "remote", ctx.RemoteAddr().String(), "panic", p, "stack", string(debug.Stack()))
			ctx.Response.Reset()
			ctx.HijackSetNoResponse(true)
			ctx.Hijack(func(c net.Conn) { _ = c.Close() })
		}
	}()
	ctx.Response.Header.DisableNormalizing() // header names as the handler wrote them, as net/http
	if !ctx.Request.Header.IsHTTP11() {
		ctx.Response.Header.SetProtocol(http10) // net/http answers HTTP/1.0 in kind
	}
	if s.serveFastHTTP(ctx) {
		return
	}
	s.bridge(ctx)
}

// serveFastHTTP answers ctx when it is a plain hit, and reports whether it
// did. It answers exactly what ServeHTTP's own fast path (serveFresh)
// would, and leaves everything else, whatever the reason, to the bridge.
func (s *Server) serveFastHTTP(ctx *fasthttp.RequestCtx) bool {
	rh := &ctx.Request.Header
	head := rh.IsHead()
	if !head && !rh.IsGet() {
		return false
	}
	var acceptEncoding []byte
	multiAE := false
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
		case "Transfer-Encoding", "Content-Length":
			return false // a body on a GET: let net/http's rules apply
		}
	}
	if multiAE {
		return false
	}
	if s.fresh != nil && !s.fresh() {
		return false
	}
	uri := rh.RequestURI()
	rawPath, rawQuery, ok := plainTarget(uri)
	if !ok {
		return false
	}
	d, ok := s.e.dists.ByHost(string(rh.Host()))
	if !ok || !d.Enabled {
		return false
	}
	site := s.e.site(d)
	b := site.match(rawPath)
	method := http.MethodGet
	if head {
		method = http.MethodHead
	}
	if b.origin == nil || !b.allows(method) || b.noCache || len(b.headers) > 0 || (b.cookies != "" && b.cookies != "none") {
		return false
	}
	// As wantsGzip for the GET key serveFresh looks up (HEAD too); never
	// over HTTP/1.0.
	gzip := b.compress && rh.IsHTTP11() && acceptsGzipValue(string(acceptEncoding))
	name := objectName(b, rawPath, rawQuery)
	key := site.d.ID + "\x00" + name
	if gzip {
		key += "\x00" + gzipVariant
	}
	ent := s.e.lookup(site.ds, key, name)
	if ent == nil || ent.hit == nil {
		return false
	}
	now := s.e.now()
	if !now.Before(ent.expires) {
		return false
	}
	s.e.writeFastHTTP(ctx, ent, now, head)
	return true
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
	if i < len(uri) {
		return string(uri[:i]), string(uri[i+1:]), true
	}
	return string(uri), "", true
}

// plainPathByte holds the bytes a path may have for net/url's EscapedPath
// to give it back unchanged (url.shouldEscape in encodePath mode is false
// for them), '%' aside.
var plainPathByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~!$&'()*+,;=:@/" {
		t[c] = true
	}
	return t
}()

// writeFastHTTP is writeFast (hit.go) on a fasthttp response: ent's full
// 200 answer as a cache hit.
func (e *Edge) writeFastHTTP(ctx *fasthttp.RequestCtx, ent *entry, now time.Time, head bool) {
	h := &ctx.Response.Header
	for _, f := range ent.hit.fields {
		for _, v := range f.vals {
			h.Add(f.key, v)
		}
	}
	h.Add("X-Cache", xHit)
	id := newRequestID()
	h.Add("X-Amz-Cf-Id", id.vals[0])
	age := ent.originAge + int64(now.Sub(ent.stored)/time.Second)
	h.Add("Age", ageValue(max(age, 0))[0])
	if !e.realClock {
		now = time.Now()
	}
	h.Add("Date", httpDate(now)[0])
	if head {
		ctx.Response.SkipBody = true // with the Content-Length of the fields
		return
	}
	ctx.Response.SetBodyRaw(ent.body)
}
