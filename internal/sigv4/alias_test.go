package sigv4

import (
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// VerifyRequest's strings may be a transport's buffers, reused for the
// next request once it returns (fasthttp's): the signing key cache must
// not keep them as its keys.
func TestKeyCacheKeepsNoRequestBytes(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	v := &Verifier{Service: "cloudfront", Now: func() time.Time { return now },
		Secret: func(id string) (string, bool) { return "secret", id == "AKID" }}
	req, _ := http.NewRequest("POST", "http://api.test/2020-05-31/distribution/E1/invalidation", nil)
	Sign(req, nil, "AKID", "secret", "us-east-1", "cloudfront", now)

	lines := asLines(rand.New(rand.NewPCG(1, 2)), req)
	buf := []byte(req.Header.Get("Authorization"))
	for i, kv := range lines.lines {
		if strings.EqualFold(kv[0], "Authorization") {
			lines.lines[i][1] = unsafe.String(unsafe.SliceData(buf), len(buf))
		}
	}
	if _, err := v.VerifyRequest(lines, nil); err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = 'x' // the transport reads the next request into it
	}
	if len(v.keys.keys) != 1 {
		t.Fatalf("%d cached keys", len(v.keys.keys))
	}
	for k := range v.keys.keys {
		if k.day != "20240501" || k.region != "us-east-1" || k.service != "cloudfront" {
			t.Fatalf("cached scope changed with the request's buffer: %+v", k)
		}
	}
	if l := v.keys.last.Load(); l == nil || l.scope.day != "20240501" || l.scope.region != "us-east-1" || l.scope.service != "cloudfront" {
		t.Fatalf("last key's scope changed with the request's buffer: %+v", l)
	}
}
