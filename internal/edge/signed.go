package edge

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/openfront/openfront/internal/signing"
)

// Signed URLs and cookies.
//
// A behavior with trusted key groups (or TrustedSigners) serves only
// requests with a valid signed URL (Expires or Policy, Signature,
// Key-Pair-Id, Hash-Algorithm in the query string) or, when the query has
// none of them, signed cookies (CloudFront-Expires or CloudFront-Policy,
// CloudFront-Signature, CloudFront-Key-Pair-Id, CloudFront-Hash-Algorithm).
// The URL checked is the one the viewer asked for, without the signing
// parameters: scheme, the Host it sent, the path and query as sent.
// Anything else gets CloudFront's 403 XML error (signing.Denial), or the
// distribution's custom error page for 403. An admitted request goes on
// without the signing parameters in its query: they are neither in the
// cache key nor sent to the origin. internal/signing caches verified
// signatures, so a hit on a signed URL costs no RSA verification after
// the first.

// admitSigned checks r against b's trusted keys. On success it removes
// the signing parameters from r's query and reports true; otherwise it
// has answered the viewer.
func (e *Edge) admitSigned(w http.ResponseWriter, r *http.Request, s *site, b *behavior, id string) bool {
	rest, p := signing.SplitQuery(r.URL.RawQuery)
	if !p.Any {
		p = signing.CookieParams(func(name string) (string, bool) {
			c, err := r.Cookie(name)
			if err != nil {
				return "", false
			}
			return c.Value, true
		})
	}
	req := signing.Request{URL: viewerURL(r, rest), IP: viewerAddr(r.RemoteAddr), Params: p}
	if d := e.signed.Check(b.trust, &req); d != nil {
		e.denySigned(w, r, s, d, id)
		return false
	}
	r.URL.RawQuery = rest
	r.URL.ForceQuery = false
	return true
}

// viewerURL is the URL the viewer asked for, as a signer signs it.
func viewerURL(r *http.Request, query string) string {
	scheme := "http://"
	if r.TLS != nil {
		scheme = "https://"
	}
	var b strings.Builder
	path := r.URL.EscapedPath()
	b.Grow(len(scheme) + len(r.Host) + len(path) + 1 + len(query))
	b.WriteString(scheme)
	b.WriteString(r.Host)
	b.WriteString(path)
	if query != "" {
		b.WriteByte('?')
		b.WriteString(query)
	}
	return b.String()
}

// viewerAddr is the address of the viewer's connection (the zero Addr when
// it cannot be read: no IpAddress condition admits it).
func viewerAddr(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// denySigned answers a refused signed request: the distribution's custom
// error page for 403 when it has one, else CloudFront's XML error.
func (e *Edge) denySigned(w http.ResponseWriter, r *http.Request, s *site, d *signing.Denial, id string) {
	if e.custom(w, r, s, http.StatusForbidden, id) {
		return
	}
	body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + d.Code + `</Code><Message>` + d.Message + `</Message></Error>`
	e.writeCanned(w, r, &canned{
		status: http.StatusForbidden,
		header: http.Header{"Server": {"CloudFront"}, "Content-Type": {"text/xml"}},
		body:   []byte(body),
	}, id)
}

// admitSignedFast is admitSigned on the fasthttp listener's fast path, for
// a signed URL: it returns the query without the signing parameters and
// true when the request is admitted, false when it has none in its query
// (signed cookies) or is refused, which the general path then answers.
func (e *Edge) admitSignedFast(ctx *fasthttp.RequestCtx, b *behavior, rawPath, rawQuery string) (string, bool) {
	rest, p := signing.SplitQuery(rawQuery)
	if !p.Any {
		return "", false
	}
	scheme := "http://"
	if ctx.IsTLS() {
		scheme = "https://"
	}
	host := ctx.Request.Header.Host()
	var u strings.Builder
	u.Grow(len(scheme) + len(host) + len(rawPath) + 1 + len(rest))
	u.WriteString(scheme)
	u.Write(host)
	u.WriteString(rawPath)
	if rest != "" {
		u.WriteByte('?')
		u.WriteString(rest)
	}
	ip, _ := netip.AddrFromSlice(ctx.RemoteIP())
	req := signing.Request{URL: u.String(), IP: ip.Unmap(), Params: p}
	if e.signed.Check(b.trust, &req) != nil {
		return "", false
	}
	return rest, true
}
