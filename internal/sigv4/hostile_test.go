package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

var hostileNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func hostileVerifier() *Verifier {
	return &Verifier{Service: "cloudfront", Now: func() time.Time { return hostileNow },
		Secret: func(id string) (string, bool) { return "secret", id == "AKID" }}
}

// signAs signs r as a client that builds the canonical request from the
// SignedHeaders list exactly as given (in its order, repeats included)
// over payloadHash, and sets its Authorization header: a valid signature
// for that list, were the list acceptable.
func signAs(r *http.Request, signed []string, payloadHash string) {
	amzDate := hostileNow.Format(timeFormat)
	r.Header.Set("X-Amz-Date", amzDate)
	canonical := refCanonicalRequest(r, signed, payloadHash)
	creq := sha256.Sum256([]byte(canonical))
	scope := amzDate[:8] + "/us-east-1/cloudfront/aws4_request"
	key := deriveKey("secret", amzDate[:8], "us-east-1", "cloudfront")
	mac := refHMACSHA256(key, algorithm+"\n"+amzDate+"\n"+scope+"\n"+hex.EncodeToString(creq[:]))
	r.Header.Set("Authorization", algorithm+" Credential=AKID/"+scope+", SignedHeaders="+strings.Join(signed, ";")+", Signature="+hex.EncodeToString(mac))
}

func hostileRequest(body string) *http.Request {
	r := httptest.NewRequest("POST", "http://api.test/2020-05-31/distribution/E1/invalidation", strings.NewReader(body))
	r.Header.Set("Content-Type", "text/xml")
	return r
}

func wantCode(t *testing.T, err error, code string, status int, msg string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code || e.Status != status || !strings.Contains(e.Message, msg) {
		t.Fatalf("Verify = %v, want %s %d containing %q", err, code, status, msg)
	}
}

// SignedHeaders must be AWS's canonical form (sorted, each name once, no
// empty name): a signature over another form is refused, however it was
// computed.
func TestSignedHeadersCanonicalForm(t *testing.T) {
	body := "<InvalidationBatch/>"
	hash := refPayloadHash([]byte(body))
	good := []string{"content-type", "host", "x-amz-date"}
	r := hostileRequest(body)
	signAs(r, good, hash)
	if _, err := hostileVerifier().Verify(r, []byte(body)); err != nil {
		t.Fatalf("canonical list refused: %v", err)
	}
	for _, signed := range [][]string{
		{"host", "content-type", "x-amz-date"},
		{"content-type", "host", "host", "x-amz-date"},
		{"content-type", "content-type", "host", "x-amz-date"},
		{"", "content-type", "host", "x-amz-date"},
		{"content-type", "host", "x-amz-date", ""},
	} {
		r := hostileRequest(body)
		signAs(r, signed, hash)
		_, err := hostileVerifier().Verify(r, []byte(body))
		wantCode(t, err, "SignatureDoesNotMatch", 403, "The request signature we calculated does not match")
	}
}

