// Package policy holds CloudFront's cache, origin request and response
// headers policies: their typed configuration (what edges act on), the
// managed policies AWS defines, and the rules a configuration must meet.
// It knows nothing of HTTP or XML; the protocol layer builds these types
// from the documents and the edge acts on them.
package policy

// Behaviors of a headers, cookies or query strings configuration, as the
// service model spells them.
const (
	None                            = "none"
	Whitelist                       = "whitelist"
	AllExcept                       = "allExcept"
	All                             = "all"
	AllViewer                       = "allViewer"
	AllViewerAndWhitelistCloudFront = "allViewerAndWhitelistCloudFront"
)

// Selection is a HeadersConfig, CookiesConfig or QueryStringsConfig: a
// behavior and the names it lists (compared case-insensitively for
// headers, exactly for cookies and query strings).
type Selection struct {
	Behavior string   `json:"behavior"`
	Names    []string `json:"names,omitempty"`
}

// CachePolicy is a CachePolicyConfig: the TTLs and what goes into the
// cache key (which is also forwarded to the origin).
type CachePolicy struct {
	Name    string `json:"name"`
	Comment string `json:"comment,omitempty"`
	// TTLs in seconds, against the origin's Cache-Control and Expires.
	MinTTL     int64 `json:"min_ttl"`
	DefaultTTL int64 `json:"default_ttl"`
	MaxTTL     int64 `json:"max_ttl"`
	// AcceptEncodingGzip and AcceptEncodingBrotli put the normalized
	// Accept-Encoding in the key.
	AcceptEncodingGzip   bool      `json:"gzip,omitempty"`
	AcceptEncodingBrotli bool      `json:"br,omitempty"`
	Headers              Selection `json:"headers"` // none or whitelist
	Cookies              Selection `json:"cookies"`
	QueryStrings         Selection `json:"query_strings"`
}

// OriginRequestPolicy is an OriginRequestPolicyConfig: what is forwarded
// to the origin besides the cache key.
type OriginRequestPolicy struct {
	Name         string    `json:"name"`
	Comment      string    `json:"comment,omitempty"`
	Headers      Selection `json:"headers"`
	Cookies      Selection `json:"cookies"`
	QueryStrings Selection `json:"query_strings"`
}

// ResponseHeadersPolicy is a ResponseHeadersPolicyConfig: headers the
// edge adds to, overrides in or removes from responses.
type ResponseHeadersPolicy struct {
	Name          string           `json:"name"`
	Comment       string           `json:"comment,omitempty"`
	CORS          *CORS            `json:"cors,omitempty"`
	Security      *SecurityHeaders `json:"security,omitempty"`
	ServerTiming  *ServerTiming    `json:"server_timing,omitempty"`
	CustomHeaders []CustomHeader   `json:"custom,omitempty"`
	RemoveHeaders []string         `json:"remove,omitempty"`
}

// CORS is a CorsConfig.
type CORS struct {
	AllowOrigins     []string `json:"allow_origins"`
	AllowHeaders     []string `json:"allow_headers"`
	AllowMethods     []string `json:"allow_methods"`
	AllowCredentials bool     `json:"allow_credentials"`
	ExposeHeaders    []string `json:"expose_headers,omitempty"`
	// MaxAgeSec is Access-Control-Max-Age; -1 when not set.
	MaxAgeSec      int  `json:"max_age"`
	OriginOverride bool `json:"origin_override"`
}

// SecurityHeaders is a SecurityHeadersConfig; a nil member is not set.
type SecurityHeaders struct {
	XSSProtection           *XSSProtection           `json:"xss,omitempty"`
	FrameOptions            *FrameOptions            `json:"frame,omitempty"`
	ReferrerPolicy          *ReferrerPolicy          `json:"referrer,omitempty"`
	ContentSecurityPolicy   *ContentSecurityPolicy   `json:"csp,omitempty"`
	ContentTypeOptions      *ContentTypeOptions      `json:"cto,omitempty"`
	StrictTransportSecurity *StrictTransportSecurity `json:"hsts,omitempty"`
}

// XSSProtection sets X-XSS-Protection.
type XSSProtection struct {
	Override   bool   `json:"override"`
	Protection bool   `json:"protection"`
	ModeBlock  bool   `json:"mode_block,omitempty"`
	ReportURI  string `json:"report_uri,omitempty"`
}

// FrameOptions sets X-Frame-Options (DENY or SAMEORIGIN).
type FrameOptions struct {
	Override    bool   `json:"override"`
	FrameOption string `json:"value"`
}

// ReferrerPolicy sets Referrer-Policy.
type ReferrerPolicy struct {
	Override       bool   `json:"override"`
	ReferrerPolicy string `json:"value"`
}

// ContentSecurityPolicy sets Content-Security-Policy.
type ContentSecurityPolicy struct {
	Override              bool   `json:"override"`
	ContentSecurityPolicy string `json:"value"`
}

// ContentTypeOptions sets X-Content-Type-Options: nosniff.
type ContentTypeOptions struct {
	Override bool `json:"override"`
}

// StrictTransportSecurity sets Strict-Transport-Security.
type StrictTransportSecurity struct {
	Override          bool `json:"override"`
	IncludeSubdomains bool `json:"include_subdomains,omitempty"`
	Preload           bool `json:"preload,omitempty"`
	MaxAgeSec         int  `json:"max_age"`
}

// ServerTiming is a ServerTimingHeadersConfig.
type ServerTiming struct {
	Enabled bool `json:"enabled"`
	// SamplingRate is the percentage (0 to 100) of responses that get a
	// Server-Timing header.
	SamplingRate float64 `json:"sampling_rate"`
}

// CustomHeader is a header the policy adds; with Override it replaces the
// origin's.
type CustomHeader struct {
	Header   string `json:"header"`
	Value    string `json:"value"`
	Override bool   `json:"override"`
}
