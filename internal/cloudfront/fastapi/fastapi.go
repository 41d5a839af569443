// Package fastapi is the CloudFront API's listener: the API's
// cloudfront.Handler served by internal/fastserve (fasthttp), with
// CreateInvalidation, the operation issue 2's throughput target is about,
// answered right from the fasthttp request through
// cloudfront.Handler.ServeCreateInvalidation, and everything else through
// the bridge to the net/http Handler.
package fastapi

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/valyala/fasthttp"

	"github.com/openfront/openfront/internal/cloudfront"
	"github.com/openfront/openfront/internal/fastserve"
)

// Config is what New builds the API listener from.
type Config struct {
	// API is the API; Handler, when not nil, what serves the requests
	// the fast path does not (API when nil).
	API     *cloudfront.Handler
	Handler http.Handler
	Logger  *slog.Logger
	// NoFastPath sends every request through the bridge.
	NoFastPath bool
	// The listener's timeouts, minimum body rate and budget of buffered
	// request bodies, as fastserve.Config's (its defaults when 0).
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	BodyTimeout       time.Duration
	WriteTimeout      time.Duration
	MinBodyRate       int
	BodyBudget        int64
}

// New returns the API listener: request bodies up to
// cloudfront.MaxBodyBytes (a larger one is answered by the API's own 413
// BatchTooLarge, and the connection closed), read whole (the signature
// covers their hash) within a budget shared by all connections (past it,
// 503 ServiceUnavailable), after the request's header has been
// authenticated as far as it can be without the body
// (cloudfront.Handler.Admit); the timeouts and the minimum body rate of
// fastserve.
func New(c Config) *fastserve.Server {
	if c.Handler == nil {
		c.Handler = c.API
	}
	var s *fastserve.Server
	var fast func(*fasthttp.RequestCtx) bool
	if !c.NoFastPath {
		fast = func(ctx *fasthttp.RequestCtx) bool { return serveFast(s.Context(), c.API, ctx) }
	}
	var finished func(*fastserve.Answer)
	if c.Logger != nil && c.Logger.Enabled(context.Background(), slog.LevelDebug) {
		finished = func(a *fastserve.Answer) { logRequest(c.Logger, a) }
	}
	s = fastserve.New(fastserve.Config{
		Finished:           finished,
		Handler:            c.Handler,
		Fast:               fast,
		Name:               "API listener",
		Logger:             c.Logger,
		ReadHeaderTimeout:  c.ReadHeaderTimeout,
		IdleTimeout:        c.IdleTimeout,
		BodyTimeout:        c.BodyTimeout,
		WriteTimeout:       c.WriteTimeout,
		MinBodyRate:        c.MinBodyRate,
		MaxRequestBodySize: cloudfront.MaxBodyBytes,
		BodyTooLarge: func(ctx *fasthttp.RequestCtx) {
			rh := &ctx.Request.Header
			a := c.API.BodyTooLarge(string(rh.Method()), string(rh.RequestURI()))
			write(ctx, &a)
		},
		BufferBodies: true,
		BufferBudget: c.BodyBudget,
		Busy: func(ctx *fasthttp.RequestCtx) {
			rh := &ctx.Request.Header
			a := c.API.Busy(string(rh.Method()), string(rh.RequestURI()))
			write(ctx, &a)
		},
		Admit: func(ctx *fasthttp.RequestCtx) bool { return admit(c.API, ctx) },
	})
	return s
}

// logRequest writes the debug line of an API request: operation, status,
// error code, duration and request id.
func logRequest(log *slog.Logger, a *fastserve.Answer) {
	uri := string(a.Request.RequestURI())
	if rest, ok := strings.CutPrefix(uri, "http://"); ok {
		// An absolute-form target (a client using openfront as its HTTP
		// proxy, as the KeyValueStore SDKs' account-prefixed hosts need).
		_, path, _ := strings.Cut(rest, "/")
		uri = "/" + path
	}
	path, query, _ := strings.Cut(uri, "?")
	args := []any{
		"operation", cloudfront.OperationOf(string(a.Request.Method()), path, query).String(),
		"status", a.Status,
	}
	if a.Status >= 400 {
		code := "-"
		if _, rest, ok := bytes.Cut(a.Body, []byte("<Code>")); ok {
			if c, _, ok := bytes.Cut(rest, []byte("</Code>")); ok {
				code = string(c)
			}
		}
		args = append(args, "error_code", code)
	}
	args = append(args, "duration", a.End.Sub(a.Start), "request_id", string(a.Response.PeekBytes(headerRequestID)),
		"method", string(a.Request.Method()), "path", path, "remote", a.Remote.String())
	log.Debug("api request", args...)
}

// admit asks the API whether the request in ctx may go on before its
// body is read, and answers ctx when not.
func admit(api *cloudfront.Handler, ctx *fasthttp.RequestCtx) bool {
	if api.OpenMode() {
		return true
	}
	r, ok := newHeaderRequest(&ctx.Request.Header)
	if !ok {
		return true // a target net/http refuses: the bridge answers 400
	}
	a, ok := api.Admit(r, r.Method(), r.u.Path)
	if !ok {
		write(ctx, &a)
	}
	return ok
}

