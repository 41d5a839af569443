package fleet

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// The ring keeps the newest maxTracked positions in ascending order
// whatever order they arrive in: concurrent Publish calls reach the hub's
// lock in scheduling order, so events a few positions apart arrive out of
// order all the time under load.
func TestTrackRingOutOfOrder(t *testing.T) {
	for _, total := range []int{10, maxTracked - 1, maxTracked, 2*maxTracked + 17} {
		rng := rand.New(rand.NewPCG(1, uint64(total)))
		positions := make([]uint64, total)
		for i := range positions {
			positions[i] = uint64(i + 1)
		}
		// Shuffle within windows of 16, as 16 concurrent creates would.
		for i := 0; i < total; i += 16 {
			w := positions[i:min(i+16, total)]
			rng.Shuffle(len(w), func(a, b int) { w[a], w[b] = w[b], w[a] })
		}
		var r trackRing
		for _, p := range positions {
			i, found := r.search(p)
			if found {
				t.Fatalf("total %d: position %d found before it was inserted", total, p)
			}
			r.insert(i, trackedEvent{pos: p})
		}
		want := slices.Sorted(slices.Values(positions))
		want = want[max(0, len(want)-maxTracked):]
		if r.len() != len(want) {
			t.Fatalf("total %d: ring holds %d events, want %d", total, r.len(), len(want))
		}
		for i, p := range want {
			if got := r.at(i).pos; got != p {
				t.Fatalf("total %d: event %d is position %d, want %d", total, i, got, p)
			}
		}
	}
}
