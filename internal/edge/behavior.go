package edge

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/signing"
)

// cachingDisabledPolicy is the Id of CloudFront's managed cache policy
// "CachingDisabled".
const cachingDisabledPolicy = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"

// site is what the edge acts on of one version of a distribution's
// configuration: its cache behaviors, in CloudFront's order, and its custom
// error responses. It is built once per version and per version of the
// edge's resources (Edge.site), and immutable.
type site struct {
	d         *distribution.Distribution // the version it was built from
	res       *resources                 // the resources it was built with
	ds        *distState                 // the distribution's cache state; set by Edge.site
	behaviors []behavior                 // CacheBehaviors, in order
	def       behavior                   // DefaultCacheBehavior
	pages     map[int]errorPage          // ErrorCode -> custom error page
}

// errorPage is a CustomErrorResponse with a ResponsePagePath.
type errorPage struct {
	path   string // ResponsePagePath, with a leading '/'
	status int    // ResponseCode; the origin's status when 0
}

// newSite compiles d's configuration against the edge's resources res
// (nil: none).
func newSite(d *distribution.Distribution, res *resources) *site {
	c := &d.Config
	s := &site{d: d, res: res, def: compileBehavior(d, &c.DefaultBehavior, res)}
	if s.def.origin == nil {
		s.def.origin = d.Origin // a distribution built without Origins
	}
	for i := range c.Behaviors {
		s.behaviors = append(s.behaviors, compileBehavior(d, &c.Behaviors[i], res))
	}
	for _, er := range c.CustomErrorResponses {
		if er.ResponsePagePath == "" {
			continue
		}
		if s.pages == nil {
			s.pages = map[int]errorPage{}
		}
		p := errorPage{path: "/" + strings.TrimPrefix(er.ResponsePagePath, "/")}
		if n, err := strconv.Atoi(strings.TrimSpace(er.ResponseCode)); err == nil && n >= 100 && n <= 599 {
			p.status = n
		}
		if _, dup := s.pages[er.ErrorCode]; !dup {
			s.pages[er.ErrorCode] = p
		}
	}
	return s
}

// match returns the behavior CloudFront applies to a request for rawPath
// (escaped, as sent): the first path-pattern behavior whose pattern
// matches its normalized form (path.go), else the default behavior.
func (s *site) match(rawPath string) *behavior {
	if len(s.behaviors) == 0 {
		return &s.def
	}
	p := normalizePath(rawPath)
	for i := range s.behaviors {
		if matchPattern(s.behaviors[i].pattern, p) {
			return &s.behaviors[i]
		}
	}
	return &s.def
}

// page returns the custom error page configured for status, if any.
func (s *site) page(status int) (errorPage, bool) {
	p, ok := s.pages[status]
	return p, ok
}

// methods is a set of HTTP methods.
type methods uint8

const (
	mGet methods = 1 << iota
	mHead
	mOptions
	mPut
	mPost
	mPatch
	mDelete
)

func methodBit(m string) methods {
	switch strings.ToUpper(m) {
	case http.MethodGet:
		return mGet
	case http.MethodHead:
		return mHead
	case http.MethodOptions:
		return mOptions
	case http.MethodPut:
		return mPut
	case http.MethodPost:
		return mPost
	case http.MethodPatch:
		return mPatch
	case http.MethodDelete:
		return mDelete
	}
	return 0
}

