package main

import "github.com/openfront/openfront/internal/policy"

// TEMPORARY: the managed policies' catalogue belongs in
// internal/policy/managed.go (with every managed cache, origin request
// and response headers policy); until it exists serve seeds these three,
// whose Ids and settings are AWS's. Replace the two lists by the
// catalogue's functions in managedResources (resources.go); response
// headers policies go through cloudfront.ResponseHeadersPolicyDocument.
var (
	seedManagedCachePolicies = []struct {
		ID     string
		Policy policy.CachePolicy
	}{
		{"658327ea-f89d-4fab-a63d-7e88639e58f6", policy.CachePolicy{
			Name: "Managed-CachingOptimized", Comment: "Policy with caching enabled. Supports Gzip and Brotli compression.",
			MinTTL: 1, DefaultTTL: 86400, MaxTTL: 31536000, AcceptEncodingGzip: true, AcceptEncodingBrotli: true,
			Headers: policy.Selection{Behavior: policy.None}, Cookies: policy.Selection{Behavior: policy.None},
			QueryStrings: policy.Selection{Behavior: policy.None}}},
		{"4135ea2d-6df8-44a3-9df3-4b5a84be39ad", policy.CachePolicy{
			Name: "Managed-CachingDisabled", Comment: "Policy with caching disabled",
			Headers: policy.Selection{Behavior: policy.None}, Cookies: policy.Selection{Behavior: policy.None},
			QueryStrings: policy.Selection{Behavior: policy.None}}},
	}
	seedManagedOriginRequestPolicies = []struct {
		ID     string
		Policy policy.OriginRequestPolicy
	}{
		{"216adef6-5c7f-47e4-b989-5492eafa07d3", policy.OriginRequestPolicy{
			Name: "Managed-AllViewer", Comment: "Policy to forward all parameters in viewer requests",
			Headers: policy.Selection{Behavior: policy.AllViewer}, Cookies: policy.Selection{Behavior: policy.All},
			QueryStrings: policy.Selection{Behavior: policy.All}}},
	}
)
