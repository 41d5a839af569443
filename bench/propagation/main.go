// Command propagation measures how fast an invalidation takes effect in a
// fleet of edges (issue 5, `make bench-propagation`).
//
// Part 1, real processes: one control plane (`openfront serve --no-edge`,
// durable log store), -edges edge processes (`openfront edge`), an origin
// in this process, all on loopback, with a background viewer load of cache
// hits on every edge. For each of -n invalidations of one cached object:
//
//   - the object is made a cache hit on every edge (version 1), then the
//     origin's copy is bumped to version 2;
//   - CreateInvalidation is sent with aws-sdk-go-v2 (open mode, dummy
//     keys) and t0 taken at its 201;
//   - (a) every edge is polled in a tight loop (-poll apart, from the moment
//     the request is sent) until it answers version 2: (a) is when the last
//     edge first did, from t0 (negative if before the 201 arrived);
//   - (b) GetInvalidation is polled the same way from t0 until Completed.
//
// The gap between a poller's last negative and first positive answer is
// printed: it bounds the resolution. An invalidation not done within 10s
// counts as failed (printed with the control plane's view of it) and is
// left out of the percentiles.
//
// Part 2, a simulated fleet: the same control plane process, followed by
// N in-process fleet.Followers (each with its own distribution.Registry and
// a Cache that only records when it applied an invalidation), connected
// over loopback like real edges. For each N of -sim-sizes: completion time
// (b) and the time the last follower applied, then the control plane's CPU
// (/proc/PID/stat) per invalidation in a separate pass without
// GetInvalidation polling, its idle use subtracted.
//
// Every figure is printed; nothing passes or fails except the target line.
// -cp inproc runs the control plane as a child process of this program,
// built from internal/ as `openfront serve --no-edge` builds it, with a CPU
// profile written to -profile DIR (one file per part and size), and prints
// the latencies of its store's three writes per invalidation. -memory runs
// the control plane on the memory store (no fsync), as an experiment. Both
// processes watch for stalls (a sleeping goroutine waking late), which tell
// a machine busy with other work from slowness of openfront's own.
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	distID = "EBENCH00000000"
	host   = "bench.test"
	// open mode: any keys are accepted.
	keyID     = "AKIDPROPAGATION00001"
	keySecret = "dummy/propagation/benchmark/secret/key0"
)

var (
	bin         = flag.String("bin", "bin/openfront", "openfront binary (control plane with -cp bin, and the edges)")
	part        = flag.String("part", "all", "fleet (real edge processes), sim (simulated followers) or all")
	nInv        = flag.Int("n", 500, "measured invalidations per round (real edges)")
	warmInv     = flag.Int("warmup", 20, "unmeasured invalidations before each round's measured ones")
	rounds      = flag.Int("rounds", 3, "rounds of the real-edge part; each starts every process afresh")
	nEdges      = flag.Int("edges", 3, "edge processes")
	poll        = flag.Duration("poll", 150*time.Microsecond, "pause between two polls of one edge, and between two GetInvalidation calls")
	loadConc    = flag.Int("load-conc", 6, "viewer-load goroutines (spread over the edges)")
	loadRate    = flag.Int("load-rate", 3000, "viewer-load requests per second over all edges (0: as fast as the goroutines go)")
	loadObjs    = flag.Int("load-objects", 64, "cached objects the viewer load requests")
	simSizes    = flag.String("sim-sizes", "1,10,50,100", "simulated fleet sizes")
	simN        = flag.Int("sim-n", 500, "measured invalidations per simulated fleet size (latency pass and CPU pass each)")
	simRounds   = flag.Int("sim-rounds", 2, "rounds of the simulated part")
	simCPUOnly  = flag.Bool("sim-cpu-only", false, "simulated part: skip the latency pass (its GetInvalidation polling), e.g. to profile the CPU pass alone")
	cpMode      = flag.String("cp", "bin", "control plane: bin (the openfront binary) or inproc (this program, with a CPU profile)")
	profileDir  = flag.String("profile", "", "with -cp inproc: directory for the control plane's CPU profiles")
	memoryStore = flag.Bool("memory", false, "control plane keeps everything in memory (openfront serve --memory): no fsync on the way")
	cpArgs      = flag.String("cp-args", "", "with -cp bin: extra flags of openfront serve, space-separated")
	serveCP     = flag.Bool("serve-cp", false, "internal: run the in-process control plane")
	cpConfig    = flag.String("config", "", "internal: config file of -serve-cp")
	cpData      = flag.String("data-dir", "", "internal: data directory of -serve-cp")
	cpProfile   = flag.String("cpuprofile", "", "internal: CPU profile of -serve-cp, written on SIGTERM")
)

