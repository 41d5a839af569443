package e2e

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawExchange sends raw on a new connection to the listener at base
// (http://host:port) and reads one answer.
func rawExchange(t *testing.T, base, raw string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// TestHostileHeaders sends request heads fasthttp reads but HTTP/1.1
// lets a server refuse (a header name with a space, obs-fold, a bare LF
// between header lines) to the viewer listener and to the API listener of
// the binary: each is answered 400 and the connection closed, as
// CloudFront answers a malformed request, before any handler sees it.
func TestHostileHeaders(t *testing.T) {
	s := startServer(t, options{})
	const api = "GET /2020-05-31/distribution/" + distID + "/invalidation HTTP/1.1\r\nHost: api.test\r\n"
	const viewer = "GET /index.html HTTP/1.1\r\nHost: x.cloudfront.net\r\n"
	cases := []struct {
		name, lines, status string
	}{
		{"space in a header name", "Foo Bar: x\r\n\r\n", "400 Bad Request: invalid header name"},
		{"space before the colon", "Foo : x\r\n\r\n", "400 Bad Request"},
		{"obs-fold with a space", "X-A: a\r\n folded\r\n\r\n", "400 Bad Request"},
		{"obs-fold with a tab", "X-A: a\r\n\tfolded\r\n\r\n", "400 Bad Request"},
		{"bare LF between header lines", "X-A: a\nX-B: b\r\n\r\n", "400 Bad Request"},
		{"bare LF ending the last line", "X-A: a\n\r\n\r\n", "400 Bad Request"},
	}
	for _, l := range []struct{ name, url, head string }{{"viewer", s.EdgeURL, viewer}, {"API", s.URL, api}} {
		for _, c := range cases {
			t.Run(l.name+"/"+c.name, func(t *testing.T) {
				resp, body := rawExchange(t, l.url, l.head+c.lines)
				if resp.Status != c.status || !resp.Close || body != c.status {
					t.Errorf("%q: %s (close %v) %q; want %s and the connection closed", l.head+c.lines, resp.Status, resp.Close, body, c.status)
				}
			})
		}
		t.Run(l.name+"/well-formed", func(t *testing.T) {
			if resp, body := rawExchange(t, l.url, l.head+"X-A: a\r\nX-Odd_Name!#$%&'*+-.^`|~: v\r\n\r\n"); resp.StatusCode == http.StatusBadRequest {
				t.Errorf("a well-formed head refused: %s %q", resp.Status, body)
			}
		})
	}
}
