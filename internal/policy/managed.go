package policy

// The managed policies are the ones AWS defines in every account, under
// the same Ids everywhere. Their Ids, names, comments and settings are
// those CloudFront's API returns (ListCachePolicies --type managed and
// its siblings), as checked against the Developer Guide's "Use managed
// cache policies", "Use managed origin request policies" and "Use managed
// response headers policies" and against exports of real accounts (see
// docs/compatibility.md, "Managed policies", for the sources and for the
// values that could not be confirmed).
//
// Names: the API names a managed policy "Managed-" and the guide's name
// (Managed-CachingOptimized), except UseOriginCacheControlHeaders and
// UseOriginCacheControlHeaders-QueryStrings, which it names without the
// prefix. Lists (headers, query strings) are in the order the API returns
// them, which is not sorted.

// Ids of the managed cache policies.
const (
	AmplifyID                                = "2e54312d-136d-493c-8eb9-b001f22f67d2"
	CachingDisabledID                        = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
	CachingOptimizedID                       = "658327ea-f89d-4fab-a63d-7e88639e58f6"
	CachingOptimizedForUncompressedObjectsID = "b2884449-e4de-46a7-ac36-70bc7f1ddd6d"
	ElementalMediaPackageID                  = "08627262-05a9-4f76-9ded-b50ca2e3a84f"
	UseOriginCacheControlHeadersID           = "83da9c7e-98b4-4e11-a168-04f0df8e2c65"
	UseOriginCacheControlHeadersQSID         = "4cc15a8a-d715-48a4-82b8-cc0b614638fe"
)

// Ids of the managed origin request policies.
const (
	AllViewerID                     = "216adef6-5c7f-47e4-b989-5492eafa07d3"
	AllViewerAndCloudFrontHeadersID = "33f36d7e-f396-46d9-90e0-52428a34d9dc"
	AllViewerExceptHostHeaderID     = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
	CORSCustomOriginID              = "59781a5b-3903-41f3-afcb-af62929ccde1"
	CORSS3OriginID                  = "88a5eaf4-2fd4-4709-b370-b4c650ea3fcf"
	ElementalMediaTailorID          = "775133bc-15f2-49f9-abea-afb2e0bf67d2"
	UserAgentRefererHeadersID       = "acba4595-bd28-49b8-b9fe-13317c0390fa"
)

// Ids of the managed response headers policies.
const (
	CORSAndSecurityHeadersID              = "e61eb60c-9c35-4d20-a928-2b84e02af89c"
	CORSWithPreflightID                   = "5cc3b908-e619-4b99-88e5-2cf7f45965bd"
	CORSWithPreflightAndSecurityHeadersID = "eaab4381-ed33-4a86-88ca-d9558dc6cd63"
	SecurityHeadersPolicyID               = "67f7725c-6f97-4210-82d7-5512b31e9d03"
	SimpleCORSID                          = "60669652-455b-4ae9-85a4-c4c02393f86c"
)

// oneYear is the managed policies' MaxTTL, 365 days in seconds.
const oneYear = 31536000

var none = Selection{Behavior: None}

func whitelist(names ...string) Selection { return Selection{Behavior: Whitelist, Names: names} }

// methodOverrideHeaders are the headers in the key of the two
// UseOriginCacheControlHeaders policies.
func methodOverrideHeaders() Selection {
	return whitelist("x-method-override", "origin", "host", "x-http-method", "x-http-method-override")
}

