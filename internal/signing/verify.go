package signing

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Key is a public key a behavior trusts, parsed once.
type Key struct {
	ID  string
	pub any // *rsa.PublicKey or *ecdsa.PublicKey
}

// NewKey parses a stored public key's PEM (ParseKey).
func NewKey(id, encoded string) (*Key, error) {
	pub, err := ParseKey(encoded)
	if err != nil {
		return nil, err
	}
	return &Key{ID: id, pub: pub}, nil
}

// Trust is what one behavior trusts: its keys by Id (the keys of its
// trusted key groups, or the account's keys for TrustedSigners). A
// behavior with a nil Trust is not restricted.
type Trust map[string]*Key

// The names of the signing parameters in a query string and of the
// signed cookies.
var (
	queryParams = [...]string{"Expires", "Policy", "Signature", "Key-Pair-Id", "Hash-Algorithm"}
	cookieNames = [...]string{"CloudFront-Expires", "CloudFront-Policy", "CloudFront-Signature", "CloudFront-Key-Pair-Id", "CloudFront-Hash-Algorithm"}
)

// Params are the signing parameters of a request, as sent (query values
// unescaped).
type Params struct {
	Expires, Policy, Signature, KeyPairID, HashAlgorithm string
	// Any is true when at least one of them was present.
	Any bool
}

func (p *Params) set(i int, v string) {
	p.Any = true
	switch i {
	case 0:
		p.Expires = v
	case 1:
		p.Policy = v
	case 2:
		p.Signature = v
	case 3:
		p.KeyPairID = v
	case 4:
		p.HashAlgorithm = v
	}
}

