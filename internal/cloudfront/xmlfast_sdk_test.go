package cloudfront

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cf "github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// The body aws-sdk-go-v2 sends takes the fast path (and decodes as
// encoding/xml decodes it).
func TestScanBatchTakesSDKBody(t *testing.T) {
	bodies := make(chan []byte, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies <- b
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	c := cf.New(cf.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	c.CreateInvalidation(context.Background(), &cf.CreateInvalidationInput{
		DistributionId: aws.String("EDFDVBD6EXAMPLE"),
		InvalidationBatch: &types.InvalidationBatch{CallerReference: aws.String("ref & <1>"),
			Paths: &types.Paths{Quantity: aws.Int32(2), Items: []string{"/a b/é.png", "/images/*"}}},
	})
	c.CreateInvalidation(context.Background(), &cf.CreateInvalidationInput{
		DistributionId: aws.String("EDFDVBD6EXAMPLE"),
		InvalidationBatch: &types.InvalidationBatch{CallerReference: aws.String("ref-2"),
			Paths: &types.Paths{Quantity: aws.Int32(1), Items: []string{"/images/a.png"}}},
	})
	first, second := <-bodies, <-bodies
	checkScanBatch(t, first) // has entities: may take the slow path
	if _, ok := scanBatch(second); !ok {
		t.Fatalf("the fast path does not take the SDK's body %q", second)
	}
	checkScanBatch(t, second)
}
