package cloudfront

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

// A batch nested 2M elements deep, or with a start tag of a million
// attributes, is refused as malformed XML before encoding/xml reads it:
// encoding/xml kept a stack entry per open element (370 MB for this one).
func TestDecodeBatchRefusesHostileShapes(t *testing.T) {
	for name, body := range map[string]string{
		"depth":      `<InvalidationBatch>` + strings.Repeat("<a>", 2_000_000) + strings.Repeat("</a>", 2_000_000) + `</InvalidationBatch>`,
		"attributes": `<InvalidationBatch ` + strings.Repeat(`a="" `, 1_000_000) + `></InvalidationBatch>`,
	} {
		b := []byte(body)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := decodeBatch(b)
		runtime.ReadMemStats(&after)
		var e *apiError
		if !errors.As(err, &e) || e.Status != 400 || e.Code != "InvalidArgument" || e.Message != msgMalformedXML {
			t.Fatalf("%s: decodeBatch = %v, want InvalidArgument %q", name, err, msgMalformedXML)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
			t.Errorf("%s: decodeBatch allocated %d bytes", name, n)
		}
	}
}
