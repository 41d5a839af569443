package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Attacks on authentication and on the XML decoders, by a client holding a
// valid access key id (and, for the XML, its secret), against the binary
// with authentication on.

func startAuthServer(t *testing.T) *server {
	t.Helper()
	return startServer(t, options{
		config: authConfig,
		env:    []string{"OPENFRONT_ACCESS_KEY_ID=AKIDADMIN", "OPENFRONT_SECRET_ACCESS_KEY=admin-secret"},
	})
}

// peakGrowth runs f and returns by how many bytes the server's peak RSS
// (VmHWM, reset first where the kernel allows) went over its RSS before.
func peakGrowth(t *testing.T, s *server, f func()) int64 {
	t.Helper()
	pid := s.cmd.Process.Pid
	// "5" resets the peak to the current RSS (Linux 4.0 and later).
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
	before := procStatus(t, pid, "VmRSS")
	f()
	return procStatus(t, pid, "VmHWM") - before
}

// The amplification: a valid access key id, no secret; SignedHeaders
// names one 20 KB header 5,000 times (a 30 KB request head). The verifier
// built a 100 MB canonical request for each (and pooled the buffer). 8 at
// once, on the fast path (CreateInvalidation) and through net/http
// (ListInvalidations), are refused with SignatureDoesNotMatch, and the
// server's peak RSS grows by at most 50 MB.
func TestHostileSignedHeadersAmplification(t *testing.T) {
	s := startAuthServer(t)
	// Warm up: the listener's and the verifier's pools, as a server that
	// has served before has them.
	for range 4 {
		if _, err := create(t, s.client("AKIDADMIN", "admin-secret"), distID, batch("warm-"+strconv.FormatInt(time.Now().UnixNano(), 36), "/a")); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	auth := "AWS4-HMAC-SHA256 Credential=AKIDADMIN/" + now.Format("20060102") + "/us-east-1/cloudfront/aws4_request, SignedHeaders=host;" +
		strings.Repeat("x;", 5000) + "x, Signature=" + strings.Repeat("0", 64)
	big := strings.Repeat("a", 20<<10)
	send := func(method, path, body string) (int, string) {
		req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		req.Header.Set("X-Amz-Date", now.Format("20060102T150405Z"))
		req.Header.Set("X", big)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var took time.Duration
	growth := peakGrowth(t, s, func() {
		start := time.Now()
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				method, path, body := "POST", invPath, `<InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/a</Path></Items></Paths><CallerReference>x</CallerReference></InvalidationBatch>`
				if i%2 == 1 {
					method, path, body = "GET", invPath, ""
				}
				status, b := send(method, path, body)
				if status != 403 || !strings.Contains(b, "<Code>SignatureDoesNotMatch</Code>") {
					t.Errorf("%s %s: %d %s", method, path, status, b)
				}
			})
		}
		wg.Wait()
		took = time.Since(start)
	})
	t.Logf("8 amplification requests refused in %v; peak RSS +%.1f MB", took, float64(growth)/(1<<20))
	if growth > 50<<20 {
		t.Errorf("refusing 8 amplification requests grew the peak RSS by %.1f MB (bound 50 MB)", float64(growth)/(1<<20))
	}
	// The server still serves.
	if _, err := create(t, s.client("AKIDADMIN", "admin-secret"), distID, batch("after", "/a")); err != nil {
		t.Fatal(err)
	}
}

