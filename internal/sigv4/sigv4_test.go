package sigv4_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/openfront/openfront/internal/sigv4"
)

const (
	keyID  = "AKIDEXAMPLE"
	secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

// signTime is when test requests are signed; the verifier's clock is set
// relative to it.
var signTime = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

var creds = aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}

func verifier(now time.Time) *sigv4.Verifier {
	return &sigv4.Verifier{
		Service: "cloudfront",
		Secret: func(id string) (string, bool) {
			if id == keyID {
				return secret, true
			}
			return "", false
		},
		Now: func() time.Time { return now },
	}
}

func payloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// result is what the server's Verify returned.
type result struct {
	keyID string
	err   error
}

// server runs v behind a real HTTP server, so requests reach Verify as Go's
// server builds them (Host moved to r.Host, RequestURI parsed, and so on).
func server(t *testing.T, v *sigv4.Verifier) (*httptest.Server, <-chan result) {
	t.Helper()
	results := make(chan result, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading body: %v", err)
		}
		id, err := v.Verify(r, body)
		results <- result{id, err}
	}))
	t.Cleanup(srv.Close)
	return srv, results
}

// request is one client request to sign and send.
type request struct {
	method  string
	target  string // path and query, appended to the server URL
	body    []byte
	headers http.Header
	region  string
	service string
	creds   aws.Credentials
	at      time.Time
	// tamper changes the signed request before it is sent.
	tamper func(r *http.Request) (body []byte)
}

// send signs rq with the AWS SDK's signer, sends it to a server running a
// verifier whose clock reads now, and returns what Verify said.
func send(t *testing.T, now time.Time, rq request) (string, error) {
	t.Helper()
	srv, results := server(t, verifier(now))
	if rq.method == "" {
		rq.method = http.MethodGet
	}
	if rq.region == "" {
		rq.region = "us-east-1"
	}
	if rq.service == "" {
		rq.service = "cloudfront"
	}
	if rq.creds == (aws.Credentials{}) {
		rq.creds = creds
	}
	if rq.at.IsZero() {
		rq.at = signTime
	}
	req, err := http.NewRequest(rq.method, srv.URL+rq.target, bytes.NewReader(rq.body))
	if err != nil {
		t.Fatalf("NewRequest(%s): %v", rq.target, err)
	}
	if rq.body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	for k, vs := range rq.headers {
		req.Header[k] = vs
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), rq.creds, req, payloadHash(rq.body), rq.service, rq.region, rq.at); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
	if rq.tamper != nil {
		if body := rq.tamper(req); body != nil {
			req.Body = io.NopCloser(bytes.NewReader(body))
			req.ContentLength = int64(len(body))
		}
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", rq.method, rq.target, err)
	}
	resp.Body.Close()
	r := <-results
	return r.keyID, r.err
}

func wantOK(t *testing.T, id string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if id != keyID {
		t.Errorf("Verify returned key %q, want %q", id, keyID)
	}
}

// wantError checks err is a *sigv4.Error with code and status, and that its
// message contains each of msgs.
func wantError(t *testing.T, err error, code string, status int, msgs ...string) {
	t.Helper()
	var e *sigv4.Error
	if !errors.As(err, &e) {
		t.Fatalf("Verify = %v, want a *sigv4.Error %s", err, code)
	}
	if e.Code != code || e.Status != status {
		t.Errorf("Verify = %s (%d) %q, want %s (%d)", e.Code, e.Status, e.Message, code, status)
	}
	for _, m := range msgs {
		if !strings.Contains(e.Message, m) {
			t.Errorf("message %q does not contain %q", e.Message, m)
		}
	}
}

