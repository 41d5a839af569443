package cloudfront_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/openfront/openfront/internal/cloudfront"
	"github.com/openfront/openfront/internal/cloudfront/xmlmodel"
	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/policy"
	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/store/memory"
)

const ns = `xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"`

// Full configurations, every member set, in the model's order and
// without white space: what GetConfig must send back byte for byte.
const (
	fullCachePolicy = `<CachePolicyConfig><Comment>every field</Comment><Name>full-cache</Name>` +
		`<DefaultTTL>3600</DefaultTTL><MaxTTL>86400</MaxTTL><MinTTL>60</MinTTL>` +
		`<ParametersInCacheKeyAndForwardedToOrigin><EnableAcceptEncodingGzip>true</EnableAcceptEncodingGzip>` +
		`<EnableAcceptEncodingBrotli>true</EnableAcceptEncodingBrotli>` +
		`<HeadersConfig><HeaderBehavior>whitelist</HeaderBehavior><Headers><Quantity>2</Quantity><Items><Name>Origin</Name><Name>X-Lang</Name></Items></Headers></HeadersConfig>` +
		`<CookiesConfig><CookieBehavior>allExcept</CookieBehavior><Cookies><Quantity>1</Quantity><Items><Name>session</Name></Items></Cookies></CookiesConfig>` +
		`<QueryStringsConfig><QueryStringBehavior>whitelist</QueryStringBehavior><QueryStrings><Quantity>2</Quantity><Items><Name>page</Name><Name>q</Name></Items></QueryStrings></QueryStringsConfig>` +
		`</ParametersInCacheKeyAndForwardedToOrigin></CachePolicyConfig>`
	fullOriginRequestPolicy = `<OriginRequestPolicyConfig><Comment>every field</Comment><Name>full-orp</Name>` +
		`<HeadersConfig><HeaderBehavior>allViewerAndWhitelistCloudFront</HeaderBehavior><Headers><Quantity>1</Quantity><Items><Name>CloudFront-Viewer-Country</Name></Items></Headers></HeadersConfig>` +
		`<CookiesConfig><CookieBehavior>whitelist</CookieBehavior><Cookies><Quantity>1</Quantity><Items><Name>a</Name></Items></Cookies></CookiesConfig>` +
		`<QueryStringsConfig><QueryStringBehavior>all</QueryStringBehavior><QueryStrings><Quantity>0</Quantity></QueryStrings></QueryStringsConfig>` +
		`</OriginRequestPolicyConfig>`
	fullResponseHeadersPolicy = `<ResponseHeadersPolicyConfig><Comment>every field</Comment><Name>full-rhp</Name>` +
		`<CorsConfig><AccessControlAllowOrigins><Quantity>1</Quantity><Items><Origin>https://example.com</Origin></Items></AccessControlAllowOrigins>` +
		`<AccessControlAllowHeaders><Quantity>1</Quantity><Items><Header>X-Custom</Header></Items></AccessControlAllowHeaders>` +
		`<AccessControlAllowMethods><Quantity>2</Quantity><Items><Method>GET</Method><Method>POST</Method></Items></AccessControlAllowMethods>` +
		`<AccessControlAllowCredentials>true</AccessControlAllowCredentials>` +
		`<AccessControlExposeHeaders><Quantity>1</Quantity><Items><Header>X-Expose</Header></Items></AccessControlExposeHeaders>` +
		`<AccessControlMaxAgeSec>600</AccessControlMaxAgeSec><OriginOverride>false</OriginOverride></CorsConfig>` +
		`<SecurityHeadersConfig><XSSProtection><Override>true</Override><Protection>true</Protection><ReportUri>https://example.com/r</ReportUri></XSSProtection>` +
		`<FrameOptions><Override>true</Override><FrameOption>DENY</FrameOption></FrameOptions>` +
		`<ReferrerPolicy><Override>true</Override><ReferrerPolicy>same-origin</ReferrerPolicy></ReferrerPolicy>` +
		`<ContentSecurityPolicy><Override>true</Override><ContentSecurityPolicy>default-src 'self'</ContentSecurityPolicy></ContentSecurityPolicy>` +
		`<ContentTypeOptions><Override>true</Override></ContentTypeOptions>` +
		`<StrictTransportSecurity><Override>false</Override><IncludeSubdomains>true</IncludeSubdomains><Preload>true</Preload><AccessControlMaxAgeSec>63072000</AccessControlMaxAgeSec></StrictTransportSecurity></SecurityHeadersConfig>` +
		`<ServerTimingHeadersConfig><Enabled>true</Enabled><SamplingRate>12.5</SamplingRate></ServerTimingHeadersConfig>` +
		`<CustomHeadersConfig><Quantity>1</Quantity><Items><ResponseHeadersPolicyCustomHeader><Header>X-Hello</Header><Value>world</Value><Override>true</Override></ResponseHeadersPolicyCustomHeader></Items></CustomHeadersConfig>` +
		`<RemoveHeadersConfig><Quantity>1</Quantity><Items><ResponseHeadersPolicyRemoveHeader><Header>Server</Header></ResponseHeadersPolicyRemoveHeader></Items></RemoveHeadersConfig>` +
		`</ResponseHeadersPolicyConfig>`
	fullOAC = `<OriginAccessControlConfig><Name>full-oac</Name><Description>every field</Description><SigningProtocol>sigv4</SigningProtocol>` +
		`<SigningBehavior>no-override</SigningBehavior><OriginAccessControlOriginType>s3</OriginAccessControlOriginType></OriginAccessControlConfig>`
	fullOAI = `<CloudFrontOriginAccessIdentityConfig><CallerReference>ref-1</CallerReference><Comment>every field</Comment></CloudFrontOriginAccessIdentityConfig>`
)

