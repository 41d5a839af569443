package edge

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/originaccess"
	"github.com/openfront/openfront/internal/sigv4"
	"github.com/openfront/openfront/internal/testutil"
	"github.com/openfront/openfront/internal/testutil/moto"
)

func TestParseS3Domain(t *testing.T) {
	for _, c := range []struct {
		host           string
		bucket, region string
		website, ok    bool
	}{
		{"media.s3.amazonaws.com", "media", "us-east-1", false, true},
		{"Media.S3.AmazonAWS.com.", "media", "us-east-1", false, true},
		{"media.s3.eu-west-3.amazonaws.com", "media", "eu-west-3", false, true},
		{"my.dotted.bucket.s3.us-gov-west-1.amazonaws.com", "my.dotted.bucket", "us-gov-west-1", false, true},
		{"media.s3-ap-southeast-2.amazonaws.com", "media", "ap-southeast-2", false, true},
		{"media.s3-external-1.amazonaws.com", "media", "us-east-1", false, true},
		{"media.s3.dualstack.sa-east-1.amazonaws.com", "media", "sa-east-1", false, true},
		{"media.s3.cn-north-1.amazonaws.com.cn", "media", "cn-north-1", false, true},
		{"site.s3-website-us-east-1.amazonaws.com", "site", "us-east-1", true, true},
		{"site.s3-website.eu-central-1.amazonaws.com", "site", "eu-central-1", true, true},
		{"s3.amazonaws.com", "", "", false, false},                  // no bucket
		{"s3.us-east-1.amazonaws.com", "", "", false, false},        // no bucket
		{"ab.s3.us-east-1.amazonaws.com", "", "", false, false},     // too short a name
		{"Under_score.s3.amazonaws.com", "", "", false, false},      // not DNS-compatible
		{"media.s3.notaregion.amazonaws.com", "", "", false, false}, //
		{"media.s3-accelerate.amazonaws.com", "", "", false, false}, // not an origin's
		{"media.ec2.us-east-1.amazonaws.com", "", "", false, false}, //
		{"media.s3.us-east-1.amazonaws.com.evil.test", "", "", false, false},
		{"example.com", "", "", false, false},
	} {
		d, ok := parseS3Domain(c.host)
		if ok != c.ok || d.bucket != c.bucket || d.region != c.region || d.website != c.website {
			t.Errorf("parseS3Domain(%q) = %+v %v; want %s %s website=%v %v", c.host, d, ok, c.bucket, c.region, c.website, c.ok)
		}
	}
}

// oacTable is an OriginAccessControl func over a map the test changes.
type oacTable struct {
	mu sync.Mutex
	m  map[string]originaccess.Control // guarded by mu
}

func (o *oacTable) set(id, behavior string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[string]originaccess.Control{}
	}
	o.m[id] = originaccess.Control{Name: id, SigningProtocol: "sigv4", SigningBehavior: behavior, OriginType: "s3"}
}

func (o *oacTable) get(id string) (originaccess.Control, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c, ok := o.m[id]
	return c, ok
}

// s3Dist is a distribution whose origin is the bucket's domain name with
// originPath, under the origin access control oac ("" for none).
func s3Dist(id, domain, originPath, oac string, aliases ...string) *distribution.Distribution {
	d := distURL(id, &url.URL{Scheme: "https", Host: domain, Path: originPath}, aliases...)
	o := &d.Config.Origins[0]
	o.S3, o.ProtocolPolicy, o.OriginAccessControlID = true, "", oac
	d.Config.DefaultBehavior.AllowedMethods = []string{"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"}
	return d
}