// behavior is what the edge acts on of one cache behavior: its path
// pattern, the origin it targets, its methods, cache key and TTLs, and the
// distribution-wide settings every behavior shares (default root object,
// error caching TTLs).
type behavior struct {
	pattern       []patternPart // compiled PathPattern; nil for the default behavior
	origin        *url.URL      // the target origin's base URL; nil if none has the Id
	originHeaders []distribution.Header
	connect, read time.Duration // the origin's timeouts; 0: the edge's defaults
	attempts      int           // connection attempts, at least 1

	keyQuery    sel    // the query string parameters in the cache key
	originQuery selSet // those the origin is sent: the key's and the origin request policy's
	rootObject  string

	allowed       methods // AllowedMethods; GET and HEAD always
	cachedOptions bool    // OPTIONS is among CachedMethods: its answers are cached
	noCache       bool    // CachingDisabled, MaxTTL 0, or every header forwarded

	headers    []string // forwarded headers, canonical names, sorted: part of the key
	allHeaders bool     // "*": every viewer header is forwarded
	keyCookies sel      // the cookies in the cache key
	fwdCookies selSet   // those the origin is sent: the key's and the origin request policy's
	setCookie  bool     // the origin's Set-Cookie is kept in objects: cookies are in the key

	// The behavior's policies found in the edge's resources (policies.go);
	// nil when it names none or one the edge does not know.
	cachePolicy   *cachePolicy
	originPolicy  *originPolicy
	headersPolicy *headersPolicy
	// aePolicy: the cache policy normalizes Accept-Encoding (aeGzip,
	// aeBr) into the key and the origin request (compress.go).
	aePolicy, aeGzip, aeBr bool

	minTTL, defaultTTL, maxTTL time.Duration
	maxTTLSec                  int64 // MaxTTL as configured: 0 caches nothing
	errorTTL                   []distribution.ErrorResponse

	compress bool // Compress: gzip for viewers that accept it (compress.go)

	// trust: the behavior serves only signed requests, signed by one of
	// these keys (signed.go); nil when it is not restricted.
	trust signing.Trust
	// The behavior's CloudFront Functions (functions.go); nil for none.
	fnRequest, fnResponse *fnRef

	oac  string   // the origin's OriginAccessControlID; "" for none
	s3   s3Domain // what the origin's domain name says, when s3ok
	s3ok bool     // the origin's domain name is an S3 bucket's (s3origin.go)
}

// behaviorOf derives d's default behavior.
func behaviorOf(d *distribution.Distribution) behavior {
	return newSite(d, nil).def
}

// compileBehavior derives a behavior of d, with the policies it names
// found in res (nil: none known). Missing values take CloudFront's
// defaults (those of distribution.FromFile).
//
// A behavior whose CachePolicyId names a cache policy the edge knows takes
// its TTLs and cache key from it (policies.go); one naming a policy the
// edge does not know (a managed one not stored as a resource) keeps the
// TTLs and query string setting the protocol layer derived for it, with
// no headers or cookies in the key.
func compileBehavior(d *distribution.Distribution, cb *distribution.CacheBehavior, res *resources) behavior {
	c := &d.Config
	b := behavior{
		pattern:    compilePattern(cb.PathPattern),
		attempts:   1,
		rootObject: strings.TrimPrefix(c.DefaultRootObject, "/"),
		allowed:    mGet | mHead,
		minTTL:     time.Duration(cb.MinTTL) * time.Second,
		defaultTTL: time.Duration(cb.DefaultTTL) * time.Second,
		maxTTL:     time.Duration(cb.MaxTTL) * time.Second,
		maxTTLSec:  cb.MaxTTL,
		errorTTL:   c.CustomErrorResponses,
		noCache:    cb.CachePolicyID == cachingDisabledPolicy,
		compress:   cb.Compress,
	}
	switch {
	case !cb.ForwardQueryString:
	case len(cb.QueryStringCacheKeys) > 0:
		b.keyQuery = sel{mode: selWhitelist, names: cb.QueryStringCacheKeys}
	default:
		b.keyQuery = sel{mode: selAll}
	}
	// Legacy settings send the origin the whole query string when any of
	// it is in the key (QueryStringCacheKeys narrows the key only).
	if b.keyQuery.mode != selNone {
		b.originQuery = selSet{sel{mode: selAll}, sel{}}
	}
	switch cb.ForwardCookies {
	case "all":
		b.keyCookies = sel{mode: selAll}
	case "whitelist":
		b.keyCookies = sel{mode: selWhitelist, names: cb.CookieNames}
	}
	b.fwdCookies = selSet{b.keyCookies, sel{}}
	b.setCookie = b.keyCookies.mode != selNone
	for _, h := range cb.ForwardedHeaders {
		if h == "*" {
			b.allHeaders, b.noCache = true, true
			continue
		}
		b.headers = append(b.headers, http.CanonicalHeaderKey(h))
	}
	slices.Sort(b.headers)
	if cp := res.cachePolicy(cb.CachePolicyID); cp != nil {
		b.applyCachePolicy(cp)
	}
	if op := res.originPolicy(cb.OriginRequestPolicyID); op != nil {
		b.applyOriginPolicy(op)
	}
	b.headersPolicy = res.headersPolicy(cb.ResponseHeadersPolicyID)
	b.trust = res.trust(cb.TrustedKeyGroups, cb.TrustedSigners)
	b.fnRequest, b.fnResponse = functionsOf(cb.FunctionAssociations, res)
	// A MaxTTL of 0 caches nothing, whatever the origin's Cache-Control
	// says (ttl.go): such a behavior is served as CachingDisabled is, so
	// that concurrent viewers do not even share one origin response. The
	// TTLs are taken as given: the API and the configuration file put
	// CloudFront's defaults in where none is set, so 0 is always explicit.
	if b.maxTTLSec <= 0 {
		b.noCache = true
	}
	for _, m := range cb.AllowedMethods {
		b.allowed |= methodBit(m)
	}
	for _, m := range cb.CachedMethods {
		if methodBit(m) == mOptions {
			b.cachedOptions = b.allowed&mOptions != 0
		}
	}
	// An origin group's primary member serves; failover is not done yet.
	if o, ok := c.OriginFor(cb.TargetOriginID); ok {
		b.origin = o.URL()
		b.originHeaders = o.CustomHeaders
		b.connect, b.read = o.ConnectionTimeout, o.ReadTimeout
		b.attempts = max(o.ConnectionAttempts, 1)
		b.oac = o.OriginAccessControlID
		b.s3, b.s3ok = parseS3Domain(o.DomainName)
	}
	return b
}

