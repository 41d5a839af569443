package cloudfront

import (
	"bytes"
	"encoding/xml"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/invalidation"
)

// writeInvalidationBuilder is the <Invalidation> writer appendInvalidation
// replaced (strings.Builder, 2026-11-26), kept to check the bytes did not
// change.
func writeInvalidationBuilder(b *strings.Builder, inv invalidation.Invalidation) {
	escape := func(s string) {
		if !strings.ContainsAny(s, "<>&'\"\r\n\t") {
			b.WriteString(s)
			return
		}
		var buf bytes.Buffer
		xml.EscapeText(&buf, []byte(s))
		b.Write(buf.Bytes())
	}
	b.WriteString(xmlHeader)
	b.WriteString(`<Invalidation xmlns="` + Namespace + `"><Id>`)
	escape(inv.ID)
	b.WriteString("</Id><Status>")
	b.WriteString(string(inv.Status))
	b.WriteString("</Status><CreateTime>")
	b.WriteString(inv.CreateTime.UTC().Format(timeFormat))
	b.WriteString("</CreateTime><InvalidationBatch><Paths><Quantity>")
	b.WriteString(strconv.Itoa(len(inv.Batch.Paths)))
	b.WriteString("</Quantity>")
	if len(inv.Batch.Paths) > 0 {
		b.WriteString("<Items>")
		for _, p := range inv.Batch.Paths {
			b.WriteString("<Path>")
			escape(p)
			b.WriteString("</Path>")
		}
		b.WriteString("</Items>")
	}
	b.WriteString("</Paths><CallerReference>")
	escape(inv.Batch.CallerReference)
	b.WriteString("</CallerReference></InvalidationBatch></Invalidation>")
}

func TestAppendInvalidationAsBefore(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	many := make([]string, 300)
	for i := range many {
		many[i] = "/p/" + strconv.Itoa(i)
	}
	for _, inv := range []invalidation.Invalidation{
		{ID: "I2J0I21PCUYOIK", Status: invalidation.InProgress, CreateTime: time.Date(2026, 11, 26, 3, 4, 5, 678e6, time.UTC),
			Batch: invalidation.Batch{CallerReference: "ref-1", Paths: []string{"/images/a.png"}}},
		{ID: "IOWN", Status: invalidation.Completed, CreateTime: time.Date(1999, 1, 2, 3, 4, 5, 0, paris),
			Batch: invalidation.Batch{CallerReference: `<&'"` + "\r\n\t ünï", Paths: []string{"/a?b=<c>&d", "/*", "/é\t"}}},
		{ID: "I1", Status: invalidation.InProgress, CreateTime: time.Date(12026, 1, 1, 0, 0, 0, 1, time.UTC),
			Batch: invalidation.Batch{CallerReference: "r", Paths: many}},
		{},
	} {
		var b strings.Builder
		writeInvalidationBuilder(&b, inv)
		for _, dst := range [][]byte{nil, []byte("prefix")} {
			got := appendInvalidation(dst, inv)
			if want := string(dst) + b.String(); string(got) != want {
				t.Errorf("appendInvalidation(%q, %+v) =\n%s\nwant\n%s", dst, inv, got, want)
			}
		}
	}
}

// appendInvalidation's estimate of its length must hold for an unescaped
// document, so that it never grows a buffer twice.
func TestAppendInvalidationGrowsOnce(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are not counted under the race detector")
	}
	inv := invalidation.Invalidation{ID: "I2J0I21PCUYOIK", Status: invalidation.InProgress, CreateTime: time.Date(12026, 11, 26, 3, 4, 5, 678e6, time.UTC),
		Batch: invalidation.Batch{CallerReference: "ref-1", Paths: []string{"/images/a.png", "/b"}}}
	if n := testing.AllocsPerRun(10, func() { appendInvalidation(nil, inv) }); n != 1 {
		t.Errorf("appendInvalidation(nil, …): %v allocations, want 1", n)
	}
}
