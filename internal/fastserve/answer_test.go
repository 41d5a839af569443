package fastserve

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/openfront/openfront/internal/testutil"
)

// Finished is told of every answer once, with the bytes the client
// received (header and body) and the bytes it sent: fast path, bridge,
// a streamed body, HTTP/1.0 on the hijacked connection, a HEAD, a refused
// Host, a handler that panics before answering.
func TestFinishedCountsBytes(t *testing.T) {
	var mu sync.Mutex
	var got []Answer
	big := strings.Repeat("b", 200<<10)
	addr, _ := start(t, Config{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/big":
				io.WriteString(w, big)
			case "/unknown":
				w.(http.Flusher).Flush()
				io.WriteString(w, big)
			case "/panic":
				panic("boom")
			case "/nf":
				http.Error(w, "gone", http.StatusNotFound)
			case "/nm":
				w.WriteHeader(http.StatusNotModified)
			case "/teapot":
				w.WriteHeader(799)
			default:
				w.Header().Set("X-Cache", "Miss from cloudfront")
				io.WriteString(w, "hello")
			}
		}),
		Fast: func(ctx *fasthttp.RequestCtx) bool {
			if string(ctx.Path()) != "/fast" {
				return false
			}
			ctx.Response.Header.Set("X-Cache", "Hit from cloudfront")
			ctx.SetBodyString("fast body")
			return true
		},
		Finished: func(a *Answer) {
			mu.Lock()
			defer mu.Unlock()
			c := *a
			c.Request, c.Response = nil, nil
			if a.Response != nil {
				c.Response = new(fasthttp.ResponseHeader)
				a.Response.CopyTo(c.Response)
			}
			got = append(got, c)
		},
	})
	reqs := []struct {
		raw      string
		status   int
		complete bool
	}{
		{"GET /fast HTTP/1.1\r\nHost: a.test\r\nUser-Agent: t\r\n\r\n", 200, true},
		{"GET /small HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n", 200, true},
		{"GET /small HTTP/1.1\r\nHost: user@site.test\r\n\r\n", 400, true},
		{"GET /small?x=1 HTTP/1.1\r\nHost: a.test\r\n\r\n", 200, true},
		{"POST /small HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nabcde", 200, true},
		{"HEAD /small HTTP/1.1\r\nHost: a.test\r\n\r\n", 200, true},
		{"GET /big HTTP/1.1\r\nHost: a.test\r\n\r\n", 200, true},
		{"GET /unknown HTTP/1.1\r\nHost: a.test\r\n\r\n", 200, true},
		{"GET /small HTTP/1.0\r\nHost: a.test\r\n\r\n", 200, true},
		{"GET /unknown HTTP/1.0\r\nHost: a.test\r\n\r\n", 200, true},
		{"GET /nf HTTP/1.1\r\nHost: a.test\r\n\r\n", 404, true},
		{"GET /nm HTTP/1.1\r\nHost: a.test\r\n\r\n", 304, true},
		{"GET /teapot HTTP/1.1\r\nHost: a.test\r\n\r\n", 799, true},
		{"GET /panic HTTP/1.1\r\nHost: a.test\r\n\r\n", 0, false},
	}
	for i, rq := range reqs {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, rq.raw)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		cr := &countingReader{r: c}
		br := bufio.NewReader(cr)
		var wire int64 // header and body bytes, without chunk framing
		if resp, err := http.ReadResponse(br, &http.Request{Method: strings.Fields(rq.raw)[0]}); err == nil {
			wire = cr.n - int64(br.Buffered())
			n, _ := io.Copy(io.Discard, resp.Body)
			wire += n
			resp.Body.Close()
		}
		c.Close()
		// Wait for the report (a streamed body's comes after the bytes).
		testutil.Eventually(t, 10*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(got) > i
		}, fmt.Sprintf("the report of request %d (%q)", i, rq.raw))
		mu.Lock()
		if len(got) != i+1 {
			mu.Unlock()
			t.Fatalf("request %d (%q): %d reports", i, rq.raw, len(got))
		}
		a := got[i]
		mu.Unlock()
		sent := int64(a.HeaderBytes) + a.BodyBytes
		if a.Status != rq.status || a.Complete != rq.complete || sent != wire || a.RequestBytes != int64(len(rq.raw)) {
			t.Errorf("request %d (%q): status %d complete %v sent %d (header %d) of %d on the wire, request %d of %d",
				i, rq.raw, a.Status, a.Complete, sent, a.HeaderBytes, wire, a.RequestBytes, len(rq.raw))
		}
		if a.Start.IsZero() || a.End.Before(a.FirstByte) || a.FirstByte.Before(a.Start) || a.Remote == nil {
			t.Errorf("request %d: times %v %v %v remote %v", i, a.Start, a.FirstByte, a.End, a.Remote)
		}
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// A request the server refuses before any handler (a Host header
// net/http would not hand on, a head fasthttp cannot read) gets a debug
// line without its bytes.
func TestRefusedRequestsLogged(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&buf, &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	addr, _ := start(t, Config{Handler: http.NotFoundHandler(), Logger: log, Name: "viewer listener"})
	for _, raw := range []string{
		"GET / HTTP/1.1\r\nHost: user@site.test\r\nCookie: secret=1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nCookie: secret=2\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 1000)+"\r\n", 40) + "\r\n",
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, raw)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.ReadAll(c)
		c.Close()
	}
	var got string
	testutil.Eventually(t, 10*time.Second, func() bool {
		mu.Lock()
		got = buf.String()
		mu.Unlock()
		return strings.Contains(got, "malformed Host header") && strings.Contains(got, "before it could be read") && strings.Contains(got, "status=431")
	}, "the three warnings in the log")
	if strings.Contains(got, "secret") {
		t.Fatalf("request bytes logged: %s", got)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}
