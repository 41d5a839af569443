// Package fastserve serves a net/http Handler with fasthttp, with an
// optional fast path.
//
// net/http's per-request cost (its conn and response structs, the header
// map, bufio, the background read) is most of what a small answer costs
// when the client and the server share a few cores: a do-nothing net/http
// handler answering a cache hit's bytes falls short of issue 4's target
// against nginx, where fasthttp answering the same bytes meets it, and a
// do-nothing net/http server costs more CPU per request than a fasthttp
// one (docs/benchmarks.md, "Edge cache hits" and "CreateInvalidation
// throughput and latency"). So openfront's listeners, the edge's viewer listener and the API's,
// are github.com/valyala/fasthttp servers:
//
//   - requests the caller's Fast function recognizes (a plain cache hit, a
//     CreateInvalidation) are answered right from the fasthttp RequestCtx;
//   - everything else goes through the one net/http code path, the
//     caller's http.Handler, by the bridge (bridge.go), which makes the
//     request and the ResponseWriter behave as net/http's and streams large
//     bodies.
//
// docs/architecture.md ("The viewer listener", "The API listener") lists
// what differs on the wire from a net/http server.
package fastserve

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Config is what New builds a Server from.
type Config struct {
	// Handler answers every request Fast does not.
	Handler http.Handler
	// Fast, when not nil, is tried first on every request that fasthttp
	// could read: it answers ctx and reports true, or leaves ctx untouched
	// and reports false (the request then goes to Handler). The response
	// header does not normalize names, and says HTTP/1.0 to an HTTP/1.0
	// request, as net/http's.
	Fast func(ctx *fasthttp.RequestCtx) bool
	// Name names the listener in log messages ("viewer listener").
	Name string
	// Logger receives connection errors and panics; slog.Default() when
	// nil.
	Logger *slog.Logger

	// ReadHeaderTimeout bounds reading a request's header (10s when 0);
	// IdleTimeout, the wait for the next request on a kept-alive
	// connection (2 minutes when 0); BodyTimeout, reading a request body
	// after its header (10 minutes when 0). WriteTimeout bounds each write
	// of an answer (30s when 0): a small answer is one write, a streamed
	// one a write per piece, so a client that stops reading is
	// disconnected once a write has waited that long, and a long stream
	// that keeps writing is not.
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	BodyTimeout       time.Duration
	WriteTimeout      time.Duration
	// MinBodyRate is the average rate, in bytes per second, at which a
	// request body must come once BodyRateGrace has passed (1024 when 0,
	// none when negative); a slower client is disconnected.
	MinBodyRate int
	// MaxRequestBodySize is the largest request body accepted; 64 MiB
	// when 0. A larger declared one is answered by BodyTooLarge, else 413
	// in plain text, without being read; a chunked one that grows past it
	// fails the handler's read (BufferBodies: answered as a declared one).
	MaxRequestBodySize int
	// BodyTooLarge, when not nil, answers a request whose body is over
	// MaxRequestBodySize (its header is in ctx; its body is not). The
	// connection is closed after the answer.
	BodyTooLarge func(ctx *fasthttp.RequestCtx)
	// BufferBodies has request bodies read whole before Fast and Handler
	// see the request, charged to a budget of BufferBudget bytes shared by
	// all connections (64 MiB when 0); otherwise the handler reads the
	// body as it comes (Request.Body streams).
	BufferBodies bool
	BufferBudget int64
	// Busy, when not nil, answers a request whose body the budget cannot
	// hold (BufferBodies); else 503 in plain text. The body is not read
	// and the connection is closed after the answer.
	Busy func(ctx *fasthttp.RequestCtx)
	// Admit, when not nil, is asked about a request with a body of more
	// than AdmitAbove bytes, or of unknown length, once its header is
	// read and before the body is: it reports true to go on, or answers
	// ctx and reports false (the body is then not read, and the
	// connection is closed after the answer).
	Admit func(ctx *fasthttp.RequestCtx) bool
	// ReadBufferSize is each connection's read buffer, which must hold a
	// whole request head (a larger one is answered 431); 32 KiB when 0.
	ReadBufferSize int

	// Finished, when not nil, is told of every request answered by Fast,
	// Handler or the server's own refusals of a request it could read,
	// once the answer is handed to the connection (a streamed body: once
	// it is sent or cut short). It runs on the request's goroutine (a
	// streamed body's: fasthttp's or the hijacked connection's), so it
	// must be quick: the access log and metrics hook here.
	Finished func(*Answer)
}

