package cloudfront

import "testing"

func TestOperation(t *testing.T) {
	for _, tt := range []struct{ method, path, query, want string }{
		{"POST", "/2020-05-31/distribution/E1/invalidation", "", "CreateInvalidation"},
		{"GET", "/2020-05-31/distribution/E1/invalidation", "", "ListInvalidations"},
		{"GET", "/2020-05-31/distribution/E1/invalidation/I1", "", "GetInvalidation"},
		{"POST", "/2020-05-31/distribution", "", "CreateDistribution"},
		{"GET", "/2020-05-31/distribution", "", "ListDistributions"},
		{"GET", "/2020-05-31/distribution/E1", "", "GetDistribution"},
		{"DELETE", "/2020-05-31/distribution/E1", "", "DeleteDistribution"},
		{"GET", "/2020-05-31/distribution/E1/config", "", "GetDistributionConfig"},
		{"PUT", "/2020-05-31/distribution/E1/config", "", "UpdateDistribution"},
		{"GET", "/2020-05-31/tagging", "Resource=arn", "ListTagsForResource"},
		{"POST", "/2020-05-31/tagging", "Operation=Tag&Resource=arn", "TagResource"},
		{"POST", "/2020-05-31/tagging", "Operation=Untag&Resource=arn", "UntagResource"},
		{"GET", "/openfront/fleet/stream", "", "Unknown"},
		{"PATCH", "/2020-05-31/distribution/E1", "", "Unknown"},
		{"GET", "/", "", "Unknown"},
		{"GET", "/2020-05-31/origin-access-control", "", "ListOriginAccessControls"},
		{"PUT", "/2020-05-31/origin-access-control/E1/config", "", "UpdateOriginAccessControl"},
		{"PUT", "/2020-05-31/cache-policy/x", "", "UpdateCachePolicy"},
		{"GET", "/2020-05-31/origin-access-identity/cloudfront/E1/config", "", "GetCloudFrontOriginAccessIdentityConfig"},
		{"PUT", "/2020-05-31/origin-access-identity/cloudfront/E1", "", "Unknown"},
		{"GET", "/2020-05-31/key-group", "", "ListKeyGroups"},
		{"PUT", "/2020-05-31/public-key/K1/config", "", "UpdatePublicKey"},
		{"GET", "/2020-05-31/field-level-encryption", "", "Unknown"},
		{"GET", "/2020-05-31/distributionsByCachePolicyId/658327ea-f89d-4fab-a63d-7e88639e58f6", "MaxItems=5", "ListDistributionsByCachePolicyId"},
		{"GET", "/2020-05-31/distributionsByOriginRequestPolicyId/x", "", "ListDistributionsByOriginRequestPolicyId"},
		{"GET", "/2020-05-31/distributionsByResponseHeadersPolicyId/x", "", "ListDistributionsByResponseHeadersPolicyId"},
		{"POST", "/2020-05-31/distributionsByCachePolicyId/x", "", "Unknown"},
		{"GET", "/2020-05-31/distributionsByCachePolicyId/", "", "Unknown"},
		{"GET", "/2020-05-31/distributionsByWebACLId/x", "", "Unknown"},
		{"POST", "/2020-05-31/key-value-store", "", "CreateKeyValueStore"},
		{"GET", "/2020-05-31/key-value-store", "Status=READY", "ListKeyValueStores"},
		{"GET", "/2020-05-31/key-value-store/s", "", "DescribeKeyValueStore"},
		{"PUT", "/2020-05-31/key-value-store/s", "", "UpdateKeyValueStore"},
		{"DELETE", "/2020-05-31/key-value-store/s", "", "DeleteKeyValueStore"},
		{"GET", "/key-value-stores/arn%3Aaws%3Acloudfront%3A%3A1%3Akey-value-store%2Fx", "", "KVS:DescribeKeyValueStore"},
		{"GET", "/key-value-stores/arn/keys", "MaxResults=5", "KVS:ListKeys"},
		{"POST", "/key-value-stores/arn/keys", "", "KVS:UpdateKeys"},
		{"GET", "/key-value-stores/arn/keys/k", "", "KVS:GetKey"},
		{"PUT", "/key-value-stores/arn/keys/k", "", "KVS:PutKey"},
		{"DELETE", "/key-value-stores/arn/keys/k", "", "KVS:DeleteKey"},
		{"PATCH", "/key-value-stores/arn/keys/k", "", "Unknown"},
	} {
		if got := OperationOf(tt.method, tt.path, tt.query).String(); got != tt.want {
			t.Errorf("%s %s?%s = %s, want %s", tt.method, tt.path, tt.query, got, tt.want)
		}
	}
}
