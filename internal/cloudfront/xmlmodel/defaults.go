package xmlmodel

// CloudFront's defaults: what it fills into a DistributionConfig (and a
// Distribution) when the client leaves an optional member out. Normalize
// applies them; a member the client sent is never replaced.
//
// Sources, as each entry's comment says:
//
//   - documented: the member's documentation in the service model
//     (botocore's service-2.json, the API reference's text) names the
//     default.
//   - observed: the AWS CLI's documentation examples
//     (awscli/examples/cloudfront/*.rst) show CloudFront returning the
//     value for a config that did not send it. The CLI's
//     --origin-domain-name shortcut sends only CallerReference, Origins
//     (Id, DomainName, OriginPath, S3OriginConfig), DefaultCacheBehavior
//     (TargetOriginId, ForwardedValues{QueryString, Cookies{Forward}},
//     TrustedSigners, ViewerProtocolPolicy, MinTTL), DefaultRootObject,
//     Enabled and Comment (awscli/customizations/cloudfront.py), and
//     create-distribution example 1 shows everything else coming back.
//     Members newer than that example (2019) are taken from the newer
//     list-distributions (2024) and create-distribution examples 3-4
//     (2025) outputs, and from get-distribution-config outputs quoted in
//     public issues where noted.
//   - our choice: no source states the value; the comment says why it is
//     the one picked.
//
// Left absent on purpose, because no source shows what CloudFront fills
// (so Get returns them only when the client sent them):
//
//   - DistributionConfig: ContinuousDeploymentPolicyId, AnycastIpListId,
//     TenantConfig, ConnectionMode, ViewerMtlsConfig,
//     ConnectionFunctionAssociation, CacheTagConfig.
//   - Origin: ResponseCompletionTimeout (documented: absent means no
//     limit), VpcOriginConfig.OwnerAccountId.
//   - S3OriginConfig.OriginReadTimeout: documented as defaulting to 30,
//     but the 2025 outputs of create-distribution (examples 3-4) return
//     S3OriginConfig without it, so CloudFront does not fill it.
//   - CustomOriginConfig: IpAddressType, OriginMtlsConfig.
//   - OriginShield.OriginShieldRegion, OriginGroup.SelectionCriteria.
//   - Cache behaviors: RealtimeLogConfigArn, CachePolicyId,
//     OriginRequestPolicyId, ResponseHeadersPolicyId, and the TTLs when
//     there is no ForwardedValues (a cache policy holds them).
//   - CookiePreference.WhitelistedNames (documented: omitted for all/none).
//   - LambdaFunctionAssociation.IncludeBody.
//   - CustomErrorResponse: ResponsePagePath, ResponseCode,
//     ErrorCachingMinTTL (the 10 s error caching is edge behaviour, not a
//     value any source shows CloudFront writing into the config).
//   - ViewerCertificate.SSLSupportMethod and MinimumProtocolVersion with an
//     IAM certificate.
//
// Known divergence: CloudFront forces MinimumProtocolVersion to TLSv1 with
// the default certificate "regardless of the value that you set"
// (documented); openfront keeps a value the client sent, for round-trip
// fidelity.

// fill is one default. Its value is the member's content: a scalar's text,
// or a structure's children written as XML. The value of a structure is
// normalized in turn, so its own members get their defaults.
type fill struct {
	shape, member string
	value         string
	// when, if set, must hold for the default to apply; it sees the parent
	// element as the client sent it.
	when func(parent *Element) bool
	// compute, if set, gives the scalar's text from the parent instead of
	// value; ok false leaves the member absent.
	compute func(parent *Element) (text string, ok bool)
}

// Shared fragments of the table.
const (
	zeroQuantity = `<Quantity>0</Quantity>`
	noSigners    = `<Enabled>false</Enabled><Quantity>0</Quantity>`
	headGet      = `<Quantity>2</Quantity><Items><Method>HEAD</Method><Method>GET</Method></Items>`
)