var managedCache = map[string]CachePolicy{
	AmplifyID: {
		Name: "Managed-Amplify", Comment: "Policy for Amplify Origin",
		MinTTL: 2, DefaultTTL: 2, MaxTTL: 600,
		AcceptEncodingGzip: true, AcceptEncodingBrotli: true,
		Headers:      whitelist("Authorization", "CloudFront-Viewer-Country", "Host"),
		Cookies:      Selection{Behavior: All},
		QueryStrings: Selection{Behavior: All},
	},
	CachingDisabledID: {
		Name: "Managed-CachingDisabled", Comment: "Policy with caching disabled",
		Headers: none, Cookies: none, QueryStrings: none,
	},
	CachingOptimizedID: {
		Name: "Managed-CachingOptimized", Comment: "Policy with caching enabled. Supports Gzip and Brotli compression.",
		MinTTL: 1, DefaultTTL: 86400, MaxTTL: oneYear,
		AcceptEncodingGzip: true, AcceptEncodingBrotli: true,
		Headers: none, Cookies: none, QueryStrings: none,
	},
	CachingOptimizedForUncompressedObjectsID: {
		Name: "Managed-CachingOptimizedForUncompressedObjects", Comment: "Default policy when compression is disabled",
		MinTTL: 1, DefaultTTL: 86400, MaxTTL: oneYear,
		Headers: none, Cookies: none, QueryStrings: none,
	},
	ElementalMediaPackageID: {
		Name: "Managed-Elemental-MediaPackage", Comment: "Policy for Elemental MediaPackage Origin",
		MinTTL: 0, DefaultTTL: 86400, MaxTTL: oneYear,
		AcceptEncodingGzip: true,
		Headers:            whitelist("origin"),
		Cookies:            none,
		QueryStrings:       whitelist("aws.manifestfilter", "start", "end", "m"),
	},
	UseOriginCacheControlHeadersID: {
		Name:    "UseOriginCacheControlHeaders",
		Comment: "Policy for origins that return Cache-Control headers. Query strings are not included in the cache key.",
		MinTTL:  0, DefaultTTL: 0, MaxTTL: oneYear,
		AcceptEncodingGzip: true, AcceptEncodingBrotli: true,
		Headers:      methodOverrideHeaders(),
		Cookies:      Selection{Behavior: All},
		QueryStrings: none,
	},
	UseOriginCacheControlHeadersQSID: {
		Name:    "UseOriginCacheControlHeaders-QueryStrings",
		Comment: "Policy for origins that return Cache-Control headers and serve different content based on values present in the query string.",
		MinTTL:  0, DefaultTTL: 0, MaxTTL: oneYear,
		AcceptEncodingGzip: true, AcceptEncodingBrotli: true,
		Headers:      methodOverrideHeaders(),
		Cookies:      Selection{Behavior: All},
		QueryStrings: Selection{Behavior: All},
	},
}

