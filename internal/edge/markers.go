package edge

import (
	"strings"
	"sync"
	"sync/atomic"
)

// Invalidation without scanning.
//
// The edge keeps one clock, a counter that each applied invalidation
// advances (Edge.clock). Every origin request reads the clock when it
// starts, and the object it brings back is stamped with that reading (its
// seq). Applying an invalidation advances the clock to s and leaves markers
// stamped s in the distribution's distState: exact names in a map, wildcard
// prefixes in a radix tree. An object is dead when a marker matching its
// name is newer than it (marker seq > object seq); a dead object is treated
// as absent and deleted when met. Applying a batch therefore costs
// O(total length of its paths), whatever the size of the cache; exact paths
// also delete their one object at once, O(1) each.
//
// Stamping with the clock as it was when the origin request started, not
// when it ended, closes the race in which a fetch started before an
// invalidation brings old content back after it: that content is dead on
// arrival. A lookup walks the radix tree along the object's name: O(len
// name), however many markers there are.
//
// Markers are reclaimed in the background. Each distState counts, per
// seq, the cached objects and the origin requests in flight stamped with it
// (live). A marker whose seq is at most the oldest live seq can invalidate
// nothing that exists or will exist, and is dropped. Objects leave the
// cache by eviction, by expiry (at most their TTL plus Config.StaleRetention)
// or when found dead; a periodic sweep (Config.SweepInterval) deletes the
// dead ones nobody asks for, so markers do not wait for a slow eviction.
// A new wildcard marker also drops at once every marker below its prefix:
// a newer marker on a shorter prefix already covers them.

// distState is the cache state of one distribution: its markers and its
// live seqs. Lock order: mu before nothing; liveMu before nothing. The
// cache's own locks may be held when liveMu is taken (deletion handler),
// never the other way round.
type distState struct {
	id string

	// site is the compiled configuration last seen (Edge.site).
	site atomic.Pointer[site]

	// metrics are the distribution's counters (Config.Metrics), set
	// before the state is published.
	metrics DistributionMetrics

	// markers is how many markers (exact and wildcard) are held; lookups
	// skip mu when it is zero.
	markers atomic.Int64

	mu     sync.RWMutex
	prefix node              // guarded by mu: the wildcard markers
	exact  map[string]uint64 // guarded by mu: exact name -> marker seq

	liveMu sync.Mutex
	live   map[uint64]int // guarded by liveMu: seq -> objects and fetches stamped with it
}

func newDistState(id string) *distState {
	return &distState{id: id, exact: map[string]uint64{}, live: map[uint64]int{}, metrics: nopMetrics{}}
}