// Server serves a Config's Handler. Build it with New.
type Server struct {
	handler      http.Handler
	fast         func(*fasthttp.RequestCtx) bool
	finished     func(*Answer)
	bodyTooLarge func(*fasthttp.RequestCtx)
	busy         func(*fasthttp.RequestCtx)
	admit        func(*fasthttp.RequestCtx) bool
	readBuffer   int // Config.ReadBufferSize
	maxBody      int64
	buffer       bool // Config.BufferBodies
	budget       budget
	bodyTimeout  time.Duration
	minRate      int64
	writeTimeout time.Duration
	name         string
	log          *slog.Logger
	srv          *fasthttp.Server
	baseCtx      context.Context // ends when Shutdown gives up waiting
	stop         context.CancelFunc

	// Answers written on hijacked connections (bridge.go), which
	// fasthttp no longer counts as in flight, and the hijack functions
	// set but not yet run, by connection.
	hijacks  sync.WaitGroup
	hijackMu sync.Mutex
	pending  map[net.Conn]func()

	// Requests whose declared body is over maxBody, by header, as
	// HeaderReceived marks them (so that fasthttp does not wait for any
	// of the body), until serve refuses them; tooLargeN counts them.
	tooLarge  sync.Map // *fasthttp.RequestHeader -> int64
	tooLargeN atomic.Int64

	onShutdownMu sync.Mutex
	onShutdown   []func()
	shutdown     atomic.Bool
}

// Defaults of a Config's limits.
const (
	// DefaultReadBufferSize is a connection's read buffer.
	DefaultReadBufferSize = 32 << 10
	// DefaultWriteTimeout bounds one write of an answer.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultMinBodyRate is the minimum average rate of a request body,
	// in bytes per second, after BodyRateGrace.
	DefaultMinBodyRate = 1024
	// DefaultBufferBudget is the bytes of request bodies a BufferBodies
	// server holds at once across its connections.
	DefaultBufferBudget = 64 << 20
)

