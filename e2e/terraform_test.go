package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	kvs "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
	"github.com/aws/smithy-go"
)

// Terraform's AWS provider against the real binary: apply, a second plan
// that must find nothing to change, an update, destroy. Nothing is
// downloaded: terraform and the provider come from the machine (the
// terraform on PATH, or OPENFRONT_TERRAFORM; the provider from the
// filesystem mirror OPENFRONT_TF_MIRROR, default /opt/tf-plugins), and the
// tests skip, saying why, where either is missing.

// tfMirrorDefault is where the machine's provider mirror lives.
const tfMirrorDefault = "/opt/tf-plugins"

// tfCommandTimeout bounds one terraform command: a bound against a hang,
// far above what a command takes with the provider's fixed waits.
const tfCommandTimeout = 5 * time.Minute

// terraform is one module's working directory with terraform bound to the
// local provider mirror.
type terraform struct {
	t       *testing.T
	bin     string
	dir     string   // the module
	env     []string // terraform's whole environment
	logPath string   // TF_LOG=DEBUG output of every command, shown on failure
	vars    []string // -var flags of every plan/apply/destroy
}

// newTerraform finds terraform and the AWS provider in the mirror (or skips
// the test), writes main.tf (the provider block pointing at endpoint,
// followed by module) and runs terraform init.
func newTerraform(t *testing.T, endpoint, module string) *terraform {
	t.Helper()
	if raceEnabled && os.Getenv("OPENFRONT_TF_UNDER_RACE") == "" {
		// The binary under test is built with -race in both of CI's runs;
		// the race detector on this driver adds nothing but minutes of
		// the provider's fixed waits. OPENFRONT_TF_UNDER_RACE=1 runs them.
		t.Skip("SKIP: terraform tests run in the go test without -race (the binary is -race built in both)")
	}
	bin := os.Getenv("OPENFRONT_TERRAFORM")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("terraform"); err != nil {
			t.Skip("SKIP: terraform is not installed (not on PATH, OPENFRONT_TERRAFORM unset)")
		}
	}
	mirror := os.Getenv("OPENFRONT_TF_MIRROR")
	if mirror == "" {
		mirror = tfMirrorDefault
	}
	version := providerInMirror(mirror)
	if version == "" {
		t.Skipf("SKIP: no hashicorp/aws provider in the filesystem mirror %s (set OPENFRONT_TF_MIRROR)", mirror)
	}
	work := t.TempDir()
	tf := &terraform{
		t: t, bin: bin,
		dir:     filepath.Join(work, "module"),
		logPath: filepath.Join(work, "terraform.log"),
	}
	// The mirror is the only installation method: terraform never asks a
	// registry. A provider it cannot find there fails init.
	cliConfig := filepath.Join(work, "cli.tfrc")
	writeFile(t, cliConfig, fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path = %q\n  }\n}\n", mirror))
	home := filepath.Join(work, "home")
	for _, d := range []string{tf.dir, home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing of this machine's AWS or terraform setup leaks in.
	tf.env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TMPDIR=" + work,
		"TF_CLI_CONFIG_FILE=" + cliConfig,
		"TF_DATA_DIR=" + filepath.Join(work, "data"),
		"TF_PLUGIN_CACHE_DIR=" + filepath.Join(work, "plugin-cache"),
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
		"CHECKPOINT_DISABLE=1", // no version check against HashiCorp
		"TF_LOG=DEBUG",
		"TF_LOG_PATH=" + tf.logPath,
		"AWS_CONFIG_FILE=" + filepath.Join(home, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"NO_PROXY=127.0.0.1,localhost",
	}
	if err := os.MkdirAll(filepath.Join(work, "plugin-cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(tf.dir, "main.tf"), providerBlock(version)+module)
	tf.vars = []string{"-var", "endpoint=" + endpoint}
	tf.run(0, "init", "-input=false", "-no-color")
	return tf
}

// providerInMirror returns the newest hashicorp/aws version the mirror
// holds for this platform ("" when none).
func providerInMirror(mirror string) string {
	dir := filepath.Join(mirror, "registry.terraform.io", "hashicorp", "aws")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	found := ""
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(dir, e.Name(), runtime.GOOS+"_"+runtime.GOARCH)); err == nil &&
			(found == "" || versionLess(found, e.Name())) {
			found = e.Name()
		}
	}
	return found
}

