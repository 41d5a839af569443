package edge

import (
	"strings"
	"testing"
)

// RFC 3986, 5.4: the references that are relative paths, resolved against
// the base "http://a/b/c/d;p?q", are the base's directory "/b/c/" followed
// by the reference with its dot segments removed (5.2.2, 5.2.3); the
// expected values are the RFC's paths. References that are not paths
// (scheme, authority, query or fragment only) are left out.
var rfc5_4 = []struct{ ref, want string }{
	// 5.4.1 Normal Examples
	{"g", "/b/c/g"},
	{"./g", "/b/c/g"},
	{"g/", "/b/c/g/"},
	{";x", "/b/c/;x"},
	{"g;x", "/b/c/g;x"},
	{".", "/b/c/"},
	{"./", "/b/c/"},
	{"..", "/b/"},
	{"../", "/b/"},
	{"../g", "/b/g"},
	{"../..", "/"},
	{"../../", "/"},
	{"../../g", "/g"},
	// 5.4.2 Abnormal Examples
	{"../../../g", "/g"},
	{"../../../../g", "/g"},
	{"g.", "/b/c/g."},
	{".g", "/b/c/.g"},
	{"g..", "/b/c/g.."},
	{"..g", "/b/c/..g"},
	{"./../g", "/b/g"},
	{"./g/.", "/b/c/g/"},
	{"g/./h", "/b/c/g/h"},
	{"g/../h", "/b/c/h"},
	{"g;x=1/./y", "/b/c/g;x=1/y"},
	{"g;x=1/../y", "/b/c/y"},
}

