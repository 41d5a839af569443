package fastserve

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Request bodies.
//
// The server streams request bodies (fasthttp's StreamRequestBody): a
// request reaches the fast path and the handler once its header is read,
// with at most fasthttp's first 8 KiB of body. The body is then either
//
//   - streamed to the handler (the viewer listener: an upload goes to the
//     origin as it comes), through a bodyReader, so a connection holds
//     only its buffers whatever the body's size; or
//   - read whole before the request is handled (Config.BufferBodies: the
//     API, which verifies the body's hash), charged to the server's
//     budget of buffered bytes, which bounds what all connections hold at
//     once; a body the budget cannot hold is answered by Config.Busy.
//
// Either way a body must come at Config.MinBodyRate on average once
// BodyRateGrace has passed, and whole within Config.BodyTimeout; a client
// slower than that has its connection closed. Config.Admit may refuse a
// request from its header before any more of its body is read.

// BodyRateGrace is how long a request body may come slower than the
// minimum rate: the rate is averaged from the end of the header, and the
// first BodyRateGrace is free.
const BodyRateGrace = 10 * time.Second

// AdmitAbove is the declared body size over which Config.Admit is asked
// before the body is read (and always for a chunked body): a smaller body
// costs no more to read than the check (fasthttp has read up to 8 KiB of
// it with the header).
const AdmitAbove = 64 << 10

// errBodyDetached is what a streamed body's reader returns once the
// request has been answered: the server reads the connection again.
var errBodyDetached = errors.New("request body read after the request was answered")

// errBodyTooLarge is what a streamed body's reader returns past the
// server's MaxRequestBodySize (a chunked body, whose size is not declared).
var errBodyTooLarge = errors.New("request body too large")

// pace computes a body's read deadlines: the body must have come at rate
// bytes per second on average once grace has passed, and whole within
// total of its start.
type pace struct {
	start time.Time
	grace time.Duration
	rate  int64 // bytes per second; <= 0: no minimum
	total time.Duration
}

// deadline is when the next byte of a body of which n bytes came must
// have come.
func (p pace) deadline(n int64) time.Time {
	end := p.start.Add(p.total)
	if p.rate > 0 {
		d := p.grace + time.Duration(float64(n+1)/float64(p.rate)*float64(time.Second))
		if t := p.start.Add(d); t.Before(end) {
			return t
		}
	}
	return end
}

// bodyReader is a request body streamed from the connection (fasthttp's
// request stream), as the handler reads it: each read under the body's
// pace, at most max bytes, and detached once the request is answered, so
// that a reader the handler left behind (an origin request still sending
// it) cannot read what follows on the connection.
type bodyReader struct {
	conn      net.Conn
	cl        int64 // declared length; -1: chunked
	pace      pace
	max       int64
	detaching atomic.Bool

	mu       sync.Mutex
	rs       io.Reader // guarded by mu; nil once detached
	n        int64     // guarded by mu: bytes read
	err      error     // guarded by mu: the first error, returned again
	deadline bool      // guarded by mu: a read deadline is set
}

func (b *bodyReader) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.detaching.Load() || b.rs == nil {
		return 0, errBodyDetached
	}
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	_ = b.conn.SetReadDeadline(b.pace.deadline(b.n))
	b.deadline = true
	n, err := b.rs.Read(p)
	b.n += int64(n)
	if b.n > b.max {
		n -= int(b.n - b.max)
		b.n = b.max
		err = errBodyTooLarge
	}
	if err != nil {
		b.err = err
	}
	return n, err
}

func (b *bodyReader) Close() error { return nil }

// detach ends the handler's use of the body: a read in progress is cut
// (the connection is then not reused), later reads fail. It reports how
// much was read, and whether the body was read to its end.
func (b *bodyReader) detach() (n int64, complete bool) {
	b.detaching.Store(true)
	if !b.mu.TryLock() {
		// A read is in progress, maybe waiting for the client: wake it.
		_ = b.conn.SetReadDeadline(time.Unix(1, 0))
		b.mu.Lock()
	}
	defer b.mu.Unlock()
	b.rs = nil
	if b.deadline {
		// The server sets its own deadline for the next request.
		_ = b.conn.SetReadDeadline(time.Time{})
	}
	return b.n, b.err == io.EOF || (b.cl >= 0 && b.n >= b.cl)
}

