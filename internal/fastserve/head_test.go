package fastserve

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// malformedHeads are requests fasthttp reads and both listeners refuse
// with 400, and the words net/http would put after "400 ".
var malformedHeads = []struct {
	name, raw, why string
}{
	{"space in a header name", "GET /x HTTP/1.1\r\nHost: site.test\r\nFoo Bar: x\r\n\r\n", "Bad Request: invalid header name"},
	{"obs-fold with a space", "GET /x HTTP/1.1\r\nHost: site.test\r\nX-A: a\r\n folded\r\n\r\n", "Bad Request"},
	{"obs-fold with a tab", "GET /x HTTP/1.1\r\nHost: site.test\r\nX-A: a\r\n\tfolded\r\n\r\n", "Bad Request"},
	{"bare LF between header lines", "GET /x HTTP/1.1\r\nHost: site.test\nX-A: a\r\n\r\n", "Bad Request"},
	{"bare LF after the Host line", "GET /x HTTP/1.1\r\nX-A: a\r\nHost: site.test\n\r\n\r\n", "Bad Request"},
}

func TestCheckHead(t *testing.T) {
	for _, c := range []struct {
		raw  string
		want headProblem
	}{
		{"", headOK},
		{"Host: a\r\n\r\n", headOK},
		{"Host: a\r\nX-Odd_Name!#$%&'*+-.^_`|~: v a l\t\r\nCookie: a=b; c=d\r\n\r\n", headOK},
		{"Host: a\r\nFoo Bar: x\r\n\r\n", headBadName},
		{"Host: a\r\nFoo\x7f: x\r\n\r\n", headBadName},
		{"Host: a\r\n(x): x\r\n\r\n", headBadName},
		{"Host: a\r\n: x\r\n\r\n", headBadName},
		{"Host: a\r\nX: a\r\n b\r\n\r\n", headMalformed},
		{"Host: a\r\nX: a\r\n\tb\r\n\r\n", headMalformed},
		{"Host: a\nX: a\r\n\r\n", headMalformed},
		{"Host: a\r\nX: a\n\r\n", headMalformed},
		{"Host: a\r\nnocolon\r\n\r\n", headMalformed},
		{"Host: a", headMalformed},
	} {
		if got := checkHead([]byte(c.raw)); got != c.want {
			t.Errorf("checkHead(%q) = %d, want %d", c.raw, got, c.want)
		}
	}
	valid := []byte("Host: site.test\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: */*\r\nAccept-Encoding: gzip, br\r\n\r\n")
	if n := testing.AllocsPerRun(100, func() { checkHead(valid) }); n != 0 {
		t.Errorf("checkHead allocates %v times on a valid head", n)
	}
}

// TestMalformedHeadRefused: the listener answers each malformed head 400,
// as net/http words it, and closes, before the fast path or the handler
// sees it; a valid head goes on.
func TestMalformedHeadRefused(t *testing.T) {
	var seen atomic.Int32
	addr, _ := start(t, Config{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen.Add(1); io.WriteString(w, "handler") }),
		Fast: func(ctx *fasthttp.RequestCtx) bool {
			if string(ctx.Path()) != "/fast" {
				return false
			}
			seen.Add(1)
			ctx.SetBodyString("fast")
			return true
		},
	})
	send := func(raw string) (*http.Response, string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, raw)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, c := range malformedHeads {
		for _, path := range []string{"/fast", "/bridged"} {
			raw := strings.Replace(c.raw, "/x", path, 1)
			resp, body := send(raw)
			if resp.Status != "400 "+c.why || body != "400 "+c.why || !resp.Close || resp.Proto != "HTTP/1.1" {
				t.Errorf("%s %s: %s %q (close %v)", c.name, path, resp.Status, body, resp.Close)
			}
		}
	}
	if n := seen.Load(); n != 0 {
		t.Errorf("malformed heads reached the fast path or the handler %d times", n)
	}
	for _, path := range []string{"/fast", "/bridged"} {
		if resp, body := send("GET " + path + " HTTP/1.1\r\nHost: site.test\r\nX-A: a\r\n\r\n"); resp.StatusCode != 200 {
			t.Errorf("valid head: %s %q", resp.Status, body)
		}
	}
}

// BenchmarkCheckHead: the check on a browser's head.
func BenchmarkCheckHead(b *testing.B) {
	raw := []byte("Host: site.test\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\n" +
		"Accept-Encoding: gzip, deflate, br, zstd\r\nConnection: keep-alive\r\nCookie: session=abcdef0123456789\r\n\r\n")
	b.SetBytes(int64(len(raw)))
	cpu := cpuTime()
	for b.Loop() {
		if checkHead(raw) != headOK {
			b.Fatal("refused")
		}
	}
	reportCPU(b, cpu)
}

// cpuTime is the process's CPU time (user and system), which a loaded
// machine does not inflate as it does wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process's CPU time per iteration since start.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkServeFast: a request answered by the fast path through the
// listener's serve (the head check included), a browser's head.
func BenchmarkServeFast(b *testing.B) {
	s := New(Config{Handler: http.NotFoundHandler(), Fast: func(ctx *fasthttp.RequestCtx) bool {
		ctx.SetBodyString("fast")
		return true
	}})
	raw := "GET /x HTTP/1.1\r\nHost: site.test\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n" +
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\n" +
		"Accept-Encoding: gzip, deflate, br, zstd\r\nConnection: keep-alive\r\nCookie: session=abcdef0123456789\r\n\r\n"
	var ctx fasthttp.RequestCtx
	if err := ctx.Request.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		ctx.Response.Reset()
		s.serve(&ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatal(ctx.Response.StatusCode())
		}
	}
	reportCPU(b, cpu)
}
