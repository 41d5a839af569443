package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
)

// Hostile request bodies and clients, against the binary: bodies fill no
// memory before they are checked, a budget bounds what is buffered, and
// the listeners' timeouts cut clients that trickle or never read
// (docs/architecture.md, "Limits and hostile input").

const hostileKeys = `credentials:
  - access_key_id: AKIDHOSTILE
    secret_access_key: hostile-secret
`

// startHostile starts a server with authentication on (AKIDHOSTILE) and
// extra flags.
func startHostile(t *testing.T, args ...string) *server {
	return startServer(t, options{config: defaultConfig + hostileKeys, args: args})
}

// procStatus returns a field of /proc/PID/status in bytes (VmRSS, VmHWM).
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s: %q", field, line)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// barrier lets n goroutines wait for each other.
type barrier struct {
	wg   sync.WaitGroup
	done chan struct{}
}

func newBarrier(n int) *barrier {
	b := &barrier{done: make(chan struct{})}
	b.wg.Add(n)
	go func() { b.wg.Wait(); close(b.done) }()
	return b
}

func (b *barrier) wait() { b.wg.Done(); <-b.done }

// rawHead is a request head as bytes.
func rawHead(method, target, host string, h http.Header) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, host)
	h.Write(&sb)
	sb.WriteString("\r\n")
	return sb.String()
}