// New returns a Server for c. Serve it with Serve, stop it with Shutdown.
func New(c Config) *Server {
	if c.Handler == nil {
		c.Handler = http.NotFoundHandler()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Name == "" {
		c.Name = "listener"
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
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.MinBodyRate == 0 {
		c.MinBodyRate = DefaultMinBodyRate
	}
	if c.MaxRequestBodySize <= 0 {
		c.MaxRequestBodySize = 64 << 20
	}
	if c.BufferBudget <= 0 {
		c.BufferBudget = DefaultBufferBudget
	}
	if c.ReadBufferSize <= 0 {
		c.ReadBufferSize = DefaultReadBufferSize
	}
	s := &Server{handler: c.Handler, fast: c.Fast, finished: c.Finished, bodyTooLarge: c.BodyTooLarge, busy: c.Busy, admit: c.Admit,
		readBuffer: c.ReadBufferSize, maxBody: int64(c.MaxRequestBodySize), buffer: c.BufferBodies,
		bodyTimeout: c.BodyTimeout, minRate: int64(max(c.MinBodyRate, 0)), writeTimeout: c.WriteTimeout,
		name: c.Name, log: c.Logger, pending: make(map[net.Conn]func())}
	s.budget.left.Store(c.BufferBudget)
	// As net/http's, the requests' context holds a server under
	// http.ServerContextKey: httputil.ReverseProxy (the edge's
	// passthrough) then panics with http.ErrAbortHandler when the origin's
	// body ends early, and the bridge cuts the answer short, instead of
	// returning as if the body were complete (a chunked answer would then
	// end cleanly).
	base := context.WithValue(context.Background(), http.ServerContextKey, &http.Server{})
	s.baseCtx, s.stop = context.WithCancel(base)
	// The first bytes of a body fasthttp reads with the header (up to
	// 8 KiB) come under the body's pace.
	prefetch := pace{grace: BodyRateGrace, rate: s.minRate, total: c.BodyTimeout}.deadline(8 << 10).Sub(time.Time{})
	s.srv = &fasthttp.Server{
		Handler: s.serve,
		// fasthttp's ReadTimeout covers the request head; HeaderReceived
		// gives a request with a body its own, longer, deadline for what
		// fasthttp reads of it; the rest is read under bodyReader's.
		ReadTimeout: c.ReadHeaderTimeout,
		IdleTimeout: c.IdleTimeout,
		// Each answer's first write; streamed answers move it on each
		// piece (bridgeBody, pacedBody).
		WriteTimeout: c.WriteTimeout,
		HeaderReceived: func(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
			if cl := int64(h.ContentLength()); cl > s.maxBody {
				// Refused without a byte of it read: fasthttp reads
				// none of a body it is told is empty (the connection is
				// closed after the answer).
				s.tooLarge.Store(h, cl)
				s.tooLargeN.Add(1)
				h.SetContentLength(0)
				h.Del("Expect") // no 100 Continue: the answer is the 413
				return fasthttp.RequestConfig{}
			}
			if cl := h.ContentLength(); cl > 0 || cl == -1 {
				return fasthttp.RequestConfig{ReadTimeout: prefetch}
			}
			return fasthttp.RequestConfig{}
		},
		// Bodies reach the handler as streams; the limit is serve's.
		StreamRequestBody:     true,
		MaxRequestBodySize:    c.MaxRequestBodySize,
		ReadBufferSize:        c.ReadBufferSize,
		NoDefaultServerHeader: true,
		NoDefaultContentType:  true,
		// fasthttp writes every answer's Date itself (the current second)
		// and ignores one set on the response: a handler's Date is not
		// sent, net/http's would be.
		NoDefaultDate:                false,
		DisablePreParseMultipartForm: true,
		CloseOnShutdown:              true,
		SecureErrorLogMessage:        true, // a malformed request's bytes (cookies, Authorization) stay out of the log
		Logger:                       fastLogger{c.Logger, c.Name},
		ErrorHandler:                 s.refuse,
		ConnState:                    s.connState,
	}
	return s
}

// Serve accepts connections on ln until Shutdown; it then returns nil.
func (s *Server) Serve(ln net.Listener) error {
	// The connections stay *net.TCPConn: fasthttp sends a large answer's
	// header and body in one writev only to those.
	return s.srv.Serve(ln)
}

// Context is the context requests are served under: it ends when Shutdown
// gives up waiting for them. A fast path's work runs under it.
func (s *Server) Context() context.Context { return s.baseCtx }

// RegisterOnShutdown registers f to be called, in a goroutine of its own,
// when Shutdown starts, as http.Server's: to end long-lived answers
// (streams) that would otherwise keep Shutdown waiting.
func (s *Server) RegisterOnShutdown(f func()) {
	s.onShutdownMu.Lock()
	s.onShutdown = append(s.onShutdown, f)
	s.onShutdownMu.Unlock()
}

// Shutdown stops accepting connections, closes idle ones and waits for the
// requests in flight to finish (their answers say Connection: close), and
// the answers written on hijacked connections (HTTP/1.0 of unknown length,
// whose body the close ends), or for ctx to end; the requests' contexts
// end then.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.shutdown.Swap(true) {
		s.onShutdownMu.Lock()
		for _, f := range s.onShutdown {
			go f()
		}
		s.onShutdownMu.Unlock()
	}
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
type fastLogger struct {
	log  *slog.Logger
	name string
}

func (l fastLogger) Printf(format string, args ...any) {
	msg := l.name + ": " + fmt.Sprintf(format, args...)
	if strings.HasSuffix(msg, io.ErrClosedPipe.Error()) || strings.HasSuffix(msg, context.Canceled.Error()) {
		// A streamed answer (the fleet's event stream, a large object)
		// cut short because its client went away or the server is
		// stopping: the bridge's pipe was closed under fasthttp's copy.
		// net/http logs nothing for it; a WARN per viewer that stops a
		// download would drown the log.
		l.log.Debug(msg)
		return
	}
	l.log.Warn(msg)
}

// refuse answers a request fasthttp could not read (badRequest), with a
// debug line: such a request reaches no handler and no access log. Its
// bytes are not logged (they may hold credentials).
func (s *Server) refuse(ctx *fasthttp.RequestCtx, err error) {
	s.badRequest(ctx, err)
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		code := ctx.Response.StatusCode()
		reason := string(ctx.Response.Header.StatusMessage())
		if reason == "" {
			reason = http.StatusText(code)
		}
		s.log.Debug(s.name+": request refused before it could be read", "status", code, "reason", reason, "remote", ctx.RemoteAddr().String())
	}
}

