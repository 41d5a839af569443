package fastapi

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAPIListenerRefusesAsNetHTTP sends requests net/http refuses, or
// reads in a way the fast path must not take for granted (Host and
// header forms), to the API under net/http and under the API listener,
// and compares the status lines and bodies (a refusal's header differs as
// docs/compatibility.md says: the listener's carries a Content-Length and
// a Date) and whether the connection is closed after the answer.
func TestAPIListenerRefusesAsNetHTTP(t *testing.T) {
	ref, fast, _ := listeners(t)
	inv := "/2020-05-31/distribution/" + distID + "/invalidation"
	body := batch("refuse", "/a")
	signed := func(edit func(string) string) string {
		q := rawReq{method: "POST", target: inv, body: body, sign: keyID,
			header: [][2]string{{"Content-Type", "text/xml"}, {"Content-Length", strconv.Itoa(len(body))}}}
		return edit(q.bytes("api.test"))
	}
	host := func(h string) func(string) string {
		return func(s string) string { return strings.Replace(s, "Host: api.test\r\n", h, 1) }
	}
	cases := []struct{ name, raw string }{
		{"HTTP/1.1 without Host", signed(host(""))},
		{"two Host headers", signed(host("Host: api.test\r\nHost: api.test\r\n"))},
		{"Host with userinfo", signed(host("Host: user@api.test\r\n"))},
		{"Host with a path", signed(host("Host: api.test/x\r\n"))},
		{"Host with a query", signed(host("Host: api.test?x\r\n"))},
		{"Host in another case, with tabs", signed(host("hOST:\tapi.test\t\r\n"))},
		{"Host with a port", signed(host("Host: api.test:8080\r\n"))},
		{"Host, IPv6 literal", signed(host("Host: [::1]:8080\r\n"))},
		{"HTTP/1.0 Host with userinfo", strings.Replace(signed(host("Host: user@api.test\r\n")), " HTTP/1.1\r\n", " HTTP/1.0\r\n", 1)},
		{"Transfer-Encoding identity", signed(func(s string) string {
			return strings.Replace(s, "Content-Type:", "Transfer-Encoding: identity\r\nContent-Type:", 1)
		})},
		{"Transfer-Encoding gzip", signed(func(s string) string {
			return strings.Replace(s, "Content-Type:", "Transfer-Encoding: gzip\r\nContent-Type:", 1)
		})},
		{"Transfer-Encoding twice", signed(func(s string) string {
			return strings.Replace(s, "Content-Type:", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\nContent-Type:", 1)
		})},
		{"Content-Length with a sign", signed(func(s string) string { return strings.Replace(s, "Content-Length: ", "Content-Length: +", 1) })},
		{"Content-Length with leading zeros", signed(func(s string) string { return strings.Replace(s, "Content-Length: ", "Content-Length: 00", 1) })},
		{"header name with a space", signed(func(s string) string { return strings.Replace(s, "Content-Type:", "Foo Bar: x\r\nContent-Type:", 1) })},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := statusAndBody(t, ref, c.raw)
			got := statusAndBody(t, fast, c.raw)
			if got != want {
				t.Errorf("API listener:\n%s\nnet/http:\n%s", got, want)
			}
		})
	}
}

// statusAndBody sends raw on a new connection to addr and returns the
// answer's status line, body (ids and times masked) and whether the
// connection was then closed.
func statusAndBody(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	go io.WriteString(c, raw)
	var rec bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c, &rec))
	a := readAnswer(t, br, &rec, "POST")
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, err = br.ReadByte()
	var ne net.Error
	closed := err != nil && !(errors.As(err, &ne) && ne.Timeout())
	return a.status + "\n" + a.body + "\nclosed: " + strconv.FormatBool(closed)
}

// TestAPIListenerDiffersAsDocumented pins the request forms that
// docs/compatibility.md lists as read otherwise than by net/http (no AWS
// client sends them): if fasthttp's parser changes, this fails and the
// row must change with it. (A head ended by a bare LF is left out: it
// takes the 10 s header timeout.)
func TestAPIListenerDiffersAsDocumented(t *testing.T) {
	ref, fast, _ := listeners(t)
	inv := "/2020-05-31/distribution/" + distID + "/invalidation"
	body := batch("differs", "/a")
	signed := func(edit func(string) string) string {
		q := rawReq{method: "POST", target: inv, body: body, sign: keyID,
			header: [][2]string{{"Content-Type", "text/xml"}, {"Content-Length", strconv.Itoa(len(body))}}}
		return edit(q.bytes("api.test"))
	}
	cl := "Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
	cases := []struct{ name, raw, listener, netHTTP string }{
		{"two identical Content-Length headers", signed(func(s string) string { return strings.Replace(s, cl, cl+cl, 1) }),
			"HTTP/1.1 400 Bad Request", "HTTP/1.1 201 Created"},
		{"empty Host", signed(func(s string) string { return strings.Replace(s, "Host: api.test\r\n", "Host: \r\n", 1) }),
			"HTTP/1.1 400 Bad Request: missing required Host header", "HTTP/1.1 403 Forbidden"}, // net/http hands it on; the signature (over Host) then fails
		{"HTTP/1.0 with a Transfer-Encoding", signed(func(s string) string {
			s = strings.Replace(s, " HTTP/1.1\r\n", " HTTP/1.0\r\n", 1)
			return strings.Replace(s, "Content-Type:", "Transfer-Encoding: chunked\r\nContent-Type:", 1)
		}), "HTTP/1.1 501 Not Implemented", "HTTP/1.0 201 Created"},
		{"HTTP/1.2", signed(func(s string) string { return strings.Replace(s, " HTTP/1.1\r\n", " HTTP/1.2\r\n", 1) }),
			"HTTP/1.0 201 Created", "HTTP/1.1 201 Created"},
		// Refused on purpose (fastserve checkHead); net/http folds the
		// first and accepts the second.
		{"obs-fold", signed(func(s string) string {
			return strings.Replace(s, "Content-Type:", "X-A: a\r\n folded\r\nContent-Type:", 1)
		}),
			"HTTP/1.1 400 Bad Request", "HTTP/1.1 201 Created"},
		{"a bare LF between header lines", signed(func(s string) string { return strings.Replace(s, "Content-Type:", "X-A: a\nContent-Type:", 1) }),
			"HTTP/1.1 400 Bad Request", "HTTP/1.1 201 Created"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, _, _ := strings.Cut(statusAndBody(t, fast, c.raw), "\n")
			want, _, _ := strings.Cut(statusAndBody(t, ref, c.raw), "\n")
			if got != c.listener || want != c.netHTTP {
				t.Errorf("API listener %q (documented %q), net/http %q (documented %q)", got, c.listener, want, c.netHTTP)
			}
		})
	}
}
