package edge

import (
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openfront/openfront/internal/policy"
)

// Cache, origin request and response headers policies, as the edge acts
// on them (CloudFront Developer Guide: "Control the cache key with a
// policy", "Control origin requests with a policy", "Add or remove HTTP
// headers in CloudFront responses with a policy").
//
// Cache policy: its TTLs replace the behavior's; its headers (none or a
// whitelist), cookies and query strings (none, whitelist, allExcept, all)
// make the cache key and are sent to the origin; with
// EnableAcceptEncodingGzip or Brotli the viewer's Accept-Encoding is
// normalized (compress.go) into the key and the origin request.
//
// Origin request policy: what the origin gets besides the cache key's
// values. Headers: none, a whitelist, allViewer, allViewerAndWhitelist-
// CloudFront (every viewer header plus the CloudFront-* headers listed)
// or allExcept; cookies and query strings as in a cache policy. What
// neither policy selects is not forwarded: the origin gets its own domain
// as Host unless Host is selected (allViewer selects it), and
// CloudFront's own headers (User-Agent "Amazon CloudFront" unless the
// viewer's is forwarded, Via, X-Forwarded-For, X-Amz-Cf-Id). Cookie is
// not a header here: only the cookie settings forward cookies.
//
// Response headers policy: applied to every response of the behavior
// that comes from the origin or the cache (hits, misses, passthroughs),
// in this order: the headers RemoveHeaders names are removed; the CORS
// headers are added to responses to requests with an Origin header that
// the policy allows; the security and custom headers are added, replacing
// the origin's only with Override; Server-Timing is added to the sampled
// share of responses. A CORS preflight (OPTIONS with Origin and
// Access-Control-Request-Method) on a behavior that allows OPTIONS, whose
// policy has CORS with OriginOverride, is answered by the edge without
// asking the origin.

// Modes of a selection.
const (
	selNone uint8 = iota
	selWhitelist
	selAllExcept
	selAll
)

// sel is a selection of query string parameters or cookies: none, all,
// the names listed, or all but them. Names compare exactly.
type sel struct {
	mode  uint8
	names []string
}

// compileSel compiles a policy's selection.
func compileSel(s policy.Selection) sel {
	switch s.Behavior {
	case policy.Whitelist:
		return sel{mode: selWhitelist, names: s.Names}
	case policy.AllExcept:
		return sel{mode: selAllExcept, names: s.Names}
	case policy.All:
		return sel{mode: selAll}
	}
	return sel{}
}

// keep reports whether the selection has name.
func (s sel) keep(name string) bool {
	switch s.mode {
	case selAll:
		return true
	case selWhitelist:
		return slices.Contains(s.names, name)
	case selAllExcept:
		return !slices.Contains(s.names, name)
	}
	return false
}

// selSet is the union of two selections: the cache key's and the origin
// request policy's.
type selSet [2]sel

func (s selSet) keep(name string) bool { return s[0].keep(name) || s[1].keep(name) }
func (s selSet) all() bool             { return s[0].mode == selAll || s[1].mode == selAll }
func (s selSet) none() bool            { return s[0].mode == selNone && s[1].mode == selNone }

// cachePolicy is a compiled cache policy.
type cachePolicy struct {
	minTTL, defaultTTL, maxTTL int64 // seconds
	gzip, br                   bool
	headers                    []string // canonical, sorted
	cookies, query             sel
}

func compileCachePolicy(p *policy.CachePolicy) *cachePolicy {
	c := &cachePolicy{minTTL: p.MinTTL, defaultTTL: p.DefaultTTL, maxTTL: p.MaxTTL,
		gzip: p.AcceptEncodingGzip, br: p.AcceptEncodingBrotli,
		cookies: compileSel(p.Cookies), query: compileSel(p.QueryStrings)}
	if p.Headers.Behavior == policy.Whitelist {
		for _, h := range p.Headers.Names {
			h = http.CanonicalHeaderKey(h)
			if !slices.Contains(c.headers, h) {
				c.headers = append(c.headers, h)
			}
		}
		slices.Sort(c.headers)
	}
	return c
}

