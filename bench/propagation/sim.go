package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
)

// recorder notes when each simulated edge applied each invalidation,
// by the invalidation's first path (unique per invalidation).
type recorder struct {
	n  int
	mu sync.Mutex
	m  map[string]*applyRec
}

type applyRec struct {
	count int
	last  time.Time
	done  chan struct{} // closed when all n edges applied
}

func (r *recorder) expect(path string) *applyRec {
	a := &applyRec{done: make(chan struct{})}
	r.mu.Lock()
	r.m[path] = a
	r.mu.Unlock()
	return a
}

// simCache is a simulated edge's cache: it only records applies.
type simCache struct{ r *recorder }

func (c simCache) Apply(ctx context.Context, inv invalidation.Invalidation) error {
	if len(inv.Batch.Paths) == 0 {
		return nil
	}
	now := time.Now()
	r := c.r
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.m[inv.Batch.Paths[0]]
	if a == nil {
		return nil // a purge on connect, or not ours
	}
	a.count++
	a.last = now
	if a.count == r.n {
		close(a.done)
	}
	return nil
}

// simResult is one fleet size in one round.
type simResult struct {
	b, applied []time.Duration // completion, last apply; from the 201
	failures   int
	idleCP     float64       // control plane cores while idle
	cpPerInv   time.Duration // control plane CPU per invalidation, idle subtracted
	cpRawInv   time.Duration // same, idle not subtracted
	benchInv   time.Duration // this process (followers, SDK) per invalidation
	rate       float64       // invalidations per second in the CPU pass
	other      float64       // other cores during the CPU pass
}

func runSim(sizes []int) {
	timeout := 10 * time.Second
	fmt.Printf("\n== part 2: simulated fleet, N in-process fleet.Followers (recording caches) following a control plane process over loopback\n")
	fmt.Printf("sizes %v; per size and round: %d unmeasured + %d measured invalidations polled with GetInvalidation (%v apart), then a CPU pass of %d invalidations without polling; %d rounds\n\n",
		sizes, *warmInv, *simN, *poll, *simN, *simRounds)
	res := map[int][]simResult{}
	for r := 1; r <= *simRounds; r++ {
		for _, n := range sizes {
			res[n] = append(res[n], simOnce(r, n, timeout))
		}
	}
	fmt.Printf("\nsummary over %d rounds (min – max, or min – median – max with 3 or more)\n", *simRounds)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "edges\t(b) Completed p50\t(b) p99\tlast edge applied p50\tlast applied p99\tcontrol plane CPU per invalidation\tcontrol plane idle (cores)")
	for _, n := range sizes {
		var b50, b99, a50, a99, cpu []time.Duration
		var idle []float64
		for _, s := range res[n] {
			b, ap := sorted(s.b), sorted(s.applied)
			b50, b99 = append(b50, pct(b, 50)), append(b99, pct(b, 99))
			a50, a99 = append(a50, pct(ap, 50)), append(a99, pct(ap, 99))
			cpu = append(cpu, s.cpPerInv)
			idle = append(idle, s.idleCP)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", n, durSpread(b50), durSpread(b99), durSpread(a50), durSpread(a99), durSpread(cpu),
			spread(idle, func(v float64) string { return fmt.Sprintf("%.3f", v) }))
	}
	tw.Flush()
}

