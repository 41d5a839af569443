package xmlmodel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// TestSDKRoundTrip drives the codec with aws-sdk-go-v2: the SDK serializes
// a CreateDistribution request, a stand-in server decodes, normalizes and
// encodes it back inside a Distribution, and the SDK parses the response.
// Every field the SDK sent must come back with the same value.
func TestSDKRoundTrip(t *testing.T) {
	var requestBody []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/2020-05-31/distribution" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		requestBody, _ = io.ReadAll(r.Body)
		cfg, err := Decode(requestBody, "DistributionConfig", "DistributionConfig")
		if err != nil {
			w.Header().Set("Content-Type", "text/xml")
			w.WriteHeader(http.StatusBadRequest)
			xe := err.(*Error)
			var b strings.Builder
			b.WriteString(`<ErrorResponse ` + ns + `><Error><Type>Sender</Type><Code>` + xe.Code + `</Code><Message>`)
			escape(&b, xe.Message)
			b.WriteString(`</Message></Error><RequestId>r</RequestId></ErrorResponse>`)
			_, _ = io.WriteString(w, b.String())
			return
		}
		Normalize(cfg, "DistributionConfig")
		d := NewParent("Distribution",
			New("Id", "EDFDVBD6EXAMPLE"),
			New("ARN", "arn:aws:cloudfront::123456789012:distribution/EDFDVBD6EXAMPLE"),
			New("Status", "InProgress"),
			New("LastModifiedTime", "2024-06-01T12:00:00.000Z"),
			New("InProgressInvalidationBatches", "0"),
			New("DomainName", "d111111abcdef8.cloudfront.net"),
			cfg)
		Normalize(d, "Distribution")
		var b strings.Builder
		b.WriteString(`<?xml version="1.0"?>` + "\n")
		Encode(&b, d, true)
		w.Header().Set("Content-Type", "text/xml")
		w.Header().Set("ETag", "E2QWRUHEXAMPLE")
		w.Header().Set("Location", "https://cloudfront.amazonaws.com/2020-05-31/distribution/EDFDVBD6EXAMPLE")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, b.String())
	}))
	defer srv.Close()

	client := cloudfront.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	}, func(o *cloudfront.Options) { o.BaseEndpoint = aws.String(srv.URL) })

	in := sdkFullConfig()
	out, err := client.CreateDistribution(context.Background(), &cloudfront.CreateDistributionInput{DistributionConfig: in})
	if err != nil {
		t.Fatalf("CreateDistribution: %v\nrequest body: %s", err, requestBody)
	}
	if err := subset(reflect.ValueOf(in).Elem(), reflect.ValueOf(out.Distribution.DistributionConfig).Elem(), "DistributionConfig"); err != nil {
		t.Errorf("%v\nrequest body: %s", err, requestBody)
	}
	got := out.Distribution
	if aws.ToString(got.Id) != "EDFDVBD6EXAMPLE" || got.ActiveTrustedSigners == nil || aws.ToBool(got.ActiveTrustedSigners.Enabled) {
		t.Errorf("Distribution envelope: %+v", got)
	}
	// Defaults the SDK sees for what it left out.
	if got.DistributionConfig.PriceClass != types.PriceClassPriceClassAll ||
		aws.ToInt32(got.DistributionConfig.Origins.Items[1].ConnectionAttempts) != 3 ||
		aws.ToString(got.DistributionConfig.WebACLId) != "" || got.DistributionConfig.WebACLId == nil {
		t.Errorf("defaults missing: %+v", got.DistributionConfig)
	}

	// An SDK request with an inconsistent quantity gets the SDK error.
	bad := sdkFullConfig()
	bad.CacheBehaviors.Items[0].AllowedMethods.CachedMethods.Quantity = aws.Int32(3)
	_, err = client.CreateDistribution(context.Background(), &cloudfront.CreateDistributionInput{DistributionConfig: bad})
	var iq *types.InconsistentQuantities
	if !errors.As(err, &iq) || !strings.Contains(iq.ErrorMessage(), "CacheBehaviors.Items[0].AllowedMethods.CachedMethods") {
		t.Errorf("inconsistent quantities: got %v", err)
	}
}