func main() {
	flag.Parse()
	if *serveCP {
		serveControlPlane(*cpConfig, *cpData, *cpProfile)
		return
	}
	if *cpMode != "bin" && *cpMode != "inproc" {
		fatalf("-cp: bin or inproc")
	}
	if *profileDir != "" {
		if *cpMode != "inproc" {
			fatalf("-profile needs -cp inproc")
		}
		if err := os.MkdirAll(*profileDir, 0o755); err != nil {
			fatalf("%v", err)
		}
	}
	printMachine()
	if *part == "all" || *part == "fleet" {
		runFleet()
	}
	if *part == "all" || *part == "sim" {
		var sizes []int
		for _, s := range strings.Split(*simSizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 {
				fatalf("-sim-sizes: bad size %q", s)
			}
			sizes = append(sizes, n)
		}
		runSim(sizes)
	}
}

func printMachine() {
	model := "unknown"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	fmt.Printf("machine: %d CPUs, CPU %q, %s %s/%s, GOMAXPROCS %d in every process; date %s\n",
		runtime.NumCPU(), model, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0),
		time.Now().UTC().Format(time.RFC3339))
	if *cpMode == "bin" || *part != "sim" {
		if out, err := exec.Command("go", "version", "-m", *bin).Output(); err == nil {
			first, _, _ := strings.Cut(string(out), "\n")
			fmt.Printf("openfront binary: %s\n", strings.TrimSpace(first))
		}
		if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
			fmt.Printf("source: git %s\n", strings.TrimSpace(string(out)))
		}
	}
	fmt.Printf("control plane: %s\n", map[string]string{"bin": "the openfront binary (openfront serve --no-edge)", "inproc": "in-process build of internal/ in a child of this program (-cp inproc)"}[*cpMode])
	if *memoryStore {
		fmt.Println("control plane store: memory (--memory): no fsync on an invalidation's way — an experiment, not the product's durable setup")
	} else {
		fmt.Println("control plane store: the log store in a temporary directory (openfront's default; durable: the invalidation and its fleet event in one fsynced group commit before the 201, its completion in another)")
	}
	if *cpArgs != "" {
		fmt.Printf("control plane extra flags: %s\n", *cpArgs)
	}
	fmt.Println("every process (control plane, edges, origin, load, pollers) shares these CPUs with whatever else runs on the machine")
}

// pct returns the p-th percentile of sorted (nearest rank).
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func sorted(d []time.Duration) []time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s
}

func fmtDur(d time.Duration) string {
	neg := ""
	if d < 0 {
		neg, d = "-", -d
	}
	switch {
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%s%.1fms", neg, float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%s%.2fms", neg, float64(d)/1e6)
	default:
		return fmt.Sprintf("%s%.0fµs", neg, float64(d)/1e3)
	}
}

func spread(v []float64, f func(float64) string) string {
	s := slices.Clone(v)
	slices.Sort(s)
	switch len(s) {
	case 1:
		return f(s[0])
	case 2:
		return f(s[0]) + " – " + f(s[1])
	}
	return f(s[0]) + " – " + f(s[len(s)/2]) + " – " + f(s[len(s)-1])
}

func durSpread(v []time.Duration) string {
	f := make([]float64, len(v))
	for i, d := range v {
		f[i] = float64(d)
	}
	return spread(f, func(x float64) string { return fmtDur(time.Duration(x)) })
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "propagation: "+format+"\n", args...)
	os.Exit(1)
}
