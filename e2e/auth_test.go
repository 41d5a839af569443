package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
)

const authConfig = defaultConfig + `credentials:
  - access_key_id: AKIDLIMITED
    secret_access_key: limited-secret
    distributions: [E2OTHERDIST000]
`

func TestAuthentication(t *testing.T) {
	s := startServer(t, options{
		config: authConfig,
		env:    []string{"OPENFRONT_ACCESS_KEY_ID=AKIDADMIN", "OPENFRONT_SECRET_ACCESS_KEY=admin-secret"},
	})
	if !s.logged("authentication on") {
		t.Errorf("start-up does not say authentication is on:\n%s", s.stderr)
	}
	admin := s.client("AKIDADMIN", "admin-secret")
	if _, err := create(t, admin, distID, batch("a1", "/a")); err != nil {
		t.Fatalf("valid signature refused: %v", err)
	}
	_, err := create(t, s.client("AKIDADMIN", "wrong-secret"), distID, batch("a2", "/a"))
	expectErr(t, err, "SignatureDoesNotMatch", 403)
	_, err = create(t, s.client("AKIDUNKNOWN", "admin-secret"), distID, batch("a3", "/a"))
	expectErr(t, err, "InvalidClientTokenId", 403)
	_, err = admin.ListInvalidations(ctx(t), &cloudfront.ListInvalidationsInput{DistributionId: aws.String(distID)})
	if err != nil {
		t.Fatalf("list: %v", err)
	}

	// A key limited to one distribution.
	limited := s.client("AKIDLIMITED", "limited-secret")
	if _, err := create(t, limited, "E2OTHERDIST000", batch("l1", "/a")); err != nil {
		t.Fatalf("limited key on its distribution: %v", err)
	}
	_, err = create(t, limited, distID, batch("l2", "/a"))
	if msg := expectErr(t, err, "AccessDenied", 403); !strings.Contains(msg, "cloudfront:CreateInvalidation") || !strings.Contains(msg, "distribution/"+distID) {
		t.Errorf("message %q", msg)
	}
	_, err = limited.GetInvalidation(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(distID), Id: aws.String("IX")})
	expectErr(t, err, "AccessDenied", 403)
	_, err = limited.ListInvalidations(ctx(t), &cloudfront.ListInvalidationsInput{DistributionId: aws.String(distID)})
	expectErr(t, err, "AccessDenied", 403)

	// No signature at all.
	r := rawRequest(t, s, "GET", invPath, "")
	if r.status != 403 || r.code != "MissingAuthenticationToken" {
		t.Errorf("unsigned: %d %s", r.status, r.code)
	}

	// Signed with a clock 16 minutes off, either way.
	for _, skew := range []time.Duration{-16 * time.Minute, 16 * time.Minute} {
		status, body := signedRaw(t, s, "AKIDADMIN", "admin-secret", "us-east-1", time.Now().Add(skew))
		if status != 403 || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") ||
			!(strings.Contains(body, "Signature expired") || strings.Contains(body, "Signature not yet current")) {
			t.Errorf("skew %v: %d %s", skew, status, body)
		}
	}
	// 10 minutes off is within AWS's tolerance.
	if status, body := signedRaw(t, s, "AKIDADMIN", "admin-secret", "us-east-1", time.Now().Add(-10*time.Minute)); status != 200 {
		t.Errorf("10 minutes skew: %d %s", status, body)
	}
	// SDKs configured with another region sign with it; accepted.
	if status, body := signedRaw(t, s, "AKIDADMIN", "admin-secret", "eu-west-1", time.Now()); status != 200 {
		t.Errorf("eu-west-1 scope: %d %s", status, body)
	}
}

// signedRaw signs a ListInvalidations request with the SDK's signer at a
// chosen time and sends it.
func signedRaw(t *testing.T, s *server, keyID, secret, region string, at time.Time) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL+invPath+"?MaxItems=5", nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(nil)
	err = v4.NewSigner().SignHTTP(ctx(t), aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}, req, hex.EncodeToString(sum[:]), "cloudfront", region, at)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestOpenModeIsLoud(t *testing.T) {
	s := startServer(t, options{})
	if !s.logged("OPEN MODE") {
		t.Errorf("open mode not announced:\n%s", s.stderr)
	}
	// Any keys work.
	if _, err := create(t, s.client("whatever", "anything"), distID, batch("o", "/a")); err != nil {
		t.Fatal(err)
	}
}
