package e2e

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// TestPoliciesSurviveKill creates a cache policy, an origin access
// control and an origin access identity, kills the server with SIGKILL,
// restarts it on the same data and reads each back: the same
// configuration and ETag, and the names still taken.
func TestPoliciesSurviveKill(t *testing.T) {
	s := startServer(t, options{})
	c := s.client("", "")
	cp, err := c.CreateCachePolicy(ctx(t), &cloudfront.CreateCachePolicyInput{CachePolicyConfig: &cftypes.CachePolicyConfig{
		Name: aws.String("durable"), Comment: aws.String("kept"), MinTTL: aws.Int64(5), DefaultTTL: aws.Int64(50), MaxTTL: aws.Int64(500),
		ParametersInCacheKeyAndForwardedToOrigin: &cftypes.ParametersInCacheKeyAndForwardedToOrigin{
			EnableAcceptEncodingGzip: aws.Bool(true),
			HeadersConfig:            &cftypes.CachePolicyHeadersConfig{HeaderBehavior: cftypes.CachePolicyHeaderBehaviorWhitelist, Headers: &cftypes.Headers{Quantity: aws.Int32(1), Items: []string{"X-Lang"}}},
			CookiesConfig:            &cftypes.CachePolicyCookiesConfig{CookieBehavior: cftypes.CachePolicyCookieBehaviorNone},
			QueryStringsConfig:       &cftypes.CachePolicyQueryStringsConfig{QueryStringBehavior: cftypes.CachePolicyQueryStringBehaviorAll},
		}}})
	if err != nil {
		t.Fatal(err)
	}
	oac, err := c.CreateOriginAccessControl(ctx(t), &cloudfront.CreateOriginAccessControlInput{OriginAccessControlConfig: &cftypes.OriginAccessControlConfig{
		Name: aws.String("durable-oac"), SigningProtocol: cftypes.OriginAccessControlSigningProtocolsSigv4,
		SigningBehavior: cftypes.OriginAccessControlSigningBehaviorsAlways, OriginAccessControlOriginType: cftypes.OriginAccessControlOriginTypesS3}})
	if err != nil {
		t.Fatal(err)
	}
	oai, err := c.CreateCloudFrontOriginAccessIdentity(ctx(t), &cloudfront.CreateCloudFrontOriginAccessIdentityInput{
		CloudFrontOriginAccessIdentityConfig: &cftypes.CloudFrontOriginAccessIdentityConfig{CallerReference: aws.String("durable-ref"), Comment: aws.String("kept")}})
	if err != nil {
		t.Fatal(err)
	}

	s.kill()
	s.restart()
	c = s.client("", "") // the restarted server listens on another port

	gcp, err := c.GetCachePolicy(ctx(t), &cloudfront.GetCachePolicyInput{Id: cp.CachePolicy.Id})
	if err != nil {
		t.Fatalf("the cache policy is lost: %v", err)
	}
	if *gcp.ETag != *cp.ETag || *gcp.CachePolicy.CachePolicyConfig.MaxTTL != 500 ||
		gcp.CachePolicy.CachePolicyConfig.ParametersInCacheKeyAndForwardedToOrigin.HeadersConfig.Headers.Items[0] != "X-Lang" {
		t.Errorf("the cache policy changed: %+v", gcp.CachePolicy.CachePolicyConfig)
	}
	goac, err := c.GetOriginAccessControl(ctx(t), &cloudfront.GetOriginAccessControlInput{Id: oac.OriginAccessControl.Id})
	if err != nil {
		t.Fatalf("the origin access control is lost: %v", err)
	}
	if *goac.ETag != *oac.ETag || *goac.OriginAccessControl.OriginAccessControlConfig.Name != "durable-oac" {
		t.Errorf("the origin access control changed: %+v", goac.OriginAccessControl.OriginAccessControlConfig)
	}
	goai, err := c.GetCloudFrontOriginAccessIdentity(ctx(t), &cloudfront.GetCloudFrontOriginAccessIdentityInput{Id: oai.CloudFrontOriginAccessIdentity.Id})
	if err != nil {
		t.Fatalf("the origin access identity is lost: %v", err)
	}
	if *goai.ETag != *oai.ETag || *goai.CloudFrontOriginAccessIdentity.S3CanonicalUserId != *oai.CloudFrontOriginAccessIdentity.S3CanonicalUserId {
		t.Errorf("the origin access identity changed: %+v", goai.CloudFrontOriginAccessIdentity)
	}
	_, err = c.CreateCachePolicy(ctx(t), &cloudfront.CreateCachePolicyInput{CachePolicyConfig: &cftypes.CachePolicyConfig{
		Name: aws.String("durable"), MinTTL: aws.Int64(0),
		ParametersInCacheKeyAndForwardedToOrigin: &cftypes.ParametersInCacheKeyAndForwardedToOrigin{
			EnableAcceptEncodingGzip: aws.Bool(false),
			HeadersConfig:            &cftypes.CachePolicyHeadersConfig{HeaderBehavior: cftypes.CachePolicyHeaderBehaviorNone},
			CookiesConfig:            &cftypes.CachePolicyCookiesConfig{CookieBehavior: cftypes.CachePolicyCookieBehaviorNone},
			QueryStringsConfig:       &cftypes.CachePolicyQueryStringsConfig{QueryStringBehavior: cftypes.CachePolicyQueryStringBehaviorNone},
		}}})
	expectErr(t, err, "CachePolicyAlreadyExists", 409)
	// The managed policies are there once, whatever the restarts.
	l, err := c.ListCachePolicies(ctx(t), &cloudfront.ListCachePoliciesInput{Type: cftypes.CachePolicyTypeManaged})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, it := range l.CachePolicyList.Items {
		seen[*it.CachePolicy.Id]++
	}
	if seen["658327ea-f89d-4fab-a63d-7e88639e58f6"] != 1 {
		t.Errorf("managed policies after a restart: %v", seen)
	}
}
