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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

const (
	// MaxSignedHeaders is how many names SignedHeaders may list; a longer
	// list is refused (SignatureDoesNotMatch) before the canonical request
	// is built. SDKs sign a handful.
	MaxSignedHeaders = 64
	// MaxCanonicalRequestBytes bounds the canonical request a verification
	// builds. With SignedHeaders sorted and unique each header line goes
	// into it once, so it is bounded by the request head (path and query
	// percent-encoded at most thrice); past this bound the request is
	// refused (RequestHeaderSectionTooLarge) without hashing it.
	MaxCanonicalRequestBytes = 128 << 10
)

// Scratch buffers larger than these are left to the garbage collector
// rather than pooled: one hostile request must not pin its buffers.
const (
	maxPooledBytes  = 16 << 10
	maxPooledValues = 64
)

func headerTooLarge() *Error {
	return &Error{http.StatusBadRequest, "RequestHeaderSectionTooLarge", "Your request header section exceeds the maximum allowed size."}
}

// Verifier checks requests signed for one service.
type Verifier struct {
	// Service is the signing name, "cloudfront".
	Service string
	// Secret returns the secret key of an access key id.
	Secret func(accessKeyID string) (secret string, ok bool)
	// Now is the server's clock; time.Now when nil.
	Now func() time.Time

	// SigV4A also accepts Signature Version 4A (AWS4-ECDSA-P256-SHA256),
	// which the SDKs use for multi-region services such as
	// cloudfront-keyvaluestore.
	SigV4A bool

	keys      keyCache
	ecdsaKeys ecdsaKeyCache
}

// keyCache caches signing keys: deriving one takes four HMACs, and it is
// the same for every request of a secret, day, region and service.
type keyCache struct {
	mu   sync.Mutex
	keys map[scopeKey]*cachedKey // guarded by mu
	// last is the key found last: requests usually come with the scope
	// of the one before, and comparing it spares the map's hashing and
	// the mutex (which every request would take).
	last atomic.Pointer[cachedKey]
}

type scopeKey struct{ secret, day, region, service string }

// cachedKey is a signing key and its scope; never changed once made.
type cachedKey struct {
	scope scopeKey
	key   [sha256.Size]byte
}

// maxCachedKeys bounds the signing key cache (a day's keys of that many
// access keys and regions); it is emptied when full.
const maxCachedKeys = 1024

// signingKey returns the signing key of a secret for a scope.
func (c *keyCache) signingKey(secret, day, region, service string) [sha256.Size]byte {
	k := scopeKey{secret, day, region, service}
	if l := c.last.Load(); l != nil && l.scope == k {
		return l.key
	}
	c.mu.Lock()
	ck := c.keys[k]
	c.mu.Unlock()
	if ck != nil {
		c.last.Store(ck)
		return ck.key
	}
	// The scope's strings may be the transport's buffers (VerifyRequest),
	// reused for the next request: the cache keeps copies.
	ck = &cachedKey{scope: scopeKey{strings.Clone(secret), strings.Clone(day), strings.Clone(region), strings.Clone(service)}}
	copy(ck.key[:], deriveKey(secret, day, region, service))
	c.mu.Lock()
	if c.keys == nil || len(c.keys) >= maxCachedKeys {
		c.keys = make(map[scopeKey]*cachedKey)
	}
	c.keys[ck.scope] = ck
	c.mu.Unlock()
	c.last.Store(ck)
	return ck.key
}

func deriveKey(secret, day, region, service string) []byte {
	key := hmacSHA256([]byte("AWS4"+secret), day)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, service)
	return hmacSHA256(key, "aws4_request")
}

// Request is what verification reads of a request, whatever the
// transport: net/http's *http.Request (Verify) or a server's own request
// type (VerifyRequest). Its strings need only stay valid during the call.
type Request interface {
	// Method is the request method.
	Method() string
	// EscapedPath is the path as the client sent it (not decoded); ""
	// is read as "/".
	EscapedPath() string
	// RawQuery is the query as the client sent it, without the '?'.
	RawQuery() string
	// Host is the Host header (net/http's Request.Host).
	Host() string
	// AppendHeader appends the values of the header named name (any
	// case) to dst, in the order the request has them, and returns dst.
	// It is not asked for Host. A verification asks for at most
	// MaxSignedHeaders+3 names, so a request of many header lines should
	// not be scanned whole for each.
	AppendHeader(dst []string, name string) []string
	// ContentLength is the body's length, -1 when unknown.
	ContentLength() int64
}

