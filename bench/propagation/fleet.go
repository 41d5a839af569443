package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// fleetRound is one round of the real-edge part.
type fleetRound struct {
	a, b, create   []time.Duration // per measured invalidation
	aGap, bGap     []time.Duration
	aPolls, bPolls int
	lastEdge       []int // how often each edge was the last to drop the old object
	failures       int
	load           loadStats
	cpu            cpuUse // children: control plane, then the edges
	stalls         string // of this process
}

// loadStats describes the background viewer load of a round.
type loadStats struct {
	n, errors, notHit int
	elapsed           time.Duration
	lat               []time.Duration
}

func runFleet() {
	timeout := 10 * time.Second
	fmt.Printf("\n== part 1: %d edge processes, control plane and origin on loopback\n", *nEdges)
	if *loadRate > 0 {
		fmt.Printf("viewer load: %d goroutines, %d req/s in all (paced), cache hits of %d objects on every edge\n", *loadConc, *loadRate, *loadObjs)
	} else {
		fmt.Printf("viewer load: %d goroutines as fast as they go (closed loop), cache hits of %d objects on every edge\n", *loadConc, *loadObjs)
	}
	fmt.Printf("%d measured invalidations per round after %d unmeasured; polls %v apart (each edge, and GetInvalidation); %d rounds\n",
		*nInv, *warmInv, *poll, *rounds)
	fmt.Printf("times are from the 201 of CreateInvalidation; edges are polled from the moment the request is sent, so (a) is negative when the last edge dropped the old object before the 201 reached the client\n\n")
	var all []fleetRound
	for r := 1; r <= *rounds; r++ {
		all = append(all, fleetOnce(r, timeout))
	}
	printFleetSummary(all)
}

