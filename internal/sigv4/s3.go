package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Credentials are an AWS access key: its id and secret and, for temporary
// credentials, the session token.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
}

// Valid reports whether c has an access key id and a secret.
func (c Credentials) Valid() bool { return c.AccessKeyID != "" && c.SecretAccessKey != "" }

// String never shows the secret or the token, so that Credentials can be
// logged or printed by mistake without leaking them.
func (c Credentials) String() string {
	if c.AccessKeyID == "" {
		return "(none)"
	}
	return c.AccessKeyID + " (secret hidden)"
}

// GoString is String, for %#v.
func (c Credentials) GoString() string { return c.String() }

// Payload hashes for SignS3.
const (
	// UnsignedPayload is the X-Amz-Content-Sha256 of a request whose body
	// the signature does not cover.
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	// EmptyPayloadHash is the SHA-256 of an empty body, in hex.
	EmptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// s3SignedPlain are the headers other than x-amz-* that SignS3 signs when
// the request has them, as the S3 API reference's examples do.
var s3SignedPlain = []string{"content-md5", "content-type", "date", "range"}

// SignS3 signs r for Amazon S3 (service s3) in region with c, as S3's
// SDKs do with the Authorization header: it sets X-Amz-Date,
// X-Amz-Content-Sha256 (payloadHash: the body's SHA-256 in hex,
// EmptyPayloadHash or UnsignedPayload) and, with a session token,
// X-Amz-Security-Token, then Authorization over the method, the path and
// query, Host, every X-Amz-* header and those of Content-MD5,
// Content-Type, Date and Range that r has. S3 does not normalize paths nor
// encode them twice; so that what is signed is exactly what is sent, r's
// path and query are rewritten in their canonical encoding first (the
// same resource: each segment and each query name and value decoded, then
// percent-encoded with only unreserved characters left; '+' in the query
// is a space; the query's parameters sorted). An Authorization r had is
// replaced.
func SignS3(r *http.Request, c Credentials, region, payloadHash string, now time.Time) {
	canonicalizeS3URL(r.URL)
	amzDate := now.UTC().Format(timeFormat)
	day := amzDate[:8]
	for k := range r.Header { // in any case: a map filled by hand may have them so
		switch strings.ToLower(k) {
		case "authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token":
			delete(r.Header, k)
		}
	}
	r.Header.Set("X-Amz-Date", amzDate)
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if c.SessionToken != "" {
		r.Header.Set("X-Amz-Security-Token", c.SessionToken)
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	// Header names in any case (a map filled by hand may have them so)
	// are one header, as on the wire.
	names := []string{"host"}
	vals := map[string][]string{}
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-amz-") || slices.Contains(s3SignedPlain, lk) {
			if _, seen := vals[lk]; !seen {
				names = append(names, lk)
			}
			vals[lk] = append(vals[lk], vs...)
		}
	}
	slices.Sort(names)
	signed := strings.Join(names, ";")

	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(r.URL.EscapedPath())
	b.WriteByte('\n')
	b.WriteString(r.URL.RawQuery)
	b.WriteByte('\n')
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(':')
		if n == "host" {
			b.Write(appendTrimmed(nil, host))
		} else {
			for i, v := range vals[n] {
				if i > 0 {
					b.WriteByte(',')
				}
				b.Write(appendTrimmed(nil, v))
			}
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(signed)
	b.WriteByte('\n')
	b.WriteString(payloadHash)

	sts := appendStringToSign([]byte(b.String()), amzDate, day, region, "s3")
	key := signKeys.signingKey(c.SecretAccessKey, day, region, "s3")
	mac := hmacSum(key[:], sts)
	r.Header.Set("Authorization", algorithm+" Credential="+c.AccessKeyID+"/"+day+"/"+region+"/s3/aws4_request"+
		", SignedHeaders="+signed+", Signature="+hex.EncodeToString(mac[:]))
}

// PayloadHash is the X-Amz-Content-Sha256 of body.
func PayloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// ValidPayloadHash reports whether v can be an X-Amz-Content-Sha256 that
// SignS3 signs: UnsignedPayload or 64 lower-case hex digits.
func ValidPayloadHash(v string) bool {
	if v == UnsignedPayload {
		return true
	}
	if len(v) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// canonicalizeS3URL rewrites u's path and query in the encoding S3's
// canonical request has them (see SignS3).
func canonicalizeS3URL(u *url.URL) {
	raw := u.EscapedPath()
	if raw == "" {
		raw = "/"
	}
	var p []byte
	for i, seg := range strings.Split(raw, "/") {
		if i > 0 {
			p = append(p, '/')
		}
		if s, err := url.PathUnescape(seg); err == nil {
			seg = s
		} // else: not an encoding; its bytes are taken as they are
		p = appendEscape(p, seg, true)
	}
	u.RawPath = string(p)
	u.Path, _ = url.PathUnescape(u.RawPath) // cannot fail: appendEscape's output
	u.RawQuery = canonicalS3Query(u.RawQuery)
	u.ForceQuery = false
}

// canonicalS3Query is the canonical form of a raw query: its parameters'
// names and values decoded ('+' as a space) and percent-encoded with only
// unreserved characters left, sorted by name then value, a parameter
// without '=' taken as having an empty value.
func canonicalS3Query(raw string) string {
	if raw == "" {
		return ""
	}
	var ps []pair
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		ps = append(ps, pair{escape(queryUnescape(k), true), escape(queryUnescape(v), true)})
	}
	return joinPairs(ps)
}

// queryUnescape decodes s as a query component; one that is not a valid
// encoding is taken as it is.
func queryUnescape(s string) string {
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}