// applyCachePolicy makes b's TTLs and cache key those of p.
func (b *behavior) applyCachePolicy(p *cachePolicy) {
	b.cachePolicy = p
	b.minTTL = time.Duration(p.minTTL) * time.Second
	b.defaultTTL = time.Duration(p.defaultTTL) * time.Second
	b.maxTTL = time.Duration(p.maxTTL) * time.Second
	b.maxTTLSec = p.maxTTL
	b.keyQuery = p.query
	b.originQuery = selSet{p.query, sel{}}
	b.keyCookies = p.cookies
	b.fwdCookies = selSet{p.cookies, sel{}}
	b.setCookie = p.cookies.mode != selNone
	b.headers = p.headers
	b.allHeaders = false
	b.aePolicy, b.aeGzip, b.aeBr = p.gzip || p.br, p.gzip, p.br
	if b.aePolicy {
		// The normalized value is the key's and the origin's; a
		// whitelisted Accept-Encoding would only repeat it.
		b.headers = slices.DeleteFunc(slices.Clone(b.headers), func(h string) bool { return h == "Accept-Encoding" })
	}
}

// originPolicy is a compiled origin request policy.
type originPolicy struct {
	headerMode uint8    // selNone, selWhitelist, selAllExcept, selAll
	names      []string // canonical: the whitelist, the exceptions, or the CloudFront-* headers added to all
	cookies    sel
	query      sel
}

func compileOriginPolicy(p *policy.OriginRequestPolicy) *originPolicy {
	o := &originPolicy{cookies: compileSel(p.Cookies), query: compileSel(p.QueryStrings)}
	switch p.Headers.Behavior {
	case policy.Whitelist:
		o.headerMode = selWhitelist
	case policy.AllExcept:
		o.headerMode = selAllExcept
	case policy.AllViewer, policy.AllViewerAndWhitelistCloudFront:
		o.headerMode = selAll
	}
	if o.headerMode != selNone {
		for _, h := range p.Headers.Names {
			if o.headerMode == selAll && !isCloudFrontHeader(http.CanonicalHeaderKey(h)) {
				continue // allViewer lists nothing; the other lists CloudFront-* headers
			}
			o.names = append(o.names, http.CanonicalHeaderKey(h))
		}
	}
	return o
}

// applyOriginPolicy adds what p forwards to what b's key forwards.
func (b *behavior) applyOriginPolicy(p *originPolicy) {
	b.originPolicy = p
	b.originQuery[1] = p.query
	if b.originQuery[0].mode == selAll {
		b.originQuery[1] = sel{} // the whole query already
	}
	b.fwdCookies[1] = p.cookies
	// setCookie stays the key's: an origin's Set-Cookie kept in an object
	// that viewers with other cookies share would hand one viewer's
	// cookie to the others.
}

// notForwarded are the viewer headers an origin request policy's
// allViewer or allExcept never copies: hop-by-hop headers, those the edge
// sets itself, Cookie (forwarded by the cookie settings only),
// Authorization (CloudFront forwards it only when a cache policy keys on
// it), and the Range and conditional headers, which the edge answers
// from the cache (an origin fill asks for the whole object; requests
// that bypass the cache forward them anyway, see passedHeaders).
var notForwarded = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Cookie": true, "Via": true, "X-Forwarded-For": true, "X-Amz-Cf-Id": true, "Content-Length": true,
	"Authorization": true, "Expect": true, "Range": true, "If-Range": true, "If-None-Match": true,
	"If-Modified-Since": true, "If-Match": true, "If-Unmodified-Since": true,
}

// forward copies to out the viewer headers p selects.
func (p *originPolicy) forward(out *http.Request, r *http.Request) {
	switch p.headerMode {
	case selWhitelist:
		for _, h := range p.names {
			forwardOne(out, r, h)
		}
	case selAll, selAllExcept:
		for k, v := range r.Header {
			if notForwarded[k] || isCloudFrontHeader(k) || (p.headerMode == selAllExcept && slices.Contains(p.names, k)) {
				continue // a viewer's own CloudFront-* header is never passed on as the edge's
			}
			out.Header[k] = v
		}
		if p.headerMode == selAll || !slices.Contains(p.names, "Host") {
			out.Host = r.Host
		}
		if p.headerMode == selAll {
			for _, h := range p.names { // the CloudFront-* headers listed
				forwardOne(out, r, h)
			}
		}
	}
}

