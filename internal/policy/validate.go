package policy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/openfront/openfront/internal/resource"
)

// Limits are CloudFront's quotas on one policy (the account-wide quotas
// on how many policies there are live in the API's resource.Rules).
type Limits struct {
	// NamesPerPolicy bounds the headers, the cookies and the query
	// strings (each) of a cache or origin request policy.
	NamesPerPolicy int
	// CustomHeaders and RemoveHeaders bound a response headers policy's
	// lists; CSPLength its Content-Security-Policy value.
	CustomHeaders, RemoveHeaders, CSPLength int
}

// DefaultLimits are CloudFront's default quotas ("Quotas on policies").
var DefaultLimits = Limits{NamesPerPolicy: 10, CustomHeaders: 10, RemoveHeaders: 10, CSPLength: 1783}

// Error codes of policy validation, besides InvalidArgument.
const (
	CodeInvalidArgument                          = "InvalidArgument"
	CodeTooManyHeadersInCachePolicy              = "TooManyHeadersInCachePolicy"
	CodeTooManyCookiesInCachePolicy              = "TooManyCookiesInCachePolicy"
	CodeTooManyQueryStringsInCachePolicy         = "TooManyQueryStringsInCachePolicy"
	CodeTooManyHeadersInOriginRequestPolicy      = "TooManyHeadersInOriginRequestPolicy"
	CodeTooManyCookiesInOriginRequestPolicy      = "TooManyCookiesInOriginRequestPolicy"
	CodeTooManyQueryStringsInOriginRequestPolicy = "TooManyQueryStringsInOriginRequestPolicy"
	CodeTooManyCustomHeaders                     = "TooManyCustomHeadersInResponseHeadersPolicy"
	CodeTooManyRemoveHeaders                     = "TooManyRemoveHeadersInResponseHeadersPolicy"
	CodeTooLongCSP                               = "TooLongCSPInResponseHeadersPolicy"
)

// MaxTTL is the largest TTL CloudFront accepts: 100 years in seconds
// (the documented maximum of MaxTTL).
const MaxTTL = 3153600000