// subset reports the first field set in want that is absent or different
// in got. Fields want leaves nil may hold anything (CloudFront's defaults).
func subset(want, got reflect.Value, path string) error {
	switch want.Kind() {
	case reflect.Pointer, reflect.Interface:
		if want.IsNil() {
			return nil
		}
		if got.IsNil() {
			return fmt.Errorf("%s: sent, not returned", path)
		}
		return subset(want.Elem(), got.Elem(), path)
	case reflect.Struct:
		for i := 0; i < want.NumField(); i++ {
			if !want.Type().Field(i).IsExported() {
				continue
			}
			if err := subset(want.Field(i), got.Field(i), path+"."+want.Type().Field(i).Name); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		if want.IsNil() {
			return nil
		}
		if want.Len() != got.Len() {
			return fmt.Errorf("%s: sent %d items, returned %d", path, want.Len(), got.Len())
		}
		for i := 0; i < want.Len(); i++ {
			if err := subset(want.Index(i), got.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.String:
		if want.String() == "" { // an unset enum
			return nil
		}
	}
	if !reflect.DeepEqual(want.Interface(), got.Interface()) {
		return fmt.Errorf("%s: sent %v, returned %v", path, want.Interface(), got.Interface())
	}
	return nil
}

func sdkFullConfig() *types.DistributionConfig {
	s, i32, i64, b := aws.String, aws.Int32, aws.Int64, aws.Bool
	return &types.DistributionConfig{
		CallerReference:   s("sdk-round-trip"),
		Aliases:           &types.Aliases{Quantity: i32(1), Items: []string{"www.example.com"}},
		DefaultRootObject: s("index.html"),
		Origins: &types.Origins{Quantity: i32(2), Items: []types.Origin{
			{
				Id: s("s3"), DomainName: s("bucket.s3.us-east-1.amazonaws.com"), OriginPath: s("/p"),
				CustomHeaders:         &types.CustomHeaders{Quantity: i32(1), Items: []types.OriginCustomHeader{{HeaderName: s("X-A"), HeaderValue: s("a & <b>")}}},
				S3OriginConfig:        &types.S3OriginConfig{OriginAccessIdentity: s("")},
				OriginAccessControlId: s("E2CJRMB5LKEABC"),
				OriginShield:          &types.OriginShield{Enabled: b(true), OriginShieldRegion: s("us-east-1")},
			},
			{
				Id: s("app"), DomainName: s("app.example.com"),
				CustomOriginConfig: &types.CustomOriginConfig{
					HTTPPort: i32(80), HTTPSPort: i32(443), OriginProtocolPolicy: types.OriginProtocolPolicyHttpsOnly,
					OriginSslProtocols: &types.OriginSslProtocols{Quantity: i32(1), Items: []types.SslProtocol{types.SslProtocolTLSv12}},
					OriginReadTimeout:  i32(60),
				},
				ConnectionTimeout: i32(5),
			},
		}},
		OriginGroups: &types.OriginGroups{Quantity: i32(1), Items: []types.OriginGroup{{
			Id:               s("g"),
			FailoverCriteria: &types.OriginGroupFailoverCriteria{StatusCodes: &types.StatusCodes{Quantity: i32(2), Items: []int32{500, 503}}},
			Members:          &types.OriginGroupMembers{Quantity: i32(2), Items: []types.OriginGroupMember{{OriginId: s("app")}, {OriginId: s("s3")}}},
		}}},
		DefaultCacheBehavior: &types.DefaultCacheBehavior{
			TargetOriginId:       s("app"),
			ViewerProtocolPolicy: types.ViewerProtocolPolicyRedirectToHttps,
			AllowedMethods: &types.AllowedMethods{Quantity: i32(3), Items: []types.Method{types.MethodGet, types.MethodHead, types.MethodOptions},
				CachedMethods: &types.CachedMethods{Quantity: i32(2), Items: []types.Method{types.MethodGet, types.MethodHead}}},
			Compress: b(true),
			ForwardedValues: &types.ForwardedValues{QueryString: b(true),
				Cookies: &types.CookiePreference{Forward: types.ItemSelectionWhitelist, WhitelistedNames: &types.CookieNames{Quantity: i32(1), Items: []string{"sid"}}},
				Headers: &types.Headers{Quantity: i32(1), Items: []string{"Host"}}},
			MinTTL: i64(1), DefaultTTL: i64(3600), MaxTTL: i64(7200),
			LambdaFunctionAssociations: &types.LambdaFunctionAssociations{Quantity: i32(1), Items: []types.LambdaFunctionAssociation{{
				LambdaFunctionARN: s("arn:aws:lambda:us-east-1:123456789012:function:f:1"), EventType: types.EventTypeOriginRequest, IncludeBody: b(false)}}},
		},
		CacheBehaviors: &types.CacheBehaviors{Quantity: i32(1), Items: []types.CacheBehavior{{
			PathPattern: s("/api/*"), TargetOriginId: s("app"), ViewerProtocolPolicy: types.ViewerProtocolPolicyHttpsOnly,
			AllowedMethods: &types.AllowedMethods{Quantity: i32(2), Items: []types.Method{types.MethodGet, types.MethodHead},
				CachedMethods: &types.CachedMethods{Quantity: i32(2), Items: []types.Method{types.MethodGet, types.MethodHead}}},
			CachePolicyId:         s("4135ea2d-6df8-44a3-9df3-4b5a84be39ad"),
			OriginRequestPolicyId: s("b689b0a8-53d0-40ab-baf2-68738e2966ac"),
			FunctionAssociations: &types.FunctionAssociations{Quantity: i32(1), Items: []types.FunctionAssociation{{
				FunctionARN: s("arn:aws:cloudfront::123456789012:function/f"), EventType: types.EventTypeViewerRequest}}},
			TrustedKeyGroups: &types.TrustedKeyGroups{Enabled: b(true), Quantity: i32(1), Items: []string{"kg"}},
		}}},
		CustomErrorResponses: &types.CustomErrorResponses{Quantity: i32(1), Items: []types.CustomErrorResponse{{
			ErrorCode: i32(404), ResponsePagePath: s("/404.html"), ResponseCode: s("404"), ErrorCachingMinTTL: i64(30)}}},
		Comment:     s(`SDK "round" trip`),
		Logging:     &types.LoggingConfig{Enabled: b(true), IncludeCookies: b(false), Bucket: s("logs.s3.amazonaws.com"), Prefix: s("cf/")},
		Enabled:     b(true),
		HttpVersion: types.HttpVersionHttp3,
		ViewerCertificate: &types.ViewerCertificate{ACMCertificateArn: s("arn:aws:acm:us-east-1:123456789012:certificate/c"),
			SSLSupportMethod: types.SSLSupportMethodSniOnly, MinimumProtocolVersion: types.MinimumProtocolVersionTLSv122021},
		Restrictions:  &types.Restrictions{GeoRestriction: &types.GeoRestriction{RestrictionType: types.GeoRestrictionTypeBlacklist, Quantity: i32(1), Items: []string{"AQ"}}},
		IsIPV6Enabled: b(false),
	}
}
