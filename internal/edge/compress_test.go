package edge

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func gunzip(t *testing.T, s string) string {
	t.Helper()
	zr, err := gzip.NewReader(strings.NewReader(s))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("bad gzip: %v", err)
	}
	return string(b)
}

func TestCompress(t *testing.T) {
	o := newOrigin(t)
	page := strings.Repeat("<p>hello, compressed world</p>\n", 100) // 3,100 bytes
	o.set("/page.html", page, "Content-Type", "text/html; charset=utf-8", "Cache-Control", "max-age=600", "ETag", `"v1"`)
	o.set("/small.css", "body{}", "Content-Type", "text/css", "Cache-Control", "max-age=600")
	o.set("/img.png", page, "Content-Type", "image/png", "Cache-Control", "max-age=600")
	o.set("/pre.js", page, "Content-Type", "text/javascript", "Content-Encoding", "br", "Cache-Control", "max-age=600")
	o.set("/weak.css", page, "Content-Type", "text/css", "Cache-Control", "max-age=600", "ETag", `W/"w1"`)
	o.set("/bad.js", page, "Content-Type", "application/javascript", "Cache-Control", "max-age=600", "ETag", "v1")
	d := dist("EZIP", o, "zip.test")
	d.Config.DefaultBehavior.Compress = true
	h := newHarness(t, Config{}, d)
	// Go's client would ask for gzip itself and hide the encoding.
	h.srv.Client().Transport.(*http.Transport).DisableCompression = true

	gz := func(uri string) response { return h.get("zip.test", uri, "Accept-Encoding", "gzip, deflate") }

	// The gzipped copy: its own miss, then hits.
	for i, want := range []string{miss, hit} {
		r := gz("/page.html")
		if r.status != 200 || r.xcache() != want || r.header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("gzip GET %d: %d %q Content-Encoding %q", i, r.status, r.xcache(), r.header.Get("Content-Encoding"))
		}
		if got := gunzip(t, r.body); got != page {
			t.Fatalf("gzip GET %d: body %.40q", i, got)
		}
		if r.header.Get("ETag") != `W/"v1"` || r.header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("gzip GET %d: ETag %q Content-Type %q", i, r.header.Get("ETag"), r.header.Get("Content-Type"))
		}
		if cl := r.header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(r.body)) {
			t.Errorf("gzip GET %d: Content-Length %s for %d bytes", i, cl, len(r.body))
		}
	}
	// The uncompressed copy is another object: a viewer without gzip, or
	// refusing it, gets it as the origin sent it.
	h.expect("zip.test", "/page.html", page, miss)
	r := h.get("zip.test", "/page.html", "Accept-Encoding", "gzip;q=0, identity")
	if r.xcache() != hit || r.body != page || r.header.Get("Content-Encoding") != "" || r.header.Get("ETag") != `"v1"` {
		t.Errorf("gzip;q=0: %q Content-Encoding %q ETag %q", r.xcache(), r.header.Get("Content-Encoding"), r.header.Get("ETag"))
	}
	if n := o.hitsOf("/page.html"); n != 2 {
		t.Errorf("origin asked %d times, want 2 (one per copy)", n)
	}
	if ae := o.lastRequest().Header.Get("Accept-Encoding"); ae != "" {
		t.Errorf("origin saw Accept-Encoding %q", ae)
	}
	// HEAD and conditional requests on the gzipped copy.
	if r := h.do(http.MethodHead, "zip.test", "/page.html", "Accept-Encoding", "gzip"); r.status != 200 || r.header.Get("Content-Encoding") != "gzip" || r.xcache() != hit {
		t.Errorf("HEAD gzip: %d %q %q", r.status, r.header.Get("Content-Encoding"), r.xcache())
	}
	if r := h.get("zip.test", "/page.html", "Accept-Encoding", "gzip", "If-None-Match", `W/"v1"`); r.status != http.StatusNotModified {
		t.Errorf("If-None-Match on the gzipped copy: %d", r.status)
	}

	// Not compressed: too small, a type CloudFront leaves alone, already encoded.
	for _, c := range []struct{ uri, body, ce string }{
		{"/small.css", "body{}", ""},
		{"/img.png", page, ""},
		{"/pre.js", page, "br"},
	} {
		r := gz(c.uri)
		if r.status != 200 || r.body != c.body || r.header.Get("Content-Encoding") != c.ce {
			t.Errorf("%s: %d %.20q Content-Encoding %q, want %q", c.uri, r.status, r.body, r.header.Get("Content-Encoding"), c.ce)
		}
	}

	// ETag conversion: a weak ETag is kept, an invalid one removed.
	if r := gz("/weak.css"); r.header.Get("Content-Encoding") != "gzip" || r.header.Get("ETag") != `W/"w1"` {
		t.Errorf("weak ETag: Content-Encoding %q ETag %q, want W/\"w1\"", r.header.Get("Content-Encoding"), r.header.Get("ETag"))
	}
	if r := gz("/bad.js"); r.header.Get("Content-Encoding") != "gzip" || r.header["Etag"] != nil {
		t.Errorf("invalid ETag: Content-Encoding %q ETag %q, want none", r.header.Get("Content-Encoding"), r.header["Etag"])
	}
	// "*" is not gzip: the uncompressed copy.
	if r := h.get("zip.test", "/weak.css", "Accept-Encoding", "*"); r.header.Get("Content-Encoding") != "" || r.body != page {
		t.Errorf("Accept-Encoding *: Content-Encoding %q", r.header.Get("Content-Encoding"))
	}

	// An invalidation removes both copies.
	o.set("/page.html", "v2 "+page, "Content-Type", "text/html", "Cache-Control", "max-age=600")
	h.apply("EZIP", "/page.html")
	if r := gz("/page.html"); r.xcache() != miss || gunzip(t, r.body) != "v2 "+page {
		t.Errorf("gzipped copy after the invalidation: %q", r.xcache())
	}
	h.expect("zip.test", "/page.html", "v2 "+page, miss)
}

