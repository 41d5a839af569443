package xmlmodel_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/openfront/openfront/internal/cloudfront/xmlmodel"
)

// A CreateDistribution handler's use of the codec: decode and validate
// the body, fill CloudFront's defaults, wrap the config in the server's
// own Distribution elements and encode the response.
func Example() {
	body := []byte(`<DistributionConfig xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">
	  <CallerReference>ref-1</CallerReference>
	  <Comment>docs</Comment>
	  <Enabled>true</Enabled>
	  <Origins><Quantity>1</Quantity><Items><Origin>
	    <Id>web</Id><DomainName>www.example.com</DomainName>
	    <CustomOriginConfig><HTTPPort>80</HTTPPort><HTTPSPort>443</HTTPSPort>
	      <OriginProtocolPolicy>https-only</OriginProtocolPolicy></CustomOriginConfig>
	  </Origin></Items></Origins>
	  <DefaultCacheBehavior><TargetOriginId>web</TargetOriginId>
	    <ViewerProtocolPolicy>redirect-to-https</ViewerProtocolPolicy>
	    <CachePolicyId>658327ea-f89d-4fab-a63d-7e88639e58f6</CachePolicyId>
	  </DefaultCacheBehavior>
	</DistributionConfig>`)

	cfg, err := xmlmodel.Decode(body, "DistributionConfig", "DistributionConfig")
	if err != nil {
		var xe *xmlmodel.Error
		errors.As(err, &xe)
		fmt.Println(xe.Code, xe.Message) // an HTTP 400 with CloudFront's error envelope
		return
	}
	xmlmodel.Normalize(cfg, "DistributionConfig")

	for _, o := range cfg.Items("Origins") {
		id, _ := o.Value("Id")
		timeout, _ := o.Int64("CustomOriginConfig", "OriginReadTimeout")
		fmt.Println("origin", id, "read timeout", timeout)
	}
	ipv6, _ := cfg.Bool("IsIPV6Enabled")
	price, _ := cfg.Value("PriceClass")
	fmt.Println("ipv6", ipv6, "price class", price)

	dist := xmlmodel.NewParent("Distribution",
		xmlmodel.New("Id", "EDFDVBD6EXAMPLE"),
		xmlmodel.New("ARN", "arn:aws:cloudfront::123456789012:distribution/EDFDVBD6EXAMPLE"),
		xmlmodel.New("Status", "InProgress"),
		xmlmodel.New("LastModifiedTime", "2024-06-01T12:00:00.000Z"),
		xmlmodel.New("InProgressInvalidationBatches", "0"),
		xmlmodel.New("DomainName", "d111111abcdef8.cloudfront.net"),
		cfg.Clone(),
	)
	xmlmodel.Normalize(dist, "Distribution")
	var b strings.Builder
	xmlmodel.Encode(&b, dist, true)
	fmt.Println(b.String()[:120])

	_, err = xmlmodel.Decode([]byte(strings.Replace(string(body), "<Quantity>1</Quantity>", "<Quantity>2</Quantity>", 1)),
		"DistributionConfig", "DistributionConfig")
	fmt.Println(err)
	// Output:
	// origin web read timeout 30
	// ipv6 true price class PriceClass_All
	// <Distribution xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>EDFDVBD6EXAMPLE</Id><ARN>arn:aws:cloudfront::1
	// InconsistentQuantities: The value of Quantity and the size of Items don't match in DistributionConfig.Origins.
}
