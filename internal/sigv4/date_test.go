package sigv4

import (
	"fmt"
	"testing"
	"time"
)

// parseAmzDate must agree with time.Parse(timeFormat, …) on every input:
// the same time, or an error whenever time.Parse gives one.
func TestParseAmzDate(t *testing.T) {
	check := func(v string) {
		t.Helper()
		want, werr := time.Parse(timeFormat, v)
		got, err := parseAmzDate(v)
		if (err != nil) != (werr != nil) || err == nil && (!got.Equal(want) || got.Location() != want.Location()) {
			t.Errorf("parseAmzDate(%q) = %v, %v; time.Parse: %v, %v", v, got, err, want, werr)
		}
	}
	for _, v := range []string{
		"20261126T030000Z", "00000101T000000Z", "99991231T235959Z", "20240229T120000Z", "20230229T120000Z",
		"20261131T000000Z", "20261100T000000Z", "20261301T000000Z", "20260001T000000Z", "20261126T240000Z",
		"20261126T236000Z", "20261126T235960Z", "2026112GT030000Z", "20261126t030000Z", "20261126T030000z",
		"20261126T03000Z", "20261126T0300000Z", "20261126T3000.1Z", "20261126T030000.5Z", "", "-0261126T030000Z",
		"+2026112T030000Z", "2026 126T030000Z", "20261126T 30000Z", "20261126T030000 ",
	} {
		check(v)
	}
	// Every field at every value around its range, through the fast path.
	for _, f := range []struct{ at, n int }{{0, 4}, {4, 2}, {6, 2}, {9, 2}, {11, 2}, {13, 2}} {
		for x := 0; x < 100 || f.n == 4 && x < 10000; x++ {
			b := []byte("20240229T235959Z")
			copy(b[f.at:f.at+f.n], fmt.Sprintf("%0*d", f.n, x))
			check(string(b))
		}
	}
}