// SplitQuery removes the signing parameters (Expires, Policy, Signature,
// Key-Pair-Id, Hash-Algorithm) from a raw query string and returns the
// rest, in its order and spelling, and the parameters. CloudFront neither
// keys the cache on them nor forwards them to the origin, and the signed
// URL is the one without them. rest is rawQuery itself when none is
// there (no allocation).
func SplitQuery(rawQuery string) (rest string, p Params) {
	if !hasSigningParam(rawQuery) {
		return rawQuery, p
	}
	var b strings.Builder
	b.Grow(len(rawQuery))
	for part := range strings.SplitSeq(rawQuery, "&") {
		name, value, _ := strings.Cut(part, "=")
		if i := paramIndex(name); i >= 0 {
			if v, err := url.QueryUnescape(value); err == nil {
				value = v
			}
			p.set(i, value)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(part)
	}
	return b.String(), p
}

// hasSigningParam reports cheaply whether the query may hold one.
func hasSigningParam(q string) bool {
	return strings.Contains(q, "Signature=") || strings.Contains(q, "Key-Pair-Id=") ||
		strings.Contains(q, "Expires=") || strings.Contains(q, "Policy=") || strings.Contains(q, "Hash-Algorithm=")
}

func paramIndex(name string) int {
	for i, n := range queryParams {
		if name == n {
			return i
		}
	}
	return -1
}

// CookieParams reads the signed cookies through cookie (the value of the
// named cookie, false when absent).
func CookieParams(cookie func(name string) (string, bool)) Params {
	var p Params
	for i, n := range cookieNames {
		if v, ok := cookie(n); ok {
			p.set(i, v)
		}
	}
	return p
}

// Denial is why a request is refused: CloudFront's 403 error code and
// message.
type Denial struct{ Code, Message string }

// CloudFront's answers to a request its signature does not admit, all
// 403.
var (
	DenyMissingKey     = &Denial{"MissingKey", "Missing Key-Pair-Id query parameter or cookie value"}
	DenyUnknownKey     = &Denial{"InvalidKey", "Unknown Key"}
	DenyBadSignature   = &Denial{"MalformedSignature", "Could not unencode Signature"}
	DenyBadPolicy      = &Denial{"MalformedPolicy", "Malformed Policy"}
	DenyAccessDenied   = &Denial{"AccessDenied", "Access denied"}
	errMalformed       = errors.New("malformed policy")
	errBadSignatureB64 = errors.New("signature not base64")
)

// Request is what the check reads of a viewer's request.
type Request struct {
	// URL is the URL as the viewer asked for it, without the signing
	// parameters: scheme://host/path[?query] (Host as the viewer sent
	// it, the path and the query as sent).
	URL string
	// IP is the viewer's address.
	IP netip.Addr
	// Params are the signing parameters: the query string's when it has
	// any, else the signed cookies'.
	Params Params
}

// statement is a verified policy's one statement.
type statement struct {
	resource string // "" when the policy names none: every URL
	hasRes   bool
	before   int64 // DateLessThan, epoch seconds
	after    int64 // DateGreaterThan; 0 for none
	ip       netip.Prefix
	hasIP    bool
}

// Verifier checks signed requests and remembers the signatures it has
// verified: a hit in its cache costs a hash instead of an RSA or ECDSA
// verification. An entry is a verified (key, hash algorithm, signed
// policy, signature) and the policy it signs; conditions (the time, the
// viewer's address, the URL) are checked on every request against it, so
// an entry is never a decision for another URL or address. Entries go
// once their policy's DateLessThan is past, and the cache holds at most
// MaxBytes (approximately: 96 bytes and the policy's resource per entry),
// dropping arbitrary entries when full. Safe for concurrent use.
type Verifier struct {
	now      func() time.Time
	maxBytes int

	mu    sync.RWMutex
	cache map[[32]byte]*statement // guarded by mu
	bytes int                     // guarded by mu
}

// DefaultCacheBytes is the default bound of a Verifier's cache.
const DefaultCacheBytes = 8 << 20

// entryOverhead approximates an entry's memory beyond its resource.
const entryOverhead = 96

// NewVerifier returns a Verifier whose cache holds up to maxBytes (0:
// DefaultCacheBytes; negative: no cache); now is the clock (nil:
// time.Now).
func NewVerifier(maxBytes int, now func() time.Time) *Verifier {
	if maxBytes == 0 {
		maxBytes = DefaultCacheBytes
	}
	if now == nil {
		now = time.Now
	}
	return &Verifier{now: now, maxBytes: maxBytes, cache: map[[32]byte]*statement{}}
}

// Check admits r (nil) or says why CloudFront would refuse it, given the
// keys the behavior trusts.
func (v *Verifier) Check(t Trust, r *Request) *Denial {
	p := &r.Params
	if p.KeyPairID == "" {
		return DenyMissingKey
	}
	key := t[p.KeyPairID]
	if key == nil {
		return DenyUnknownKey
	}
	var h crypto.Hash
	switch p.HashAlgorithm {
	case "", "SHA1":
		h = crypto.SHA1
	case "SHA256":
		h = crypto.SHA256
	default:
		return DenyAccessDenied
	}
	if p.Signature == "" {
		return DenyAccessDenied
	}
	canned := p.Policy == ""
	if canned {
		if p.Expires == "" {
			return DenyAccessDenied
		}
		if _, err := strconv.ParseInt(p.Expires, 10, 64); err != nil {
			return DenyAccessDenied
		}
	}
	st, d := v.verified(key, h, r, canned)
	if d != nil {
		return d
	}
	return st.admits(r, v.now().Unix())
}

// cannedPolicy is the text a canned policy's signature signs.
func cannedPolicy(u, expires string) []byte {
	b := make([]byte, 0, len(u)+96)
	b = append(b, `{"Statement":[{"Resource":"`...)
	b = append(b, u...)
	b = append(b, `","Condition":{"DateLessThan":{"AWS:EpochTime":`...)
	b = append(b, expires...)
	return append(b, `}}}]}`...)
}

// verified returns the statement signed is, when sig is key's signature
// of it with hash h: from the cache, or verified and cached.
func (v *Verifier) verified(key *Key, h crypto.Hash, r *Request, canned bool) (*statement, *Denial) {
	p := &r.Params
	id := cacheID(key.ID, h, r, canned)
	now := v.now().Unix()
	if v.maxBytes > 0 {
		v.mu.RLock()
		st := v.cache[id]
		v.mu.RUnlock()
		if st != nil && now < st.before {
			return st, nil
		}
	}
	var signed []byte
	if canned {
		signed = cannedPolicy(r.URL, p.Expires)
	} else {
		b, err := decodeB64(p.Policy)
		if err != nil {
			return nil, DenyBadPolicy
		}
		signed = b
	}
	raw, err := decodeB64(p.Signature)
	if err != nil {
		return nil, DenyBadSignature
	}
	if !verifySig(key.pub, h, signed, raw) {
		return nil, DenyAccessDenied
	}
	st, err := parsePolicy(signed)
	if err != nil {
		return nil, DenyBadPolicy
	}
	if canned {
		// A canned policy signs the very URL the request is for (the
		// cache entry is keyed on it): there is nothing to match.
		st.resource, st.hasRes = "", false
	}
	if v.maxBytes > 0 && now < st.before {
		v.put(id, st, now)
	}
	return st, nil
}

// idBufs are the buffers cacheID hashes, reused.
var idBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// cacheID names a signature in the cache: the key, the hash, what is
// signed as sent (the canned policy's URL and expiry, or the custom
// policy's parameter) and the signature.
func cacheID(keyID string, h crypto.Hash, r *Request, canned bool) [32]byte {
	bp := idBufs.Get().(*[]byte)
	b := append((*bp)[:0], keyID...)
	b = append(b, 0, byte(h))
	if canned {
		b = append(b, 'c', 0)
		b = append(b, r.URL...)
		b = append(b, 0)
		b = append(b, r.Params.Expires...)
	} else {
		b = append(b, 'p', 0)
		b = append(b, r.Params.Policy...)
	}
	b = append(b, 0)
	b = append(b, r.Params.Signature...)
	id := sha256.Sum256(b)
	if cap(b) <= 64<<10 {
		*bp = b
		idBufs.Put(bp)
	}
	return id
}

func (v *Verifier) put(id [32]byte, st *statement, now int64) {
	size := entryOverhead + len(st.resource)
	if size > v.maxBytes {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.cache[id]; ok {
		return
	}
	if v.bytes+size > v.maxBytes {
		// Expired entries first, then arbitrary ones, down to 3/4.
		for k, e := range v.cache {
			if now >= e.before {
				v.drop(k, e)
			}
		}
		for k, e := range v.cache {
			if v.bytes+size <= v.maxBytes*3/4 {
				break
			}
			v.drop(k, e)
		}
	}
	v.cache[id] = st
	v.bytes += size
}

func (v *Verifier) drop(k [32]byte, e *statement) {
	delete(v.cache, k)
	v.bytes -= entryOverhead + len(e.resource)
}

// CacheLen is the number of verified signatures the cache holds.
func (v *Verifier) CacheLen() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return len(v.cache)
}

// decodeB64 reads CloudFront's URL-safe base64 ('-' for '+', '_' for
// '=', '~' for '/'), and tolerates the standard alphabet.
func decodeB64(s string) ([]byte, error) {
	b := []byte(s)
	for i, c := range b {
		switch c {
		case '-':
			b[i] = '+'
		case '_':
			b[i] = '='
		case '~':
			b[i] = '/'
		case ' ':
			b[i] = '+' // a '+' a form decoding turned into a space
		}
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
	n, err := base64.StdEncoding.Decode(out, b)
	if err != nil {
		n, err = base64.RawStdEncoding.Decode(out, []byte(strings.TrimRight(string(b), "=")))
		if err != nil {
			return nil, errBadSignatureB64
		}
	}
	return out[:n], nil
}

func verifySig(pub any, h crypto.Hash, msg, sig []byte) bool {
	var digest []byte
	if h == crypto.SHA256 {
		s := sha256.Sum256(msg)
		digest = s[:]
	} else {
		s := sha1.Sum(msg)
		digest = s[:]
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, h, digest, sig) == nil
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest, sig)
	}
	return false
}

