package fastserve

import (
	"bytes"
	"net/http"

	"github.com/valyala/fasthttp"
)

// Header lines fasthttp accepts and HTTP/1.1 (RFC 9112) lets a server
// refuse: both listeners answer them 400, as CloudFront answers a
// malformed request, before anything else looks at the request.
//
//   - A header name that is not a token (RFC 9110 tchar): fasthttp keeps
//     a name with a space in it ("Foo Bar: x"). net/http refuses it too,
//     "400 Bad Request: invalid header name", in those words.
//   - A line continued on the next (obs-fold: a line starting with a space
//     or a tab). RFC 9112 section 5.2: reject it, or replace the fold by
//     spaces, as net/http does.
//   - A line ended by a bare LF. RFC 9112 section 2.2 lets a recipient
//     accept it, as net/http does; a bare LF is how requests are smuggled
//     past a proxy that reads lines otherwise.
//
// fasthttp keeps the header lines as received (RawHeaders: after the
// request line, up to the blank line), so this is one pass over those
// bytes, without allocating. What it cannot see: a request line ended by
// a bare LF, and a head ended by one (fasthttp waits for CRLF CRLF until
// the read timeout).
type headProblem int

const (
	headOK        headProblem = iota
	headBadName               // a header name that is not a token
	headMalformed             // obs-fold, a bare LF, a line without a colon
)

// checkHead returns what is wrong with raw, a request's header lines as
// received.
func checkHead(raw []byte) headProblem {
	for len(raw) > 0 {
		switch raw[0] {
		case '\r':
			if len(raw) < 2 || raw[1] != '\n' {
				return headMalformed
			}
			raw = raw[2:] // the blank line that ends the head
			continue
		case ' ', '\t':
			return headMalformed // obs-fold
		}
		// The name: token bytes up to the colon.
		i := 0
		for i < len(raw) && tokenByte[raw[i]] {
			i++
		}
		if i == len(raw) {
			return headMalformed
		}
		if raw[i] != ':' {
			if raw[i] == '\r' || raw[i] == '\n' {
				return headMalformed // no colon
			}
			return headBadName
		}
		if i == 0 {
			return headBadName
		}
		// The value, up to a line end that must be CRLF.
		j := bytes.IndexByte(raw[i:], '\n')
		if j < 0 {
			return headMalformed // fasthttp hands on a whole head only
		}
		j += i
		if raw[j-1] != '\r' {
			return headMalformed
		}
		raw = raw[j+1:]
	}
	return headOK
}

// tokenByte holds the bytes of an HTTP token (RFC 9110 tchar).
var tokenByte = AlnumAnd("!#$%&'*+-.^_`|~")

// refuseHead answers a request whose header lines checkHead refused, as
// net/http answers a request it cannot read: plain text, and the
// connection closed.
func refuseHead(ctx *fasthttp.RequestCtx, p headProblem) {
	ctx.Response.Header.SetProtocol(http11) // net/http's error answers say HTTP/1.1
	ctx.SetStatusCode(http.StatusBadRequest)
	body := "400 Bad Request"
	if p == headBadName {
		const why = "Bad Request: invalid header name"
		ctx.Response.Header.SetStatusMessage([]byte(why))
		body = "400 " + why
	}
	ctx.Response.Header.Set("Content-Type", "text/plain; charset=utf-8")
	ctx.Response.Header.SetConnectionClose()
	ctx.SetBodyString(body)
}
