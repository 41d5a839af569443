package edge

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
)

// Compression (a cache behavior's Compress), as CloudFront does it with
// legacy cache settings, which allow Gzip only (Brotli needs a cache
// policy).
//
// The conditions follow the CloudFront Developer Guide, "Serve compressed
// files" (ServingCompressedFiles.html: "Conditions for compression",
// "File types that CloudFront compresses", "ETag header conversion").
//
// A viewer whose Accept-Encoding lists gzip, over HTTP/1.1 or later, gets
// its own copy of the object, cached under its own key (the key gains an
// Accept-Encoding=gzip line), fetched from the origin on its first request
// as CloudFront does when it has no compressed copy.
//
// The origin request carries the normalized Accept-Encoding, as the guide
// says CloudFront does when configured to compress ("it includes the
// Accept-Encoding header in the cache key and in origin requests
// automatically"; other values such as deflate are removed before the
// request is forwarded; an HTTP/1.0 request has its Accept-Encoding
// removed): "Accept-Encoding: gzip" for the gzip copy, none for the other
// copy (whatever the viewer sent, a whitelisted Accept-Encoding too), so
// what the origin is sent is exactly what the key holds. An origin that
// compresses itself answers the gzip copy with its Content-Encoding, and
// that answer is cached and served as it is: a Content-Encoding header,
// whatever its value, means the edge does not compress. Otherwise the
// edge gzips the body when CloudFront would: status 200, 403 or 404, a
// Content-Length from the origin of 1,000 to 10,000,000 bytes, no
// Content-Encoding header from the origin, and a Content-Type CloudFront
// compresses. The ETag is then converted as CloudFront does: a valid
// strong one ("...") becomes weak (W/"..."), a weak one is kept, any other
// is removed. The answer has Content-Encoding: gzip and no Content-Length
// of its own (net/http adds one to a small body and sends a large one
// chunked). Invalidations remove both copies: they match names, and both
// have the object's name.

// acceptsGzip reports whether a viewer's Accept-Encoding lists gzip with a
// q-value above 0. CloudFront compresses only when the header contains
// gzip (or br): "*" does not count. An HTTP/1.0 request never gets a
// compressed copy: CloudFront removes its Accept-Encoding.
func acceptsGzip(r *http.Request) bool {
	if r.ProtoMajor == 1 && r.ProtoMinor == 0 {
		return false
	}
	for _, v := range r.Header["Accept-Encoding"] {
		if acceptsGzipValue(v) {
			return true
		}
	}
	return false
}

// acceptsGzipValue reports whether one Accept-Encoding value lists gzip
// with a q above 0.
func acceptsGzipValue(v string) bool {
	for part := range strings.SplitSeq(v, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		if name, q, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.EqualFold(strings.TrimSpace(name), "q") {
			if f, err := strconv.ParseFloat(strings.TrimSpace(q), 64); err == nil && f <= 0 {
				continue
			}
		}
		return true
	}
	return false
}

// setOriginAcceptEncoding sets the Accept-Encoding of an origin request h:
// the normalized ae (see behavior.acceptEncoding), none when ae is empty,
// for a behavior with Compress or a cache policy that normalizes it.
// Otherwise h is left as it is (Accept-Encoding is then forwarded only
// when selected, as any other header).
func setOriginAcceptEncoding(b *behavior, h http.Header, ae string) {
	switch {
	case !b.compress && !b.aePolicy:
	case ae != "":
		h["Accept-Encoding"] = aeValues(ae)
	default:
		delete(h, "Accept-Encoding")
	}
}

// The normalized Accept-Encoding values.
const (
	aeGzipValue   = "gzip"
	aeBrValue     = "br"
	aeBrGzipValue = "br,gzip"
)

var (
	aeGzipVals   = []string{aeGzipValue}
	aeBrVals     = []string{aeBrValue}
	aeBrGzipVals = []string{aeBrGzipValue}
)

func aeValues(ae string) []string {
	switch ae {
	case aeGzipValue:
		return aeGzipVals[:1:1]
	case aeBrValue:
		return aeBrVals[:1:1]
	}
	return aeBrGzipVals[:1:1]
}

// hasGzip reports whether the normalized ae has gzip.
func hasGzip(ae string) bool { return ae == aeGzipValue || ae == aeBrGzipValue }