// all returns the site's behaviors, the default one last.
func (s *site) all() []*behavior {
	out := make([]*behavior, 0, len(s.behaviors)+1)
	for i := range s.behaviors {
		out = append(out, &s.behaviors[i])
	}
	return append(out, &s.def)
}

// allows reports whether the behavior's AllowedMethods has method.
func (b *behavior) allows(method string) bool {
	bit := methodBit(method)
	return bit != 0 && b.allowed&bit != 0 && method == strings.ToUpper(method)
}

// errorCachingTTL returns the error caching minimum TTL configured for
// status, if any.
func (b *behavior) errorCachingTTL(status int) (time.Duration, bool) {
	for _, er := range b.errorTTL {
		if er.ErrorCode == status {
			return time.Duration(er.ErrorCachingMinTTL) * time.Second, true
		}
	}
	return 0, false
}

// variant returns the part of the cache key that the viewer's forwarded
// headers and cookies make, "" when none is forwarded.
func (b *behavior) variant(r *http.Request) string {
	if len(b.headers) == 0 && b.keyCookies.mode == selNone {
		return ""
	}
	var sb strings.Builder
	for _, h := range b.headers {
		var v string
		switch {
		case h == "Host":
			v = strings.ToLower(r.Host)
		case isCloudFrontHeader(h):
			v, _ = cloudFrontHeader(h, r)
		default:
			v = strings.Join(r.Header.Values(h), ",")
		}
		sb.WriteString(h)
		sb.WriteByte('=')
		sb.WriteString(v)
		sb.WriteByte('\n')
	}
	if c := cookieHeader(r, selSet{b.keyCookies, sel{}}); c != "" {
		sb.WriteString("Cookie=")
		sb.WriteString(c)
	}
	return sb.String()
}

// keyVaries reports whether the key has viewer headers or cookies.
func (b *behavior) keyVaries() bool {
	return len(b.headers) > 0 || b.keyCookies.mode != selNone
}

