package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"

	"github.com/openfront/openfront/internal/sigv4"
	"github.com/openfront/openfront/internal/testutil"
	"github.com/openfront/openfront/internal/testutil/moto"
)

// oacSetup creates, through s's API, an origin access control with
// behavior and a distribution whose S3 origin (the bucket's domain, with
// origin path /static) has it, and returns the distribution's domain
// and the control's Id and ETag. It skips the test while the API answers
// CreateOriginAccessControl with 501.
func oacSetup(t *testing.T, s *server, behavior types.OriginAccessControlSigningBehaviors) (domain, oacID, etag string) {
	t.Helper()
	c := s.client("", "")
	out, err := c.CreateOriginAccessControl(ctx(t), &cloudfront.CreateOriginAccessControlInput{
		OriginAccessControlConfig: &types.OriginAccessControlConfig{
			Name:                          aws.String("private-media"),
			SigningProtocol:               types.OriginAccessControlSigningProtocolsSigv4,
			SigningBehavior:               behavior,
			OriginAccessControlOriginType: types.OriginAccessControlOriginTypesS3,
		}})
	if err != nil {
		if _, status, _ := apiErr(t, err); status == http.StatusNotImplemented {
			t.Skipf("CreateOriginAccessControl answers 501: the origin access control API is not built yet (%v)", err)
		}
		t.Fatalf("CreateOriginAccessControl: %v", err)
	}
	origin := types.Origin{
		Id:                    aws.String("s3"),
		DomainName:            aws.String("private-media.s3.us-east-1.amazonaws.com"),
		OriginPath:            aws.String("/static"),
		S3OriginConfig:        &types.S3OriginConfig{OriginAccessIdentity: aws.String("")},
		OriginAccessControlId: out.OriginAccessControl.Id,
	}
	d := createEdgeDist(t, c, edgeConfig("oac-"+string(behavior), legacyBehavior("s3", false), origin))
	return d.domain, *out.OriginAccessControl.Id, *out.ETag
}

// The edges of `openfront serve` sign their requests to an S3 origin
// with an origin access control, and moto's S3 (authentication enforced,
// a real SigV4 check) serves the private object only to the right
// secret.
func TestOACSignsS3Origin(t *testing.T) {
	m := moto.Start(t)
	creds := m.CreateUser(t, "cloudfront-edge")
	m.CreateBucket(t, "private-media")
	m.PutObject(t, "private-media", "static/hello.txt", "text/plain", []byte("private hello"))
	m.PutObject(t, "private-media", "static/later.txt", "text/plain", []byte("later"))
	m.EnforceAuth(t)

	serveWith := func(c sigv4.Credentials) *server {
		// The origin credentials from the standard AWS variables.
		return startServer(t, options{args: []string{"--memory", "--s3-endpoint", m.URL},
			env: []string{"AWS_ACCESS_KEY_ID=" + c.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey}})
	}

	t.Run("right secret, then never", func(t *testing.T) {
		s := serveWith(creds)
		domain, id, etag := oacSetup(t, s, types.OriginAccessControlSigningBehaviorsAlways)
		v := newEdgeViewer(t, s)
		v.expect(domain, "/hello.txt", http.StatusOK, "private hello", edgeMiss)
		v.expect(domain, "/hello.txt", http.StatusOK, "private hello", edgeHit)
		if strings.Contains(s.stderr.String(), creds.SecretAccessKey) {
			t.Error("the origin secret is in the server's log")
		}
		_, err := s.client("", "").UpdateOriginAccessControl(ctx(t), &cloudfront.UpdateOriginAccessControlInput{
			Id: aws.String(id), IfMatch: aws.String(etag),
			OriginAccessControlConfig: &types.OriginAccessControlConfig{
				Name:                          aws.String("private-media"),
				SigningProtocol:               types.OriginAccessControlSigningProtocolsSigv4,
				SigningBehavior:               types.OriginAccessControlSigningBehaviorsNever,
				OriginAccessControlOriginType: types.OriginAccessControlOriginTypesS3,
			}})
		if err != nil {
			t.Fatalf("UpdateOriginAccessControl: %v", err)
		}
		// The change reaches the edge through the fleet's log.
		waitEdgesApplied(t, s)
		// Not cached yet: fetched unsigned, refused by S3.
		if r := v.get(domain, "/later.txt"); r.status != http.StatusForbidden || r.body == "later" {
			t.Errorf("never: %d %q; want S3's 403", r.status, r.body)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		s := serveWith(sigv4.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: "not-" + creds.SecretAccessKey})
		domain, _, _ := oacSetup(t, s, types.OriginAccessControlSigningBehaviorsAlways)
		r := newEdgeViewer(t, s).get(domain, "/hello.txt")
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "<Code>SignatureDoesNotMatch</Code>") {
			t.Errorf("wrong secret: %d %q; want S3's 403 SignatureDoesNotMatch", r.status, r.body)
		}
	})
}

// --s3-endpoint sends requests to S3 bucket origins to an S3-compatible
// server, path-style: a distribution of the configuration file whose
// origin is a bucket's domain gets moto's public object, and moto's 403
// for a private one (no origin access control: unsigned).
func TestS3EndpointMapsBucketOrigins(t *testing.T) {
	m := moto.Start(t)
	m.CreateBucket(t, "media-bucket")
	m.PutPublicObject(t, "media-bucket", "static/public.txt", "text/plain", []byte("public"))
	m.PutObject(t, "media-bucket", "static/private.txt", "text/plain", []byte("private"))
	s := startServer(t, options{
		config: "distributions:\n  - id: ES3FILEDIST001\n    origin: https://media-bucket.s3.eu-west-1.amazonaws.com/static\n    aliases: [media.test]\n",
		args:   []string{"--memory", "--s3-endpoint", m.URL},
	})
	v := newEdgeViewer(t, s)
	v.expect("media.test", "/public.txt", http.StatusOK, "public", edgeMiss)
	if r := v.get("media.test", "/private.txt"); r.status != http.StatusForbidden || r.body == "private" {
		t.Errorf("private object unsigned: %d %q; want moto's 403", r.status, r.body)
	}
}

// waitEdgesApplied waits until every edge of s's fleet has applied
// everything logged so far (the admin view's positions).
func waitEdgesApplied(t *testing.T, s *server) {
	t.Helper()
	fp := &fleetProc{URL: s.URL}
	head := fleetOf(t, fp).Head
	testutil.Eventually(t, 30*time.Second, func() bool {
		for _, e := range fleetOf(t, fp).Edges {
			if e.Applied < head {
				return false
			}
		}
		return true
	}, "the edges to apply the fleet's log")
}