// versionLess compares dotted versions number by number (5.99.0 < 5.100.0).
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, errX := strconv.Atoi(as[i])
		y, errY := strconv.Atoi(bs[i])
		if errX != nil || errY != nil {
			if as[i] != bs[i] {
				return as[i] < bs[i]
			}
			continue
		}
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}

// The keys of the provider block: any work in open mode;
// terraformAuthConfig makes them the server's credentials.
const (
	tfAccessKey = "AKIDTERRAFORMDUMMY01"
	tfSecretKey = "terraform/K7MDENG+bPxRfiCYDUMMYKEY"
)

// providerBlock is the provider configuration docs/architecture.md shows:
// every AWS endpoint the provider could call points at openfront, so that
// nothing leaves the machine even by mistake.
func providerBlock(version string) string {
	return fmt.Sprintf(`terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = %q
    }
  }
}

variable "endpoint" {
  type = string
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = %q
  secret_key                  = %q
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {
    cloudfront              = var.endpoint
    cloudfrontkeyvaluestore = var.endpoint
    sts                     = var.endpoint
    iam                     = var.endpoint
  }
}
`, version, tfAccessKey, tfSecretKey)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs terraform with args (plus the module's -var flags for the
// commands that take them) and fails the test unless it exits with want.
// It returns the combined output.
func (tf *terraform) run(want int, args ...string) string {
	tf.t.Helper()
	switch args[0] {
	case "plan", "apply", "destroy":
		args = append(args, tf.vars...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), tfCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, tf.bin, args...)
	cmd.Dir = tf.dir
	cmd.Env = tf.env
	// Interrupted, terraform stops its provider and exits; killed, it
	// would leave the provider process behind.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	code := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		tf.t.Fatalf("terraform %s: %v\n%s", args[0], err, out)
	}
	tf.t.Logf("terraform %s: exit %d after %v", strings.Join(args[:min(len(args), 2)], " "), code, time.Since(start).Round(100*time.Millisecond))
	if code != want {
		tf.t.Fatalf("terraform %s exited %d, want %d:\n%s\n%s", strings.Join(args, " "), code, want, out, tf.apiCalls())
	}
	return string(out)
}

// apply applies the module with extra -var flags (which later commands
// keep).
func (tf *terraform) apply(vars ...string) {
	tf.t.Helper()
	for _, v := range vars {
		tf.vars = append(tf.vars, "-var", v)
	}
	tf.run(0, "apply", "-auto-approve", "-input=false", "-no-color")
}

// planClean runs terraform plan -detailed-exitcode and fails unless it
// finds nothing to change: every attribute sent came back as sent.
func (tf *terraform) planClean() {
	tf.t.Helper()
	tf.run(0, "plan", "-detailed-exitcode", "-input=false", "-no-color")
}

// apiCalls lists the CloudFront operations the provider called, with the
// HTTP statuses, from the debug log: for a failure's message.
func (tf *terraform) apiCalls() string {
	data, err := os.ReadFile(tf.logPath)
	if err != nil {
		return ""
	}
	var b strings.Builder
	b.WriteString("API calls (from TF_LOG):\n")
	// An entry starts with a timestamp at the start of a line; a response's
	// attributes may follow its body on later lines.
	for _, entry := range tfEntryRE.Split(string(data), -1) {
		if !strings.Contains(entry, "HTTP Response Received") {
			continue
		}
		op, status := tfOpRE.FindStringSubmatch(entry), tfStatusRE.FindStringSubmatch(entry)
		if op != nil && status != nil {
			fmt.Fprintf(&b, "  %s %s\n", op[1], status[1])
		}
	}
	return b.String()
}

var (
	tfEntryRE  = regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT`)
	tfOpRE     = regexp.MustCompile(`rpc\.method=(\w+)`)
	tfStatusRE = regexp.MustCompile(`http\.status_code=(\d+)`)
)

// terraformAuthConfig: openfront with credentials (not open mode), the
// key pair the provider block signs with.
const terraformAuthConfig = defaultConfig + `credentials:
  - access_key_id: ` + tfAccessKey + `
    secret_access_key: ` + tfSecretKey + `
`

func TestTerraformDistribution(t *testing.T) {
	// Parallel with the other terraform tests only (the rest of e2e is
	// serial): most of their time is the provider's fixed waits.
	t.Parallel()
	start := time.Now()
	s := startServer(t, options{config: terraformAuthConfig, args: []string{"--deploy-delay", "0s"}})
	tf := newTerraform(t, s.URL, terraformDistributionModule)
	c := s.client(tfAccessKey, tfSecretKey)

	tf.apply()
	id := tfOutputs(t, tf)["id"]
	got, err := c.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if st := aws.ToString(got.Distribution.Status); st != "Deployed" {
		t.Errorf("after apply: Status %q, want Deployed", st)
	}
	if got := aws.ToString(got.Distribution.DistributionConfig.Comment); got != "made by terraform" {
		t.Errorf("after apply: Comment %q", got)
	}
	tf.planClean()

	tf.apply("comment=changed by terraform", "default_ttl=60", `tags={env="prod",owner="web"}`)
	got, err = c.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := got.Distribution.DistributionConfig
	if aws.ToString(cfg.Comment) != "changed by terraform" || aws.ToInt64(cfg.DefaultCacheBehavior.DefaultTTL) != 60 {
		t.Errorf("after the update: Comment %q, DefaultTTL %d", aws.ToString(cfg.Comment), aws.ToInt64(cfg.DefaultCacheBehavior.DefaultTTL))
	}
	tags, err := c.ListTagsForResource(ctx(t), &cloudfront.ListTagsForResourceInput{Resource: got.Distribution.ARN})
	if err != nil {
		t.Fatal(err)
	}
	if got := tagMap(tags.Tags); !reflect.DeepEqual(got, map[string]string{"env": "prod", "owner": "web"}) {
		t.Errorf("after the update: tags %v", got)
	}
	tf.planClean()

	// Imported from the API alone (no config to hint), the state must
	// match the module too.
	tf.run(0, "state", "rm", "-no-color", "aws_cloudfront_distribution.site")
	tf.run(0, append(append([]string{"import", "-input=false", "-no-color"}, tf.vars...), "aws_cloudfront_distribution.site", id)...)
	tf.planClean()

	tf.run(0, "destroy", "-auto-approve", "-input=false", "-no-color")
	_, err = c.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: aws.String(id)})
	expectErr(t, err, "NoSuchDistribution", http.StatusNotFound)
	t.Logf("TestTerraformDistribution: %v in all", time.Since(start).Round(100*time.Millisecond))
}

func tagMap(tags *types.Tags) map[string]string {
	m := map[string]string{}
	if tags != nil {
		for _, tag := range tags.Items {
			m[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
		}
	}
	return m
}

// tfOutputs returns the module's outputs (strings) by name.
func tfOutputs(t *testing.T, tf *terraform) map[string]string {
	t.Helper()
	var outs map[string]struct {
		Value any `json:"value"`
	}
	if err := json.Unmarshal([]byte(tf.run(0, "output", "-json", "-no-color")), &outs); err != nil {
		t.Fatalf("terraform output -json: %v", err)
	}
	m := map[string]string{}
	for name, o := range outs {
		m[name] = fmt.Sprint(o.Value)
	}
	return m
}

// terraformDistributionModule is a distribution with most of what a real
// module sets: aliases with an ACM certificate, a custom origin with a
// header, an origin with Origin Shield, an origin group, legacy forwarded
// values with TTLs, a behavior with managed policies and function
// associations, error responses, logging, a geo restriction and tags.
const terraformDistributionModule = `
variable "comment" {
  type    = string
  default = "made by terraform"
}

variable "default_ttl" {
  type    = number
  default = 3600
}

variable "tags" {
  type    = map(string)
  default = { env = "test", team = "edge" }
}

# A distribution may associate only a published function.
resource "aws_cloudfront_function" "rewrite" {
  name    = "tf-dist-rewrite"
  runtime = "cloudfront-js-2.0"
  publish = true
  code    = "function handler(event) { return event.request; }"
}

resource "aws_cloudfront_distribution" "site" {
  enabled             = true
  is_ipv6_enabled     = true
  comment             = var.comment
  default_root_object = "index.html"
  aliases             = ["tf.example.test", "www.tf.example.test"]
  price_class         = "PriceClass_100"
  http_version        = "http2and3"
  wait_for_deployment = true

  logging_config {
    bucket          = "logs.s3.amazonaws.com"
    prefix          = "cf/"
    include_cookies = true
  }

  origin {
    domain_name = "origin.example.test"
    origin_id   = "web"
    origin_path = "/v1"
    custom_origin_config {
      http_port                = 80
      https_port               = 443
      origin_protocol_policy   = "http-only"
      origin_ssl_protocols     = ["TLSv1.2"]
      origin_keepalive_timeout = 10
      origin_read_timeout      = 45
    }
    custom_header {
      name  = "X-From"
      value = "terraform"
    }
  }

  origin {
    domain_name         = "bucket.s3.amazonaws.com"
    origin_id           = "s3"
    connection_attempts = 2
    connection_timeout  = 5
    origin_shield {
      enabled              = true
      origin_shield_region = "us-east-2"
    }
  }

  origin_group {
    origin_id = "failover"
    failover_criteria {
      status_codes = [500, 502, 503]
    }
    member {
      origin_id = "web"
    }
    member {
      origin_id = "s3"
    }
  }

  default_cache_behavior {
    target_origin_id       = "web"
    viewer_protocol_policy = "allow-all"
    allowed_methods        = ["GET", "HEAD", "OPTIONS"]
    cached_methods         = ["GET", "HEAD"]
    compress               = true
    min_ttl                = 0
    default_ttl            = var.default_ttl
    max_ttl                = 86400
    forwarded_values {
      query_string = true
      headers      = ["Origin"]
      cookies {
        forward = "none"
      }
    }
  }

  ordered_cache_behavior {
    path_pattern           = "/static/*"
    target_origin_id       = "failover"
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD"]
    cached_methods         = ["GET", "HEAD"]
    min_ttl                = 0
    default_ttl            = 86400
    max_ttl                = 31536000
    forwarded_values {
      query_string = false
      cookies {
        forward           = "whitelist"
        whitelisted_names = ["session"]
      }
    }
  }

  ordered_cache_behavior {
    path_pattern             = "/api/*"
    target_origin_id         = "web"
    viewer_protocol_policy   = "https-only"
    allowed_methods          = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]
    cached_methods           = ["GET", "HEAD", "OPTIONS"]
    cache_policy_id          = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad" # Managed-CachingDisabled
    origin_request_policy_id = "216adef6-5c7f-47e4-b989-5492eafa07d3" # Managed-AllViewer
    compress                 = true
    lambda_function_association {
      event_type   = "origin-request"
      lambda_arn   = "arn:aws:lambda:us-east-1:123456789012:function:auth:1"
      include_body = true
    }
    function_association {
      event_type   = "viewer-request"
      function_arn = aws_cloudfront_function.rewrite.arn
    }
  }

  custom_error_response {
    error_code            = 404
    response_code         = 404
    response_page_path    = "/404.html"
    error_caching_min_ttl = 10
  }

  custom_error_response {
    error_code            = 503
    error_caching_min_ttl = 0
  }

  restrictions {
    geo_restriction {
      restriction_type = "whitelist"
      locations        = ["US", "DE"]
    }
  }

  viewer_certificate {
    acm_certificate_arn      = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
    ssl_support_method       = "sni-only"
    minimum_protocol_version = "TLSv1.2_2021"
  }

  tags = var.tags
}

output "id" {
  value = aws_cloudfront_distribution.site.id
}
`

// policiesNotImplemented reports whether the server answers
// ListCachePolicies with 501 NotImplemented (the policy API not there yet).
func policiesNotImplemented(t *testing.T, c *cloudfront.Client) bool {
	t.Helper()
	_, err := c.ListCachePolicies(ctx(t), &cloudfront.ListCachePoliciesInput{})
	if err == nil {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NotImplemented" {
		return true
	}
	t.Fatalf("ListCachePolicies: %v", err)
	return false
}

func TestTerraformPoliciesAndOriginAccess(t *testing.T) {
	// Parallel with the other terraform tests only (the rest of e2e is
	// serial): most of their time is the provider's fixed waits.
	t.Parallel()
	start := time.Now()
	s := startServer(t, options{args: []string{"--deploy-delay", "0s"}})
	c := s.client("", "")
	if policiesNotImplemented(t, c) {
		t.Skip("SKIP: ListCachePolicies answers 501 NotImplemented: the policy API is not in this build")
	}
	tf := newTerraform(t, s.URL, terraformPoliciesModule)

	tf.apply()
	outs := tfOutputs(t, tf)
	cacheID := outs["cache_policy_id"]
	if got := outs["managed_cache_policy_id"]; got != "658327ea-f89d-4fab-a63d-7e88639e58f6" {
		t.Errorf("data.aws_cloudfront_cache_policy Managed-CachingOptimized: Id %q", got)
	}
	distID := outs["distribution_id"]
	orpID, rhpID := outs["origin_request_policy_id"], outs["response_headers_policy_id"]
	oacID, oaiID := outs["origin_access_control_id"], outs["origin_access_identity_id"]
	dist, err := c.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: aws.String(distID)})
	if err != nil {
		t.Fatal(err)
	}
	dcfg := dist.Distribution.DistributionConfig
	if b := dcfg.DefaultCacheBehavior; aws.ToString(b.CachePolicyId) != cacheID ||
		aws.ToString(b.OriginRequestPolicyId) != orpID || aws.ToString(b.ResponseHeadersPolicyId) != rhpID {
		t.Errorf("the distribution's default behavior names policies %s %s %s, want the module's %s %s %s",
			aws.ToString(b.CachePolicyId), aws.ToString(b.OriginRequestPolicyId), aws.ToString(b.ResponseHeadersPolicyId), cacheID, orpID, rhpID)
	}
	for _, o := range dcfg.Origins.Items {
		switch aws.ToString(o.Id) {
		case "s3":
			if got := aws.ToString(o.OriginAccessControlId); got != oacID {
				t.Errorf("origin s3: OriginAccessControlId %q, want %q", got, oacID)
			}
		case "legacy":
			if got := aws.ToString(o.S3OriginConfig.OriginAccessIdentity); got != "origin-access-identity/cloudfront/"+oaiID {
				t.Errorf("origin legacy: OriginAccessIdentity %q, want origin-access-identity/cloudfront/%s", got, oaiID)
			}
		}
	}
	tf.planClean()

	tf.apply("cache_default_ttl=120", "policy_comment=changed by terraform")
	cp, err := c.GetCachePolicy(ctx(t), &cloudfront.GetCachePolicyInput{Id: aws.String(cacheID)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg := cp.CachePolicy.CachePolicyConfig; aws.ToInt64(cfg.DefaultTTL) != 120 || aws.ToString(cfg.Comment) != "changed by terraform" {
		t.Errorf("after the update: DefaultTTL %d, Comment %q", aws.ToInt64(cfg.DefaultTTL), aws.ToString(cfg.Comment))
	}
	tf.planClean()

	tf.run(0, "destroy", "-auto-approve", "-input=false", "-no-color")
	_, err = c.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: aws.String(distID)})
	expectErr(t, err, "NoSuchDistribution", http.StatusNotFound)
	_, err = c.GetCachePolicy(ctx(t), &cloudfront.GetCachePolicyInput{Id: aws.String(cacheID)})
	expectErr(t, err, "NoSuchCachePolicy", http.StatusNotFound)
	_, err = c.GetOriginRequestPolicy(ctx(t), &cloudfront.GetOriginRequestPolicyInput{Id: aws.String(orpID)})
	expectErr(t, err, "NoSuchOriginRequestPolicy", http.StatusNotFound)
	_, err = c.GetResponseHeadersPolicy(ctx(t), &cloudfront.GetResponseHeadersPolicyInput{Id: aws.String(rhpID)})
	expectErr(t, err, "NoSuchResponseHeadersPolicy", http.StatusNotFound)
	_, err = c.GetOriginAccessControl(ctx(t), &cloudfront.GetOriginAccessControlInput{Id: aws.String(oacID)})
	expectErr(t, err, "NoSuchOriginAccessControl", http.StatusNotFound)
	_, err = c.GetCloudFrontOriginAccessIdentity(ctx(t), &cloudfront.GetCloudFrontOriginAccessIdentityInput{Id: aws.String(oaiID)})
	expectErr(t, err, "NoSuchCloudFrontOriginAccessIdentity", http.StatusNotFound)
	t.Logf("TestTerraformPoliciesAndOriginAccess: %v in all", time.Since(start).Round(100*time.Millisecond))
}

// terraformPoliciesModule: a managed cache policy found by name, a cache
// policy, an origin request policy, a response headers policy (CORS,
// security and custom headers), an origin access control and an origin
// access identity, and a distribution using them all.
const terraformPoliciesModule = `
variable "cache_default_ttl" {
  type    = number
  default = 3600
}

variable "policy_comment" {
  type    = string
  default = "made by terraform"
}

data "aws_cloudfront_cache_policy" "optimized" {
  name = "Managed-CachingOptimized"
}

resource "aws_cloudfront_cache_policy" "site" {
  name        = "tf-site-cache"
  comment     = var.policy_comment
  min_ttl     = 1
  default_ttl = var.cache_default_ttl
  max_ttl     = 86400
  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = true
    enable_accept_encoding_brotli = true
    headers_config {
      header_behavior = "whitelist"
      headers {
        items = ["Origin"]
      }
    }
    cookies_config {
      cookie_behavior = "none"
    }
    query_strings_config {
      query_string_behavior = "whitelist"
      query_strings {
        items = ["v", "lang"]
      }
    }
  }
}

