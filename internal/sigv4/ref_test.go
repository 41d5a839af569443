package sigv4

// The verifier as it was before it was optimized (commit 52bb890), kept
// as the reference the optimized one is compared with; since then with
// the hardening's rules (SignedHeaders in canonical form and bounded, the
// canonical request bounded, the payload always hashed).

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

// Verify checks r, whose body has been read into body, and returns the
// access key id that signed it. The region of the credential scope is not
// checked: SDKs pointed at a custom endpoint sign with whatever region they
// are configured with.
func (v *Verifier) refVerify(r *http.Request, body []byte) (string, error) {
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
	if len(signed) > MaxSignedHeaders {
		return "", mismatch(fmt.Sprintf("SignedHeaders lists %d headers; at most %d may be signed.", len(signed), MaxSignedHeaders))
	}
	if slices.Contains(signed, "") || !slices.IsSorted(signed) || len(slices.Compact(slices.Clone(signed))) != len(signed) {
		return "", mismatch(msgMismatch)
	}
	sum := sha256.Sum256(body)
	bodyHash := hex.EncodeToString(sum[:])
	switch r.Header.Get("X-Amz-Content-Sha256") {
	case "", "UNSIGNED-PAYLOAD", bodyHash:
	default:
		return "", &Error{http.StatusBadRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."}
	}
	canonical := refCanonicalRequest(r, signed, bodyHash)
	if len(canonical) > MaxCanonicalRequestBytes {
		return "", headerTooLarge()
	}
	scope := day + "/" + region + "/" + service + "/aws4_request"
	creq := sha256.Sum256([]byte(canonical))
	stringToSign := algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(creq[:])

	key := refHMACSHA256([]byte("AWS4"+secret), day)
	key = refHMACSHA256(key, region)
	key = refHMACSHA256(key, service)
	key = refHMACSHA256(key, "aws4_request")
	want := hex.EncodeToString(refHMACSHA256(key, stringToSign))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return "", mismatch(msgMismatch)
	}
	return keyID, nil
}

func refHMACSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func refCanonicalRequest(r *http.Request, signed []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	// Every SDK but S3's escapes the already-escaped path once more.
	b.WriteString(refEscape(path, false))
	b.WriteByte('\n')
	b.WriteString(refCanonicalQuery(r.URL.Query()))
	b.WriteByte('\n')
	for _, h := range signed {
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(refHeaderValue(r, h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

func refHeaderValue(r *http.Request, name string) string {
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

func refCanonicalQuery(q url.Values) string {
	type pair struct{ k, v string }
	var ps []pair
	for k, vs := range q {
		for _, v := range vs {
			ps = append(ps, pair{refEscape(k, true), refEscape(v, true)})
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
func refEscape(s string, encodeSlash bool) string {
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

func refPayloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}