// acceptEncoding returns the normalized Accept-Encoding that the
// behavior puts in the key and the origin request of viewer request r
// asking with method, "" for none. With a cache policy that enables Gzip
// or Brotli: "br,gzip", "br" or "gzip" as the viewer accepts the enabled
// encodings (CloudFront's normalization: other codings, and "*", are
// dropped; an HTTP/1.0 request has none). Otherwise, with Compress: "gzip"
// for a GET from a viewer that accepts gzip (the legacy settings allow
// gzip only).
func (b *behavior) acceptEncoding(r *http.Request, method string) string {
	if !b.aePolicy {
		if wantsGzip(b, r, method) {
			return aeGzipValue
		}
		return ""
	}
	if r.ProtoMajor == 1 && r.ProtoMinor == 0 {
		return ""
	}
	gz, br := false, false
	for _, v := range r.Header["Accept-Encoding"] {
		g, bb := acceptedCodings(v)
		gz, br = gz || g, br || bb
	}
	return b.normalizedAE(gz, br)
}

// normalizedAE is the normalized Accept-Encoding of a viewer that accepts
// gzip (gz) and Brotli (br), under a cache policy that normalizes it.
func (b *behavior) normalizedAE(gz, br bool) string {
	gz, br = gz && b.aeGzip, br && b.aeBr
	switch {
	case gz && br:
		return aeBrGzipValue
	case br:
		return aeBrValue
	case gz:
		return aeGzipValue
	}
	return ""
}

// acceptedCodings reports whether one Accept-Encoding value lists gzip
// and br with a q above 0.
func acceptedCodings(v string) (gzip, br bool) {
	for part := range strings.SplitSeq(v, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.TrimSpace(coding)
		isGzip, isBr := strings.EqualFold(coding, "gzip"), strings.EqualFold(coding, "br")
		if !isGzip && !isBr {
			continue
		}
		if name, q, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.EqualFold(strings.TrimSpace(name), "q") {
			if f, err := strconv.ParseFloat(strings.TrimSpace(q), 64); err == nil && f <= 0 {
				continue
			}
		}
		gzip, br = gzip || isGzip, br || isBr
	}
	return gzip, br
}

// aeVariant is the line a normalized Accept-Encoding adds to the cache
// key (the form of the lines of forwarded headers, see behavior.variant).
func aeVariant(ae string) string {
	switch ae {
	case aeGzipValue:
		return gzipVariant
	case aeBrValue:
		return "Accept-Encoding=br\n"
	}
	return "Accept-Encoding=br,gzip\n"
}

// gzipVariant is the line compressed copies add to the cache key.
const gzipVariant = "Accept-Encoding=gzip\n"

// compressibleTypes are the Content-Type values CloudFront compresses: the
// 48 of the list "File types that CloudFront compresses", in its order
// (vnd.apple.mpegurl, without a type, is on it as written).
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
// origin's Content-Length, -1 when it sent none (net/http refuses an
// invalid one).
func compressible(status int, h http.Header, n int, contentLength int64) bool {
	if status != http.StatusOK && status != http.StatusForbidden && status != http.StatusNotFound {
		return false
	}
	if contentLength < minCompressSize || contentLength > maxCompressSize || int64(n) != contentLength {
		return false
	}
	if _, encoded := h["Content-Encoding"]; encoded { // regardless of its value
		return false
	}
	return compressibleTypes[mediaType(h.Get("Content-Type"))]
}

// mediaType returns the type/subtype of a Content-Type value, lower-cased
// and without parameters ("text/html; charset=utf-8" is text/html).
func mediaType(ct string) string {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(mt))
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
	if _, ok := h["Etag"]; ok { // the canonical form of ETag
		if et := weakETag(h.Get("ETag")); et != "" {
			h.Set("ETag", et)
		} else {
			h.Del("ETag")
		}
	}
}

// weakETag converts the ETag of an object CloudFront compressed ("ETag
// header conversion"): a valid strong value, which begins and ends with a
// double quote, gets the prefix W/; a weak value (W/...) is kept as it is;
// any other value is invalid and the header removed (""). The guide calls
// invalid a value that begins neither with " nor with W/, and says nothing
// of one that begins with " but does not end with it: not being a valid
// strong ETag, it is removed too.
func weakETag(et string) string {
	switch {
	case strings.HasPrefix(et, "W/"):
		return et
	case len(et) >= 2 && et[0] == '"' && et[len(et)-1] == '"':
		return "W/" + et
	default:
		return ""
	}
}

// wantsGzip reports whether the viewer's request is for the gzipped copy
// of an object under legacy settings with Compress.
func wantsGzip(b *behavior, r *http.Request, method string) bool {
	return b.compress && method == http.MethodGet && acceptsGzip(r)
}
