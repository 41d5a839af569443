package cloudfront_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/openfront/openfront/internal/cloudfront"
	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/memory"
)

// BenchmarkCreateInvalidationHandler is one CreateInvalidation through
// the API handler as make bench sends it (SigV4 on, one path, a new
// CallerReference each time), with the memory store and completion at
// once (no fleet): the handler's own cost, without the HTTP server.
// The requests are signed once with UNSIGNED-PAYLOAD so that each can
// carry a new body without signing it again; Verify still hashes it.
func BenchmarkCreateInvalidationHandler(b *testing.B) {
	const distID, keyID, secret = "EBENCHDIST0001", "AKIDBENCHMARK0000001", "benchSecret"
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := memory.New()
	origin, _ := url.Parse("http://127.0.0.1:9")
	dists, err := distribution.NewService(context.Background(), distribution.ServiceConfig{Store: store, Logger: quiet,
		FromFile: []*distribution.Distribution{distribution.FromFile(distID, origin, nil, "cloudfront.localhost", time.Now())}})
	if err != nil {
		b.Fatal(err)
	}
	defer dists.Close()
	limits := invalidation.DefaultLimits
	limits.MaxInProgressFilePaths, limits.MaxInProgressWildcardPaths = 1<<30, 1<<30
	svc := invalidation.NewService(invalidation.Config{Store: store, Distributions: dists.Registry(), Limits: limits, Logger: quiet})
	defer svc.Close()
	h := cloudfront.NewHandler(cloudfront.Config{Invalidations: svc, Distributions: dists, Logger: quiet,
		Keys: map[string]cloudfront.Key{keyID: {Secret: secret}}})

	target := "http://127.0.0.1:4747/2020-05-31/distribution/" + distID + "/invalidation"
	signed, _ := http.NewRequest("POST", target, nil)
	signed.Header.Set("Content-Type", "text/xml")
	signed.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret},
		signed, "UNSIGNED-PAYLOAD", "cloudfront", "us-east-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	hdr := signed.Header
	b.ReportAllocs()
	for n := 0; b.Loop(); n++ {
		ref := "bench-" + strconv.Itoa(n)
		body := []byte(`<InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><CallerReference>` + ref +
			`</CallerReference><Paths><Items><Path>/images/` + ref + `.png</Path></Items><Quantity>1</Quantity></Paths></InvalidationBatch>`)
		r := httptest.NewRequest("POST", target, bytes.NewReader(body))
		r.Header = hdr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusCreated {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
}