func TestCompressOff(t *testing.T) {
	o := newOrigin(t)
	page := strings.Repeat("x", 5000)
	o.set("/a.txt", page, "Content-Type", "text/plain", "Cache-Control", "max-age=600")
	h := newHarness(t, Config{}, dist("EZIP", o, "zip.test")) // Compress false: CloudFront's default
	h.srv.Client().Transport.(*http.Transport).DisableCompression = true
	h.get("zip.test", "/a.txt", "Accept-Encoding", "gzip")
	r := h.get("zip.test", "/a.txt", "Accept-Encoding", "gzip")
	if r.xcache() != hit || r.body != page || r.header.Get("Content-Encoding") != "" {
		t.Errorf("Compress off: %q Content-Encoding %q", r.xcache(), r.header.Get("Content-Encoding"))
	}
}

func TestAcceptsGzip(t *testing.T) {
	for _, c := range []struct {
		ae   string
		want bool
	}{
		{"", false}, {"gzip", true}, {"GZIP", true}, {"deflate, gzip;q=0.5", true}, {"gzip;q=0", false},
		{"gzip; q=0.0", false}, {"br", false}, {"*", false}, {"x-gzip", false}, {"gzip;q=bad", true},
		{"br, gzip", true}, {" gzip ", true}, {"identity", false}, {"gzipped", false},
	} {
		r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
		if c.ae != "" {
			r.Header.Set("Accept-Encoding", c.ae)
		}
		if got := acceptsGzip(r); got != c.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", c.ae, got, c.want)
		}
	}
	// HTTP/1.0: CloudFront removes Accept-Encoding and does not compress.
	for _, c := range []struct {
		major, minor int
		want         bool
	}{{1, 0, false}, {1, 1, true}, {2, 0, true}, {3, 0, true}} {
		r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
		r.ProtoMajor, r.ProtoMinor = c.major, c.minor
		r.Header.Set("Accept-Encoding", "gzip")
		if got := acceptsGzip(r); got != c.want {
			t.Errorf("acceptsGzip over HTTP/%d.%d = %v, want %v", c.major, c.minor, got, c.want)
		}
	}
	if gunzip(t, string(gzipBody([]byte("abc")))) != "abc" {
		t.Error("gzipBody does not round-trip")
	}
}

