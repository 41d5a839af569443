package invalidation

import (
	"hash/fnv"
	"math"
	"regexp"
	"testing"
)

var idShape = regexp.MustCompile(`^I[A-Z0-9]{13}$`)

func TestIDCodecRoundTrip(t *testing.T) {
	c := NewIDCodec([]byte("0123456789abcdef"))
	seen := map[string]bool{}
	check := func(seq uint64) {
		id := c.Encode(seq)
		if !idShape.MatchString(id) {
			t.Fatalf("Encode(%d) = %q, not shaped like a CloudFront Id", seq, id)
		}
		if seen[id] {
			t.Fatalf("Encode(%d) = %q twice", seq, id)
		}
		seen[id] = true
		got, ok := c.Decode(id)
		if !ok || got != seq {
			t.Fatalf("Decode(Encode(%d) = %q) = %d, %v", seq, id, got, ok)
		}
	}
	for seq := uint64(0); seq < 20000; seq++ {
		check(seq)
	}
	for _, seq := range []uint64{math.MaxUint64, math.MaxUint64 - 1, 1 << 40, 1<<63 + 12345} {
		check(seq)
	}
}

// TestIDCodecLooksRandom: consecutive sequence numbers share no prefix, and
// every position uses the whole alphabet.
func TestIDCodecLooksRandom(t *testing.T) {
	c := NewIDCodec([]byte("k"))
	var used [14]map[byte]bool
	for i := range used {
		used[i] = map[byte]bool{}
	}
	samePrefix := 0
	prev := ""
	for seq := uint64(1); seq <= 5000; seq++ {
		id := c.Encode(seq)
		for i := 1; i < len(id); i++ {
			used[i][id[i]] = true
		}
		if prev != "" && id[:4] == prev[:4] {
			samePrefix++
		}
		prev = id
	}
	for i := 1; i < 14; i++ {
		if len(used[i]) != 36 {
			t.Errorf("position %d uses %d of 36 characters", i, len(used[i]))
		}
	}
	if samePrefix > 5 {
		t.Errorf("%d of 5000 consecutive Ids share their first 4 characters", samePrefix)
	}
}

func TestIDCodecKeyed(t *testing.T) {
	a, b := NewIDCodec([]byte("one key")), NewIDCodec([]byte("another key"))
	if a.Encode(1) == b.Encode(1) {
		t.Errorf("two keys give the same Id %s", a.Encode(1))
	}
}

func TestIDCodecDecodeRejects(t *testing.T) {
	c := NewIDCodec(nil)
	for _, id := range []string{"", "I", "X2J0I21PCUYOIK", "I2J0I21PCUYOI", "I2J0I21PCUYOIKK", "i2j0i21pcuyoik", "I2J0I21PCUYOI-"} {
		if seq, ok := c.Decode(id); ok {
			t.Errorf("Decode(%q) = %d, true", id, seq)
		}
	}
	// Most of the 36^13 Ids lie beyond 2^64: some must be refused.
	refused := 0
	for _, id := range []string{"I9999999999999", "IZZZZZZZZZZZZZ", "I99999999999AA", "I0000000000000"} {
		if _, ok := c.Decode(id); !ok {
			refused++
		}
	}
	if refused == 0 {
		t.Errorf("every large Id decoded to a sequence number")
	}
}

func FuzzIDCodec(f *testing.F) {
	f.Add(uint64(1), []byte("key"))
	f.Fuzz(func(t *testing.T, seq uint64, key []byte) {
		c := NewIDCodec(key)
		id := c.Encode(seq)
		if !idShape.MatchString(id) {
			t.Fatalf("Encode(%d) = %q", seq, id)
		}
		if got, ok := c.Decode(id); !ok || got != seq {
			t.Fatalf("Decode(%q) = %d, %v; want %d", id, got, ok, seq)
		}
	})
}

// TestIDCodecStable pins Encode's mapping: Ids already handed out (and
// logged) must keep decoding to their sequence numbers.
func TestIDCodecStable(t *testing.T) {
	c := NewIDCodec([]byte("0123456789abcdef"))
	h := fnv.New64a()
	for seq := range uint64(100000) {
		h.Write([]byte(c.Encode(seq)))
	}
	for _, seq := range []uint64{1 << 40, 1<<63 + 12345, ^uint64(0)} {
		h.Write([]byte(c.Encode(seq)))
	}
	if got := h.Sum64(); got != idCodecDigest {
		t.Errorf("Encode's Ids changed: digest %#x, want %#x", got, uint64(idCodecDigest))
	}
}

func BenchmarkIDCodec(b *testing.B) {
	c := NewIDCodec([]byte("0123456789abcdef"))
	b.ReportAllocs()
	for n := uint64(0); b.Loop(); n++ {
		if _, ok := c.Decode(c.Encode(n)); !ok {
			b.Fatal("no round trip")
		}
	}
}

// idCodecDigest is the digest TestIDCodecStable computes (Ids of 2026-11-26).
const idCodecDigest = 0x9bdb0e37163bce62