// Default TTLs CloudFront fills in when a cache policy leaves them out.
const (
	DefaultDefaultTTL = 86400
	DefaultMaxTTL     = 31536000
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// MaxCommentLength bounds a policy's Comment.
const MaxCommentLength = 128

func invalid(format string, args ...any) *resource.Error {
	return &resource.Error{Code: CodeInvalidArgument, Message: fmt.Sprintf(format, args...)}
}

func validateName(kind, name, comment string) error {
	if !nameRE.MatchString(name) {
		return invalid("The %s name %q is not valid: use 1 to 128 letters, digits, hyphens (-) and underscores (_).", kind, clip(name))
	}
	if len([]rune(comment)) > MaxCommentLength {
		return invalid("The parameter Comment is too big.") // CloudFront's words
	}
	return nil
}

// FillTTLDefaults sets what CloudFront sets for TTLs a cache policy left
// out (hasDefault, hasMax false): DefaultTTL 86400 or MinTTL when larger,
// MaxTTL 31536000 or DefaultTTL when larger.
func (p *CachePolicy) FillTTLDefaults(hasDefault, hasMax bool) {
	if !hasDefault {
		p.DefaultTTL = max(DefaultDefaultTTL, p.MinTTL)
	}
	if !hasMax {
		p.MaxTTL = max(DefaultMaxTTL, p.DefaultTTL)
	}
}

// Validate checks a cache policy against CloudFront's rules: the name,
// the TTLs (0 ≤ MinTTL ≤ DefaultTTL ≤ MaxTTL ≤ 100 years), the
// behaviors and their names, the quotas of l, and no cache key when
// caching is off (MaxTTL 0).
func (p *CachePolicy) Validate(l Limits) error {
	if err := validateName("cache policy", p.Name, p.Comment); err != nil {
		return err
	}
	for _, t := range []struct {
		name string
		v    int64
	}{{"MinTTL", p.MinTTL}, {"DefaultTTL", p.DefaultTTL}, {"MaxTTL", p.MaxTTL}} {
		if t.v < 0 || t.v > MaxTTL {
			return invalid("The value of %s must be from 0 to %d seconds.", t.name, MaxTTL)
		}
	}
	if p.MinTTL > p.DefaultTTL {
		return invalid("The value of DefaultTTL must be greater than or equal to the value of MinTTL.")
	}
	if p.DefaultTTL > p.MaxTTL {
		return invalid("The value of MaxTTL must be greater than or equal to the value of DefaultTTL.")
	}
	if err := checkSelection("HeadersConfig", "header", p.Headers, l.NamesPerPolicy, CodeTooManyHeadersInCachePolicy, "headers", Whitelist); err != nil {
		return err
	}
	if err := checkSelection("CookiesConfig", "cookie", p.Cookies, l.NamesPerPolicy, CodeTooManyCookiesInCachePolicy, "cookies", Whitelist, AllExcept); err != nil {
		return err
	}
	if err := checkSelection("QueryStringsConfig", "query string", p.QueryStrings, l.NamesPerPolicy, CodeTooManyQueryStringsInCachePolicy, "query strings", Whitelist, AllExcept); err != nil {
		return err
	}
	for _, h := range p.Headers.Names {
		if strings.EqualFold(h, "Accept-Encoding") {
			return invalid("The header Accept-Encoding cannot be in the cache key's headers: set EnableAcceptEncodingGzip or EnableAcceptEncodingBrotli instead.")
		}
	}
	if p.MaxTTL == 0 && (p.AcceptEncodingGzip || p.AcceptEncodingBrotli || p.Headers.Behavior != None ||
		p.Cookies.Behavior != None || p.QueryStrings.Behavior != None) {
		return invalid("When caching is disabled (MaxTTL is 0), the cache key cannot include headers, cookies, query strings or the Accept-Encoding settings.")
	}
	return nil
}

// Validate checks an origin request policy: the name, the behaviors and
// their names, the quotas of l.
func (p *OriginRequestPolicy) Validate(l Limits) error {
	if err := validateName("origin request policy", p.Name, p.Comment); err != nil {
		return err
	}
	if err := checkSelection("HeadersConfig", "header", p.Headers, l.NamesPerPolicy, CodeTooManyHeadersInOriginRequestPolicy, "headers",
		Whitelist, AllViewerAndWhitelistCloudFront, AllExcept); err != nil {
		return err
	}
	if p.Headers.Behavior == AllViewerAndWhitelistCloudFront {
		for _, h := range p.Headers.Names {
			if !strings.HasPrefix(strings.ToLower(h), "cloudfront-") {
				return invalid("With the header behavior allViewerAndWhitelistCloudFront, the headers must be CloudFront headers (CloudFront-*); %q is not.", clip(h))
			}
		}
	}
	if err := checkSelection("CookiesConfig", "cookie", p.Cookies, l.NamesPerPolicy, CodeTooManyCookiesInOriginRequestPolicy, "cookies", Whitelist, AllExcept); err != nil {
		return err
	}
	return checkSelection("QueryStringsConfig", "query string", p.QueryStrings, l.NamesPerPolicy, CodeTooManyQueryStringsInOriginRequestPolicy, "query strings", Whitelist, AllExcept)
}

// checkSelection checks that the behaviors in listing (and only those)
// come with names, at most max of them, none repeated.
func checkSelection(config, what string, s Selection, max int, tooMany, plural string, listing ...string) error {
	lists := false
	for _, b := range listing {
		lists = lists || s.Behavior == b
	}
	switch {
	case lists && len(s.Names) == 0:
		return invalid("The %s behavior %s needs at least one %s in %s.", what, s.Behavior, what, config)
	case !lists && len(s.Names) > 0:
		return invalid("The %s behavior %s takes no %s names in %s.", what, s.Behavior, what, config)
	case len(s.Names) > max:
		return &resource.Error{Code: tooMany, Message: fmt.Sprintf("The policy has %d %s; the maximum is %d.", len(s.Names), plural, max)}
	}
	seen := make(map[string]bool, len(s.Names))
	for _, n := range s.Names {
		if n == "" {
			return invalid("An empty %s name is not valid in %s.", what, config)
		}
		k := n
		if what == "header" {
			if !token(n) {
				return invalid("The header name %q in %s is not a valid HTTP header name.", clip(n), config)
			}
			k = strings.ToLower(n)
		}
		if seen[k] {
			return invalid("The %s %q appears more than once in %s.", what, clip(n), config)
		}
		seen[k] = true
	}
	return nil
}

// UnremovableHeaders are the response headers a response headers policy
// may neither remove nor add as custom headers (the list of the
// Developer Guide's "Remove headers"); a name ending in * is a prefix.
var UnremovableHeaders = []string{
	"Connection", "Content-Encoding", "Content-Length", "Expect", "Host", "Keep-Alive",
	"Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection", "Trailer", "Transfer-Encoding",
	"Upgrade", "Via", "Warning", "X-Accel-*", "X-Amz-Cf-*", "X-Amzn-*", "X-Cache", "X-Edge-*",
	"X-Forwarded-Proto", "X-Real-IP",
}

func unremovable(h string) bool {
	for _, u := range UnremovableHeaders {
		if p, ok := strings.CutSuffix(u, "*"); ok {
			if len(h) >= len(p) && strings.EqualFold(h[:len(p)], p) {
				return true
			}
		} else if strings.EqualFold(h, u) {
			return true
		}
	}
	return false
}

// managedHeaders are the headers a response headers policy sets through
// its CORS and security sections, which custom headers may not set.
var managedHeaders = []string{
	"Access-Control-Allow-Origin", "Access-Control-Allow-Headers", "Access-Control-Allow-Methods",
	"Access-Control-Allow-Credentials", "Access-Control-Expose-Headers", "Access-Control-Max-Age",
	"X-XSS-Protection", "X-Frame-Options", "Referrer-Policy", "Content-Security-Policy",
	"X-Content-Type-Options", "Strict-Transport-Security", "Server-Timing",
}

var methods = map[string]bool{"GET": true, "POST": true, "OPTIONS": true, "PUT": true, "DELETE": true, "PATCH": true, "HEAD": true, "ALL": true}

// Validate checks a response headers policy: the name, at least one
// section, CORS (lists not empty, ALL alone, no credentials with the
// origin or the header *, ages not negative), the security headers, the server timing
// sampling rate (0 to 100), the custom and removed headers (valid names,
// none repeated, none of UnremovableHeaders, custom headers not those
// the other sections set) and the quotas of l.
func (p *ResponseHeadersPolicy) Validate(l Limits) error {
	if err := validateName("response headers policy", p.Name, p.Comment); err != nil {
		return err
	}
	if p.CORS == nil && p.Security == nil && p.ServerTiming == nil && p.CustomHeaders == nil && p.RemoveHeaders == nil {
		return invalid("The response headers policy must contain at least one of CorsConfig, SecurityHeadersConfig, ServerTimingHeadersConfig, CustomHeadersConfig and RemoveHeadersConfig.")
	}
	if c := p.CORS; c != nil {
		// CloudFront's words (its managed CORS policies have empty
		// lists, which a custom policy may not).
		for _, l := range []struct {
			name  string
			items []string
		}{{"Allow Origins", c.AllowOrigins}, {"Allow Headers", c.AllowHeaders}, {"Allow Methods", c.AllowMethods}} {
			if len(l.items) == 0 {
				return invalid("The parameter %s needs to have at least one item.", l.name)
			}
		}
		for _, m := range c.AllowMethods {
			if !methods[m] {
				return invalid("The method %q in AccessControlAllowMethods is not valid.", clip(m))
			}
			if m == "ALL" && len(c.AllowMethods) > 1 {
				return invalid("The method ALL must be the only item of AccessControlAllowMethods.")
			}
		}
		for _, o := range c.AllowOrigins {
			if o == "" || strings.ContainsAny(o, " \t\r\n") {
				return invalid("The origin %q in AccessControlAllowOrigins is not valid.", clip(o))
			}
			if o == "*" && c.AllowCredentials {
				return invalid("The parameter Access-Control-Allow-Origin cannot contain * when allowCredentials is true.")
			}
		}
		for _, h := range c.AllowHeaders {
			if h == "*" && c.AllowCredentials {
				return invalid("The parameter Access-Control-Allow-Headers cannot contain * when allowCredentials is true.") // CloudFront's words
			}
		}
		for _, h := range append(append([]string(nil), c.AllowHeaders...), c.ExposeHeaders...) {
			if h != "*" && !token(h) {
				return invalid("The header name %q in CorsConfig is not a valid HTTP header name.", clip(h))
			}
		}
		if c.MaxAgeSec < -1 {
			return invalid("AccessControlMaxAgeSec cannot be negative.")
		}
	}
	if s := p.Security; s != nil {
		if x := s.XSSProtection; x != nil {
			if !x.Protection && (x.ModeBlock || x.ReportURI != "") {
				return invalid("XSSProtection: ModeBlock and ReportUri need Protection to be true.")
			}
			if x.ModeBlock && x.ReportURI != "" {
				return invalid("XSSProtection: ModeBlock and ReportUri cannot both be set.")
			}
		}
		if c := s.ContentSecurityPolicy; c != nil {
			if len(c.ContentSecurityPolicy) > l.CSPLength {
				return &resource.Error{Code: CodeTooLongCSP, Message: fmt.Sprintf("The Content-Security-Policy is %d characters long; the maximum is %d.", len(c.ContentSecurityPolicy), l.CSPLength)}
			}
			if c.ContentSecurityPolicy == "" {
				return invalid("ContentSecurityPolicy cannot be empty.")
			}
		}
		if h := s.StrictTransportSecurity; h != nil && h.MaxAgeSec < 0 {
			return invalid("StrictTransportSecurity: AccessControlMaxAgeSec cannot be negative.")
		}
	}
	if t := p.ServerTiming; t != nil && (t.SamplingRate < 0 || t.SamplingRate > 100) {
		return invalid("The SamplingRate of ServerTimingHeadersConfig must be from 0 to 100.")
	}
	if len(p.CustomHeaders) > l.CustomHeaders {
		return &resource.Error{Code: CodeTooManyCustomHeaders, Message: fmt.Sprintf("The policy has %d custom headers; the maximum is %d.", len(p.CustomHeaders), l.CustomHeaders)}
	}
	if len(p.RemoveHeaders) > l.RemoveHeaders {
		return &resource.Error{Code: CodeTooManyRemoveHeaders, Message: fmt.Sprintf("The policy removes %d headers; the maximum is %d.", len(p.RemoveHeaders), l.RemoveHeaders)}
	}
	seen := map[string]bool{}
	for _, h := range p.CustomHeaders {
		switch {
		case !token(h.Header):
			return invalid("The custom header name %q is not a valid HTTP header name.", clip(h.Header))
		case unremovable(h.Header):
			return invalid("The header %s cannot be a custom header.", h.Header)
		case seen[strings.ToLower(h.Header)]:
			return invalid("The custom header %s appears more than once.", h.Header)
		case strings.ContainsAny(h.Value, "\r\n"):
			return invalid("The value of the custom header %s contains a line break.", h.Header)
		}
		for _, m := range managedHeaders {
			if strings.EqualFold(h.Header, m) {
				return invalid("The header %s cannot be a custom header: set it in CorsConfig, SecurityHeadersConfig or ServerTimingHeadersConfig.", h.Header)
			}
		}
		seen[strings.ToLower(h.Header)] = true
	}
	removed := map[string]bool{}
	for _, h := range p.RemoveHeaders {
		switch {
		case !token(h):
			return invalid("The header name %q in RemoveHeadersConfig is not a valid HTTP header name.", clip(h))
		case unremovable(h):
			return invalid("The header %s cannot be removed.", h)
		case removed[strings.ToLower(h)]:
			return invalid("The header %s appears more than once in RemoveHeadersConfig.", h)
		case seen[strings.ToLower(h)]:
			return invalid("The header %s is both a custom header and a removed header.", h)
		}
		removed[strings.ToLower(h)] = true
	}
	return nil
}

// token reports whether s is an HTTP field name (RFC 9110 token).
func token(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
