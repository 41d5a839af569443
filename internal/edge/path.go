package edge

import "strings"

// Path normalization.
//
// CloudFront normalizes a request's URI path "consistent with RFC 3986"
// before it matches the path against the cache behaviors' PathPatterns,
// and removes, among others, multiple slashes and ".." segments on the
// way. The edge does the same, and uses the one normalized path for
// everything the path decides: the behavior, the object's name (its cache
// key, key.go), the names invalidation paths designate, and the path the
// origin is asked for. So "/a/./b.html", "/a//b.html", "/x/../a/b.html"
// and "/a/%62.html" are one object, and a request never reaches a behavior
// or an origin path that its raw spelling was crafted to slip past
// ("/admin%2f..", "/foo/%2e%2e/admin/x", "/static/../../secret.txt").
//
// The normalized form of an escaped path:
//   - the canonical form of key.go: %XX escapes of unreserved characters
//     (ALPHA DIGIT - . _ ~) decoded, other escapes with upper-case hex,
//     bytes that cannot stand raw in a path escaped;
//   - then, on that decoded form (so "%2e%2e" is a ".." segment), runs of
//     '/' merged into one and the dot segments removed as RFC 3986, 5.2.4
//     does; a ".." above the root is dropped ("/../a" is "/a"), and a
//     path ending in a dot segment keeps its trailing slash ("/a/b/.." is
//     "/a/");
//   - it always starts with '/' ("" is "/").
//
// An escaped separator ("%2F") is not a separator: "/a/..%2Fb" keeps its
// segment "..%2Fb". The result never has a "." or ".." segment, so an
// origin path followed by it never resolves outside the origin path.

// normalizePath returns the normalized form of rawPath, an escaped path
// as sent. It does not allocate when rawPath is already normalized, which
// it finds out in one scan.
func normalizePath(rawPath string) string {
	if isNormalPath(rawPath) {
		return rawPath
	}
	p := canonical(rawPath, false)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return removeDotSegments(p)
}

// isNormalPath reports whether p is its own normalized form: a leading
// '/', only bytes that stand raw in a path and escapes of other
// characters with upper-case hex, no empty segment but the last, no "."
// or ".." segment.
func isNormalPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	start := 1 // of the current segment
	for i := 1; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/':
			if !normalSegment(p[start:i]) || i == start {
				return false
			}
			start = i + 1
		case c == '%':
			if i+2 >= len(p) || !isUpperHex(p[i+1]) || !isUpperHex(p[i+2]) || isUnreserved(unhex(p[i+1])<<4|unhex(p[i+2])) {
				return false
			}
			i += 2
		case !rawOK(c, false):
			return false
		}
	}
	return normalSegment(p[start:])
}

// normalSegment reports whether seg is not a dot segment.
func normalSegment(seg string) bool { return seg != "." && seg != ".." }

// removeDotSegments merges the runs of '/' of p, a canonical path with a
// leading '/', and removes its dot segments (RFC 3986, 5.2.4): "." is
// dropped, ".." drops itself and the segment before it, if any. When the
// last segment is empty or a dot segment, the result ends with '/'.
func removeDotSegments(p string) string {
	out := make([]byte, 0, len(p))
	for i := 1; i <= len(p); {
		j := strings.IndexByte(p[i:], '/')
		last := j < 0
		if last {
			j = len(p)
		} else {
			j += i
		}
		switch seg := p[i:j]; seg {
		case "", ".":
			if last {
				out = append(out, '/')
			}
		case "..":
			if k := lastSlash(out); k >= 0 {
				out = out[:k]
			}
			if last {
				out = append(out, '/')
			}
		default:
			out = append(out, '/')
			out = append(out, seg...)
		}
		i = j + 1
	}
	if len(out) == 0 {
		return "/"
	}
	return string(out)
}

func lastSlash(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '/' {
			return i
		}
	}
	return -1
}

// normalizePrefix returns the normalized form of the prefix of a wildcard
// invalidation path (the path without its trailing '*'): its directory,
// up to and including the last '/', is normalized as a path; what follows
// is the start of a segment, only put in canonical form, so "/a/../b/c*"
// is "/b/c" and "/a/.*" still matches "/a/.htaccess".
func normalizePrefix(prefix string) string {
	k := strings.LastIndexByte(prefix, '/')
	if k < 0 {
		return "/" + canonical(prefix, false)
	}
	dir := normalizePath(prefix[:k+1]) // ends with '/'
	rest := canonical(prefix[k+1:], false)
	if dir == prefix[:k+1] && rest == prefix[k+1:] {
		return prefix // already normalized: no allocation
	}
	return dir + rest
}

// climbsOut reports whether p, a normalized path, goes above the root for
// an origin that decodes an escaped '/' or '\' ("%2F", "%5C") into a
// separator before it removes dot segments: "/..%2F..%2Fsecret" does,
// "/a/..%2Fb" does not. Such a path cannot be normalized without changing
// what it names to every other origin, so the edge refuses it.
func climbsOut(p string) bool {
	if !strings.Contains(p, "%2F") && !strings.Contains(p, "%5C") {
		return false
	}
	depth := 0
	for seg := range strings.FieldsFuncSeq(p, func(r rune) bool { return r == '/' }) {
		for part := range splitEscapedSeparators(seg) {
			switch part {
			case "", ".":
			case "..":
				if depth--; depth < 0 {
					return true
				}
			default:
				depth++
			}
		}
	}
	return false
}

// splitEscapedSeparators yields the parts of seg between its "%2F" and
// "%5C" escapes.
func splitEscapedSeparators(seg string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		start := 0
		for i := 0; i+2 < len(seg); i++ {
			if seg[i] == '%' && (seg[i+1:i+3] == "2F" || seg[i+1:i+3] == "5C") {
				if !yield(seg[start:i]) {
					return
				}
				start = i + 3
				i += 2
			}
		}
		yield(seg[start:])
	}
}
