package e2e

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// minimalConfig is what a deploy script typically sends.
func minimalConfig(ref string, aliases ...string) *types.DistributionConfig {
	return &types.DistributionConfig{
		CallerReference: aws.String(ref),
		Comment:         aws.String("minimal"),
		Enabled:         aws.Bool(true),
		Aliases:         &types.Aliases{Quantity: aws.Int32(int32(len(aliases))), Items: aliases},
		Origins: &types.Origins{Quantity: aws.Int32(1), Items: []types.Origin{{
			Id:         aws.String("web"),
			DomainName: aws.String("origin.example.com"),
			CustomOriginConfig: &types.CustomOriginConfig{
				HTTPPort: aws.Int32(8080), HTTPSPort: aws.Int32(443),
				OriginProtocolPolicy: types.OriginProtocolPolicyHttpOnly,
			},
		}}},
		DefaultCacheBehavior: &types.DefaultCacheBehavior{
			TargetOriginId:       aws.String("web"),
			ViewerProtocolPolicy: types.ViewerProtocolPolicyAllowAll,
			CachePolicyId:        aws.String("658327ea-f89d-4fab-a63d-7e88639e58f6"),
		},
	}
}

// fullConfig sets every member openfront does and does not act on; its
// S3 origin names the origin access control oac (which must exist).
func fullConfig(ref, oac string) *types.DistributionConfig {
	methods := func(ms ...types.Method) []types.Method { return ms }
	return &types.DistributionConfig{
		CallerReference:   aws.String(ref),
		Aliases:           &types.Aliases{Quantity: aws.Int32(2), Items: []string{"www.full.test", "cdn.full.test"}},
		DefaultRootObject: aws.String("index.html"),
		Origins: &types.Origins{Quantity: aws.Int32(2), Items: []types.Origin{
			{
				Id: aws.String("app"), DomainName: aws.String("app.example.com"), OriginPath: aws.String("/v2"),
				CustomHeaders: &types.CustomHeaders{Quantity: aws.Int32(1), Items: []types.OriginCustomHeader{{HeaderName: aws.String("X-Secret"), HeaderValue: aws.String("s3cr3t")}}},
				CustomOriginConfig: &types.CustomOriginConfig{
					HTTPPort: aws.Int32(80), HTTPSPort: aws.Int32(8443), OriginProtocolPolicy: types.OriginProtocolPolicyHttpsOnly,
					OriginSslProtocols:     &types.OriginSslProtocols{Quantity: aws.Int32(1), Items: []types.SslProtocol{types.SslProtocolTLSv12}},
					OriginReadTimeout:      aws.Int32(45),
					OriginKeepaliveTimeout: aws.Int32(10),
				},
				ConnectionAttempts:    aws.Int32(2),
				ConnectionTimeout:     aws.Int32(5),
				OriginShield:          &types.OriginShield{Enabled: aws.Bool(true), OriginShieldRegion: aws.String("eu-west-1")},
				OriginAccessControlId: aws.String(""),
			},
			{
				Id: aws.String("assets"), DomainName: aws.String("assets.s3.amazonaws.com"), OriginPath: aws.String(""),
				CustomHeaders:         &types.CustomHeaders{Quantity: aws.Int32(0)},
				S3OriginConfig:        &types.S3OriginConfig{OriginAccessIdentity: aws.String("")},
				ConnectionAttempts:    aws.Int32(3),
				ConnectionTimeout:     aws.Int32(10),
				OriginShield:          &types.OriginShield{Enabled: aws.Bool(false)},
				OriginAccessControlId: aws.String(oac),
			},
		}},
		DefaultCacheBehavior: &types.DefaultCacheBehavior{
			TargetOriginId:       aws.String("app"),
			TrustedSigners:       &types.TrustedSigners{Enabled: aws.Bool(false), Quantity: aws.Int32(0)},
			TrustedKeyGroups:     &types.TrustedKeyGroups{Enabled: aws.Bool(false), Quantity: aws.Int32(0)},
			ViewerProtocolPolicy: types.ViewerProtocolPolicyRedirectToHttps,
			AllowedMethods: &types.AllowedMethods{Quantity: aws.Int32(3), Items: methods(types.MethodHead, types.MethodGet, types.MethodOptions),
				CachedMethods: &types.CachedMethods{Quantity: aws.Int32(2), Items: methods(types.MethodHead, types.MethodGet)}},
			SmoothStreaming:            aws.Bool(false),
			Compress:                   aws.Bool(true),
			LambdaFunctionAssociations: &types.LambdaFunctionAssociations{Quantity: aws.Int32(0)},
			FunctionAssociations:       &types.FunctionAssociations{Quantity: aws.Int32(0)},
			FieldLevelEncryptionId:     aws.String(""),
			GrpcConfig:                 &types.GrpcConfig{Enabled: aws.Bool(false)},
			ForwardedValues: &types.ForwardedValues{
				QueryString:          aws.Bool(true),
				Cookies:              &types.CookiePreference{Forward: types.ItemSelectionWhitelist, WhitelistedNames: &types.CookieNames{Quantity: aws.Int32(1), Items: []string{"session"}}},
				Headers:              &types.Headers{Quantity: aws.Int32(1), Items: []string{"Accept-Language"}},
				QueryStringCacheKeys: &types.QueryStringCacheKeys{Quantity: aws.Int32(2), Items: []string{"v", "lang"}},
			},
			MinTTL: aws.Int64(5), DefaultTTL: aws.Int64(600), MaxTTL: aws.Int64(3600),
		},
		CacheBehaviors: &types.CacheBehaviors{Quantity: aws.Int32(1), Items: []types.CacheBehavior{{
			PathPattern:          aws.String("/static/*"),
			TargetOriginId:       aws.String("assets"),
			TrustedSigners:       &types.TrustedSigners{Enabled: aws.Bool(false), Quantity: aws.Int32(0)},
			TrustedKeyGroups:     &types.TrustedKeyGroups{Enabled: aws.Bool(false), Quantity: aws.Int32(0)},
			ViewerProtocolPolicy: types.ViewerProtocolPolicyHttpsOnly,
			AllowedMethods: &types.AllowedMethods{Quantity: aws.Int32(2), Items: methods(types.MethodHead, types.MethodGet),
				CachedMethods: &types.CachedMethods{Quantity: aws.Int32(2), Items: methods(types.MethodHead, types.MethodGet)}},
			SmoothStreaming:            aws.Bool(false),
			Compress:                   aws.Bool(false),
			LambdaFunctionAssociations: &types.LambdaFunctionAssociations{Quantity: aws.Int32(0)},
			FunctionAssociations:       &types.FunctionAssociations{Quantity: aws.Int32(0)},
			FieldLevelEncryptionId:     aws.String(""),
			GrpcConfig:                 &types.GrpcConfig{Enabled: aws.Bool(false)},
			CachePolicyId:              aws.String("4135ea2d-6df8-44a3-9df3-4b5a84be39ad"),
		}}},
		CustomErrorResponses: &types.CustomErrorResponses{Quantity: aws.Int32(1), Items: []types.CustomErrorResponse{{
			ErrorCode: aws.Int32(404), ResponsePagePath: aws.String("/404.html"), ResponseCode: aws.String("404"), ErrorCachingMinTTL: aws.Int64(30),
		}}},
		Comment:    aws.String("every field"),
		Logging:    &types.LoggingConfig{Enabled: aws.Bool(true), IncludeCookies: aws.Bool(false), Bucket: aws.String("logs.s3.amazonaws.com"), Prefix: aws.String("cf/")},
		PriceClass: types.PriceClassPriceClass100,
		Enabled:    aws.Bool(true),
		ViewerCertificate: &types.ViewerCertificate{
			CloudFrontDefaultCertificate: aws.Bool(false),
			ACMCertificateArn:            aws.String("arn:aws:acm:us-east-1:000000000000:certificate/abc"),
			SSLSupportMethod:             types.SSLSupportMethodSniOnly,
			MinimumProtocolVersion:       types.MinimumProtocolVersionTLSv122021,
			Certificate:                  aws.String("arn:aws:acm:us-east-1:000000000000:certificate/abc"),
			CertificateSource:            types.CertificateSourceAcm,
		},
		Restrictions:  &types.Restrictions{GeoRestriction: &types.GeoRestriction{RestrictionType: types.GeoRestrictionTypeWhitelist, Quantity: aws.Int32(2), Items: []string{"DE", "FR"}}},
		WebACLId:      aws.String("arn:aws:wafv2:us-east-1:000000000000:global/webacl/x/1"),
		HttpVersion:   types.HttpVersionHttp2and3,
		IsIPV6Enabled: aws.Bool(false),
		OriginGroups:  &types.OriginGroups{Quantity: aws.Int32(0)},
		Staging:       aws.Bool(false),
	}
}