// MaxPolicyBytes bounds a custom policy (CloudFront's URLs are at most
// 8,192 bytes; a cookie at most 4,096).
const MaxPolicyBytes = 8192

// parsePolicy reads a policy statement: one statement, a DateLessThan,
// and optionally Resource, DateGreaterThan and IpAddress.
func parsePolicy(b []byte) (*statement, error) {
	if len(b) > MaxPolicyBytes {
		return nil, errMalformed
	}
	var doc struct {
		Statement []struct {
			Resource  *string `json:"Resource"`
			Condition map[string]map[string]json.RawMessage
		} `json:"Statement"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&doc); err != nil || len(doc.Statement) != 1 {
		return nil, errMalformed
	}
	s := doc.Statement[0]
	st := &statement{}
	if s.Resource != nil {
		st.resource, st.hasRes = *s.Resource, true
	}
	lt, ok := epoch(s.Condition["DateLessThan"])
	if !ok {
		return nil, errMalformed
	}
	st.before = lt
	if c, ok := s.Condition["DateGreaterThan"]; ok {
		if st.after, ok = epoch(c); !ok {
			return nil, errMalformed
		}
	}
	if c, ok := s.Condition["IpAddress"]; ok {
		var src string
		if err := json.Unmarshal(c["AWS:SourceIp"], &src); err != nil {
			return nil, errMalformed
		}
		pfx, err := netip.ParsePrefix(src)
		if err != nil {
			a, err2 := netip.ParseAddr(src)
			if err2 != nil {
				return nil, errMalformed
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		st.ip, st.hasIP = pfx.Masked(), true
	}
	return st, nil
}

// epoch reads {"AWS:EpochTime": n} (a number, or a number in a string).
func epoch(c map[string]json.RawMessage) (int64, bool) {
	raw, ok := c["AWS:EpochTime"]
	if !ok {
		return 0, false
	}
	s := strings.Trim(string(raw), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// admits checks the statement's conditions against r at now (epoch
// seconds).
func (st *statement) admits(r *Request, now int64) *Denial {
	if now >= st.before {
		return DenyAccessDenied
	}
	if st.after != 0 && now <= st.after {
		return DenyAccessDenied
	}
	if st.hasIP && !st.ip.Contains(r.IP.Unmap()) {
		return DenyAccessDenied
	}
	if st.hasRes && !Match(st.resource, r.URL) {
		return DenyAccessDenied
	}
	return nil
}

// Match reports whether s matches pattern, where '*' matches any run of
// characters (none included) and '?' exactly one, as in a policy's
// Resource. It runs in O(len(pattern) ×
// len(s)) at worst, without recursion.
func Match(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		if p < len(pattern) {
			c := pattern[p]
			switch {
			case c == '*':
				star, mark = p, i
				p++
				continue
			case c == '?' || c == s[i]:
				p++
				i++
				continue
			}
		}
		if star < 0 {
			return false
		}
		p = star + 1
		mark++
		i = mark
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
