package edge

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/signing"
)

var signedTestKey, _ = rsa.GenerateKey(rand.Reader, 2048)

func signedPEM(k *rsa.PrivateKey) string {
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func cfB64(b []byte) string {
	return strings.NewReplacer("+", "-", "=", "_", "/", "~").Replace(base64.StdEncoding.EncodeToString(b))
}

func rsaSHA1(t testing.TB, k *rsa.PrivateKey, msg string) string {
	t.Helper()
	d := sha1.Sum([]byte(msg))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA1, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return cfB64(sig)
}

// cannedURL signs uri on host with a canned policy expiring at exp.
func cannedURL(t testing.TB, k *rsa.PrivateKey, kid, host, uri string, exp time.Time) string {
	e := fmt.Sprint(exp.Unix())
	pol := `{"Statement":[{"Resource":"http://` + host + uri + `","Condition":{"DateLessThan":{"AWS:EpochTime":` + e + `}}}]}`
	sep := "?"
	if strings.Contains(uri, "?") {
		sep = "&"
	}
	return uri + sep + "Expires=" + e + "&Signature=" + rsaSHA1(t, k, pol) + "&Key-Pair-Id=" + kid
}

func signedHarness(t *testing.T) (*harness, string) {
	o := newOrigin(t)
	echo(o)
	d := dist("ESIGN1", o)
	d.Config.DefaultBehavior.TrustedKeyGroups = []string{"kg1"}
	d.Config.DefaultBehavior.ForwardQueryString = true // all of the query, but the signing parameters
	h := newHarness(t, Config{}, d)
	putRes(t, h.edge, res(t, resource.PublicKey, "KTEST", "E1", signing.PublicKey{Name: "k", CallerReference: "c", EncodedKey: signedPEM(signedTestKey)}))
	putRes(t, h.edge, res(t, resource.KeyGroup, "kg1", "E1", signing.KeyGroup{Name: "g", Keys: []string{"KTEST"}}))
	return h, "esign1.cloudfront.localhost"
}

func expectDenied(t *testing.T, h *harness, host, uri, code string, hdr ...string) {
	t.Helper()
	r := h.get(host, uri, hdr...)
	if r.status != http.StatusForbidden || !strings.Contains(r.body, "<Code>"+code+"</Code>") ||
		r.header.Get("Content-Type") != "text/xml" || r.xcache() != errX || r.header.Get("Server") != "CloudFront" {
		t.Fatalf("GET %s = %d %v %q; want 403 %s", uri, r.status, r.header, r.body, code)
	}
}

func TestSignedURLs(t *testing.T) {
	h, host := signedHarness(t)
	now := h.clock.Now()
	other, _ := rsa.GenerateKey(rand.Reader, 2048)

	expectDenied(t, h, host, "/a", "MissingKey")
	expectDenied(t, h, host, "/a?Expires=1&Signature=x&Key-Pair-Id=KNOPE", "InvalidKey")
	expectDenied(t, h, host, cannedURL(t, other, "KTEST", host, "/a", now.Add(time.Hour)), "AccessDenied")
	expectDenied(t, h, host, cannedURL(t, signedTestKey, "KTEST", host, "/a", now.Add(-time.Second)), "AccessDenied")
	expectDenied(t, h, host, "/a"+cannedURL(t, signedTestKey, "KTEST", host, "/b", now.Add(time.Hour))[len("/b"):], "AccessDenied")
	expectDenied(t, h, host, "/a?Expires=1&Signature=%%%&Key-Pair-Id=KTEST", "MalformedSignature")
	expectDenied(t, h, host, "/a?Policy=e30_&Signature=abcd&Key-Pair-Id=KTEST", "AccessDenied")

	// Signed: the origin and the cache key see no signing parameter, so
	// a second signature for the same object is a hit.
	u := cannedURL(t, signedTestKey, "KTEST", host, "/a?v=1", now.Add(30*time.Minute))
	h.expect(host, u, "/a?v=1", miss)
	u2 := cannedURL(t, signedTestKey, "KTEST", host, "/a?v=1", now.Add(2*time.Hour))
	h.expect(host, u2, "/a?v=1", hit)

	// Expiry is checked on every request, cached signature or not.
	h.clock.Advance(30 * time.Minute)
	expectDenied(t, h, host, u, "AccessDenied")
	h.expect(host, u2, "/a?v=1", hit)
}

func TestSignedCookies(t *testing.T) {
	h, host := signedHarness(t)
	now := h.clock.Now()
	lt := now.Add(time.Hour).Unix()
	pol := fmt.Sprintf(`{"Statement":[{"Resource":"http://%s/img/*","Condition":{"DateLessThan":{"AWS:EpochTime":%d}}}]}`, host, lt)
	cookie := "CloudFront-Policy=" + cfB64([]byte(pol)) + "; CloudFront-Signature=" + rsaSHA1(t, signedTestKey, pol) + "; CloudFront-Key-Pair-Id=KTEST"
	for _, c := range []struct{ uri, cookie, want string }{
		{"/img/x.png", cookie, ""},
		{"/other.png", cookie, "AccessDenied"},
		{"/img/x.png", "", "MissingKey"},
		{"/img/x.png", strings.Replace(cookie, "KTEST", "KNOPE", 1), "InvalidKey"},
	} {
		r := h.get(host, c.uri, "Cookie", c.cookie)
		if c.want == "" {
			if r.status != http.StatusOK || r.body != c.uri {
				t.Fatalf("%s: %d %q", c.uri, r.status, r.body)
			}
			continue
		}
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "<Code>"+c.want+"</Code>") {
			t.Fatalf("%s with %q: %d %q, want %s", c.uri, c.cookie, r.status, r.body, c.want)
		}
	}
}