type kindCase struct {
	name, base, config, doc, full string
	updateOnConfig                bool
}

var kindCases = []kindCase{
	{"cache", "/2020-05-31/cache-policy", "CachePolicyConfig", "CachePolicy", fullCachePolicy, false},
	{"orp", "/2020-05-31/origin-request-policy", "OriginRequestPolicyConfig", "OriginRequestPolicy", fullOriginRequestPolicy, false},
	{"rhp", "/2020-05-31/response-headers-policy", "ResponseHeadersPolicyConfig", "ResponseHeadersPolicy", fullResponseHeadersPolicy, false},
	{"oac", "/2020-05-31/origin-access-control", "OriginAccessControlConfig", "OriginAccessControl", fullOAC, true},
	{"oai", "/2020-05-31/origin-access-identity/cloudfront", "CloudFrontOriginAccessIdentityConfig", "CloudFrontOriginAccessIdentity", fullOAI, true},
}

type apiServer struct {
	t     *testing.T
	url   string
	store *memory.Store
	svcs  map[resource.Kind]*resource.Service
}

func newAPIServer(t *testing.T) *apiServer {
	t.Helper()
	store := memory.New()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := &apiServer{t: t, store: store, svcs: map[resource.Kind]*resource.Service{}}
	var svcs []*resource.Service
	for _, k := range []resource.Kind{resource.CachePolicy, resource.OriginRequestPolicy, resource.ResponseHeadersPolicy} {
		svc := resource.NewService(resource.Config{Store: store, Rules: cloudfront.PolicyRules(k), Logger: quiet})
		s.svcs[k] = svc
		svcs = append(svcs, svc)
	}
	for _, k := range []resource.Kind{resource.OriginAccessControl, resource.OriginAccessIdentity} {
		svc := resource.NewService(resource.Config{Store: store, Rules: cloudfront.OriginAccessRules(k), Logger: quiet})
		s.svcs[k] = svc
		svcs = append(svcs, svc)
	}
	h := cloudfront.NewHandler(cloudfront.Config{ResourceServices: svcs, Logger: quiet})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (s *apiServer) do(method, path, body string, hdr ...string) answer {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// errorCode returns the Code of an error envelope.
func errorCode(body string) string {
	var e struct {
		Error struct{ Code, Message string }
	}
	if xml.Unmarshal([]byte(body), &e) != nil {
		return ""
	}
	return e.Error.Code
}

func (s *apiServer) wantError(a answer, status int, code string) {
	s.t.Helper()
	if a.status != status || errorCode(a.body) != code {
		s.t.Fatalf("got %d %s, want %d %s; body %s", a.status, errorCode(a.body), status, code, a.body)
	}
}

var idRE = regexp.MustCompile(`<Id>([^<]+)</Id>`)

func (s *apiServer) create(k kindCase, body string) (id, etag string) {
	s.t.Helper()
	a := s.do("POST", k.base, body)
	if a.status != http.StatusCreated {
		s.t.Fatalf("create %s: %d %s", k.name, a.status, a.body)
	}
	m := idRE.FindStringSubmatch(a.body)
	if m == nil {
		s.t.Fatalf("create %s: no Id in %s", k.name, a.body)
	}
	if want := s.url + k.base + "/" + m[1]; a.header.Get("Location") != want {
		s.t.Errorf("Location %q, want %q", a.header.Get("Location"), want)
	}
	if a.header.Get("ETag") == "" {
		s.t.Errorf("create %s: no ETag", k.name)
	}
	return m[1], a.header.Get("ETag")
}

// TestResourceRoundTrip creates a resource of every kind with every
// field set and reads back the configuration it sent, byte for byte,
// from Create, Get, GetConfig, Update and List.
func TestResourceRoundTrip(t *testing.T) {
	s := newAPIServer(t)
	for _, k := range kindCases {
		t.Run(k.name, func(t *testing.T) {
			s.t = t
			id, etag := s.create(k, k.full)
			g := s.do("GET", k.base+"/"+id, "")
			if g.status != 200 || !strings.Contains(g.body, k.full) || g.header.Get("ETag") != etag {
				t.Fatalf("get: %d etag %q (want %q)\n%s\nwant it to contain\n%s", g.status, g.header.Get("ETag"), etag, g.body, k.full)
			}
			if !strings.HasPrefix(g.body, `<?xml version="1.0"?>`+"\n<"+k.doc+" "+ns+"><Id>"+id+"</Id>") {
				t.Errorf("get: document starts %q", g.body[:min(len(g.body), 200)])
			}
			c := s.do("GET", k.base+"/"+id+"/config", "")
			want := `<?xml version="1.0"?>` + "\n" + strings.Replace(k.full, "<"+k.config+">", "<"+k.config+" "+ns+">", 1)
			if c.status != 200 || c.body != want || c.header.Get("ETag") != etag {
				t.Fatalf("get config: %d\n%s\nwant\n%s", c.status, c.body, want)
			}
			// Every document the server sends parses against the model.
			if _, err := xmlmodel.Decode([]byte(g.body), k.doc, k.doc); err != nil {
				t.Errorf("get: %v", err)
			}
			up := k.base + "/" + id
			if k.updateOnConfig {
				up += "/config"
			}
			u := s.do("PUT", up, k.full, "If-Match", etag)
			if u.status != 200 || !strings.Contains(u.body, k.full) || u.header.Get("ETag") == etag || u.header.Get("ETag") == "" {
				t.Fatalf("update: %d etag %q\n%s", u.status, u.header.Get("ETag"), u.body)
			}
			l := s.do("GET", k.base, "")
			listShape := strings.TrimSuffix(k.doc, "Config") + "List"
			if _, err := xmlmodel.Decode([]byte(l.body), listShape, listShape); err != nil || !strings.Contains(l.body, "<Id>"+id+"</Id>") {
				t.Fatalf("list: %v\n%s", err, l.body)
			}
		})
	}
}

// TestResourceCRUDErrors: each kind's NoSuch, AlreadyExists, If-Match
// and InUse errors, and Delete.
func TestResourceCRUDErrors(t *testing.T) {
	s := newAPIServer(t)
	noSuch := map[string]string{"cache": "NoSuchCachePolicy", "orp": "NoSuchOriginRequestPolicy", "rhp": "NoSuchResponseHeadersPolicy",
		"oac": "NoSuchOriginAccessControl", "oai": "NoSuchCloudFrontOriginAccessIdentity"}
	exists := map[string]string{"cache": "CachePolicyAlreadyExists", "orp": "OriginRequestPolicyAlreadyExists", "rhp": "ResponseHeadersPolicyAlreadyExists",
		"oac": "OriginAccessControlAlreadyExists", "oai": "CloudFrontOriginAccessIdentityAlreadyExists"}
	inUse := map[string]string{"cache": "CachePolicyInUse", "orp": "OriginRequestPolicyInUse", "rhp": "ResponseHeadersPolicyInUse",
		"oac": "OriginAccessControlInUse", "oai": "CloudFrontOriginAccessIdentityInUse"}
	kinds := map[string]resource.Kind{"cache": resource.CachePolicy, "orp": resource.OriginRequestPolicy, "rhp": resource.ResponseHeadersPolicy,
		"oac": resource.OriginAccessControl, "oai": resource.OriginAccessIdentity}
	for i, k := range kindCases {
		t.Run(k.name, func(t *testing.T) {
			s.t = t
			id, etag := s.create(k, k.full)
			s.wantError(s.do("GET", k.base+"/NOSUCH", ""), 404, noSuch[k.name])
			s.wantError(s.do("GET", k.base+"/NOSUCH/config", ""), 404, noSuch[k.name])
			s.wantError(s.do("DELETE", k.base+"/NOSUCH", "", "If-Match", "E1"), 404, noSuch[k.name])
			// The same name (for identities: the same CallerReference with
			// another configuration).
			dup := strings.Replace(k.full, "every field", "another", 1)
			s.wantError(s.do("POST", k.base, dup), 409, exists[k.name])
			up := k.base + "/" + id
			if k.updateOnConfig {
				up += "/config"
			}
			s.wantError(s.do("PUT", up, k.full), 400, "InvalidIfMatchVersion")
			s.wantError(s.do("PUT", up, k.full, "If-Match", "EWRONG"), 412, "PreconditionFailed")
			s.wantError(s.do("DELETE", k.base+"/"+id, ""), 400, "InvalidIfMatchVersion")
			s.wantError(s.do("DELETE", k.base+"/"+id, "", "If-Match", "EWRONG"), 412, "PreconditionFailed")
			// In use by a distribution.
			dist := distribution.Distribution{ID: fmt.Sprintf("EDIST%d", i), CallerReference: fmt.Sprintf("ref-%d", i),
				Refs: []resource.Ref{{Kind: kinds[k.name], ID: id}}}
			if err := s.store.CreateDistribution(context.Background(), dist); err != nil {
				t.Fatal(err)
			}
			s.wantError(s.do("DELETE", k.base+"/"+id, "", "If-Match", etag), 409, inUse[k.name])
			if err := s.store.DeleteDistribution(context.Background(), dist.ID, func(distribution.Distribution) error { return nil }); err != nil {
				t.Fatal(err)
			}
			if a := s.do("DELETE", k.base+"/"+id, "", "If-Match", etag); a.status != 204 || a.body != "" {
				t.Fatalf("delete: %d %s", a.status, a.body)
			}
			s.wantError(s.do("GET", k.base+"/"+id, ""), 404, noSuch[k.name])
			// The name is free again.
			s.create(k, k.full)
		})
	}
}

func TestOriginAccessIdentityCallerReference(t *testing.T) {
	s := newAPIServer(t)
	k := kindCases[4]
	id, etag := s.create(k, fullOAI)
	// The same CallerReference and configuration: the same identity.
	again, etag2 := s.create(k, fullOAI)
	if again != id || etag2 != etag {
		t.Fatalf("idempotent create: %s %s, want %s %s", again, etag2, id, etag)
	}
	g := s.do("GET", k.base+"/"+id, "")
	if !regexp.MustCompile(`<S3CanonicalUserId>[0-9a-f]{96}</S3CanonicalUserId>`).MatchString(g.body) {
		t.Errorf("no S3 canonical user id: %s", g.body)
	}
	changed := strings.Replace(fullOAI, "ref-1", "ref-2", 1)
	s.wantError(s.do("PUT", k.base+"/"+id+"/config", changed, "If-Match", etag), 400, "IllegalUpdate")
	// The canonical user Id stays through an update.
	u := s.do("PUT", k.base+"/"+id+"/config", strings.Replace(fullOAI, "every field", "new comment", 1), "If-Match", etag)
	canon := regexp.MustCompile(`<S3CanonicalUserId>([^<]+)<`)
	if u.status != 200 || canon.FindString(u.body) != canon.FindString(g.body) {
		t.Fatalf("update: %d %s (before: %s)", u.status, u.body, g.body)
	}
}

func TestPolicyValidation(t *testing.T) {
	s := newAPIServer(t)
	cache := func(min, def, max, headers string) string {
		return `<CachePolicyConfig><Name>p</Name>` + def + max + `<MinTTL>` + min + `</MinTTL>` +
			`<ParametersInCacheKeyAndForwardedToOrigin><EnableAcceptEncodingGzip>false</EnableAcceptEncodingGzip>` +
			`<HeadersConfig>` + headers + `</HeadersConfig><CookiesConfig><CookieBehavior>none</CookieBehavior></CookiesConfig>` +
			`<QueryStringsConfig><QueryStringBehavior>none</QueryStringBehavior></QueryStringsConfig>` +
			`</ParametersInCacheKeyAndForwardedToOrigin></CachePolicyConfig>`
	}
	none := `<HeaderBehavior>none</HeaderBehavior>`
	names := func(n int) string {
		var b strings.Builder
		fmt.Fprintf(&b, `<HeaderBehavior>whitelist</HeaderBehavior><Headers><Quantity>%d</Quantity><Items>`, n)
		for i := range n {
			fmt.Fprintf(&b, "<Name>X-H%d</Name>", i)
		}
		b.WriteString("</Items></Headers>")
		return b.String()
	}
	const cp = "/2020-05-31/cache-policy"
	for _, tt := range []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"default below min", cp, cache("100", "<DefaultTTL>10</DefaultTTL>", "", none), 400, "InvalidArgument"},
		{"max below default", cp, cache("0", "<DefaultTTL>100</DefaultTTL>", "<MaxTTL>10</MaxTTL>", none), 400, "InvalidArgument"},
		{"negative min", cp, cache("-1", "", "", none), 400, "InvalidArgument"},
		{"too many headers", cp, cache("0", "", "", names(11)), 400, "TooManyHeadersInCachePolicy"},
		{"quantity", cp, cache("0", "", "", `<HeaderBehavior>whitelist</HeaderBehavior><Headers><Quantity>2</Quantity><Items><Name>A</Name></Items></Headers>`), 400, "InconsistentQuantities"},
		{"whitelist without names", cp, cache("0", "", "", `<HeaderBehavior>whitelist</HeaderBehavior><Headers><Quantity>0</Quantity></Headers>`), 400, "InvalidArgument"},
		{"accept-encoding", cp, cache("0", "", "", `<HeaderBehavior>whitelist</HeaderBehavior><Headers><Quantity>1</Quantity><Items><Name>accept-encoding</Name></Items></Headers>`), 400, "InvalidArgument"},
		{"key without caching", cp, cache("0", "<DefaultTTL>0</DefaultTTL>", "<MaxTTL>0</MaxTTL>", names(1)), 400, "InvalidArgument"},
		{"bad name", cp, strings.Replace(cache("0", "", "", none), "<Name>p</Name>", "<Name>has space</Name>", 1), 400, "InvalidArgument"},
		{"enum", cp, cache("0", "", "", `<HeaderBehavior>allViewer</HeaderBehavior>`), 400, "InvalidArgument"},
		{"malformed", cp, "<CachePolicyConfig>", 400, "InvalidArgument"},
		{"no body", cp, "", 400, "MissingBody"},
		{"document too large", cp, strings.Replace(cache("0", "", "", none), "<Name>p</Name>", "<Name>p</Name><Comment>"+strings.Repeat("c", 64<<10)+"</Comment>", 1), 400, "InvalidArgument"},
		{"comment too long", cp, strings.Replace(cache("0", "", "", none), "<Name>p</Name>", "<Comment>"+strings.Repeat("c", 129)+"</Comment><Name>p</Name>", 1), 400, "InvalidArgument"},
		{"orp cloudfront headers", "/2020-05-31/origin-request-policy", strings.Replace(fullOriginRequestPolicy, "CloudFront-Viewer-Country", "X-Other", 1), 400, "InvalidArgument"},
		{"rhp credentials with *", "/2020-05-31/response-headers-policy", strings.Replace(fullResponseHeadersPolicy, "https://example.com</Origin>", "*</Origin>", 1), 400, "InvalidArgument"},
		{"rhp credentials with header *", "/2020-05-31/response-headers-policy", strings.Replace(fullResponseHeadersPolicy, "<Header>X-Custom</Header>", "<Header>*</Header>", 1), 400, "InvalidArgument"},
		{"rhp no allow headers", "/2020-05-31/response-headers-policy", strings.Replace(fullResponseHeadersPolicy, "<AccessControlAllowHeaders><Quantity>1</Quantity><Items><Header>X-Custom</Header></Items></AccessControlAllowHeaders>", "<AccessControlAllowHeaders><Quantity>0</Quantity><Items></Items></AccessControlAllowHeaders>", 1), 400, "InvalidArgument"},
		{"rhp custom security header", "/2020-05-31/response-headers-policy", strings.Replace(fullResponseHeadersPolicy, "<Header>X-Hello</Header>", "<Header>Strict-Transport-Security</Header>", 1), 400, "InvalidArgument"},
		{"rhp remove content-length", "/2020-05-31/response-headers-policy", strings.Replace(fullResponseHeadersPolicy, "<Header>Server</Header>", "<Header>Content-Length</Header>", 1), 400, "InvalidArgument"},
		{"rhp long csp", "/2020-05-31/response-headers-policy", strings.Replace(fullResponseHeadersPolicy, "default-src 'self'", strings.Repeat("a", 1784), 1), 400, "TooLongCSPInResponseHeadersPolicy"},
		{"rhp sampling", "/2020-05-31/response-headers-policy", strings.Replace(fullResponseHeadersPolicy, "12.5", "100.5", 1), 400, "InvalidArgument"},
		{"rhp empty", "/2020-05-31/response-headers-policy", `<ResponseHeadersPolicyConfig><Name>e</Name></ResponseHeadersPolicyConfig>`, 400, "InvalidArgument"},
		{"oac long name", "/2020-05-31/origin-access-control", strings.Replace(fullOAC, "full-oac", strings.Repeat("n", 65), 1), 400, "InvalidArgument"},
		{"oac behavior", "/2020-05-31/origin-access-control", strings.Replace(fullOAC, "no-override", "sometimes", 1), 400, "InvalidArgument"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s.t = t
			s.wantError(s.do("POST", tt.path, tt.body), tt.status, tt.code)
		})
	}
	// TTLs left out come back as CloudFront fills them.
	s.t = t
	id, _ := s.create(kindCases[0], cache("100000", "", "", none))
	c := s.do("GET", cp+"/"+id+"/config", "")
	if !strings.Contains(c.body, "<DefaultTTL>100000</DefaultTTL><MaxTTL>31536000</MaxTTL><MinTTL>100000</MinTTL>") {
		t.Errorf("TTL defaults: %s", c.body)
	}
}

