package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// TestTerraformFunction: aws_cloudfront_function with publish = true
// (CreateFunction then PublishFunction; read through DescribeFunction of
// both stages and GetFunction), associated with a distribution's default
// behavior on viewer-request: apply, a clean second plan, a code update
// (UpdateFunction then PublishFunction, the distribution unchanged), an
// import, destroy.
func TestTerraformFunction(t *testing.T) {
	// Parallel with the other terraform tests only (the rest of e2e is
	// serial): most of their time is the provider's fixed waits.
	t.Parallel()
	start := time.Now()
	s := startServer(t, options{args: []string{"--deploy-delay", "0s"}})
	c := s.client("", "")
	tf := newTerraform(t, s.URL, terraformFunctionModule)

	tf.apply()
	outs := tfOutputs(t, tf)
	arn, distID := outs["function_arn"], outs["distribution_id"]
	if arn != "arn:aws:cloudfront::000000000000:function/tf-rewrite" {
		t.Errorf("function ARN %q", arn)
	}
	live, err := c.GetFunction(ctx(t), &cloudfront.GetFunctionInput{Name: aws.String("tf-rewrite"), Stage: types.FunctionStageLive})
	if err != nil || !strings.Contains(string(live.FunctionCode), `"/index.html"`) {
		t.Fatalf("LIVE after apply: %v %q", err, live.FunctionCode)
	}
	dist, err := c.GetDistributionConfig(ctx(t), &cloudfront.GetDistributionConfigInput{Id: aws.String(distID)})
	if err != nil {
		t.Fatal(err)
	}
	if fa := dist.DistributionConfig.DefaultCacheBehavior.FunctionAssociations; aws.ToInt32(fa.Quantity) != 1 ||
		aws.ToString(fa.Items[0].FunctionARN) != arn || fa.Items[0].EventType != types.EventTypeViewerRequest {
		t.Errorf("the distribution's FunctionAssociations: %+v", fa)
	}
	tf.planClean()

	tf.apply(`index=/default.html`, `comment=changed by terraform`)
	live, err = c.GetFunction(ctx(t), &cloudfront.GetFunctionInput{Name: aws.String("tf-rewrite"), Stage: types.FunctionStageLive})
	if err != nil || !strings.Contains(string(live.FunctionCode), `"/default.html"`) {
		t.Fatalf("LIVE after the update: %v %q", err, live.FunctionCode)
	}
	d, err := c.DescribeFunction(ctx(t), &cloudfront.DescribeFunctionInput{Name: aws.String("tf-rewrite"), Stage: types.FunctionStageLive})
	if err != nil || aws.ToString(d.FunctionSummary.FunctionConfig.Comment) != "changed by terraform" || aws.ToString(d.FunctionSummary.Status) != "DEPLOYED" {
		t.Fatalf("describe LIVE after the update: %v %+v", err, d)
	}
	tf.planClean()

	tf.run(0, "state", "rm", "-no-color", "aws_cloudfront_function.rewrite")
	tf.run(0, append(append([]string{"import", "-input=false", "-no-color"}, tf.vars...), "aws_cloudfront_function.rewrite", "tf-rewrite")...)
	// publish is the provider's own setting, which no API call returns:
	// the provider's importer leaves it unset, against AWS too. Every
	// attribute the API returns must match the module.
	plan := tf.run(2, "plan", "-detailed-exitcode", "-input=false", "-no-color")
	if !strings.Contains(plan, "+ publish                      = true") || !strings.Contains(plan, "(8 unchanged attributes hidden)") ||
		!strings.Contains(plan, "Plan: 0 to add, 1 to change, 0 to destroy.") {
		t.Fatalf("plan after import: want only publish to change:\n%s", plan)
	}
	tf.apply()
	tf.planClean()

	tf.run(0, "destroy", "-auto-approve", "-input=false", "-no-color")
	_, err = c.DescribeFunction(ctx(t), &cloudfront.DescribeFunctionInput{Name: aws.String("tf-rewrite")})
	expectErr(t, err, "NoSuchFunctionExists", http.StatusNotFound)
	_, err = c.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: aws.String(distID)})
	expectErr(t, err, "NoSuchDistribution", http.StatusNotFound)
	t.Logf("TestTerraformFunction: %v in all", time.Since(start).Round(100*time.Millisecond))
}

// terraformFunctionModule: a viewer-request function that serves an
// index document for directory URIs, and a distribution running it.
const terraformFunctionModule = `
variable "index" {
  type    = string
  default = "/index.html"
}

variable "comment" {
  type    = string
  default = "adds the index document"
}

resource "aws_cloudfront_function" "rewrite" {
  name    = "tf-rewrite"
  runtime = "cloudfront-js-2.0"
  comment = var.comment
  publish = true
  code    = <<-EOT
    function handler(event) {
      var request = event.request;
      if (request.uri.endsWith("/")) {
        request.uri = request.uri.slice(0, -1) + "${var.index}";
      }
      return request;
    }
  EOT
}

resource "aws_cloudfront_distribution" "site" {
  enabled             = true
  comment             = "runs a function"
  wait_for_deployment = true

  origin {
    domain_name = "origin.example.test"
    origin_id   = "web"
    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "http-only"
      origin_ssl_protocols   = ["TLSv1.2"]
    }
  }

  default_cache_behavior {
    target_origin_id       = "web"
    viewer_protocol_policy = "allow-all"
    allowed_methods        = ["GET", "HEAD"]
    cached_methods         = ["GET", "HEAD"]
    cache_policy_id        = "658327ea-f89d-4fab-a63d-7e88639e58f6"
    function_association {
      event_type   = "viewer-request"
      function_arn = aws_cloudfront_function.rewrite.arn
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }
}

output "function_arn" {
  value = aws_cloudfront_function.rewrite.arn
}

output "distribution_id" {
  value = aws_cloudfront_distribution.site.id
}
`
