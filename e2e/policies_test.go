package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// The edge acts on cache, origin request and response headers policies
// created through the API, and follows their updates without a new
// version of the distributions that use them.

// skipUnlessImplemented skips the test when the API answered 501: the
// policies API is not in this build yet.
func skipUnlessImplemented(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if _, status, _ := apiErr(t, err); status == http.StatusNotImplemented {
		t.Skip("needs " + what)
	}
	t.Fatalf("%s: %v", what, err)
}

func cachePolicyConfig(name string, queryStrings ...string) *types.CachePolicyConfig {
	return &types.CachePolicyConfig{
		Name: aws.String(name), MinTTL: aws.Int64(1), DefaultTTL: aws.Int64(86400), MaxTTL: aws.Int64(31536000),
		ParametersInCacheKeyAndForwardedToOrigin: &types.ParametersInCacheKeyAndForwardedToOrigin{
			EnableAcceptEncodingGzip: aws.Bool(false),
			HeadersConfig:            &types.CachePolicyHeadersConfig{HeaderBehavior: types.CachePolicyHeaderBehaviorNone},
			CookiesConfig:            &types.CachePolicyCookiesConfig{CookieBehavior: types.CachePolicyCookieBehaviorNone},
			QueryStringsConfig: &types.CachePolicyQueryStringsConfig{
				QueryStringBehavior: types.CachePolicyQueryStringBehaviorWhitelist,
				QueryStrings:        &types.QueryStringNames{Quantity: aws.Int32(int32(len(queryStrings))), Items: queryStrings},
			},
		},
	}
}

func headersPolicyConfig(name, version string) *types.ResponseHeadersPolicyConfig {
	custom := []types.ResponseHeadersPolicyCustomHeader{
		{Header: aws.String("X-Policy-Version"), Value: aws.String(version), Override: aws.Bool(true)},
		{Header: aws.String("X-Custom"), Value: aws.String("c"), Override: aws.Bool(false)},
	}
	return &types.ResponseHeadersPolicyConfig{
		Name:                aws.String(name),
		CustomHeadersConfig: &types.ResponseHeadersPolicyCustomHeadersConfig{Quantity: aws.Int32(int32(len(custom))), Items: custom},
		SecurityHeadersConfig: &types.ResponseHeadersPolicySecurityHeadersConfig{
			ContentTypeOptions: &types.ResponseHeadersPolicyContentTypeOptions{Override: aws.Bool(true)},
		},
	}
}

