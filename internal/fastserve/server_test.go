package fastserve

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/openfront/openfront/internal/testutil"
)

func start(t *testing.T, c Config) (string, *Server) {
	t.Helper()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	s := New(c)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return ln.Addr().String(), s
}

// TestWriteDeadlineUnblocksStalledStream: a handler streaming to a client
// that reads nothing (a stalled edge on the fleet's event stream) sets a
// write deadline through http.ResponseController, as net/http allows;
// once it passes, the handler's write fails instead of blocking.
func TestWriteDeadlineUnblocksStalledStream(t *testing.T) {
	result := make(chan error, 1)
	addr, _ := start(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		w.Header().Set("Content-Type", "text/event-stream")
		if err := rc.Flush(); err != nil {
			result <- err
			return
		}
		if err := rc.SetWriteDeadline(time.Now().Add(300 * time.Millisecond)); err != nil {
			result <- err
			return
		}
		defer rc.SetWriteDeadline(time.Time{})
		chunk := []byte(strings.Repeat("data: x\n", 8<<10) + "\n")
		for {
			if _, err := w.Write(chunk); err != nil {
				result <- err
				return
			}
			if err := rc.Flush(); err != nil {
				result <- err
				return
			}
		}
	})})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 10)
	}
	io.WriteString(c, "GET /events HTTP/1.1\r\nHost: cp.test\r\n\r\n")
	// The client reads nothing.
	select {
	case err := <-result:
		if err == nil || errors.Is(err, http.ErrNotSupported) {
			t.Fatalf("handler ended with %v, want a write error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the handler's write still blocks long after its write deadline")
	}
}