// budget is a server's budget of buffered request body bytes.
type budget struct {
	left atomic.Int64
}

// take reserves n bytes, and reports false (reserving nothing) when fewer
// are left.
func (b *budget) take(n int64) bool {
	if b.left.Add(-n) < 0 {
		b.left.Add(n)
		return false
	}
	return true
}

func (b *budget) give(n int64) { b.left.Add(n) }

// errBusy is readWhole's error when the budget cannot hold the body.
var errBusy = errors.New("request body budget exhausted")

// readWhole reads a body of declared length cl (-1: chunked) whole from
// r, at most limit bytes, charging b with what it holds; it returns the body
// and the bytes charged, which the caller gives back once the body is
// no longer used (also on error: nothing is then charged).
func readWhole(r io.Reader, cl, limit int64, b *budget) (body []byte, charged int64, err error) {
	const chunk = 64 << 10
	if cl >= 0 {
		if !b.take(cl) {
			return nil, 0, errBusy
		}
		body = smallBody(cl)
		n, err := io.ReadFull(r, body)
		if err == io.ErrUnexpectedEOF || (err == nil && int64(n) < cl) {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			b.give(cl)
			return nil, 0, err
		}
		return body, cl, nil
	}
	// Chunked: charged as it grows.
	for {
		if len(body) == cap(body) {
			grow := int64(max(chunk, cap(body))) // doubling, as append
			if int64(cap(body))+grow > limit+1 {
				grow = limit + 1 - int64(cap(body))
			}
			if grow <= 0 {
				b.give(charged)
				return nil, 0, errBodyTooLarge
			}
			if !b.take(grow) {
				b.give(charged)
				return nil, 0, errBusy
			}
			charged += grow
			nb := make([]byte, len(body), int64(cap(body))+grow)
			copy(nb, body)
			body = nb
		}
		n, err := r.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		if int64(len(body)) > limit {
			b.give(charged)
			return nil, 0, errBodyTooLarge
		}
		if err == io.EOF {
			return body, charged, nil
		}
		if err != nil {
			b.give(charged)
			return nil, 0, err
		}
	}
}

// smallBodies holds buffers for bodies of at most prefetched bytes (a
// CreateInvalidation's), which a fast path hands back (recycleBody): the
// fast path takes no allocation per body.
var smallBodies = sync.Pool{New: func() any { b := make([]byte, 0, prefetched); return &b }}

// smallBody returns a buffer of n bytes, pooled when n is small.
func smallBody(n int64) []byte {
	if n > prefetched {
		return make([]byte, n)
	}
	return (*smallBodies.Get().(*[]byte))[:n]
}

// recycleBody hands back a body of smallBody that nothing uses anymore.
func recycleBody(b []byte) {
	if cap(b) == prefetched {
		b = b[:0]
		smallBodies.Put(&b)
	}
}

// pacedBody is a response body written in pieces, each under its own
// write deadline: the server's WriteTimeout bounds one write, not a whole
// large answer to a slow (but reading) client.
type pacedBody struct {
	conn    net.Conn
	timeout time.Duration
	b       []byte
}

// pacedPiece is how much of a paced body goes in one write.
const pacedPiece = 256 << 10

func (p *pacedBody) Read(dst []byte) (int, error) {
	if len(p.b) == 0 {
		return 0, io.EOF
	}
	_ = p.conn.SetWriteDeadline(time.Now().Add(p.timeout))
	n := copy(dst[:min(len(dst), pacedPiece)], p.b)
	p.b = p.b[n:]
	return n, nil
}

// pacedAbove is the raw answer body size over which PaceBody writes it
// as a pacedBody; a smaller one goes in one write under one WriteTimeout.
const pacedAbove = 1 << 20

// PaceBody has ctx's answer body, when it is over 1 MiB, written in
// pieces of 256 KiB, each under its own write deadline (the server's
// write timeout), so that a large answer to a slow client that reads is
// not cut. The body must have been set with SetBodyRaw (a fast path's
// answer from a buffer the server does not own).
func (s *Server) PaceBody(ctx *fasthttp.RequestCtx) {
	if ctx.Response.SkipBody || ctx.Response.IsBodyStream() {
		return
	}
	b := ctx.Response.Body()
	if len(b) <= pacedAbove {
		return
	}
	ctx.Response.SetBodyStream(&pacedBody{conn: ctx.Conn(), timeout: s.writeTimeout, b: b}, len(b))
}