// headerRequest is any request's header as sigv4 reads it, the path and
// query as net/http's URL gives them: for a request that is not the fast
// path's (which reads its own, cheaper, request).
type headerRequest struct {
	h *fasthttp.RequestHeader
	u *url.URL
}

func newHeaderRequest(h *fasthttp.RequestHeader) (headerRequest, bool) {
	u, err := url.ParseRequestURI(string(h.RequestURI()))
	if err != nil {
		return headerRequest{}, false
	}
	return headerRequest{h, u}, true
}

func (r headerRequest) Method() string      { return string(r.h.Method()) }
func (r headerRequest) EscapedPath() string { return r.u.EscapedPath() }
func (r headerRequest) RawQuery() string    { return r.u.RawQuery }
func (r headerRequest) Host() string {
	if r.u.IsAbs() && r.u.Host != "" {
		return r.u.Host
	}
	return string(r.h.Host())
}
func (r headerRequest) ContentLength() int64 {
	if cl := r.h.ContentLength(); cl >= 0 {
		return int64(cl)
	}
	return -1
}
func (r headerRequest) AppendHeader(dst []string, name string) []string {
	for raw := r.h.RawHeaders(); len(raw) > 0; {
		var line []byte
		line, raw, _ = bytes.Cut(raw, newline)
		k, v, ok := bytes.Cut(bytes.TrimSuffix(line, cr), colon)
		if ok && bytes.EqualFold(k, s2b(name)) {
			dst = append(dst, string(bytes.Trim(v, " \t")))
		}
	}
	return dst
}

var (
	headerRequestID = []byte("X-Amz-Request-Id")
	headerLocation  = []byte("Location")
	createPrefix    = []byte("/2020-05-31/distribution/")
	createSuffix    = []byte("/invalidation")
)

// serveFast answers ctx when it is a CreateInvalidation the fast path
// takes, and reports whether it did: a POST over HTTP/1.1 of
// /2020-05-31/distribution/{Id}/invalidation, a plain target (no
// percent-encoding, query or fragment; a clean path), a body of a
// Content-Length, no Expect. Anything else goes to the bridge.
func serveFast(base context.Context, api *cloudfront.Handler, ctx *fasthttp.RequestCtx) bool {
	rh := &ctx.Request.Header
	if !rh.IsPost() || !rh.IsHTTP11() {
		return false
	}
	distID, ok := createTarget(rh.RequestURI())
	if !ok {
		return false
	}
	if rh.ContentLength() < 0 || !plainHost(rh.Host()) {
		return false
	}
	req := requestPool.Get().(*request)
	defer req.release()
	if !req.read(rh) {
		return false
	}
	// A success's body goes right into the response's own (pooled)
	// buffer: no string of it, no copy.
	a, b := api.ServeCreateInvalidation(base, req, distID, string(rh.Host()), ctx.PostBody(), ctx.Response.SwapBody(nil)[:0])
	ctx.Response.SwapBody(b)
	write(ctx, &a)
	return true
}

// write writes a as net/http writes it (header order aside); an empty
// a.Body leaves the response's body as it is.
func write(ctx *fasthttp.RequestCtx, a *cloudfront.Answer) {
	ctx.SetStatusCode(a.Status)
	h := &ctx.Response.Header
	// The names are canonical already: SetCanonical spares Set's copy and
	// normalization of each.
	h.SetCanonical(headerRequestID, s2b(a.RequestID))
	if a.Location != "" {
		h.SetCanonical(headerLocation, s2b(a.Location))
	}
	h.SetContentType("text/xml") // Date: fasthttp's
	if a.Body != "" {
		ctx.SetBodyString(a.Body)
	}
}

// createTarget returns the distribution id of a CreateInvalidation target
// that the API's ServeMux would route as it is: the id a non-empty
// segment of plain characters, not "." or "..".
func createTarget(uri []byte) (string, bool) {
	rest, ok := bytes.CutPrefix(uri, createPrefix)
	if !ok {
		return "", false
	}
	id, ok := bytes.CutSuffix(rest, createSuffix)
	if !ok || len(id) == 0 || string(id) == "." || string(id) == ".." {
		return "", false
	}
	for _, c := range id {
		if !plainIDByte[c] {
			return "", false
		}
	}
	return string(id), true
}

// plainIDByte holds the bytes a path segment may have for net/url to give
// it back unchanged, '%' and '/' aside.
var plainIDByte = fastserve.AlnumAnd("-._~!$&'()*+,;=:@")

// plainHost reports whether a Host header is one net/http accepts and
// hands on unchanged: non-empty, of host and port characters only.
func plainHost(h []byte) bool {
	if len(h) == 0 {
		return false
	}
	for _, c := range h {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == ':' || c == '[' || c == ']' || c == '_') {
			return false
		}
	}
	return true
}

