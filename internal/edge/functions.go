package edge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/function"
	fnrt "github.com/openfront/openfront/internal/function/runtime"
	"github.com/openfront/openfront/internal/resource"
)

// CloudFront Functions at the edge.
//
// Functions reach the edge as resources (kind resource.Function, Id the
// function's name) and are compiled once per version of their LIVE
// stage: a resource whose LIVE ETag the edge already compiled keeps its
// program. A behavior's FunctionAssociations name functions by ARN; the
// behavior finds them in the resources table its site was compiled
// against, so publishing new code takes effect on the next request,
// without a new version of the distribution.
//
// For each request of a behavior with a viewer-request function, the
// function runs before anything else the behavior does (the cache lookup
// included): the request it returns (uri, querystring, headers, cookies)
// is what the cache key and the origin see; a response it returns goes to
// the viewer with X-Cache: FunctionGeneratedResponse from cloudfront,
// without the cache or the origin. A viewer-response function runs on
// every response under 400 (hits and misses; CloudFront runs none for
// errors) before its headers are written, and may change the status and
// headers or replace the body. A function that throws, returns something
// invalid, exhausts its budget, or is not known to the edge (or does not
// compile) gets CloudFront's 503 page.

// edgeFunction is a function's LIVE stage as the edge runs it; immutable.
type edgeFunction struct {
	name string
	etag string        // the LIVE stage's ETag
	prog *fnrt.Program // nil when err is set
	err  error         // why it cannot run (not published, does not compile)
}

// compileFunction compiles r's LIVE stage, reusing old's program when it
// is the same version.
func (e *Edge) compileFunction(r resource.Resource, old *edgeFunction) (*edgeFunction, error) {
	var f function.Function
	if err := json.Unmarshal(r.Config, &f); err != nil {
		return nil, fmt.Errorf("function %s: %w", r.ID, err)
	}
	if f.Live == nil {
		return &edgeFunction{name: r.ID, err: errors.New("the function is not published")}, nil
	}
	if old != nil && old.etag == f.Live.ETag && old.etag != "" {
		return old, nil
	}
	p, err := fnrt.CompileCode(f.Live, e.fnBudget)
	if err != nil {
		e.log.Warn("CloudFront function does not compile", "function", r.ID, "etag", f.Live.ETag, "err", err)
	}
	return &edgeFunction{name: r.ID, etag: f.Live.ETag, prog: p, err: err}, nil
}

// fnRef is a behavior's association: the function the edge knows by that
// name, or nil (it then answers 503).
type fnRef struct {
	name string
	f    *edgeFunction
}

// functionsOf finds the behavior's associations in res.
func functionsOf(assocs []distribution.FunctionAssociation, res *resources) (req, resp *fnRef) {
	for _, a := range assocs {
		name, ok := function.NameFromARN(a.FunctionARN)
		ref := &fnRef{name: name}
		if ok && res != nil {
			ref.f = res.fns[name]
		}
		switch a.EventType {
		case function.ViewerRequest:
			req = ref
		case function.ViewerResponse:
			resp = ref
		}
	}
	return req, resp
}

// program returns the function's program, or why it cannot run.
func (f *fnRef) program() (*fnrt.Program, error) {
	switch {
	case f.f == nil:
		return nil, fmt.Errorf("function %q is not known to this edge", f.name)
	case f.f.err != nil:
		return nil, f.f.err
	}
	return f.f.prog, nil
}

// X-Cache values of function outcomes.
const (
	xFunctionResponse = "FunctionGeneratedResponse from cloudfront"
	xFunctionError    = "FunctionExecutionError from cloudfront"
	xFunctionThrottle = "FunctionThrottledError from cloudfront"
)

// msgFunction is the text of CloudFront's page for a function that could
// not run.
const msgFunction = "The CloudFront function associated with the CloudFront distribution is invalid or could not run.\nWe can't connect to the server for this app or website at this time. There might be too much traffic or a configuration error. Try again later, or contact the app or website owner."