var managedOriginRequest = map[string]OriginRequestPolicy{
	AllViewerID: {
		Name: "Managed-AllViewer", Comment: "Policy to forward all parameters in viewer requests",
		Headers:      Selection{Behavior: AllViewer},
		Cookies:      Selection{Behavior: All},
		QueryStrings: Selection{Behavior: All},
	},
	AllViewerAndCloudFrontHeadersID: {
		Name:    "Managed-AllViewerAndCloudFrontHeaders-2022-06",
		Comment: "Policy to forward all parameters in viewer requests and all CloudFront headers as of June 2022",
		Headers: Selection{Behavior: AllViewerAndWhitelistCloudFront, Names: []string{
			"CloudFront-Viewer-Time-Zone",
			"CloudFront-Viewer-Address",
			"CloudFront-Viewer-Country",
			"CloudFront-Is-IOS-Viewer",
			"CloudFront-Is-Tablet-Viewer",
			"CloudFront-Forwarded-Proto",
			"CloudFront-Viewer-Country-Name",
			"CloudFront-Is-Mobile-Viewer",
			"CloudFront-Is-SmartTV-Viewer",
			"CloudFront-Viewer-Country-Region",
			"CloudFront-Is-Android-Viewer",
			"CloudFront-Viewer-Country-Region-Name",
			"CloudFront-Viewer-City",
			"CloudFront-Viewer-Latitude",
			"CloudFront-Viewer-Longitude",
			"CloudFront-Viewer-Http-Version",
			"CloudFront-Viewer-Postal-Code",
			"CloudFront-Viewer-ASN",
			"CloudFront-Is-Desktop-Viewer",
			"CloudFront-Viewer-Metro-Code",
			"CloudFront-Viewer-TLS",
		}},
		Cookies:      Selection{Behavior: All},
		QueryStrings: Selection{Behavior: All},
	},
	AllViewerExceptHostHeaderID: {
		Name:         "Managed-AllViewerExceptHostHeader",
		Comment:      "Policy to forward all parameters in viewer requests except for the Host header",
		Headers:      Selection{Behavior: AllExcept, Names: []string{"host"}},
		Cookies:      Selection{Behavior: All},
		QueryStrings: Selection{Behavior: All},
	},
	CORSCustomOriginID: {
		Name: "Managed-CORS-CustomOrigin", Comment: "Policy for custom origin with CORS",
		Headers: whitelist("origin"), Cookies: none, QueryStrings: none,
	},
	CORSS3OriginID: {
		Name: "Managed-CORS-S3Origin", Comment: "Policy for S3 origin with CORS",
		Headers: whitelist("origin", "access-control-request-headers", "access-control-request-method"),
		Cookies: none, QueryStrings: none,
	},
	ElementalMediaTailorID: {
		Name: "Managed-Elemental-MediaTailor-PersonalizedManifests", Comment: "Policy for Elemental MediaTailor Origin",
		Headers: whitelist("origin", "access-control-request-headers", "x-forwarded-for", "access-control-request-method", "user-agent"),
		Cookies: none, QueryStrings: Selection{Behavior: All},
	},
	UserAgentRefererHeadersID: {
		Name: "Managed-UserAgentRefererHeaders", Comment: "Policy to forward user-agent and referer headers to origin",
		Headers: whitelist("referer", "user-agent"), Cookies: none, QueryStrings: none,
	},
}

// securityHeaders is the SecurityHeadersConfig of the managed policies
// that add security headers: each header only when the origin did not
// send it, except X-Content-Type-Options, always.
func securityHeaders() *SecurityHeaders {
	return &SecurityHeaders{
		ReferrerPolicy:          &ReferrerPolicy{ReferrerPolicy: "strict-origin-when-cross-origin"},
		StrictTransportSecurity: &StrictTransportSecurity{MaxAgeSec: oneYear},
		ContentTypeOptions:      &ContentTypeOptions{Override: true},
		FrameOptions:            &FrameOptions{FrameOption: "SAMEORIGIN"},
		XSSProtection:           &XSSProtection{Protection: true, ModeBlock: true},
	}
}

// simpleCORS answers simple CORS requests from any origin; preflightCORS
// also preflight requests. Neither overrides the origin's CORS headers.
func simpleCORS() *CORS {
	return &CORS{AllowOrigins: []string{"*"}, AllowHeaders: []string{}, AllowMethods: []string{}, MaxAgeSec: -1}
}

func preflightCORS() *CORS {
	return &CORS{
		AllowOrigins:  []string{"*"},
		AllowHeaders:  []string{},
		AllowMethods:  []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"},
		ExposeHeaders: []string{"*"},
		MaxAgeSec:     -1,
	}
}

var managedResponseHeaders = map[string]ResponseHeadersPolicy{
	CORSAndSecurityHeadersID: {
		Name: "Managed-CORS-and-SecurityHeadersPolicy", Comment: "Allows all origins for simple CORS requests, and adds security headers",
		CORS: simpleCORS(), Security: securityHeaders(),
	},
	CORSWithPreflightID: {
		Name: "Managed-CORS-With-Preflight", Comment: "Allows all origins for CORS requests, including preflight requests",
		CORS: preflightCORS(),
	},
	CORSWithPreflightAndSecurityHeadersID: {
		Name:    "Managed-CORS-with-preflight-and-SecurityHeadersPolicy",
		Comment: "Allows all origins for CORS requests, including preflight requests, and adds security headers",
		CORS:    preflightCORS(), Security: securityHeaders(),
	},
	SecurityHeadersPolicyID: {
		Name: "Managed-SecurityHeadersPolicy", Comment: "Adds a set of security headers to every response",
		Security: securityHeaders(),
	},
	SimpleCORSID: {
		Name: "Managed-SimpleCORS", Comment: "Allows all origins for simple CORS requests",
		CORS: simpleCORS(),
	},
}