func TestGoodSignatures(t *testing.T) {
	const inv = "/2020-05-31/distribution/EDFDVBD6EXAMPLE/invalidation"
	const unsorted = "k=b&k=a&k=a%2Fb&k=a-b&%C3%A9=2&a=1&a-=0&A=3"
	body := []byte(`<?xml version="1.0" encoding="UTF-8"?><InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Paths><Quantity>1</Quantity><Items><Path>/*</Path></Items></Paths><CallerReference>ref-1</CallerReference></InvalidationBatch>`)
	tests := []struct {
		name string
		rq   request
	}{
		{"GET", request{target: inv}},
		{"GET with query", request{target: inv + "?Marker=I2J0I21PCUYOIK&MaxItems=10"}},
		{"GET one", request{target: inv + "/I2J0I21PCUYOIK"}},
		{"POST with body", request{method: http.MethodPost, target: inv, body: body,
			headers: http.Header{"Content-Type": {"text/xml"}}}},
		{"POST empty body", request{method: http.MethodPost, target: inv, body: []byte{}}},
		{"root path", request{target: "/"}},
		{"space in path", request{target: "/a%20b/c"}},
		{"escaped slash in path", request{target: "/a%2Fb/c"}},
		{"non-ASCII path", request{target: "/caf%C3%A9/ü"}},
		{"sub-delims in path", request{target: "/a!$&'()*+,;=:@b"}},
		{"tilde and dots", request{target: "/~user/a.b-c_d"}},
		{"double slash and dot segments", request{target: "/a//b/./c/../d"}},
		{"percent-encoded unreserved", request{target: "/%41%7E"}},
		{"query needing escapes", request{target: inv + "?Marker=a%2Fb%20c%2Bd&x=%C3%A9"}},
		{"query plus means space", request{target: inv + "?q=a+b"}},
		{"query repeated key", request{target: inv + "?k=b&k=a&k=a%2Fb&k=a-b"}},
		{"query key ordering on encoded form", request{target: inv + "?a=1&%C3%A9=2&B=3&_=4&~=5"}},
		{"query key without value", request{target: inv + "?flag&x="}},
		// The SDK rewrites the query into canonical order when it signs;
		// other clients and proxies may not, so the server sorts itself.
		{"query in non-canonical order", request{target: inv + "?" + unsorted, tamper: rawQuery(unsorted)}},
		{"query with + for space", request{target: inv + "?q=a%20b", tamper: rawQuery("q=a+b")}},
		{"query with lower-case escapes", request{target: inv + "?q=%2f%c3%a9", tamper: rawQuery("q=%2f%c3%a9")}},
		{"query with reserved chars", request{target: inv + "?k=%21%27%28%29%2A"}},
		{"extra signed headers", request{target: inv, headers: http.Header{
			"X-Amz-Meta-Spaces": {"  a   b  c "},
			"X-Amz-Meta-Multi":  {"one", "two"},
		}}},
		{"session token", request{target: inv, creds: aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret, SessionToken: "token/with+chars="}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := send(t, signTime, tc.rq)
			wantOK(t, id, err)
		})
	}
}

// rawQuery returns a tamper that sends query instead of the query the SDK
// wrote while signing; it must mean the same parameters.
func rawQuery(query string) func(r *http.Request) []byte {
	return func(r *http.Request) []byte {
		r.URL.RawQuery = query
		return nil
	}
}

// The region of the credential scope is whatever the client is configured
// with; any is accepted.
func TestAnyRegion(t *testing.T) {
	for _, region := range []string{"us-east-1", "eu-west-3", "ap-southeast-2", "auto", "local", "openfront"} {
		t.Run(region, func(t *testing.T) {
			id, err := send(t, signTime, request{target: "/2020-05-31/distribution/E1/invalidation", region: region})
			wantOK(t, id, err)
		})
	}
}

func TestClockSkew(t *testing.T) {
	target := "/2020-05-31/distribution/E1/invalidation"
	for _, skew := range []time.Duration{-14 * time.Minute, -time.Second, time.Second, 14 * time.Minute, 15 * time.Minute, -15 * time.Minute} {
		t.Run("ok "+skew.String(), func(t *testing.T) {
			id, err := send(t, signTime.Add(skew), request{target: target})
			wantOK(t, id, err)
		})
	}
	t.Run("expired", func(t *testing.T) {
		// The server's clock is 16 minutes past the request's date.
		_, err := send(t, signTime.Add(16*time.Minute), request{target: target})
		wantError(t, err, "SignatureDoesNotMatch", http.StatusForbidden, "Signature expired", "20240501T120000Z")
	})
	t.Run("not yet current", func(t *testing.T) {
		_, err := send(t, signTime.Add(-16*time.Minute), request{target: target})
		wantError(t, err, "SignatureDoesNotMatch", http.StatusForbidden, "Signature not yet current", "20240501T120000Z")
	})
}