// httpRequest is an *http.Request as a Request.
type httpRequest struct{ r *http.Request }

func (h httpRequest) Method() string       { return h.r.Method }
func (h httpRequest) EscapedPath() string  { return h.r.URL.EscapedPath() }
func (h httpRequest) RawQuery() string     { return h.r.URL.RawQuery }
func (h httpRequest) Host() string         { return h.r.Host }
func (h httpRequest) ContentLength() int64 { return h.r.ContentLength }
func (h httpRequest) AppendHeader(dst []string, name string) []string {
	return append(dst, h.r.Header[http.CanonicalHeaderKey(name)]...)
}

// scratch is the buffers a verification builds the canonical request,
// the string to sign and header value lists in.
type scratch struct {
	b    []byte
	vals []string
}

var scratchPool = sync.Pool{New: func() any { return &scratch{b: make([]byte, 0, 1024), vals: make([]string, 0, 4)} }}

// release returns s to the pool, with no reference to a request's strings,
// unless a large request grew its buffers.
func (s *scratch) release() {
	clear(s.vals[:cap(s.vals)])
	if cap(s.b) > maxPooledBytes || cap(s.vals) > maxPooledValues {
		return
	}
	scratchPool.Put(s)
}

// first returns the first value of a header, "" when there is none.
func (s *scratch) first(r Request, name string) string {
	s.vals = r.AppendHeader(s.vals[:0], name)
	if len(s.vals) == 0 {
		return ""
	}
	return s.vals[0]
}

// Verify checks r, whose body has been read into body, and returns the
// access key id that signed it. The region of the credential scope is not
// checked: SDKs pointed at a custom endpoint sign with whatever region they
// are configured with.
func (v *Verifier) Verify(r *http.Request, body []byte) (string, error) {
	return v.VerifyRequest(httpRequest{r}, body)
}

// VerifyRequest is Verify for a request of any transport: the same checks,
// the same errors.
func (v *Verifier) VerifyRequest(r Request, body []byte) (string, error) {
	return v.verify(r, body, false)
}

// VerifyHeader is what VerifyRequest can check of r before its body is
// read, with the same errors: the Authorization header's form, the access
// key id, the scope and the date, and, when the request has an
// X-Amz-Content-Sha256 header (which the signature covers, and which then
// stands for the body), the signature. It returns the access key id;
// VerifyRequest must still check the request once its body is read.
func (v *Verifier) VerifyHeader(r Request) (string, error) {
	return v.verify(r, nil, true)
}