var (
	distIDPattern     = regexp.MustCompile(`^E[A-Z0-9]{13}$`)
	domainNamePattern = regexp.MustCompile(`^d[a-z0-9]{13}\.cloudfront\.localhost$`)
)

func createDist(t *testing.T, c *cloudfront.Client, cfg *types.DistributionConfig) (*cloudfront.CreateDistributionOutput, error) {
	t.Helper()
	return c.CreateDistribution(ctx(t), &cloudfront.CreateDistributionInput{DistributionConfig: cfg})
}

func TestDistributionCreateGet(t *testing.T) {
	s := startServer(t, options{args: []string{"--deploy-delay", "1s"}})
	c := s.client("", "")
	out, err := createDist(t, c, minimalConfig("min-1"))
	if err != nil {
		t.Fatal(err)
	}
	d := out.Distribution
	if !distIDPattern.MatchString(*d.Id) || !domainNamePattern.MatchString(*d.DomainName) {
		t.Errorf("Id %q / DomainName %q not shaped like CloudFront's", *d.Id, *d.DomainName)
	}
	if *d.ARN != "arn:aws:cloudfront::000000000000:distribution/"+*d.Id {
		t.Errorf("ARN %q", *d.ARN)
	}
	if *out.Location != s.URL+"/2020-05-31/distribution/"+*d.Id || out.ETag == nil || *out.ETag == "" {
		t.Errorf("Location %v ETag %v", out.Location, out.ETag)
	}
	if *d.Status != "InProgress" || *d.InProgressInvalidationBatches != 0 {
		t.Errorf("Status %q, InProgressInvalidationBatches %d", *d.Status, *d.InProgressInvalidationBatches)
	}
	if got := d.DistributionConfig; *got.Comment != "minimal" || *got.Origins.Items[0].CustomOriginConfig.HTTPPort != 8080 {
		t.Errorf("config not echoed: %+v", got)
	}
	w := cloudfront.NewDistributionDeployedWaiter(c, func(o *cloudfront.DistributionDeployedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, 400*time.Millisecond
	})
	if err := w.Wait(ctx(t), &cloudfront.GetDistributionInput{Id: d.Id}, time.Minute); err != nil {
		t.Fatalf("distribution_deployed: %v", err)
	}
	g, err := c.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: d.Id})
	if err != nil {
		t.Fatal(err)
	}
	if *g.Distribution.Status != "Deployed" || *g.ETag != *out.ETag {
		t.Errorf("after deploy: %s, ETag %s (was %s)", *g.Distribution.Status, *g.ETag, *out.ETag)
	}
	// Invalidations count toward InProgressInvalidationBatches.
	s2 := startServer(t, options{args: []string{"--invalidation-delay", "1h"}})
	c2 := s2.client("", "")
	out2, err := createDist(t, c2, minimalConfig("min-2"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := create(t, c2, *out2.Distribution.Id, batch(fmt.Sprint("b", i), "/x")); err != nil {
			t.Fatal(err)
		}
	}
	g2, err := c2.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: out2.Distribution.Id})
	if err != nil {
		t.Fatal(err)
	}
	if *g2.Distribution.InProgressInvalidationBatches != 2 {
		t.Errorf("InProgressInvalidationBatches %d, want 2", *g2.Distribution.InProgressInvalidationBatches)
	}
}