// A signature across midnight: the credential scope's date is the request's,
// not the server's.
func TestAcrossMidnight(t *testing.T) {
	at := time.Date(2024, 5, 1, 23, 59, 0, 0, time.UTC)
	id, err := send(t, at.Add(2*time.Minute), request{target: "/x", at: at})
	wantOK(t, id, err)
}

func TestWrongSecret(t *testing.T) {
	_, err := send(t, signTime, request{target: "/x", creds: aws.Credentials{AccessKeyID: keyID, SecretAccessKey: "not-the-secret"}})
	wantError(t, err, "SignatureDoesNotMatch", http.StatusForbidden, "The request signature we calculated does not match")
}

func TestUnknownKey(t *testing.T) {
	_, err := send(t, signTime, request{target: "/x", creds: aws.Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: secret}})
	wantError(t, err, "InvalidClientTokenId", http.StatusForbidden)
}

func TestWrongService(t *testing.T) {
	for _, service := range []string{"s3", "CloudFront", "execute-api"} {
		t.Run(service, func(t *testing.T) {
			_, err := send(t, signTime, request{target: "/x", service: service})
			wantError(t, err, "SignatureDoesNotMatch", http.StatusForbidden, "Credential should be scoped to correct service: 'cloudfront'")
		})
	}
}

func TestTampered(t *testing.T) {
	body := []byte("<InvalidationBatch><CallerReference>a</CallerReference></InvalidationBatch>")
	tests := []struct {
		name   string
		tamper func(r *http.Request) []byte
	}{
		{"body, same length", func(*http.Request) []byte {
			return bytes.Replace(body, []byte(">a<"), []byte(">b<"), 1)
		}},
		{"body, longer", func(*http.Request) []byte { return append(body, ' ') }},
		{"path", func(r *http.Request) []byte { r.URL.Path = "/y"; return nil }},
		{"query", func(r *http.Request) []byte { r.URL.RawQuery = "MaxItems=100"; return nil }},
		{"method", func(r *http.Request) []byte { r.Method = http.MethodPut; return nil }},
		{"signed header", func(r *http.Request) []byte { r.Header.Set("Content-Type", "text/plain"); return nil }},
		{"date", func(r *http.Request) []byte {
			r.Header.Set("X-Amz-Date", signTime.Add(time.Minute).Format("20060102T150405Z"))
			return nil
		}},
		{"host", func(r *http.Request) []byte { r.Host = "evil.example"; return nil }},
		{"signature", func(r *http.Request) []byte {
			a := r.Header.Get("Authorization")
			last := a[len(a)-1]
			if last == '0' {
				last = '1'
			} else {
				last = '0'
			}
			r.Header.Set("Authorization", a[:len(a)-1]+string(last))
			return nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := send(t, signTime, request{
				method: http.MethodPost, target: "/x?MaxItems=10", body: body,
				headers: http.Header{"Content-Type": {"text/xml"}},
				tamper:  tc.tamper,
			})
			wantError(t, err, "SignatureDoesNotMatch", http.StatusForbidden)
		})
	}
}

// An x-amz-content-sha256 header that is not the body's hash is refused
// before the signature is computed.
func TestContentSHA256Mismatch(t *testing.T) {
	_, err := send(t, signTime, request{
		method: http.MethodPost, target: "/x", body: []byte("body"),
		headers: http.Header{"X-Amz-Content-Sha256": {payloadHash([]byte("other"))}},
	})
	wantError(t, err, "XAmzContentSHA256Mismatch", http.StatusBadRequest)
}

func TestMissingAuthentication(t *testing.T) {
	srv, results := server(t, verifier(signTime))
	resp, err := http.Get(srv.URL + "/2020-05-31/distribution/E1/invalidation")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r := <-results
	wantError(t, r.err, "MissingAuthenticationToken", http.StatusForbidden)
}

func TestPresignedRefused(t *testing.T) {
	srv, results := server(t, verifier(signTime))
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/2020-05-31/distribution/E1/invalidation", nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, payloadHash(nil), "cloudfront", "us-east-1", signTime)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r := <-results
	wantError(t, r.err, "IncompleteSignature", http.StatusBadRequest, "Presigned")
}