// verify is VerifyRequest, or VerifyHeader when headerOnly (body unread).
func (v *Verifier) verify(r Request, body []byte, headerOnly bool) (string, error) {
	sc := scratchPool.Get().(*scratch)
	defer sc.release()
	auth := sc.first(r, "Authorization")
	if auth == "" {
		if q, _ := url.ParseQuery(r.RawQuery()); q.Has("X-Amz-Signature") {
			return "", incomplete("Presigned requests are not supported by openfront; sign with the Authorization header.")
		}
		return "", missing()
	}
	alg := algorithm
	switch {
	case strings.HasPrefix(auth, algorithm+" "):
	case v.SigV4A && strings.HasPrefix(auth, AlgorithmV4A+" "):
		alg = AlgorithmV4A
	default:
		return "", incomplete("Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters with algorithm %s.", algorithm)
	}
	// Parameters are comma-separated key=value pairs; the last of a
	// repeated key counts, unknown keys are ignored.
	var credential, signedHeaders, signature string
	for rest, more := auth[len(alg)+1:], true; more; {
		var part string
		part, rest, more = strings.Cut(rest, ",")
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return "", incomplete("Authorization header parameter %q is not of the form key=value.", strings.TrimSpace(part))
		}
		switch k {
		case "Credential":
			credential = val
		case "SignedHeaders":
			signedHeaders = val
		case "Signature":
			signature = val
		}
	}
	for _, p := range [...]struct{ k, v string }{{"Credential", credential}, {"SignedHeaders", signedHeaders}, {"Signature", signature}} {
		if p.v == "" {
			return "", incomplete("Authorization header requires '%s' parameter. Authorization=%s", p.k, auth)
		}
	}
	// Credential = AKID/yyyymmdd/region/service/aws4_request; SigV4A's
	// scope has no region (the signature holds for the region set of
	// the X-Amz-Region-Set header, which it covers).
	var cred [5]string
	var keyID, day, region, service string
	if alg == AlgorithmV4A {
		if n := splitN(credential, '/', cred[:]); n != 4 || cred[3] != "aws4_request" {
			return "", incomplete("Credential %q should be of the form <key>/<date>/<service>/aws4_request.", credential)
		}
		keyID, day, service = cred[0], cred[1], cred[2]
	} else {
		if n := splitN(credential, '/', cred[:]); n != 5 || cred[4] != "aws4_request" {
			return "", incomplete("Credential %q should be of the form <key>/<date>/<region>/<service>/aws4_request.", credential)
		}
		keyID, day, region, service = cred[0], cred[1], cred[2], cred[3]
	}
	secret, ok := v.Secret(keyID)
	if !ok {
		return "", &Error{http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid."}
	}
	if service != v.Service {
		return "", mismatch(fmt.Sprintf("Credential should be scoped to correct service: '%s'.", v.Service))
	}

	amzDate := sc.first(r, "X-Amz-Date")
	if amzDate == "" {
		amzDate = sc.first(r, "Date")
	}
	when, err := parseAmzDate(amzDate)
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

	if err := checkSignedHeaders(signedHeaders); err != nil {
		return "", err
	}
	// The payload is always signed: UNSIGNED-PAYLOAD is S3's, and the
	// CloudFront API, like AWS's other services, hashes the body it
	// received whatever x-amz-content-sha256 says. A signature made over
	// UNSIGNED-PAYLOAD (or over another body) does not match.
	payloadHash := sc.first(r, "X-Amz-Content-Sha256")
	var bodyHash [2 * sha256.Size]byte
	if headerOnly {
		switch {
		case payloadHash == "" || payloadHash == "UNSIGNED-PAYLOAD":
			// The signature covers the body's hash: it waits for the body.
			return strings.Clone(keyID), nil
		case !isHexHash(payloadHash):
			return "", &Error{http.StatusBadRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."}
		}
		// The body must have this hash: the full check, once it is
		// read, says XAmzContentSHA256Mismatch if it has not.
		copy(bodyHash[:], payloadHash)
	} else {
		sum := sha256.Sum256(body)
		hex.Encode(bodyHash[:], sum[:])
		switch payloadHash {
		case "", "UNSIGNED-PAYLOAD", string(bodyHash[:]):
		default:
			return "", &Error{http.StatusBadRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."}
		}
	}
	b, ok := appendCanonicalRequest(sc.b[:0], r, signedHeaders, bodyHash[:], &sc.vals)
	sc.b = b
	if !ok {
		return "", headerTooLarge()
	}
	if alg == AlgorithmV4A {
		b = appendStringToSignV4A(b, amzDate, day, service)
		sc.b = b
		if !v.ecdsaKeys.verify(keyID, secret, b, signature) {
			return "", mismatch(msgMismatch)
		}
		return strings.Clone(keyID), nil
	}
	b = appendStringToSign(b, amzDate, day, region, service)
	sc.b = b

	key := v.keys.signingKey(secret, day, region, service)
	mac := hmacSum(key[:], b)
	var want [2 * sha256.Size]byte
	hex.Encode(want[:], mac[:])
	if !hmac.Equal(want[:], []byte(signature)) {
		return "", mismatch(msgMismatch)
	}
	// The request's strings may be the transport's buffers.
	return strings.Clone(keyID), nil
}

// isHexHash reports whether s is a SHA-256 in lower-case hex, as a body's
// hash is sent.
func isHexHash(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// parseAmzDate is time.Parse(timeFormat, v), the same times and the same
// failures, with the usual form (16 bytes, digits where the layout has
// them, each field in range) read directly: time.Parse's general reader
// was a large share of VerifyRequest's time. Anything else goes to
// time.Parse.
func parseAmzDate(v string) (time.Time, error) {
	if len(v) != len(timeFormat) || v[8] != 'T' || v[15] != 'Z' {
		return time.Parse(timeFormat, v)
	}
	num := func(i, n int) int {
		x := 0
		for _, c := range []byte(v[i : i+n]) {
			if c < '0' || c > '9' {
				return -1
			}
			x = x*10 + int(c-'0')
		}
		return x
	}
	year, month, day := num(0, 4), num(4, 2), num(6, 2)
	hour, minute, sec := num(9, 2), num(11, 2), num(13, 2)
	if year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Parse(timeFormat, v)
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	if t.Day() != day { // the day is past the month's end
		return time.Parse(timeFormat, v)
	}
	return t, nil
}

// appendStringToSign replaces the canonical request in b by SigV4's
// string to sign for it, in the same buffer.
func appendStringToSign(b []byte, amzDate, day, region, service string) []byte {
	creq := sha256.Sum256(b)
	b = append(b[:0], algorithm+"\n"...)
	b = append(b, amzDate...)
	b = append(b, '\n')
	b = append(b, day...)
	b = append(b, '/')
	b = append(b, region...)
	b = append(b, '/')
	b = append(b, service...)
	b = append(b, "/aws4_request\n"...)
	return hex.AppendEncode(b, creq[:])
}

// splitN splits s at sep into parts and returns how many parts s has
// (which may be more than len(parts): the rest are not stored).
func splitN(s string, sep byte, parts []string) int {
	n := 0
	for {
		i := strings.IndexByte(s, sep)
		if n < len(parts) {
			if i < 0 {
				parts[n] = s
			} else {
				parts[n] = s[:i]
			}
		}
		n++
		if i < 0 {
			return n
		}
		s = s[i+1:]
	}
}

// checkSignedHeaders checks a SignedHeaders list as AWS's canonical form
// has it: names separated by ';', host among them, in increasing byte
// order, each once, and no more than MaxSignedHeaders. A list that is not
// in that form cannot be the one a signature was computed over (SDKs sort
// and deduplicate the names), so it gets AWS's SignatureDoesNotMatch; and
// only a list of unique names bounds the canonical request by the request
// head (a repeated name would copy its header's value once per mention).
func checkSignedHeaders(signed string) *Error {
	n, host, inOrder := 0, false, true
	prev := ""
	for rest, more := signed, true; more; n++ {
		var h string
		h, rest, more = strings.Cut(rest, ";")
		if h == "" || n > 0 && h <= prev {
			inOrder = false
		}
		if h == "host" {
			host = true
		}
		prev = h
	}
	switch {
	case !host:
		return mismatch("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	case n > MaxSignedHeaders:
		return mismatch(fmt.Sprintf("SignedHeaders lists %d headers; at most %d may be signed.", n, MaxSignedHeaders))
	case !inOrder:
		return mismatch(msgMismatch)
	}
	return nil
}

// hmacSum is HMAC-SHA256 of data with key (at most a block long), as
// crypto/hmac computes it but without its allocations (hmac.New, Write
// and Sum allocate five times per request). The signing keys'
// derivation, cached, uses crypto/hmac.
func hmacSum(key, data []byte) [sha256.Size]byte {
	const block = 64
	var pad [block]byte
	copy(pad[:], key)
	for i := range pad {
		pad[i] ^= 0x36
	}
	h := sha256.New()
	h.Write(pad[:])
	h.Write(data)
	var inner, out [sha256.Size]byte
	h.Sum(inner[:0])
	for i := range pad {
		pad[i] ^= 0x36 ^ 0x5c
	}
	h.Reset()
	h.Write(pad[:])
	h.Write(inner[:])
	h.Sum(out[:0])
	return out
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// appendCanonicalRequest appends SigV4's canonical request of r to b;
// signed is the SignedHeaders list (';'-separated); vals is scratch space
// for header values. It gives up (false) once what it appended is over
// MaxCanonicalRequestBytes.
func appendCanonicalRequest[T string | []byte](b []byte, r Request, signed string, payloadHash T, vals *[]string) ([]byte, bool) {
	start := len(b)
	b = append(b, r.Method()...)
	b = append(b, '\n')
	path := r.EscapedPath()
	if path == "" {
		path = "/"
	}
	// Every SDK but S3's escapes the already-escaped path once more.
	b = appendEscape(b, path, false)
	b = append(b, '\n')
	if q := r.RawQuery(); isCanonicalQuery(q) {
		b = append(b, q...) // the usual case, e.g. an edge's name=…&pos=…
	} else {
		qv, _ := url.ParseQuery(q)
		b = append(b, canonicalQuery(qv)...)
	}
	b = append(b, '\n')
	for rest, more := signed, true; more; {
		var h string
		h, rest, more = strings.Cut(rest, ";")
		b = append(b, h...)
		b = append(b, ':')
		b = appendHeaderValue(b, r, h, vals)
		b = append(b, '\n')
		if len(b)-start > MaxCanonicalRequestBytes {
			return b, false
		}
	}
	b = append(b, '\n')
	b = append(b, signed...)
	b = append(b, '\n')
	b = append(b, payloadHash...)
	return b, len(b)-start <= MaxCanonicalRequestBytes
}

// appendHeaderValue appends the canonical value of header name: its
// values, each with runs of white space made one space and trimmed,
// joined by commas.
func appendHeaderValue(b []byte, r Request, name string, vals *[]string) []byte {
	var one string
	*vals = (*vals)[:0]
	switch name {
	case "host":
		one = r.Host()
	case "content-length":
		if *vals = r.AppendHeader(*vals, "Content-Length"); len(*vals) == 0 {
			if n := r.ContentLength(); n >= 0 {
				one = strconv.FormatInt(n, 10)
			}
		}
	default:
		*vals = r.AppendHeader(*vals, name)
	}
	if len(*vals) == 0 {
		return appendTrimmed(b, one)
	}
	for i, v := range *vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendTrimmed(b, v)
	}
	return b
}

// appendTrimmed appends strings.Join(strings.Fields(v), " ").
func appendTrimmed(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 0x80 || c <= ' ' && (c != ' ' || i == 0 || i == len(v)-1 || v[i+1] == ' ') {
			return append(b, strings.Join(strings.Fields(v), " ")...)
		}
	}
	return append(b, v...)
}

// isCanonicalQuery reports whether a raw query is its own canonical form:
// empty, or key=value pairs of unreserved characters only, in order.
func isCanonicalQuery(raw string) bool {
	var prevK, prevV string
	for more := raw != ""; more; {
		var pair string
		pair, raw, more = strings.Cut(raw, "&")
		k, v, ok := strings.Cut(pair, "=")
		if !ok || k == "" || !unreserved(k) || !unreserved(v) || k < prevK || k == prevK && v < prevV {
			return false
		}
		prevK, prevV = k, v
	}
	return true
}

func unreserved(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			return false
		}
	}
	return true
}

func canonicalQuery(q url.Values) string {
	var ps []pair
	for k, vs := range q {
		for _, v := range vs {
			ps = append(ps, pair{escape(k, true), escape(v, true)})
		}
	}
	return joinPairs(ps)
}

// escape percent-encodes s as SigV4 requires: unreserved characters stay,
// '/' stays unless encodeSlash, everything else becomes %XX.
func escape(s string, encodeSlash bool) string {
	return string(appendEscape(nil, s, encodeSlash))
}

func appendEscape(b []byte, s string, encodeSlash bool) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encodeSlash) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return b
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
	const signed = "host;x-amz-content-sha256;x-amz-date"
	sc := scratchPool.Get().(*scratch)
	defer sc.release()
	b, _ := appendCanonicalRequest(sc.b[:0], httpRequest{r}, signed, payloadHash, &sc.vals)
	b = appendStringToSign(b, amzDate, day, region, service)
	sc.b = b
	scope := day + "/" + region + "/" + service + "/aws4_request"
	key := signKeys.signingKey(secret, day, region, service)
	mac := hmacSum(key[:], b)
	r.Header.Set("Authorization", algorithm+" Credential="+keyID+"/"+scope+
		", SignedHeaders="+signed+", Signature="+hex.EncodeToString(mac[:]))
}

// signKeys caches Sign's signing keys (an edge signs every stream and
// acknowledgement with one key).
var signKeys keyCache

// joinPairs sorts escaped query pairs by name, then value, and joins them
// as the canonical query string.
func joinPairs(ps []pair) string {
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

// pair is one escaped query parameter.
type pair struct{ k, v string }