// forwardOne copies the viewer's header h (canonical) to out: Host as
// the request's host, CloudFront-* headers as the edge fills them.
func forwardOne(out *http.Request, r *http.Request, h string) {
	switch {
	case h == "Host":
		out.Host = r.Host
	case isCloudFrontHeader(h):
		if v, ok := cloudFrontHeader(h, r); ok {
			out.Header[cloudFrontSpelling(h)] = []string{v}
		}
	default:
		if v := r.Header.Values(h); len(v) > 0 {
			out.Header[h] = v
		}
	}
}

// CloudFront headers.
//
// Of the CloudFront-* headers a policy may select, the edge fills those
// it knows the truth of: CloudFront-Viewer-Address (the viewer's IP and
// port), CloudFront-Forwarded-Proto (http: the viewer listener is plain
// HTTP), CloudFront-Viewer-Http-Version and CloudFront-Viewer-Header-Count.
// The others (device detection, geolocation, TLS, JA3/JA4) are not sent.

// cloudFrontHeaders are the CloudFront-* headers the edge fills, by
// canonical name, with CloudFront's spelling.
var cloudFrontHeaders = map[string]string{
	"Cloudfront-Viewer-Address":      "CloudFront-Viewer-Address",
	"Cloudfront-Forwarded-Proto":     "CloudFront-Forwarded-Proto",
	"Cloudfront-Viewer-Http-Version": "CloudFront-Viewer-Http-Version",
	"Cloudfront-Viewer-Header-Count": "CloudFront-Viewer-Header-Count",
}

// isCloudFrontHeader reports whether the canonical name h is one of
// CloudFront's own request headers, which the edge fills rather than
// copies from the viewer.
func isCloudFrontHeader(h string) bool { return strings.HasPrefix(h, "Cloudfront-") }

// cloudFrontSpelling returns CloudFront's spelling of the canonical h.
func cloudFrontSpelling(h string) string {
	if s, ok := cloudFrontHeaders[h]; ok {
		return s
	}
	return h
}

// cloudFrontHeader returns the value the edge gives the CloudFront header
// h (canonical) for viewer request r; ok is false for one it does not
// fill.
func cloudFrontHeader(h string, r *http.Request) (string, bool) {
	switch h {
	case "Cloudfront-Viewer-Address":
		host, port, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return "", false
		}
		return host + ":" + port, true
	case "Cloudfront-Forwarded-Proto":
		return "http", true
	case "Cloudfront-Viewer-Http-Version":
		return strconv.Itoa(r.ProtoMajor) + "." + strconv.Itoa(r.ProtoMinor), true
	case "Cloudfront-Viewer-Header-Count":
		n := 0
		for _, v := range r.Header {
			n += len(v)
		}
		if r.Host != "" {
			n++ // net/http keeps Host out of the map
		}
		return strconv.Itoa(n), true
	}
	return "", false
}

// headersPolicy is a compiled response headers policy.
type headersPolicy struct {
	cors   *corsPolicy
	set    []setHeader // security headers, then custom headers
	remove []string    // canonical
	// timing is the Server-Timing sampling rate in percent; 0: never.
	timing float64
}

// setHeader is a header the policy adds; with override it replaces the
// origin's.
type setHeader struct {
	key      string // canonical
	vals     []string
	override bool
}

// corsPolicy is a compiled CORS configuration.
type corsPolicy struct {
	origins     []string // as configured; "*" or with a "*." wildcard
	anyOrigin   bool     // "*" is among them
	methods     []string // for Access-Control-Allow-Methods
	headers     []string
	expose      []string
	maxAge      []string // nil when not set
	credentials bool
	override    bool
}

// perRequest reports whether p adds something that depends on the
// request: CORS, or a sampled Server-Timing.
func (p *headersPolicy) perRequest(r *http.Request) bool {
	return p.timing > 0 || (p.cors != nil && len(r.Header["Origin"]) > 0)
}