var defaults = []fill{
	// ---- DistributionConfig ----
	{shape: "DistributionConfig", member: "Aliases", value: zeroQuantity},              // observed (create-distribution ex. 1)
	{shape: "DistributionConfig", member: "DefaultRootObject", value: ""},              // observed (get-distribution-config output in TecharoHQ/anubis#515); documented: an empty element means none
	{shape: "DistributionConfig", member: "OriginGroups", value: zeroQuantity},         // observed (create-distribution ex. 1)
	{shape: "DistributionConfig", member: "CacheBehaviors", value: zeroQuantity},       // observed (create-distribution ex. 1)
	{shape: "DistributionConfig", member: "CustomErrorResponses", value: zeroQuantity}, // observed (create-distribution ex. 1)
	// Comment is required, so Decode rejects a config without it; this only
	// completes configs built in code. Our choice: the empty comment the
	// CLI sends.
	{shape: "DistributionConfig", member: "Comment", value: ""},
	{shape: "DistributionConfig", member: "Logging", value: ""},                  // observed (create-distribution ex. 1); members below
	{shape: "DistributionConfig", member: "PriceClass", value: "PriceClass_All"}, // observed (create-distribution ex. 1)
	{shape: "DistributionConfig", member: "ViewerCertificate", value: ""},        // observed (create-distribution ex. 1); members below
	{shape: "DistributionConfig", member: "Restrictions",
		value: `<GeoRestriction><RestrictionType>none</RestrictionType><Quantity>0</Quantity></GeoRestriction>`}, // observed (create-distribution ex. 1)
	{shape: "DistributionConfig", member: "WebACLId", value: ""},          // observed (create-distribution ex. 1)
	{shape: "DistributionConfig", member: "HttpVersion", value: "http2"},  // documented ("The default value for new web distributions is http2"); observed
	{shape: "DistributionConfig", member: "IsIPV6Enabled", value: "true"}, // observed (create-distribution ex. 1: the CLI does not send it)
	{shape: "DistributionConfig", member: "Staging", value: "false"},      // observed (list-distributions, 2024)

	// ---- LoggingConfig ----
	// observed (create-distribution ex. 1); documented: "specify false for
	// Enabled, and specify empty Bucket and Prefix elements".
	{shape: "LoggingConfig", member: "Enabled", value: "false"},
	{shape: "LoggingConfig", member: "IncludeCookies", value: "false"},
	{shape: "LoggingConfig", member: "Bucket", value: ""},
	{shape: "LoggingConfig", member: "Prefix", value: ""},

	// ---- ViewerCertificate ----
	// With neither ACMCertificateArn nor IAMCertificateId the distribution
	// uses the default *.cloudfront.net certificate.
	{shape: "ViewerCertificate", member: "CloudFrontDefaultCertificate", value: "true", when: defaultCert}, // observed (create-distribution ex. 1)
	{shape: "ViewerCertificate", member: "CloudFrontDefaultCertificate", value: "false", when: customCert}, // observed (create-distribution ex. 3, ACM)
	{shape: "ViewerCertificate", member: "SSLSupportMethod", value: "vip", when: defaultCert},              // observed (list-distributions, 2024, a standard distribution; older outputs omit it)
	{shape: "ViewerCertificate", member: "MinimumProtocolVersion", value: "TLSv1", when: defaultCert},      // documented (CloudFront sets TLSv1 with the default certificate); observed
	{shape: "ViewerCertificate", member: "MinimumProtocolVersion", value: "TLSv1.2_2021", when: acmCert},   // observed (create-distribution ex. 3: ACM certificate sent without it)
	{shape: "ViewerCertificate", member: "Certificate", compute: certificateID},                            // observed for ACM (create-distribution ex. 3); IAM by analogy, our choice
	{shape: "ViewerCertificate", member: "CertificateSource", compute: certificateSource},                  // observed: cloudfront (ex. 1), acm (ex. 3); iam by analogy, our choice

	// ---- Origin ----
	{shape: "Origin", member: "OriginPath", value: ""},                           // observed: every returned origin carries it, empty when unused
	{shape: "Origin", member: "CustomHeaders", value: zeroQuantity},              // observed (create-distribution ex. 1: the CLI does not send it)
	{shape: "Origin", member: "ConnectionAttempts", value: "3"},                  // documented ("the default ... is 3"); observed (list-distributions)
	{shape: "Origin", member: "ConnectionTimeout", value: "10"},                  // documented ("the default ... is 10 seconds"); observed
	{shape: "Origin", member: "OriginShield", value: `<Enabled>false</Enabled>`}, // observed (list-distributions, create-distribution ex. 3)
	{shape: "Origin", member: "OriginAccessControlId", value: ""},                // observed (create-distribution ex. 3)

	// ---- CustomOriginConfig / VpcOriginConfig ----
	// observed indirectly: an origin created without OriginSslProtocols
	// reads back SSLv3 and TLSv1 (aws/aws-cdk#11994: the console shows
	// SSLv3 for CDK origins that did not set it; go-to-k/cdk-real-drift#1734:
	// the live service default for a VPC origin endpoint is [SSLv3, TLSv1];
	// ansible/ansible#19727 output). Not TLSv1-TLSv1.2, which is the
	// console's choice for new origins, not the API's.
	{shape: "CustomOriginConfig", member: "OriginSslProtocols",
		value: `<Quantity>2</Quantity><Items><SslProtocol>SSLv3</SslProtocol><SslProtocol>TLSv1</SslProtocol></Items>`},
	{shape: "CustomOriginConfig", member: "OriginReadTimeout", value: "30"},     // documented; observed (update-distribution ex. 1)
	{shape: "CustomOriginConfig", member: "OriginKeepaliveTimeout", value: "5"}, // documented; observed (update-distribution ex. 1)
	{shape: "VpcOriginConfig", member: "OriginReadTimeout", value: "30"},        // documented ("the default ... is 30 seconds")
	{shape: "VpcOriginConfig", member: "OriginKeepaliveTimeout", value: "5"},    // documented ("the default ... is 5 seconds")

	// ---- DefaultCacheBehavior ----
	{shape: "DefaultCacheBehavior", member: "TrustedSigners", value: noSigners},                // observed (list-distributions, 2024)
	{shape: "DefaultCacheBehavior", member: "TrustedKeyGroups", value: noSigners},              // observed (list-distributions, create-distribution ex. 3)
	{shape: "DefaultCacheBehavior", member: "AllowedMethods", value: headGet},                  // observed (create-distribution ex. 1: the CLI does not send it); CachedMethods below
	{shape: "DefaultCacheBehavior", member: "SmoothStreaming", value: "false"},                 // observed (create-distribution ex. 1)
	{shape: "DefaultCacheBehavior", member: "Compress", value: "false"},                        // observed (create-distribution ex. 1)
	{shape: "DefaultCacheBehavior", member: "LambdaFunctionAssociations", value: zeroQuantity}, // observed
	{shape: "DefaultCacheBehavior", member: "FunctionAssociations", value: zeroQuantity},       // observed (list-distributions, 2024)
	{shape: "DefaultCacheBehavior", member: "FieldLevelEncryptionId", value: ""},               // observed
	{shape: "DefaultCacheBehavior", member: "GrpcConfig", value: `<Enabled>false</Enabled>`},   // observed (create-distribution ex. 3-4, 2025)
	// Legacy TTLs, only with ForwardedValues (with a cache policy the policy
	// holds the TTLs and CloudFront returns none: create-distribution ex. 3).
	{shape: "DefaultCacheBehavior", member: "MinTTL", value: "0", when: forwardsValues},         // our choice: 0, the value every observed output carries
	{shape: "DefaultCacheBehavior", member: "DefaultTTL", value: "86400", when: forwardsValues}, // observed (create-distribution ex. 1: the CLI sends only MinTTL)
	{shape: "DefaultCacheBehavior", member: "MaxTTL", value: "31536000", when: forwardsValues},  // observed (create-distribution ex. 1)

	// ---- CacheBehavior: the same as DefaultCacheBehavior ----
	// our choice: CloudFront's cache behaviors share DefaultCacheBehavior's
	// members and the outputs show no difference between them.
	{shape: "CacheBehavior", member: "TrustedSigners", value: noSigners},
	{shape: "CacheBehavior", member: "TrustedKeyGroups", value: noSigners},
	{shape: "CacheBehavior", member: "AllowedMethods", value: headGet},
	{shape: "CacheBehavior", member: "SmoothStreaming", value: "false"},
	{shape: "CacheBehavior", member: "Compress", value: "false"},
	{shape: "CacheBehavior", member: "LambdaFunctionAssociations", value: zeroQuantity},
	{shape: "CacheBehavior", member: "FunctionAssociations", value: zeroQuantity},
	{shape: "CacheBehavior", member: "FieldLevelEncryptionId", value: ""},
	{shape: "CacheBehavior", member: "GrpcConfig", value: `<Enabled>false</Enabled>`},
	{shape: "CacheBehavior", member: "MinTTL", value: "0", when: forwardsValues},
	{shape: "CacheBehavior", member: "DefaultTTL", value: "86400", when: forwardsValues},
	{shape: "CacheBehavior", member: "MaxTTL", value: "31536000", when: forwardsValues},

	// ---- AllowedMethods.CachedMethods ----
	// our choice: AllowedMethods sent without CachedMethods caches HEAD and
	// GET, CloudFront's observed default pair (CloudFront always caches
	// GET and HEAD responses).
	{shape: "AllowedMethods", member: "CachedMethods", value: headGet},

	// ---- ForwardedValues ----
	{shape: "ForwardedValues", member: "Headers", value: zeroQuantity},              // observed (create-distribution ex. 1: the CLI does not send it)
	{shape: "ForwardedValues", member: "QueryStringCacheKeys", value: zeroQuantity}, // observed (create-distribution ex. 1)

	// ---- Distribution (the server's own document) ----
	{shape: "Distribution", member: "ActiveTrustedSigners", value: noSigners},   // observed (create-distribution ex. 1)
	{shape: "Distribution", member: "ActiveTrustedKeyGroups", value: noSigners}, // observed (create-distribution ex. 3)
}

func hasCert(parent *Element, name string) bool {
	v, ok := parent.Value(name)
	return ok && v != ""
}

func acmCert(p *Element) bool     { return hasCert(p, "ACMCertificateArn") }
func iamCert(p *Element) bool     { return hasCert(p, "IAMCertificateId") }
func customCert(p *Element) bool  { return acmCert(p) || iamCert(p) }
func defaultCert(p *Element) bool { return !customCert(p) }

func forwardsValues(p *Element) bool { return p.Child("ForwardedValues") != nil }

// certificateID mirrors the certificate in the deprecated Certificate
// member; there is none for the default certificate.
func certificateID(p *Element) (string, bool) {
	switch {
	case acmCert(p):
		v, _ := p.Value("ACMCertificateArn")
		return v, true
	case iamCert(p):
		v, _ := p.Value("IAMCertificateId")
		return v, true
	}
	return "", false
}

func certificateSource(p *Element) (string, bool) {
	switch {
	case acmCert(p):
		return "acm", true
	case iamCert(p):
		return "iam", true
	}
	return "cloudfront", true
}