// documentedTypes is the list "File types that CloudFront compresses" of
// the CloudFront Developer Guide, "Serve compressed files"
// (https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/ServingCompressedFiles.html),
// copied here on its own so that the table in compress.go is checked
// against it.
var documentedTypes = []string{
	"application/dash+xml",
	"application/eot",
	"application/font",
	"application/font-sfnt",
	"application/javascript",
	"application/json",
	"application/opentype",
	"application/otf",
	"application/pdf",
	"application/pkcs7-mime",
	"application/protobuf",
	"application/rss+xml",
	"application/truetype",
	"application/ttf",
	"application/vnd.apple.mpegurl",
	"application/vnd.mapbox-vector-tile",
	"application/vnd.ms-fontobject",
	"application/wasm",
	"application/xhtml+xml",
	"application/xml",
	"application/x-font-opentype",
	"application/x-font-truetype",
	"application/x-font-ttf",
	"application/x-httpd-cgi",
	"application/x-javascript",
	"application/x-mpegurl",
	"application/x-opentype",
	"application/x-otf",
	"application/x-perl",
	"application/x-ttf",
	"font/eot",
	"font/opentype",
	"font/otf",
	"font/ttf",
	"image/svg+xml",
	"text/css",
	"text/csv",
	"text/html",
	"text/javascript",
	"text/js",
	"text/plain",
	"text/richtext",
	"text/tab-separated-values",
	"text/xml",
	"text/x-component",
	"text/x-java-source",
	"text/x-script",
	"vnd.apple.mpegurl",
}

func TestCompressibleTypes(t *testing.T) {
	if len(documentedTypes) != 48 || len(compressibleTypes) != len(documentedTypes) {
		t.Errorf("%d types in compress.go, %d documented (48)", len(compressibleTypes), len(documentedTypes))
	}
	ok := func(ct string) bool {
		h := http.Header{}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		return compressible(http.StatusOK, h, 5000, 5000)
	}
	for _, ct := range documentedTypes {
		for _, v := range []string{ct, ct + "; charset=utf-8", strings.ToUpper(ct), " " + ct + " ;charset=UTF-8"} {
			if !ok(v) {
				t.Errorf("Content-Type %q: not compressed, CloudFront compresses it", v)
			}
		}
	}
	for _, ct := range []string{
		"", "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/x-icon",
		"video/mp4", "audio/mpeg", "application/octet-stream", "application/zip", "application/gzip",
		"application/x-gzip", "application/x-tar", "font/woff", "font/woff2", "application/font-woff",
		"application/ld+json", "application/manifest+json", "application/atom+xml", "application/xml-dtd",
		"application/ecmascript", "application/x-www-form-urlencoded", "text/markdown", "text/calendar",
		"text/event-stream", "multipart/form-data", "image/svg", "text", "text/", "html", "mpegurl",
		"application/vnd.apple.mpegurl+xml", "xtext/html", "text/htmlx",
	} {
		if ok(ct) {
			t.Errorf("Content-Type %q: compressed, CloudFront does not compress it", ct)
		}
	}
}

