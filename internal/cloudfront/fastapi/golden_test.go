package fastapi

import (
	"bufio"
	"context"
	"flag"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/answers.golden")

// TestAnswersAsBefore compares the fast path's whole answers (status line,
// header lines in order, body; request ids, Ids, times, Date, statuses
// and lengths masked) to a fixed set of CreateInvalidations, successes
// and errors, with testdata/answers.golden: the answers of main at
// b235eda, before the path was made to allocate less (header values set
// by canonical name, the body appended into the response's buffer).
func TestAnswersAsBefore(t *testing.T) {
	api := newAPI(t)
	path := "/2020-05-31/distribution/" + distID + "/invalidation"
	ct := [][2]string{{"Content-Type", "text/xml"}}
	mk := func(target, body, key string, damage func(string) string) rawReq {
		q := rawReq{method: "POST", target: target, header: append(append([][2]string{}, ct...), [2]string{"Content-Length", strconv.Itoa(len(body))}), body: body, sign: key, damage: damage}
		return q
	}
	cases := []rawReq{
		mk(path, batch("ref-1", "/a.png"), keyID, nil),
		mk(path, batch("ref-1", "/a.png"), keyID, nil),
		mk(path, batch("ref-1", "/b.png"), keyID, nil),
		mk(path, batch("ref-2", "/a", "/b/*", "/c d"), keyID, nil),
		mk(path, batch("r&lt;3&amp;", "/x&amp;y"), keyID, nil),
		mk(path, batch("ref-é", "/é"), keyID, nil),
		mk(path, batch("ref-3", "/a.png"), "", nil),
		mk(path, batch("ref-4", "/a.png"), keyID, func(a string) string { return a[:len(a)-2] + "00" }),
		mk(path, batch("ref-5", "/a.png"), limitedKey, nil),
		mk("/2020-05-31/distribution/ENOSUCH/invalidation", batch("ref-6", "/a.png"), keyID, nil),
		mk(path, "<InvalidationBatch>", keyID, nil),
		mk(path, "", keyID, nil),
		mk(path, strings.Replace(batch("ref-7", "/a"), "<Quantity>1", "<Quantity>2", 1), keyID, nil),
		mk(path, batch("ref-8", "a-no-slash"), keyID, nil),
		mk(path, batch("", "/a"), keyID, nil),
		mk(path, batch("ref-9"), keyID, nil),
	}
	mask := regexp.MustCompile(`Content-Length: \d+|<Status>\w+</Status>|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|I[A-Z0-9]{13}|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z|Date: [^\r]*|\d{8}T\d{6}Z`)
	var all strings.Builder
	for i, q := range cases {
		var ctx fasthttp.RequestCtx
		br := bufio.NewReader(strings.NewReader(q.bytes("api.test")))
		if err := ctx.Request.Read(br); err != nil {
			t.Fatal(err)
		}
		if !serveFast(context.Background(), api, &ctx) {
			all.WriteString("case " + strconv.Itoa(i) + ": bridged\n")
			continue
		}
		all.WriteString("case " + strconv.Itoa(i) + ":\n" + mask.ReplaceAllString(ctx.Response.String(), "*") + "\n\n")
	}
	const golden = "testdata/answers.golden"
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(all.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := all.String(); got != string(want) {
		t.Errorf("answers differ from %s:\n%s", golden, got)
	}
}