func simOnce(round, n int, timeout time.Duration) simResult {
	tmp, err := os.MkdirTemp("", "openfront-propagation-sim-")
	if err != nil {
		fatalf("%v", err)
	}
	defer os.RemoveAll(tmp)
	cfg := writeConfig(tmp, "http://127.0.0.1:9")
	cp := startControlPlane(tmp, cfg, fmt.Sprintf("sim-n%d-r%d", n, round))
	defer cp.stop()

	rec := &recorder{n: n, m: map[string]*applyRec{}}
	ctx, cancel := context.WithCancel(context.Background())
	events := &countingHandler{counts: map[string]int{}}
	stalls := watchStalls()
	defer close(stalls.stop)
	log := slog.New(events)
	var followers []*fleet.Follower
	var clients []*http.Client
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		f := fleet.NewFollower(fleet.FollowerConfig{
			ControlPlane: cp.url, Name: fmt.Sprintf("sim-%03d", i), Addr: "http://127.0.0.1:9",
			Registry: distribution.NewRegistry(), Cache: simCache{rec}, Logger: log.With("edge", i), Client: hc,
		})
		followers, clients = append(followers, f), append(clients, hc)
		wg.Add(1)
		go func() { defer wg.Done(); f.Run(ctx) }()
	}
	defer func() {
		cancel()
		wg.Wait()
		for _, c := range clients {
			c.CloseIdleConnections()
		}
	}()
	waitEdges(cp.url, n)
	for deadline := time.Now().Add(30 * time.Second); ; {
		fresh := 0
		for _, f := range followers {
			if f.Fresh() {
				fresh++
			}
		}
		if fresh == n {
			break
		}
		if time.Now().After(deadline) {
			fatalf("only %d of %d followers caught up within 30s", fresh, n)
		}
		time.Sleep(10 * time.Millisecond)
	}

	api := newAPI(cp.url)
	var res simResult
	seq := 0
	invalidate := func() (*applyRec, string, time.Time) {
		seq++
		path := fmt.Sprintf("/obj/%d/%d/%d", round, n, seq)
		a := rec.expect(path)
		id, err := createInvalidation(api, path, fmt.Sprintf("sim-%d-%d-%d-%d", time.Now().UnixNano(), round, n, seq))
		t0 := time.Now()
		if err != nil {
			fatalf("CreateInvalidation: %v", err)
		}
		return a, id, t0
	}
	// Latency pass.
	nLat := *warmInv + *simN
	if *simCPUOnly {
		nLat = *warmInv // warm-up only, so that a profile shows the CPU pass
	}
	for i := 0; i < nLat; i++ {
		a, id, t0 := invalidate()
		done := pollUntil(t0, *poll, timeout, func() (bool, error) { return completed(api, id) })
		var applied time.Duration
		select {
		case <-a.done:
			rec.mu.Lock()
			applied = a.last.Sub(t0)
			rec.mu.Unlock()
		case <-time.After(timeout):
			done.err = fmt.Errorf("not every edge applied it within %v", timeout)
		}
		if i < *warmInv {
			continue
		}
		if done.err != nil {
			res.failures++
			rec.mu.Lock()
			count := a.count
			rec.mu.Unlock()
			behind, at := 0, pos(cp.url, id)
			for _, f := range followers {
				if f.Applied() < at {
					behind++
				}
			}
			fmt.Fprintf(os.Stderr, "N=%d invalidation %d: %v; %d of %d followers applied it (followers whose Applied() is behind its position: %d)\n%s",
				n, i, done.err, count, n, behind, diagnose(cp.url, id))
			continue
		}
		if b := done.first.Sub(t0); b > time.Second {
			fmt.Fprintf(os.Stderr, "N=%d invalidation %d: slow: Completed after %s, every follower had applied it after %s\n", n, i, fmtDur(b), fmtDur(applied))
		}
		res.b = append(res.b, done.first.Sub(t0))
		res.applied = append(res.applied, applied)
	}
	// CPU pass: the control plane's idle use (streams' heartbeats), then
	// -sim-n invalidations one after the other, each sent once every
	// follower applied the previous one; no GetInvalidation polling but
	// one at the end, for the last to be Completed.
	time.Sleep(200 * time.Millisecond)
	idle := newMeter(cp.pid())
	time.Sleep(3 * time.Second)
	iu := idle.read()
	res.idleCP = iu.cores(iu.procs[0])
	m := newMeter(cp.pid())
	var lastID string
	for i := 0; i < *simN; i++ {
		a, id, _ := invalidate()
		lastID = id
		select {
		case <-a.done:
		case <-time.After(timeout):
			fatalf("N=%d: not every edge applied an invalidation within %v", n, timeout)
		}
	}
	if p := pollUntil(time.Now(), time.Millisecond, timeout, func() (bool, error) { return completed(api, lastID) }); p.err != nil {
		fatalf("N=%d: %v", n, p.err)
	}
	u := m.read()
	res.cpRawInv = u.procs[0] / time.Duration(*simN)
	res.cpPerInv = max(0, u.procs[0]-time.Duration(res.idleCP*float64(u.wall))) / time.Duration(*simN)
	res.benchInv = u.self / time.Duration(*simN)
	res.rate = float64(*simN) / u.wall.Seconds()
	res.other = u.cores(u.other())
	b, ap := sorted(res.b), sorted(res.applied)
	fmt.Printf("round %d N=%-3d  bench process: %s\n", round, n, stalls.read())
	if msgs := events.String(); msgs != "" {
		fmt.Printf("round %d N=%-3d  followers logged: %s\n", round, n, msgs)
	}
	fmt.Printf("round %d N=%-3d  (b) Completed p50 %-8s p99 %-8s max %-8s | last edge applied p50 %-8s p99 %-8s max %-8s | control plane CPU/inv %s (raw %s, idle %.3f cores) | bench CPU/inv %s | %.0f inv/s in CPU pass, other %.2f cores | failures %d\n",
		round, n, fmtDur(pct(b, 50)), fmtDur(pct(b, 99)), fmtDur(pct(b, 100)), fmtDur(pct(ap, 50)), fmtDur(pct(ap, 99)), fmtDur(pct(ap, 100)),
		fmtDur(res.cpPerInv), fmtDur(res.cpRawInv), res.idleCP, fmtDur(res.benchInv), res.rate, res.other, res.failures)
	return res
}

// countingHandler counts the followers' log messages (every level) so a
// round can say how often streams reconnected or acks failed.
type countingHandler struct {
	mu     sync.Mutex
	counts map[string]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *countingHandler) WithGroup(string) slog.Handler            { return h }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn && r.Level != slog.LevelDebug {
		return nil // info: caught up, snapshot loaded
	}
	key := r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			key += " (" + a.Value.String() + ")"
		}
		return true
	})
	h.mu.Lock()
	h.counts[key]++
	h.mu.Unlock()
	return nil
}

func (h *countingHandler) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var parts []string
	for k, n := range h.counts {
		parts = append(parts, fmt.Sprintf("%d× %q", n, k))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
