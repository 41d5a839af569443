package fastserve

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// The bridge's ResponseWriter (bridge.go describes what it answers): it
// keeps a small body and hands it over when the handler returns, streams a
// larger or flushed one through a pipe, and writes answers that bypass
// fasthttp's response on the hijacked connection.

// Bridge events: how the handler's answer goes out.
const (
	evDone   = iota + 1 // the handler returned; the body is in buf
	evStream            // the body streams through the pipe
	evAbort             // the handler panicked before answering
)

// bridgeWriter is the http.ResponseWriter (and http.Flusher, and the
// SetWriteDeadline of http.ResponseController) of a bridged request.
type bridgeWriter struct {
	conn    net.Conn
	timeout time.Duration // the server's write timeout
	h       http.Header
	head    bool
	events  chan int
	done    func() // run when the handler returns

	// ownDeadline is set once the handler sets the write deadline
	// itself (to deadline): the stream's writes no longer move it.
	ownDeadline atomic.Bool
	deadline    atomic.Pointer[time.Time]

	wroteHeader bool
	status      int
	snap        http.Header // h at WriteHeader
	sniff       []byte      // the first bytes written, for Content-Type
	buf         []byte      // the body, until it streams
	written     int64

	mu sync.Mutex
	pw *io.PipeWriter // set once streaming
	pr *io.PipeReader
}

func (w *bridgeWriter) Header() http.Header { return w.h }

// WriteHeader fixes the status and the header, as net/http's; 1xx
// answers are not sent (but 101, which the edge never answers).
func (w *bridgeWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if w.wroteHeader || (code < 200 && code != http.StatusSwitchingProtocols) {
		return
	}
	w.wroteHeader = true
	w.status = code
	w.snap = w.h.Clone()
}

