package fastapi

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/openfront/openfront/internal/cloudfront"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/metrics"
)

// BenchmarkCreateInvalidationFast is one signed CreateInvalidation read
// by fasthttp and answered by the fast path (memory store, completed in
// the background), as BenchmarkCreateInvalidationHandler is through
// ServeHTTP: the API's own cost without the connection. metrics=on counts
// it as --metrics-addr does (the API's counters and the completion
// histogram):
//
//	go test -run '^$' -bench CreateInvalidationFast -benchmem ./internal/cloudfront/fastapi
func BenchmarkCreateInvalidationFast(b *testing.B) {
	b.Run("metrics=off", func(b *testing.B) { benchCreateInvalidationFast(b, false) })
	b.Run("metrics=on", func(b *testing.B) { benchCreateInvalidationFast(b, true) })
}

func benchCreateInvalidationFast(b *testing.B, withMetrics bool) {
	// Completions run in the background: at this pace they can fall behind
	// by more than the default 3,000 in-progress paths, and the benchmark
	// would time TooManyInvalidationsInProgress answers.
	limits := invalidation.DefaultLimits
	limits.MaxInProgressFilePaths = 1 << 30
	var api *cloudfront.Handler
	if withMetrics {
		reg := metrics.New()
		api = newAPIMetrics(b, limits, reg.API(), reg.Invalidations())
	} else {
		api = newAPILimits(b, limits)
	}
	var ctx fasthttp.RequestCtx
	var br bufio.Reader
	b.ReportAllocs()
	for n := 0; b.Loop(); n++ {
		b.StopTimer()
		ref := "bench-" + strconv.Itoa(n)
		raw := rawReq{method: "POST", target: "/2020-05-31/distribution/" + distID + "/invalidation",
			header: [][2]string{{"Content-Type", "text/xml"}}, body: batch(ref, "/images/"+ref+".png"), sign: keyID}
		raw.header = append(raw.header, [2]string{"Content-Length", strconv.Itoa(len(raw.body))})
		br.Reset(strings.NewReader(raw.bytes("api.test")))
		ctx.Request.Reset()
		ctx.Response.Reset()
		if err := ctx.Request.Read(&br); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if !serveFast(context.Background(), api, &ctx) || ctx.Response.StatusCode() != 201 {
			b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
}

// BenchmarkRefuseAmplification is the fast path refusing requests built to
// make verification expensive with a valid key id and no secret:
// "repeated" names one 20 KB header 5,000 times in SignedHeaders;
// "lines" has 5,000 header lines and 64 signed names, each looked up.
func BenchmarkRefuseAmplification(b *testing.B) {
	api := newAPI(b)
	big := [][2]string{{"X", strings.Repeat("a", 20<<10)}}
	var lines [][2]string
	var names []string
	for i := range 5000 { // names of one length: no early mismatch on length
		lines = append(lines, [2]string{"X-" + strconv.Itoa(10000+i), "v"})
	}
	for i := range 62 {
		names = append(names, "x-"+strconv.Itoa(14000+i))
	}
	for name, tc := range map[string]struct {
		signed string
		extra  [][2]string
	}{
		"repeated": {"host;" + strings.Repeat("x;", 5000) + "x", big},
		"lines":    {"host;" + strings.Join(names, ";") + ";x-amz-date", lines},
	} {
		b.Run(name, func(b *testing.B) {
			raw := rawReq{method: "POST", target: "/2020-05-31/distribution/" + distID + "/invalidation",
				header: [][2]string{{"Content-Type", "text/xml"}}, body: batch("amp", "/a"), sign: keyID, extra: tc.extra,
				damage: func(auth string) string {
					i := strings.Index(auth, "SignedHeaders=") + len("SignedHeaders=")
					j := strings.Index(auth[i:], ",")
					return auth[:i] + tc.signed + auth[i+j:]
				}}
			raw.header = append(raw.header, [2]string{"Content-Length", strconv.Itoa(len(raw.body))})
			wire := raw.bytes("api.test")
			var ctx fasthttp.RequestCtx
			br := bufio.NewReaderSize(nil, 64<<10) // the listener's buffer holds a head of up to 32 KiB
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				br.Reset(strings.NewReader(wire))
				ctx.Request.Reset()
				ctx.Response.Reset()
				if err := ctx.Request.Read(br); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if !serveFast(context.Background(), api, &ctx) || ctx.Response.StatusCode() != 403 {
					b.Fatalf("%d %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
			}
		})
	}
}
