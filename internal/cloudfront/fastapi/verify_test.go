package fastapi

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/valyala/fasthttp"

	"github.com/openfront/openfront/internal/sigv4"
)

// randomWire returns the bytes of a signed CreateInvalidation as a client
// may send them: header names in any case and order, repeated headers,
// odd white space, sometimes damaged.
func randomWire(r *rand.Rand, now time.Time) string {
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	body := pick("", "<InvalidationBatch/>", "é\x00 body")
	target := "/2020-05-31/distribution/" + pick("E1", "EDFDVBD6EXAMPLE", "a:b@c!$&'()*+,;=") + "/invalidation"
	u, _ := url.ParseRequestURI(target)
	req := &http.Request{Method: "POST", URL: u, Host: pick("api.test", "127.0.0.1:4747"), Header: http.Header{}}
	var lines [][2]string
	add := func(k, v string) {
		req.Header.Add(k, v)
		lines = append(lines, [2]string{k, v})
	}
	add("Content-Type", pick("text/xml", "a   b\tc"))
	if r.IntN(2) == 0 {
		add("X-Amz-Meta-Multi", "one")
		add(pick("x-amz-meta-multi", "X-AMZ-META-MULTI"), pick(" two  three ", "two"))
	}
	if r.IntN(3) == 0 {
		// More lines than the fast path scans: it sorts them for lookups.
		for i := range 20 {
			add(pick("X-Pad-"+strconv.Itoa(i%4), "x-pad-"+strconv.Itoa(i%4), "X-PAD-"+strconv.Itoa(i%4), "X-Pad", "x-pad"), "v"+strconv.Itoa(i))
		}
	}
	add("Content-Length", strconv.Itoa(len(body)))
	at := now.Add(time.Duration(r.IntN(40)-20) * time.Minute)
	keyID, secret := pick("AKID", "AKID", "AKID", "OTHER"), pick("secret", "secret", "secret", "wrong")
	sum := sha256.Sum256([]byte(body))
	hash := hex.EncodeToString(sum[:])
	if r.IntN(3) == 0 {
		sigv4.Sign(req, []byte(body), keyID, secret, "us-east-1", pick("cloudfront", "cloudfront", "s3"), at)
	} else {
		req.Header.Set("X-Amz-Content-Sha256", hash)
		_ = v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}, req, hash, "cloudfront", "us-east-1", at)
	}
	auth := req.Header.Get("Authorization")
	switch r.IntN(12) {
	case 0:
		auth = strings.Replace(auth, "Signature=", "Signature=0", 1)
	case 1:
		auth = ""
	case 2:
		auth = strings.Replace(auth, "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1", 1)
	case 3:
		lines = append(lines, [2]string{"x-amz-meta-multi", "late"}) // a signed header's value added
	case 4:
		req.Header.Set("X-Amz-Content-Sha256", pick("UNSIGNED-PAYLOAD", "deadbeef"))
	}
	hdr := [][2]string{{"Host", req.Host}}
	for _, k := range []string{"X-Amz-Date", "X-Amz-Content-Sha256"} {
		if v := req.Header.Get(k); v != "" {
			hdr = append(hdr, [2]string{pick(k, strings.ToLower(k), strings.ToUpper(k)), v})
		}
	}
	if auth != "" {
		hdr = append(hdr, [2]string{pick("Authorization", "authorization"), auth})
	}
	hdr = append(hdr, lines...)
	r.Shuffle(len(hdr), func(i, j int) {
		// Shuffle, but keep each name's values in order.
		if !strings.EqualFold(hdr[i][0], hdr[j][0]) {
			hdr[i], hdr[j] = hdr[j], hdr[i]
		}
	})
	var b strings.Builder
	b.WriteString("POST " + target + " HTTP/1.1\r\n")
	for _, kv := range hdr {
		b.WriteString(kv[0] + ":" + pick(" ", "", "  ", "\t") + kv[1] + pick("", " ") + "\r\n")
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

// The fast path's request (fasthttp's header lines) verifies as the same
// bytes read by net/http verify through Verify: same key id, same error.
func TestVerifyFastRequestAsNetHTTP(t *testing.T) {
	now := time.Now().UTC()
	v := &sigv4.Verifier{Service: "cloudfront", Now: func() time.Time { return now },
		Secret: func(id string) (string, bool) { return "secret", id == "AKID" }}
	rnd := rand.New(rand.NewPCG(3, 4))
	ok, fast := 0, 0
	for i := 0; i < 5000; i++ {
		raw := randomWire(rnd, now)
		hr, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		body := make([]byte, hr.ContentLength)
		_, _ = hr.Body.Read(body)
		id1, err1 := v.Verify(hr, body)

		var fr fasthttp.Request
		if err := fr.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
			t.Fatalf("%q: fasthttp: %v", raw, err)
		}
		req := &request{}
		if _, plain := createTarget(fr.Header.RequestURI()); !plain || !req.read(&fr.Header) {
			continue
		}
		fast++
		id2, err2 := v.VerifyRequest(req, fr.Body())
		if id1 != id2 || !reflect.DeepEqual(err1, err2) {
			t.Fatalf("%q\nnet/http + Verify = %q, %v\nfast path         = %q, %v", raw, id1, err1, id2, err2)
		}
		if err1 == nil {
			ok++
		}
	}
	if fast < 4000 {
		t.Errorf("only %d of 5000 requests taken by the fast path", fast)
	}
	t.Logf("%d requests for the fast path, %d verified", fast, ok)
}
