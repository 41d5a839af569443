package fastserve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// The bridge: every client request the fast path does not answer goes to
// the net/http handler (the edge behind the fleet's Guard, the API) as a
// *http.Request built by fasthttpadaptor.ConvertRequest and then made as
// net/http's (Host out of the header map, Body and ContentLength, Close),
// with a ResponseWriter that:
//
//   - answers with the header as it was at WriteHeader, with net/http's
//     additions: Date (fasthttp's, always: a handler's own is not sent), Content-Type
//     sniffed from the first bytes when there is no Content-Type key and
//     no Content-Encoding, no Content-Type/Content-Length on 1xx, 204 and
//     304 (304: no Content-Type either), a HEAD's Content-Length as set;
//   - keeps a body of up to streamAfter bytes and sends it with its
//     Content-Length once the handler returns; a larger body, or one the
//     handler flushes (httputil.ReverseProxy does for bodies of unknown
//     length), is streamed through a pipe: with the handler's
//     Content-Length when it set one, else chunked (or, over HTTP/1.0,
//     until the connection closes), so an object over the cache's size
//     limit is never held in memory whole; a body shorter than the
//     handler's Content-Length goes out with that length and the
//     connection closed, as net/http's;
//   - ends the connection without an answer when the handler panics
//     before answering, and cuts it short when it panics while streaming
//     (http.ErrAbortHandler silently, as net/http).
//
// The request's context ends when the handler returns or the client goes
// away (watchClient: net/http's background read, as a peek), and when
// Shutdown gives up waiting.

// streamAfter is how much of a body the bridge keeps before it streams.
const streamAfter = 64 << 10

