package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// CloudFront Functions through the binary: created and published with
// the Functions API, associated with a distribution's default behavior,
// run by the edge on every request. Skips (501) while the Functions API
// is not in the build.

const e2eViewerRequest = `function handler(event) {
  var request = event.request;
  if (request.uri === '/old') {
    return {statusCode: 301, statusDescription: 'Moved Permanently',
      headers: {location: {value: 'https://www.example.com/new'}}};
  }
  if (request.uri === '/throw') { throw new Error('boom'); }
  if (request.uri === '/loop') { while (true) {} }
  if (request.uri.endsWith('/')) { request.uri += 'index.html'; }
  else if (request.uri.indexOf('.') < 0) { request.uri = '/index.html'; }
  return request;
}`

func e2eViewerResponse(version string) string {
	return `function handler(event) {
  var response = event.response;
  response.headers['x-fn-version'] = {value: '` + version + `'};
  return response;
}`
}

// createPublished creates a function and publishes it; it returns its ARN.
func createPublished(t *testing.T, c *cloudfront.Client, name, code string) string {
	t.Helper()
	out, err := c.CreateFunction(ctx(t), &cloudfront.CreateFunctionInput{Name: aws.String(name), FunctionCode: []byte(code),
		FunctionConfig: &types.FunctionConfig{Comment: aws.String("e2e"), Runtime: types.FunctionRuntimeCloudfrontJs20}})
	skipUnlessImplemented(t, "CreateFunction", err)
	_, err = c.PublishFunction(ctx(t), &cloudfront.PublishFunctionInput{Name: aws.String(name), IfMatch: out.ETag})
	skipUnlessImplemented(t, "PublishFunction", err)
	return *out.FunctionSummary.FunctionMetadata.FunctionARN
}

func TestEdgeFunctions(t *testing.T) {
	s := startServer(t, options{})
	c := s.client("", "")
	v := newEdgeViewer(t, s)
	o := newTestOrigin(t)
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		fmt.Fprint(w, r.RequestURI)
	})
	suffix := fmt.Sprint(time.Now().UnixNano())
	reqName, respName := "vreq-"+suffix, "vresp-"+suffix
	reqARN := createPublished(t, c, reqName, e2eViewerRequest)
	respARN := createPublished(t, c, respName, e2eViewerResponse("1"))

	def := legacyBehavior("o", false)
	def.FunctionAssociations = &types.FunctionAssociations{Quantity: aws.Int32(2), Items: []types.FunctionAssociation{
		{EventType: types.EventTypeViewerRequest, FunctionARN: aws.String(reqARN)},
		{EventType: types.EventTypeViewerResponse, FunctionARN: aws.String(respARN)},
	}}
	d := createEdgeDist(t, c, edgeConfig("functions-"+suffix, def, o.origin("o")))

	// URI rewrite: the rewritten request is what the key and the origin
	// see; the viewer-response header is on the miss and on the hit.
	for i, uri := range []string{"/app/", "/app/index.html"} {
		r := v.get(d.domain, uri)
		want := []string{edgeMiss, edgeHit}[i]
		if r.status != 200 || r.body != "/app/index.html" || r.xcache() != want || r.header.Get("X-Fn-Version") != "1" {
			t.Fatalf("GET %s: %d %q %q x-fn-version %q", uri, r.status, r.body, r.xcache(), r.header.Get("X-Fn-Version"))
		}
	}
	v.expect(d.domain, "/deep/link", 200, "/index.html", edgeMiss)
	v.expect(d.domain, "/other/link", 200, "/index.html", edgeHit)

	// A redirect made by the function: the origin is not asked.
	req, _ := http.NewRequest(http.MethodGet, s.EdgeURL+"/old", nil)
	req.Host = d.domain
	noFollow := &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 301 || resp.Header.Get("Location") != "https://www.example.com/new" || resp.Header.Get("X-Cache") != "FunctionGeneratedResponse from cloudfront" {
		t.Errorf("redirect: %d %v", resp.StatusCode, resp.Header)
	}
	if n := o.hitsOf("/old"); n != 0 {
		t.Errorf("the origin was asked %d times for /old", n)
	}

	// A throwing and a looping function answer 503; requests beside them
	// are served.
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			uri := []string{"/throw", "/loop", "/app/"}[i%3]
			r, err := v.try(http.MethodGet, d.domain, uri)
			switch {
			case err != nil:
				t.Errorf("%s: %v", uri, err)
			case uri == "/app/" && (r.status != 200 || r.body != "/app/index.html"):
				t.Errorf("%s beside failing functions: %d %q", uri, r.status, r.body)
			case uri != "/app/" && (r.status != 503 || !strings.Contains(r.body, "The CloudFront function associated with the CloudFront distribution is invalid or could not run.")):
				t.Errorf("%s: %d %.200q", uri, r.status, r.body)
			}
		}()
	}
	wg.Wait()

	// Republished while serving: the edge follows without a new version
	// of the distribution.
	g, err := c.DescribeFunction(ctx(t), &cloudfront.DescribeFunctionInput{Name: aws.String(respName), Stage: types.FunctionStageDevelopment})
	skipUnlessImplemented(t, "DescribeFunction", err)
	up, err := c.UpdateFunction(ctx(t), &cloudfront.UpdateFunctionInput{Name: aws.String(respName), IfMatch: g.ETag, FunctionCode: []byte(e2eViewerResponse("2")),
		FunctionConfig: &types.FunctionConfig{Comment: aws.String("e2e"), Runtime: types.FunctionRuntimeCloudfrontJs20}})
	skipUnlessImplemented(t, "UpdateFunction", err)
	_, err = c.PublishFunction(ctx(t), &cloudfront.PublishFunctionInput{Name: aws.String(respName), IfMatch: up.ETag})
	skipUnlessImplemented(t, "PublishFunction", err)
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := v.get(d.domain, "/app/")
		if r.header.Get("X-Fn-Version") == "2" {
			if r.xcache() != edgeHit {
				t.Errorf("after the publish: %q, want a hit", r.xcache())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the published function did not reach the edge: x-fn-version %q", r.header.Get("X-Fn-Version"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	gd, err := c.GetDistribution(ctx(t), &cloudfront.GetDistributionInput{Id: aws.String(d.id)})
	if err != nil {
		t.Fatal(err)
	}
	if *gd.ETag != d.etag {
		t.Errorf("the distribution changed (ETag %s, was %s)", *gd.ETag, d.etag)
	}
}