// A behavior trusting a key group the edge does not know, or no longer
// trusting one, refuses what it admitted.
func TestSignedKeyNotTrusted(t *testing.T) {
	h, host := signedHarness(t)
	u := cannedURL(t, signedTestKey, "KTEST", host, "/a", h.clock.Now().Add(time.Hour))
	h.expect(host, u, "/a", miss)
	putRes(t, h.edge, res(t, resource.KeyGroup, "kg1", "E2", signing.KeyGroup{Name: "g", Keys: []string{"KOTHER"}}))
	expectDenied(t, h, host, u, "InvalidKey")
}

// A refused signed request gets the distribution's custom error page for
// 403, fetched from the origin without a signature.
func TestSignedRefusalCustomErrorPage(t *testing.T) {
	o := newOrigin(t)
	echo(o)
	d := dist("ESIGN2", o)
	d.Config.DefaultBehavior.TrustedKeyGroups = []string{"kg1"}
	d.Config.CustomErrorResponses = []distribution.ErrorResponse{{ErrorCode: 403, ResponsePagePath: "/denied.html", ResponseCode: "403"}}
	h := newHarness(t, Config{}, d)
	putRes(t, h.edge, res(t, resource.PublicKey, "KTEST", "E1", signing.PublicKey{Name: "k", CallerReference: "c", EncodedKey: signedPEM(signedTestKey)}))
	putRes(t, h.edge, res(t, resource.KeyGroup, "kg1", "E1", signing.KeyGroup{Name: "g", Keys: []string{"KTEST"}}))
	r := h.get("esign2.cloudfront.localhost", "/private.txt")
	if r.status != http.StatusForbidden || r.body != "/denied.html" || r.xcache() != errX {
		t.Fatalf("got %d %q %q, want 403 with the page", r.status, r.body, r.xcache())
	}
}

// TrustedSigners stand for the account's public keys: any uploaded key
// signs for a behavior trusting an account (openfront has one).
func TestSignedTrustedSigners(t *testing.T) {
	o := newOrigin(t)
	echo(o)
	d := dist("ESIGN3", o)
	d.Config.DefaultBehavior.TrustedSigners = []string{"self"}
	h := newHarness(t, Config{}, d)
	host := "esign3.cloudfront.localhost"
	u := cannedURL(t, signedTestKey, "KTEST", host, "/a", h.clock.Now().Add(time.Hour))
	expectDenied(t, h, host, u, "InvalidKey") // no key uploaded yet
	putRes(t, h.edge, res(t, resource.PublicKey, "KTEST", "E1", signing.PublicKey{Name: "k", CallerReference: "c", EncodedKey: signedPEM(signedTestKey)}))
	h.expect(host, u, "/a", miss)
	h.edge.ForgetResource(resource.PublicKey, "KTEST")
	expectDenied(t, h, host, u, "InvalidKey")
}
