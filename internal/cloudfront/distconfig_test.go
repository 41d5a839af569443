package cloudfront

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/openfront/openfront/internal/cloudfront/xmlmodel"
	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/policy"
	"github.com/openfront/openfront/internal/resource"
)

// distConfigXML is a DistributionConfig with the given origins and the
// members of its default behavior (after TargetOriginId and
// ViewerProtocolPolicy), and cache behaviors.
func distConfigXML(origins, defaultBehavior, behaviors string) string {
	if origins == "" {
		origins = `<Origin><Id>web</Id><DomainName>origin.example.com</DomainName>` +
			`<CustomOriginConfig><HTTPPort>80</HTTPPort><HTTPSPort>443</HTTPSPort><OriginProtocolPolicy>http-only</OriginProtocolPolicy></CustomOriginConfig></Origin>`
	}
	n := strings.Count(origins, "<Origin>")
	cb := ""
	if behaviors != "" {
		cb = `<CacheBehaviors><Quantity>` + strconv.Itoa(strings.Count(behaviors, "<CacheBehavior>")) + `</Quantity><Items>` + behaviors + `</Items></CacheBehaviors>`
	}
	return `<DistributionConfig xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><CallerReference>ref</CallerReference>` +
		`<Origins><Quantity>` + strconv.Itoa(n) + `</Quantity><Items>` + origins + `</Items></Origins>` +
		`<DefaultCacheBehavior><TargetOriginId>web</TargetOriginId><ViewerProtocolPolicy>allow-all</ViewerProtocolPolicy>` + defaultBehavior + `</DefaultCacheBehavior>` +
		cb + `<Comment></Comment><Enabled>true</Enabled></DistributionConfig>`
}

func decodeConfig(t *testing.T, doc string) (distribution.Config, error) {
	t.Helper()
	e, err := xmlmodel.Decode([]byte(doc), "DistributionConfig", "DistributionConfig")
	if err != nil {
		t.Fatalf("decoding: %v", err)
	}
	_, cfg, _, err := decodeDistributionConfig(e)
	return cfg, err
}

// TestDistConfigPolicyIDs: the policy and origin access control Ids of
// every behavior and origin reach the typed config, and RefsOf lists them.
func TestDistConfigPolicyIDs(t *testing.T) {
	origins := `<Origin><Id>web</Id><DomainName>bucket.s3.us-east-1.amazonaws.com</DomainName><S3OriginConfig><OriginAccessIdentity></OriginAccessIdentity></S3OriginConfig><OriginAccessControlId>E2QWRUHAPOMQZL</OriginAccessControlId></Origin>` +
		`<Origin><Id>api</Id><DomainName>api.example.com</DomainName><CustomOriginConfig><HTTPPort>80</HTTPPort><HTTPSPort>443</HTTPSPort><OriginProtocolPolicy>https-only</OriginProtocolPolicy></CustomOriginConfig></Origin>`
	def := `<CachePolicyId>` + policy.CachingOptimizedID + `</CachePolicyId><OriginRequestPolicyId>` + policy.CORSS3OriginID +
		`</OriginRequestPolicyId><ResponseHeadersPolicyId>` + policy.SecurityHeadersPolicyID + `</ResponseHeadersPolicyId>`
	behaviors := `<CacheBehavior><PathPattern>/api/*</PathPattern><TargetOriginId>api</TargetOriginId><ViewerProtocolPolicy>https-only</ViewerProtocolPolicy>` +
		`<CachePolicyId>custom-cache</CachePolicyId><OriginRequestPolicyId>custom-orp</OriginRequestPolicyId><ResponseHeadersPolicyId>custom-rhp</ResponseHeadersPolicyId></CacheBehavior>` +
		`<CacheBehavior><PathPattern>/legacy/*</PathPattern><TargetOriginId>api</TargetOriginId><ViewerProtocolPolicy>allow-all</ViewerProtocolPolicy>` +
		`<ResponseHeadersPolicyId>custom-rhp</ResponseHeadersPolicyId><ForwardedValues><QueryString>false</QueryString><Cookies><Forward>none</Forward></Cookies></ForwardedValues></CacheBehavior>`
	cfg, err := decodeConfig(t, distConfigXML(origins, def, behaviors))
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.DefaultBehavior
	if d.CachePolicyID != policy.CachingOptimizedID || d.OriginRequestPolicyID != policy.CORSS3OriginID || d.ResponseHeadersPolicyID != policy.SecurityHeadersPolicyID {
		t.Errorf("default behavior: %+v", d)
	}
	if b := cfg.Behaviors[0]; b.CachePolicyID != "custom-cache" || b.OriginRequestPolicyID != "custom-orp" || b.ResponseHeadersPolicyID != "custom-rhp" {
		t.Errorf("behavior 0: %+v", b)
	}
	if b := cfg.Behaviors[1]; b.CachePolicyID != "" || b.OriginRequestPolicyID != "" || b.ResponseHeadersPolicyID != "custom-rhp" {
		t.Errorf("behavior 1: %+v", b)
	}
	if cfg.Origins[0].OriginAccessControlID != "E2QWRUHAPOMQZL" || cfg.Origins[1].OriginAccessControlID != "" {
		t.Errorf("origins: %+v", cfg.Origins)
	}
	want := []resource.Ref{
		{Kind: resource.CachePolicy, ID: policy.CachingOptimizedID},
		{Kind: resource.OriginRequestPolicy, ID: policy.CORSS3OriginID},
		{Kind: resource.ResponseHeadersPolicy, ID: policy.SecurityHeadersPolicyID},
		{Kind: resource.CachePolicy, ID: "custom-cache"},
		{Kind: resource.OriginRequestPolicy, ID: "custom-orp"},
		{Kind: resource.ResponseHeadersPolicy, ID: "custom-rhp"},
		{Kind: resource.OriginAccessControl, ID: "E2QWRUHAPOMQZL"},
	}
	if got := distribution.RefsOf(cfg); !reflect.DeepEqual(got, want) {
		t.Errorf("RefsOf:\n got %v\nwant %v", got, want)
	}
}

