package fastserve

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestWriteTimeoutIsPerWrite: a streamed answer that goes quiet for longer
// than the write timeout between two writes (an event stream) is not cut:
// each write has its own deadline, not the whole answer.
func TestWriteTimeoutIsPerWrite(t *testing.T) {
	const timeout = 200 * time.Millisecond
	addr, _ := start(t, Config{WriteTimeout: timeout, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 2 {
			if i > 0 {
				// The quiet spell is the behaviour under test: longer
				// than the real socket deadline, so only a real pause
				// shows it (synctest's clock does not move deadlines).
				time.Sleep(3 * timeout) // quiet: no write is waiting
			}
			io.WriteString(w, "data: event\n\n")
			w.(http.Flusher).Flush()
		}
	})})
	resp, err := http.Get("http://" + addr + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != "data: event\n\ndata: event\n\n" {
		t.Fatalf("stream: %q, %v", b, err)
	}
}

// TestReadWholeBudget: readWhole charges a declared body up front and a
// chunked one as it grows, refuses what the budget cannot hold or what is
// over the limit, and charges nothing when it fails.
func TestReadWholeBudget(t *testing.T) {
	var b budget
	b.left.Store(100 << 10)
	body, charged, err := readWhole(strings.NewReader(strings.Repeat("x", 60<<10)), 60<<10, 1<<20, &b)
	if err != nil || len(body) != 60<<10 || charged != 60<<10 || b.left.Load() != 40<<10 {
		t.Fatalf("declared: %d bytes, charged %d, %v, left %d", len(body), charged, err, b.left.Load())
	}
	if _, _, err := readWhole(strings.NewReader(strings.Repeat("x", 50<<10)), 50<<10, 1<<20, &b); err != errBusy || b.left.Load() != 40<<10 {
		t.Fatalf("over the budget: %v, left %d", err, b.left.Load())
	}
	if _, _, err := readWhole(strings.NewReader(strings.Repeat("x", 100<<10)), -1, 1<<20, &b); err != errBusy || b.left.Load() != 40<<10 {
		t.Fatalf("chunked over the budget: %v, left %d", err, b.left.Load())
	}
	// A chunked body is charged for the buffer it grows into (128 KiB).
	b.give(charged)
	b.give(100 << 10)
	body, charged, err = readWhole(bytes.NewReader(bytes.Repeat([]byte("y"), 70<<10)), -1, 1<<20, &b)
	if err != nil || len(body) != 70<<10 || charged != int64(cap(body)) || b.left.Load() != 200<<10-charged {
		t.Fatalf("chunked: %d bytes, charged %d, %v, left %d", len(body), charged, err, b.left.Load())
	}
	b.give(charged)
	if _, _, err := readWhole(strings.NewReader(strings.Repeat("x", 20<<10)), -1, 10<<10, &b); err != errBodyTooLarge || b.left.Load() != 200<<10 {
		t.Fatalf("chunked over the limit: %v, left %d", err, b.left.Load())
	}
	if _, _, err := readWhole(strings.NewReader("short"), 10, 1<<20, &b); err != io.ErrUnexpectedEOF || b.left.Load() != 200<<10 {
		t.Fatalf("short body: %v, left %d", err, b.left.Load())
	}
}

// TestBufferedBodyBusy: a server that buffers bodies answers Busy for a
// body its budget cannot hold, without reading it, and closes.
func TestBufferedBodyBusy(t *testing.T) {
	addr, _ := start(t, Config{BufferBodies: true, BufferBudget: 64 << 10,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			io.WriteString(w, string(rune('0'+len(b)%10)))
		})})
	resp, err := http.Post("http://"+addr+"/x", "text/plain", strings.NewReader(strings.Repeat("x", 100<<10)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !resp.Close {
		t.Errorf("over the budget: %d %q close=%v", resp.StatusCode, b, resp.Close)
	}
	resp, err = http.Post("http://"+addr+"/x", "text/plain", strings.NewReader(strings.Repeat("x", 10<<10)))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(bufio.NewReader(resp.Body))
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "0" {
		t.Errorf("within the budget: %d %q", resp.StatusCode, b)
	}
}

// TestBodyTooLargeExpectContinue: a client that waits for 100 Continue
// before sending a body over the limit gets the 413 instead, and sends
// nothing.
func TestBodyTooLargeExpectContinue(t *testing.T) {
	addr, _ := start(t, Config{MaxRequestBodySize: 1 << 10, Handler: http.NotFoundHandler()})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "PUT /x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4096\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 413 || !resp.Close {
		t.Errorf("%d close=%v, want 413 and close", resp.StatusCode, resp.Close)
	}
}