// signedHead signs a request of body (claimed: its hash is signed) with
// key and secret, X-Amz-Content-Sha256 sent when withHash; it returns the
// head.
func signedHead(t *testing.T, s *server, method, target string, body []byte, key, secret string, withHash bool) string {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if withHash {
		req.Header.Set("X-Amz-Content-Sha256", hash)
	}
	req.Header.Set("Content-Length", strconv.Itoa(len(body)))
	req.Header.Set("Content-Type", "text/xml")
	if err := v4.NewSigner().SignHTTP(ctx(t), aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, req, hash, "cloudfront", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return rawHead(method, target, req.URL.Host, req.Header)
}

// dialRaw connects to a listener's http:// URL; rcvbuf, when not 0, is
// the socket's receive buffer, set before connecting (a small window).
func dialRaw(t *testing.T, url string, rcvbuf int) net.Conn {
	t.Helper()
	d := net.Dialer{}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var err error
			_ = c.Control(func(fd uintptr) {
				err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			return err
		}
	}
	c, err := d.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readAnswer reads one answer on c within the deadline.
func readAnswer(t *testing.T, c net.Conn, within time.Duration) (*http.Response, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(within))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer within %s: %v", within, err)
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// allMethodsDist creates a distribution of origin o whose default behavior
// allows methods (GET and HEAD only when none) and returns its domain.
func allMethodsDist(t *testing.T, s *server, o *testOrigin, ref string, methods ...types.Method) string {
	t.Helper()
	def := legacyBehavior("o", false)
	if len(methods) > 0 {
		def.AllowedMethods = &types.AllowedMethods{Quantity: aws.Int32(int32(len(methods))), Items: methods,
			CachedMethods: &types.CachedMethods{Quantity: aws.Int32(2), Items: []types.Method{types.MethodHead, types.MethodGet}}}
	}
	return createEdgeDist(t, s.client("AKIDHOSTILE", "hostile-secret"), edgeConfig(ref, def, o.origin("o"))).domain
}

// TestHostileViewerUploadsStream: 12 viewers upload 64 MiB each, all at
// once, to a behavior that allows POST; each body reaches the origin
// whole, and the server's memory grows by at most 300 MB (it streamed the
// bodies; buffered, they would hold 768 MiB).
func TestHostileViewerUploadsStream(t *testing.T) {
	o := newTestOrigin(t)
	o.setHandler(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "got %d", n)
	})
	s := startHostile(t)
	host := allMethodsDist(t, s, o, "uploads", edgeAllMethods...)
	pid := s.cmd.Process.Pid
	base := procStatus(t, pid, "VmRSS")

	const viewers, size = 12, 64 << 20
	chunk := bytes.Repeat([]byte("u"), 1<<20)
	all := newBarrier(viewers)
	var wg sync.WaitGroup
	errs := make(chan error, viewers)
	for i := range viewers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialRaw(t, s.EdgeURL, 0)
			h := http.Header{"Content-Length": {strconv.Itoa(size)}, "Content-Type": {"application/octet-stream"}}
			if _, err := io.WriteString(c, rawHead("POST", fmt.Sprintf("/upload/%d", i), host, h)); err != nil {
				errs <- err
				return
			}
			// All but the last MiB, then wait for every viewer to be
			// there: the bodies are all in flight at once.
			for range size/len(chunk) - 1 {
				if _, err := c.Write(chunk); err != nil {
					errs <- err
					all.wait()
					return
				}
			}
			all.wait()
			if _, err := c.Write(chunk); err != nil {
				errs <- err
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(time.Minute))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(b) != fmt.Sprintf("got %d", size) {
				errs <- fmt.Errorf("upload %d: %d %q", i, resp.StatusCode, b)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	peak := procStatus(t, pid, "VmHWM")
	t.Logf("12 uploads of 64 MiB: RSS %d MB before, peak %d MB (+%d MB)", base>>20, peak>>20, (peak-base)>>20)
	if peak-base > 300<<20 {
		t.Errorf("12 uploads of 64 MiB grew the server by %d MB, want at most 300 MB", (peak-base)>>20)
	}
}

// TestHostileViewerMethodRefusedBeforeBody: a POST to a behavior that
// allows only GET and HEAD gets CloudFront's 403 page once its header is
// in, before the viewer sends its (64 MiB) body.
func TestHostileViewerMethodRefusedBeforeBody(t *testing.T) {
	o := newTestOrigin(t)
	s := startHostile(t)
	host := allMethodsDist(t, s, o, "get-only")
	c := dialRaw(t, s.EdgeURL, 0)
	h := http.Header{"Content-Length": {strconv.Itoa(64 << 20)}}
	io.WriteString(c, rawHead("POST", "/form", host, h))
	c.Write(bytes.Repeat([]byte("x"), 8<<10)) // what the listener reads with the header
	resp, body := readAnswer(t, c, 30*time.Second)
	if resp.StatusCode != 403 || !strings.Contains(body, "This distribution is not configured to allow the HTTP request method") || resp.Header.Get("X-Cache") != "Error from cloudfront" {
		t.Errorf("POST on a GET-only behavior: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	if !resp.Close {
		t.Errorf("the connection stays open with 64 MiB of body unread")
	}
	if n := o.hitsOf("/form"); n != 0 {
		t.Errorf("the origin got %d requests", n)
	}
}

// TestHostileAPIUnsignedBodies: 12 unsigned API requests of 16 MiB bodies,
// all sent at once, cost the server at most 100 MB: each is refused from
// its header (403 MissingAuthenticationToken) and its body read and
// dropped, not held.
func TestHostileAPIUnsignedBodies(t *testing.T) {
	s := startHostile(t)
	pid := s.cmd.Process.Pid
	base := procStatus(t, pid, "VmRSS")
	const clients, size = 12, 16 << 20
	body := bytes.Repeat([]byte("<"), size)
	all := newBarrier(clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialRaw(t, s.URL, 0)
			h := http.Header{"Content-Length": {strconv.Itoa(size)}, "Content-Type": {"text/xml"}}
			io.WriteString(c, rawHead("POST", invPath, strings.TrimPrefix(s.URL, "http://"), h))
			_, err := c.Write(body[:size-1])
			all.wait()
			if err == nil {
				c.Write(body[size-1:])
			}
		}()
	}
	wg.Wait()
	peak := procStatus(t, pid, "VmHWM")
	t.Logf("12 unsigned bodies of 16 MiB: RSS %d MB before, peak %d MB (+%d MB)", base>>20, peak>>20, (peak-base)>>20)
	if peak-base > 100<<20 {
		t.Errorf("12 unsigned bodies of 16 MiB grew the server by %d MB, want at most 100 MB", (peak-base)>>20)
	}
}

// TestHostileAPIRefusedBeforeBody: API requests that cannot be
// authenticated get their error once the header is in, before the client
// sends its 16 MiB body: no Authorization, a malformed one, an unknown
// access key, and a bad signature over a header that carries the body's
// hash (X-Amz-Content-Sha256, which the signature covers).
func TestHostileAPIRefusedBeforeBody(t *testing.T) {
	s := startHostile(t)
	body := bytes.Repeat([]byte("<"), 16<<20)
	host := strings.TrimPrefix(s.URL, "http://")
	unsigned := http.Header{"Content-Length": {strconv.Itoa(len(body))}, "Content-Type": {"text/xml"}}
	malformed := unsigned.Clone()
	malformed.Set("Authorization", "AWS4-HMAC-SHA256 Credential")
	malformed.Set("X-Amz-Date", time.Now().UTC().Format("20060102T150405Z"))
	for _, c := range []struct {
		name, head string
		status     int
		code       string
	}{
		{"no Authorization", rawHead("POST", invPath, host, unsigned), 403, "MissingAuthenticationToken"},
		{"malformed Authorization", rawHead("POST", invPath, host, malformed), 400, "IncompleteSignature"},
		{"unknown access key", signedHead(t, s, "POST", invPath, body, "AKIDNOSUCHKEY", "x", false), 403, "InvalidClientTokenId"},
		{"bad signature over the body's hash", signedHead(t, s, "POST", invPath, body, "AKIDHOSTILE", "wrong-secret", true), 403, "SignatureDoesNotMatch"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn := dialRaw(t, s.URL, 0)
			io.WriteString(conn, c.head)
			conn.Write(body[:8<<10])
			resp, b := readAnswer(t, conn, 30*time.Second)
			if resp.StatusCode != c.status || !strings.Contains(b, "<Code>"+c.code+"</Code>") || resp.Header.Get("X-Amz-Request-Id") == "" {
				t.Errorf("%d %q, want %d %s", resp.StatusCode, b, c.status, c.code)
			}
			if !resp.Close {
				t.Errorf("the connection stays open with the body unread")
			}
		})
	}
	// A request signed right over the body's hash goes on to the body,
	// whose hash is then checked.
	conn := dialRaw(t, s.URL, 0)
	claimed := []byte(strings.Repeat("<", 100<<10))
	io.WriteString(conn, signedHead(t, s, "POST", invPath, claimed, "AKIDHOSTILE", "hostile-secret", true))
	conn.Write(bytes.Repeat([]byte(">"), len(claimed)))
	resp, b := readAnswer(t, conn, 30*time.Second)
	if resp.StatusCode != 400 || !strings.Contains(b, "<Code>XAmzContentSHA256Mismatch</Code>") {
		t.Errorf("a body other than the signed hash: %d %q", resp.StatusCode, b)
	}
}