func TestResourceQuota(t *testing.T) {
	s := newAPIServer(t)
	k := kindCases[0]
	for i := range 20 {
		s.create(k, strings.Replace(fullCachePolicy, "full-cache", fmt.Sprintf("p%d", i), 1))
	}
	s.wantError(s.do("POST", k.base, fullCachePolicy), 400, "TooManyCachePolicies")
	// Pages: MaxItems and NextMarker walk every policy once.
	seen := map[string]bool{}
	marker := ""
	for range 10 {
		a := s.do("GET", k.base+"?MaxItems=7&Marker="+marker, "")
		for _, m := range idRE.FindAllStringSubmatch(a.body, -1) {
			if seen[m[1]] {
				t.Fatalf("%s listed twice", m[1])
			}
			seen[m[1]] = true
		}
		nm := regexp.MustCompile(`<NextMarker>([^<]+)</NextMarker>`).FindStringSubmatch(a.body)
		if nm == nil {
			break
		}
		marker = nm[1]
	}
	if len(seen) != 20 {
		t.Errorf("listed %d policies, want 20", len(seen))
	}
	s.wantError(s.do("GET", k.base+"?Type=other", ""), 400, "InvalidArgument")
	s.wantError(s.do("GET", k.base+"?MaxItems=0", ""), 400, "InvalidArgument")
}