// bridge answers ctx through the net/http handler. held is the request's
// body when the server buffers bodies (nil when it has none), charged the
// budget bytes to give back once the handler is done with it. later
// reports that Finished is told by the bridge itself (once a streamed
// body or one written on the hijacked connection is sent; at once when
// there is no answer).
func (s *Server) bridge(ctx *fasthttp.RequestCtx, held []byte, charged int64) (later bool) {
	if ctx.Request.Header.IsHTTP11() && ctx.Request.Header.ContentLength() != -1 && hasTransferEncoding(ctx.Request.Header.RawHeaders()) {
		// A Transfer-Encoding fasthttp accepts but net/http does not
		// (identity): net/http refuses the request.
		s.budget.give(charged)
		refuseTransferEncoding(ctx)
		return false
	}
	cl := declaredBody(ctx)
	var stream *bodyReader
	switch {
	case cl == 0, s.buffer:
	case cl > 0 && cl <= prefetched:
		// fasthttp has read it all with the header: no connection read
		// is left, and the client's connection can be watched.
		b, err := io.ReadAll(bodyStream(ctx))
		if err != nil {
			s.badRequest(ctx, err)
			return false
		}
		held = b
	default:
		stream = s.newBodyReader(ctx)
	}
	// ConvertRequest reads the body whole (ctx.PostBody): it must find
	// none.
	ctx.Request.ResetBody()
	r := new(http.Request)
	if err := fasthttpadaptor.ConvertRequest(ctx, r, true); err != nil {
		// net/http refuses such a request target the same way.
		s.budget.give(charged)
		s.detachBody(ctx, stream)
		ctx.Response.Header.Set("Content-Type", "text/plain; charset=utf-8")
		ctx.Response.Header.SetConnectionClose()
		ctx.SetStatusCode(http.StatusBadRequest)
		ctx.SetBodyString("400 Bad Request")
		return false
	}
	asNetHTTP(ctx, r)
	if err := detach(r); err != nil {
		s.budget.give(charged)
		s.detachBody(ctx, stream)
		ctx.Response.Header.Set("Content-Type", "text/plain; charset=utf-8")
		ctx.Response.Header.SetConnectionClose()
		ctx.SetStatusCode(http.StatusBadRequest)
		ctx.SetBodyString("400 Bad Request")
		return false
	}
	switch {
	case stream != nil:
		r.Body = stream
	case cl != 0:
		r.Body = &heldBody{Reader: bytes.NewReader(held), b: held}
	}
	if cl > 0 {
		r.ContentLength = cl
	}

	rctx, cancel := context.WithCancel(s.baseCtx)
	if v := ctx.UserValue(carryKey{}); v != nil {
		rctx = context.WithValue(rctx, carryKey{}, v)
	}
	stopWatch := func() {}
	if stream == nil {
		// A streamed body is read from the connection while the handler
		// runs: it is not watched (a read finds a client gone).
		stopWatch = watchClient(ctx.Conn(), cancel)
	}
	w := &bridgeWriter{
		conn:    ctx.Conn(),
		timeout: s.writeTimeout,
		h:       make(http.Header),
		head:    r.Method == http.MethodHead,
		events:  make(chan int, 1),
		done: func() {
			s.budget.give(charged)
		},
	}
	go s.run(w, r.WithContext(rctx))

	switch <-w.events {
	case evDone:
		stopWatch()
		cancel()
		s.detachBody(ctx, stream)
		w.respond(ctx)
		if w.head || !bodyAllowedForStatus(w.status) {
			return false
		}
		if n, err := strconv.ParseInt(w.snap.Get("Content-Length"), 10, 64); err == nil && n > int64(len(w.buf)) {
			// The handler wrote less than it declared: as net/http, the
			// declared length, what was written, and the connection
			// closed, so the client sees the answer cut short.
			ctx.Response.Header.SetContentLength(int(n))
			if r.Close && ctx.Request.Header.IsHTTP11() {
				ctx.Response.Header.SetConnectionClose()
			}
			hdr := append([]byte(nil), ctx.Response.Header.Header()...)
			buf := w.buf
			fin := s.answerLater(ctx, len(hdr))
			s.hijack(ctx, func(c net.Conn) {
				var sent int64
				_ = c.SetWriteDeadline(time.Now().Add(s.writeTimeout))
				if _, err := c.Write(hdr); err == nil {
					n, _ := c.Write(buf)
					sent = int64(n)
				}
				fin.done(sent, false)
			}, func() { fin.done(0, false) })
			return true
		}
		ctx.Response.SetBodyRaw(w.buf)
		return false
	case evStream:
		length := int64(-1)
		if v := w.snap.Get("Content-Length"); v != "" {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
				length = n
			}
		}
		w.respond(ctx)
		// The request's context ending (the client gone, Shutdown giving
		// up) fails the handler's writes: nobody may read the pipe then.
		context.AfterFunc(rctx, func() { _ = w.pr.CloseWithError(context.Canceled) })
		body := &bridgeBody{w: w, stopWatch: stopWatch, cancel: cancel, detachBody: func() {
			if stream != nil {
				s.dropBody(stream) // fasthttp closes the connection past unreadLimit
			}
		}}
		if length < 0 && !ctx.Request.Header.IsHTTP11() {
			// HTTP/1.0 has no chunked encoding, and fasthttp has no
			// body delimited by closing: write it on the connection.
			hdr := append([]byte(nil), ctx.Response.Header.Header()...)
			body.fin = s.answerLater(ctx, len(hdr))
			s.hijack(ctx, func(c net.Conn) {
				defer body.Close()
				if _, err := c.Write(hdr); err == nil {
					_, _ = io.Copy(c, body)
				}
			}, func() { _ = body.Close() })
			return true
		}
		// The header goes out now, as net/http's Flush sends it, and the
		// body as the handler writes it: with the header flushed, the
		// server's bufio.Writer hands the stream to the connection's
		// ReadFrom, which writes each piece as it comes.
		ctx.Response.ImmediateHeaderFlush = true
		ctx.Response.SetBodyStream(body, int(length))
		body.fin = s.answerLater(ctx, 0) // the server reads body only once bridge returns
		return body.fin != nil
	case evAbort:
		stopWatch()
		cancel()
		s.detachBody(ctx, stream)
		ctx.HijackSetNoResponse(true)
		ctx.Hijack(func(c net.Conn) { _ = c.Close() })
		if s.finished != nil {
			s.report(ctx, false) // no answer: status 0
			return true
		}
	default:
		cancel()
		s.detachBody(ctx, stream)
	}
	return false
}