func compileHeadersPolicy(p *policy.ResponseHeadersPolicy) *headersPolicy {
	h := &headersPolicy{}
	if c := p.CORS; c != nil {
		cp := &corsPolicy{origins: c.AllowOrigins, headers: c.AllowHeaders, expose: c.ExposeHeaders,
			credentials: c.AllowCredentials, override: c.OriginOverride}
		cp.anyOrigin = slices.Contains(c.AllowOrigins, "*")
		for _, m := range c.AllowMethods {
			if strings.EqualFold(m, "ALL") {
				cp.methods = []string{"GET", "DELETE", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}
				break
			}
			cp.methods = append(cp.methods, strings.ToUpper(m))
		}
		if c.MaxAgeSec >= 0 {
			cp.maxAge = []string{strconv.Itoa(c.MaxAgeSec)}
		}
		h.cors = cp
	}
	add := func(key, val string, override bool) {
		h.set = append(h.set, setHeader{key: http.CanonicalHeaderKey(key), vals: []string{val}, override: override})
	}
	if s := p.Security; s != nil {
		if x := s.XSSProtection; x != nil {
			v := "0"
			if x.Protection {
				v = "1"
				if x.ModeBlock {
					v += "; mode=block"
				} else if x.ReportURI != "" {
					v += "; report=" + x.ReportURI
				}
			}
			add("X-XSS-Protection", v, x.Override)
		}
		if f := s.FrameOptions; f != nil {
			add("X-Frame-Options", strings.ToUpper(f.FrameOption), f.Override)
		}
		if r := s.ReferrerPolicy; r != nil {
			add("Referrer-Policy", r.ReferrerPolicy, r.Override)
		}
		if c := s.ContentSecurityPolicy; c != nil {
			add("Content-Security-Policy", c.ContentSecurityPolicy, c.Override)
		}
		if c := s.ContentTypeOptions; c != nil {
			add("X-Content-Type-Options", "nosniff", c.Override)
		}
		if t := s.StrictTransportSecurity; t != nil {
			v := "max-age=" + strconv.Itoa(t.MaxAgeSec)
			if t.IncludeSubdomains {
				v += "; includeSubDomains"
			}
			if t.Preload {
				v += "; preload"
			}
			add("Strict-Transport-Security", v, t.Override)
		}
	}
	for _, c := range p.CustomHeaders {
		add(c.Header, c.Value, c.Override)
	}
	for _, r := range p.RemoveHeaders {
		h.remove = append(h.remove, http.CanonicalHeaderKey(r))
	}
	if st := p.ServerTiming; st != nil && st.Enabled && st.SamplingRate > 0 {
		h.timing = min(st.SamplingRate, 100)
	}
	return h
}

// applyStatic applies to h what p does whatever the request: removals,
// then the security and custom headers.
func (p *headersPolicy) applyStatic(h http.Header) {
	for _, k := range p.remove {
		delete(h, k)
	}
	for _, s := range p.set {
		if _, ok := h[s.key]; ok && !s.override {
			continue
		}
		h[s.key] = s.vals
	}
}

// timingInfo is what a Server-Timing header reports of one answer.
type timingInfo struct {
	xcache string        // X-Cache
	fbl    time.Duration // the origin's first-byte latency; 0 when the origin was not asked
	pop    string
	id     string // X-Amz-Cf-Id
}

// apply applies p to the response header h of viewer request r.
func (p *headersPolicy) apply(h http.Header, r *http.Request, t timingInfo) {
	p.applyStatic(h)
	if p.cors != nil {
		// A preflight the origin answers (no OriginOverride, or OPTIONS
		// cached) gets the preflight's headers the origin did not send.
		p.cors.apply(h, r, isPreflight(r))
	}
	if p.timing > 0 && (p.timing >= 100 || rand.Float64()*100 < p.timing) {
		p.serverTiming(h, t)
	}
}

// serverTiming adds CloudFront's Server-Timing metrics that the edge
// measures: the cache result, the POP, the request id, the layer that
// answered, and on a miss the origin's first-byte latency. They follow
// the origin's own Server-Timing, if any.
func (p *headersPolicy) serverTiming(h http.Header, t timingInfo) {
	var sb strings.Builder
	if t.fbl > 0 {
		sb.WriteString(`cdn-upstream-layer;desc="EDGE",cdn-upstream-fbl;dur=`)
		sb.WriteString(strconv.FormatInt(t.fbl.Milliseconds(), 10))
		sb.WriteByte(',')
	}
	switch t.xcache {
	case xHit:
		sb.WriteString("cdn-cache-hit")
	case xRefreshHit:
		sb.WriteString("cdn-cache-refresh")
	default:
		sb.WriteString("cdn-cache-miss")
	}
	sb.WriteString(`,cdn-pop;desc="`)
	sb.WriteString(t.pop)
	sb.WriteString(`",cdn-rid;desc="`)
	sb.WriteString(t.id)
	sb.WriteByte('"')
	if t.xcache == xHit {
		sb.WriteString(`,cdn-hit-layer;desc="EDGE"`)
	}
	if prior := h["Server-Timing"]; len(prior) > 0 {
		h["Server-Timing"] = []string{strings.Join(prior, ",") + "," + sb.String()}
		return
	}
	h["Server-Timing"] = []string{sb.String()}
}