resource "aws_cloudfront_origin_request_policy" "site" {
  name    = "tf-site-origin-request"
  comment = "forwards the language and every cookie"
  headers_config {
    header_behavior = "whitelist"
    headers {
      items = ["Accept-Language"]
    }
  }
  cookies_config {
    cookie_behavior = "all"
  }
  query_strings_config {
    query_string_behavior = "all"
  }
}

resource "aws_cloudfront_response_headers_policy" "site" {
  name    = "tf-site-headers"
  comment = "CORS, security and custom headers"
  cors_config {
    access_control_allow_credentials = false
    access_control_allow_headers {
      items = ["*"]
    }
    access_control_allow_methods {
      items = ["GET", "HEAD", "OPTIONS"]
    }
    access_control_allow_origins {
      items = ["https://app.example.test"]
    }
    access_control_expose_headers {
      items = ["X-Request-Id"]
    }
    access_control_max_age_sec = 600
    origin_override            = true
  }
  security_headers_config {
    content_type_options {
      override = true
    }
    frame_options {
      frame_option = "DENY"
      override     = true
    }
    referrer_policy {
      referrer_policy = "same-origin"
      override        = true
    }
    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
    xss_protection {
      mode_block = true
      protection = true
      override   = true
    }
    content_security_policy {
      content_security_policy = "default-src 'self'"
      override                = true
    }
  }
  custom_headers_config {
    items {
      header   = "X-Served-By"
      value    = "openfront"
      override = false
    }
  }
}