func TestCompressibleConditions(t *testing.T) {
	html := func(kv ...string) http.Header {
		h := http.Header{"Content-Type": {"text/html"}}
		for i := 0; i+1 < len(kv); i += 2 {
			h[http.CanonicalHeaderKey(kv[i])] = []string{kv[i+1]}
		}
		return h
	}
	for _, c := range []struct {
		name   string
		status int
		h      http.Header
		n      int
		cl     int64
		want   bool
	}{
		{"200", 200, html(), 5000, 5000, true},
		{"403", 403, html(), 5000, 5000, true},
		{"404", 404, html(), 5000, 5000, true},
		{"201", 201, html(), 5000, 5000, false},
		{"203", 203, html(), 5000, 5000, false},
		{"206", 206, html(), 5000, 5000, false},
		{"301", 301, html(), 5000, 5000, false},
		{"400", 400, html(), 5000, 5000, false},
		{"410", 410, html(), 5000, 5000, false},
		{"500", 500, html(), 5000, 5000, false},
		{"503", 503, html(), 5000, 5000, false},
		{"999 bytes", 200, html(), 999, 999, false},
		{"1,000 bytes", 200, html(), 1_000, 1_000, true},
		{"10,000,000 bytes", 200, html(), 10_000_000, 10_000_000, true},
		{"10,000,001 bytes", 200, html(), 10_000_001, 10_000_001, false},
		{"no body", 200, html(), 0, 0, false},
		{"no Content-Length", 200, html(), 5000, -1, false},
		{"Content-Length not the body's", 200, html(), 5000, 999, false},
		{"Content-Encoding gzip", 200, html("Content-Encoding", "gzip"), 5000, 5000, false},
		{"Content-Encoding br", 200, html("Content-Encoding", "br"), 5000, 5000, false},
		{"Content-Encoding identity", 200, html("Content-Encoding", "identity"), 5000, 5000, false},
		{"Content-Encoding empty", 200, html("Content-Encoding", ""), 5000, 5000, false},
	} {
		if got := compressible(c.status, c.h, c.n, c.cl); got != c.want {
			t.Errorf("%s: compressible = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestETagConversion(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`"v1"`, `W/"v1"`},
		{`""`, `W/""`},
		{`"a b"`, `W/"a b"`},
		{`W/"v1"`, `W/"v1"`},
		{`W/v1`, `W/v1`}, // begins with W/: kept as received
		{`v1`, ""},       // begins with neither " nor W/: removed
		{`w/"v1"`, ""},
		{` "v1"`, ""},
		{`"v1`, ""}, // begins but does not end with ": not a valid strong ETag
		{`"`, ""},
	} {
		h := http.Header{"Etag": {c.in}, "Content-Length": {"5000"}}
		markCompressed(h)
		got, present := h["Etag"]
		switch {
		case c.want == "" && present:
			t.Errorf("ETag %q: became %q, want it removed", c.in, got)
		case c.want != "" && h.Get("ETag") != c.want:
			t.Errorf("ETag %q: became %q, want %q", c.in, h.Get("ETag"), c.want)
		}
		if h.Get("Content-Encoding") != "gzip" || h.Get("Content-Length") != "" {
			t.Errorf("ETag %q: Content-Encoding %q Content-Length %q", c.in, h.Get("Content-Encoding"), h.Get("Content-Length"))
		}
	}
	h := http.Header{}
	markCompressed(h)
	if _, present := h["Etag"]; present {
		t.Error("no ETag: markCompressed added one")
	}
}

// An origin that compresses itself when asked: the edge sends it the
// normalized Accept-Encoding (gzip for the gzip copy, none for the other),
// keys the copies by it, and keeps the origin's encoding as it is.
func TestCompressOriginEncodes(t *testing.T) {
	o := newOrigin(t)
	page := strings.Repeat("<p>the origin compresses this itself</p>\n", 60)
	zipped := string(gzipBody([]byte(page)))
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("ETag", `"o1"`)
		w.Header().Set("Vary", "Accept-Encoding")
		if r.Header.Get("Accept-Encoding") == "gzip" {
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = io.WriteString(w, zipped)
			return
		}
		_, _ = io.WriteString(w, page)
	})
	d := dist("EZIP", o, "zip.test")
	d.Config.DefaultBehavior.Compress = true
	h := newHarness(t, Config{}, d)
	h.srv.Client().Transport.(*http.Transport).DisableCompression = true
	sent := func() []string {
		t.Helper()
		return o.lastRequest().Header.Values("Accept-Encoding")
	}

	for i, want := range []string{miss, hit} {
		r := h.get("zip.test", "/p.html", "Accept-Encoding", "deflate, gzip, br")
		if r.status != 200 || r.xcache() != want || r.header.Get("Content-Encoding") != "gzip" || r.body != zipped {
			t.Fatalf("gzip GET %d: %d %q Content-Encoding %q, body the origin's: %v", i, r.status, r.xcache(), r.header.Get("Content-Encoding"), r.body == zipped)
		}
		if r.header.Get("ETag") != `"o1"` { // the origin's: the edge did not compress
			t.Errorf("gzip GET %d: ETag %q", i, r.header.Get("ETag"))
		}
	}
	if got := sent(); len(got) != 1 || got[0] != "gzip" {
		t.Errorf("origin got Accept-Encoding %q for the gzip copy, want the normalized gzip", got)
	}
	// Any other viewer gets the identity copy, asked for without
	// Accept-Encoding: deflate and br are removed, * and gzip;q=0 are not gzip.
	for i, ae := range []string{"", "identity", "deflate, br", "*", "gzip;q=0"} {
		want := hit
		if i == 0 {
			want = miss
		}
		r := h.get("zip.test", "/p.html", "Accept-Encoding", ae)
		if r.status != 200 || r.xcache() != want || r.header.Get("Content-Encoding") != "" || r.body != page {
			t.Fatalf("Accept-Encoding %q: %d %q Content-Encoding %q", ae, r.status, r.xcache(), r.header.Get("Content-Encoding"))
		}
	}
	if got := sent(); got != nil {
		t.Errorf("origin got Accept-Encoding %q for the identity copy, want none", got)
	}
	if n := o.hitsOf("/p.html"); n != 2 {
		t.Errorf("origin asked %d times, want 2 (one per copy)", n)
	}

	// HTTP/1.0: Accept-Encoding removed, the identity copy.
	req := httptest.NewRequest(http.MethodGet, "http://zip.test/p10.html", nil)
	req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/1.0", 1, 0
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	h.edge.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Header().Get("Content-Encoding") != "" || rec.Body.String() != page {
		t.Errorf("HTTP/1.0: %d Content-Encoding %q", rec.Code, rec.Header().Get("Content-Encoding"))
	}
	if got := sent(); got != nil {
		t.Errorf("origin got Accept-Encoding %q over HTTP/1.0, want none", got)
	}

	// An invalidation removes both copies.
	h.apply("EZIP", "/p.html")
	if r := h.get("zip.test", "/p.html", "Accept-Encoding", "gzip"); r.xcache() != miss || r.body != zipped {
		t.Errorf("gzip copy after the invalidation: %q", r.xcache())
	}
	if r := h.get("zip.test", "/p.html"); r.xcache() != miss || r.body != page {
		t.Errorf("identity copy after the invalidation: %q", r.xcache())
	}
}