func TestDistributionRoundTrip(t *testing.T) {
	s := startServer(t, options{})
	c := s.client("", "")
	sent := fullConfig("full-1", createOAC(t, c))
	out, err := createDist(t, c, sent)
	if err != nil {
		t.Fatal(err)
	}
	gc, err := c.GetDistributionConfig(ctx(t), &cloudfront.GetDistributionConfigInput{Id: out.Distribution.Id})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gc.DistributionConfig, sent) {
		t.Errorf("GetDistributionConfig differs from what was sent:\n%s", diff(gc.DistributionConfig, sent))
	}
	if !reflect.DeepEqual(out.Distribution.DistributionConfig, sent) {
		t.Errorf("CreateDistribution's answer differs from what was sent")
	}
	// Update with a change; everything else stays.
	sent.Comment = aws.String("changed")
	sent.PriceClass = types.PriceClassPriceClassAll
	up, err := c.UpdateDistribution(ctx(t), &cloudfront.UpdateDistributionInput{Id: out.Distribution.Id, IfMatch: gc.ETag, DistributionConfig: sent})
	if err != nil {
		t.Fatal(err)
	}
	if *up.ETag == *gc.ETag {
		t.Error("ETag did not change on update")
	}
	if !reflect.DeepEqual(up.Distribution.DistributionConfig, sent) {
		t.Errorf("UpdateDistribution's answer differs:\n%s", diff(up.Distribution.DistributionConfig, sent))
	}
	g, err := c.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: out.Distribution.Id})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.Distribution.DistributionConfig, sent) {
		t.Errorf("GetDistribution after update differs")
	}
}