// badRequest answers a request fasthttp could not read, as net/http
// answers one it cannot parse: a plain-text status line and close.
func (s *Server) badRequest(ctx *fasthttp.RequestCtx, err error) {
	if declared, ok := s.wasTooLarge(ctx); ok && err != fasthttp.ErrBodyTooLarge {
		// Refused for something else; the connection closes.
		drainRefused(ctx.Conn(), declared, int64(s.readBuffer))
	}
	if err == fasthttp.ErrBodyTooLarge {
		s.refuseTooLarge(ctx, int64(ctx.Request.Header.ContentLength()))
		return
	}
	if strings.Contains(err.Error(), fasthttp.ErrUnsupportedTransferEncoding.Error()) && ctx.Request.Header.IsHTTP11() {
		// A transfer coding other than chunked, or repeated: net/http's
		// 501. (It ignores Transfer-Encoding in an HTTP/1.0 request,
		// which fasthttp refuses.)
		ctx.Response.Reset()
		refuseTransferEncoding(ctx)
		return
	}
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
	ctx.Response.Reset()
	ctx.SetStatusCode(status)
	if strings.Contains(err.Error(), "missing required host header") {
		// net/http's words, in its status line too.
		msg = "400 Bad Request: missing required Host header"
		ctx.Response.Header.SetStatusMessage([]byte("Bad Request: missing required Host header"))
	} else if status == fasthttp.StatusBadRequest && !validHostHeader(ctx.Request.Header.Host()) {
		// fasthttp refused the Host header (a '/' or '?' in it):
		// net/http refuses it too, in these words.
		refuseHost(ctx)
		return
	}
	ctx.Response.Header.Set("Content-Type", "text/plain; charset=utf-8")
	ctx.Response.Header.SetConnectionClose()
	ctx.SetBodyString(msg)
}

var http10 = []byte("HTTP/1.0")

// refuseWith replaces ctx's answer by answer's, in the request's
// protocol, or by status and text in plain text when answer is nil.
func refuseWith(ctx *fasthttp.RequestCtx, answer func(*fasthttp.RequestCtx), status int, text string) {
	ctx.Response.Reset()
	if answer != nil {
		ctx.Response.Header.DisableNormalizing()
		if !ctx.Request.Header.IsHTTP11() {
			ctx.Response.Header.SetProtocol(http10)
		}
		answer(ctx)
		return
	}
	ctx.SetStatusCode(status)
	ctx.Response.Header.Set("Content-Type", "text/plain; charset=utf-8")
	ctx.SetBodyString(text)
}