// TestHostileAPIBodyBudget: with a budget of 1 MiB of buffered API
// bodies, a signed request whose body does not fit beside one being read
// is answered 503 ServiceUnavailable (retryable) before its body is sent;
// once the first is done, the budget is back.
func TestHostileAPIBodyBudget(t *testing.T) {
	s := startHostile(t, "--api-body-budget", strconv.Itoa(1<<20))
	body := bytes.Repeat([]byte(" "), 700<<10)
	first := dialRaw(t, s.URL, 0)
	io.WriteString(first, signedHead(t, s, "POST", invPath, body, "AKIDHOSTILE", "hostile-secret", false))
	first.Write(body[:100<<10]) // the rest later: its 700 KiB are held

	// Once the server has read all that came of the first body, it has
	// reserved it.
	for deadline := time.Now().Add(30 * time.Second); !socketDrained(t, portOf(t, s.URL), first.LocalAddr()); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server does not read the first body")
		}
	}
	second := dialRaw(t, s.URL, 0)
	io.WriteString(second, signedHead(t, s, "POST", invPath, body, "AKIDHOSTILE", "hostile-secret", false))
	second.Write(body[:8<<10])
	resp, b := readAnswer(t, second, 30*time.Second)
	if resp.StatusCode != 503 || !strings.Contains(b, "<Type>Receiver</Type><Code>ServiceUnavailable</Code>") {
		t.Fatalf("a body over the budget: %d %q", resp.StatusCode, b)
	}
	// The first goes through (its body is no batch: 400 from the API,
	// not from the listener).
	first.Write(body[100<<10:])
	resp, b = readAnswer(t, first, 30*time.Second)
	if resp.StatusCode == 503 || !strings.Contains(b, "<ErrorResponse") {
		t.Errorf("the request holding the budget: %d %q", resp.StatusCode, b)
	}
	third := dialRaw(t, s.URL, 0)
	io.WriteString(third, signedHead(t, s, "POST", invPath, body, "AKIDHOSTILE", "hostile-secret", false))
	third.Write(body)
	if resp, b = readAnswer(t, third, 30*time.Second); resp.StatusCode == 503 {
		t.Errorf("the budget is not given back: %d %q", resp.StatusCode, b)
	}
}

// TestHostileSlowBodiesCut: a body trickled at a byte a second is cut on
// both listeners once the grace period has passed (the default minimum
// is 1 KiB/s), instead of holding the connection for the body timeout.
func TestHostileSlowBodiesCut(t *testing.T) {
	o := newTestOrigin(t)
	o.setHandler(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
	s := startHostile(t)
	host := allMethodsDist(t, s, o, "slow", edgeAllMethods...)
	var wg sync.WaitGroup
	for _, l := range []struct{ name, url, head string }{
		{"viewer", s.EdgeURL, rawHead("POST", "/slow", host, http.Header{"Content-Length": {"100000"}})},
		{"API", s.URL, signedHead(t, s, "POST", invPath, make([]byte, 100000), "AKIDHOSTILE", "hostile-secret", false)},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialRaw(t, l.url, 0)
			io.WriteString(c, l.head)
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			for ctx.Err() == nil {
				if _, err := c.Write([]byte("x")); err != nil {
					t.Logf("%s listener: slow body cut after %s", l.name, time.Since(start).Round(time.Second))
					return
				}
				// Is the connection closed? (Whatever answer comes first.)
				_ = c.SetReadDeadline(time.Now().Add(time.Second))
				if _, err := c.Read(make([]byte, 4096)); err != nil && !os.IsTimeout(err) {
					t.Logf("%s listener: slow body cut after %s", l.name, time.Since(start).Round(time.Second))
					return
				}
			}
			t.Errorf("%s listener: a body trickled at 1 byte/s still read after 3 minutes", l.name)
		}()
	}
	wg.Wait()
}