func TestEdgePolicies(t *testing.T) {
	s := startServer(t, options{})
	c := s.client("", "")
	v := newEdgeViewer(t, s)
	o := newTestOrigin(t)
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("X-Got-Api-Key", r.Header.Get("X-Api-Key"))
		w.Header().Set("X-Got-Lang", r.Header.Get("Accept-Language"))
		fmt.Fprint(w, r.RequestURI)
	})
	suffix := fmt.Sprint(time.Now().UnixNano())

	cp, err := c.CreateCachePolicy(ctx(t), &cloudfront.CreateCachePolicyInput{CachePolicyConfig: cachePolicyConfig("qs-"+suffix, "v")})
	skipUnlessImplemented(t, "CreateCachePolicy", err)
	orp, err := c.CreateOriginRequestPolicy(ctx(t), &cloudfront.CreateOriginRequestPolicyInput{OriginRequestPolicyConfig: &types.OriginRequestPolicyConfig{
		Name: aws.String("fwd-" + suffix),
		HeadersConfig: &types.OriginRequestPolicyHeadersConfig{HeaderBehavior: types.OriginRequestPolicyHeaderBehaviorWhitelist,
			Headers: &types.Headers{Quantity: aws.Int32(1), Items: []string{"X-Api-Key"}}},
		CookiesConfig:      &types.OriginRequestPolicyCookiesConfig{CookieBehavior: types.OriginRequestPolicyCookieBehaviorNone},
		QueryStringsConfig: &types.OriginRequestPolicyQueryStringsConfig{QueryStringBehavior: types.OriginRequestPolicyQueryStringBehaviorNone},
	}})
	skipUnlessImplemented(t, "CreateOriginRequestPolicy", err)
	rhp, err := c.CreateResponseHeadersPolicy(ctx(t), &cloudfront.CreateResponseHeadersPolicyInput{ResponseHeadersPolicyConfig: headersPolicyConfig("rh-"+suffix, "1")})
	skipUnlessImplemented(t, "CreateResponseHeadersPolicy", err)

	def := &types.DefaultCacheBehavior{
		TargetOriginId:          aws.String("o"),
		ViewerProtocolPolicy:    types.ViewerProtocolPolicyAllowAll,
		CachePolicyId:           cp.CachePolicy.Id,
		OriginRequestPolicyId:   orp.OriginRequestPolicy.Id,
		ResponseHeadersPolicyId: rhp.ResponseHeadersPolicy.Id,
	}
	d := createEdgeDist(t, c, edgeConfig("policies-"+suffix, def, o.origin("o")))

	// The whitelisted parameter is in the key, the other one is not and
	// does not reach the origin; the origin request policy's header
	// reaches the origin without being in the key; the response headers
	// policy's headers are on the miss and on the hit.
	r := v.get(d.domain, "/p?v=1&w=1", "X-Api-Key", "k1", "Accept-Language", "fr")
	if r.xcache() != edgeMiss || r.body != "/p?v=1" || r.header.Get("X-Got-Api-Key") != "k1" || r.header.Get("X-Got-Lang") != "" {
		t.Fatalf("miss: %q body %q api key %q lang %q", r.xcache(), r.body, r.header.Get("X-Got-Api-Key"), r.header.Get("X-Got-Lang"))
	}
	for _, r := range []edgeResponse{r, v.get(d.domain, "/p?v=1&w=2", "X-Api-Key", "k2")} {
		if r.body != "/p?v=1" || r.header.Get("X-Policy-Version") != "1" || r.header.Get("X-Custom") != "c" ||
			r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: body %q headers %v", r.xcache(), r.body, r.header)
		}
	}
	if r := v.get(d.domain, "/p?v=1&w=3", "X-Api-Key", "k3"); r.xcache() != edgeHit || r.header.Get("X-Got-Api-Key") != "k1" {
		t.Errorf("another w and api key: %q (origin saw %q), want a hit", r.xcache(), r.header.Get("X-Got-Api-Key"))
	}
	if r := v.get(d.domain, "/p?v=2&w=1"); r.xcache() != edgeMiss || r.body != "/p?v=2" {
		t.Errorf("another v: %q %q, want a miss", r.xcache(), r.body)
	}

	// Updated while serving: the running edge follows, the distribution
	// is not touched.
	gcp, err := c.GetCachePolicy(ctx(t), &cloudfront.GetCachePolicyInput{Id: cp.CachePolicy.Id})
	skipUnlessImplemented(t, "GetCachePolicy", err)
	_, err = c.UpdateCachePolicy(ctx(t), &cloudfront.UpdateCachePolicyInput{Id: cp.CachePolicy.Id, IfMatch: gcp.ETag,
		CachePolicyConfig: cachePolicyConfig("qs-"+suffix, "v", "w")})
	skipUnlessImplemented(t, "UpdateCachePolicy", err)
	grh, err := c.GetResponseHeadersPolicy(ctx(t), &cloudfront.GetResponseHeadersPolicyInput{Id: rhp.ResponseHeadersPolicy.Id})
	skipUnlessImplemented(t, "GetResponseHeadersPolicy", err)
	_, err = c.UpdateResponseHeadersPolicy(ctx(t), &cloudfront.UpdateResponseHeadersPolicyInput{Id: rhp.ResponseHeadersPolicy.Id,
		IfMatch: grh.ETag, ResponseHeadersPolicyConfig: headersPolicyConfig("rh-"+suffix, "2")})
	skipUnlessImplemented(t, "UpdateResponseHeadersPolicy", err)
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := v.get(d.domain, "/p?v=1&w=9")
		if r.body == "/p?v=1&w=9" && r.header.Get("X-Policy-Version") == "2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the updated policies did not reach the edge: body %q X-Policy-Version %q", r.body, r.header.Get("X-Policy-Version"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	g, err := c.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: aws.String(d.id)})
	if err != nil {
		t.Fatal(err)
	}
	if *g.ETag != d.etag {
		t.Errorf("the distribution changed (ETag %s, was %s)", *g.ETag, d.etag)
	}
	if r := v.get(d.domain, "/p?v=1&w=9"); r.xcache() != edgeHit || !strings.Contains(r.header.Get("X-Policy-Version"), "2") {
		t.Errorf("after the update: %q X-Policy-Version %q", r.xcache(), r.header.Get("X-Policy-Version"))
	}
}
