package edge

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
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
		{"gzip; q=0.0", false}, {"br", false}, {"*", true}, {"x-gzip", false}, {"gzip;q=bad", true},
	} {
		r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
		if c.ae != "" {
			r.Header.Set("Accept-Encoding", c.ae)
		}
		if got := acceptsGzip(r); got != c.want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", c.ae, got, c.want)
		}
	}
	if !bytes.Equal([]byte(gunzipBytes(t, gzipBody([]byte("abc")))), []byte("abc")) {
		t.Error("gzipBody does not round-trip")
	}
}

func gunzipBytes(t *testing.T, b []byte) string { return gunzip(t, string(b)) }
