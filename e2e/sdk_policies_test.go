package e2e

import (
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// aws-sdk-go-v2 through the policy and origin access APIs: create, get,
// list, update and delete a cache policy, an origin request policy, a
// response headers policy and an origin access control, with a stale
// If-Match (PreconditionFailed), a missing one (InvalidIfMatchVersion) and
// a NoSuch… error, each by its typed error. The same lifecycle runs in
// boto3, the AWS CLI and the JS SDK under make compat (compat/*policies*).

// sdkLifecycle is one resource kind's operations, each returning what the
// test checks: the Id, the ETag and the name or comment it sent.
type sdkLifecycle struct {
	kind   string
	create func(name string) (id, etag string, err error)
	get    func(id string) (etag, comment string, err error)
	update func(id, ifMatch, name, comment string) (etag string, err error)
	delete func(id, ifMatch string) error
	list   func() (ids []string, err error)
	// noSuch is the typed error of an unknown Id; noSuchCode its code.
	noSuch     func(err error) bool
	noSuchCode string
}

func TestSDKGoPolicyLifecycles(t *testing.T) {
	s := startServer(t, options{args: []string{"--deploy-delay", "0s"}})
	c := s.client("", "")
	if policiesNotImplemented(t, c) {
		t.Skip("SKIP: ListCachePolicies answers 501 NotImplemented: the policy API is not in this build")
	}
	for _, lc := range sdkLifecycles(t, c) {
		t.Run(lc.kind, func(t *testing.T) {
			const name = "sdk-go-lifecycle"
			id, etag, err := lc.create(name)
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if id == "" || etag == "" {
				t.Fatalf("create: Id %q, ETag %q", id, etag)
			}
			getTag, _, err := lc.get(id)
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if getTag != etag {
				t.Errorf("get: ETag %q, create's %q", getTag, etag)
			}
			ids, err := lc.list()
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			if !slices.Contains(ids, id) {
				t.Errorf("list: %v lacks %s", ids, id)
			}

			// A stale or absent If-Match changes nothing.
			_, err = lc.update(id, etag+"X", name, "stale")
			expectErr(t, err, "PreconditionFailed", http.StatusPreconditionFailed)
			_, err = lc.update(id, "", name, "no if-match")
			expectErr(t, err, "InvalidIfMatchVersion", http.StatusBadRequest)

			newTag, err := lc.update(id, etag, name, "updated by sdk-go")
			if err != nil {
				t.Fatalf("update: %v", err)
			}
			if newTag == etag {
				t.Errorf("update kept the ETag %q", etag)
			}
			gotTag, comment, err := lc.get(id)
			if err != nil {
				t.Fatal(err)
			}
			if gotTag != newTag || comment != "updated by sdk-go" {
				t.Errorf("get after update: ETag %q comment %q, want %q %q", gotTag, comment, newTag, "updated by sdk-go")
			}

			expectErr(t, lc.delete(id, etag), "PreconditionFailed", http.StatusPreconditionFailed)
			if err := lc.delete(id, newTag); err != nil {
				t.Fatalf("delete: %v", err)
			}
			_, _, err = lc.get(id)
			if !lc.noSuch(err) {
				t.Fatalf("get after delete: %v, want the typed %s", err, lc.noSuchCode)
			}
			expectErr(t, err, lc.noSuchCode, http.StatusNotFound)
			expectErr(t, lc.delete(id, newTag), lc.noSuchCode, http.StatusNotFound)
			if ids, err = lc.list(); err != nil || slices.Contains(ids, id) {
				t.Errorf("list after delete: %v %v", ids, err)
			}
		})
	}

	t.Run("managed", func(t *testing.T) {
		out, err := c.ListCachePolicies(ctx(t), &cloudfront.ListCachePoliciesInput{Type: types.CachePolicyTypeManaged})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, item := range out.CachePolicyList.Items {
			if aws.ToString(item.CachePolicy.CachePolicyConfig.Name) == "Managed-CachingOptimized" {
				found = aws.ToString(item.CachePolicy.Id) == "658327ea-f89d-4fab-a63d-7e88639e58f6"
			}
		}
		if !found {
			t.Errorf("ListCachePolicies(managed) lacks Managed-CachingOptimized 658327ea-f89d-4fab-a63d-7e88639e58f6")
		}
	})
}

// ifMatch is nil for "", so that the SDK sends no If-Match header.
func ifMatch(etag string) *string {
	if etag == "" {
		return nil
	}
	return aws.String(etag)
}

func sdkLifecycles(t *testing.T, c *cloudfront.Client) []sdkLifecycle {
	cachePolicy := func(name, comment string) *types.CachePolicyConfig {
		return &types.CachePolicyConfig{
			Name: aws.String(name), Comment: aws.String(comment),
			MinTTL: aws.Int64(1), DefaultTTL: aws.Int64(3600), MaxTTL: aws.Int64(86400),
			ParametersInCacheKeyAndForwardedToOrigin: &types.ParametersInCacheKeyAndForwardedToOrigin{
				EnableAcceptEncodingGzip: aws.Bool(true), EnableAcceptEncodingBrotli: aws.Bool(true),
				HeadersConfig: &types.CachePolicyHeadersConfig{
					HeaderBehavior: types.CachePolicyHeaderBehaviorWhitelist,
					Headers:        &types.Headers{Quantity: aws.Int32(1), Items: []string{"Origin"}},
				},
				CookiesConfig:      &types.CachePolicyCookiesConfig{CookieBehavior: types.CachePolicyCookieBehaviorNone},
				QueryStringsConfig: &types.CachePolicyQueryStringsConfig{QueryStringBehavior: types.CachePolicyQueryStringBehaviorAll},
			},
		}
	}
	originRequestPolicy := func(name, comment string) *types.OriginRequestPolicyConfig {
		return &types.OriginRequestPolicyConfig{
			Name: aws.String(name), Comment: aws.String(comment),
			HeadersConfig: &types.OriginRequestPolicyHeadersConfig{
				HeaderBehavior: types.OriginRequestPolicyHeaderBehaviorWhitelist,
				Headers:        &types.Headers{Quantity: aws.Int32(2), Items: []string{"Accept-Language", "X-Tenant"}},
			},
			CookiesConfig:      &types.OriginRequestPolicyCookiesConfig{CookieBehavior: types.OriginRequestPolicyCookieBehaviorAll},
			QueryStringsConfig: &types.OriginRequestPolicyQueryStringsConfig{QueryStringBehavior: types.OriginRequestPolicyQueryStringBehaviorNone},
		}
	}
	responseHeadersPolicy := func(name, comment string) *types.ResponseHeadersPolicyConfig {
		return &types.ResponseHeadersPolicyConfig{
			Name: aws.String(name), Comment: aws.String(comment),
			CorsConfig: &types.ResponseHeadersPolicyCorsConfig{
				AccessControlAllowCredentials: aws.Bool(false),
				AccessControlAllowHeaders:     &types.ResponseHeadersPolicyAccessControlAllowHeaders{Quantity: aws.Int32(1), Items: []string{"*"}},
				AccessControlAllowMethods: &types.ResponseHeadersPolicyAccessControlAllowMethods{Quantity: aws.Int32(2), Items: []types.ResponseHeadersPolicyAccessControlAllowMethodsValues{
					types.ResponseHeadersPolicyAccessControlAllowMethodsValuesGet, types.ResponseHeadersPolicyAccessControlAllowMethodsValuesHead}},
				AccessControlAllowOrigins: &types.ResponseHeadersPolicyAccessControlAllowOrigins{Quantity: aws.Int32(1), Items: []string{"https://app.example.com"}},
				AccessControlMaxAgeSec:    aws.Int32(600),
				OriginOverride:            aws.Bool(true),
			},
			SecurityHeadersConfig: &types.ResponseHeadersPolicySecurityHeadersConfig{
				StrictTransportSecurity: &types.ResponseHeadersPolicyStrictTransportSecurity{
					AccessControlMaxAgeSec: aws.Int32(31536000), IncludeSubdomains: aws.Bool(true), Override: aws.Bool(true),
				},
				ContentTypeOptions: &types.ResponseHeadersPolicyContentTypeOptions{Override: aws.Bool(true)},
			},
			CustomHeadersConfig: &types.ResponseHeadersPolicyCustomHeadersConfig{Quantity: aws.Int32(1), Items: []types.ResponseHeadersPolicyCustomHeader{
				{Header: aws.String("X-Served-By"), Value: aws.String("openfront"), Override: aws.Bool(false)}}},
		}
	}
	oac := func(name, description string) *types.OriginAccessControlConfig {
		return &types.OriginAccessControlConfig{
			Name: aws.String(name), Description: aws.String(description),
			OriginAccessControlOriginType: types.OriginAccessControlOriginTypesS3,
			SigningBehavior:               types.OriginAccessControlSigningBehaviorsAlways,
			SigningProtocol:               types.OriginAccessControlSigningProtocolsSigv4,
		}
	}
	return []sdkLifecycle{
		{
			kind: "CachePolicy", noSuchCode: "NoSuchCachePolicy",
			noSuch: func(err error) bool { var e *types.NoSuchCachePolicy; return errors.As(err, &e) },
			create: func(name string) (string, string, error) {
				out, err := c.CreateCachePolicy(ctx(t), &cloudfront.CreateCachePolicyInput{CachePolicyConfig: cachePolicy(name, "created")})
				if err != nil {
					return "", "", err
				}
				return aws.ToString(out.CachePolicy.Id), aws.ToString(out.ETag), nil
			},
			get: func(id string) (string, string, error) {
				out, err := c.GetCachePolicy(ctx(t), &cloudfront.GetCachePolicyInput{Id: aws.String(id)})
				if err != nil {
					return "", "", err
				}
				return aws.ToString(out.ETag), aws.ToString(out.CachePolicy.CachePolicyConfig.Comment), nil
			},
			update: func(id, etag, name, comment string) (string, error) {
				out, err := c.UpdateCachePolicy(ctx(t), &cloudfront.UpdateCachePolicyInput{Id: aws.String(id), IfMatch: ifMatch(etag), CachePolicyConfig: cachePolicy(name, comment)})
				if err != nil {
					return "", err
				}
				return aws.ToString(out.ETag), nil
			},
			delete: func(id, etag string) error {
				_, err := c.DeleteCachePolicy(ctx(t), &cloudfront.DeleteCachePolicyInput{Id: aws.String(id), IfMatch: ifMatch(etag)})
				return err
			},
			list: func() ([]string, error) {
				out, err := c.ListCachePolicies(ctx(t), &cloudfront.ListCachePoliciesInput{Type: types.CachePolicyTypeCustom})
				if err != nil {
					return nil, err
				}
				var ids []string
				for _, item := range out.CachePolicyList.Items {
					ids = append(ids, aws.ToString(item.CachePolicy.Id))
				}
				return ids, nil
			},
		},
		{
			kind: "OriginRequestPolicy", noSuchCode: "NoSuchOriginRequestPolicy",
			noSuch: func(err error) bool { var e *types.NoSuchOriginRequestPolicy; return errors.As(err, &e) },
			create: func(name string) (string, string, error) {
				out, err := c.CreateOriginRequestPolicy(ctx(t), &cloudfront.CreateOriginRequestPolicyInput{OriginRequestPolicyConfig: originRequestPolicy(name, "created")})
				if err != nil {
					return "", "", err
				}
				return aws.ToString(out.OriginRequestPolicy.Id), aws.ToString(out.ETag), nil
			},
			get: func(id string) (string, string, error) {
				out, err := c.GetOriginRequestPolicy(ctx(t), &cloudfront.GetOriginRequestPolicyInput{Id: aws.String(id)})
				if err != nil {
					return "", "", err
				}
				return aws.ToString(out.ETag), aws.ToString(out.OriginRequestPolicy.OriginRequestPolicyConfig.Comment), nil
			},
			update: func(id, etag, name, comment string) (string, error) {
				out, err := c.UpdateOriginRequestPolicy(ctx(t), &cloudfront.UpdateOriginRequestPolicyInput{Id: aws.String(id), IfMatch: ifMatch(etag), OriginRequestPolicyConfig: originRequestPolicy(name, comment)})
				if err != nil {
					return "", err
				}
				return aws.ToString(out.ETag), nil
			},
			delete: func(id, etag string) error {
				_, err := c.DeleteOriginRequestPolicy(ctx(t), &cloudfront.DeleteOriginRequestPolicyInput{Id: aws.String(id), IfMatch: ifMatch(etag)})
				return err
			},
			list: func() ([]string, error) {
				out, err := c.ListOriginRequestPolicies(ctx(t), &cloudfront.ListOriginRequestPoliciesInput{Type: types.OriginRequestPolicyTypeCustom})
				if err != nil {
					return nil, err
				}
				var ids []string
				for _, item := range out.OriginRequestPolicyList.Items {
					ids = append(ids, aws.ToString(item.OriginRequestPolicy.Id))
				}
				return ids, nil
			},
		},
		{
			kind: "ResponseHeadersPolicy", noSuchCode: "NoSuchResponseHeadersPolicy",
			noSuch: func(err error) bool { var e *types.NoSuchResponseHeadersPolicy; return errors.As(err, &e) },
			create: func(name string) (string, string, error) {
				out, err := c.CreateResponseHeadersPolicy(ctx(t), &cloudfront.CreateResponseHeadersPolicyInput{ResponseHeadersPolicyConfig: responseHeadersPolicy(name, "created")})
				if err != nil {
					return "", "", err
				}
				return aws.ToString(out.ResponseHeadersPolicy.Id), aws.ToString(out.ETag), nil
			},
			get: func(id string) (string, string, error) {
				out, err := c.GetResponseHeadersPolicy(ctx(t), &cloudfront.GetResponseHeadersPolicyInput{Id: aws.String(id)})
				if err != nil {
					return "", "", err
				}
				return aws.ToString(out.ETag), aws.ToString(out.ResponseHeadersPolicy.ResponseHeadersPolicyConfig.Comment), nil
			},
			update: func(id, etag, name, comment string) (string, error) {
				out, err := c.UpdateResponseHeadersPolicy(ctx(t), &cloudfront.UpdateResponseHeadersPolicyInput{Id: aws.String(id), IfMatch: ifMatch(etag), ResponseHeadersPolicyConfig: responseHeadersPolicy(name, comment)})
				if err != nil {
					return "", err
				}
				return aws.ToString(out.ETag), nil
			},
			delete: func(id, etag string) error {
				_, err := c.DeleteResponseHeadersPolicy(ctx(t), &cloudfront.DeleteResponseHeadersPolicyInput{Id: aws.String(id), IfMatch: ifMatch(etag)})
				return err
			},
			list: func() ([]string, error) {
				out, err := c.ListResponseHeadersPolicies(ctx(t), &cloudfront.ListResponseHeadersPoliciesInput{Type: types.ResponseHeadersPolicyTypeCustom})
				if err != nil {
					return nil, err
				}
				var ids []string
				for _, item := range out.ResponseHeadersPolicyList.Items {
					ids = append(ids, aws.ToString(item.ResponseHeadersPolicy.Id))
				}
				return ids, nil
			},
		},
		{
			kind: "OriginAccessControl", noSuchCode: "NoSuchOriginAccessControl",
			noSuch: func(err error) bool { var e *types.NoSuchOriginAccessControl; return errors.As(err, &e) },
			create: func(name string) (string, string, error) {
				out, err := c.CreateOriginAccessControl(ctx(t), &cloudfront.CreateOriginAccessControlInput{OriginAccessControlConfig: oac(name, "created")})
				if err != nil {
					return "", "", err
				}
				return aws.ToString(out.OriginAccessControl.Id), aws.ToString(out.ETag), nil
			},
			get: func(id string) (string, string, error) {
				out, err := c.GetOriginAccessControl(ctx(t), &cloudfront.GetOriginAccessControlInput{Id: aws.String(id)})
				if err != nil {
					return "", "", err
				}
				return aws.ToString(out.ETag), aws.ToString(out.OriginAccessControl.OriginAccessControlConfig.Description), nil
			},
			update: func(id, etag, name, comment string) (string, error) {
				out, err := c.UpdateOriginAccessControl(ctx(t), &cloudfront.UpdateOriginAccessControlInput{Id: aws.String(id), IfMatch: ifMatch(etag), OriginAccessControlConfig: oac(name, comment)})
				if err != nil {
					return "", err
				}
				return aws.ToString(out.ETag), nil
			},
			delete: func(id, etag string) error {
				_, err := c.DeleteOriginAccessControl(ctx(t), &cloudfront.DeleteOriginAccessControlInput{Id: aws.String(id), IfMatch: ifMatch(etag)})
				return err
			},
			list: func() ([]string, error) {
				out, err := c.ListOriginAccessControls(ctx(t), &cloudfront.ListOriginAccessControlsInput{})
				if err != nil {
					return nil, err
				}
				var ids []string
				for _, item := range out.OriginAccessControlList.Items {
					ids = append(ids, aws.ToString(item.Id))
				}
				return ids, nil
			},
		},
	}
}