// functionFailed answers a request whose function failed with CloudFront's
// 503 and logs why.
func (e *Edge) functionFailed(w http.ResponseWriter, r *http.Request, s *site, f *fnRef, event, id string, err error) {
	e.log.Warn("CloudFront function failed", "distribution", s.d.ID, "function", f.name, "event", event, "request_id", id, "err", err)
	xcache := xFunctionError
	if strings.Contains(err.Error(), "compute utilization") {
		xcache = xFunctionThrottle
	}
	c := edgeError(http.StatusServiceUnavailable, msgFunction, id)
	h := w.Header()
	clear(h)
	for k, v := range c.header {
		h[k] = v[:len(v):len(v)]
	}
	e.stamp(h, xcache, id)
	writeBody(w, r, c.status, c.body)
	s.ds.metrics.Request(ResultError)
}

// viewerIP is the viewer's address as the event's viewer.ip has it.
func viewerIP(r *http.Request) string {
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return ip
	}
	return r.RemoteAddr
}

// fnCarry is a viewer-request function's run that the viewer listener's
// fast path made and left to ServeHTTP (a miss, a generated response, a
// failure: serveFunctionFast): ServeHTTP goes on from its outcome rather
// than running the function again, under the same request id.
type fnCarry struct {
	f   *fnRef     // the association the function ran for
	rid *requestID // the event's requestId, the answer's X-Amz-Cf-Id
	out fnrt.Outcome
	err error
}

// callViewerRequest runs b's viewer-request function on r, whose
// normalized path is rawPath.
func (e *Edge) callViewerRequest(ctx context.Context, r *http.Request, s *site, b *behavior, rawPath, id string) (fnrt.Outcome, error) {
	prog, err := b.fnRequest.program()
	if err != nil {
		return fnrt.Outcome{}, err
	}
	ev := &fnrt.Event{
		Context: fnrt.EventContext{DistributionDomainName: s.d.Domain, DistributionID: s.d.ID,
			EventType: function.ViewerRequest, RequestID: id},
		ViewerIP: viewerIP(r),
		Request:  requestEvent(r, rawPath),
	}
	return prog.Handle(ctx, ev, e.kv)
}

// runViewerRequest runs b's viewer-request function on r, or goes on from
// the run c carried (nil: none). It returns the request to serve, or nil
// when it answered the viewer (a function-generated response, or the 503
// of a failure).
func (e *Edge) runViewerRequest(w http.ResponseWriter, r *http.Request, s *site, b *behavior, rawPath, id string, c *fnCarry) (*http.Request, string) {
	f := b.fnRequest
	var out fnrt.Outcome
	var err error
	if c != nil {
		out, err = c.out, c.err
	} else {
		out, err = e.callViewerRequest(r.Context(), r, s, b, rawPath, id)
	}
	if err != nil {
		e.functionFailed(w, r, s, f, function.ViewerRequest, id, err)
		return nil, ""
	}
	if resp := out.Response; resp != nil {
		h := w.Header()
		writeFields(h, resp.Headers)
		writeSetCookies(h, resp.Cookies)
		e.stamp(h, xFunctionResponse, id)
		writeBody(w, r, resp.StatusCode, resp.Body)
		s.ds.metrics.Request(ResultHit)
		return nil, ""
	}
	return applyRequest(r, out.Request, queryOrder(r.URL.RawQuery)), out.Request.URI
}

// requestEvent is r as event.request: the normalized path, the query
// string as received (values still percent-encoded), lower-case headers
// but Cookie, which becomes cookies.
func requestEvent(r *http.Request, rawPath string) fnrt.Request {
	req := fnrt.Request{Method: r.Method, URI: rawPath, Headers: make(fnrt.Fields, len(r.Header)+1)}
	for rest := r.URL.RawQuery; rest != ""; {
		var kv string
		kv, rest, _ = strings.Cut(rest, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if req.Querystring == nil {
			req.Querystring = fnrt.Fields{}
		}
		addField(req.Querystring, k, v)
	}
	req.Headers["host"] = fnrt.Field{Value: r.Host}
	for k, vs := range r.Header {
		if k == "Cookie" {
			continue
		}
		lk := strings.ToLower(k)
		for _, v := range vs {
			addField(req.Headers, lk, v)
		}
	}
	if len(r.Header["Cookie"]) > 0 {
		req.Cookies = fnrt.Fields{}
		for _, c := range r.Cookies() {
			addField(req.Cookies, c.Name, c.Value)
		}
	}
	return req
}

// addField adds a value to fs[name], with multiValue from the second on.
func addField(fs fnrt.Fields, name, value string) {
	f, ok := fs[name]
	if !ok {
		fs[name] = fnrt.Field{Value: value}
		return
	}
	if len(f.MultiValue) == 0 {
		f.MultiValue = []fnrt.Field{{Value: f.Value}}
	}
	f.MultiValue = append(f.MultiValue, fnrt.Field{Value: value})
	fs[name] = f
}

// queryOrder lists the names of a query string in order, once each.
func queryOrder(raw string) []string {
	var names []string
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, _, _ := strings.Cut(kv, "=")
		if k != "" && !slices.Contains(names, k) {
			names = append(names, k)
		}
	}
	return names
}

