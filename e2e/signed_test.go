package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/cloudfront/sign"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// Signed URLs and cookies (issue 17) through the binary: public keys and
// a key group made with aws-sdk-go-v2, a distribution whose default
// behavior trusts the group, an origin that echoes the request target,
// and URLs and cookies signed by the clients AWS ships: aws-sdk-go-v2's
// feature/cloudfront/sign, botocore's CloudFrontSigner and `aws
// cloudfront sign` (each skipped, saying why, when absent).

func publicKeyPEM(t *testing.T, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func createPublicKey(t *testing.T, c *cloudfront.Client, name, pemKey string) (id, etag string, err error) {
	t.Helper()
	out, err := c.CreatePublicKey(ctx(t), &cloudfront.CreatePublicKeyInput{PublicKeyConfig: &types.PublicKeyConfig{
		Name: aws.String(name), CallerReference: aws.String(name + "-ref"), EncodedKey: aws.String(pemKey), Comment: aws.String("e2e")}})
	if err != nil {
		return "", "", err
	}
	return aws.ToString(out.PublicKey.Id), aws.ToString(out.ETag), nil
}

// signedSetup is a running server with a distribution whose default
// behavior trusts a key group of an RSA and an ECDSA key.
type signedSetup struct {
	s           *server
	c           *cloudfront.Client
	v           *edgeViewer
	host        string
	distID      string
	rsaKey      *rsa.PrivateKey
	ecKey       *ecdsa.PrivateKey
	rsaID, ecID string
	groupID     string
	groupETag   string
	rsaKeyETag  string
	openPrefix  string // a behavior that is not restricted
}

func newSignedSetup(t *testing.T) *signedSetup {
	t.Helper()
	origin := newTestOrigin(t)
	echoOrigin(origin)
	st := &signedSetup{s: startServer(t, options{args: []string{"--deploy-delay", "0s"}})}
	st.c = st.s.client("", "")
	st.v = newEdgeViewer(t, st.s)
	var err error
	if st.rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if st.ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if st.rsaID, st.rsaKeyETag, err = createPublicKey(t, st.c, "e2e-rsa", publicKeyPEM(t, &st.rsaKey.PublicKey)); err != nil {
		t.Fatal(err)
	}
	if st.ecID, _, err = createPublicKey(t, st.c, "e2e-ecdsa", publicKeyPEM(t, &st.ecKey.PublicKey)); err != nil {
		t.Fatal(err)
	}
	kg, err := st.c.CreateKeyGroup(ctx(t), &cloudfront.CreateKeyGroupInput{KeyGroupConfig: &types.KeyGroupConfig{
		Name: aws.String("e2e-group"), Items: []string{st.rsaID, st.ecID}}})
	if err != nil {
		t.Fatal(err)
	}
	st.groupID, st.groupETag = aws.ToString(kg.KeyGroup.Id), aws.ToString(kg.ETag)

	def := legacyBehavior("web", true)
	def.TrustedKeyGroups = &types.TrustedKeyGroups{Enabled: aws.Bool(true), Quantity: aws.Int32(1), Items: []string{st.groupID}}
	cfg := edgeConfig("signed-e2e", def, origin.origin("web"))
	open := pathBehavior("/open/*", "web", true, types.MethodGet, types.MethodHead)
	cfg.CacheBehaviors = &types.CacheBehaviors{Quantity: aws.Int32(1), Items: []types.CacheBehavior{open}}
	out, err := createDist(t, st.c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	st.distID, st.host = aws.ToString(out.Distribution.Id), aws.ToString(out.Distribution.DomainName)
	waitDeployed(t, st.c, st.distID)
	return st
}

func (st *signedSetup) url(path string) string { return "http://" + st.host + path }

// target is a signed URL's path and query, what the viewer sends.
func target(t *testing.T, signed string) string {
	t.Helper()
	u, err := url.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

// expectSigned checks the edge serves uri (signed) with the origin seeing
// want: the URL without the signing parameters.
func (st *signedSetup) expectServed(t *testing.T, uri, want string, hdr ...string) {
	t.Helper()
	r := st.v.get(st.host, uri, hdr...)
	if r.status != http.StatusOK || r.body != "GET "+want {
		t.Fatalf("GET %s = %d %q, want 200 %q", uri, r.status, r.body, "GET "+want)
	}
}

// expectDenied checks the edge answers CloudFront's 403 XML with code.
func (st *signedSetup) expectDenied(t *testing.T, uri, code, message string, hdr ...string) {
	t.Helper()
	r := st.v.get(st.host, uri, hdr...)
	want := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + code + `</Code><Message>` + message + `</Message></Error>`
	if r.status != http.StatusForbidden || r.body != want || r.header.Get("Content-Type") != "text/xml" ||
		r.header.Get("Server") != "CloudFront" || r.xcache() != "Error from cloudfront" || r.header.Get("X-Amz-Cf-Id") == "" {
		t.Fatalf("GET %s = %d %v %q, want 403 %q", uri, r.status, r.header, r.body, want)
	}
}

func TestSignedURLsSDKGo(t *testing.T) {
	st := newSignedSetup(t)
	st.expectDenied(t, "/private/a.txt", "MissingKey", "Missing Key-Pair-Id query parameter or cookie value")
	st.expectServed(t, "/open/a.txt?x=1", "/open/a.txt?x=1")

	rsaSigner := sign.NewURLSigner(st.rsaID, st.rsaKey)
	ecSigner := sign.NewURLSigner(st.ecID, st.ecKey)
	exp := time.Now().Add(time.Hour)

	canned, err := rsaSigner.Sign(st.url("/private/a.txt?size=large"), exp)
	if err != nil {
		t.Fatal(err)
	}
	st.expectServed(t, target(t, canned), "/private/a.txt?size=large")
	// The signing parameters are not in the cache key: another signature
	// of the same URL is a hit.
	again, _ := rsaSigner.Sign(st.url("/private/a.txt?size=large"), exp.Add(time.Minute))
	if r := st.v.get(st.host, target(t, again)); r.status != 200 || r.xcache() != "Hit from cloudfront" {
		t.Fatalf("second signature: %d %q", r.status, r.xcache())
	}

	ecURL, err := ecSigner.Sign(st.url("/private/ec.txt"), exp)
	if err != nil {
		t.Fatal(err)
	}
	st.expectServed(t, target(t, ecURL), "/private/ec.txt")

	// A custom policy with a wildcard signs a whole directory.
	pol := &sign.Policy{Statements: []sign.Statement{{Resource: st.url("/private/dir/*"),
		Condition: sign.Condition{DateLessThan: sign.NewAWSEpochTime(exp), IPAddress: &sign.IPAddress{SourceIP: "127.0.0.1/32"}}}}}
	custom, err := rsaSigner.SignWithPolicy(st.url("/private/dir/x/y.txt"), pol)
	if err != nil {
		t.Fatal(err)
	}
	st.expectServed(t, target(t, custom), "/private/dir/x/y.txt")
	q := target(t, custom)[len("/private/dir/x/y.txt"):]
	st.expectServed(t, "/private/dir/other.txt"+q, "/private/dir/other.txt")
	st.expectDenied(t, "/private/elsewhere.txt"+q, "AccessDenied", "Access denied")
	// From another address than the policy's.
	far := &sign.Policy{Statements: []sign.Statement{{Resource: st.url("/private/*"),
		Condition: sign.Condition{DateLessThan: sign.NewAWSEpochTime(exp), IPAddress: &sign.IPAddress{SourceIP: "192.0.2.0/24"}}}}}
	farURL, _ := rsaSigner.SignWithPolicy(st.url("/private/b.txt"), far)
	st.expectDenied(t, target(t, farURL), "AccessDenied", "Access denied")
	// Not yet valid.
	later := &sign.Policy{Statements: []sign.Statement{{Resource: st.url("/private/*"),
		Condition: sign.Condition{DateLessThan: sign.NewAWSEpochTime(exp), DateGreaterThan: sign.NewAWSEpochTime(time.Now().Add(30 * time.Minute))}}}}
	laterURL, _ := rsaSigner.SignWithPolicy(st.url("/private/b.txt"), later)
	st.expectDenied(t, target(t, laterURL), "AccessDenied", "Access denied")

	expired, _ := rsaSigner.Sign(st.url("/private/a.txt"), time.Now().Add(-time.Minute))
	st.expectDenied(t, target(t, expired), "AccessDenied", "Access denied")
	tampered := strings.Replace(target(t, canned), "size=large", "size=small", 1)
	st.expectDenied(t, tampered, "AccessDenied", "Access denied")
	unknown := strings.Replace(target(t, canned), "Key-Pair-Id="+st.rsaID, "Key-Pair-Id=KUNKNOWN0000000", 1)
	st.expectDenied(t, unknown, "InvalidKey", "Unknown Key")
	badSig := strings.Replace(target(t, canned), "Signature=", "Signature=%21%21", 1)
	st.expectDenied(t, badSig, "MalformedSignature", "Could not unencode Signature")

	// Signed cookies.
	cs := sign.NewCookieSigner(st.rsaID, st.rsaKey)
	cookies, err := cs.Sign(st.url("/private/c/*"), exp)
	if err != nil {
		t.Fatal(err)
	}
	var jar []string
	for _, c := range cookies {
		jar = append(jar, c.Name+"="+c.Value)
	}
	st.expectServed(t, "/private/c/1.txt?k=v", "/private/c/1.txt?k=v", "Cookie", strings.Join(jar, "; "))
	st.expectDenied(t, "/private/d/1.txt", "AccessDenied", "Access denied", "Cookie", strings.Join(jar, "; "))
	old, _ := cs.Sign(st.url("/private/c/*"), time.Now().Add(-time.Minute))
	jar = jar[:0]
	for _, c := range old {
		jar = append(jar, c.Name+"="+c.Value)
	}
	st.expectDenied(t, "/private/c/1.txt", "AccessDenied", "Access denied", "Cookie", strings.Join(jar, "; "))

	// GetDistribution shows the trusted group and its keys.
	d, err := st.c.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: aws.String(st.distID)})
	if err != nil {
		t.Fatal(err)
	}
	atkg := d.Distribution.ActiveTrustedKeyGroups
	if !aws.ToBool(atkg.Enabled) || aws.ToInt32(atkg.Quantity) != 1 || aws.ToString(atkg.Items[0].KeyGroupId) != st.groupID ||
		!slices.Equal(atkg.Items[0].KeyPairIds.Items, []string{st.rsaID, st.ecID}) {
		t.Errorf("ActiveTrustedKeyGroups: %+v", atkg)
	}
	if aws.ToBool(d.Distribution.ActiveTrustedSigners.Enabled) {
		t.Errorf("ActiveTrustedSigners enabled without TrustedSigners")
	}

	// Taking the ECDSA key out of the group refuses its signatures.
	if _, err := st.c.UpdateKeyGroup(ctx(t), &cloudfront.UpdateKeyGroupInput{Id: aws.String(st.groupID), IfMatch: aws.String(st.groupETag),
		KeyGroupConfig: &types.KeyGroupConfig{Name: aws.String("e2e-group"), Items: []string{st.rsaID}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return st.v.get(st.host, target(t, ecURL)).status == http.StatusForbidden })
	st.expectDenied(t, target(t, ecURL), "InvalidKey", "Unknown Key")
}

// eventually polls cond until it holds or a deadline passes.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSignedURLsBotocore signs with botocore's CloudFrontSigner (and the
// cryptography package), as a Python application would.
func TestSignedURLsBotocore(t *testing.T) {
	if err := exec.Command("python3", "-c", "import botocore.signers, cryptography").Run(); err != nil {
		t.Skip("SKIP: python3 lacks botocore or cryptography")
	}
	st := newSignedSetup(t)
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	der, _ := x509.MarshalPKCS8PrivateKey(st.rsaKey)
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	const script = `
import sys, datetime
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
key = serialization.load_pem_private_key(open(sys.argv[1], 'rb').read(), password=None)
signer = CloudFrontSigner(sys.argv[2], lambda m: key.sign(m, padding.PKCS1v15(), hashes.SHA1()))
base = sys.argv[3]
soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
past = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)
print(signer.generate_presigned_url(base + '/private/py.txt?a=1', date_less_than=soon))
pol = signer.build_policy(base + '/private/py/*', soon, ip_address='127.0.0.1')
print(signer.generate_presigned_url(base + '/private/py/deep/x.txt', policy=pol))
print(signer.generate_presigned_url(base + '/private/py.txt', date_less_than=past))
`
	out, err := exec.Command("python3", "-c", script, keyFile, st.rsaID, "http://"+st.host).Output()
	if err != nil {
		t.Fatalf("botocore: %v", err)
	}
	urls := strings.Fields(string(out))
	if len(urls) != 3 {
		t.Fatalf("botocore printed %q", out)
	}
	st.expectServed(t, target(t, urls[0]), "/private/py.txt?a=1")
	st.expectServed(t, target(t, urls[1]), "/private/py/deep/x.txt")
	st.expectDenied(t, target(t, urls[2]), "AccessDenied", "Access denied")
	st.expectDenied(t, strings.Replace(target(t, urls[0]), "a=1", "a=2", 1), "AccessDenied", "Access denied")
}

// TestSignedURLsAWSCLI signs with `aws cloudfront sign`.
func TestSignedURLsAWSCLI(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("SKIP: the AWS CLI (aws) is not installed")
	}
	st := newSignedSetup(t)
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(st.rsaKey)}), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := func(path string, extra ...string) string {
		t.Helper()
		args := append([]string{"cloudfront", "sign", "--url", st.url(path), "--key-pair-id", st.rsaID,
			"--private-key", "file://" + keyFile}, extra...)
		cmd := exec.Command("aws", args...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x", "AWS_DEFAULT_REGION=us-east-1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("aws cloudfront sign: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	soon := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05")
	past := time.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04:05")
	st.expectServed(t, target(t, cli("/private/cli.txt", "--date-less-than", soon)), "/private/cli.txt")
	st.expectServed(t, target(t, cli("/private/cli2.txt", "--date-less-than", soon, "--ip-address", "127.0.0.1/32")), "/private/cli2.txt")
	st.expectDenied(t, target(t, cli("/private/cli3.txt", "--date-less-than", soon, "--ip-address", "192.0.2.0/24")), "AccessDenied", "Access denied")
	st.expectDenied(t, target(t, cli("/private/cli4.txt", "--date-less-than", past)), "AccessDenied", "Access denied")
}

// TestKeyGroupAPI: the public key and key group operations through
// aws-sdk-go-v2, with each of CloudFront's errors by code and status.
func TestKeyGroupAPI(t *testing.T) {
	s := startServer(t, options{args: []string{"--deploy-delay", "0s"}})
	c := s.client("", "")
	keyPEM := func() string {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return publicKeyPEM(t, &k.PublicKey)
	}
	_, _, err := createPublicKey(t, c, "bad", "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")
	expectErr(t, err, "InvalidArgument", 400)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, _, err = createPublicKey(t, c, "small", publicKeyPEM(t, &small.PublicKey))
	expectErr(t, err, "InvalidArgument", 400)

	pem1 := keyPEM()
	k1, k1Tag, err := createPublicKey(t, c, "k1", pem1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k1, "K") || len(k1) != 14 {
		t.Errorf("public key Id %q", k1)
	}
	_, _, err = createPublicKey(t, c, "k1", keyPEM())
	expectErr(t, err, "PublicKeyAlreadyExists", 409)

	got, err := c.GetPublicKey(ctx(t), &cloudfront.GetPublicKeyInput{Id: aws.String(k1)})
	if err != nil || aws.ToString(got.ETag) != k1Tag || aws.ToString(got.PublicKey.PublicKeyConfig.EncodedKey) != pem1 || got.PublicKey.CreatedTime == nil {
		t.Fatalf("GetPublicKey: %v %+v", err, got)
	}
	created := *got.PublicKey.CreatedTime
	// Only the comment may change.
	_, err = c.UpdatePublicKey(ctx(t), &cloudfront.UpdatePublicKeyInput{Id: aws.String(k1), IfMatch: aws.String(k1Tag),
		PublicKeyConfig: &types.PublicKeyConfig{Name: aws.String("k1"), CallerReference: aws.String("k1-ref"), EncodedKey: aws.String(keyPEM())}})
	expectErr(t, err, "CannotChangeImmutablePublicKeyFields", 400)
	up, err := c.UpdatePublicKey(ctx(t), &cloudfront.UpdatePublicKeyInput{Id: aws.String(k1), IfMatch: aws.String(k1Tag),
		PublicKeyConfig: &types.PublicKeyConfig{Name: aws.String("k1"), CallerReference: aws.String("k1-ref"), EncodedKey: aws.String(pem1), Comment: aws.String("new")}})
	if err != nil || aws.ToString(up.ETag) == k1Tag || !up.PublicKey.CreatedTime.Equal(created) || aws.ToString(up.PublicKey.PublicKeyConfig.Comment) != "new" {
		t.Fatalf("UpdatePublicKey: %v %+v", err, up)
	}
	k1Tag = aws.ToString(up.ETag)
	_, err = c.UpdatePublicKey(ctx(t), &cloudfront.UpdatePublicKeyInput{Id: aws.String(k1), IfMatch: aws.String("stale"),
		PublicKeyConfig: &types.PublicKeyConfig{Name: aws.String("k1"), CallerReference: aws.String("k1-ref"), EncodedKey: aws.String(pem1)}})
	expectErr(t, err, "PreconditionFailed", 412)
	_, err = c.GetPublicKey(ctx(t), &cloudfront.GetPublicKeyInput{Id: aws.String("KNOSUCHKEY0000")})
	expectErr(t, err, "NoSuchPublicKey", 404)

	// Key groups.
	_, err = c.CreateKeyGroup(ctx(t), &cloudfront.CreateKeyGroupInput{KeyGroupConfig: &types.KeyGroupConfig{Name: aws.String("g"), Items: []string{"KNOSUCHKEY0000"}}})
	expectErr(t, err, "InvalidArgument", 400)
	var six []string
	for i := range 5 {
		id, _, err := createPublicKey(t, c, "more-"+string(rune('a'+i)), keyPEM())
		if err != nil {
			t.Fatal(err)
		}
		six = append(six, id)
	}
	six = append(six, k1)
	_, err = c.CreateKeyGroup(ctx(t), &cloudfront.CreateKeyGroupInput{KeyGroupConfig: &types.KeyGroupConfig{Name: aws.String("g"), Items: six}})
	expectErr(t, err, "TooManyPublicKeysInKeyGroup", 400)
	kg, err := c.CreateKeyGroup(ctx(t), &cloudfront.CreateKeyGroupInput{KeyGroupConfig: &types.KeyGroupConfig{Name: aws.String("g"), Items: []string{k1}, Comment: aws.String("c")}})
	if err != nil {
		t.Fatal(err)
	}
	gid, gTag := aws.ToString(kg.KeyGroup.Id), aws.ToString(kg.ETag)
	_, err = c.CreateKeyGroup(ctx(t), &cloudfront.CreateKeyGroupInput{KeyGroupConfig: &types.KeyGroupConfig{Name: aws.String("g"), Items: []string{k1}}})
	expectErr(t, err, "KeyGroupAlreadyExists", 409)
	_, err = c.GetKeyGroup(ctx(t), &cloudfront.GetKeyGroupInput{Id: aws.String("no-such-group")})
	expectErr(t, err, "NoSuchResource", 404)
	cfgOut, err := c.GetKeyGroupConfig(ctx(t), &cloudfront.GetKeyGroupConfigInput{Id: aws.String(gid)})
	if err != nil || aws.ToString(cfgOut.ETag) != gTag || !slices.Equal(cfgOut.KeyGroupConfig.Items, []string{k1}) {
		t.Fatalf("GetKeyGroupConfig: %v %+v", err, cfgOut)
	}
	lk, err := c.ListKeyGroups(ctx(t), &cloudfront.ListKeyGroupsInput{})
	if err != nil || aws.ToInt32(lk.KeyGroupList.Quantity) != 1 || aws.ToString(lk.KeyGroupList.Items[0].KeyGroup.Id) != gid {
		t.Fatalf("ListKeyGroups: %v %+v", err, lk)
	}
	lp, err := c.ListPublicKeys(ctx(t), &cloudfront.ListPublicKeysInput{MaxItems: aws.Int32(2)})
	if err != nil || aws.ToInt32(lp.PublicKeyList.Quantity) != 2 || lp.PublicKeyList.NextMarker == nil {
		t.Fatalf("ListPublicKeys: %v %+v", err, lp)
	}

	// A key in a group, a group a distribution trusts: in use.
	_, err = c.DeletePublicKey(ctx(t), &cloudfront.DeletePublicKeyInput{Id: aws.String(k1), IfMatch: aws.String(k1Tag)})
	expectErr(t, err, "PublicKeyInUse", 409)
	def := legacyBehavior("web", false)
	def.TrustedKeyGroups = &types.TrustedKeyGroups{Enabled: aws.Bool(true), Quantity: aws.Int32(1), Items: []string{"no-such-group"}}
	cfg := edgeConfig("kg-api", def, types.Origin{Id: aws.String("web"), DomainName: aws.String("example.com"),
		CustomOriginConfig: &types.CustomOriginConfig{HTTPPort: aws.Int32(80), HTTPSPort: aws.Int32(443), OriginProtocolPolicy: types.OriginProtocolPolicyHttpOnly}})
	_, err = createDist(t, c, cfg)
	expectErr(t, err, "TrustedKeyGroupDoesNotExist", 400)
	def.TrustedKeyGroups.Items = []string{gid}
	d, err := createDist(t, c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteKeyGroup(ctx(t), &cloudfront.DeleteKeyGroupInput{Id: aws.String(gid), IfMatch: aws.String(gTag)})
	expectErr(t, err, "ResourceInUse", 409)
	gd, err := c.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: d.Distribution.Id})
	if err != nil || !aws.ToBool(gd.Distribution.ActiveTrustedKeyGroups.Enabled) {
		t.Fatalf("GetDistribution: %v", err)
	}

	// Quotas: 10 public keys.
	for i := 6; i < 10; i++ {
		if _, _, err := createPublicKey(t, c, "fill-"+string(rune('a'+i)), keyPEM()); err != nil {
			t.Fatal(err)
		}
	}
	_, _, err = createPublicKey(t, c, "one-too-many", keyPEM())
	expectErr(t, err, "TooManyPublicKeys", 400)
}