// prefetched is how much of a request body fasthttp reads with the
// header (readBodyWithStreaming).
const prefetched = 8 << 10

// unreadLimit is how much of a request body the handler left unread
// fasthttp drops to keep the connection (maxUnreadStreamBodySize); past
// it, it closes the connection.
const unreadLimit = 256 << 10

// bodyStream is ctx's request body stream (fasthttp sets one on every
// request with a body; an empty reader if not).
func bodyStream(ctx *fasthttp.RequestCtx) io.Reader {
	if rs := ctx.RequestBodyStream(); rs != nil {
		return rs
	}
	return bytes.NewReader(nil)
}

// newBodyReader returns the reader of ctx's request body stream, paced
// from the end of the header.
func (s *Server) newBodyReader(ctx *fasthttp.RequestCtx) *bodyReader {
	return &bodyReader{
		conn: ctx.Conn(),
		cl:   declaredBody(ctx),
		rs:   bodyStream(ctx),
		max:  s.maxBody,
		pace: pace{start: ctx.Time(), grace: BodyRateGrace, rate: s.minRate, total: s.bodyTimeout},
	}
}

// detachBody ends the handler's use of a streamed request body (nil:
// none) before the server reads the connection again. When more of it is
// left than fasthttp would drop, the rest is drained (as drainRefused, so
// that the client sees the answer rather than a reset) and the connection
// closed after the answer.
func (s *Server) detachBody(ctx *fasthttp.RequestCtx, b *bodyReader) {
	if b != nil && !s.dropBody(b) {
		ctx.Response.Header.SetConnectionClose()
	}
}

// dropBody detaches b and drains what is left of it when fasthttp would
// not; it reports false when the connection must then be closed.
func (s *Server) dropBody(b *bodyReader) bool {
	n, complete := b.detach()
	if complete || (b.cl >= 0 && b.cl-n <= unreadLimit) {
		return true
	}
	drainRefused(b.conn, b.cl-n, int64(s.readBuffer))
	return false
}

// run serves r on w and reports how it ended.
func (s *Server) run(w *bridgeWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				s.log.Error(s.name+": panic serving", "remote", r.RemoteAddr, "panic", p)
			}
			w.mu.Lock()
			streaming := w.pw != nil
			w.mu.Unlock()
			if streaming {
				_ = w.pw.CloseWithError(errAborted)
			} else {
				w.events <- evAbort
			}
			return
		}
		w.finish()
	}()
	defer w.done()
	s.handler.ServeHTTP(w, r)
}

var errAborted = errors.New("handler aborted the response")

// asNetHTTP makes r, as ConvertRequest builds it, what net/http's server
// hands a handler.
func asNetHTTP(ctx *fasthttp.RequestCtx, r *http.Request) {
	// net/http keeps Host out of the header map, in r.Host (the request
	// target's authority for an absolute-form target).
	delete(r.Header, "Host")
	if r.URL.IsAbs() && r.URL.Host != "" {
		r.Host = r.URL.Host
	} else {
		r.Host = string(ctx.Request.Header.Host())
	}
	// Content-Length and Transfer-Encoding: the bridge sets the body,
	// de-chunked.
	r.Body = http.NoBody
	r.ContentLength = 0
	r.TransferEncoding = nil
	if ctx.Request.Header.ContentLength() == -1 {
		r.TransferEncoding = []string{"chunked"}
		r.ContentLength = -1
	}
	r.Close = ctx.Request.Header.ConnectionClose() || (!ctx.Request.Header.IsHTTP11() && !hasToken(r.Header["Connection"], "keep-alive"))
}

