package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	kvs "github.com/aws/aws-sdk-go-v2/service/cloudfrontkeyvaluestore"
)

// kvsRedirect answers a redirect to the URI's value in the function's
// KeyValueStore, and passes requests whose URI has none to the origin.
const kvsRedirect = `import cf from 'cloudfront';
const store = cf.kvs();
async function handler(event) {
  const request = event.request;
  if (!(await store.exists(request.uri))) {
    return request;
  }
  const target = await store.get(request.uri);
  return {statusCode: 302, statusDescription: 'Found', headers: {location: {value: target}}};
}`

// TestEdgeFunctionKeyValueStore: a function reads a KeyValueStore with
// cf.kvs() at the edge and under TestFunction; a PutKey made while the
// edge serves reaches the function without a new version of the function
// or of the distribution.
func TestEdgeFunctionKeyValueStore(t *testing.T) {
	s := startServer(t, options{env: []string{"OPENFRONT_ACCESS_KEY_ID=AKIDFNKVS", "OPENFRONT_SECRET_ACCESS_KEY=fn-kvs-secret"}})
	c := s.client("AKIDFNKVS", "fn-kvs-secret")
	d := s.kvsClient("AKIDFNKVS", "fn-kvs-secret")
	cx := ctx(t)
	v := newEdgeViewer(t, s)
	o := newTestOrigin(t)
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		fmt.Fprint(w, r.RequestURI)
	})

	st, err := c.CreateKeyValueStore(cx, &cloudfront.CreateKeyValueStoreInput{Name: aws.String("redirects")})
	if err != nil {
		t.Fatalf("CreateKeyValueStore: %v", err)
	}
	arn := st.KeyValueStore.ARN
	dd, err := d.DescribeKeyValueStore(cx, &kvs.DescribeKeyValueStoreInput{KvsARN: arn})
	if err != nil {
		t.Fatalf("DescribeKeyValueStore: %v", err)
	}
	put, err := d.PutKey(cx, &kvs.PutKeyInput{KvsARN: arn, Key: aws.String("/promo"), Value: aws.String("/sale-1"), IfMatch: dd.ETag})
	if err != nil {
		t.Fatalf("PutKey: %v", err)
	}

	fn, err := c.CreateFunction(cx, &cloudfront.CreateFunctionInput{Name: aws.String("kvs-redirect"), FunctionCode: []byte(kvsRedirect),
		FunctionConfig: &types.FunctionConfig{Comment: aws.String("e2e"), Runtime: types.FunctionRuntimeCloudfrontJs20,
			KeyValueStoreAssociations: &types.KeyValueStoreAssociations{Quantity: aws.Int32(1),
				Items: []types.KeyValueStoreAssociation{{KeyValueStoreARN: arn}}}}})
	if err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}

	// TestFunction reads the stored store.
	event := `{"version":"1.0","context":{"eventType":"viewer-request"},"viewer":{"ip":"192.0.2.1"},` +
		`"request":{"method":"GET","uri":"/promo","querystring":{},"headers":{},"cookies":{}}}`
	tr, err := c.TestFunction(cx, &cloudfront.TestFunctionInput{Name: aws.String("kvs-redirect"), IfMatch: fn.ETag,
		Stage: types.FunctionStageDevelopment, EventObject: []byte(event)})
	if err != nil {
		t.Fatalf("TestFunction: %v", err)
	}
	if out := aws.ToString(tr.TestResult.FunctionOutput); !strings.Contains(out, "/sale-1") || aws.ToString(tr.TestResult.FunctionErrorMessage) != "" {
		t.Fatalf("TestFunction output %s, error %q", out, aws.ToString(tr.TestResult.FunctionErrorMessage))
	}

	pub, err := c.PublishFunction(cx, &cloudfront.PublishFunctionInput{Name: aws.String("kvs-redirect"), IfMatch: fn.ETag})
	if err != nil {
		t.Fatalf("PublishFunction: %v", err)
	}
	def := legacyBehavior("o", false)
	def.FunctionAssociations = &types.FunctionAssociations{Quantity: aws.Int32(1), Items: []types.FunctionAssociation{
		{EventType: types.EventTypeViewerRequest, FunctionARN: pub.FunctionSummary.FunctionMetadata.FunctionARN}}}
	dist := createEdgeDist(t, c, edgeConfig("fn-kvs", def, o.origin("o")))

	noFollow := &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	location := func(uri string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.EdgeURL+uri, nil)
		req.Host = dist.domain
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			return fmt.Sprintf("status %d", resp.StatusCode)
		}
		return resp.Header.Get("Location")
	}
	if got := location("/promo"); got != "/sale-1" {
		t.Fatalf("GET /promo: Location %q, want /sale-1", got)
	}
	v.expect(dist.domain, "/plain", 200, "/plain", edgeMiss)
	if n := o.hitsOf("/promo"); n != 0 {
		t.Errorf("the origin was asked %d times for /promo", n)
	}

	// A PutKey while serving: the edge's next requests see the new value.
	if _, err := d.PutKey(cx, &kvs.PutKeyInput{KvsARN: arn, Key: aws.String("/promo"), Value: aws.String("/sale-2"), IfMatch: put.ETag}); err != nil {
		t.Fatalf("PutKey: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for got := location("/promo"); got != "/sale-2"; got = location("/promo") {
		if got != "/sale-1" || time.Now().After(deadline) {
			t.Fatalf("GET /promo after the PutKey: Location %q, want /sale-2", got)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The store cannot go while the function names it.
	desc, err := c.DescribeKeyValueStore(cx, &cloudfront.DescribeKeyValueStoreInput{Name: aws.String("redirects")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteKeyValueStore(cx, &cloudfront.DeleteKeyValueStoreInput{Name: aws.String("redirects"), IfMatch: desc.ETag})
	expectErr(t, err, "CannotDeleteEntityWhileInUse", http.StatusConflict)
}
