package e2e

import (
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// TestDistributionsByPolicy: aws-sdk-go-v2's ListDistributionsBy…PolicyId
// against the binary, for managed policies (the ones every server knows),
// page by page; and the policy rules CreateDistribution checks itself.
func TestDistributionsByPolicy(t *testing.T) {
	const optimized, disabled, allViewer, security = "658327ea-f89d-4fab-a63d-7e88639e58f6", "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
		"216adef6-5c7f-47e4-b989-5492eafa07d3", "67f7725c-6f97-4210-82d7-5512b31e9d03"
	s := startServer(t, options{})
	c := s.client("", "")
	var withORP []string
	for i := range 3 {
		cfg := minimalConfig(fmt.Sprint("bypolicy-", i))
		if i > 0 {
			cfg.DefaultCacheBehavior.OriginRequestPolicyId = aws.String(allViewer)
		}
		out, err := createDist(t, c, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			withORP = append(withORP, *out.Distribution.Id)
		}
	}
	slices.Sort(withORP)

	// Pages of one: IsTruncated and NextMarker lead to the next.
	var got []string
	var marker *string
	for pages := 0; ; pages++ {
		out, err := c.ListDistributionsByOriginRequestPolicyId(ctx(t), &cloudfront.ListDistributionsByOriginRequestPolicyIdInput{
			OriginRequestPolicyId: aws.String(allViewer), MaxItems: aws.Int32(1), Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		l := out.DistributionIdList
		if pages > 5 || *l.MaxItems != 1 || int(*l.Quantity) != len(l.Items) {
			t.Fatalf("page %d: %+v", pages, l)
		}
		got = append(got, l.Items...)
		if !*l.IsTruncated {
			break
		}
		marker = l.NextMarker
	}
	if !slices.Equal(got, withORP) {
		t.Errorf("by AllViewer: %v, want %v", got, withORP)
	}
	byCache, err := c.ListDistributionsByCachePolicyId(ctx(t), &cloudfront.ListDistributionsByCachePolicyIdInput{CachePolicyId: aws.String(optimized)})
	if err != nil || len(byCache.DistributionIdList.Items) != 3 || *byCache.DistributionIdList.MaxItems != 100 {
		t.Errorf("by CachingOptimized: %v %+v", err, byCache)
	}
	none, err := c.ListDistributionsByCachePolicyId(ctx(t), &cloudfront.ListDistributionsByCachePolicyIdInput{CachePolicyId: aws.String(disabled)})
	if err != nil || *none.DistributionIdList.Quantity != 0 || len(none.DistributionIdList.Items) != 0 {
		t.Errorf("by CachingDisabled: %v %+v", err, none)
	}
	_, err = c.ListDistributionsByResponseHeadersPolicyId(ctx(t), &cloudfront.ListDistributionsByResponseHeadersPolicyIdInput{ResponseHeadersPolicyId: aws.String(security)})
	if err != nil {
		t.Error(err)
	}
	_, err = c.ListDistributionsByResponseHeadersPolicyId(ctx(t), &cloudfront.ListDistributionsByResponseHeadersPolicyIdInput{ResponseHeadersPolicyId: aws.String(optimized)})
	expectErr(t, err, "NoSuchResponseHeadersPolicy", 404)
	_, err = c.ListDistributionsByCachePolicyId(ctx(t), &cloudfront.ListDistributionsByCachePolicyIdInput{CachePolicyId: aws.String("no-such-policy")})
	expectErr(t, err, "NoSuchCachePolicy", 404)

	// What CreateDistribution refuses without a look-up.
	legacy := minimalConfig("bypolicy-legacy")
	legacy.DefaultCacheBehavior.ForwardedValues = &types.ForwardedValues{QueryString: aws.Bool(false), Cookies: &types.CookiePreference{Forward: types.ItemSelectionNone}}
	_, err = createDist(t, c, legacy)
	expectErr(t, err, "InvalidArgument", 400)
	both := minimalConfig("bypolicy-oac-oai")
	both.Origins.Items[0] = types.Origin{Id: aws.String("web"), DomainName: aws.String("b.s3.amazonaws.com"),
		S3OriginConfig:        &types.S3OriginConfig{OriginAccessIdentity: aws.String("origin-access-identity/cloudfront/E1OAI")},
		OriginAccessControlId: aws.String("E1OAC")}
	_, err = createDist(t, c, both)
	expectErr(t, err, "IllegalOriginAccessConfiguration", 400)
}