// detach gives r its own copies of what ConvertRequest lends it from the
// RequestCtx's buffers (method, protocol, target, header names and
// values), which fasthttp reuses for the connection's next request, or
// for another connection, as soon as the bridge returns: what the handler
// starts may outlive that, as a streamed answer the client left. (The
// body is the bridge's: a buffer of its own, or a stream detached before
// the bridge returns.)
func detach(r *http.Request) error {
	r.Host = strings.Clone(r.Host)
	r.Method = strings.Clone(r.Method)
	r.Proto = strings.Clone(r.Proto)
	r.RequestURI = strings.Clone(r.RequestURI)
	u, err := url.ParseRequestURI(r.RequestURI)
	if err != nil {
		return err
	}
	r.URL = u
	h := make(http.Header, len(r.Header))
	for k, vv := range r.Header {
		c := make([]string, len(vv))
		for i, v := range vv {
			c[i] = strings.Clone(v)
		}
		h[strings.Clone(k)] = c
	}
	r.Header = h
	return nil
}

// hasToken reports whether a header's values list token.
func hasToken(vals []string, token string) bool {
	for _, v := range vals {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

var http11 = []byte("HTTP/1.1")

// refuseHost answers a request whose Host header net/http refuses, as it
// does: 400 with its reason in the status line and the body, and close.
func refuseHost(ctx *fasthttp.RequestCtx) {
	const why = "Bad Request: malformed Host header"
	ctx.SetStatusCode(http.StatusBadRequest)
	ctx.Response.Header.SetStatusMessage([]byte(why))
	ctx.Response.Header.Set("Content-Type", "text/plain; charset=utf-8")
	ctx.Response.Header.SetConnectionClose()
	ctx.SetBodyString("400 " + why)
}

// validHostHeader is net/http's check of a Host header
// (golang.org/x/net/http/httpguts.ValidHostHeader): any byte that may be
// in a host, a port or an IPv6 literal; "" is valid.
func validHostHeader(h []byte) bool {
	for _, c := range h {
		if !validHostByte[c] {
			return false
		}
	}
	return true
}

var validHostByte = AlnumAnd("!$%&()*+,-.:;=[']_~")

// AlnumAnd returns the byte class of ASCII letters, digits and extra: the
// shape of the character classes the listeners check requests against.
func AlnumAnd(extra string) (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range extra {
		t[c] = true
	}
	return t
}

// refuseTransferEncoding answers a request of a transfer coding net/http
// does not read (anything but one "chunked") as it does.
func refuseTransferEncoding(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.SetProtocol(http11)
	ctx.SetStatusCode(http.StatusNotImplemented)
	ctx.Response.Header.Set("Content-Type", "text/plain; charset=utf-8")
	ctx.Response.Header.SetConnectionClose()
	ctx.SetBodyString("Unsupported transfer encoding")
}

// hasTransferEncoding reports whether header lines as received have a
// Transfer-Encoding.
func hasTransferEncoding(raw []byte) bool {
	for len(raw) > 0 {
		var line []byte
		line, raw, _ = bytes.Cut(raw, []byte("\n"))
		if name, _, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(name, []byte("Transfer-Encoding")) {
			return true
		}
	}
	return false
}

// heldBody is a request body the server read whole before the handler
// ran. TakeBytes hands a handler that wants it whole the buffer itself,
// rather than a copy (an API body may be 16 MiB): it is valid until the
// handler returns.
type heldBody struct {
	*bytes.Reader
	b []byte
}

func (h *heldBody) Close() error { return nil }

// TakeBytes returns the whole body and leaves the reader at its end, as
// reading it all would.
func (h *heldBody) TakeBytes() []byte {
	h.Reader.Reset(nil)
	return h.b
}

// carryKey is the RequestCtx user value and request context key of what
// the Fast function hands to the handler.
type carryKey struct{}

// Carry hands v to the handler that will serve ctx on the bridge, when the
// Fast function declines it after doing work the handler must not redo
// (Carried returns it). It lasts for ctx's request only.
func Carry(ctx *fasthttp.RequestCtx, v any) { ctx.SetUserValue(carryKey{}, v) }

// Carried returns what the Fast function carried for r (Carry), or nil.
func Carried(r *http.Request) any { return r.Context().Value(carryKey{}) }
