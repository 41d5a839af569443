package edge

import (
	"strings"
)

// Cache keys.
//
// An object is cached under its distribution's Id, a NUL byte and the
// object's name: the canonical path, followed by "?" and the canonical query
// string when the behavior forwards query strings and the query is not
// empty. Markers of invalidations are kept per distribution and matched
// against the name alone, so one distribution's invalidation never touches
// another's objects.
//
// Canonical form. A viewer's request URI and an invalidation path name the
// same object when they are equal after both are put in one form:
//   - %XX escapes of unreserved characters (A-Z a-z 0-9 - . _ ~) are
//     decoded: "/%7Euser" is "/~user";
//   - every other escape keeps its meaning with upper-case hex digits:
//     "/a%2fb" is "/a%2Fb", which is not "/a/b";
//   - bytes that cannot stand raw in a URI (space, controls, non-ASCII,
//     `"<>\^{|}` and a '%' that starts no escape) are escaped: the
//     invalidation path "/caf\u00e9 menu" is "/caf%C3%A9%20menu";
//   - in the path, runs of '/' are merged and dot segments removed, after
//     the decoding above (path.go: normalizePath): "/a/%2e%2e/b//c" is
//     "/b/c";
//   - nothing else changes: case matters, "+" is not a space, query
//     parameters keep their order.
//
// The name a request is cached under is computed by the same function as
// the name an invalidation path designates (objectName), so "/" with a
// default root object and a query string the behavior does not forward are
// treated alike on both sides.

// objectName returns the name the behavior caches the object of a request
// for rawPath?rawQuery under. rawPath is the escaped path as sent.
// When the key has only some query string parameters (a whitelist, or
// all but some), only those are kept in the name, in their order in the
// request.
func objectName(b *behavior, rawPath, rawQuery string) string {
	p := namePath(b, rawPath)
	if b.keyQuery.mode == selNone || rawQuery == "" {
		return p
	}
	q := canonical(rawQuery, true)
	if b.keyQuery.mode != selAll {
		if q = keepParams(q, selSet{b.keyQuery, sel{}}); q == "" {
			return p
		}
	}
	return p + "?" + q
}

// keyedName returns the cache key id + "\x00" + objectName(b, rawPath,
// rawQuery) + suffix in one allocation (none for the name itself), and
// the name as a part of it: what a hit needs to look an object up.
func keyedName(id, suffix string, b *behavior, rawPath, rawQuery string) (key, name string) {
	p := namePath(b, rawPath)
	q := ""
	if b.keyQuery.mode != selNone && rawQuery != "" {
		q = canonical(rawQuery, true)
	}
	start := len(id) + 1
	if q == "" {
		key = id + "\x00" + p + suffix
		return key, key[start : start+len(p)]
	}
	var sb strings.Builder
	sb.Grow(start + len(p) + 1 + len(q) + len(suffix))
	sb.WriteString(id)
	sb.WriteByte(0)
	sb.WriteString(p)
	sb.WriteByte('?')
	if b.keyQuery.mode == selAll {
		sb.WriteString(q)
	} else if n := writeParams(&sb, q, selSet{b.keyQuery, sel{}}); n == 0 {
		// No parameter kept: the name has no '?'.
		key = id + "\x00" + p + suffix
		return key, key[start : start+len(p)]
	}
	end := sb.Len()
	sb.WriteString(suffix)
	key = sb.String()
	return key, key[start:end]
}

// writeParams writes to sb the parameters of query whose names s keeps,
// in their order, and returns how many it wrote.
func writeParams(sb *strings.Builder, query string, s selSet) int {
	n := 0
	for rest := query; ; {
		kv, more, found := strings.Cut(rest, "&")
		if k, _, _ := strings.Cut(kv, "="); s.keep(k) {
			if n > 0 {
				sb.WriteByte('&')
			}
			sb.WriteString(kv)
			n++
		}
		if !found {
			return n
		}
		rest = more
	}
}

// originTarget is the request-target the origin is asked for: the path
// part of the name and the canonical query string's parameters the
// behavior sends the origin (legacy settings: the whole query string when
// any of it is in the key; QueryStringCacheKeys narrows the cache key,
// not what the origin gets; policies: the cache key's and the origin
// request policy's).
func originTarget(b *behavior, rawPath, rawQuery string) string {
	p := namePath(b, rawPath)
	if b.originQuery.none() || rawQuery == "" {
		return p
	}
	q := canonical(rawQuery, true)
	if !b.originQuery.all() {
		if q = keepParams(q, b.originQuery); q == "" {
			return p
		}
	}
	return p + "?" + q
}