// refuseTooLarge answers a request whose body (of declared length cl, -1
// when chunked) is over the limit: BodyTooLarge's answer, else 413 in
// plain text; the connection is closed after it.
func (s *Server) refuseTooLarge(ctx *fasthttp.RequestCtx, cl int64) {
	drainRefused(ctx.Conn(), cl, int64(s.readBuffer))
	refuseWith(ctx, s.bodyTooLarge, fasthttp.StatusRequestEntityTooLarge, "413 Request Entity Too Large")
	ctx.Response.Header.SetConnectionClose()
}

// Limits of drainRefused.
const (
	drainMax   = 64 << 20
	drainTotal = 10 * time.Second
	drainIdle  = 250 * time.Millisecond
	drainTail  = 50 * time.Millisecond
)

// drainRefused reads and drops what the client sends of a body refused
// for its size (declared: its Content-Length), before the answer is
// written and the connection closed. fasthttp refuses it from the header
// without reading it, and closing a connection with unread data makes the
// kernel send a reset, which can destroy the answer before the client
// reads it (a client still writing its body sees "connection reset"
// instead of the 413). net/http read up to the limit and then lingered.
// Bounded: the declared length, at most drainMax bytes, drainTotal in
// all, and it stops when nothing comes for drainIdle (a client waiting
// for an answer before sending its body), or for drainTail once at most
// buffered bytes are left: fasthttp's read buffer (buffered bytes) may
// hold that much of the body already, which will never come.
func drainRefused(c net.Conn, declared, buffered int64) {
	if c == nil || declared <= 0 {
		return
	}
	deadline := time.Now().Add(drainTotal)
	left := min(declared, drainMax)
	buf := make([]byte, 32<<10)
	for left > 0 {
		idle := drainIdle
		if left <= buffered {
			idle = drainTail
		}
		d := time.Now().Add(idle)
		if d.After(deadline) {
			d = deadline
		}
		_ = c.SetReadDeadline(d)
		n, err := c.Read(buf[:min(int64(len(buf)), left)])
		left -= int64(n)
		if err != nil {
			break
		}
	}
	_ = c.SetReadDeadline(time.Time{})
}

// serve answers one request: the fast path, else the bridge to the
// net/http handler.
func (s *Server) serve(ctx *fasthttp.RequestCtx) {
	// fasthttp does not recover a handler's panic: the process would die.
	// As net/http: log it with its stack, answer nothing, close the
	// connection. (The handler's own panics are recovered in run.)
	var owed int64 // budget taken for this request's body and not yet handed on
	defer func() {
		if p := recover(); p != nil {
			s.budget.give(owed)
			s.log.Error(s.name+": panic serving", "remote", ctx.RemoteAddr().String(), "panic", p, "stack", string(debug.Stack()))
			ctx.Response.Reset()
			ctx.HijackSetNoResponse(true)
			ctx.Hijack(func(c net.Conn) { _ = c.Close() })
		}
	}()
	later, fast := s.answer(ctx, &owed)
	switch {
	case s.finished == nil || later:
	case fast:
		// A fast path's answer is ready microseconds after the request
		// was read: its time (fasthttp's reading of the clock) spares a
		// clock reading per request, which costs about as much as a
		// tenth of a cache hit under a hypervisor.
		s.reportAt(ctx, true, ctx.Time())
	default:
		s.answered(ctx)
	}
}