resource "aws_cloudfront_origin_access_control" "s3" {
  name                              = "tf-site-oac"
  description                       = "signs requests to the bucket"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_origin_access_identity" "legacy" {
  comment = "the legacy bucket"
}

resource "aws_cloudfront_distribution" "site" {
  enabled             = true
  comment             = "policies and origin access"
  wait_for_deployment = true

  origin {
    domain_name              = "site-bucket.s3.us-east-1.amazonaws.com"
    origin_id                = "s3"
    origin_access_control_id = aws_cloudfront_origin_access_control.s3.id
  }

  origin {
    domain_name = "legacy-bucket.s3.amazonaws.com"
    origin_id   = "legacy"
    s3_origin_config {
      origin_access_identity = aws_cloudfront_origin_access_identity.legacy.cloudfront_access_identity_path
    }
  }

  default_cache_behavior {
    target_origin_id           = "s3"
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    cache_policy_id            = aws_cloudfront_cache_policy.site.id
    origin_request_policy_id   = aws_cloudfront_origin_request_policy.site.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.site.id
  }

  ordered_cache_behavior {
    path_pattern           = "/assets/*"
    target_origin_id       = "legacy"
    viewer_protocol_policy = "allow-all"
    allowed_methods        = ["GET", "HEAD"]
    cached_methods         = ["GET", "HEAD"]
    cache_policy_id        = data.aws_cloudfront_cache_policy.optimized.id
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

output "cache_policy_id" {
  value = aws_cloudfront_cache_policy.site.id
}

output "managed_cache_policy_id" {
  value = data.aws_cloudfront_cache_policy.optimized.id
}

output "distribution_id" {
  value = aws_cloudfront_distribution.site.id
}

output "origin_request_policy_id" {
  value = aws_cloudfront_origin_request_policy.site.id
}

output "response_headers_policy_id" {
  value = aws_cloudfront_response_headers_policy.site.id
}

output "origin_access_control_id" {
  value = aws_cloudfront_origin_access_control.s3.id
}

output "origin_access_identity_id" {
  value = aws_cloudfront_origin_access_identity.legacy.id
}
`

// TestTerraformKeyGroups: aws_cloudfront_public_key, aws_cloudfront_key_group
// and a distribution whose default behavior trusts the group: apply, a
// clean plan, an update of the comments, a clean plan, destroy.
func TestTerraformKeyGroups(t *testing.T) {
	// Parallel with the other terraform tests only (the rest of e2e is
	// serial): most of their time is the provider's fixed waits.
	t.Parallel()
	s := startServer(t, options{args: []string{"--deploy-delay", "0s"}})
	c := s.client("", "")
	tf := newTerraform(t, s.URL, terraformKeyGroupsModule)
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(tf.dir, "key.pem"), publicKeyPEM(t, &k.PublicKey))

	tf.apply()
	outs := tfOutputs(t, tf)
	keyID, groupID, distID := outs["public_key_id"], outs["key_group_id"], outs["distribution_id"]
	d, err := c.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: aws.String(distID)})
	if err != nil {
		t.Fatal(err)
	}
	atkg := d.Distribution.ActiveTrustedKeyGroups
	if !aws.ToBool(atkg.Enabled) || len(atkg.Items) != 1 || aws.ToString(atkg.Items[0].KeyGroupId) != groupID ||
		!reflect.DeepEqual(atkg.Items[0].KeyPairIds.Items, []string{keyID}) {
		t.Errorf("ActiveTrustedKeyGroups %+v, want group %s with key %s", atkg, groupID, keyID)
	}
	tf.planClean()

	tf.apply("comment=changed by terraform")
	g, err := c.GetKeyGroup(ctx(t), &cloudfront.GetKeyGroupInput{Id: aws.String(groupID)})
	if err != nil || aws.ToString(g.KeyGroup.KeyGroupConfig.Comment) != "changed by terraform" {
		t.Fatalf("key group after the update: %v %+v", err, g)
	}
	pk, err := c.GetPublicKey(ctx(t), &cloudfront.GetPublicKeyInput{Id: aws.String(keyID)})
	if err != nil || aws.ToString(pk.PublicKey.PublicKeyConfig.Comment) != "changed by terraform" {
		t.Fatalf("public key after the update: %v %+v", err, pk)
	}
	tf.planClean()

	tf.run(0, "destroy", "-auto-approve", "-input=false", "-no-color")
	_, err = c.GetKeyGroup(ctx(t), &cloudfront.GetKeyGroupInput{Id: aws.String(groupID)})
	expectErr(t, err, "NoSuchResource", http.StatusNotFound)
	_, err = c.GetPublicKey(ctx(t), &cloudfront.GetPublicKeyInput{Id: aws.String(keyID)})
	expectErr(t, err, "NoSuchPublicKey", http.StatusNotFound)
}

const terraformKeyGroupsModule = `
variable "comment" {
  type    = string
  default = "made by terraform"
}

resource "aws_cloudfront_public_key" "signer" {
  name        = "tf-signer"
  comment     = var.comment
  encoded_key = file("${path.module}/key.pem")
}

resource "aws_cloudfront_key_group" "signers" {
  name    = "tf-signers"
  comment = var.comment
  items   = [aws_cloudfront_public_key.signer.id]
}

resource "aws_cloudfront_distribution" "private" {
  enabled             = true
  comment             = "signed URLs"
  wait_for_deployment = true

  origin {
    domain_name = "origin.example.com"
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
    trusted_key_groups     = [aws_cloudfront_key_group.signers.id]
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

output "public_key_id" {
  value = aws_cloudfront_public_key.signer.id
}

output "key_group_id" {
  value = aws_cloudfront_key_group.signers.id
}

output "distribution_id" {
  value = aws_cloudfront_distribution.private.id
}
`

// KeyValueStores through terraform: aws_cloudfront_key_value_store and
// two aws_cloudfrontkeyvaluestore_key (the data plane, SigV4A-signed by
// the provider, against a server that checks signatures), a clean plan,
// an update of the comment and of a value, a clean plan, destroy. The
// provider puts the store's account Id before the endpoint's host, so its
// data-plane requests reach openfront as their HTTP proxy.
func TestTerraformKeyValueStore(t *testing.T) {
	// Parallel with the other terraform tests only (the rest of e2e is
	// serial): most of their time is the provider's fixed waits.
	t.Parallel()
	start := time.Now()
	s := startServer(t, options{env: []string{"OPENFRONT_ACCESS_KEY_ID=" + tfAccessKey, "OPENFRONT_SECRET_ACCESS_KEY=" + tfSecretKey}})
	tf := newTerraform(t, s.URL, terraformKVSModule)
	tf.env = append(tf.env, "HTTP_PROXY="+s.URL)
	c := s.client(tfAccessKey, tfSecretKey)
	d := s.kvsClient(tfAccessKey, tfSecretKey)

	tf.apply()
	arn := tfOutputs(t, tf)["kvs_arn"]
	check := func(comment, greeting string) {
		t.Helper()
		st, err := c.DescribeKeyValueStore(ctx(t), &cloudfront.DescribeKeyValueStoreInput{Name: aws.String("tf-kvs")})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(st.KeyValueStore.ARN) != arn || aws.ToString(st.KeyValueStore.Comment) != comment {
			t.Errorf("store %+v, want ARN %s and comment %q", st.KeyValueStore, arn, comment)
		}
		for k, want := range map[string]string{"greeting": greeting, "other": "value"} {
			got, err := d.GetKey(ctx(t), &kvs.GetKeyInput{KvsARN: aws.String(arn), Key: aws.String(k)})
			if err != nil || aws.ToString(got.Value) != want {
				t.Errorf("key %s: %+v %v, want %q", k, got, err, want)
			}
		}
	}
	check("made by terraform", "hello")
	tf.planClean()

	tf.apply("kvs_comment=changed by terraform", "greeting=bonjour")
	check("changed by terraform", "bonjour")
	tf.planClean()

	tf.run(0, "destroy", "-auto-approve", "-input=false", "-no-color")
	_, err := c.DescribeKeyValueStore(ctx(t), &cloudfront.DescribeKeyValueStoreInput{Name: aws.String("tf-kvs")})
	expectErr(t, err, "EntityNotFound", http.StatusNotFound)
	t.Logf("TestTerraformKeyValueStore: %v in all", time.Since(start).Round(100*time.Millisecond))
}

const terraformKVSModule = `
variable "kvs_comment" {
  type    = string
  default = "made by terraform"
}

variable "greeting" {
  type    = string
  default = "hello"
}

resource "aws_cloudfront_key_value_store" "kvs" {
  name    = "tf-kvs"
  comment = var.kvs_comment
}

resource "aws_cloudfrontkeyvaluestore_key" "greeting" {
  key_value_store_arn = aws_cloudfront_key_value_store.kvs.arn
  key                 = "greeting"
  value               = var.greeting
}

resource "aws_cloudfrontkeyvaluestore_key" "other" {
  key_value_store_arn = aws_cloudfront_key_value_store.kvs.arn
  key                 = "other"
  value               = "value"
}

output "kvs_arn" {
  value = aws_cloudfront_key_value_store.kvs.arn
}
`
