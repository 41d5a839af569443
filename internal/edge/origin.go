package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"time"
)

// errOriginTimeout is what an origin request fails with when the origin
// does not answer, or stops sending, within the origin response timeout.
var errOriginTimeout = errors.New("origin response timeout")

// maxOriginHeaderBytes bounds an origin's response headers; more is a 502.
const maxOriginHeaderBytes = 64 << 10

// newTransport builds the edge's connection pool to origins. Proxies from
// the environment are ignored: an edge talks to its origins directly.
// Compression is off so objects are cached as the origin sends them.
func newTransport(connectTimeout time.Duration, tlsConfig *tls.Config) *http.Transport {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: connectTimeout, KeepAlive: 30 * time.Second}
		if t, ok := ctx.Value(timeoutsKey{}).(timeouts); ok && t.connect > 0 {
			d.Timeout = t.connect
		}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Transport{
		DialContext:            dial,
		TLSClientConfig:        tlsConfig,
		TLSHandshakeTimeout:    connectTimeout,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           512,
		MaxIdleConnsPerHost:    64,
		IdleConnTimeout:        90 * time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxOriginHeaderBytes,
	}
}

// timeoutsKey carries in an origin request's context the settings of the
// origin's configuration: its timeouts, when it sets them, and its
// connection attempts.
type timeoutsKey struct{}

type timeouts struct {
	connect, read time.Duration
	attempts      int
}

// withTimeouts returns ctx carrying the origin's timeouts and connection
// attempts.
func (b *behavior) withTimeouts(ctx context.Context) context.Context {
	if b.connect <= 0 && b.read <= 0 && b.attempts <= 1 {
		return ctx
	}
	return context.WithValue(ctx, timeoutsKey{}, timeouts{b.connect, b.read, b.attempts})
}

// originTransport applies the origin's settings to every origin request:
// a connection that fails, or is not made within the connection timeout,
// is tried again up to the origin's ConnectionAttempts (as long as no byte
// of a request body was sent); the origin response timeout bounds the wait
// for the response headers once connected, then each wait for more of the
// body (CloudFront's origin response timeout is also its "keep-alive
// between packets" limit).
type originTransport struct {
	rt      http.RoundTripper
	timeout time.Duration // the origin response timeout when the origin sets none
	connect time.Duration // the connection timeout when the origin sets none
}

// RoundTrip sends req with the origin's settings applied.
func (t originTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	to, _ := req.Context().Value(timeoutsKey{}).(timeouts)
	timeout, connect := t.timeout, t.connect
	if to.read > 0 {
		timeout = to.read
	}
	if to.connect > 0 {
		connect = to.connect
	}
	var body *onceBody
	if to.attempts > 1 && req.Body != nil && req.Body != http.NoBody {
		body = &onceBody{rc: req.Body}
	}
	for attempt := 1; ; attempt++ {
		resp, err := t.try(req, body, connect, timeout)
		if err == nil {
			return resp, nil
		}
		if attempt >= to.attempts || !dialFailed(err) || errors.Is(err, errOriginTimeout) ||
			req.Context().Err() != nil || (body != nil && body.read.Load()) {
			if body != nil {
				body.rc.Close()
			}
			return nil, err
		}
	}
}

// try makes one attempt. Until a connection is had, the attempt may take
// the connection timeout and the response timeout (the dialer enforces the
// connection timeout itself); from then on the response timeout runs.
func (t originTransport) try(req *http.Request, body *onceBody, connect, timeout time.Duration) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	timer := time.AfterFunc(connect+timeout, func() { cancel(errOriginTimeout) })
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { timer.Reset(timeout) },
	})
	out := req.WithContext(ctx)
	if body != nil {
		out.Body = body
	}
	if out.Body != nil && out.Body != http.NoBody {
		out.Body = &uploadBody{rc: out.Body, timer: timer, timeout: timeout}
	}
	resp, err := t.rt.RoundTrip(out)
	if err != nil {
		timer.Stop()
		if errors.Is(context.Cause(ctx), errOriginTimeout) {
			err = errOriginTimeout
		}
		cancel(nil)
		return nil, err
	}
	timer.Reset(timeout)
	resp.Body = &originBody{rc: resp.Body, timer: timer, timeout: timeout, ctx: ctx, cancel: cancel}
	return resp, nil
}