// read takes in a request's header lines (as received) and reports
// whether they are ones net/http reads the same way and the fast path
// takes: each a token name, a colon and a value without control
// characters but tab, none continued on the next line; one
// Content-Length, no Transfer-Encoding, no Expect. The lines are kept
// (name, value trimmed) for AppendHeader: one pass over the header.
func (r *request) read(rh *fasthttp.RequestHeader) bool {
	r.h = rh
	contentLengths := 0
	raw := rh.RawHeaders()
	if n := bytes.Count(raw, newline); n > cap(r.lines) {
		r.lines = make([]headerLine, 0, n) // one allocation, not one per doubling
	}
	for len(raw) > 0 {
		var line []byte
		line, raw, _ = bytes.Cut(raw, newline)
		line = bytes.TrimSuffix(line, cr)
		if len(line) == 0 {
			continue
		}
		name, value, ok := bytes.Cut(line, colon)
		if !ok || len(name) == 0 {
			return false
		}
		for _, c := range name {
			if !tokenByte[c] {
				return false
			}
		}
		for _, c := range value {
			if c < ' ' && c != '\t' || c == 0x7f {
				return false
			}
		}
		switch {
		case bytes.EqualFold(name, contentLength):
			contentLengths++
		case bytes.EqualFold(name, transferEncoding), bytes.EqualFold(name, expect):
			return false
		}
		r.lines = append(r.lines, headerLine{name, bytes.Trim(value, " \t")})
	}
	return contentLengths == 1
}

var (
	newline          = []byte("\n")
	cr               = []byte("\r")
	colon            = []byte(":")
	contentLength    = []byte("Content-Length")
	transferEncoding = []byte("Transfer-Encoding")
	expect           = []byte("Expect")
)

// tokenByte holds the bytes of an HTTP token (RFC 9110 tchar).
var tokenByte = fastserve.AlnumAnd("!#$%&'*+-.^_`|~")

// request is a fasthttp request as sigv4 reads a request: header values
// come from the header lines as received, which keep every value of a
// repeated header in order, as net/http's header map does. Its strings
// are the request's bytes, valid while the request is served; it is
// pooled (released when the request is answered).
type request struct {
	h     *fasthttp.RequestHeader
	lines []headerLine
	// order indexes lines sorted by name (ASCII case folded), each name's
	// lines in the order received, when sorted: the lines of a request of
	// more than scanLines lines are sorted at its first lookup, so that a
	// verification costs O(log n) per header name, not O(n). (Indexes,
	// not the lines: sorting them moves no pointers.)
	order  []int32
	sorted bool
}

type headerLine struct{ name, value []byte }

// scanLines is how many header lines are looked up by scanning them;
// more are sorted first. Clients send about ten.
const scanLines = 16

// maxPooledLines: a request whose line slice grew past this is not
// pooled (one hostile request must not pin its memory).
const maxPooledLines = 64

var requestPool = sync.Pool{New: func() any { return &request{lines: make([]headerLine, 0, scanLines)} }}

// release returns r to the pool, keeping no reference to the request.
func (r *request) release() {
	clear(r.lines)
	r.h, r.lines, r.order, r.sorted = nil, r.lines[:0], r.order[:0], false
	if cap(r.lines) > maxPooledLines || cap(r.order) > maxPooledLines {
		return
	}
	requestPool.Put(r)
}

func (r *request) Method() string       { return b2s(r.h.Method()) }
func (r *request) EscapedPath() string  { return b2s(r.h.RequestURI()) } // a plain target: path only
func (r *request) RawQuery() string     { return "" }
func (r *request) Host() string         { return b2s(r.h.Host()) }
func (r *request) ContentLength() int64 { return int64(r.h.ContentLength()) }
func (r *request) AppendHeader(dst []string, name string) []string {
	if len(r.lines) <= scanLines {
		for _, l := range r.lines {
			if equalFold(l.name, name) {
				dst = append(dst, b2s(l.value))
			}
		}
		return dst
	}
	if !r.sorted {
		r.order = slices.Grow(r.order[:0], len(r.lines))
		for i := range r.lines {
			r.order = append(r.order, int32(i))
		}
		slices.SortFunc(r.order, func(a, b int32) int {
			if c := compareFold(r.lines[a].name, r.lines[b].name); c != 0 {
				return c
			}
			return int(a - b)
		})
		r.sorted = true
	}
	i, _ := slices.BinarySearchFunc(r.order, name, func(j int32, name string) int { return compareFold(r.lines[j].name, s2b(name)) })
	for _, j := range r.order[i:] {
		l := r.lines[j]
		if !equalFold(l.name, name) {
			break
		}
		dst = append(dst, b2s(l.value))
	}
	return dst
}

// equalFold reports whether a header name equals name, ASCII letters'
// case aside (as net/http's canonical keys compare them: no Unicode
// folding).
func equalFold(a []byte, name string) bool {
	if len(a) != len(name) {
		return false
	}
	for i := range a {
		if lower(a[i]) != lower(name[i]) {
			return false
		}
	}
	return true
}

// compareFold compares two header names as equalFold sees them.
func compareFold(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if x, y := lower(a[i]), lower(b[i]); x != y {
			return int(x) - int(y)
		}
	}
	return len(a) - len(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
func s2b(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
