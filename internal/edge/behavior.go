package edge

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/openfront/openfront/internal/distribution"
)

// cachingDisabledPolicy is the Id of CloudFront's managed cache policy
// "CachingDisabled".
const cachingDisabledPolicy = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"

// behavior is what the edge acts on of a distribution's configuration: its
// default cache behavior, the origin it targets and the error caching
// TTLs. Path-pattern behaviors (Config.Behaviors) are not applied yet.
type behavior struct {
	origin        *url.URL // distribution.Distribution.Origin
	originHeaders []distribution.Header
	connect, read time.Duration // the origin's timeouts; 0: the edge's defaults
	attempts      int           // connection attempts, at least 1

	forwardQuery bool
	queryKeys    []string // when not empty, only these parameters are in the key
	rootObject   string

	allowOptions bool // OPTIONS goes to the origin, uncached
	allowAll     bool // PUT, POST, PATCH and DELETE too
	noCache      bool // CachingDisabled, or every header forwarded

	headers     []string // forwarded headers, canonical names, sorted: part of the key
	allHeaders  bool     // "*": every viewer header is forwarded
	cookies     string   // none, all or whitelist
	cookieNames []string

	minTTL, defaultTTL, maxTTL time.Duration
	errorTTL                   []distribution.ErrorResponse
}

// behaviorOf derives d's behavior. Missing values take CloudFront's
// defaults (those of distribution.FromFile).
func behaviorOf(d *distribution.Distribution) behavior {
	c := &d.Config
	cb := &c.DefaultBehavior
	b := behavior{
		origin:       d.Origin,
		attempts:     1,
		forwardQuery: cb.ForwardQueryString,
		queryKeys:    cb.QueryStringCacheKeys,
		rootObject:   strings.TrimPrefix(c.DefaultRootObject, "/"),
		cookies:      cb.ForwardCookies,
		cookieNames:  cb.CookieNames,
		minTTL:       time.Duration(cb.MinTTL) * time.Second,
		defaultTTL:   time.Duration(cb.DefaultTTL) * time.Second,
		maxTTL:       time.Duration(cb.MaxTTL) * time.Second,
		errorTTL:     c.CustomErrorResponses,
		noCache:      cb.CachePolicyID == cachingDisabledPolicy,
	}
	if cb.MaxTTL == 0 && cb.DefaultTTL == 0 && cb.MinTTL == 0 && cb.CachePolicyID == "" {
		b.defaultTTL, b.maxTTL = 24*time.Hour, 365*24*time.Hour
	}
	for _, m := range cb.AllowedMethods {
		switch strings.ToUpper(m) {
		case http.MethodOptions:
			b.allowOptions = true
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			b.allowAll, b.allowOptions = true, true
		}
	}
	for _, h := range cb.ForwardedHeaders {
		if h == "*" {
			b.allHeaders, b.noCache = true, true
			continue
		}
		b.headers = append(b.headers, http.CanonicalHeaderKey(h))
	}
	slices.Sort(b.headers)
	for i := range c.Origins {
		if o := &c.Origins[i]; o.ID == cb.TargetOriginID {
			b.originHeaders = o.CustomHeaders
			b.connect, b.read = o.ConnectionTimeout, o.ReadTimeout
			b.attempts = max(o.ConnectionAttempts, 1)
		}
	}
	return b
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
	if len(b.headers) == 0 && (b.cookies == "" || b.cookies == "none") {
		return ""
	}
	var sb strings.Builder
	for _, h := range b.headers {
		v := strings.Join(r.Header.Values(h), ",")
		if h == "Host" {
			v = strings.ToLower(r.Host)
		}
		sb.WriteString(h)
		sb.WriteByte('=')
		sb.WriteString(v)
		sb.WriteByte('\n')
	}
	if c := b.cookieHeader(r); c != "" {
		sb.WriteString("Cookie=")
		sb.WriteString(c)
	}
	return sb.String()
}

// cookieHeader returns the Cookie header the origin gets: none, all of
// the viewer's, or the whitelisted ones.
func (b *behavior) cookieHeader(r *http.Request) string {
	switch b.cookies {
	case "all":
		return strings.Join(r.Header.Values("Cookie"), "; ")
	case "whitelist":
		var kept []string
		for _, c := range r.Cookies() {
			if slices.Contains(b.cookieNames, c.Name) {
				kept = append(kept, c.Name+"="+c.Value)
			}
		}
		return strings.Join(kept, "; ")
	}
	return ""
}

// forwardViewerHeaders copies to an origin request the viewer headers the
// behavior forwards, and sets Host to the viewer's when Host is forwarded.
func (b *behavior) forwardViewerHeaders(out *http.Request, r *http.Request) {
	for _, h := range b.headers {
		if h == "Host" {
			out.Host = r.Host
			continue
		}
		if v := r.Header.Values(h); len(v) > 0 {
			out.Header[h] = v
		}
	}
	if c := b.cookieHeader(r); c != "" {
		out.Header.Set("Cookie", c)
	}
	for _, h := range b.originHeaders {
		out.Header.Set(h.Name, h.Value)
	}
}