// onceBody is a request body that may be handed to another connection
// attempt as long as nothing of it was read. The transport closing it
// after a failed attempt does not close the viewer's body.
type onceBody struct {
	rc   io.ReadCloser
	read atomic.Bool
}

func (b *onceBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.rc.Read(p)
}

func (b *onceBody) Close() error { return nil }

// uploadBody is a viewer's request body as it is sent to the origin: it
// streams from the viewer's connection (whose own pace bounds a slow
// viewer), so the origin response timeout stands still while a piece of
// it is awaited, and starts again from each piece sent: it counts from
// the end of the upload, not from the start.
type uploadBody struct {
	rc      io.ReadCloser
	timer   *time.Timer
	timeout time.Duration
}

func (b *uploadBody) Read(p []byte) (int, error) {
	b.timer.Stop()
	n, err := b.rc.Read(p)
	b.timer.Reset(b.timeout)
	return n, err
}

func (b *uploadBody) Close() error { return b.rc.Close() }

// originBody is an origin response body whose every Read must make
// progress within the timeout.
type originBody struct {
	rc      io.ReadCloser
	timer   *time.Timer
	timeout time.Duration
	ctx     context.Context
	cancel  context.CancelCauseFunc
}

func (b *originBody) Read(p []byte) (int, error) {
	b.timer.Reset(b.timeout)
	n, err := b.rc.Read(p)
	if err != nil && err != io.EOF && errors.Is(context.Cause(b.ctx), errOriginTimeout) {
		err = errOriginTimeout
	}
	return n, err
}

func (b *originBody) Close() error {
	b.timer.Stop()
	err := b.rc.Close()
	b.cancel(nil)
	return err
}

// originStatus maps a failed origin request to the edge's error status:
// 504 for a timeout, 502 for anything else.
func originStatus(err error) (int, string) {
	var ne net.Error
	if errors.Is(err, errOriginTimeout) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return http.StatusGatewayTimeout, msgTimeout
	}
	return http.StatusBadGateway, msgBadGateway
}

// originURL is the URL target is fetched from: the scheme, host and path
// (CloudFront's origin path) of the behavior's origin followed by target.
func originURL(b *behavior, target string) string {
	o := b.origin
	return o.Scheme + "://" + o.Host + strings.TrimSuffix(o.EscapedPath(), "/") + target
}

// dialFailed reports whether err is a failure to connect, which CloudFront
// retries up to the origin's ConnectionAttempts.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// setOriginHeaders sets what CloudFront's legacy defaults send to a custom
// origin: no viewer headers but these, the origin's own host as Host (set
// by the caller on the request), User-Agent "Amazon CloudFront", the
// viewer's address appended to X-Forwarded-For, this edge appended to Via,
// and the request id.
func (e *Edge) setOriginHeaders(h http.Header, viewer *http.Request, requestID string) {
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", "Amazon CloudFront")
	}
	h.Set("X-Amz-Cf-Id", requestID)
	via := e.via
	if v := viewer.Header.Get("Via"); v != "" {
		via = v + ", " + via
	}
	h.Set("Via", via)
	if ip, _, err := net.SplitHostPort(viewer.RemoteAddr); err == nil {
		if prior := viewer.Header.Values("X-Forwarded-For"); len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		h.Set("X-Forwarded-For", ip)
	}
}

// passedHeaders are the viewer headers forwarded on requests that bypass
// the cache (OPTIONS and, when allowed, PUT, POST, PATCH and DELETE;
// GET and HEAD of objects too large to cache). Cookies and the other
// viewer headers are not forwarded, as with CloudFront's default of no
// forwarded headers and no cookies.
var passedHeaders = []string{
	"Accept", "Authorization", "Content-Type", "Content-Encoding", "Content-Language",
	"Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers",
	"Range", "If-Range", "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since",
}

// hopHeaders are the hop-by-hop headers a proxy does not pass on
// (RFC 9110, 7.6.1).
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// cleanHeader returns a copy of an origin's response header without the
// hop-by-hop headers and those named in its Connection header.
func cleanHeader(h http.Header) http.Header {
	out := h.Clone()
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				out.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		out.Del(name)
	}
	return out
}