// TestFlushStreamsEachEvent: what a handler flushes reaches the client at
// once, chunked, while the handler goes on.
func TestFlushStreamsEachEvent(t *testing.T) {
	next := make(chan struct{})
	addr, _ := start(t, Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 3; i++ {
			io.WriteString(w, "data: event\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	})})
	resp, err := http.Get("http://" + addr + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.TransferEncoding == nil || resp.TransferEncoding[0] != "chunked" {
		t.Errorf("Transfer-Encoding %v, want chunked", resp.TransferEncoding)
	}
	br := bufio.NewReader(resp.Body)
	for i := 0; i < 3; i++ {
		line, err := br.ReadString('\n')
		if err != nil || line != "data: event\n" {
			t.Fatalf("event %d: %q, %v", i, line, err)
		}
		br.ReadString('\n')
		next <- struct{}{}
	}
}

// TestShutdownRunsHooksAndWaits: Shutdown calls the functions registered
// with RegisterOnShutdown (which end the streams), and waits for the
// streams they end to finish.
func TestShutdownRunsHooksAndWaits(t *testing.T) {
	stop := make(chan struct{})
	finish := make(chan struct{})
	ended := make(chan struct{})
	s := New(Config{Logger: slog.New(slog.DiscardHandler), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "data: hello\n\n")
		w.(http.Flusher).Flush()
		<-stop
		<-finish // the stream ends when the test says, after the hook ran
		io.WriteString(w, "data: bye\n\n")
		close(ended)
	})})
	s.RegisterOnShutdown(func() { close(stop) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	resp, err := http.Get("http://" + ln.Addr().String() + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(ctx) }()
	select {
	case <-stop: // the hook ran
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not run the hook")
	}
	// A negative: Shutdown must not return while the stream goes on. Only
	// a pause can show it; a Shutdown that does not wait returns within it.
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) before the stream ended", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(finish)
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-ended:
	default:
		t.Fatal("Shutdown returned before the stream ended")
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "data: hello\n\ndata: bye\n\n" {
		t.Errorf("stream body %q", body)
	}
}

// TestBodyTooLarge: a body over MaxRequestBodySize is answered by
// BodyTooLarge, without reading it, and the connection closed.
func TestBodyTooLarge(t *testing.T) {
	addr, _ := start(t, Config{MaxRequestBodySize: 1 << 10, Handler: http.NotFoundHandler(),
		BodyTooLarge: func(ctx *fasthttp.RequestCtx) {
			ctx.SetStatusCode(http.StatusRequestEntityTooLarge)
			ctx.Response.Header.Set("X-Mine", string(ctx.Request.Header.Method()))
			ctx.SetBodyString("too large")
		}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2048\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 413 || resp.Header.Get("X-Mine") != "POST" || string(body) != "too large" || !resp.Close {
		t.Errorf("%d %v %q close=%v", resp.StatusCode, resp.Header, body, resp.Close)
	}
}

// A client that sends the whole of a body refused for its size before
// reading the answer gets the 413, not a connection reset: the refused
// body is read and dropped before the connection is closed.
func TestBodyTooLargeSentWholeGetsTheAnswer(t *testing.T) {
	addr, _ := start(t, Config{MaxRequestBodySize: 1 << 10, Handler: http.NotFoundHandler(),
		BodyTooLarge: func(ctx *fasthttp.RequestCtx) {
			ctx.SetStatusCode(http.StatusRequestEntityTooLarge)
			ctx.SetBodyString("too large")
		}})
	const size = 8 << 20 // far more than the sockets' buffers hold
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		req := append([]byte("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: "+strconv.Itoa(size)+"\r\n\r\n"), make([]byte, size)...)
		if _, err := c.Write(req); err != nil {
			c.Close()
			t.Fatalf("writing the body: %v", err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			c.Close()
			t.Fatalf("reading the answer: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		c.Close()
		if resp.StatusCode != 413 || string(body) != "too large" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
	}
}

// A client leaving a streamed answer (an edge leaving the fleet's event
// stream, a viewer stopping a large download) is not a server problem:
// nothing is logged above Debug, as net/http logs nothing.
func TestClientLeavingStreamLogsNoWarning(t *testing.T) {
	var logs testutil.SyncBuffer
	var left atomic.Int32 // streams that saw their client leave
	addr, s := start(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/s" {
				defer left.Add(1)
			}
			w.Header().Set("Content-Type", "text/event-stream")
			for i := 0; ; i++ {
				if _, err := fmt.Fprintf(w, "data: %d\n\n", i); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-time.After(5 * time.Millisecond):
				case <-r.Context().Done():
					return
				}
			}
		})})
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "GET /s HTTP/1.1\r\nHost: a\r\n\r\n")
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	// A malformed request is still worth a warning: it shows the log works.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GARBAGE\r\n\r\n")
	io.ReadAll(c)
	testutil.Eventually(t, 10*time.Second, func() bool { return left.Load() == 3 }, "the three streams to see their client leave")
	// Shutdown returns once every connection is done with, so whatever
	// the server logs about them has been logged.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	got := logs.String()
	if n := strings.Count(got, "level=WARN"); n != 1 || strings.Contains(got, "closed pipe") || strings.Contains(got, "context canceled") {
		t.Fatalf("want one warning (the malformed request's), got:\n%s", got)
	}
}

// A Host header net/http refuses is refused before the fast path too
// (the viewer listener answers cache hits there).
func TestMalformedHostNeverReachesFastPath(t *testing.T) {
	var fastCalls atomic.Int32
	addr, _ := start(t, Config{Handler: http.NotFoundHandler(), Fast: func(ctx *fasthttp.RequestCtx) bool {
		fastCalls.Add(1)
		ctx.SetBodyString("fast")
		return true
	}})
	get := func(host string) (status string, body string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET /x HTTP/1.1\r\nHost: %s\r\n\r\n", host)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp.Status, string(b)
	}
	if status, _ := get("user@site.test"); status != "400 Bad Request: malformed Host header" || fastCalls.Load() != 0 {
		t.Fatalf("%s; fast path called %d times", status, fastCalls.Load())
	}
	if _, body := get("site.test"); body != "fast" {
		t.Fatalf("a good Host: %q", body)
	}
}