// dump renders v as indented JSON, so differences read as lines.
func dump(v any) string {
	b, _ := json.MarshalIndent(v, "", " ")
	return string(b)
}

// diff returns the lines of dump(got) and dump(want) that differ.
func diff(got, want any) string {
	g, w := strings.Split(dump(got), "\n"), strings.Split(dump(want), "\n")
	var out []string
	for i := 0; i < max(len(g), len(w)); i++ {
		var a, b string
		if i < len(g) {
			a = g[i]
		}
		if i < len(w) {
			b = w[i]
		}
		if a != b {
			out = append(out, fmt.Sprintf("line %d: got %s | want %s", i, a, b))
		}
	}
	return strings.Join(out, "\n")
}

func TestDistributionDefaultsFilled(t *testing.T) {
	s := startServer(t, options{})
	c := s.client("", "")
	out, err := createDist(t, c, minimalConfig("defaults"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := out.Distribution.DistributionConfig
	if cfg.PriceClass != types.PriceClassPriceClassAll {
		t.Errorf("PriceClass %q", cfg.PriceClass)
	}
	if cfg.ViewerCertificate == nil || cfg.ViewerCertificate.CloudFrontDefaultCertificate == nil || !*cfg.ViewerCertificate.CloudFrontDefaultCertificate {
		t.Errorf("ViewerCertificate %+v", cfg.ViewerCertificate)
	}
	if cfg.Restrictions == nil || cfg.Restrictions.GeoRestriction.RestrictionType != types.GeoRestrictionTypeNone {
		t.Errorf("Restrictions %+v", cfg.Restrictions)
	}
	if cfg.HttpVersion == "" || cfg.DefaultRootObject == nil || cfg.CacheBehaviors == nil || *cfg.CacheBehaviors.Quantity != 0 {
		t.Errorf("HttpVersion %q DefaultRootObject %v CacheBehaviors %+v", cfg.HttpVersion, cfg.DefaultRootObject, cfg.CacheBehaviors)
	}
	if o := cfg.Origins.Items[0]; o.ConnectionAttempts == nil || *o.ConnectionAttempts != 3 || o.ConnectionTimeout == nil || *o.ConnectionTimeout != 10 {
		t.Errorf("origin defaults %+v", o)
	}
}

func TestDistributionErrors(t *testing.T) {
	s := startServer(t, options{config: defaultConfig + "  - id: EALIASED000000\n    origin: http://127.0.0.1:9\n    aliases: [taken.test]\n"})
	c := s.client("", "")
	first, err := createDist(t, c, minimalConfig("dup", "a.test"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = createDist(t, c, minimalConfig("dup"))
	expectErr(t, err, "DistributionAlreadyExists", 409)
	_, err = createDist(t, c, minimalConfig("alias-1", "A.test"))
	expectErr(t, err, "CNAMEAlreadyExists", 409)
	_, err = createDist(t, c, minimalConfig("alias-2", "taken.test"))
	expectErr(t, err, "CNAMEAlreadyExists", 409)

	bad := minimalConfig("q")
	bad.Aliases = &types.Aliases{Quantity: aws.Int32(2), Items: []string{"x.test"}}
	_, err = createDist(t, c, bad)
	expectErr(t, err, "InconsistentQuantities", 400)

	deep := minimalConfig("q2")
	deep.DefaultCacheBehavior.AllowedMethods = &types.AllowedMethods{Quantity: aws.Int32(2), Items: []types.Method{"GET", "HEAD"},
		CachedMethods: &types.CachedMethods{Quantity: aws.Int32(3), Items: []types.Method{"GET", "HEAD"}}}
	_, err = createDist(t, c, deep)
	expectErr(t, err, "InconsistentQuantities", 400)

	noOrigin := minimalConfig("o")
	noOrigin.DefaultCacheBehavior.TargetOriginId = aws.String("nope")
	_, err = createDist(t, c, noOrigin)
	expectErr(t, err, "NoSuchOrigin", 404)

	ttl := minimalConfig("ttl")
	ttl.DefaultCacheBehavior.CachePolicyId = nil
	ttl.DefaultCacheBehavior.ForwardedValues = &types.ForwardedValues{QueryString: aws.Bool(false), Cookies: &types.CookiePreference{Forward: types.ItemSelectionNone}}
	ttl.DefaultCacheBehavior.MinTTL, ttl.DefaultCacheBehavior.DefaultTTL = aws.Int64(100), aws.Int64(10)
	_, err = createDist(t, c, ttl)
	expectErr(t, err, "InvalidTTLOrder", 400)

	root := minimalConfig("root")
	root.DefaultRootObject = aws.String("/index.html")
	_, err = createDist(t, c, root)
	expectErr(t, err, "InvalidDefaultRootObject", 400)

	// Missing required member: the message names it.
	r := rawRequest(t, s, "POST", "/2020-05-31/distribution", `<DistributionConfig xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><CallerReference>x</CallerReference><Origins><Quantity>1</Quantity><Items><Origin><Id>o</Id><DomainName>o.example.com</DomainName><CustomOriginConfig><HTTPPort>80</HTTPPort><HTTPSPort>443</HTTPSPort><OriginProtocolPolicy>http-only</OriginProtocolPolicy></CustomOriginConfig></Origin></Items></Origins><DefaultCacheBehavior><ViewerProtocolPolicy>allow-all</ViewerProtocolPolicy><CachePolicyId>658327ea-f89d-4fab-a63d-7e88639e58f6</CachePolicyId></DefaultCacheBehavior><Comment></Comment><Enabled>true</Enabled></DistributionConfig>`)
	if r.status != 400 || r.code != "InvalidArgument" || !strings.Contains(r.body, "TargetOriginId") {
		t.Errorf("missing TargetOriginId: %d %s", r.status, r.body)
	}
	r = rawRequest(t, s, "POST", "/2020-05-31/distribution", "")
	if r.status != 400 || r.code != "MissingBody" {
		t.Errorf("empty body: %d %s", r.status, r.code)
	}
	r = rawRequest(t, s, "POST", "/2020-05-31/distribution", `<DistributionConfig><Bogus/></DistributionConfig>`)
	if r.status != 400 || r.code != "InvalidArgument" || !strings.Contains(r.body, "Bogus") {
		t.Errorf("unknown element: %d %s", r.status, r.body)
	}

	// If-Match.
	id := first.Distribution.Id
	cfg := first.Distribution.DistributionConfig
	_, err = c.UpdateDistribution(ctx(t), &cloudfront.UpdateDistributionInput{Id: id, DistributionConfig: cfg})
	expectErr(t, err, "InvalidIfMatchVersion", 400)
	_, err = c.UpdateDistribution(ctx(t), &cloudfront.UpdateDistributionInput{Id: id, IfMatch: aws.String("ESTALE"), DistributionConfig: cfg})
	expectErr(t, err, "PreconditionFailed", 412)
	_, err = c.UpdateDistribution(ctx(t), &cloudfront.UpdateDistributionInput{Id: aws.String("ENOSUCH"), IfMatch: aws.String("E"), DistributionConfig: cfg})
	expectErr(t, err, "NoSuchDistribution", 404)
	_, err = c.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: aws.String("ENOSUCH")})
	expectErr(t, err, "NoSuchDistribution", 404)
	changedRef := *cfg
	changedRef.CallerReference = aws.String("other")
	_, err = c.UpdateDistribution(ctx(t), &cloudfront.UpdateDistributionInput{Id: id, IfMatch: first.ETag, DistributionConfig: &changedRef})
	expectErr(t, err, "IllegalUpdate", 400)

	// Delete: only when disabled, with the current ETag.
	_, err = c.DeleteDistribution(ctx(t), &cloudfront.DeleteDistributionInput{Id: id, IfMatch: first.ETag})
	expectErr(t, err, "DistributionNotDisabled", 409)
	_, err = c.DeleteDistribution(ctx(t), &cloudfront.DeleteDistributionInput{Id: id})
	expectErr(t, err, "InvalidIfMatchVersion", 400)

	// Config-file distributions are read-only through the API.
	fg, err := c.GetDistributionConfig(ctx(t), &cloudfront.GetDistributionConfigInput{Id: aws.String(distID)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateDistribution(ctx(t), &cloudfront.UpdateDistributionInput{Id: aws.String(distID), IfMatch: fg.ETag, DistributionConfig: fg.DistributionConfig})
	expectErr(t, err, "IllegalUpdate", 400)
	_, err = c.DeleteDistribution(ctx(t), &cloudfront.DeleteDistributionInput{Id: aws.String(distID), IfMatch: fg.ETag})
	expectErr(t, err, "IllegalDelete", 400)
}

func TestDistributionDelete(t *testing.T) {
	s := startServer(t, options{args: []string{"--invalidation-delay", "1h"}})
	c := s.client("", "")
	out, err := createDist(t, c, minimalConfig("del", "gone.test"))
	if err != nil {
		t.Fatal(err)
	}
	id := out.Distribution.Id
	inv, err := create(t, c, *id, batch("i", "/*"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := out.Distribution.DistributionConfig
	cfg.Enabled = aws.Bool(false)
	up, err := c.UpdateDistribution(ctx(t), &cloudfront.UpdateDistributionInput{Id: id, IfMatch: out.ETag, DistributionConfig: cfg})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteDistribution(ctx(t), &cloudfront.DeleteDistributionInput{Id: id, IfMatch: out.ETag})
	expectErr(t, err, "PreconditionFailed", 412)
	// Deleting needs the disabling deployed, as on CloudFront.
	w := cloudfront.NewDistributionDeployedWaiter(c, func(o *cloudfront.DistributionDeployedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 50*time.Millisecond, 100*time.Millisecond
	})
	if err := w.Wait(ctx(t), &cloudfront.GetDistributionInput{Id: id}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteDistribution(ctx(t), &cloudfront.DeleteDistributionInput{Id: id, IfMatch: up.ETag}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: id})
	expectErr(t, err, "NoSuchDistribution", 404)
	_, err = c.GetInvalidation(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: id, Id: inv.Invalidation.Id})
	expectErr(t, err, "NoSuchDistribution", 404)
	// Its alias is free again, and nothing of it comes back after a restart.
	if _, err := createDist(t, c, minimalConfig("del-2", "gone.test")); err != nil {
		t.Errorf("alias of a deleted distribution: %v", err)
	}
	s.kill()
	s.restart()
	c = s.client("", "")
	_, err = c.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: id})
	expectErr(t, err, "NoSuchDistribution", 404)
	_, err = c.ListInvalidations(ctx(t), &cloudfront.ListInvalidationsInput{DistributionId: id})
	expectErr(t, err, "NoSuchDistribution", 404)
}

func TestDistributionListAndTags(t *testing.T) {
	s := startServer(t, options{})
	c := s.client("", "")
	var ids []string
	for i := range 3 {
		out, err := createDist(t, c, minimalConfig(fmt.Sprint("l", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, *out.Distribution.Id)
	}
	seen := map[string]bool{}
	p := cloudfront.NewListDistributionsPaginator(c, &cloudfront.ListDistributionsInput{MaxItems: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, it := range page.DistributionList.Items {
			if seen[*it.Id] {
				t.Errorf("%s listed twice", *it.Id)
			}
			seen[*it.Id] = true
			if it.DomainName == nil || it.Origins == nil || it.DefaultCacheBehavior == nil || it.Enabled == nil || it.Status == nil || it.ARN == nil {
				t.Errorf("summary lacks required fields: %+v", it)
			}
		}
	}
	// 3 created + 2 from the config file.
	if len(seen) != 5 || pages != 3 || !seen[distID] || !seen[ids[2]] {
		t.Errorf("%d distributions in %d pages: %v", len(seen), pages, seen)
	}

	// Tags.
	withTags, err := c.CreateDistributionWithTags(ctx(t), &cloudfront.CreateDistributionWithTagsInput{DistributionConfigWithTags: &types.DistributionConfigWithTags{
		DistributionConfig: minimalConfig("tagged"),
		Tags:               &types.Tags{Items: []types.Tag{{Key: aws.String("team"), Value: aws.String("web")}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	arn := withTags.Distribution.ARN
	tags := func() map[string]string {
		out, err := c.ListTagsForResource(ctx(t), &cloudfront.ListTagsForResourceInput{Resource: arn})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, tg := range out.Tags.Items {
			m[*tg.Key] = aws.ToString(tg.Value)
		}
		return m
	}
	if got := tags(); !reflect.DeepEqual(got, map[string]string{"team": "web"}) {
		t.Errorf("tags %v", got)
	}
	_, err = c.TagResource(ctx(t), &cloudfront.TagResourceInput{Resource: arn, Tags: &types.Tags{Items: []types.Tag{{Key: aws.String("env"), Value: aws.String("ci")}, {Key: aws.String("team"), Value: aws.String("ops")}}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := tags(); !reflect.DeepEqual(got, map[string]string{"team": "ops", "env": "ci"}) {
		t.Errorf("tags %v", got)
	}
	_, err = c.UntagResource(ctx(t), &cloudfront.UntagResourceInput{Resource: arn, TagKeys: &types.TagKeys{Items: []string{"team"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := tags(); !reflect.DeepEqual(got, map[string]string{"env": "ci"}) {
		t.Errorf("tags %v", got)
	}
	_, err = c.ListTagsForResource(ctx(t), &cloudfront.ListTagsForResourceInput{Resource: aws.String("arn:aws:cloudfront::000000000000:distribution/ENOSUCH")})
	expectErr(t, err, "NoSuchResource", 404)
	_, err = c.TagResource(ctx(t), &cloudfront.TagResourceInput{Resource: arn, Tags: &types.Tags{Items: []types.Tag{{Key: aws.String("bad{key}")}}}})
	expectErr(t, err, "InvalidTagging", 400)
}

func TestDistributionSurvivesKill(t *testing.T) {
	s := startServer(t, options{})
	c := s.client("", "")
	oac := createOAC(t, c)
	out, err := createDist(t, c, fullConfig("durable", oac))
	if err != nil {
		t.Fatal(err)
	}
	s.kill()
	s.restart()
	c = s.client("", "")
	g, err := c.GetDistributionConfig(ctx(t), &cloudfront.GetDistributionConfigInput{Id: out.Distribution.Id})
	if err != nil {
		t.Fatal(err)
	}
	if *g.ETag != *out.ETag || !reflect.DeepEqual(g.DistributionConfig, fullConfig("durable", oac)) {
		t.Errorf("after kill -9: ETag %s (was %s), config equal: %v", *g.ETag, *out.ETag, reflect.DeepEqual(g.DistributionConfig, fullConfig("durable", oac)))
	}
	_, err = createDist(t, c, minimalConfig("durable"))
	expectErr(t, err, "DistributionAlreadyExists", 409)
}

// CloudFront deletes a distribution only once its disabling is deployed,
// and lets behaviors target origin groups.
func TestDistributionDeleteNeedsDeployedDisable(t *testing.T) {
	s := startServer(t, options{args: []string{"--deploy-delay", "1h"}})
	c := s.client("", "")
	cfg := minimalConfig("group")
	cfg.Origins.Quantity = aws.Int32(2)
	second := cfg.Origins.Items[0]
	second.Id = aws.String("backup")
	cfg.Origins.Items = append(cfg.Origins.Items, second)
	cfg.OriginGroups = &types.OriginGroups{Quantity: aws.Int32(1), Items: []types.OriginGroup{{
		Id:               aws.String("failover"),
		FailoverCriteria: &types.OriginGroupFailoverCriteria{StatusCodes: &types.StatusCodes{Quantity: aws.Int32(1), Items: []int32{503}}},
		Members: &types.OriginGroupMembers{Quantity: aws.Int32(2), Items: []types.OriginGroupMember{
			{OriginId: aws.String("web")}, {OriginId: aws.String("backup")}}},
	}}}
	cfg.DefaultCacheBehavior.TargetOriginId = aws.String("failover")
	out, err := createDist(t, c, cfg)
	if err != nil {
		t.Fatalf("a behavior targeting an origin group: %v", err)
	}
	cfg.Enabled = aws.Bool(false)
	up, err := c.UpdateDistribution(ctx(t), &cloudfront.UpdateDistributionInput{Id: out.Distribution.Id, IfMatch: out.ETag, DistributionConfig: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if *up.Distribution.Status != "InProgress" {
		t.Fatalf("status %s", *up.Distribution.Status)
	}
	_, err = c.DeleteDistribution(ctx(t), &cloudfront.DeleteDistributionInput{Id: out.Distribution.Id, IfMatch: up.ETag})
	expectErr(t, err, "DistributionNotDisabled", 409)
}

// createOAC creates an origin access control, for a distribution to name.
func createOAC(t *testing.T, c *cloudfront.Client) string {
	t.Helper()
	out, err := c.CreateOriginAccessControl(ctx(t), &cloudfront.CreateOriginAccessControlInput{
		OriginAccessControlConfig: &types.OriginAccessControlConfig{
			Name: aws.String("e2e-" + t.Name()), SigningProtocol: types.OriginAccessControlSigningProtocolsSigv4,
			SigningBehavior: types.OriginAccessControlSigningBehaviorsAlways, OriginAccessControlOriginType: types.OriginAccessControlOriginTypesS3}})
	if err != nil {
		t.Fatalf("CreateOriginAccessControl: %v", err)
	}
	return *out.OriginAccessControl.Id
}
