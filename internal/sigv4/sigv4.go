// Package sigv4 verifies AWS Signature Version 4 on incoming requests, the
// way AWS services do, with AWS's error codes for each kind of failure.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

const (
	algorithm  = "AWS4-HMAC-SHA256"
	timeFormat = "20060102T150405Z"
	// MaxSkew is how far a request's date may be from the server's clock.
	MaxSkew = 15 * time.Minute
)

// Error is a failed verification, with the code, message and HTTP status
// AWS returns for it.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func missing() *Error {
	return &Error{http.StatusForbidden, "MissingAuthenticationToken", "Missing Authentication Token"}
}

func incomplete(format string, args ...any) *Error {
	return &Error{http.StatusBadRequest, "IncompleteSignature", fmt.Sprintf(format, args...)}
}

func mismatch(msg string) *Error {
	return &Error{http.StatusForbidden, "SignatureDoesNotMatch", msg}
}

const msgMismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

// Verifier checks requests signed for one service.
type Verifier struct {
	// Service is the signing name, "cloudfront".
	Service string
	// Secret returns the secret key of an access key id.
	Secret func(accessKeyID string) (secret string, ok bool)
	// Now is the server's clock; time.Now when nil.
	Now func() time.Time
}

// Verify checks r, whose body has been read into body, and returns the
// access key id that signed it. The region of the credential scope is not
// checked: SDKs pointed at a custom endpoint sign with whatever region they
// are configured with.
func (v *Verifier) Verify(r *http.Request, body []byte) (string, error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		if r.URL.Query().Has("X-Amz-Signature") {
			return "", incomplete("Presigned requests are not supported by openfront; sign with the Authorization header.")
		}
		return "", missing()
	}
	if !strings.HasPrefix(auth, algorithm+" ") {
		return "", incomplete("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters with algorithm %s.", algorithm)
	}
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(auth, algorithm+" "), ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return "", incomplete("Authorization header parameter %q is not of the form key=value.", strings.TrimSpace(part))
		}
		fields[k] = val
	}
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if fields[k] == "" {
			return "", incomplete("Authorization header requires '%s' parameter. Authorization=%s", k, auth)
		}
	}
	// Credential = AKID/yyyymmdd/region/service/aws4_request
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 5 || cred[4] != "aws4_request" {
		return "", incomplete("Credential %q should be of the form <key>/<date>/<region>/<service>/aws4_request.", fields["Credential"])
	}
	keyID, day, region, service := cred[0], cred[1], cred[2], cred[3]
	secret, ok := v.Secret(keyID)
	if !ok {
		return "", &Error{http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid."}
	}
	if service != v.Service {
		return "", mismatch(fmt.Sprintf("Credential should be scoped to correct service: '%s'.", v.Service))
	}

	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		amzDate = r.Header.Get("Date")
	}
	when, err := time.Parse(timeFormat, amzDate)
	if err != nil {
		if t, err2 := http.ParseTime(amzDate); err2 == nil {
			when, err = t.UTC(), nil
			amzDate = when.Format(timeFormat)
		}
	}
	if err != nil {
		return "", incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	n := now().UTC()
	if when.Before(n.Add(-MaxSkew)) {
		return "", mismatch(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			amzDate, n.Add(-MaxSkew).Format(timeFormat), n.Format(timeFormat)))
	}
	if when.After(n.Add(MaxSkew)) {
		return "", mismatch(fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)",
			amzDate, n.Add(MaxSkew).Format(timeFormat), n.Format(timeFormat)))
	}
	if day != amzDate[:8] {
		return "", mismatch(fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", day, amzDate[:8], amzDate))
	}

	signed := strings.Split(fields["SignedHeaders"], ";")
	if !slices.Contains(signed, "host") {
		return "", mismatch("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	sum := sha256.Sum256(body)
	bodyHash := hex.EncodeToString(sum[:])
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	switch payloadHash {
	case "":
		payloadHash = bodyHash
	case "UNSIGNED-PAYLOAD", bodyHash:
	default:
		return "", &Error{http.StatusBadRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."}
	}
	canonical := canonicalRequest(r, signed, payloadHash)
	scope := day + "/" + region + "/" + service + "/aws4_request"
	creq := sha256.Sum256([]byte(canonical))
	stringToSign := algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(creq[:])

	key := hmacSHA256([]byte("AWS4"+secret), day)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(key, stringToSign))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return "", mismatch(msgMismatch)
	}
	return keyID, nil
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func canonicalRequest(r *http.Request, signed []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	// Every SDK but S3's escapes the already-escaped path once more.
	b.WriteString(escape(path, false))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.Query()))
	b.WriteByte('\n')
	for _, h := range signed {
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(headerValue(r, h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

func headerValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		if v := r.Header.Values("Content-Length"); len(v) > 0 {
			vals = v
		} else if r.ContentLength >= 0 {
			vals = []string{fmt.Sprint(r.ContentLength)}
		}
	default:
		vals = r.Header.Values(name)
	}
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}

func canonicalQuery(q url.Values) string {
	type pair struct{ k, v string }
	var ps []pair
	for k, vs := range q {
		for _, v := range vs {
			ps = append(ps, pair{escape(k, true), escape(v, true)})
		}
	}
	slices.SortFunc(ps, func(a, b pair) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// escape percent-encodes s as SigV4 requires: unreserved characters stay,
// '/' stays unless encodeSlash, everything else becomes %XX.
func escape(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encodeSlash) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// Sign adds Signature Version 4 headers (X-Amz-Date, X-Amz-Content-Sha256,
// Authorization) to r for body, as AWS SDKs do. openfront's edges sign
// their requests to the control plane with it.
func Sign(r *http.Request, body []byte, keyID, secret, region, service string, now time.Time) {
	amzDate := now.UTC().Format(timeFormat)
	day := amzDate[:8]
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	r.Header.Set("X-Amz-Date", amzDate)
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if r.Host == "" {
		r.Host = r.URL.Host
	}
	signed := []string{"host", "x-amz-content-sha256", "x-amz-date"}
	creq := sha256.Sum256([]byte(canonicalRequest(r, signed, payloadHash)))
	scope := day + "/" + region + "/" + service + "/aws4_request"
	stringToSign := algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(creq[:])
	key := hmacSHA256([]byte("AWS4"+secret), day)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, "aws4_request")
	r.Header.Set("Authorization", algorithm+" Credential="+keyID+"/"+scope+
		", SignedHeaders="+strings.Join(signed, ";")+", Signature="+hex.EncodeToString(hmacSHA256(key, stringToSign)))
}