// Requests to an S3 bucket origin go to the S3 endpoint, path-style, and
// are signed as the origin access control says, with a signature a
// SigV4 verifier accepts, for the bucket's region. (Without moto: the
// endpoint is a recording origin.)
func TestOACSigningBehaviors(t *testing.T) {
	o := newOrigin(t)
	o.setHandler(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	var oacs oacTable
	creds := sigv4.Credentials{AccessKeyID: "AKIDEDGE", SecretAccessKey: "edge-secret"}
	d := s3Dist("E1", "media.s3.eu-west-3.amazonaws.com", "/static", "OAC1", "site.test")
	d.Config.DefaultBehavior.ForwardedHeaders = []string{"Authorization"}
	d.Config.DefaultBehavior.MaxTTL = 0 // every GET goes to the origin
	h := newHarness(t, Config{S3Endpoint: o.url(), OriginAccessControl: oacs.get, OriginCredentials: creds}, d)
	v := &sigv4.Verifier{Service: "s3", Secret: func(id string) (string, bool) { return creds.SecretAccessKey, id == creds.AccessKeyID }}

	check := func(name, method string, viewerAuth string, wantSigned bool, body string) {
		t.Helper()
		req, _ := http.NewRequest(method, h.srv.URL+"/dir/obj.txt", strings.NewReader(body))
		req.Host = "site.test"
		if viewerAuth != "" {
			req.Header.Set("Authorization", viewerAuth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		r := o.lastRequest()
		if r.URL.Path != "/media/static/dir/obj.txt" || r.Host != o.url().Host {
			t.Errorf("%s: origin asked for %s on %s; want /media/static/dir/obj.txt on %s", name, r.URL.Path, r.Host, o.url().Host)
		}
		auth := r.Header.Get("Authorization")
		switch {
		case wantSigned && !strings.Contains(auth, "Credential=AKIDEDGE/") || wantSigned && !strings.Contains(auth, "/eu-west-3/s3/aws4_request"):
			t.Errorf("%s: origin got Authorization %q; want the edge's signature for eu-west-3", name, auth)
		case wantSigned:
			if _, err := v.Verify(r, []byte(body)); err != nil && r.Header.Get("X-Amz-Content-Sha256") != sigv4.UnsignedPayload {
				t.Errorf("%s: the signature does not verify: %v", name, err)
			}
			if !strings.Contains(auth, "x-amz-cf-id") {
				t.Errorf("%s: X-Amz-Cf-Id is not signed: %s", name, auth)
			}
		case auth != viewerAuth:
			t.Errorf("%s: origin got Authorization %q; want the viewer's %q", name, auth, viewerAuth)
		}
	}
	check("no control known", "GET", "", false, "")
	oacs.set("OAC1", originaccess.SignAlways)
	check("always", "GET", "", true, "")
	check("always, viewer's Authorization replaced", "GET", "Bearer viewer", true, "")
	check("always, PUT", "PUT", "", true, "uploaded")
	oacs.set("OAC1", originaccess.SignNoOverride)
	check("no-override", "GET", "", true, "")
	check("no-override, viewer's Authorization kept", "GET", "Bearer viewer", false, "")
	oacs.set("OAC1", originaccess.SignNever)
	check("never", "GET", "", false, "")
	check("never, viewer's Authorization forwarded", "GET", "Bearer viewer", false, "")

	// A PUT is signed with the viewer's X-Amz-Content-Sha256 when it sent
	// one, with UNSIGNED-PAYLOAD when not; a GET with the empty body's.
	oacs.set("OAC1", originaccess.SignAlways)
	for _, c := range []struct{ method, viewerHash, want string }{
		{"GET", "", sigv4.EmptyPayloadHash},
		{"PUT", "", sigv4.UnsignedPayload},
		{"PUT", sigv4.PayloadHash([]byte("data")), sigv4.PayloadHash([]byte("data"))},
		{"PUT", "not-a-hash", sigv4.UnsignedPayload},
	} {
		body := ""
		if c.method == "PUT" {
			body = "data"
		}
		req, _ := http.NewRequest(c.method, h.srv.URL+"/dir/obj.txt", strings.NewReader(body))
		req.Host = "site.test"
		if c.viewerHash != "" {
			req.Header.Set("X-Amz-Content-Sha256", c.viewerHash)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		r := o.lastRequest()
		if got := r.Header.Get("X-Amz-Content-Sha256"); got != c.want {
			t.Errorf("%s with viewer hash %q: signed with %q, want %q", c.method, c.viewerHash, got, c.want)
		}
	}
}

// No origin is signed without credentials: a warning says so, once.
func TestOACWithoutCredentials(t *testing.T) {
	o := newOrigin(t)
	o.setHandler(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	var oacs oacTable
	oacs.set("OAC1", originaccess.SignAlways)
	var logs testutil.SyncBuffer
	d := s3Dist("E1", "media.s3.amazonaws.com", "", "OAC1", "site.test")
	d.Config.DefaultBehavior.MaxTTL = 0
	h := newHarness(t, Config{S3Endpoint: o.url(), OriginAccessControl: oacs.get, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, d)
	h.get("site.test", "/a")
	h.get("site.test", "/b")
	if a := o.lastRequest().Header.Get("Authorization"); a != "" {
		t.Errorf("signed without credentials: %q", a)
	}
	if n := strings.Count(logs.String(), "no origin credentials"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
}

// The real thing: moto's S3, with authentication enforced, holds a
// private object; the edge gets it only with the right secret and a
// signature, and a viewer gets moto's refusal otherwise.
func TestOACAgainstMoto(t *testing.T) {
	if testing.Short() {
		t.Skip("starts moto's server (python)")
	}
	m := moto.Start(t)
	creds := m.CreateUser(t, "cloudfront-edge")
	m.CreateBucket(t, "private-media")
	m.PutObject(t, "private-media", "static/hello.txt", "text/plain", []byte("private hello"))
	// A space: moto re-encodes the path it received before checking a
	// signature, and leaves sub-delimiters (!, (, ), ...) bare and UTF-8
	// otherwise than S3 and botocore encode them: it refuses botocore's
	// own signature for such keys, so they are left to the signer's
	// botocore vectors (internal/sigv4).
	m.PutObject(t, "private-media", "static/odd%20name.txt", "text/plain", []byte("odd name"))
	m.EnforceAuth(t)
	ep, _ := url.Parse(m.URL)

	var oacs oacTable
	oacs.set("OACS3", originaccess.SignAlways)
	edgeWith := func(t *testing.T, c sigv4.Credentials) *harness {
		d := s3Dist("E1", "private-media.s3.us-east-1.amazonaws.com", "/static", "OACS3", "site.test")
		d.Config.DefaultBehavior.ForwardQueryString = true
		d.Config.DefaultBehavior.ForwardedHeaders = []string{"Authorization"}
		return newHarness(t, Config{S3Endpoint: ep, OriginAccessControl: oacs.get, OriginCredentials: c}, d)
	}

	t.Run("right secret", func(t *testing.T) {
		h := edgeWith(t, creds)
		h.expect("site.test", "/hello.txt", "private hello", miss)
		h.expect("site.test", "/hello.txt", "private hello", hit)
		h.expect("site.test", "/odd%20name.txt", "odd name", miss)
		h.expect("site.test", "/hello.txt?versionless=1&a=b+c", "private hello", miss)
		// Through the passthrough: an upload, signed UNSIGNED-PAYLOAD,
		// then read back.
		req, _ := http.NewRequest("PUT", h.srv.URL+"/uploaded.txt", bytes.NewReader([]byte("uploaded through the edge")))
		req.Host = "site.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("PUT through the edge: %d %s", resp.StatusCode, b)
		}
		h.expect("site.test", "/uploaded.txt", "uploaded through the edge", miss)
	})
	t.Run("wrong secret", func(t *testing.T) {
		h := edgeWith(t, sigv4.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey + "x"})
		r := h.get("site.test", "/hello.txt")
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "<Code>SignatureDoesNotMatch</Code>") || r.xcache() != errX {
			t.Errorf("wrong secret: %d %q %q; want 403 SignatureDoesNotMatch from moto", r.status, r.body, r.xcache())
		}
	})
	t.Run("never", func(t *testing.T) {
		oacs.set("OACS3", originaccess.SignNever)
		defer oacs.set("OACS3", originaccess.SignAlways)
		h := edgeWith(t, creds)
		if r := h.get("site.test", "/hello.txt"); r.status != http.StatusForbidden || strings.Contains(r.body, "private hello") {
			t.Errorf("never: %d %q; want 403", r.status, r.body)
		}
	})
	t.Run("no-override with the viewer's Authorization", func(t *testing.T) {
		oacs.set("OACS3", originaccess.SignNoOverride)
		defer oacs.set("OACS3", originaccess.SignAlways)
		h := edgeWith(t, creds)
		bogus := "AWS4-HMAC-SHA256 Credential=AKIDVIEWER0000000000/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00"
		if r := h.get("site.test", "/hello.txt", "Authorization", bogus); r.status != http.StatusForbidden {
			t.Errorf("no-override, viewer's Authorization: %d %q; want moto's 403", r.status, r.body)
		}
		h.expect("site.test", "/hello.txt?no-viewer-auth", "private hello", miss)
	})
}