// values returns f's values: each of multiValue, or value alone.
func values(f fnrt.Field) []string {
	if len(f.MultiValue) == 0 {
		return []string{f.Value}
	}
	out := make([]string, len(f.MultiValue))
	for i, m := range f.MultiValue {
		out[i] = m.Value
	}
	return out
}

// applyRequest returns r as the function left it: a shallow copy with the
// new path, query string (parameters in their original order, new ones
// after, sorted, so that equal requests share a cache key), headers and
// cookies. The Host the distribution was chosen by stays.
func applyRequest(r *http.Request, fr *fnrt.Request, qorder []string) *http.Request {
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.RawPath = fr.URI
	if p, err := url.PathUnescape(fr.URI); err == nil {
		u.Path = p
	} else {
		u.Path = fr.URI
	}
	names := make([]string, 0, len(fr.Querystring))
	for _, k := range qorder {
		if _, ok := fr.Querystring[k]; ok {
			names = append(names, k)
		}
	}
	var extra []string
	for k := range fr.Querystring {
		if !slices.Contains(qorder, k) {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	var qs strings.Builder
	for _, k := range append(names, extra...) {
		for _, v := range values(fr.Querystring[k]) {
			if qs.Len() > 0 {
				qs.WriteByte('&')
			}
			qs.WriteString(k)
			qs.WriteByte('=')
			qs.WriteString(v)
		}
	}
	u.RawQuery = qs.String()
	r2.URL = &u
	r2.RequestURI = u.RequestURI()
	h := make(http.Header, len(fr.Headers)+1)
	for k, f := range fr.Headers {
		if k == "host" {
			continue
		}
		h[http.CanonicalHeaderKey(k)] = values(f)
	}
	if len(fr.Cookies) > 0 {
		names := make([]string, 0, len(fr.Cookies))
		for k := range fr.Cookies {
			names = append(names, k)
		}
		slices.Sort(names)
		var cs strings.Builder
		for _, k := range names {
			for _, v := range values(fr.Cookies[k]) {
				if cs.Len() > 0 {
					cs.WriteString("; ")
				}
				cs.WriteString(k + "=" + v)
			}
		}
		h["Cookie"] = []string{cs.String()}
	}
	r2.Header = h
	return r2
}

// writeFields sets response headers from a function's fields.
func writeFields(h http.Header, fs fnrt.Fields) {
	for k, f := range fs {
		if readOnlyResponseHeader(k) {
			continue
		}
		h[http.CanonicalHeaderKey(k)] = values(f)
	}
}

// readOnlyResponseHeader are the headers a function may not set: the
// framing ones, which the edge computes.
func readOnlyResponseHeader(k string) bool {
	switch strings.ToLower(k) {
	case "content-length", "transfer-encoding", "connection", "upgrade", "keep-alive":
		return true
	}
	return false
}

// writeSetCookies sets Set-Cookie from a response's cookies.
func writeSetCookies(h http.Header, cs fnrt.Fields) {
	if len(cs) == 0 {
		return
	}
	names := make([]string, 0, len(cs))
	for k := range cs {
		names = append(names, k)
	}
	slices.Sort(names)
	var out []string
	for _, k := range names {
		f := cs[k]
		fs := f.MultiValue
		if len(fs) == 0 {
			fs = []fnrt.Field{f}
		}
		for _, c := range fs {
			v := k + "=" + c.Value
			if c.Attributes != "" {
				v += "; " + c.Attributes
			}
			out = append(out, v)
		}
	}
	h["Set-Cookie"] = out
}

// responseWriter runs a viewer-response function when the response's
// status is written, and writes what the function returned instead.
type responseWriter struct {
	http.ResponseWriter
	e       *Edge
	r       *http.Request // the viewer's request, as the viewer-request function left it
	rawPath string
	s       *site
	f       *fnRef
	id      string
	wrote   bool // WriteHeader was called
	discard bool // the body written is not the viewer's: the function replaced it
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (fw *responseWriter) Unwrap() http.ResponseWriter { return fw.ResponseWriter }

// Flush flushes the underlying writer once the header is written.
func (fw *responseWriter) Flush() {
	if !fw.wrote {
		fw.WriteHeader(http.StatusOK)
	}
	if fl, ok := fw.ResponseWriter.(http.Flusher); ok && !fw.discard {
		fl.Flush()
	}
}

func (fw *responseWriter) Write(p []byte) (int, error) {
	if !fw.wrote {
		fw.WriteHeader(http.StatusOK)
	}
	if fw.discard {
		return len(p), nil
	}
	return fw.ResponseWriter.Write(p)
}

func (fw *responseWriter) WriteHeader(status int) {
	if fw.wrote {
		return
	}
	fw.wrote = true
	if status < 200 || status >= 400 {
		fw.ResponseWriter.WriteHeader(status)
		return
	}
	h := fw.Header()
	resp := &fnrt.Response{StatusCode: status, StatusDescription: http.StatusText(status),
		Headers: make(fnrt.Fields, len(h)), Cookies: fnrt.Fields{}}
	for k, vs := range h {
		if k == "Set-Cookie" {
			continue
		}
		lk := strings.ToLower(k)
		for _, v := range vs {
			addField(resp.Headers, lk, v)
		}
	}
	for _, c := range (&http.Response{Header: h}).Cookies() {
		f := fnrt.Field{Value: c.Value, Attributes: cookieAttributes(c)}
		if old, ok := resp.Cookies[c.Name]; ok {
			if len(old.MultiValue) == 0 {
				old.MultiValue = []fnrt.Field{old}
			}
			old.MultiValue = append(old.MultiValue, f)
			resp.Cookies[c.Name] = old
			continue
		}
		resp.Cookies[c.Name] = f
	}
	ev := &fnrt.Event{
		Context: fnrt.EventContext{DistributionDomainName: fw.s.d.Domain, DistributionID: fw.s.d.ID,
			EventType: function.ViewerResponse, RequestID: fw.id},
		ViewerIP: viewerIP(fw.r),
		Request:  requestEvent(fw.r, fw.rawPath),
		Response: resp,
	}
	prog, err := fw.f.program()
	var out fnrt.Outcome
	if err == nil {
		out, err = prog.Handle(fw.r.Context(), ev, fw.e.kv)
	}
	if err != nil {
		fw.discard = true
		fw.e.functionFailed(fw.ResponseWriter, fw.r, fw.s, fw.f, function.ViewerResponse, fw.id, err)
		return
	}
	got := out.Response
	// The function's headers replace the response's, but for the framing
	// headers the edge keeps.
	for k := range h {
		if !readOnlyResponseHeader(k) {
			delete(h, k)
		}
	}
	writeFields(h, got.Headers)
	writeSetCookies(h, got.Cookies)
	if got.HasBody {
		fw.discard = true
		h.Del("Content-Encoding")
		h.Set("Content-Length", strconv.Itoa(len(got.Body)))
		fw.ResponseWriter.WriteHeader(got.StatusCode)
		if fw.r.Method != http.MethodHead {
			_, _ = fw.ResponseWriter.Write(got.Body)
		}
		return
	}
	fw.ResponseWriter.WriteHeader(got.StatusCode)
}

// cookieAttributes are a Set-Cookie's attributes as the event has them.
func cookieAttributes(c *http.Cookie) string {
	s := c.String()
	_, attrs, _ := strings.Cut(s, "; ")
	return attrs
}