func fleetOnce(round int, timeout time.Duration) fleetRound {
	tmp, err := os.MkdirTemp("", "openfront-propagation-")
	if err != nil {
		fatalf("%v", err)
	}
	defer os.RemoveAll(tmp)

	org := newOrigin()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("%v", err)
	}
	osrv := &http.Server{Handler: org}
	go osrv.Serve(ln)
	defer osrv.Close()

	cfg := writeConfig(tmp, "http://"+ln.Addr().String())
	cp := startControlPlane(tmp, cfg, "fleet-r"+strconv.Itoa(round))
	defer cp.stop()
	var edges []*proc
	for i := 0; i < *nEdges; i++ {
		e := start("edge "+strconv.Itoa(i), "openfront edge listening on ", *bin, "edge", "--control-plane", cp.url,
			"--edge-addr", "127.0.0.1:0", "--name", "edge-"+strconv.Itoa(i), "--log-level", "warn")
		defer e.stop()
		edges = append(edges, e)
	}
	waitEdges(cp.url, *nEdges)

	v := newViewer()
	api := newAPI(cp.url)
	for _, e := range edges {
		for k := 0; k < *loadObjs; k++ {
			if err := v.warm(e.url, "/static/"+strconv.Itoa(k), 1); err != nil {
				fatalf("warming the viewer load's objects: %v", err)
			}
		}
	}

	// The background viewer load.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var lmu sync.Mutex
	var load loadStats
	var measuring atomic.Bool // the load records only while the invalidations are measured
	for g := 0; g < *loadConc; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := edges[g%len(edges)].url
			var interval time.Duration
			if *loadRate > 0 {
				interval = time.Duration(float64(time.Second) * float64(*loadConc) / float64(*loadRate))
			}
			var st loadStats
			next := time.Now()
			rng := rand.New(rand.NewPCG(uint64(g), uint64(round)))
			for {
				select {
				case <-stop:
					lmu.Lock()
					load.n += st.n
					load.errors += st.errors
					load.notHit += st.notHit
					load.lat = append(load.lat, st.lat...)
					lmu.Unlock()
					return
				default:
				}
				if interval > 0 {
					now := time.Now()
					if d := next.Sub(now); d > 0 {
						time.Sleep(d)
					} else if -d > 10*interval {
						next = now // fell behind: do not burst to catch up
					}
					next = next.Add(interval)
				}
				t := time.Now()
				status, xc, _, err := v.get(base, "/static/"+strconv.Itoa(rng.IntN(*loadObjs)))
				if !measuring.Load() {
					continue
				}
				switch {
				case err != nil || status != 200:
					st.errors++
				case !strings.HasPrefix(xc, "Hit"):
					st.notHit++
				}
				st.n++
				st.lat = append(st.lat, time.Since(t))
			}
		}()
	}

	res := fleetRound{lastEdge: make([]int, len(edges))}
	stalls := watchStalls()
	defer close(stalls.stop)
	var meter *cpuMeter
	pids := []int{cp.pid()}
	for _, e := range edges {
		pids = append(pids, e.pid())
	}
	for i := 0; i < *warmInv+*nInv; i++ {
		if i == *warmInv {
			meter = newMeter(pids...)
			measuring.Store(true)
		}
		path := fmt.Sprintf("/obj/%d/%d", round, i)
		org.set(path, 1)
		for _, e := range edges {
			if err := v.warm(e.url, path, 1); err != nil {
				fatalf("%v", err)
			}
		}
		org.set(path, 2)
		want := body(path, 2)

		// The edges are polled from before the request: an edge may drop
		// the old object before the 201 reaches the client.
		tSend := time.Now()
		got := make([]polled, len(edges))
		var pw sync.WaitGroup
		for k, e := range edges {
			pw.Add(1)
			go func() {
				defer pw.Done()
				got[k] = pollUntil(tSend, *poll, timeout, func() (bool, error) {
					status, _, text, err := v.get(e.url, path)
					if err != nil {
						return false, err
					}
					if status != 200 {
						return false, fmt.Errorf("status %d", status)
					}
					return text == want, nil
				})
			}()
		}
		id, err := createInvalidation(api, path, fmt.Sprintf("prop-%d-%d-%d", time.Now().UnixNano(), round, i))
		t0 := time.Now()
		if err != nil {
			fatalf("CreateInvalidation: %v", err)
		}
		done := pollUntil(t0, *poll, timeout, func() (bool, error) { return completed(api, id) })
		pw.Wait()
		if i < *warmInv {
			continue
		}
		last := slices.IndexFunc(got, func(p polled) bool { return p.err != nil })
		if last >= 0 || done.err != nil {
			res.failures++
			fmt.Fprintf(os.Stderr, "round %d invalidation %d: edge %d: %v; Completed: %v\n%s", round, i, last, got[max(last, 0)].err, done.err, diagnose(cp.url, id))
			continue
		}
		last = 0
		for k, p := range got {
			if p.first.After(got[last].first) {
				last = k
			}
			res.aPolls += p.polls
		}
		res.lastEdge[last]++
		res.a = append(res.a, got[last].first.Sub(t0))
		res.aGap = append(res.aGap, got[last].gap)
		res.b = append(res.b, done.first.Sub(t0))
		res.bGap = append(res.bGap, done.gap)
		res.bPolls += done.polls
		res.create = append(res.create, t0.Sub(tSend))
	}
	res.cpu = meter.read()
	res.stalls = stalls.read()
	measuring.Store(false)
	close(stop)
	wg.Wait()
	load.elapsed = res.cpu.wall
	slices.Sort(load.lat)
	res.load = load
	printFleetRound(round, res) // before the deferred stops: -cp inproc then prints its store's figures
	return res
}