// At most MaxSignedHeaders names may be signed.
func TestSignedHeadersCount(t *testing.T) {
	for _, n := range []int{MaxSignedHeaders, MaxSignedHeaders + 1} {
		r := hostileRequest("")
		signed := strings.Split(manyNames(n), ";")
		for _, h := range signed {
			if h != "host" && h != "x-amz-date" {
				r.Header.Set(h, "v")
			}
		}
		signAs(r, signed, refPayloadHash(nil))
		_, err := hostileVerifier().Verify(r, nil)
		if n <= MaxSignedHeaders {
			if err != nil {
				t.Errorf("%d signed headers: %v", n, err)
			}
			continue
		}
		wantCode(t, err, "SignatureDoesNotMatch", 403, fmt.Sprintf("at most %d", MaxSignedHeaders))
	}
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// The amplification: a valid key id, 5,000 mentions of one 20 KB header
// in SignedHeaders. Refused for the repeats without building a canonical
// request of 100 MB.
func TestSignedHeadersAmplification(t *testing.T) {
	r := hostileRequest("")
	r.Header.Set("X-Big", strings.Repeat("a", 20<<10))
	r.Header.Set("X-Amz-Date", hostileNow.Format(timeFormat))
	r.Header.Set("Authorization", algorithm+" Credential=AKID/20240501/us-east-1/cloudfront/aws4_request, SignedHeaders=host;"+
		strings.Repeat("x-big;", 5000)+"x-big, Signature="+strings.Repeat("0", 64))
	var err error
	n := allocated(func() { _, err = hostileVerifier().Verify(r, nil) })
	wantCode(t, err, "SignatureDoesNotMatch", 403, "at most")
	if n > 1<<20 {
		t.Errorf("refusing it allocated %d bytes", n)
	}
}

// The canonical request is bounded: unique names whose values add up to
// more than MaxCanonicalRequestBytes are refused as a header section too
// large, having built no more than the bound.
func TestCanonicalRequestBounded(t *testing.T) {
	r := hostileRequest("")
	var signed []string
	for i := range 10 {
		name := fmt.Sprintf("x-big-%d", i)
		r.Header.Set(name, strings.Repeat("a", 20<<10))
		signed = append(signed, name)
	}
	signed = append(signed, "host", "x-amz-date")
	slices.Sort(signed)
	signAs(r, signed, refPayloadHash(nil))
	var err error
	n := allocated(func() { _, err = hostileVerifier().Verify(r, nil) })
	wantCode(t, err, "RequestHeaderSectionTooLarge", 400, "exceeds the maximum allowed size")
	if n > 4*MaxCanonicalRequestBytes {
		t.Errorf("refusing it allocated %d bytes", n)
	}
	// Within the bound, the same headers verify.
	r = hostileRequest("")
	for i := range 4 {
		r.Header.Set(fmt.Sprintf("x-big-%d", i), strings.Repeat("a", 20<<10))
	}
	signAs(r, []string{"host", "x-amz-date", "x-big-0", "x-big-1", "x-big-2", "x-big-3"}, refPayloadHash(nil))
	if _, err := hostileVerifier().Verify(r, nil); err != nil {
		t.Fatalf("80 KB of signed headers: %v", err)
	}
}

// UNSIGNED-PAYLOAD does not exempt the body: the payload hash verified is
// the body's, so a signature made over UNSIGNED-PAYLOAD is refused, and
// so is a signed request replayed with another body.
func TestUnsignedPayloadRefused(t *testing.T) {
	body := "<InvalidationBatch><CallerReference>a</CallerReference></InvalidationBatch>"
	signed := []string{"content-type", "host", "x-amz-content-sha256", "x-amz-date"}

	r := hostileRequest(body)
	r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	signAs(r, signed, "UNSIGNED-PAYLOAD")
	_, err := hostileVerifier().Verify(r, []byte(body))
	wantCode(t, err, "SignatureDoesNotMatch", 403, "The request signature we calculated does not match")
	// The replay: the same signed head, another body.
	_, err = hostileVerifier().Verify(r, []byte(strings.Replace(body, ">a<", ">b<", 1)))
	wantCode(t, err, "SignatureDoesNotMatch", 403, "The request signature we calculated does not match")

	// The header as a client may send it with a signed payload: the body's
	// hash is what counts.
	r = hostileRequest(body)
	r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	signAs(r, signed, refPayloadHash([]byte(body)))
	if _, err := hostileVerifier().Verify(r, []byte(body)); err != nil {
		t.Fatalf("body hash signed, UNSIGNED-PAYLOAD header: %v", err)
	}
	_, err = hostileVerifier().Verify(r, []byte(strings.Replace(body, ">a<", ">b<", 1)))
	wantCode(t, err, "SignatureDoesNotMatch", 403, "The request signature we calculated does not match")
}

// A verification that grew its scratch buffers does not pool them.
func TestLargeScratchNotPooled(t *testing.T) {
	r := hostileRequest("")
	r.Header.Set("X-Big", strings.Repeat("a", 100<<10))
	signAs(r, []string{"host", "x-amz-date", "x-big"}, refPayloadHash(nil))
	for range 3 {
		if _, err := hostileVerifier().Verify(r, nil); err != nil {
			t.Fatal(err)
		}
		sc := scratchPool.Get().(*scratch)
		if cap(sc.b) > maxPooledBytes {
			t.Fatalf("a %d-byte buffer was pooled", cap(sc.b))
		}
		scratchPool.Put(sc)
	}
}
