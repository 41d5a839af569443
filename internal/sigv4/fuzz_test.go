package sigv4

import (
	"bytes"
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

var fuzzNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// fuzzRequest is a server-side request (as net/http hands it on) with a
// header of the fuzzer's and the Authorization header auth.
func fuzzRequest(auth, name, value string, body []byte) *http.Request {
	r, _ := http.NewRequest("POST", "http://api.test/2020-05-31/distribution/E1/invalidation?a=1", bytes.NewReader(body))
	r.Header.Set("X-Amz-Date", fuzzNow.Format(timeFormat))
	r.Header.Set("Content-Type", "text/xml")
	if name != "" {
		r.Header.Add(name, value)
	}
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	r.RequestURI = r.URL.RequestURI()
	return r
}

// FuzzVerifyAuthorization: whatever the Authorization header (its
// parameters, Credential, SignedHeaders, Signature) and another header,
// Verify and VerifyRequest answer as the reference verifier, without
// panicking.
func FuzzVerifyAuthorization(f *testing.F) {
	body := []byte("<InvalidationBatch/>")
	good := fuzzRequest("", "", "", body)
	Sign(good, body, "AKID", "secret", "us-east-1", "cloudfront", fuzzNow)
	auth := good.Header.Get("Authorization")
	f.Add(auth, "", "", body)
	f.Add(auth, "X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD", body)
	f.Add(strings.Replace(auth, "host;", "host;host;", 1), "", "", body)
	f.Add(strings.Replace(auth, "SignedHeaders=host;x-amz-content-sha256;x-amz-date", "SignedHeaders=x-amz-date;host", 1), "", "", body)
	f.Add(strings.Replace(auth, "SignedHeaders=host;", "SignedHeaders=content-type;host;x-big;", 1), "X-Big", strings.Repeat("v", 300), body)
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20240501/us-east-1/cloudfront/aws4_request, SignedHeaders=host;"+strings.Repeat("x;", 70)+"x, Signature=00", "X", "1", []byte(nil))
	f.Add("AWS4-HMAC-SHA256 Credential=AKID/20240501, SignedHeaders=, Signature=", "", "", []byte(nil))
	f.Add("AWS4-HMAC-SHA256 ,,,=", "", "", []byte(nil))
	v := &Verifier{Service: "cloudfront", Now: func() time.Time { return fuzzNow },
		Secret: func(id string) (string, bool) { return "secret", id == "AKID" }}
	f.Fuzz(func(t *testing.T, auth, name, value string, body []byte) {
		r := fuzzRequest(auth, name, value, body)
		id1, err1 := v.Verify(cloneRequest(r), body)
		id2, err2 := v.refVerify(cloneRequest(r), body)
		if id1 != id2 || !reflect.DeepEqual(err1, err2) {
			t.Fatalf("Authorization %q, %s: %q\nVerify    = %q, %v\nreference = %q, %v", auth, name, value, id1, err1, id2, err2)
		}
		id3, err3 := v.VerifyRequest(asLines(rand.New(rand.NewPCG(1, 2)), r), body)
		if id3 != id2 || !reflect.DeepEqual(err3, err2) {
			t.Fatalf("Authorization %q, %s: %q\nVerifyRequest = %q, %v\nreference     = %q, %v", auth, name, value, id3, err3, id2, err2)
		}
	})
}

// FuzzCanonicalRequest: the canonical request built in place is the
// reference's, for any path, query, header and SignedHeaders list, or is
// refused only past MaxCanonicalRequestBytes.
func FuzzCanonicalRequest(f *testing.F) {
	f.Add("GET", "/a%20b/c", "b=2&a=1", "host;x-amz-date;x-a", "X-A", "  one   two ")
	f.Add("POST", "/", "", "host", "", "")
	f.Add("PUT", "/caf%C3%A9/%2F", "k=b&k=a&%C3%A9=2", "content-length;host", "Content-Length", "5")
	f.Add("GET", "/x", "flag&x=", "host;x-a;x-a", "x-a", strings.Repeat("z", 1000))
	f.Fuzz(func(t *testing.T, method, path, query, signed, name, value string) {
		u, err := url.Parse("http://api.test" + path)
		if err != nil || method == "" || strings.ContainsAny(method, " \t\r\n") {
			return
		}
		u.RawQuery = query
		r := &http.Request{Method: method, URL: u, Host: "api.test", Header: http.Header{}, ContentLength: -1}
		r.Header.Set("X-Amz-Date", fuzzNow.Format(timeFormat))
		if name != "" {
			r.Header.Add(name, value)
		}
		var vals []string
		got, ok := appendCanonicalRequest(nil, httpRequest{r}, signed, "HASH", &vals)
		want := refCanonicalRequest(r, strings.Split(signed, ";"), "HASH")
		switch {
		case !ok && len(want) <= MaxCanonicalRequestBytes:
			t.Fatalf("refused a %d-byte canonical request", len(want))
		case ok && string(got) != want:
			t.Fatalf("canonical request\n%q\nreference\n%q", got, want)
		}
	})
}