// keepParams returns the parameters of query whose names s keeps, in
// their order. It does not allocate when it keeps them all.
func keepParams(query string, s selSet) string {
	all := true
	for rest := query; ; {
		kv, more, found := strings.Cut(rest, "&")
		if k, _, _ := strings.Cut(kv, "="); !s.keep(k) {
			all = false
			break
		}
		if !found {
			break
		}
		rest = more
	}
	if all {
		return query
	}
	var sb strings.Builder
	sb.Grow(len(query))
	writeParams(&sb, query, s)
	return sb.String()
}

// namePath is the path part of an object name: rawPath normalized
// (path.go), with the default root object in place of "/".
func namePath(b *behavior, rawPath string) string {
	p := normalizePath(rawPath) // "" (absolute form, the bare origin) is "/"
	if p == "/" && b.rootObject != "" {
		p = normalizePath("/" + b.rootObject)
	}
	return p
}

// pattern is an invalidation path turned into what it matches: an exact
// object name, or every name starting with prefix.
type pattern struct {
	name     string
	wildcard bool
}

// invalidationPattern returns what the invalidation path p (as the API
// accepted it: leading '/', '*' only last) matches in the distribution
// whose configuration is s. An object's name depends on the cache behavior
// that serves its path (whether it forwards query strings, and which), so
// a path that names one object is read under the behavior its path
// matches; a wildcard on the path alone matches names whatever their
// behavior.
//
// With query strings not forwarded, objects are cached without their query,
// so a path's query string is dropped: "/a.jpg?v=2" invalidates "/a.jpg",
// and so does "/a.jpg?v=*" (the query could only have narrowed the match).
// A wildcard prefix ending inside a %XX escape ("/a%2*") is cut before the
// '%': it then matches more than asked, never less. Paths are normalized
// as requests are (path.go), so "/a/./b.html" invalidates what "/a/b.html"
// and "/a/%62.html" cached; a wildcard's directory is, its last partial
// segment only made canonical ("/a/../b/c*" is the prefix "/b/c").
func invalidationPattern(s *site, p string) pattern {
	prefix, wild := strings.CutSuffix(p, "*")
	rawPath, rawQuery, hasQuery := strings.Cut(prefix, "?")
	if wild && !hasQuery {
		return pattern{name: normalizePrefix(trimPartialEscape(rawPath)), wildcard: true}
	}
	b := s.match(rawPath)
	if !wild {
		return pattern{name: objectName(b, rawPath, rawQuery)}
	}
	if b.keyQuery.mode == selNone {
		return pattern{name: objectName(b, rawPath, "")}
	}
	return pattern{name: namePath(b, rawPath) + "?" + canonical(trimPartialEscape(rawQuery), true), wildcard: true}
}

// trimPartialEscape cuts an escape left unfinished at the end of s.
func trimPartialEscape(s string) string {
	n := len(s)
	switch {
	case n >= 1 && s[n-1] == '%':
		return s[:n-1]
	case n >= 2 && s[n-2] == '%' && ishex(s[n-1]):
		return s[:n-2]
	}
	return s
}

// canonical puts s, an escaped path (query false) or query string (query
// true), in the canonical form described above. It does not allocate when
// s is already canonical.
func canonical(s string, query bool) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c == '%' {
			if i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) && !isUnreserved(unhex(s[i+1])<<4|unhex(s[i+2])) && isUpperHex(s[i+1]) && isUpperHex(s[i+2]) {
				i += 3
				continue
			}
			break
		}
		if !rawOK(c, query) {
			break
		}
		i++
	}
	if i == len(s) {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s) + 8)
	sb.WriteString(s[:i])
	for ; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && ishex(s[i+1]) && ishex(s[i+2]) {
			d := unhex(s[i+1])<<4 | unhex(s[i+2])
			if isUnreserved(d) {
				sb.WriteByte(d)
			} else {
				writeEscape(&sb, d)
			}
			i += 2
			continue
		}
		if c == '%' || !rawOK(c, query) {
			writeEscape(&sb, c)
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

const upperHex = "0123456789ABCDEF"

func writeEscape(sb *strings.Builder, c byte) {
	sb.WriteByte('%')
	sb.WriteByte(upperHex[c>>4])
	sb.WriteByte(upperHex[c&15])
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// rawOK reports whether c may stand unescaped in a path (RFC 3986 pchar and
// '/') or, when query is true, in a query string (also '?').
func rawOK(c byte, query bool) bool {
	if isUnreserved(c) {
		return true
	}
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', '/':
		return true
	case '?':
		return query
	}
	return false
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