// signRaw signs a request with aws-sdk-go-v2's signer over payloadHash,
// sending the same value as X-Amz-Content-Sha256 (signed).
func signRaw(t *testing.T, req *http.Request, payloadHash string) {
	t.Helper()
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	err := v4.NewSigner().SignHTTP(ctx(t), aws.Credentials{AccessKeyID: "AKIDADMIN", SecretAccessKey: "admin-secret"},
		req, payloadHash, "cloudfront", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func invBatchXML(ref, path string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Paths><Quantity>1</Quantity><Items><Path>` +
		path + `</Path></Items></Paths><CallerReference>` + ref + `</CallerReference></InvalidationBatch>`
}

// UNSIGNED-PAYLOAD does not leave the body out of the signature: a
// CreateInvalidation signed over UNSIGNED-PAYLOAD is refused, and so is
// its signed head replayed with another batch (it was 201). On the fast
// path and through net/http (a query keeps the request off the fast
// path). The real client, which signs the body's hash, still works.
func TestHostileUnsignedPayloadReplay(t *testing.T) {
	s := startAuthServer(t)
	for _, query := range []string{"", "?x=1"} {
		first := invBatchXML("signed-"+query, "/signed")
		req, _ := http.NewRequest("POST", s.URL+invPath+query, strings.NewReader(first))
		signRaw(t, req, "UNSIGNED-PAYLOAD")
		head := req.Header.Clone()
		if status, b := do(t, req); status != 403 || !strings.Contains(b, "<Code>SignatureDoesNotMatch</Code>") {
			t.Errorf("signed over UNSIGNED-PAYLOAD (%q): %d %s", query, status, b)
		}
		replay, _ := http.NewRequest("POST", s.URL+invPath+query, strings.NewReader(invBatchXML("replayed-"+query, "/other")))
		replay.Header = head
		if status, b := do(t, replay); status != 403 || !strings.Contains(b, "<Code>SignatureDoesNotMatch</Code>") {
			t.Errorf("replayed with another batch (%q): %d %s", query, status, b)
		}
		// Signed over the body's hash, the same request is accepted; its
		// replay with another batch is not.
		req, _ = http.NewRequest("POST", s.URL+invPath+query, strings.NewReader(first))
		sum := sha256.Sum256([]byte(first))
		signRaw(t, req, hex.EncodeToString(sum[:]))
		head = req.Header.Clone()
		if status, b := do(t, req); status != 201 {
			t.Errorf("signed over the body (%q): %d %s", query, status, b)
		}
		replay, _ = http.NewRequest("POST", s.URL+invPath+query, strings.NewReader(invBatchXML("replayed2-"+query, "/other")))
		replay.Header = head
		if status, b := do(t, replay); status != 400 || !strings.Contains(b, "<Code>XAmzContentSHA256Mismatch</Code>") {
			t.Errorf("body-signed request replayed with another batch (%q): %d %s", query, status, b)
		}
	}
	if _, err := create(t, s.client("AKIDADMIN", "admin-secret"), distID, batch("sdk", "/sdk")); err != nil {
		t.Fatalf("aws-sdk-go-v2: %v", err)
	}
}

// Deep and attribute-heavy XML, properly signed: 2M nested elements in an
// InvalidationBatch (370 MB and seconds before), a start tag of a million
// attributes in a DistributionConfig. Refused as malformed XML
// (InvalidArgument, 400) with the peak RSS growing by no more than the
// buffered body and a margin.
func TestHostileXMLShapes(t *testing.T) {
	s := startAuthServer(t)
	const malformed = "The XML you provided was not well-formed or did not validate against our published schema."
	for _, tc := range []struct {
		name, method, path, body string
	}{
		{"nested InvalidationBatch", "POST", invPath,
			`<InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/">` + strings.Repeat("<a>", 2_000_000) + strings.Repeat("</a>", 2_000_000) + `</InvalidationBatch>`},
		{"attributes on DistributionConfig", "POST", "/2020-05-31/distribution",
			`<DistributionConfig xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/" ` + strings.Repeat(`a="" `, 2_000_000) + `></DistributionConfig>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, s.URL+tc.path, strings.NewReader(tc.body))
			sum := sha256.Sum256([]byte(tc.body))
			signRaw(t, req, hex.EncodeToString(sum[:]))
			var status int
			var b string
			start := time.Now()
			growth := peakGrowth(t, s, func() { status, b = do(t, req) })
			t.Logf("%d-byte body refused in %v; peak RSS +%.1f MB", len(tc.body), time.Since(start), float64(growth)/(1<<20))
			if status != 400 || !strings.Contains(b, "<Code>InvalidArgument</Code>") || !strings.Contains(b, malformed) {
				t.Errorf("%d %s", status, b)
			}
			if limit := int64(len(tc.body))*3 + 20<<20; growth > limit {
				t.Errorf("peak RSS grew by %.1f MB for a %.1f MB body (bound %.1f MB)", float64(growth)/(1<<20), float64(len(tc.body))/(1<<20), float64(limit)/(1<<20))
			}
		})
	}
}