func (w *bridgeWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if len(w.sniff) < 512 && w.pw == nil { // what respond sniffs, before it runs
		n := min(len(p), 512-len(w.sniff))
		w.sniff = append(w.sniff, p[:n]...)
	}
	w.written += int64(len(p))
	if w.head {
		return len(p), nil
	}
	if w.pw != nil {
		return w.pw.Write(p)
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) > streamAfter {
		if err := w.stream(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush sends what was written so far and streams the rest.
func (w *bridgeWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.pw != nil || w.head || !bodyAllowedForStatus(w.status) {
		return // a HEAD or a bodiless answer goes out when the handler returns
	}
	_ = w.stream()
}

// SetWriteDeadline sets the connection's write deadline, as net/http's
// (http.NewResponseController(w).SetWriteDeadline): once it passes, the
// server's write of a streamed answer fails, and with it the handler's
// writes. As with net/http, it stays set for the connection's next
// answers unless the handler clears it.
func (w *bridgeWriter) SetWriteDeadline(t time.Time) error {
	w.deadline.Store(&t)
	w.ownDeadline.Store(true)
	return w.conn.SetWriteDeadline(t)
}

// stream hands the answer to the server as a stream, then writes what was
// kept into it.
func (w *bridgeWriter) stream() error {
	w.mu.Lock()
	w.pr, w.pw = io.Pipe()
	w.mu.Unlock()
	w.events <- evStream
	buf := w.buf
	w.buf = nil
	if len(buf) > 0 {
		if _, err := w.pw.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// finish ends the answer once the handler has returned.
func (w *bridgeWriter) finish() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.pw != nil {
		_ = w.pw.Close()
		return
	}
	w.events <- evDone
}

// respond sets ctx's status and header from the handler's, as net/http
// writes them.
func (w *bridgeWriter) respond(ctx *fasthttp.RequestCtx) {
	code := w.status
	ctx.SetStatusCode(code)
	rh := &ctx.Response.Header
	h := w.snap
	if !bodyAllowedForStatus(code) {
		delete(h, "Content-Length")
		delete(h, "Transfer-Encoding")
		if code == http.StatusNotModified {
			delete(h, "Content-Type")
		}
	}
	cl, haveCL := h["Content-Length"]
	for k, vv := range h {
		switch {
		case k == "Content-Length", k == "Transfer-Encoding", k == "Trailer", strings.HasPrefix(k, http.TrailerPrefix), k == "Date":
			continue // framing and Date are the server's; trailers are not sent
		}
		for _, v := range vv {
			rh.Add(k, v)
		}
	}
	if bodyAllowedForStatus(code) {
		if _, ok := h["Content-Type"]; !ok && h.Get("Content-Encoding") == "" && len(w.sniff) > 0 {
			rh.Set("Content-Type", http.DetectContentType(w.sniff))
		}
	}
	switch {
	case !bodyAllowedForStatus(code):
		ctx.Response.SkipBody = true
	case w.head:
		// net/http sends the handler's Content-Length, else the length
		// of what it wrote, else none.
		ctx.Response.SkipBody = true
		switch {
		case haveCL && len(cl) > 0:
			if n, err := strconv.Atoi(cl[0]); err == nil {
				rh.SetContentLength(n)
			}
		case w.written > 0:
			rh.SetContentLength(int(w.written))
		default:
			rh.SetContentLength(-2) // no Content-Length
		}
	}
}

// bodyAllowedForStatus is net/http's.
func bodyAllowedForStatus(status int) bool {
	switch {
	case status >= 100 && status <= 199:
		return false
	case status == http.StatusNoContent, status == http.StatusNotModified:
		return false
	}
	return true
}

// bridgeBody is the body of a streamed answer, as the server reads it.
type bridgeBody struct {
	w          *bridgeWriter
	stopWatch  func()
	cancel     context.CancelFunc
	detachBody func()
	once       sync.Once
	set        time.Time // when the write deadline was last moved
	reapplied  bool      // the handler's own deadline was set again
	fin        *later    // reported to at Close; nil without Finished
	sent       int64     // bytes read by the server
	eof        bool      // the handler's body ended cleanly
}

// Read hands the server the next piece the handler wrote, which it
// writes next: the piece gets its own write deadline (at least 3/4 of the
// write timeout: moving it on every piece would cost a timer update each)
// unless the handler sets deadlines itself.
func (b *bridgeBody) Read(p []byte) (int, error) {
	n, err := b.w.pr.Read(p)
	b.sent += int64(n)
	if err == io.EOF {
		b.eof = true
	}
	switch {
	case n == 0:
	case b.w.ownDeadline.Load():
		if !b.reapplied {
			// The server set its own for the header, maybe after the
			// handler's.
			b.reapplied = true
			_ = b.w.conn.SetWriteDeadline(*b.w.deadline.Load())
		}
	default:
		if now := time.Now(); now.Sub(b.set) > b.w.timeout/4 {
			_ = b.w.conn.SetWriteDeadline(now.Add(b.w.timeout))
			b.set = now
		}
	}
	return n, err
}

// Close is called by the server once the body is written or the client
// is gone: the handler's further writes fail, the request's context ends
// and the connection's background read stops before the server reads the
// next request.
func (b *bridgeBody) Close() error {
	b.once.Do(func() {
		// The context first: a handler whose write fails then sees that
		// the client went away (the edge's serveLarge would otherwise log the
		// origin's body as ended early).
		b.cancel()
		_ = b.w.pr.CloseWithError(io.ErrClosedPipe)
		b.stopWatch()
		b.detachBody()
		b.fin.done(b.sent, b.eof)
	})
	return nil
}

// hijack has fasthttp run answer on ctx's connection once the bridge
// returns (the connection is closed after it), counted in s.hijacks so
// that Shutdown waits for it as for a request in flight. If fasthttp
// closes the connection without running it (flushing earlier pipelined
// answers or clearing the deadlines failed), failed runs instead.
func (s *Server) hijack(ctx *fasthttp.RequestCtx, answer func(net.Conn), failed func()) {
	c := ctx.Conn()
	s.hijacks.Add(1) // within a request, so before Shutdown waits
	s.hijackMu.Lock()
	s.pending[c] = failed
	s.hijackMu.Unlock()
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(hc net.Conn) {
		defer s.hijacks.Done()
		s.hijackMu.Lock()
		delete(s.pending, c)
		s.hijackMu.Unlock()
		answer(hc)
	})
}

// connState is the server's ConnState hook: a connection closed with its
// hijack function pending will never run it.
func (s *Server) connState(c net.Conn, st fasthttp.ConnState) {
	if st != fasthttp.StateClosed {
		return
	}
	s.hijackMu.Lock()
	failed, ok := s.pending[c]
	delete(s.pending, c)
	s.hijackMu.Unlock()
	if ok {
		failed()
		s.hijacks.Done()
	}
}