// TestManagedPolicies: managed policies are listed as managed, read
// like any other, and can be neither changed nor deleted.
func TestManagedPolicies(t *testing.T) {
	s := newAPIServer(t)
	const id = "658327ea-f89d-4fab-a63d-7e88639e58f6"
	p := policy.CachePolicy{Name: "Managed-CachingOptimized", Comment: "Policy with caching enabled. Supports Gzip and Brotli compression.",
		MinTTL: 1, DefaultTTL: 86400, MaxTTL: 31536000, AcceptEncodingGzip: true, AcceptEncodingBrotli: true,
		Headers: policy.Selection{Behavior: "none"}, Cookies: policy.Selection{Behavior: "none"}, QueryStrings: policy.Selection{Behavior: "none"}}
	m, err := cloudfront.ManagedResource(resource.CachePolicy, id, cloudfront.CachePolicyDocument(&p))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.svcs[resource.CachePolicy].EnsureManaged(context.Background(), []resource.Resource{m}); err != nil {
		t.Fatal(err)
	}
	k := kindCases[0]
	s.create(k, fullCachePolicy)
	g := s.do("GET", k.base+"/"+id, "")
	if g.status != 200 || !strings.Contains(g.body, "<Name>Managed-CachingOptimized</Name>") || !strings.Contains(g.body, "<MinTTL>1</MinTTL>") {
		t.Fatalf("get managed: %d %s", g.status, g.body)
	}
	etag := g.header.Get("ETag")
	s.wantError(s.do("PUT", k.base+"/"+id, fullCachePolicy, "If-Match", etag), 400, "IllegalUpdate")
	s.wantError(s.do("DELETE", k.base+"/"+id, "", "If-Match", etag), 400, "IllegalDelete")
	managed := s.do("GET", k.base+"?Type=managed", "")
	custom := s.do("GET", k.base+"?Type=custom", "")
	all := s.do("GET", k.base, "")
	if strings.Count(managed.body, "<Type>managed</Type>") != 1 || strings.Contains(managed.body, "full-cache") {
		t.Errorf("Type=managed: %s", managed.body)
	}
	if strings.Count(custom.body, "<Type>custom</Type>") != 1 || strings.Contains(custom.body, id) {
		t.Errorf("Type=custom: %s", custom.body)
	}
	if !strings.Contains(all.body, "<Quantity>2</Quantity>") {
		t.Errorf("no Type: %s", all.body)
	}
}