func TestNormalizePathRFC3986(t *testing.T) {
	for _, c := range rfc5_4 {
		if got := normalizePath("/b/c/" + c.ref); got != c.want {
			t.Errorf("%q against /b/c/d;p: normalizePath(%q) = %q, want %q", c.ref, "/b/c/"+c.ref, got, c.want)
		}
	}
	// 5.2.4's own examples, and the absolute-path references of 5.4.2.
	for in, want := range map[string]string{
		"/a/b/c/./../../g":    "/a/g",
		"/mid/content=5/../6": "/mid/6",
		"/./g":                "/g",
		"/../g":               "/g",
	} {
		if got := normalizePath(in); got != want {
			t.Errorf("normalizePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizePath(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		// Already normalized: returned as is.
		{"/", "/"},
		{"/index.html", "/index.html"},
		{"/a/b/", "/a/b/"},
		{"/a%2Fb", "/a%2Fb"},
		{"/caf%C3%A9", "/caf%C3%A9"},
		{"/.well-known/x", "/.well-known/x"},
		{"/a/...", "/a/..."},
		// The attacks of issue 14: the behavior and the origin path.
		{"/foo/%2e%2e/admin/x", "/admin/x"},
		{"/foo/%2E%2E/admin/x", "/admin/x"},
		{"/foo/.%2e/admin/x", "/admin/x"},
		{"/foo/%2e./admin/x", "/admin/x"},
		{"/static/../../secret.txt", "/secret.txt"},
		{"/static/%2e%2e/%2e%2e/secret.txt", "/secret.txt"},
		{"//admin/x", "/admin/x"},
		{"/foo//..//admin/x", "/admin/x"},
		{"/foo/%2e/admin", "/foo/admin"},
		// Decoding of unreserved characters, upper-case hex for the rest.
		{"/a/%62.html", "/a/b.html"},
		{"/%7Euser/%41%5a%30%2D%5F%7e", "/~user/AZ0-_~"},
		{"/a%2fb", "/a%2Fb"},
		{"/a%3a%3A", "/a%3A%3A"},
		{"/caf\u00e9 menu", "/caf%C3%A9%20menu"},
		{"/100%", "/100%25"},
		{"/a%zz", "/a%25zz"},
		// An escaped separator is not a separator.
		{"/a/..%2Fb", "/a/..%2Fb"},
		{"/a/%2e%2e%2fb", "/a/..%2Fb"},
		// Slashes, the root and beyond.
		{"", "/"},
		{"*", "/*"},
		{"a/b", "/a/b"},
		{"//", "/"},
		{"///a///b///", "/a/b/"},
		{"/..", "/"},
		{"/../..", "/"},
		{"/.", "/"},
		{"/a/.", "/a/"},
		{"/a/..", "/"},
		{"/a/b/..", "/a/"},
		{"/a/./", "/a/"},
	} {
		if got := normalizePath(c.in); got != c.want {
			t.Errorf("normalizePath(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := normalizePath(c.want); got != c.want {
			t.Errorf("normalizePath(%q) = %q: not idempotent", c.want, got)
		}
	}
}

func TestNormalizePathAllocations(t *testing.T) {
	for _, p := range []string{"/", "/dir12/file345.jpg", "/a/b/c/d/e/f/index.html", "/caf%C3%A9/~x-y_z.", "/a/b/"} {
		if !isNormalPath(p) {
			t.Errorf("isNormalPath(%q) = false", p)
		}
		if n := testing.AllocsPerRun(100, func() { _ = normalizePath(p) }); n != 0 {
			t.Errorf("normalizePath(%q): %v allocations, want 0", p, n)
		}
	}
}

func TestNormalizePrefix(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"/", "/"},
		{"/images/", "/images/"},
		{"/images/a", "/images/a"},
		{"/a/../b/c", "/b/c"},
		{"/a/./b/", "/a/b/"},
		{"//a//b", "/a/b"},
		{"/a/.", "/a/."}, // matches "/a/.htaccess"
		{"/a/..", "/a/.."},
		{"/%7e/%61", "/~/a"},
		{"/x/%2e%2e/y/", "/y/"},
	} {
		if got := normalizePrefix(c.in); got != c.want {
			t.Errorf("normalizePrefix(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = normalizePrefix("/dir12/file3") }); n != 0 {
		t.Errorf("normalizePrefix of a normalized prefix: %v allocations, want 0", n)
	}
}

func TestClimbsOut(t *testing.T) {
	for p, want := range map[string]bool{
		"/a/b":                     false,
		"/a/..%2Fb":                false,
		"/..%2Fsecret":             true,
		"/static/..%2F..%2Fsecret": true,
		"/static/..%5C..%5Csecret": true,
		"/a/b%2F..%2F..%2F..%2Fx":  true,
		"/a/b%2F..%2F..%2Fx":       false,
		"/a%2F%2F..":               false,
	} {
		if got := climbsOut(p); got != want {
			t.Errorf("climbsOut(%q) = %v, want %v", p, got, want)
		}
	}
}

// FuzzNormalizePath checks the invariants the edge relies on: the result
// starts with '/', has no dot segment (so an origin path followed by it
// stays below the origin path) nor empty segment but the last, is its own
// normal form (so the fast path, which normalizes again, and every other
// caller agree on one key), and is found normal by the one-scan check.
func FuzzNormalizePath(f *testing.F) {
	for _, c := range rfc5_4 {
		f.Add("/b/c/" + c.ref)
	}
	for _, s := range []string{"", "/", "/foo/%2e%2e/admin/x", "/static/../../secret.txt", "//a//b/", "/%2E%2e/%7e", "/a%2fb/..%2F", "/caf\u00e9", "/%", "/%2", "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		n := normalizePath(p)
		if !strings.HasPrefix(n, "/") {
			t.Fatalf("normalizePath(%q) = %q: no leading '/'", p, n)
		}
		if again := normalizePath(n); again != n {
			t.Fatalf("normalizePath(%q) = %q, normalized again %q", p, n, again)
		}
		if !isNormalPath(n) {
			t.Fatalf("normalizePath(%q) = %q, which isNormalPath refuses", p, n)
		}
		segs := strings.Split(n[1:], "/")
		for i, seg := range segs {
			if seg == "." || seg == ".." {
				t.Fatalf("normalizePath(%q) = %q: dot segment %q", p, n, seg)
			}
			if seg == "" && i != len(segs)-1 {
				t.Fatalf("normalizePath(%q) = %q: empty segment", p, n)
			}
		}
		if isNormalPath(p) && n != p {
			t.Fatalf("isNormalPath(%q) but normalizePath gives %q", p, n)
		}
		if canonical(n, false) != n {
			t.Fatalf("normalizePath(%q) = %q, not canonical", p, n)
		}
	})
}