// allowOrigin returns the Access-Control-Allow-Origin value for a request
// from origin, "" when the policy does not allow it: "*" when any origin
// is allowed (the request's origin when credentials are allowed, which
// "*" may not go with), else the request's origin when it matches one
// listed, exactly or under a "*." wildcard ("https://*.example.com").
// No Vary: Origin is added: CloudFront documents none.
func (c *corsPolicy) allowOrigin(origin string) string {
	if c.anyOrigin {
		if c.credentials {
			return origin
		}
		return "*"
	}
	for _, o := range c.origins {
		if strings.EqualFold(o, origin) {
			return origin
		}
		if pre, suf, ok := strings.Cut(o, "*"); ok && len(origin) > len(pre)+len(suf) &&
			strings.HasPrefix(strings.ToLower(origin), strings.ToLower(pre)) && strings.HasSuffix(strings.ToLower(origin), strings.ToLower(suf)) {
			return origin
		}
	}
	return ""
}

// apply adds the CORS headers to the response header h of r, a request
// with an Origin header (nothing otherwise); preflight adds those of a
// preflight's answer. Without OriginOverride, a header the origin sent
// is kept.
func (c *corsPolicy) apply(h http.Header, r *http.Request, preflight bool) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	allow := c.allowOrigin(origin)
	if allow == "" {
		return
	}
	set := func(k string, v []string) {
		if _, ok := h[k]; ok && !c.override {
			return
		}
		h[k] = v
	}
	set("Access-Control-Allow-Origin", []string{allow})
	if c.credentials {
		set("Access-Control-Allow-Credentials", []string{"true"})
	}
	if preflight {
		if len(c.methods) > 0 {
			set("Access-Control-Allow-Methods", []string{strings.Join(c.methods, ", ")})
		}
		if len(c.headers) > 0 {
			set("Access-Control-Allow-Headers", []string{strings.Join(c.headers, ", ")})
		}
		if c.maxAge != nil {
			set("Access-Control-Max-Age", c.maxAge)
		}
	} else if len(c.expose) > 0 {
		set("Access-Control-Expose-Headers", []string{strings.Join(c.expose, ", ")})
	}
}

// isPreflight reports whether r is a CORS preflight request.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// answersPreflight reports whether the edge answers r, a request the
// behavior allows, itself: a CORS preflight under a response headers
// policy whose CORS configuration has OriginOverride.
func (b *behavior) answersPreflight(r *http.Request) bool {
	p := b.headersPolicy
	return p != nil && p.cors != nil && p.cors.override && isPreflight(r)
}

// preflight answers a CORS preflight at the edge: 200, no body, the CORS
// headers of a preflight's answer and the policy's other headers.
func (e *Edge) preflight(w http.ResponseWriter, r *http.Request, b *behavior, id string) {
	h := w.Header()
	p := b.headersPolicy
	p.applyStatic(h)
	p.cors.apply(h, r, true)
	e.stamp(h, xMiss, id)
	if p.timing > 0 && (p.timing >= 100 || rand.Float64()*100 < p.timing) {
		p.serverTiming(h, timingInfo{xcache: xMiss, pop: e.pop, id: id})
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// applyHeadersPolicy applies b's response headers policy, if any, to the
// response header h of viewer request r.
func (e *Edge) applyHeadersPolicy(h http.Header, r *http.Request, b *behavior, xcache string, fbl time.Duration, id string) {
	if b == nil || b.headersPolicy == nil {
		return
	}
	b.headersPolicy.apply(h, r, timingInfo{xcache: xcache, fbl: fbl, pop: e.pop, id: id})
}
