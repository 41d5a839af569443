package fastapi

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/openfront/openfront/internal/invalidation"
)

// BenchmarkCreateInvalidationFast is one signed CreateInvalidation read
// by fasthttp and answered by the fast path (memory store, completed in
// the background), as BenchmarkCreateInvalidationHandler is through
// ServeHTTP: the API's own cost without the connection.
func BenchmarkCreateInvalidationFast(b *testing.B) {
	// Completions run in the background: at this pace they can fall behind
	// by more than the default 3,000 in-progress paths, and the benchmark
	// would time TooManyInvalidationsInProgress answers.
	limits := invalidation.DefaultLimits
	limits.MaxInProgressFilePaths = 1 << 30
	api := newAPILimits(b, limits)
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
