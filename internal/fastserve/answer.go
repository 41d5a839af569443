package fastserve

import (
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// Answer is a request as the server answered it, handed to
// Config.Finished once per request that reached the fast path or the
// handler (requests fasthttp could not read are not). Request and
// Response are read only, and valid during the call only.
type Answer struct {
	ConnID   uint64   // the connection's id (fasthttp's), unique per server
	Remote   net.Addr // the client's address
	Request  *fasthttp.RequestHeader
	Response *fasthttp.ResponseHeader
	// Status is the answer's status; 0 when none was sent (the handler
	// panicked before answering).
	Status int
	// Start is when the request had been read; FirstByte is when the
	// answer's header was handed to the connection, End when its last
	// byte was (as seen by the server: its buffers may still hold some).
	Start, FirstByte, End time.Time
	// HeaderBytes and BodyBytes are what was sent (the header as
	// serialized, without a chunked body's framing); RequestBytes what
	// was received, head and body.
	HeaderBytes  int
	BodyBytes    int64
	RequestBytes int64
	// Complete is false when the answer was cut short: the client went
	// away, the handler panicked, a streamed body failed.
	Complete bool
	// Body is the answer's body when it was held whole (not streamed);
	// read only, valid during the call.
	Body []byte
}

// requestBytes is the size of ctx's request as received: request line,
// header lines, the blank line and the body.
func requestBytes(rh *fasthttp.RequestHeader, body int) int64 {
	// "GET /x HTTP/1.1\r\n" + the raw header lines with the blank line
	n := len(rh.Method()) + 1 + len(rh.RequestURI()) + 1 + len(rh.Protocol()) + 2 + len(rh.RawHeaders())
	return int64(n + body)
}

// headerBytes is the size of the answer's header as the server will write
// it (ResponseHeader.AppendBytes), with the Connection header it adds after
// the handler. It adds up the lines rather than serializing them, which
// costs about twice as much.
func headerBytes(ctx *fasthttp.RequestCtx) int {
	h := &ctx.Response.Header
	code := h.StatusCode()
	msg := len(h.StatusMessage())
	if msg == 0 {
		msg = len(fasthttp.StatusMessage(code))
	}
	// "HTTP/1.1 200 OK\r\n", "Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n"
	n := len(h.Protocol()) + len(" 200 ") + msg + 2 + len("Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n")
	for k, v := range h.All() {
		n += len(k) + 2 + len(v) + 2
	}
	n += 2
	switch {
	case h.ConnectionClose():
	case ctx.Request.Header.ConnectionClose():
		n += len("Connection: close\r\n")
	case !ctx.Request.Header.IsHTTP11():
		n += len("Connection: keep-alive\r\n")
	}
	return n
}

// answered reports ctx's answer, written or about to be by the server, to
// Finished.
func (s *Server) answered(ctx *fasthttp.RequestCtx) { s.report(ctx, true) }

// report tells Finished of ctx's answer; of none (status 0) when not
// answered.
func (s *Server) report(ctx *fasthttp.RequestCtx, answered bool) {
	s.reportAt(ctx, answered, time.Now())
}

// reportAt is report with the time the answer was ready.
func (s *Server) reportAt(ctx *fasthttp.RequestCtx, answered bool, now time.Time) {
	if st := ctx.Response.StatusCode(); answered && !ctx.Response.SkipBody && bodyAllowedForStatus(st) {
		// What the server's write sets anyway, so that the header counted
		// has it.
		ctx.Response.Header.SetContentLength(len(ctx.Response.Body()))
	}
	a := Answer{
		ConnID:       ctx.ConnID(),
		Remote:       ctx.RemoteAddr(),
		Request:      &ctx.Request.Header,
		Response:     &ctx.Response.Header,
		Status:       ctx.Response.StatusCode(),
		Start:        ctx.Time(),
		FirstByte:    now,
		End:          now,
		HeaderBytes:  headerBytes(ctx),
		RequestBytes: requestBytes(&ctx.Request.Header, max(ctx.Request.Header.ContentLength(), len(ctx.Request.Body()))),
		Complete:     true,
	}
	switch {
	case !answered:
		a.Status, a.HeaderBytes, a.Complete = 0, 0, false
	case !ctx.Response.SkipBody:
		a.Body = ctx.Response.Body()
		a.BodyBytes = int64(len(a.Body))
	}
	s.finished(&a)
}

// later is an answer whose body is still to be sent (streamed, or written
// on the hijacked connection): its request and header are copied, and
// Finished is called once the body is done.
type later struct {
	s    *Server
	a    Answer
	req  fasthttp.RequestHeader
	resp fasthttp.ResponseHeader
}

// answerLater starts a later answer for ctx, whose header is set; nil when
// there is no Finished. hdr is the header's size when the bridge writes it
// itself, else 0.
func (s *Server) answerLater(ctx *fasthttp.RequestCtx, hdr int) *later {
	if s.finished == nil {
		return nil
	}
	l := &later{s: s}
	ctx.Request.Header.CopyTo(&l.req)
	ctx.Response.Header.CopyTo(&l.resp)
	now := time.Now()
	l.a = Answer{
		ConnID:       ctx.ConnID(),
		Remote:       ctx.RemoteAddr(),
		Request:      &l.req,
		Response:     &l.resp,
		Status:       ctx.Response.StatusCode(),
		Start:        ctx.Time(),
		FirstByte:    now,
		HeaderBytes:  headerBytes(ctx),
		RequestBytes: requestBytes(&ctx.Request.Header, max(ctx.Request.Header.ContentLength(), len(ctx.Request.Body()))),
	}
	if hdr > 0 {
		l.a.HeaderBytes = hdr
	}
	return l
}

// done reports the later answer, sent bytes of its body and whether the
// body was sent whole.
func (l *later) done(sent int64, complete bool) {
	if l == nil {
		return
	}
	l.a.End = time.Now()
	l.a.BodyBytes = sent
	l.a.Complete = complete
	l.s.finished(&l.a)
}
