package policy

import (
	"reflect"
	"testing"
)

// TestManagedIDsAndNames pins every managed policy's Id, name and comment
// to what CloudFront's API returns (docs/compatibility.md, "Managed
// policies", gives the sources).
func TestManagedIDsAndNames(t *testing.T) {
	type row struct{ id, name, comment string }
	cache := []row{
		{"2e54312d-136d-493c-8eb9-b001f22f67d2", "Managed-Amplify", "Policy for Amplify Origin"},
		{"4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "Managed-CachingDisabled", "Policy with caching disabled"},
		{"658327ea-f89d-4fab-a63d-7e88639e58f6", "Managed-CachingOptimized", "Policy with caching enabled. Supports Gzip and Brotli compression."},
		{"b2884449-e4de-46a7-ac36-70bc7f1ddd6d", "Managed-CachingOptimizedForUncompressedObjects", "Default policy when compression is disabled"},
		{"08627262-05a9-4f76-9ded-b50ca2e3a84f", "Managed-Elemental-MediaPackage", "Policy for Elemental MediaPackage Origin"},
		{"83da9c7e-98b4-4e11-a168-04f0df8e2c65", "UseOriginCacheControlHeaders", "Policy for origins that return Cache-Control headers. Query strings are not included in the cache key."},
		{"4cc15a8a-d715-48a4-82b8-cc0b614638fe", "UseOriginCacheControlHeaders-QueryStrings", "Policy for origins that return Cache-Control headers and serve different content based on values present in the query string."},
	}
	origin := []row{
		{"216adef6-5c7f-47e4-b989-5492eafa07d3", "Managed-AllViewer", "Policy to forward all parameters in viewer requests"},
		{"33f36d7e-f396-46d9-90e0-52428a34d9dc", "Managed-AllViewerAndCloudFrontHeaders-2022-06", "Policy to forward all parameters in viewer requests and all CloudFront headers as of June 2022"},
		{"b689b0a8-53d0-40ab-baf2-68738e2966ac", "Managed-AllViewerExceptHostHeader", "Policy to forward all parameters in viewer requests except for the Host header"},
		{"59781a5b-3903-41f3-afcb-af62929ccde1", "Managed-CORS-CustomOrigin", "Policy for custom origin with CORS"},
		{"88a5eaf4-2fd4-4709-b370-b4c650ea3fcf", "Managed-CORS-S3Origin", "Policy for S3 origin with CORS"},
		{"775133bc-15f2-49f9-abea-afb2e0bf67d2", "Managed-Elemental-MediaTailor-PersonalizedManifests", "Policy for Elemental MediaTailor Origin"},
		{"acba4595-bd28-49b8-b9fe-13317c0390fa", "Managed-UserAgentRefererHeaders", "Policy to forward user-agent and referer headers to origin"},
	}
	headers := []row{
		{"e61eb60c-9c35-4d20-a928-2b84e02af89c", "Managed-CORS-and-SecurityHeadersPolicy", "Allows all origins for simple CORS requests, and adds security headers"},
		{"5cc3b908-e619-4b99-88e5-2cf7f45965bd", "Managed-CORS-With-Preflight", "Allows all origins for CORS requests, including preflight requests"},
		{"eaab4381-ed33-4a86-88ca-d9558dc6cd63", "Managed-CORS-with-preflight-and-SecurityHeadersPolicy", "Allows all origins for CORS requests, including preflight requests, and adds security headers"},
		{"67f7725c-6f97-4210-82d7-5512b31e9d03", "Managed-SecurityHeadersPolicy", "Adds a set of security headers to every response"},
		{"60669652-455b-4ae9-85a4-c4c02393f86c", "Managed-SimpleCORS", "Allows all origins for simple CORS requests"},
	}

	cp := ManagedCachePolicies()
	if len(cp) != len(cache) {
		t.Errorf("%d managed cache policies, want %d", len(cp), len(cache))
	}
	for _, r := range cache {
		p, ok := cp[r.id]
		if !ok || p.Name != r.name || p.Comment != r.comment {
			t.Errorf("cache policy %s: %q %q (present %v), want %q %q", r.id, p.Name, p.Comment, ok, r.name, r.comment)
		}
		if !IsManaged(r.id) {
			t.Errorf("IsManaged(%s) false", r.id)
		}
	}
	op := ManagedOriginRequestPolicies()
	if len(op) != len(origin) {
		t.Errorf("%d managed origin request policies, want %d", len(op), len(origin))
	}
	for _, r := range origin {
		p, ok := op[r.id]
		if !ok || p.Name != r.name || p.Comment != r.comment {
			t.Errorf("origin request policy %s: %q %q (present %v), want %q %q", r.id, p.Name, p.Comment, ok, r.name, r.comment)
		}
	}
	rp := ManagedResponseHeadersPolicies()
	if len(rp) != len(headers) {
		t.Errorf("%d managed response headers policies, want %d", len(rp), len(headers))
	}
	for _, r := range headers {
		p, ok := rp[r.id]
		if !ok || p.Name != r.name || p.Comment != r.comment {
			t.Errorf("response headers policy %s: %q %q (present %v), want %q %q", r.id, p.Name, p.Comment, ok, r.name, r.comment)
		}
	}
	if IsManaged("00000000-0000-0000-0000-000000000000") {
		t.Error("IsManaged of an unknown Id")
	}
}

// TestManagedCacheSettings pins the TTLs and cache keys.
func TestManagedCacheSettings(t *testing.T) {
	all := Selection{Behavior: All}
	methodOverride := Selection{Behavior: Whitelist, Names: []string{"x-method-override", "origin", "host", "x-http-method", "x-http-method-override"}}
	want := map[string]CachePolicy{
		AmplifyID: {MinTTL: 2, DefaultTTL: 2, MaxTTL: 600, AcceptEncodingGzip: true, AcceptEncodingBrotli: true,
			Headers: Selection{Behavior: Whitelist, Names: []string{"Authorization", "CloudFront-Viewer-Country", "Host"}}, Cookies: all, QueryStrings: all},
		CachingDisabledID:                        {Headers: none, Cookies: none, QueryStrings: none},
		CachingOptimizedID:                       {MinTTL: 1, DefaultTTL: 86400, MaxTTL: 31536000, AcceptEncodingGzip: true, AcceptEncodingBrotli: true, Headers: none, Cookies: none, QueryStrings: none},
		CachingOptimizedForUncompressedObjectsID: {MinTTL: 1, DefaultTTL: 86400, MaxTTL: 31536000, Headers: none, Cookies: none, QueryStrings: none},
		ElementalMediaPackageID: {MinTTL: 0, DefaultTTL: 86400, MaxTTL: 31536000, AcceptEncodingGzip: true,
			Headers: Selection{Behavior: Whitelist, Names: []string{"origin"}}, Cookies: none,
			QueryStrings: Selection{Behavior: Whitelist, Names: []string{"aws.manifestfilter", "start", "end", "m"}}},
		UseOriginCacheControlHeadersID:   {MaxTTL: 31536000, AcceptEncodingGzip: true, AcceptEncodingBrotli: true, Headers: methodOverride, Cookies: all, QueryStrings: none},
		UseOriginCacheControlHeadersQSID: {MaxTTL: 31536000, AcceptEncodingGzip: true, AcceptEncodingBrotli: true, Headers: methodOverride, Cookies: all, QueryStrings: all},
	}
	for id, w := range want {
		got, ok := ManagedCachePolicy(id)
		got.Name, got.Comment = "", ""
		if !ok || !reflect.DeepEqual(got, w) {
			t.Errorf("%s:\n got %+v\nwant %+v", id, got, w)
		}
	}
}

// TestManagedOriginRequestSettings pins what each policy forwards.
func TestManagedOriginRequestSettings(t *testing.T) {
	for id, w := range map[string][3]string{ // headers, cookies, query strings behaviors
		AllViewerID:                     {AllViewer, All, All},
		AllViewerAndCloudFrontHeadersID: {AllViewerAndWhitelistCloudFront, All, All},
		AllViewerExceptHostHeaderID:     {AllExcept, All, All},
		CORSCustomOriginID:              {Whitelist, None, None},
		CORSS3OriginID:                  {Whitelist, None, None},
		ElementalMediaTailorID:          {Whitelist, None, All},
		UserAgentRefererHeadersID:       {Whitelist, None, None},
	} {
		p, _ := ManagedOriginRequestPolicy(id)
		if got := [3]string{p.Headers.Behavior, p.Cookies.Behavior, p.QueryStrings.Behavior}; got != w {
			t.Errorf("%s (%s): %v, want %v", id, p.Name, got, w)
		}
	}
	p, _ := ManagedOriginRequestPolicy(AllViewerAndCloudFrontHeadersID)
	if len(p.Headers.Names) != 21 {
		t.Errorf("AllViewerAndCloudFrontHeaders-2022-06 lists %d CloudFront headers, want 21", len(p.Headers.Names))
	}
	p, _ = ManagedOriginRequestPolicy(AllViewerExceptHostHeaderID)
	if !reflect.DeepEqual(p.Headers.Names, []string{"host"}) {
		t.Errorf("AllViewerExceptHostHeader excepts %v", p.Headers.Names)
	}
}

// TestManagedResponseHeadersSettings pins which sections each policy has
// and the security headers' values.
func TestManagedResponseHeadersSettings(t *testing.T) {
	for id, w := range map[string]struct{ cors, preflight, security bool }{
		CORSAndSecurityHeadersID:              {cors: true, security: true},
		CORSWithPreflightID:                   {cors: true, preflight: true},
		CORSWithPreflightAndSecurityHeadersID: {cors: true, preflight: true, security: true},
		SecurityHeadersPolicyID:               {security: true},
		SimpleCORSID:                          {cors: true},
	} {
		p, _ := ManagedResponseHeadersPolicy(id)
		if (p.CORS != nil) != w.cors || (p.Security != nil) != w.security {
			t.Errorf("%s: cors %v security %v", p.Name, p.CORS != nil, p.Security != nil)
			continue
		}
		if p.CORS != nil {
			if !reflect.DeepEqual(p.CORS.AllowOrigins, []string{"*"}) || p.CORS.OriginOverride || p.CORS.AllowCredentials {
				t.Errorf("%s: CORS %+v", p.Name, *p.CORS)
			}
			if got := len(p.CORS.AllowMethods) == 7 && reflect.DeepEqual(p.CORS.ExposeHeaders, []string{"*"}); got != w.preflight {
				t.Errorf("%s: preflight methods %v expose %v", p.Name, p.CORS.AllowMethods, p.CORS.ExposeHeaders)
			}
		}
		if s := p.Security; s != nil {
			if s.ReferrerPolicy.ReferrerPolicy != "strict-origin-when-cross-origin" || s.ReferrerPolicy.Override ||
				s.StrictTransportSecurity.MaxAgeSec != 31536000 || s.StrictTransportSecurity.Override ||
				!s.ContentTypeOptions.Override ||
				s.FrameOptions.FrameOption != "SAMEORIGIN" || s.FrameOptions.Override ||
				!s.XSSProtection.Protection || !s.XSSProtection.ModeBlock || s.XSSProtection.Override ||
				s.ContentSecurityPolicy != nil {
				t.Errorf("%s: security headers %+v", p.Name, *s)
			}
		}
		if p.ServerTiming != nil || p.CustomHeaders != nil || p.RemoveHeaders != nil {
			t.Errorf("%s: unexpected sections", p.Name)
		}
	}
}

// TestManagedCopies checks that callers cannot change the catalogue.
func TestManagedCopies(t *testing.T) {
	c, _ := ManagedCachePolicy(ElementalMediaPackageID)
	c.QueryStrings.Names[0] = "changed"
	o := ManagedOriginRequestPolicies()[CORSS3OriginID]
	o.Headers.Names[0] = "changed"
	r := ManagedResponseHeadersPolicies()[CORSWithPreflightAndSecurityHeadersID]
	r.CORS.AllowMethods[0] = "changed"
	r.Security.FrameOptions.FrameOption = "DENY"
	if c, _ := ManagedCachePolicy(ElementalMediaPackageID); c.QueryStrings.Names[0] != "aws.manifestfilter" {
		t.Error("a cache policy's copy shares its names")
	}
	if o, _ := ManagedOriginRequestPolicy(CORSS3OriginID); o.Headers.Names[0] != "origin" {
		t.Error("an origin request policy's copy shares its names")
	}
	if r, _ := ManagedResponseHeadersPolicy(CORSWithPreflightAndSecurityHeadersID); r.CORS.AllowMethods[0] != "DELETE" || r.Security.FrameOptions.FrameOption != "SAMEORIGIN" {
		t.Error("a response headers policy's copy shares its settings")
	}
}