// ManagedCachePolicies returns AWS's managed cache policies keyed by Id.
// The map and its policies are the caller's own.
func ManagedCachePolicies() map[string]CachePolicy {
	out := make(map[string]CachePolicy, len(managedCache))
	for id := range managedCache {
		out[id], _ = ManagedCachePolicy(id)
	}
	return out
}

// ManagedCachePolicy returns the managed cache policy with Id id (a copy
// the caller may change), or false.
func ManagedCachePolicy(id string) (CachePolicy, bool) {
	p, ok := managedCache[id]
	if !ok {
		return CachePolicy{}, false
	}
	p.Headers, p.Cookies, p.QueryStrings = p.Headers.clone(), p.Cookies.clone(), p.QueryStrings.clone()
	return p, true
}

// ManagedOriginRequestPolicies returns AWS's managed origin request
// policies keyed by Id. The map and its policies are the caller's own.
func ManagedOriginRequestPolicies() map[string]OriginRequestPolicy {
	out := make(map[string]OriginRequestPolicy, len(managedOriginRequest))
	for id := range managedOriginRequest {
		out[id], _ = ManagedOriginRequestPolicy(id)
	}
	return out
}

// ManagedOriginRequestPolicy returns the managed origin request policy
// with Id id (a copy), or false.
func ManagedOriginRequestPolicy(id string) (OriginRequestPolicy, bool) {
	p, ok := managedOriginRequest[id]
	if !ok {
		return OriginRequestPolicy{}, false
	}
	p.Headers, p.Cookies, p.QueryStrings = p.Headers.clone(), p.Cookies.clone(), p.QueryStrings.clone()
	return p, true
}

// ManagedResponseHeadersPolicies returns AWS's managed response headers
// policies keyed by Id. The map and its policies are the caller's own.
func ManagedResponseHeadersPolicies() map[string]ResponseHeadersPolicy {
	out := make(map[string]ResponseHeadersPolicy, len(managedResponseHeaders))
	for id := range managedResponseHeaders {
		out[id], _ = ManagedResponseHeadersPolicy(id)
	}
	return out
}

// ManagedResponseHeadersPolicy returns the managed response headers
// policy with Id id (a copy), or false.
func ManagedResponseHeadersPolicy(id string) (ResponseHeadersPolicy, bool) {
	p, ok := managedResponseHeaders[id]
	if !ok {
		return ResponseHeadersPolicy{}, false
	}
	if p.CORS != nil {
		c := *p.CORS
		c.AllowOrigins = append([]string{}, c.AllowOrigins...)
		c.AllowHeaders = append([]string{}, c.AllowHeaders...)
		c.AllowMethods = append([]string{}, c.AllowMethods...)
		if c.ExposeHeaders != nil {
			c.ExposeHeaders = append([]string{}, c.ExposeHeaders...)
		}
		p.CORS = &c
	}
	if p.Security != nil {
		// Every managed policy that sets security headers sets the same.
		p.Security = securityHeaders()
	}
	return p, true
}

// IsManaged reports whether id is the Id of a managed cache, origin
// request or response headers policy.
func IsManaged(id string) bool {
	_, c := managedCache[id]
	_, o := managedOriginRequest[id]
	_, r := managedResponseHeaders[id]
	return c || o || r
}

func (s Selection) clone() Selection {
	if s.Names != nil {
		s.Names = append([]string{}, s.Names...)
	}
	return s
}