// A whitelisted Accept-Encoding is normalized too when Compress is on; with
// Compress off it is forwarded as the viewer sent it (any header is).
func TestOriginAcceptEncoding(t *testing.T) {
	for _, c := range []struct {
		compress, gzip bool
		in             []string
		want           []string
	}{
		{true, true, []string{"deflate, gzip"}, []string{"gzip"}},
		{true, true, nil, []string{"gzip"}},
		{true, false, []string{"deflate, br"}, nil},
		{false, false, []string{"deflate, gzip"}, []string{"deflate, gzip"}},
		{false, false, nil, nil},
	} {
		h := http.Header{}
		if c.in != nil {
			h["Accept-Encoding"] = c.in
		}
		ae := ""
		if c.gzip {
			ae = "gzip"
		}
		setOriginAcceptEncoding(&behavior{compress: c.compress}, h, ae)
		if got := h["Accept-Encoding"]; !slices.Equal(got, c.want) {
			t.Errorf("compress %v gzip %v %q: %q, want %q", c.compress, c.gzip, c.in, got, c.want)
		}
	}
}

// Requests that bypass the cache (here CachingDisabled) carry the same
// normalized Accept-Encoding, and the origin's encoding is relayed.
func TestCompressPassthroughAcceptEncoding(t *testing.T) {
	o := newOrigin(t)
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") == "gzip" {
			w.Header().Set("Content-Encoding", "gzip")
		}
		_, _ = io.WriteString(w, "body")
	})
	d := dist("EZIP", o, "zip.test")
	d.Config.DefaultBehavior.Compress = true
	d.Config.DefaultBehavior.CachePolicyID = cachingDisabledPolicy
	h := newHarness(t, Config{}, d)
	h.srv.Client().Transport.(*http.Transport).DisableCompression = true
	for _, c := range []struct{ ae, sent string }{{"deflate, gzip", "gzip"}, {"deflate, br", ""}, {"identity", ""}} {
		r := h.get("zip.test", "/x", "Accept-Encoding", c.ae)
		if got := strings.Join(o.lastRequest().Header.Values("Accept-Encoding"), ","); got != c.sent {
			t.Errorf("viewer %q: origin got Accept-Encoding %q, want %q", c.ae, got, c.sent)
		}
		if r.header.Get("Content-Encoding") != c.sent {
			t.Errorf("viewer %q: Content-Encoding %q, want the origin's %q", c.ae, r.header.Get("Content-Encoding"), c.sent)
		}
	}
}