func printFleetRound(r int, res fleetRound) {
	a, b, c := sorted(res.a), sorted(res.b), sorted(res.create)
	n := len(a)
	fmt.Printf("round %d: %d invalidations measured, %d failed\n", r, n, res.failures)
	fmt.Printf("  (a) last edge serving the new object, from the 201: p50 %s  p99 %s  max %s   (poll gap p50 %s p99 %s; %.0f polls per edge per invalidation)\n",
		fmtDur(pct(a, 50)), fmtDur(pct(a, 99)), fmtDur(pct(a, 100)), fmtDur(pct(sorted(res.aGap), 50)), fmtDur(pct(sorted(res.aGap), 99)),
		float64(res.aPolls)/float64(max(n, 1))/float64(len(res.lastEdge)))
	neg := 0
	for _, d := range res.a {
		if d <= 0 {
			neg++
		}
	}
	fmt.Printf("      (every edge already served the new object when the 201 arrived: %d of %d)\n", neg, n)
	fmt.Printf("  (b) GetInvalidation Completed, from the 201:       p50 %s  p99 %s  max %s   (poll gap p50 %s p99 %s; %.0f polls per invalidation)\n",
		fmtDur(pct(b, 50)), fmtDur(pct(b, 99)), fmtDur(pct(b, 100)), fmtDur(pct(sorted(res.bGap), 50)), fmtDur(pct(sorted(res.bGap), 99)),
		float64(res.bPolls)/float64(max(n, 1)))
	fmt.Printf("  CreateInvalidation round trip (send to 201):     p50 %s  p99 %s  max %s\n", fmtDur(pct(c, 50)), fmtDur(pct(c, 99)), fmtDur(pct(c, 100)))
	fmt.Printf("  bench process: %s\n", res.stalls)
	fmt.Printf("  last edge to drop the old object: %v (count per edge)\n", res.lastEdge)
	l := res.load
	fmt.Printf("  viewer load: %d requests, %.0f req/s, %d errors, %d not hits, latency p50 %s p99 %s\n",
		l.n, float64(l.n)/l.elapsed.Seconds(), l.errors, l.notHit, fmtDur(pct(l.lat, 50)), fmtDur(pct(l.lat, 99)))
	fmt.Printf("  CPU over the measured invalidations (%.1fs): control plane %.2f cores, edges %s cores, bench (origin, load, pollers, SDK) %.2f cores, other %.2f cores\n",
		res.cpu.wall.Seconds(), res.cpu.cores(res.cpu.procs[0]), edgeCores(res.cpu), res.cpu.cores(res.cpu.self), res.cpu.cores(res.cpu.other()))
}

func edgeCores(u cpuUse) string {
	var s []string
	for _, p := range u.procs[1:] {
		s = append(s, fmt.Sprintf("%.2f", u.cores(p)))
	}
	return strings.Join(s, "+")
}

func printFleetSummary(all []fleetRound) {
	var pa, pb []time.Duration
	var a50, a99, b50, b99, amax, bmax []time.Duration
	metA, metB := 0, 0
	for _, r := range all {
		a, b := sorted(r.a), sorted(r.b)
		pa, pb = append(pa, r.a...), append(pb, r.b...)
		a50, a99, amax = append(a50, pct(a, 50)), append(a99, pct(a, 99)), append(amax, pct(a, 100))
		b50, b99, bmax = append(b50, pct(b, 50)), append(b99, pct(b, 99)), append(bmax, pct(b, 100))
		if pct(a, 99) <= 10*time.Millisecond && r.failures == 0 {
			metA++
		}
		if pct(b, 99) <= 25*time.Millisecond && r.failures == 0 {
			metB++
		}
	}
	pa, pb = sorted(pa), sorted(pb)
	fmt.Printf("\nsummary over %d rounds (spread of the rounds' figures: min – max, or min – median – max with 3 or more; pooled = all rounds' invalidations together)\n", len(all))
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "measure\tp50\tp99\tmax\tpooled p50\tpooled p99\tpooled n")
	fmt.Fprintf(tw, "(a) last edge serves new\t%s\t%s\t%s\t%s\t%s\t%d\n", durSpread(a50), durSpread(a99), durSpread(amax), fmtDur(pct(pa, 50)), fmtDur(pct(pa, 99)), len(pa))
	fmt.Fprintf(tw, "(b) Completed\t%s\t%s\t%s\t%s\t%s\t%d\n", durSpread(b50), durSpread(b99), durSpread(bmax), fmtDur(pct(pb, 50)), fmtDur(pct(pb, 99)), len(pb))
	tw.Flush()
	fmt.Printf("target (p99 (a) ≤ 10ms, p99 (b) ≤ 25ms): (a) met in %d/%d rounds, (b) met in %d/%d rounds\n", metA, len(all), metB, len(all))
}
