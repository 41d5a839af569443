package sigv4

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	kvs "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
)

// captured is a request an SDK sent, with its body.
type captured struct {
	req  *http.Request
	body []byte
}

// capturer is an SDK HTTP client that records requests and answers each
// with an empty JSON object.
type capturer struct{ got []captured }

func (c *capturer) Do(r *http.Request) (*http.Response, error) {
	var b []byte
	if r.Body != nil {
		b, _ = io.ReadAll(r.Body)
	}
	// As a server sees it: Host from the URL's authority.
	if r.Host == "" {
		r.Host = r.URL.Host
	}
	c.got = append(c.got, captured{r, b})
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader("{}")), Request: r}, nil
}

// sdkV4ARequests has aws-sdk-go-v2's cloudfrontkeyvaluestore client sign
// (with SigV4A, as it always does) one request of each shape: a body,
// a query, a key that needs escaping.
func sdkV4ARequests(t *testing.T, keyID, secret string) []captured {
	t.Helper()
	c := &capturer{}
	client := kvs.New(kvs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://127.0.0.1:1"),
		Credentials:  credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		HTTPClient:   c,
	})
	arn := aws.String("arn:aws:cloudfront::123456789012:key-value-store/8562a61f-caba-4845-9d99-b97d1a7e5d3c")
	ctx := context.Background()
	if _, err := client.PutKey(ctx, &kvs.PutKeyInput{KvsARN: arn, Key: aws.String("a key/with?odd=chars"), Value: aws.String("v"), IfMatch: aws.String("ETAG1")}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ListKeys(ctx, &kvs.ListKeysInput{KvsARN: arn, MaxResults: aws.Int32(5), NextToken: aws.String("tok en")}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetKey(ctx, &kvs.GetKeyInput{KvsARN: arn, Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	for _, g := range c.got {
		if !strings.HasPrefix(g.req.Header.Get("Authorization"), AlgorithmV4A+" ") {
			t.Fatalf("the SDK did not sign with SigV4A: %q", g.req.Header.Get("Authorization"))
		}
	}
	return c.got
}

func TestSigV4AVerifiesSDKSignatures(t *testing.T) {
	got := sdkV4ARequests(t, "AKIDV4A", "secret-v4a")
	now := func() time.Time { return time.Now() }
	good := &Verifier{Service: "cloudfront-keyvaluestore", SigV4A: true, Now: now,
		Secret: func(id string) (string, bool) { return "secret-v4a", id == "AKIDV4A" }}
	wrong := &Verifier{Service: "cloudfront-keyvaluestore", SigV4A: true, Now: now,
		Secret: func(id string) (string, bool) { return "another-secret", id == "AKIDV4A" }}
	v4only := &Verifier{Service: "cloudfront-keyvaluestore", Now: now,
		Secret: func(id string) (string, bool) { return "secret-v4a", true }}
	for _, g := range got {
		if id, err := good.Verify(g.req, g.body); err != nil || id != "AKIDV4A" {
			t.Errorf("%s %s: %q, %v", g.req.Method, g.req.URL, id, err)
		}
		// Twice: the second from the key cache.
		if _, err := good.Verify(g.req, g.body); err != nil {
			t.Errorf("%s %s again: %v", g.req.Method, g.req.URL, err)
		}
		var e *Error
		if _, err := wrong.Verify(g.req, g.body); !errors.As(err, &e) || e.Code != "SignatureDoesNotMatch" {
			t.Errorf("wrong secret: %v", err)
		}
		if _, err := v4only.Verify(g.req, g.body); !errors.As(err, &e) || e.Code != "IncompleteSignature" {
			t.Errorf("SigV4A not enabled: %v", err)
		}
		// A changed request no longer matches.
		if len(g.body) > 0 {
			if _, err := good.Verify(g.req, bytes.ToUpper(g.body)); err == nil {
				t.Errorf("a changed body verified")
			}
		}
		r := g.req.Clone(context.Background())
		r.Header.Set("X-Amz-Region-Set", "eu-west-1")
		if _, err := good.Verify(r, g.body); !errors.As(err, &e) || e.Code != "SignatureDoesNotMatch" {
			t.Errorf("changed region set: %v", err)
		}
	}
}

// TestDeriveV4AKeyDiffers: the key is a function of the key pair.
func TestDeriveV4AKeyDiffers(t *testing.T) {
	a := DeriveV4AKey("AKID", "secret")
	b := DeriveV4AKey("AKID", "secret")
	c := DeriveV4AKey("AKID2", "secret")
	if a.D.Cmp(b.D) != 0 || a.D.Cmp(c.D) == 0 {
		t.Fatal("the derivation is not a function of the key pair")
	}
}

func TestSigV4AMalformed(t *testing.T) {
	v := &Verifier{Service: "cloudfront-keyvaluestore", SigV4A: true,
		Secret: func(id string) (string, bool) { return "s", true }}
	for _, auth := range []string{
		AlgorithmV4A + " Credential=AK/20260101/us-east-1/cloudfront-keyvaluestore/aws4_request, SignedHeaders=host, Signature=00",
		AlgorithmV4A + " Credential=AK/20260101/cloudfront-keyvaluestore, SignedHeaders=host, Signature=00",
	} {
		r, _ := http.NewRequest("GET", "http://h/key-value-stores/x", nil)
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Date", time.Now().UTC().Format(timeFormat))
		var e *Error
		if _, err := v.Verify(r, nil); !errors.As(err, &e) || e.Code != "IncompleteSignature" {
			t.Errorf("%s: %v", auth, err)
		}
	}
	r, _ := http.NewRequest("GET", "http://h/key-value-stores/x", nil)
	now := time.Now().UTC()
	r.Header.Set("Authorization", AlgorithmV4A+" Credential=AK/"+now.Format("20060102")+"/cloudfront-keyvaluestore/aws4_request, SignedHeaders=host;x-amz-date, Signature=zz"+strings.Repeat("00", 200))
	r.Header.Set("X-Amz-Date", now.Format(timeFormat))
	var e *Error
	if _, err := v.Verify(r, nil); !errors.As(err, &e) || e.Code != "SignatureDoesNotMatch" {
		t.Errorf("garbage signature: %v", err)
	}
}
