package edge

import (
	"bytes"
	"compress/gzip"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// Compression (a cache behavior's Compress), as CloudFront does it with
// legacy cache settings, which allow Gzip only (Brotli needs a cache
// policy).
//
// A viewer whose Accept-Encoding lists gzip gets its own copy of the
// object, cached under its own key (the key gains an Accept-Encoding=gzip
// line), fetched from the origin on its first request as CloudFront does
// when it has no compressed copy. The edge sends the origin no
// Accept-Encoding, so the origin answers uncompressed; the edge gzips the
// body when CloudFront would: status 200, 403 or 404, a Content-Length
// from the origin of 1,000 to 10,000,000 bytes, no Content-Encoding from
// the origin, and a Content-Type CloudFront compresses. A strong ETag then
// becomes weak (W/"..."), as CloudFront converts it. The answer has
// Content-Encoding: gzip and no Content-Length of its own (net/http adds
// one to a small body and sends a large one chunked). Invalidations remove
// both copies: they match names, and both have the object's name.

// acceptsGzip reports whether a viewer's Accept-Encoding lists gzip (or
// "*") with a q-value above 0.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header["Accept-Encoding"] {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			coding = strings.TrimSpace(coding)
			if !strings.EqualFold(coding, "gzip") && coding != "*" {
				continue
			}
			if name, q, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.EqualFold(strings.TrimSpace(name), "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(q), 64); err == nil && f <= 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}

// gzipVariant is the line compressed copies add to the cache key (the form
// of the lines of forwarded headers, see behavior.variant).
const gzipVariant = "Accept-Encoding=gzip\n"

// compressibleTypes are the media types CloudFront compresses.
var compressibleTypes = map[string]bool{}

func init() {
	for _, t := range strings.Fields(`
		application/dash+xml application/eot application/font application/font-sfnt
		application/javascript application/json application/opentype application/otf
		application/pdf application/pkcs7-mime application/protobuf application/rss+xml
		application/truetype application/ttf application/vnd.apple.mpegurl
		application/vnd.mapbox-vector-tile application/vnd.ms-fontobject application/wasm
		application/xhtml+xml application/xml application/x-font-opentype
		application/x-font-truetype application/x-font-ttf application/x-httpd-cgi
		application/x-javascript application/x-mpegurl application/x-opentype
		application/x-otf application/x-perl application/x-ttf
		font/eot font/opentype font/otf font/ttf image/svg+xml
		text/css text/csv text/html text/javascript text/js text/plain text/richtext
		text/tab-separated-values text/xml text/x-component text/x-java-source text/x-script
		vnd.apple.mpegurl`) {
		compressibleTypes[t] = true
	}
}

// Sizes CloudFront compresses, in bytes.
const (
	minCompressSize = 1_000
	maxCompressSize = 10_000_000
)

// compressible reports whether CloudFront would gzip an origin response
// with status, header h and a body of n bytes; contentLength is the
// origin's Content-Length, -1 when it sent none.
func compressible(status int, h http.Header, n int, contentLength int64) bool {
	if status != http.StatusOK && status != http.StatusForbidden && status != http.StatusNotFound {
		return false
	}
	if contentLength < 0 || n < minCompressSize || n > maxCompressSize {
		return false
	}
	if ce := h.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return false
	}
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && compressibleTypes[mt]
}

// gzipBody returns body gzipped.
func gzipBody(body []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(body)/3 + 64)
	zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression) // a valid level: no error
	_, _ = zw.Write(body)                                       // a bytes.Buffer does not fail
	_ = zw.Close()
	return buf.Bytes()
}

// markCompressed sets the headers of a body the edge gzipped: h is the
// origin's (cleaned) header, changed in place.
func markCompressed(h http.Header) {
	h.Set("Content-Encoding", "gzip")
	h.Del("Content-Length")
	if et := h.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
		h.Set("ETag", "W/"+et)
	}
}