// TestTypedDocuments: the typed→XML encoders (for the managed policies)
// give back, from the typed form of a configuration of every field, the
// document it was decoded from.
func TestTypedDocuments(t *testing.T) {
	s := newAPIServer(t)
	for _, k := range kindCases[:3] {
		t.Run(k.name, func(t *testing.T) {
			s.t = t
			id, _ := s.create(k, k.full)
			kind := map[string]resource.Kind{"cache": resource.CachePolicy, "orp": resource.OriginRequestPolicy, "rhp": resource.ResponseHeadersPolicy}[k.name]
			stored, err := s.store.GetResource(context.Background(), kind, id)
			if err != nil {
				t.Fatal(err)
			}
			var doc *xmlmodel.Element
			switch kind {
			case resource.CachePolicy:
				var p policy.CachePolicy
				mustUnmarshal(t, stored.Config, &p)
				doc = cloudfront.CachePolicyDocument(&p)
			case resource.OriginRequestPolicy:
				var p policy.OriginRequestPolicy
				mustUnmarshal(t, stored.Config, &p)
				doc = cloudfront.OriginRequestPolicyDocument(&p)
			default:
				var p policy.ResponseHeadersPolicy
				mustUnmarshal(t, stored.Config, &p)
				doc = cloudfront.ResponseHeadersPolicyDocument(&p)
			}
			m, err := cloudfront.ManagedResource(kind, "managed-"+k.name, doc)
			if err != nil {
				t.Fatal(err)
			}
			if string(m.Raw) != k.full || string(m.Config) != string(stored.Config) {
				t.Errorf("typed→XML:\n%s\nwant\n%s\nconfig %s\nwant %s", m.Raw, k.full, m.Config, stored.Config)
			}
		})
	}
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// TestManagedSkipsCustomRules: a managed policy need not meet the rules
// of custom ones (AWS's managed CORS policies have empty lists).
func TestManagedSkipsCustomRules(t *testing.T) {
	p := policy.ResponseHeadersPolicy{Name: "Managed-CORS-With-Preflight", CORS: &policy.CORS{
		AllowOrigins: []string{"*"}, AllowMethods: []string{"GET"}, MaxAgeSec: -1}}
	if err := p.Validate(policy.DefaultLimits); err == nil {
		t.Fatal("a custom policy with no allowed headers passes")
	}
	m, err := cloudfront.ManagedResource(resource.ResponseHeadersPolicy, "60669652-455b-4ae9-85a4-c4c02393f86c", cloudfront.ResponseHeadersPolicyDocument(&p))
	if err != nil || !m.Managed || !strings.Contains(string(m.Raw), "<AccessControlAllowHeaders><Quantity>0</Quantity></AccessControlAllowHeaders>") {
		t.Fatalf("managed: %v %s", err, m.Raw)
	}
}
