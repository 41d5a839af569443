package sigv4

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
)

// randomRequest builds a server-side request (as net/http hands it to a
// handler) signed by Sign, then perhaps damaged, so that Verify and the
// reference verifier are compared on good and bad signatures alike.
func randomRequest(r *rand.Rand, now time.Time) (*http.Request, []byte) {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	path := pick("/2020-05-31/distribution/EDFDVBD6EXAMPLE/invalidation", "/", "/a%20b/c", "/caf%C3%A9/%2F", "/a//b/./c", "/~u/a.b-c_d", "/openfront/v1/fleet/ack")
	query := pick("", "", "Marker=I2J&MaxItems=10", "k=b&k=a&%C3%A9=2&a=1", "q=a+b", "flag&x=", "X-Amz-Signature=abc",
		"name=local&pos=42", "pos=42&name=local", "a=1&a=1", "a=2&a=1", "a=&b=", "=1", "a=1&&b=2", "a=b=c", "a=1;b=2", "A=1&a=1", "a-=0&a=1", "a=1&a-=0")
	body := []byte(pick("", `<InvalidationBatch/>`, "é\x00 body"))
	u := &url.URL{Scheme: "http", Host: "127.0.0.1:4747", Path: path, RawQuery: query}
	if p, err := url.PathUnescape(path); err == nil {
		u.Path, u.RawPath = p, path
	}
	req, _ := http.NewRequest(pick("GET", "POST", "DELETE"), u.String(), bytes.NewReader(body))
	req.Header.Set("Content-Type", pick("text/xml", "  text/xml  ", "a   b\tc", "é  x"))
	if r.IntN(2) == 0 {
		req.Header.Add("X-Amz-Meta-Multi", "one")
		req.Header.Add("X-Amz-Meta-Multi", " two  three ")
	}
	at := now.Add(time.Duration(r.IntN(40)-20) * time.Minute)
	keyID, secret := pick("AKID", "AKID", "AKID", "OTHER"), pick("secret", "secret", "secret", "wrong")
	Sign(req, body, keyID, secret, pick("us-east-1", "eu-west-1"), pick("cloudfront", "cloudfront", "cloudfront", "s3"), at)
	auth := req.Header.Get("Authorization")
	// Sign covers three headers; sign more sometimes, as SDKs do.
	if r.IntN(2) == 0 {
		auth = strings.Replace(auth, "SignedHeaders=host;x-amz-content-sha256;x-amz-date",
			"SignedHeaders="+pick("content-type;host;x-amz-content-sha256;x-amz-date", "content-length;content-type;host;x-amz-date;x-amz-meta-multi", "x-amz-date", "host",
				"host;content-type;x-amz-date", "content-type;host;host;x-amz-date", "host;;x-amz-date", "host;x-amz-date;", ";host",
				"host;"+strings.Repeat("x-amz-meta-big;", 3), manyNames(MaxSignedHeaders), manyNames(MaxSignedHeaders+1), "host;x-amz-date;x-amz-meta-big"), 1)
		if r.IntN(2) == 0 {
			req.Header.Set("X-Amz-Meta-Big", strings.Repeat("v", pick2(r, 100, MaxCanonicalRequestBytes)))
		}
	}
	switch r.IntN(20) {
	case 0:
		auth = strings.Replace(auth, ", ", ",", -1)
	case 1:
		auth += ","
	case 2:
		auth = strings.Replace(auth, "Signature=", "Signature=0", 1)
	case 3:
		auth = strings.Replace(auth, "Credential=", "Credential=x/", 1)
	case 4:
		auth = "AWS4-HMAC-SHA256 Credential=AKID/20240501/us-east-1/cloudfront/aws4_request, Signature=ab"
	case 5:
		auth = strings.Replace(auth, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1", 1)
	case 6:
		req.Header.Del("X-Amz-Date")
		req.Header.Set("Date", at.Format(http.TimeFormat))
	case 7:
		req.Header.Set("X-Amz-Content-Sha256", pick("UNSIGNED-PAYLOAD", "deadbeef", ""))
	case 8:
		auth = ""
	case 9:
		auth += ", Signature=" + strings.Repeat("0", 64)
	}
	req.Header.Set("Authorization", auth)
	// As the server sees it.
	req.RequestURI = u.RequestURI()
	req.Host = u.Host
	return req, body
}

// manyNames is a sorted SignedHeaders list of n names, host among them.
func manyNames(n int) string {
	names := []string{"host"}
	for i := 1; i < n; i++ {
		names = append(names, fmt.Sprintf("x-%03d", i))
	}
	slices.Sort(names)
	return strings.Join(names, ";")
}

func pick2(r *rand.Rand, a, b int) int {
	if r.IntN(2) == 0 {
		return a
	}
	return b
}

func cloneRequest(r *http.Request) *http.Request {
	c := r.Clone(r.Context())
	for k, vs := range r.Header {
		c.Header[k] = append([]string(nil), vs...)
	}
	return c
}

// Verify answers as the verifier before its optimization did, key id and
// error (code, status and message) alike.
func TestVerifyMatchesReference(t *testing.T) {
	now := time.Date(2024, 5, 1, 23, 55, 0, 0, time.UTC)
	v := &Verifier{Service: "cloudfront", Now: func() time.Time { return now },
		Secret: func(id string) (string, bool) { return "secret", id == "AKID" }}
	r := rand.New(rand.NewPCG(9, 10))
	ok := 0
	for i := 0; i < 20000; i++ {
		req, body := randomRequest(r, now)
		id1, err1 := v.Verify(cloneRequest(req), body)
		id2, err2 := v.refVerify(cloneRequest(req), body)
		if id1 != id2 || !reflect.DeepEqual(err1, err2) {
			t.Fatalf("%s %s %v\nVerify    = %q, %v\nreference = %q, %v", req.Method, req.RequestURI, req.Header, id1, err1, id2, err2)
		}
		if err1 == nil {
			ok++
		}
	}
	t.Logf("%d of 20000 requests verified", ok)
}

// lineRequest is a request as a transport other than net/http may hold
// it: header lines in the order received, names in any case.
type lineRequest struct {
	method, path, query, host string
	contentLength             int64
	lines                     [][2]string
}

func (l *lineRequest) Method() string       { return l.method }
func (l *lineRequest) EscapedPath() string  { return l.path }
func (l *lineRequest) RawQuery() string     { return l.query }
func (l *lineRequest) Host() string         { return l.host }
func (l *lineRequest) ContentLength() int64 { return l.contentLength }
func (l *lineRequest) AppendHeader(dst []string, name string) []string {
	for _, kv := range l.lines {
		if strings.EqualFold(kv[0], name) {
			dst = append(dst, kv[1])
		}
	}
	return dst
}

// asLines turns r into header lines: names in random case, lines of
// different names shuffled, each name's values in order.
func asLines(rnd *rand.Rand, r *http.Request) *lineRequest {
	l := &lineRequest{method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery, host: r.Host, contentLength: r.ContentLength}
	var names []string
	for k := range r.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	next := map[string]int{}
	total := 0
	for _, k := range names {
		total += len(r.Header[k])
	}
	for len(l.lines) < total {
		k := names[rnd.IntN(len(names))]
		i := next[k]
		if i == len(r.Header[k]) {
			continue
		}
		next[k] = i + 1
		name := []byte(k)
		for j := range name {
			if rnd.IntN(2) == 0 {
				name[j] = byte(unicode.ToLower(rune(name[j])))
			} else {
				name[j] = byte(unicode.ToUpper(rune(name[j])))
			}
		}
		l.lines = append(l.lines, [2]string{string(name), r.Header[k][i]})
	}
	return l
}

// VerifyRequest, over a request held as header lines (names in any case,
// lines in any order but each name's values in order, duplicates), answers
// as the reference verifier: key id, and error code, status and message.
func TestVerifyRequestMatchesReference(t *testing.T) {
	now := time.Date(2024, 5, 1, 23, 55, 0, 0, time.UTC)
	v := &Verifier{Service: "cloudfront", Now: func() time.Time { return now },
		Secret: func(id string) (string, bool) { return "secret", id == "AKID" }}
	r := rand.New(rand.NewPCG(11, 12))
	ok := 0
	for i := 0; i < 20000; i++ {
		req, body := randomRequest(r, now)
		id1, err1 := v.VerifyRequest(asLines(r, req), body)
		id2, err2 := v.refVerify(cloneRequest(req), body)
		if id1 != id2 || !reflect.DeepEqual(err1, err2) {
			t.Fatalf("%s %s %v\nVerifyRequest = %q, %v\nreference     = %q, %v", req.Method, req.RequestURI, req.Header, id1, err1, id2, err2)
		}
		if err1 == nil {
			ok++
		}
	}
	t.Logf("%d of 20000 requests verified", ok)
}