// cookieHeader returns the Cookie header made of the viewer's cookies
// that s selects, in the viewer's order.
func cookieHeader(r *http.Request, s selSet) string {
	switch {
	case s.none():
		return ""
	case s.all():
		return strings.Join(r.Header.Values("Cookie"), "; ")
	}
	var kept []string
	for _, c := range r.Cookies() {
		if s.keep(c.Name) {
			kept = append(kept, c.Name+"="+c.Value)
		}
	}
	return strings.Join(kept, "; ")
}

// forwardViewerHeaders copies to an origin request the viewer headers the
// behavior forwards (its key's, and its origin request policy's), and
// sets Host to the viewer's when Host is forwarded.
func (b *behavior) forwardViewerHeaders(out *http.Request, r *http.Request) {
	if b.originPolicy != nil {
		b.originPolicy.forward(out, r)
	}
	for _, h := range b.headers {
		forwardOne(out, r, h)
	}
	if c := cookieHeader(r, b.fwdCookies); c != "" {
		out.Header.Set("Cookie", c)
	}
	for _, h := range b.originHeaders {
		out.Header.Set(h.Name, h.Value)
	}
}

// Path patterns.
//
// A PathPattern is matched, case-sensitively, against the request's path
// (without the query string) in the normalized form of path.go: '*' matches
// zero or more characters, '?' exactly one, and a pattern without a leading
// '/' matches as if it had one ("*.jpg" is "/*.jpg", so it matches every
// .jpg in every directory; "images/*" is "/images/*"). One character is
// one byte of the path or one %XX escape. The rest of the pattern is put in
// the canonical form too, so "/caf\u00e9/*" and "/caf%C3%A9/*" are one pattern.

// patternPart is a literal run of a compiled pattern or one wildcard.
type patternPart struct {
	lit  string // canonical literal; "" for a wildcard
	star bool   // '*'
	one  bool   // '?'
}

// compilePattern compiles a PathPattern; "" (the default behavior's) gives
// nil.
func compilePattern(p string) []patternPart {
	if p == "" {
		return nil
	}
	if !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "*") {
		p = "/" + p
	}
	var parts []patternPart
	for p != "" {
		i := strings.IndexAny(p, "*?")
		if i < 0 {
			i = len(p)
		}
		if i > 0 {
			parts = append(parts, patternPart{lit: canonical(p[:i], false)})
		}
		if i == len(p) {
			break
		}
		if p[i] == '*' {
			if n := len(parts); n == 0 || !parts[n-1].star {
				parts = append(parts, patternPart{star: true})
			}
		} else {
			parts = append(parts, patternPart{one: true})
		}
		p = p[i+1:]
	}
	return parts
}

// charLen is the length of the character path starts with: 3 for a %XX
// escape, else 1.
func charLen(path string) int {
	if len(path) >= 3 && path[0] == '%' && ishex(path[1]) && ishex(path[2]) {
		return 3
	}
	return 1
}

// matchPattern reports whether the compiled pattern matches the canonical
// path. A pattern that starts with '*' also covers a path without a
// leading '/' (none reaches here). It backtracks only to the last '*', as
// glob matchers do: O(len(pattern) * len(path)) at worst.
func matchPattern(pat []patternPart, path string) bool {
	if pat == nil {
		return true
	}
	pi, si := 0, 0
	starPi, starSi := -1, 0
	for {
		if pi < len(pat) {
			switch p := pat[pi]; {
			case p.star:
				starPi, starSi = pi, si
				pi++
				continue
			case p.one:
				if si < len(path) {
					si += charLen(path[si:])
					pi++
					continue
				}
			default:
				if strings.HasPrefix(path[si:], p.lit) {
					si += len(p.lit)
					pi++
					continue
				}
			}
		} else if si == len(path) {
			return true
		}
		// Mismatch: let the last '*' take one more character.
		if starPi < 0 || starSi >= len(path) {
			return false
		}
		starSi += charLen(path[starSi:])
		pi, si = starPi+1, starSi
	}
}
