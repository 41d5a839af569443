package edge

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/openfront/openfront/internal/originaccess"
	"github.com/openfront/openfront/internal/sigv4"
)

// s3Domain is what an Amazon S3 bucket's domain name says.
type s3Domain struct {
	bucket string
	region string // the region requests are signed for
	// website: a static website endpoint, which CloudFront takes as a
	// custom origin: no origin access control applies to it.
	website bool
}

// parseS3Domain reads the bucket and region of an S3 domain name, in the
// forms AWS documents for buckets (virtual-hosted style) and their
// website endpoints, in the aws and aws-cn partitions:
//
//	<bucket>.s3.amazonaws.com                 us-east-1 (the legacy global endpoint)
//	<bucket>.s3-external-1.amazonaws.com      us-east-1
//	<bucket>.s3.<region>.amazonaws.com
//	<bucket>.s3-<region>.amazonaws.com        (legacy dash form)
//	<bucket>.s3.dualstack.<region>.amazonaws.com
//	<bucket>.s3-website-<region>.amazonaws.com, <bucket>.s3-website.<region>.amazonaws.com
//
// with .amazonaws.com.cn in place of .amazonaws.com in China. The bucket
// must be a DNS-compatible bucket name (3 to 63 of a-z, 0-9, '.' and '-').
func parseS3Domain(host string) (s3Domain, bool) {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	rest, ok := strings.CutSuffix(h, ".amazonaws.com")
	if !ok {
		if rest, ok = strings.CutSuffix(h, ".amazonaws.com.cn"); !ok {
			return s3Domain{}, false
		}
	}
	labels := strings.Split(rest, ".")
	n := len(labels)
	try := func(k int, d s3Domain) (s3Domain, bool) {
		if n <= k {
			return s3Domain{}, false
		}
		d.bucket = strings.Join(labels[:n-k], ".")
		if !bucketName(d.bucket) || !regionName(d.region) {
			return s3Domain{}, false
		}
		return d, true
	}
	last := labels[n-1]
	switch {
	case n >= 4 && labels[n-3] == "s3" && labels[n-2] == "dualstack":
		return try(3, s3Domain{region: last})
	case n >= 3 && labels[n-2] == "s3":
		return try(2, s3Domain{region: last})
	case n >= 3 && labels[n-2] == "s3-website":
		return try(2, s3Domain{region: last, website: true})
	case last == "s3" || last == "s3-external-1":
		return try(1, s3Domain{region: "us-east-1"})
	case strings.HasPrefix(last, "s3-website-"):
		return try(1, s3Domain{region: strings.TrimPrefix(last, "s3-website-"), website: true})
	case strings.HasPrefix(last, "s3-"):
		return try(1, s3Domain{region: strings.TrimPrefix(last, "s3-")})
	}
	return s3Domain{}, false
}

// bucketName reports whether b is a DNS-compatible bucket name.
func bucketName(b string) bool {
	if len(b) < 3 || len(b) > 63 || b[0] == '.' || b[0] == '-' || b[len(b)-1] == '.' || b[len(b)-1] == '-' {
		return false
	}
	for i := 0; i < len(b); i++ {
		if c := b[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// regionName reports whether r has the form of an AWS region: two
// letters, one or more words, and a number (us-east-1, us-gov-west-1).
func regionName(r string) bool {
	parts := strings.Split(r, "-")
	if len(parts) < 3 || len(parts[0]) != 2 {
		return false
	}
	for i, p := range parts {
		if p == "" {
			return false
		}
		for j := 0; j < len(p); j++ {
			c := p[j]
			digit := '0' <= c && c <= '9'
			if i == len(parts)-1 && !digit || i < len(parts)-1 && !('a' <= c && c <= 'z') {
				return false
			}
		}
	}
	return true
}

// s3EndpointURL is the base URL of a bucket origin mapped to the S3
// endpoint ep: path-style, /<bucket> followed by the origin path.
func s3EndpointURL(ep *url.URL, bucket, originPath string) *url.URL {
	return &url.URL{Scheme: ep.Scheme, Host: ep.Host, Path: "/" + bucket + originPath}
}

// signOrigin signs out, the origin request made for viewer, as the origin
// access control of b's origin says: nothing when the origin has none, is
// not an S3 bucket's REST endpoint, or its control's type is not s3;
// with SigningBehavior always, the viewer's Authorization (if forwarded)
// is replaced by the edge's signature; with no-override, only a request
// whose viewer sent no Authorization is signed (the viewer's goes to the
// origin when the behavior forwards it); with never, nothing is signed.
func (e *Edge) signOrigin(out *http.Request, b *behavior, viewer *http.Request) {
	if b.oac == "" || e.oacs == nil || !b.s3ok || b.s3.website {
		return
	}
	c, ok := e.oacs(b.oac)
	if !ok || c.OriginType != "s3" {
		return
	}
	switch c.SigningBehavior {
	case originaccess.SignAlways:
	case originaccess.SignNoOverride:
		if len(viewer.Header.Values("Authorization")) > 0 {
			return
		}
	default: // never
		return
	}
	if !e.creds.Valid() {
		e.noCredsOnce.Do(func() {
			e.log.Warn("origin access control: no origin credentials (--origin-access-key-id and --origin-secret-access-key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); requests to its origins go unsigned",
				"origin_access_control", b.oac)
		})
		return
	}
	sigv4.SignS3(out, e.creds, b.s3.region, payloadHash(out, viewer), time.Now())
}

// payloadHash is the X-Amz-Content-Sha256 an origin request is signed
// with: the empty body's hash when it has no body; else the viewer's own
// X-Amz-Content-Sha256 (the body's hash, which S3 checks the body
// against), as CloudFront's documentation asks uploaders through OAI and
// OAC to send; else UNSIGNED-PAYLOAD, as the body streams through the
// edge without being held to be hashed.
func payloadHash(out, viewer *http.Request) string {
	if out.Body == nil || out.Body == http.NoBody || out.ContentLength == 0 {
		return sigv4.EmptyPayloadHash
	}
	if v := viewer.Header.Get("X-Amz-Content-Sha256"); sigv4.ValidPayloadHash(v) {
		return v
	}
	return sigv4.UnsignedPayload
}
