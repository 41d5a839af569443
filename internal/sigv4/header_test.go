package sigv4

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// TestVerifyHeader: what VerifyHeader checks before the body is read, with
// VerifyRequest's errors: the signature itself only when
// X-Amz-Content-Sha256 stands for the body.
func TestVerifyHeader(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	v := &Verifier{Service: "cloudfront", Now: func() time.Time { return now },
		Secret: func(id string) (string, bool) { return "s3cret", id == "AKID" }}
	body := []byte("<InvalidationBatch/>")
	signed := func(secret string, withHash bool) *http.Request {
		r, _ := http.NewRequest("POST", "http://api.test/2020-05-31/distribution/E1/invalidation", nil)
		Sign(r, body, "AKID", secret, "us-east-1", "cloudfront", now) // sends X-Amz-Content-Sha256
		if !withHash {
			r.Header.Del("X-Amz-Content-Sha256")
		}
		return r
	}
	code := func(err error) string {
		var e *Error
		if errors.As(err, &e) {
			return e.Code
		}
		if err != nil {
			return err.Error()
		}
		return ""
	}
	for _, c := range []struct {
		name string
		r    *http.Request
		want string
	}{
		{"signed with the body's hash", signed("s3cret", true), ""},
		{"signed, no hash header: the signature waits for the body", signed("wrong", false), ""},
		{"bad signature over the hash header", signed("wrong", true), "SignatureDoesNotMatch"},
		{"no Authorization", func() *http.Request { r := signed("s3cret", true); r.Header.Del("Authorization"); return r }(), "MissingAuthenticationToken"},
		{"unknown key", func() *http.Request {
			r, _ := http.NewRequest("POST", "http://api.test/x", nil)
			Sign(r, body, "AKIDOTHER", "s3cret", "us-east-1", "cloudfront", now)
			return r
		}(), "InvalidClientTokenId"},
		{"hash header not a hash", func() *http.Request {
			r := signed("s3cret", true)
			r.Header.Set("X-Amz-Content-Sha256", "zz")
			return r
		}(), "XAmzContentSHA256Mismatch"},
	} {
		_, err := v.VerifyHeader(httpRequest{c.r})
		if got := code(err); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	// What VerifyHeader let through without a hash header, VerifyRequest
	// refuses once the body is there.
	if _, err := v.Verify(signed("wrong", false), body); code(err) != "SignatureDoesNotMatch" {
		t.Errorf("the full check after a header-only pass: %v", err)
	}
	if _, err := v.Verify(signed("s3cret", true), []byte("other")); code(err) != "XAmzContentSHA256Mismatch" {
		t.Errorf("a body other than the signed hash: %v", err)
	}
}