// dead reports whether a marker newer than seq matches name.
func (d *distState) dead(name string, seq uint64) bool {
	if d.markers.Load() == 0 {
		return false
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if s, ok := d.exact[name]; ok && s > seq {
		return true
	}
	return d.prefix.newer(name, seq)
}

// mark records the markers of one invalidation, stamped seq. The caller
// must hold mu and must stamp the markers of a distribution in increasing
// order of seq.
func (d *distState) mark(pats []pattern, seq uint64) {
	var delta int64
	for _, p := range pats {
		if p.wildcard {
			delta += d.prefix.insert(p.name, seq)
			continue
		}
		if _, ok := d.exact[p.name]; !ok {
			delta++
		}
		d.exact[p.name] = seq
	}
	d.markers.Add(delta)
}

// pin stamps a new origin request with the clock and counts it live.
func (d *distState) pin(clock *atomic.Uint64) uint64 {
	d.liveMu.Lock()
	defer d.liveMu.Unlock()
	s := clock.Load()
	d.live[s]++
	return s
}

// unpin ends what pin or an object's insertion counted.
func (d *distState) unpin(seq uint64) {
	d.liveMu.Lock()
	defer d.liveMu.Unlock()
	if d.live[seq]--; d.live[seq] <= 0 {
		delete(d.live, seq)
	}
}

// oldestLive returns the oldest seq an object or fetch of d holds, or the
// clock when none does. No marker at or below it can match anything.
func (d *distState) oldestLive(clock *atomic.Uint64) uint64 {
	d.liveMu.Lock()
	defer d.liveMu.Unlock()
	low := clock.Load()
	for s := range d.live {
		low = min(low, s)
	}
	return low
}

// reclaim drops the markers that can no longer match anything, and
// returns how many markers remain.
func (d *distState) reclaim(clock *atomic.Uint64) int64 {
	if d.markers.Load() == 0 {
		return 0
	}
	low := d.oldestLive(clock)
	d.mu.Lock()
	defer d.mu.Unlock()
	var dropped int64
	for name, s := range d.exact {
		if s <= low {
			delete(d.exact, name)
			dropped++
		}
	}
	dropped += d.prefix.prune(low)
	return d.markers.Add(-dropped)
}

// node is a node of a radix tree of wildcard prefixes. The prefix a node
// stands for is the concatenation of the labels from the root to it.
type node struct {
	label    string  // non-empty except at the root
	seq      uint64  // newest wildcard marker on this node's prefix; 0 when none
	children []*node // sorted by label[0], which differs between siblings
}

// newer reports whether a marker on a prefix of name is newer than seq.
func (n *node) newer(name string, seq uint64) bool {
	for {
		if n.seq > seq {
			return true
		}
		if name == "" {
			return false
		}
		c := n.child(name[0])
		if c == nil || !strings.HasPrefix(name, c.label) {
			return false
		}
		name = name[len(c.label):]
		n = c
	}
}

// child returns the child whose label starts with b, or nil.
func (n *node) child(b byte) *node {
	i := n.search(b)
	if i < len(n.children) && n.children[i].label[0] == b {
		return n.children[i]
	}
	return nil
}

// search returns the index of the first child whose label starts at or
// after b.
func (n *node) search(b byte) int {
	lo, hi := 0, len(n.children)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if n.children[m].label[0] < b {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// insert puts a marker stamped seq on prefix, dropping the markers below it
// (they are older, so it covers them), and returns the change in the number
// of markers.
func (n *node) insert(prefix string, seq uint64) int64 {
	for prefix != "" {
		i := n.search(prefix[0])
		if i == len(n.children) || n.children[i].label[0] != prefix[0] {
			n.children = append(n.children, nil)
			copy(n.children[i+1:], n.children[i:])
			n.children[i] = &node{label: prefix, seq: seq}
			return 1
		}
		c := n.children[i]
		l := commonPrefixLen(prefix, c.label)
		if l < len(c.label) {
			mid := &node{label: c.label[:l], children: []*node{c}}
			c.label = c.label[l:]
			n.children[i] = mid
			c = mid
		}
		prefix = prefix[l:]
		n = c
	}
	delta := -n.below()
	if n.seq == 0 {
		delta++
	}
	n.seq = seq
	n.children = nil
	return delta
}

// below counts the markers strictly below n.
func (n *node) below() int64 {
	var k int64
	for _, c := range n.children {
		if c.seq != 0 {
			k++
		}
		k += c.below()
	}
	return k
}

// prune drops the markers stamped at or below low, removes the nodes left
// useless and re-joins a marker-less node with its only child. It returns
// how many markers it dropped.
func (n *node) prune(low uint64) int64 {
	var dropped int64
	kept := n.children[:0]
	for _, c := range n.children {
		if c.seq != 0 && c.seq <= low {
			c.seq = 0
			dropped++
		}
		dropped += c.prune(low)
		switch {
		case c.seq == 0 && len(c.children) == 0:
			continue
		case c.seq == 0 && len(c.children) == 1:
			only := c.children[0]
			only.label = c.label + only.label
			c = only
		}
		kept = append(kept, c)
	}
	clear(n.children[len(kept):])
	n.children = kept
	return dropped
}

func commonPrefixLen(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
