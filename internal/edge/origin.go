package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/openfront/openfront/internal/distribution"
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

// timeoutsKey carries in an origin request's context the timeouts of the
// origin's configuration, when it sets them.
type timeoutsKey struct{}

type timeouts struct{ connect, read time.Duration }

// withTimeouts returns ctx carrying the origin's timeouts.
func (b *behavior) withTimeouts(ctx context.Context) context.Context {
	if b.connect <= 0 && b.read <= 0 {
		return ctx
	}
	return context.WithValue(ctx, timeoutsKey{}, timeouts{b.connect, b.read})
}

// originTransport applies the origin response timeout to every origin
// request: to the wait for the response headers, then to each wait for
// more of the body (CloudFront's origin response timeout is also its
// "keep-alive between packets" limit).
type originTransport struct {
	rt      http.RoundTripper
	timeout time.Duration
}

// RoundTrip sends req with the timeouts applied.
func (t originTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	timeout := t.timeout
	if to, ok := req.Context().Value(timeoutsKey{}).(timeouts); ok && to.read > 0 {
		timeout = to.read
	}
	ctx, cancel := context.WithCancelCause(req.Context())
	timer := time.AfterFunc(timeout, func() { cancel(errOriginTimeout) })
	resp, err := t.rt.RoundTrip(req.WithContext(ctx))
	if err != nil {
		timer.Stop()
		if errors.Is(context.Cause(ctx), errOriginTimeout) {
			err = errOriginTimeout
		}
		cancel(nil)
		return nil, err
	}
	resp.Body = &originBody{rc: resp.Body, timer: timer, timeout: timeout, ctx: ctx, cancel: cancel}
	return resp, nil
}

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

// originURL is the URL target is fetched from: the origin's scheme, host
// and path (CloudFront's origin path) followed by target.
func originURL(d *distribution.Distribution, target string) string {
	o := d.Origin
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
