package edge

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"
)

// passthroughKey carries what rewritePassthrough needs in the request's
// context.
type passthroughKey struct{}

type passthroughInfo struct {
	s      *site
	b      *behavior
	id     string
	target string
	viewer *http.Request
	start  time.Time // when the origin request was about to be made
}

// passthrough sends the viewer's request to the behavior's origin uncached
// and relays the answer.
func (e *Edge) passthrough(w http.ResponseWriter, r *http.Request, s *site, b *behavior, id string) {
	info := passthroughInfo{s: s, b: b, id: id, viewer: r, target: originTarget(b, r.URL.EscapedPath(), r.URL.RawQuery), start: time.Now()}
	ctx := context.WithValue(r.Context(), passthroughKey{}, info)
	ctx = b.withTimeouts(ctx)
	e.proxy.ServeHTTP(w, r.WithContext(ctx))
}

// rewritePassthrough turns a viewer request into its origin request.
func (e *Edge) rewritePassthrough(pr *httputil.ProxyRequest) {
	info := pr.In.Context().Value(passthroughKey{}).(passthroughInfo)
	u, err := url.Parse(originURL(info.b, info.target))
	if err != nil {
		u = info.b.origin // cannot happen: targets are canonical
	}
	pr.Out.URL = u
	pr.Out.Host = info.b.origin.Host
	h := http.Header{}
	if info.b.allHeaders {
		h = pr.Out.Header // hop-by-hop headers already removed
		pr.Out.Host = pr.In.Host
	}
	for _, name := range passedHeaders {
		if name == "Authorization" && (pr.In.Method == http.MethodGet || pr.In.Method == http.MethodHead) {
			continue // CloudFront drops it on GET and HEAD unless forwarded
		}
		if v := pr.In.Header.Values(name); len(v) > 0 {
			h[name] = v
		}
	}
	pr.Out.Header = h
	info.b.forwardViewerHeaders(pr.Out, pr.In)
	// The normalized Accept-Encoding, as for a cached object (compress.go):
	// the origin's answer is relayed with its encoding, which only a
	// viewer accepting gzip may be asked for.
	setOriginAcceptEncoding(info.b, h, info.b.acceptEncoding(pr.In, http.MethodGet))
	e.setOriginHeaders(h, pr.In, info.id)
	e.signOrigin(pr.Out, info.b, pr.In) // last: it signs the headers as sent
}

// stampPassthrough adds the edge's headers to a passthrough's answer, and
// replaces an error the distribution has a custom error page for with it.
func (e *Edge) stampPassthrough(resp *http.Response) error {
	info := resp.Request.Context().Value(passthroughKey{}).(passthroughInfo)
	info.s.ds.metrics.OriginLatency(time.Since(info.start))
	if pg, ok := info.s.page(resp.StatusCode); ok && resp.StatusCode >= 400 {
		if c := e.customResponse(info.viewer, info.s, pg, resp.StatusCode, info.id); c != nil {
			drain(resp.Body)
			resp.StatusCode = c.status
			resp.Status = strconv.Itoa(c.status) + " " + http.StatusText(c.status)
			resp.Header = c.header.Clone()
			resp.Header.Set("Content-Length", strconv.Itoa(len(c.body)))
			resp.ContentLength = int64(len(c.body))
			resp.TransferEncoding = nil
			resp.Trailer = nil
			resp.Body = io.NopCloser(bytes.NewReader(c.body))
			e.stamp(resp.Header, xError, info.id)
			return nil
		}
	}
	xcache := xMiss
	if resp.StatusCode >= 400 {
		xcache = xError
	}
	e.stamp(resp.Header, xcache, info.id)
	e.applyHeadersPolicy(resp.Header, info.viewer, info.b, xcache, max(time.Since(info.start), time.Nanosecond), info.id)
	return nil
}

// passthroughError answers a passthrough whose origin request failed.
func (e *Edge) passthroughError(w http.ResponseWriter, r *http.Request, err error) {
	info := r.Context().Value(passthroughKey{}).(passthroughInfo)
	if r.Context().Err() != nil {
		return // the viewer went away
	}
	e.log.Warn("origin request failed", "distribution", info.s.d.ID, "target", info.target, "err", err)
	status, msg := originStatus(err)
	e.failure(w, r, info.s, status, msg, info.id)
}
