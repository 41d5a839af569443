package sigv4

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// benchRequest is a CreateInvalidation as aws-sdk-go-v2 signs it.
func benchRequest(b *testing.B, at time.Time) (*http.Request, []byte) {
	body := []byte(`<InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><CallerReference>m3h1x2-12345</CallerReference><Paths><Items><Path>/images/m3h1x2-12345.png</Path></Items><Quantity>1</Quantity></Paths></InvalidationBatch>`)
	req, _ := http.NewRequest("POST", "http://127.0.0.1:4747/2020-05-31/distribution/EBENCHDIST0001/invalidation", bytes.NewReader(body))
	req.Header.Set("Content-Type", "text/xml")
	req.Header.Set("Amz-Sdk-Invocation-Id", "6e0b5b3a-3c2d-4f8e-9a51-1f2e3d4c5b6a")
	req.Header.Set("Amz-Sdk-Request", "attempt=1; max=1")
	req.Header.Set("User-Agent", "aws-sdk-go-v2/1.36.0 os/linux lang/go#1.26.8 md/GOOS#linux md/GOARCH#amd64 api/cloudfront#1.44.0")
	req.ContentLength = int64(len(body))
	sum := payloadHashHex(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"},
		req, sum, "cloudfront", "us-east-1", at); err != nil {
		b.Fatal(err)
	}
	req.RequestURI = req.URL.RequestURI()
	return req, body
}

func payloadHashHex(body []byte) string { return refPayloadHash(body) }

func BenchmarkVerify(b *testing.B) {
	at := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	v := &Verifier{Service: "cloudfront", Now: func() time.Time { return at },
		Secret: func(id string) (string, bool) { return "secret", id == "AKID" }}
	req, body := benchRequest(b, at)
	b.Run("optimized", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(req, body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.refVerify(req, body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSign is an edge's acknowledgement signed by Sign.
func BenchmarkSign(b *testing.B) {
	req, _ := http.NewRequest("POST", "http://127.0.0.1:4747/openfront/v1/fleet/ack?name=local&pos=123456", nil)
	at := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		Sign(req, nil, "OPENFRONTLOCALEDGE", "secret", "us-east-1", "cloudfront", at)
	}
}