// answer answers ctx; later reports that the answer's body is still to be
// sent (it then reports to Finished itself), fast that the fast path
// answered. It keeps in owed the budget taken for the request's body and
// not yet handed on, for serve to give back should it panic.
func (s *Server) answer(ctx *fasthttp.RequestCtx, owed *int64) (later, fast bool) {
	ctx.Response.Header.DisableNormalizing() // header names as the handler wrote them, as net/http
	if !ctx.Request.Header.IsHTTP11() {
		ctx.Response.Header.SetProtocol(http10) // net/http answers HTTP/1.0 in kind
	}
	if p := checkHead(ctx.Request.Header.RawHeaders()); p != headOK {
		if declared, ok := s.wasTooLarge(ctx); ok {
			drainRefused(ctx.Conn(), declared, int64(s.readBuffer)) // and unmarked
		}
		refuseHead(ctx, p)
		return false, false
	}
	if !validHostHeader(ctx.Request.Header.Host()) {
		// net/http refuses a Host header it would not hand on before any
		// handler sees the request (whatever the protocol, in its words):
		// so do both paths.
		if declared, ok := s.wasTooLarge(ctx); ok {
			drainRefused(ctx.Conn(), declared, int64(s.readBuffer))
		}
		ctx.Response.Header.SetProtocol(http11)
		refuseHost(ctx)
		if s.log.Enabled(context.Background(), slog.LevelDebug) {
			s.log.Debug(s.name+": request refused: malformed Host header", "remote", ctx.RemoteAddr().String(), "status", http.StatusBadRequest)
		}
		return false, false
	}
	held, charged, ok := s.body(ctx)
	if !ok {
		return false, false
	}
	*owed = charged
	if s.fast != nil && s.fast(ctx) {
		if held != nil {
			// The fast path has answered: nothing refers to the body.
			ctx.Request.ResetBody()
			*owed = 0
			s.budget.give(charged)
			recycleBody(held)
		}
		return false, true
	}
	*owed = 0 // the bridge gives it back
	return s.bridge(ctx, held, charged), false
}

// body does what comes before a request with a body is served: a
// declared body over the limit is refused, Admit asked, and a body the
// server buffers read whole (held; charged to the budget, which the
// caller gives back). It reports false when it answered ctx.
func (s *Server) body(ctx *fasthttp.RequestCtx) (held []byte, charged int64, ok bool) {
	if declared, ok := s.wasTooLarge(ctx); ok {
		s.refuseTooLarge(ctx, declared)
		return nil, 0, false
	}
	cl := declaredBody(ctx)
	if cl == 0 {
		return nil, 0, true
	}
	if s.admit != nil && (cl < 0 || cl > AdmitAbove) && !s.admit(ctx) {
		s.refused(ctx, cl)
		return nil, 0, false
	}
	if !s.buffer {
		return nil, 0, true
	}
	rd := s.newBodyReader(ctx)
	body, charged, err := readWhole(rd, cl, s.maxBody, &s.budget)
	rd.detach()
	switch {
	case err == nil:
		ctx.Request.SetBodyRaw(body) // for Fast's PostBody
		return body, charged, true
	case err == errBusy:
		refuseWith(ctx, s.busy, fasthttp.StatusServiceUnavailable, "503 Service Unavailable")
		s.refused(ctx, cl)
	case err == errBodyTooLarge:
		s.refuseTooLarge(ctx, -1)
	default:
		s.badRequest(ctx, err) // 408 when it timed out, else 400
		ctx.Response.Header.SetConnectionClose()
	}
	return nil, 0, false
}

// declaredBody is the length of ctx's request body: -1 when chunked, 0
// when there is none (fasthttp says -2 for a GET without one).
func declaredBody(ctx *fasthttp.RequestCtx) int64 {
	if cl := ctx.Request.Header.ContentLength(); cl > 0 || cl == -1 {
		return int64(cl)
	}
	return 0
}

// wasTooLarge reports whether HeaderReceived marked ctx's request as of
// a body over the limit, of declared length declared, and unmarks it.
func (s *Server) wasTooLarge(ctx *fasthttp.RequestCtx) (declared int64, ok bool) {
	if s.tooLargeN.Load() == 0 {
		return 0, false
	}
	v, ok := s.tooLarge.LoadAndDelete(&ctx.Request.Header)
	if !ok {
		return 0, false
	}
	s.tooLargeN.Add(-1)
	return v.(int64), true
}

// refused ends a request answered without its body being read (of
// declared length cl, -1 when chunked): what the client sends of the body
// is drained before the answer, which closes the connection.
func (s *Server) refused(ctx *fasthttp.RequestCtx, cl int64) {
	drainRefused(ctx.Conn(), cl, int64(s.readBuffer))
	ctx.Response.Header.SetConnectionClose()
}
