package logstore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// BenchmarkIntactFrameAfter is Open's search for an intact frame after a
// damaged one, over what a crash leaves (a torn frame, then zeros or 4 MiB
// of stale blocks) and over garbage no crash leaves (whose cost grows with
// the cube of its length); GiB-checksummed is the work intactFrameAfter
// budgets.
//
//	go test -run x -bench IntactFrameAfter ./internal/store/logstore
func BenchmarkIntactFrameAfter(b *testing.B) {
	rnd := rand.New(rand.NewPCG(7, 7))
	// A frame like a create of 3,000 long paths, torn in the middle.
	var sb strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&sb, "\x01/assets/%s-%d.js", strings.Repeat("x", 200+i%50), i)
	}
	frame := append(make([]byte, frameHeader), sb.String()...)
	sealFrame(frame)
	torn := frame[:len(frame)/2]
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"torn+zeros4MiB", slices.Concat(torn, make([]byte, 4<<20))},
		{"torn+stale4MiB", slices.Concat(torn, garbage(rnd, 4<<20))},
		{"garbage4MiB", slices.Concat(torn[:frameHeader], garbage(rnd, 4<<20))},
		{"garbage8MiB", slices.Concat(torn[:frameHeader], garbage(rnd, 8<<20))},
	} {
		b.Run(c.name, func(b *testing.B) {
			var work int64
			for o := 1; o+frameHeader <= len(c.data); o++ {
				work += int64(frameLen(c.data, o))
			}
			for b.Loop() {
				if o, err := intactFrameAfter(c.data, 0); o >= 0 || err != nil {
					b.Fatalf("intactFrameAfter = %d, %v", o, err)
				}
			}
			b.ReportMetric(float64(work)/(1<<30), "GiB-checksummed")
		})
	}
}

// garbage returns n random bytes from rnd: stale blocks after a torn
// frame, or damage no crash leaves.
func garbage(rnd *rand.Rand, n int) []byte {
	g := make([]byte, n)
	for i := range g {
		g[i] = byte(rnd.Uint32())
	}
	return g
}