// socketDrained reports whether the server has read everything the
// client sent on the connection from client to the listener on port: the
// client's send queue and the server's receive queue are empty.
func socketDrained(t *testing.T, port int, client net.Addr) bool {
	t.Helper()
	cport := client.(*net.TCPAddr).Port
	server, clientSide := false, false
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			fs := strings.Fields(line)
			if len(fs) < 5 || fs[0] == "sl" {
				continue
			}
			local, remote := fs[1], fs[2]
			tx, rx, _ := strings.Cut(fs[4], ":")
			switch {
			case strings.HasSuffix(local, fmt.Sprintf(":%04X", port)) && strings.HasSuffix(remote, fmt.Sprintf(":%04X", cport)):
				server = strings.Trim(rx, "0") == ""
			case strings.HasSuffix(local, fmt.Sprintf(":%04X", cport)) && strings.HasSuffix(remote, fmt.Sprintf(":%04X", port)):
				clientSide = strings.Trim(tx, "0") == ""
			}
		}
	}
	return server && clientSide
}

// serverConnEstablished reports whether the server's side of the connection
// from client (its local address) to the listener on port is still
// established (/proc/net/tcp).
func serverConnEstablished(t *testing.T, port int, client net.Addr) bool {
	t.Helper()
	cport := client.(*net.TCPAddr).Port
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			fs := strings.Fields(line)
			if len(fs) < 4 || fs[0] == "sl" {
				continue
			}
			local, remote, st := fs[1], fs[2], fs[3]
			if strings.HasSuffix(local, fmt.Sprintf(":%04X", port)) && strings.HasSuffix(remote, fmt.Sprintf(":%04X", cport)) {
				return st == "01"
			}
		}
	}
	return false
}

func portOf(t *testing.T, url string) int {
	_, p, err := net.SplitHostPort(strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// TestHostileClientNeverReads: a client that asks for a large answer and
// never reads it is disconnected once a write has waited for the write
// timeout, on both listeners (a 16 MiB object from the cache; a
// CreateInvalidation of 3,000 long paths, whose answer lists them).
func TestHostileClientNeverReads(t *testing.T) {
	o := newTestOrigin(t)
	o.set("/big", strings.Repeat("b", 16<<20), "Cache-Control", "max-age=3600")
	s := startHostile(t, "--write-timeout", "2s")
	host := allMethodsDist(t, s, o, "big")
	v := newEdgeViewer(t, s)
	if r := v.do("GET", host, "/big"); r.status != 200 || len(r.body) != 16<<20 {
		t.Fatalf("GET /big: %d, %d bytes", r.status, len(r.body))
	}
	var paths []string
	for i := range 3000 {
		paths = append(paths, fmt.Sprintf("/%04d/%s", i, strings.Repeat("p", 3900)))
	}
	var xb strings.Builder
	fmt.Fprintf(&xb, `<InvalidationBatch xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Paths><Quantity>%d</Quantity><Items>`, len(paths))
	for _, p := range paths {
		xb.WriteString("<Path>" + p + "</Path>")
	}
	xb.WriteString("</Items></Paths><CallerReference>never-reads</CallerReference></InvalidationBatch>")
	batchBody := []byte(xb.String())

	for _, l := range []struct{ name, url, req string }{
		{"viewer", s.EdgeURL, rawHead("GET", "/big", host, http.Header{})},
		{"API", s.URL, signedHead(t, s, "POST", invPath, batchBody, "AKIDHOSTILE", "hostile-secret", false) + string(batchBody)},
	} {
		t.Run(l.name, func(t *testing.T) {
			c := dialRaw(t, l.url, 4<<10)
			if _, err := io.WriteString(c, l.req); err != nil {
				t.Fatal(err)
			}
			// The client reads nothing; the server's side of the
			// connection must go.
			port := portOf(t, l.url)
			start := time.Now()
			for serverConnEstablished(t, port, c.LocalAddr()) {
				if time.Since(start) > 2*time.Minute {
					t.Fatal("a client that never reads is still connected after 2 minutes")
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.Logf("%s listener: client that never reads disconnected after %s", l.name, time.Since(start).Round(100*time.Millisecond))
		})
	}
}
