package fleet

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/invalidation"
)

// randomInvalidation draws invalidations around the usual one: plain
// Ids and paths most of the time, with characters encoding/json escapes,
// nil and empty path lists, zero and odd times, other locations.
func randomInvalidation(r *rand.Rand) invalidation.Invalidation {
	str := func() string {
		const chars = "abcXYZ019/*.-_~ ?#%+=:;,!'()[]{}|^`\"\\<>&\t\n\x00\x7fé\u2028\U0001F600\xff"
		if r.IntN(3) > 0 {
			return "/images/" + strings.Repeat("x", r.IntN(20)) + ".png"
		}
		c := []rune(chars)
		var b strings.Builder
		for n := r.IntN(10); n > 0; n-- {
			if r.IntN(20) == 0 {
				b.WriteByte(0xff) // invalid UTF-8
				continue
			}
			b.WriteRune(c[r.IntN(len(c))])
		}
		return b.String()
	}
	tm := func() time.Time {
		switch r.IntN(8) {
		case 0:
			return time.Time{}
		case 1:
			return time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // MarshalJSON refuses it
		case 2:
			return time.Date(2026, 11, 26, 3, 4, 5, r.IntN(1e9), time.FixedZone("X", 3600*r.IntN(5)))
		case 3:
			return time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)
		default:
			return time.Date(2020+r.IntN(10), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1000)*1e6, time.UTC)
		}
	}
	inv := invalidation.Invalidation{DistributionID: "EDFDVBD6EXAMPLE", ID: "I2J0I21PCUYOIK", Status: invalidation.InProgress,
		CreateTime: tm(), Batch: invalidation.Batch{CallerReference: str()}}
	if r.IntN(5) == 0 {
		inv.DistributionID, inv.ID, inv.Status = str(), str(), invalidation.Status(str())
	}
	if r.IntN(3) == 0 {
		inv.CompleteTime = tm()
	}
	switch r.IntN(6) {
	case 0: // nil
	case 1:
		inv.Batch.Paths = []string{}
	default:
		for n := 1 + r.IntN(4); n > 0; n-- {
			inv.Batch.Paths = append(inv.Batch.Paths, str())
		}
	}
	return inv
}

// The hand-written encoder writes encoding/json's bytes, and fails when
// encoding/json fails.
func TestInvalidationCodecEncodesAsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	plainN := 0
	for i := 0; i < 100000; i++ {
		inv := randomInvalidation(r)
		want, werr := json.Marshal(Event{Kind: KindInvalidation, Invalidation: &inv})
		got, gerr := encodeInvalidationEvent(&inv)
		if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("%#v:\nencodeInvalidationEvent = %s, %v\njson.Marshal            = %s, %v", inv, got, gerr, want, werr)
		}
		if _, ok := appendInvalidationEvent(nil, &inv); ok {
			plainN++
		}
	}
	t.Logf("hand-written path took %d of 100000", plainN)
}

// checkDecode fails when decodeInvalidationEvent takes data and
// json.Unmarshal does not decode it to the same Event.
func checkDecode(t *testing.T, data []byte) bool {
	t.Helper()
	var fast Event
	if !decodeInvalidationEvent(data, &fast) {
		return false
	}
	var slow Event
	if err := json.Unmarshal(data, &slow); err != nil {
		t.Fatalf("decodeInvalidationEvent took %q; json.Unmarshal: %v", data, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("decodeInvalidationEvent(%q)\n = %#v\njson.Unmarshal:\n   %#v", data, fast.Invalidation, slow.Invalidation)
	}
	return true
}

// The hand-written decoder reads what the encoder writes as
// json.Unmarshal does, and takes nothing json.Unmarshal reads otherwise.
func TestInvalidationCodecDecodesAsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const alphabet = `{}[]":,\ nul0123456789Z.-+Tabé` + "\x00\t\xff"
	taken, n := 0, 100000
	if testing.Short() {
		n = 5000 // the full suite tries 100,000
	}
	for i := 0; i < n; i++ {
		inv := randomInvalidation(r)
		data, err := json.Marshal(Event{Kind: KindInvalidation, Invalidation: &inv})
		if err != nil {
			continue
		}
		if checkDecode(t, data) {
			taken++
		}
		// Mutations: whatever the fast path still takes must agree.
		m := bytes.Clone(data)
		for n := 1 + r.IntN(3); n > 0; n-- {
			k := r.IntN(len(m))
			switch r.IntN(3) {
			case 0:
				m[k] = alphabet[r.IntN(len(alphabet))]
			case 1:
				m = append(m[:k], append([]byte{alphabet[r.IntN(len(alphabet))]}, m[k:]...)...)
			case 2:
				m = append(m[:k], m[min(len(m), k+1+r.IntN(3)):]...)
			}
		}
		checkDecode(t, m)
	}
	t.Logf("hand-written path took %d of %d", taken, n)
	// Other events and other spellings of an invalidation event go to
	// encoding/json.
	for _, s := range []string{
		`{"kind":"delete","id":"E1"}`,
		`{"inv":{"dist":"E","id":"I","status":"InProgress","created":"2026-01-01T00:00:00Z","batch":{"ref":"r","paths":null}},"kind":"invalidation"}`,
		`{"kind":"invalidation", "inv":{"dist":"E","id":"I","status":"InProgress","created":"2026-01-01T00:00:00Z","batch":{"ref":"r","paths":null}}}`,
		`{"kind":"invalidation","inv":{"dist":"E","id":"I","status":"InProgress","created":"2026-01-01T00:00:00Z","batch":{"ref":"r\u0041","paths":null}}}`,
	} {
		var ev Event
		if decodeInvalidationEvent([]byte(s), &ev) {
			t.Errorf("decodeInvalidationEvent took %s", s)
		}
	}
}

func FuzzInvalidationEventDecode(f *testing.F) {
	inv := invalidation.Invalidation{DistributionID: "E", ID: "I", Status: invalidation.InProgress,
		CreateTime: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), CompleteTime: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC),
		Batch: invalidation.Batch{CallerReference: "r", Paths: []string{"/a", "/b*"}}}
	data, _ := json.Marshal(Event{Kind: KindInvalidation, Invalidation: &inv})
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) { checkDecode(t, data) })
}

func BenchmarkInvalidationEvent(b *testing.B) {
	inv := invalidation.Invalidation{DistributionID: "EBENCHDIST0001", ID: "I2J0I21PCUYOIK", Status: invalidation.InProgress,
		CreateTime: time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC), Batch: invalidation.Batch{CallerReference: "m3h1x2-12345", Paths: []string{"/images/m3h1x2-12345.png"}}}
	data, _ := json.Marshal(Event{Kind: KindInvalidation, Invalidation: &inv})
	b.Run("encode/hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			encodeInvalidationEvent(&inv)
		}
	})
	b.Run("encode/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			json.Marshal(Event{Kind: KindInvalidation, Invalidation: &inv})
		}
	})
	b.Run("decode/hand", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var ev Event
			decodeInvalidationEvent(data, &ev)
		}
	})
	b.Run("decode/encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var ev Event
			json.Unmarshal(data, &ev)
		}
	})
}