// TestDistConfigManagedTTLs: a behavior with a managed cache policy has
// that policy's TTLs and query-string key in its typed fields; a custom
// policy's behavior has CachingOptimized's TTLs until the edge resolves
// the policy.
func TestDistConfigManagedTTLs(t *testing.T) {
	type want struct {
		min, def, max int64
		qs            bool
		keys          []string
	}
	cases := map[string]want{
		policy.AmplifyID:                                {2, 2, 600, true, nil},
		policy.CachingDisabledID:                        {0, 0, 0, false, nil},
		policy.CachingOptimizedID:                       {1, 86400, 31536000, false, nil},
		policy.CachingOptimizedForUncompressedObjectsID: {1, 86400, 31536000, false, nil},
		policy.ElementalMediaPackageID:                  {0, 86400, 31536000, true, []string{"aws.manifestfilter", "start", "end", "m"}},
		policy.UseOriginCacheControlHeadersID:           {0, 0, 31536000, false, nil},
		policy.UseOriginCacheControlHeadersQSID:         {0, 0, 31536000, true, nil},
		"a-custom-policy":                               {1, 86400, 31536000, false, nil},
	}
	for id, w := range cases {
		cfg, err := decodeConfig(t, distConfigXML("", `<CachePolicyId>`+id+`</CachePolicyId>`, ""))
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		b := cfg.DefaultBehavior
		got := want{b.MinTTL, b.DefaultTTL, b.MaxTTL, b.ForwardQueryString, b.QueryStringCacheKeys}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s: %+v, want %+v", id, got, w)
		}
	}
}

// TestDistConfigPolicyRules: what CloudFront refuses without looking
// anything up.
func TestDistConfigPolicyRules(t *testing.T) {
	fv := `<ForwardedValues><QueryString>false</QueryString><Cookies><Forward>none</Forward></Cookies></ForwardedValues>`
	cp := `<CachePolicyId>` + policy.CachingOptimizedID + `</CachePolicyId>`
	s3 := func(oai, oac string) string {
		return `<Origin><Id>web</Id><DomainName>b.s3.amazonaws.com</DomainName><S3OriginConfig><OriginAccessIdentity>` + oai +
			`</OriginAccessIdentity></S3OriginConfig>` + oac + `</Origin>`
	}
	for _, c := range []struct {
		name, origins, def, behaviors string
		code, msg                     string
	}{
		{"policy and ForwardedValues", "", cp + fv, "", "InvalidArgument",
			"The parameter ForwardedValues cannot be used when a cache policy is associated to the cache behavior."},
		{"policy and MinTTL", "", cp + `<MinTTL>0</MinTTL>`, "", "InvalidArgument",
			"The parameter MinTTL cannot be used when a cache policy is associated to the cache behavior."},
		{"policy and MaxTTL", "", cp + `<MaxTTL>10</MaxTTL>`, "", "InvalidArgument",
			"The parameter MaxTTL cannot be used when a cache policy is associated to the cache behavior."},
		{"neither", "", "", "", "InvalidArgument", "The parameter ForwardedValues is required."},
		{"neither in a cache behavior", "", cp,
			`<CacheBehavior><PathPattern>/a</PathPattern><TargetOriginId>web</TargetOriginId><ViewerProtocolPolicy>allow-all</ViewerProtocolPolicy></CacheBehavior>`,
			"InvalidArgument", "The parameter ForwardedValues is required."},
		{"origin request policy without a cache policy", "", `<OriginRequestPolicyId>` + policy.AllViewerID + `</OriginRequestPolicyId>` + fv, "",
			"InvalidArgument", "The parameter OriginRequestPolicyId cannot be used when no cache policy is associated to the cache behavior."},
		{"OAC and OAI", s3("origin-access-identity/cloudfront/E1OAI", `<OriginAccessControlId>E1OAC</OriginAccessControlId>`), cp, "",
			"IllegalOriginAccessConfiguration", "An origin cannot contain both an origin access control (OAC) and an origin access identity (OAI)."},
	} {
		_, err := decodeConfig(t, distConfigXML(c.origins, c.def, c.behaviors))
		var ae *apiError
		if !errors.As(err, &ae) || ae.Code != c.code || ae.Message != c.msg || ae.Status != 400 {
			t.Errorf("%s: %v, want 400 %s: %s", c.name, err, c.code, c.msg)
		}
	}
	// Allowed: an OAC with an empty OAI, an OAI alone, a response headers
	// policy with the legacy settings.
	for name, doc := range map[string]string{
		"OAC, empty OAI":  distConfigXML(s3("", `<OriginAccessControlId>E1OAC</OriginAccessControlId>`), cp, ""),
		"OAI alone":       distConfigXML(s3("origin-access-identity/cloudfront/E1OAI", ""), cp, ""),
		"legacy with RHP": distConfigXML("", `<ResponseHeadersPolicyId>`+policy.SimpleCORSID+`</ResponseHeadersPolicyId>`+fv, ""),
	} {
		if _, err := decodeConfig(t, doc); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