// Malformed Authorization headers are IncompleteSignature, 400, whatever
// else the request holds.
func TestMalformedAuthorization(t *testing.T) {
	date := signTime.Format("20060102T150405Z")
	good := "Credential=" + keyID + "/20240501/us-east-1/cloudfront/aws4_request"
	tests := []struct {
		name, auth string
	}{
		{"other scheme", "Bearer abc"},
		{"other algorithm", "AWS4-HMAC-SHA512 " + good + ", SignedHeaders=host, Signature=abc"},
		{"algorithm only", "AWS4-HMAC-SHA256"},
		{"no signature", "AWS4-HMAC-SHA256 " + good + ", SignedHeaders=host;x-amz-date"},
		{"no signed headers", "AWS4-HMAC-SHA256 " + good + ", Signature=abc"},
		{"no credential", "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=abc"},
		{"empty signature", "AWS4-HMAC-SHA256 " + good + ", SignedHeaders=host, Signature="},
		{"not key=value", "AWS4-HMAC-SHA256 " + good + ", SignedHeaders=host, garbage"},
		{"short credential", "AWS4-HMAC-SHA256 Credential=" + keyID + "/20240501/us-east-1, SignedHeaders=host, Signature=abc"},
		{"credential not aws4_request", "AWS4-HMAC-SHA256 Credential=" + keyID + "/20240501/us-east-1/cloudfront/aws5_request, SignedHeaders=host, Signature=abc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "http://cloudfront.test/2020-05-31/distribution/E1/invalidation", nil)
			r.Header.Set("Authorization", tc.auth)
			r.Header.Set("X-Amz-Date", date)
			_, err := verifier(signTime).Verify(r, nil)
			wantError(t, err, "IncompleteSignature", http.StatusBadRequest)
		})
	}
}

// A signed request with no date at all is incomplete.
func TestMissingDate(t *testing.T) {
	_, err := send(t, signTime, request{target: "/x", tamper: func(r *http.Request) []byte {
		r.Header.Del("X-Amz-Date")
		return nil
	}})
	wantError(t, err, "IncompleteSignature", http.StatusBadRequest, "X-Amz-Date")
}

// The credential scope's date must be the request's date.
func TestScopeDateMismatch(t *testing.T) {
	_, err := send(t, signTime, request{target: "/x", tamper: func(r *http.Request) []byte {
		a := r.Header.Get("Authorization")
		r.Header.Set("Authorization", strings.Replace(a, "/20240501/", "/20240502/", 1))
		return nil
	}})
	wantError(t, err, "SignatureDoesNotMatch", http.StatusForbidden, "Date in Credential scope does not match")
}

// Host must be signed, or a signature could be replayed to another host.
func TestHostNotSigned(t *testing.T) {
	_, err := send(t, signTime, request{target: "/x", tamper: func(r *http.Request) []byte {
		a := r.Header.Get("Authorization")
		r.Header.Set("Authorization", strings.Replace(a, "SignedHeaders=host;", "SignedHeaders=", 1))
		return nil
	}})
	wantError(t, err, "SignatureDoesNotMatch", http.StatusForbidden, "'Host'")
}

// Verify also works on requests built with httptest.NewRequest, as handler
// tests build them.
func TestHTTPTestRequest(t *testing.T) {
	body := []byte("<x/>")
	client, err := http.NewRequest(http.MethodPost, "http://cloudfront.test:8080/2020-05-31/distribution/E1/invalidation?a=b%20c", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, client, payloadHash(body), "cloudfront", "us-west-2", signTime); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(client.Method, client.URL.String(), bytes.NewReader(body))
	for k, vs := range client.Header {
		r.Header[k] = vs
	}
	if r.Host != "cloudfront.test:8080" || r.URL.Host != "" && r.URL.Host != r.Host {
		t.Fatalf("httptest request Host %q URL.Host %q", r.Host, r.URL.Host)
	}
	id, err := verifier(signTime).Verify(r, body)
	wantOK(t, id, err)

	// The same request verified against another body fails.
	_, err = verifier(signTime).Verify(r, []byte("<y/>"))
	wantError(t, err, "SignatureDoesNotMatch", http.StatusForbidden)
}

// Verify uses time.Now when the verifier has no clock.
func TestDefaultClock(t *testing.T) {
	v := verifier(time.Time{})
	v.Now = nil
	r := httptest.NewRequest(http.MethodGet, "http://cloudfront.test/x", nil)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, payloadHash(nil), "cloudfront", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(r, nil)
	wantOK(t, id, err)
}
