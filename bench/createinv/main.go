// Command createinv measures CreateInvalidation throughput and latency
// through aws-sdk-go-v2 against a real openfront process (durable log
// store, SigV4 auth on) and, in the same run and with the same client,
// against servers that do nothing but answer 201: the ceiling of the
// machine for this client. There are two: one on net/http ("ceiling") and
// one on fasthttp ("ceiling-fasthttp"), the HTTP stacks openfront is built
// on; the target is judged against both (the stricter figure counts).
//
//	go build -o bin/openfront ./cmd/openfront
//	go run ./bench/createinv -bin bin/openfront
//
// Every server runs as a separate process (the ceilings are this same
// program started with -serve=nothing or -serve=nothing-fasthttp), so each
// has its own runtime and GOMAXPROCS, as openfront has in production. Points
// are measured for -duration after a -warmup, at each concurrency of -conc,
// for -rounds rounds; the order of the targets rotates from one point to the
// next to spread drift (other load on the machine) over all.
//
// -perf DIR records the openfront process with `perf record -g` during its
// first measured point at the highest concurrency and writes the report to
// DIR (the server has no pprof endpoint; perf needs no change to it).
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cf "github.com/aws/aws-sdk-go-v2/service/cloudfront"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront/types"
	"github.com/valyala/fasthttp"

	"github.com/openfront/openfront/internal/store/logstore"
)

const (
	distID        = "EBENCHDIST0001"
	keyID         = "AKIDBENCHMARK0000001"
	keySecret     = "benchSecretKey/K7MDENG+bPxRfiCYBENCHKEY"
	ceilingBanner = "ceiling listening on "
)

// config is one distribution and limits high enough that the in-progress
// quotas never refuse a benchmark request.
const config = `distributions:
  - id: ` + distID + `
    origin: http://127.0.0.1:9
limits:
  max_batch_paths: 3000
  max_in_progress_file_paths: 100000000
  max_in_progress_wildcard_paths: 100000000
`

func main() {
	var (
		bin         = flag.String("bin", "bin/openfront", "openfront binary to benchmark")
		duration    = flag.Duration("duration", 10*time.Second, "measured time per point")
		warmup      = flag.Duration("warmup", 2*time.Second, "unmeasured time before each point")
		concList    = flag.String("conc", "1,16", "comma-separated concurrencies")
		rounds      = flag.Int("rounds", 1, "times every point is measured")
		nSlices     = flag.Int("slices", 1, "measure each point in this many slices, the targets taking turns slice by slice, so that the machine's drift within a round (ceilings moving 15% from one target's point to the next) weighs on every target alike")
		invDelay    = flag.Duration("invalidation-delay", 0, "openfront --invalidation-delay (0, the default, completes each invalidation at once: one more store write per create)")
		extraArgs   = flag.String("openfront-args", "", "extra flags for `openfront serve`, space-separated (experiments: --memory, --invalidation-delay 1h)")
		perfDir     = flag.String("perf", "", "record openfront with perf during its first point at the highest concurrency; reports in DIR")
		pgURL       = flag.String("postgres-url", "", "also measure a second openfront on this PostgreSQL database (target openfront-postgres, serve --postgres-url through OPENFRONT_POSTGRES_URL), in the same rounds; make bench-ha starts a server for it")
		pgPairURL   = flag.String("postgres-pair-url", "", "also measure two openfront replicas on this PostgreSQL database (another than -postgres-url's), the load spread over both API ports (target openfront-pg-2replicas), in the same rounds; make bench-ha starts a server for it")
		withMetrics = flag.Bool("metrics", false, "also measure a second openfront with --metrics-addr 127.0.0.1:0 (target openfront+metrics, its own data directory), in the same rounds: the cost of the metrics")
		serveMode   = flag.String("serve", "", "internal: run a do-nothing server instead of the benchmark (-serve=nothing or nothing-fasthttp)")
	)
	flag.Parse()
	switch *serveMode {
	case "":
	case "nothing":
		serveNothing()
		return
	case "nothing-fasthttp":
		serveNothingFastHTTP()
		return
	default:
		fatalf("-serve: unknown mode %q", *serveMode)
	}

	var concs []int
	for _, s := range strings.Split(*concList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fatalf("-conc: bad concurrency %q", s)
		}
		concs = append(concs, n)
	}
	tmp, err := os.MkdirTemp("", "openfront-bench-")
	if err != nil {
		fatalf("%v", err)
	}
	defer os.RemoveAll(tmp)
	self, err := os.Executable()
	if err != nil {
		fatalf("%v", err)
	}

	cfgPath := filepath.Join(tmp, "openfront.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		fatalf("%v", err)
	}
	dataDir := filepath.Join(tmp, "data")
	ofArgs := []string{"serve", "--config", cfgPath, "--data-dir", dataDir,
		"--api-addr", "127.0.0.1:0", "--edge-addr", "127.0.0.1:0", "--log-level", "warn", "--invalidation-delay", invDelay.String()}
	ofArgs = append(ofArgs, strings.Fields(*extraArgs)...)
	of := start("openfront", "openfront API listening on ",
		[]string{"OPENFRONT_ACCESS_KEY_ID=" + keyID, "OPENFRONT_SECRET_ACCESS_KEY=" + keySecret}, *bin, ofArgs...)
	defer of.stop()
	var ofm *proc
	dataDirM := filepath.Join(tmp, "data-metrics")
	if *withMetrics {
		mArgs := slices.Clone(ofArgs)
		mArgs[slices.Index(mArgs, dataDir)] = dataDirM
		mArgs = append(mArgs, "--metrics-addr", "127.0.0.1:0")
		ofm = start("openfront+metrics", "openfront API listening on ",
			[]string{"OPENFRONT_ACCESS_KEY_ID=" + keyID, "OPENFRONT_SECRET_ACCESS_KEY=" + keySecret}, *bin, mArgs...)
		defer ofm.stop()
	}
	var ofp *proc
	if *pgURL != "" {
		pArgs := slices.Clone(ofArgs)
		pArgs[slices.Index(pArgs, dataDir)] = filepath.Join(tmp, "data-unused")
		ofp = start("openfront-postgres", "openfront API listening on ",
			[]string{"OPENFRONT_ACCESS_KEY_ID=" + keyID, "OPENFRONT_SECRET_ACCESS_KEY=" + keySecret, "OPENFRONT_POSTGRES_URL=" + *pgURL}, *bin, pArgs...)
		defer ofp.stop()
	}
	var pair []*proc
	if *pgPairURL != "" {
		for _, name := range []string{"replica-a", "replica-b"} {
			pArgs := slices.Clone(ofArgs)
			pArgs[slices.Index(pArgs, dataDir)] = filepath.Join(tmp, "data-unused-"+name)
			pArgs = append(pArgs, "--edge-name", name)
			p := start("openfront-pg-"+name, "openfront API listening on ",
				[]string{"OPENFRONT_ACCESS_KEY_ID=" + keyID, "OPENFRONT_SECRET_ACCESS_KEY=" + keySecret, "OPENFRONT_POSTGRES_URL=" + *pgPairURL}, *bin, pArgs...)
			defer p.stop()
			pair = append(pair, p)
		}
	}
	ceil := start("ceiling", ceilingBanner, nil, self, "-serve=nothing")
	defer ceil.stop()
	ceilFast := start("ceiling-fasthttp", ceilingBanner, nil, self, "-serve=nothing-fasthttp")
	defer ceilFast.stop()

	printMachine(*bin)
	storeDesc := "durable log store in " + dataDir
	if slices.Contains(strings.Fields(*extraArgs), "--memory") {
		storeDesc = "memory store (--memory: not durable)"
	}
	fmt.Printf("openfront: %s (pid %d), %s, SigV4 auth on, --invalidation-delay %s\n", of.url, of.cmd.Process.Pid, storeDesc, *invDelay)
	if *extraArgs != "" {
		fmt.Printf("openfront extra flags: %s\n", *extraArgs)
	}
	if ofm != nil {
		fmt.Printf("openfront+metrics: %s (pid %d), the same with --metrics-addr 127.0.0.1:0 (data in %s)\n", ofm.url, ofm.cmd.Process.Pid, dataDirM)
	}
	if ofp != nil {
		fmt.Printf("openfront-postgres: %s (pid %d), the same on PostgreSQL (--postgres-url)\n", ofp.url, ofp.cmd.Process.Pid)
	}
	for _, p := range pair {
		fmt.Printf("openfront-pg-2replicas: %s (pid %d), one of two replicas on another PostgreSQL database, each taking half the load generator's connections\n", p.url, p.cmd.Process.Pid)
	}
	fmt.Printf("ceiling:   %s (pid %d), net/http, reads the body and answers a fixed 201 <Invalidation>\n", ceil.url, ceil.cmd.Process.Pid)
	fmt.Printf("ceiling-fasthttp: %s (pid %d), fasthttp, the same answer\n", ceilFast.url, ceilFast.cmd.Process.Pid)
	if *nSlices < 1 {
		fatalf("-slices must be at least 1")
	}
	fmt.Printf("points: %v warm-up + %v measured, concurrency %v, %d round(s), target order rotating", *warmup, *duration, concs, *rounds)
	if *nSlices > 1 {
		fmt.Printf("; each point measured in %d slices of %v, the targets taking turns", *nSlices, *duration/time.Duration(*nSlices))
	}
	fmt.Printf("\n\n")

	// One client for both targets: same SDK, same signer, same transport
	// settings; only the endpoint differs.
	hc := &http.Client{Transport: &http.Transport{
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}}
	one := func(p *proc) []*cf.Client { return []*cf.Client{newClient(hc, p.url)} }
	clients := map[string][]*cf.Client{"openfront": one(of), "ceiling": one(ceil), "ceiling-fasthttp": one(ceilFast)}
	pids := map[string][]int{"openfront": {of.cmd.Process.Pid}, "ceiling": {ceil.cmd.Process.Pid}, "ceiling-fasthttp": {ceilFast.cmd.Process.Pid}}
	dbs := map[string]string{"openfront": dataDir}
	targets := []string{"ceiling", "ceiling-fasthttp", "openfront"}
	if ofm != nil {
		clients["openfront+metrics"] = one(ofm)
		pids["openfront+metrics"] = []int{ofm.cmd.Process.Pid}
		dbs["openfront+metrics"] = dataDirM
		targets = append(targets, "openfront+metrics")
	}
	if ofp != nil {
		clients["openfront-postgres"] = one(ofp)
		pids["openfront-postgres"] = []int{ofp.cmd.Process.Pid}
		targets = append(targets, "openfront-postgres")
	}
	if pair != nil {
		for _, p := range pair {
			clients["openfront-pg-2replicas"] = append(clients["openfront-pg-2replicas"], newClient(hc, p.url))
			pids["openfront-pg-2replicas"] = append(pids["openfront-pg-2replicas"], p.cmd.Process.Pid)
		}
		targets = append(targets, "openfront-pg-2replicas")
	}

	type key struct {
		target string
		conc   int
	}
	results := map[key][]result{}
	point := 0
	for r := 1; r <= *rounds; r++ {
		for _, c := range concs {
			order := append(slices.Clone(targets[point%len(targets):]), targets[:point%len(targets)]...)
			point++
			sliceLen := *duration / time.Duration(*nSlices)
			acc := map[string]*result{}
			for sl := 0; sl < *nSlices; sl++ {
				for _, t := range order {
					if sl == 0 {
						run(clients[t], c, *warmup) // warm-up: connections, caches, page cache
					}
					var rec *perfRecording
					if *perfDir != "" && r == 1 && sl == 0 && t == "openfront" && c == slices.Max(concs) {
						rec = startPerf(*perfDir, pids[t][0], sliceLen)
					}
					res := measure(clients[t], pids[t], dbs[t], c, sliceLen)
					if rec != nil {
						rec.finish(*bin)
					}
					if acc[t] == nil {
						acc[t] = &res
					} else {
						acc[t].add(res, dbs[t] != "")
					}
				}
			}
			for _, t := range order {
				res := *acc[t]
				slices.Sort(res.lat)
				results[key{t, c}] = append(results[key{t, c}], res)
				fmt.Fprintf(os.Stderr, "round %d  %-16s  c=%-3d %8.0f req/s  p50 %-9s p99 %-9s errors %d  CPU/req client %s server %s  other CPU %.2f cores\n",
					r, t, c, res.rps(), fmtDur(res.pct(50)), fmtDur(res.pct(99)), res.errors,
					fmtDur(res.cpuPerReq(res.clientCPU)), fmtDur(res.cpuPerReq(res.serverCPU)), res.otherCores())
				if res.commits > 0 {
					fmt.Fprintf(os.Stderr, "  log commits %d (%.0f/s), %.2f requests per commit, %.1f KiB written to disk per request (%.1f MiB/s)\n",
						res.commits, float64(res.commits)/res.elapsed.Seconds(), float64(res.n)/float64(res.commits),
						res.kbPerReq(), float64(res.written)/(1<<20)/res.elapsed.Seconds())
				}
				if res.compactions > 0 {
					fmt.Fprintf(os.Stderr, "  the log was compacted during this point (commits not counted; the server's CPU includes writing the image)\n")
				}
				if res.logBytes > 0 {
					// write_bytes counts overwrites of the zeros the log
					// writes ahead oddly (far above the device's writes):
					// the log's own growth is the figure to read.
					fmt.Fprintf(os.Stderr, "  log grew %.0f bytes per request\n", float64(res.logBytes)/float64(res.n))
				}
				if res.errors > 0 {
					fmt.Fprintf(os.Stderr, "  first error: %v\n", res.firstErr)
				}
			}
		}
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	// Ratios against each ceiling, as "net/http / fasthttp".
	ratios := func(o, ce, cf result) (tput, p99 string) {
		return fmt.Sprintf("%.2f / %.2f", o.rps()/ce.rps(), o.rps()/cf.rps()),
			fmt.Sprintf("%.2f× / %.2f×", float64(o.pct(99))/float64(ce.pct(99)), float64(o.pct(99))/float64(cf.pct(99)))
	}
	fmt.Fprintln(tw, "round\ttarget\tconcurrency\trequests\terrors\treq/s\tp50\tp99\tthroughput vs ceilings (net/http / fasthttp)\tp99 vs ceilings\tclient CPU/req\tserver CPU/req\tother CPU (cores)\t")
	for r := 0; r < *rounds; r++ {
		for _, c := range concs {
			ce, cf, o := results[key{"ceiling", c}][r], results[key{"ceiling-fasthttp", c}][r], results[key{"openfront", c}][r]
			row(tw, strconv.Itoa(r+1), "ceiling", c, ce, "", "")
			row(tw, strconv.Itoa(r+1), "ceiling-fasthttp", c, cf, "", "")
			tput, p99 := ratios(o, ce, cf)
			row(tw, strconv.Itoa(r+1), "openfront", c, o, tput, p99)
			if ofm != nil {
				om := results[key{"openfront+metrics", c}][r]
				tput, p99 := ratios(om, ce, cf)
				row(tw, strconv.Itoa(r+1), "openfront+metrics", c, om, tput, p99)
			}
			for _, t := range []string{"openfront-postgres", "openfront-pg-2replicas"} {
				if rs := results[key{t, c}]; len(rs) > r {
					tput, p99 := ratios(rs[r], ce, cf)
					row(tw, strconv.Itoa(r+1), t, c, rs[r], tput, p99)
				}
			}
		}
	}
	tw.Flush()

	if *rounds > 1 {
		fmt.Println()
		fmt.Println("spread over rounds (min – median – max):")
		tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "target\tconcurrency\treq/s\tp50\tp99\tthroughput vs the stricter ceiling\tp99 vs the stricter ceiling")
		for _, c := range concs {
			for _, t := range targets {
				rs := results[key{t, c}]
				var rps, p50, p99, tr, pr []float64
				for i, x := range rs {
					rps = append(rps, x.rps())
					p50 = append(p50, float64(x.pct(50)))
					p99 = append(p99, float64(x.pct(99)))
					tv, pv := vsStricter(x, results[key{"ceiling", c}][i], results[key{"ceiling-fasthttp", c}][i])
					tr = append(tr, tv)
					pr = append(pr, pv)
				}
				ratios := "\t"
				if strings.HasPrefix(t, "openfront") {
					ratios = spread(tr, func(v float64) string { return fmt.Sprintf("%.2f", v) }) + "\t" +
						spread(pr, func(v float64) string { return fmt.Sprintf("%.2f×", v) })
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", t, c,
					spread(rps, func(v float64) string { return fmt.Sprintf("%.0f", v) }),
					spread(p50, func(v float64) string { return fmtDur(time.Duration(v)) }),
					spread(p99, func(v float64) string { return fmtDur(time.Duration(v)) }), ratios)
			}
		}
		tw.Flush()
	}

	if ofm != nil {
		fmt.Println()
		fmt.Println("cost of --metrics-addr: openfront+metrics req/s / openfront req/s, per round (the two measured in the same round, one after the other):")
		for _, c := range concs {
			var rs []string
			var vs []float64
			for i := range results[key{"openfront", c}] {
				v := results[key{"openfront+metrics", c}][i].rps() / results[key{"openfront", c}][i].rps()
				vs = append(vs, v)
				rs = append(rs, fmt.Sprintf("%.3f", v))
			}
			slices.Sort(vs)
			fmt.Printf("  concurrency %d: %s (median %.3f)\n", c, strings.Join(rs, " "), vs[len(vs)/2])
		}
	}

	hi := slices.Max(concs)
	var okT, okP int
	for i := range results[key{"openfront", hi}] {
		tv, pv := vsStricter(results[key{"openfront", hi}][i], results[key{"ceiling", hi}][i], results[key{"ceiling-fasthttp", hi}][i])
		if tv >= 0.8 {
			okT++
		}
		if pv <= 2 {
			okP++
		}
	}
	fmt.Printf("\ntarget at concurrency %d (throughput ≥ 0.80 × ceiling, p99 ≤ 2 × ceiling's, against both ceilings): throughput met in %d/%d rounds, p99 met in %d/%d rounds\n",
		hi, okT, *rounds, okP, *rounds)
	for _, t := range []string{"openfront-postgres", "openfront-pg-2replicas"} {
		if len(results[key{t, hi}]) == 0 {
			continue
		}
		okPG := 0
		var vs []string
		for i := range results[key{t, hi}] {
			tv, _ := vsStricter(results[key{t, hi}][i], results[key{"ceiling", hi}][i], results[key{"ceiling-fasthttp", hi}][i])
			vs = append(vs, fmt.Sprintf("%.2f", tv))
			if tv >= 0.4 {
				okPG++
			}
		}
		fmt.Printf("PostgreSQL target at concurrency %d (%s: throughput ≥ 0.40 × the stricter ceiling): met in %d/%d rounds (%s)\n",
			hi, t, okPG, *rounds, strings.Join(vs, " "))
	}
}

// vsStricter returns o's throughput and p99 as ratios to the stricter of
// the two ceilings of the same round: the lower throughput ratio and the
// higher p99 ratio.
func vsStricter(o, ce, cf result) (tput, p99 float64) {
	tput = min(o.rps()/ce.rps(), o.rps()/cf.rps())
	p99 = max(float64(o.pct(99))/float64(ce.pct(99)), float64(o.pct(99))/float64(cf.pct(99)))
	return tput, p99
}

func row(tw io.Writer, round, target string, c int, r result, tput, p99 string) {
	fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%.2f\t\n",
		round, target, c, r.n, r.errors, r.rps(), fmtDur(r.pct(50)), fmtDur(r.pct(99)), tput, p99,
		fmtDur(r.cpuPerReq(r.clientCPU)), fmtDur(r.cpuPerReq(r.serverCPU)), r.otherCores())
}

func spread(v []float64, f func(float64) string) string {
	s := slices.Clone(v)
	slices.Sort(s)
	return f(s[0]) + " – " + f(s[len(s)/2]) + " – " + f(s[len(s)-1])
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	}
}

func printMachine(bin string) {
	model := "unknown"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	fmt.Printf("machine: %d CPUs (NumCPU), GOMAXPROCS %d in every process, CPU %q, %s %s/%s\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), model, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if out, err := exec.Command("go", "version", "-m", bin).Output(); err == nil {
		first, _, _ := strings.Cut(string(out), "\n")
		fmt.Printf("openfront binary: %s\n", strings.TrimSpace(first))
	}
	fmt.Println("client and both servers share these CPUs; date", time.Now().UTC().Format(time.RFC3339))
	fmt.Println("other CPU = machine-wide busy CPU minus client and target server: kernel threads working for the target (block I/O, writeback), the idle other server, and anything else running")
}

// result is one measured point.
type result struct {
	n, errors int
	elapsed   time.Duration
	lat       []time.Duration // sorted
	firstErr  error

	// CPU time used during the point by the client (this process), the
	// target server, and the whole machine (all processes, both servers
	// and everything else running).
	clientCPU, serverCPU, machineCPU time.Duration
	// commits is the number of group commits openfront's store made
	// (frames of the log); 0 if unknown.
	commits int
	// logBytes is how much the log store's log grew (0 if it was
	// compacted during the point).
	logBytes int64
	// written is how many bytes the server wrote to the disk.
	written int64
	// compactions counts the measurements of the point during which the
	// log store compacted its log (a new file): the point's CPU then
	// includes writing the image.
	compactions int
}

// kbPerReq is the disk writes per successful request, in KiB.
func (r result) kbPerReq() float64 {
	if r.n == 0 {
		return 0
	}
	return float64(r.written) / 1024 / float64(r.n)
}

// cpuPerReq returns d per successful request.
func (r result) cpuPerReq(d time.Duration) time.Duration {
	if r.n == 0 {
		return 0
	}
	return d / time.Duration(r.n)
}

// otherCores is the average number of cores busy with work that is neither
// the client nor the target server: the other server when idle, and
// whatever else runs on the machine (noise).
func (r result) otherCores() float64 {
	return (r.machineCPU - r.clientCPU - r.serverCPU).Seconds() / r.elapsed.Seconds()
}

// cpuSnap is a reading of CPU and I/O counters.
type cpuSnap struct {
	self, server, machine time.Duration
	serverWritten         int64 // bytes the server sent to the storage layer (write_bytes of /proc/PID/io)
}

const tick = 10 * time.Millisecond // USER_HZ is 100 on Linux

// snapshot reads the counters, the server's summed over serverPIDs.
func snapshot(serverPIDs []int) cpuSnap {
	var s cpuSnap
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for _, serverPID := range serverPIDs {
		s.addServer(serverPID)
	}
	if data, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(data), "\n")
		f := strings.Fields(line)
		var busy int64
		for i, v := range f[1:] {
			n, _ := strconv.ParseInt(v, 10, 64)
			if i != 3 && i != 4 && i < 8 { // not idle, not iowait, not guest
				busy += n
			}
		}
		s.machine = time.Duration(busy) * tick
	}
	return s
}

// addServer adds the CPU time and the bytes written of the process pid to
// s's server figures.
func (s *cpuSnap) addServer(pid int) {
	if data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		// Fields after the command name, which ends with ')': state is
		// field 3, utime and stime are fields 14 and 15.
		if i := strings.LastIndexByte(string(data), ')'); i >= 0 {
			f := strings.Fields(string(data[i+1:]))
			if len(f) > 12 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				s.server += time.Duration(u+st) * tick
			}
		}
	}
	if data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, "write_bytes: "); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				s.serverWritten += n
			}
		}
	}
}

// add merges s, a later slice of the same point, into r; counted says
// the target's store commits are counted, so a slice that could not count
// them (the log was compacted during it) makes the point's count unknown.
// r.lat is left unsorted.
func (r *result) add(s result, counted bool) {
	r.n += s.n
	r.errors += s.errors
	r.elapsed += s.elapsed
	r.lat = append(r.lat, s.lat...)
	if r.firstErr == nil {
		r.firstErr = s.firstErr
	}
	r.clientCPU += s.clientCPU
	r.serverCPU += s.serverCPU
	r.machineCPU += s.machineCPU
	r.written += s.written
	r.compactions += s.compactions
	if counted && (r.commits == 0 || s.commits == 0) {
		r.commits, r.logBytes = 0, 0 // unknown for a slice: unknown for the point
		return
	}
	r.commits += s.commits
	r.logBytes += s.logBytes
}

// measure runs a point and records the CPU it cost (the servers' CPU is
// that of serverPIDs together) and, when dataDir is
// openfront's data directory, how many group commits its store made.
func measure(clients []*cf.Client, serverPIDs []int, dataDir string, conc int, d time.Duration) result {
	c0 := storeCommits(dataDir)
	before := snapshot(serverPIDs)
	r := run(clients, conc, d)
	after := snapshot(serverPIDs)
	if c1 := storeCommits(dataDir); c0.file == c1.file {
		r.commits = int(c1.n - c0.n)
		r.logBytes = c1.bytes - c0.bytes
	} else if c0.file != 0 && c1.file != 0 {
		r.compactions = 1
	}
	r.written = after.serverWritten - before.serverWritten
	r.clientCPU = after.self - before.self
	r.serverCPU = after.server - before.server
	r.machineCPU = after.machine - before.machine
	return r
}

// commitCount is a reading of the commits a store made, and the file it
// was read from: readings from two files (the log was compacted between
// them) cannot be compared.
type commitCount struct {
	n     uint64
	bytes int64  // the log's length
	file  uint64 // inode
}

// storeCommits reads how many group commits openfront's store in dataDir
// has made so far: the frames of its log (each one write and one
// fdatasync). Reading needs no lock.
func storeCommits(dataDir string) commitCount {
	if dataDir == "" {
		return commitCount{}
	}
	path := filepath.Join(dataDir, logstore.FileName)
	var c commitCount
	n, bytes := logFrames(path)
	c.bytes = bytes
	if fi, err := os.Stat(path); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			c.file = st.Ino
		}
	}
	c.n = n
	return c
}

// logFrames counts the frames of the log at path by walking their length
// prefixes (internal/store/logstore's format: a 36-byte header, then
// frames of an 8-byte header, length first, and the payload; zeros after
// the last), and returns the log's length.
func logFrames(path string) (n uint64, length int64) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	if _, err := r.Discard(36); err != nil {
		return 0, 0
	}
	length = 36
	var h [8]byte
	for {
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return n, length
		}
		size := int(binary.LittleEndian.Uint32(h[:4]))
		if size == 0 {
			return n, length
		}
		if _, err := r.Discard(size); err != nil {
			return n, length
		}
		n++
		length += 8 + int64(size)
	}
}

func (r result) rps() float64 { return float64(r.n) / r.elapsed.Seconds() }

// pct returns the p-th percentile latency (nearest rank).
func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(r.lat)))) - 1
	return r.lat[max(0, min(i, len(r.lat)-1))]
}

var refSeq atomic.Uint64
var runID = strconv.FormatInt(time.Now().UnixNano(), 36)

// run keeps conc requests in flight for d and measures each one; the
// requests of worker w go to clients[w % len(clients)].
func run(clients []*cf.Client, conc int, d time.Duration) result {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		all      []time.Duration
		errs     int
		firstErr error
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := 0; w < conc; w++ {
		wg.Add(1)
		client := clients[w%len(clients)]
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			var nerr int
			var ferr error
			for {
				t0 := time.Now()
				if !t0.Before(deadline) {
					break
				}
				ref := runID + "-" + strconv.FormatUint(refSeq.Add(1), 10)
				_, err := client.CreateInvalidation(context.Background(), &cf.CreateInvalidationInput{
					DistributionId: aws.String(distID),
					InvalidationBatch: &types.InvalidationBatch{
						CallerReference: aws.String(ref),
						Paths:           &types.Paths{Quantity: aws.Int32(1), Items: []string{"/images/" + ref + ".png"}},
					},
				})
				if err != nil {
					nerr++
					if ferr == nil {
						ferr = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			all = append(all, lat...)
			errs += nerr
			if firstErr == nil {
				firstErr = ferr
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start) // includes the tail of requests begun before the deadline
	slices.Sort(all)
	return result{n: len(all), errors: errs, elapsed: elapsed, lat: all, firstErr: firstErr}
}

func newClient(hc *http.Client, url string) *cf.Client {
	return cf.New(cf.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(keyID, keySecret, ""),
		HTTPClient:       hc,
		BaseEndpoint:     aws.String(url),
		RetryMaxAttempts: 1, // every failure is counted, none hidden by a retry
	})
}

// proc is a server child process.
type proc struct {
	name string
	cmd  *exec.Cmd
	url  string
	done chan struct{}
}

func start(name, banner string, env []string, bin string, args ...string) *proc {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	dieWithParent(cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		fatalf("%v", err)
	}
	if err := cmd.Start(); err != nil {
		fatalf("starting %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), banner); ok {
				select {
				case urlc <- strings.TrimSpace(u):
				default:
				}
			}
		}
	}()
	go func() { cmd.Wait(); close(p.done) }()
	select {
	case p.url = <-urlc:
	case <-p.done:
		fatalf("%s exited before listening", name)
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		fatalf("%s did not start listening", name)
	}
	return p
}

// stop sends SIGTERM and waits for the process to exit.
func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "createinv: "+format+"\n", args...)
	os.Exit(1)
}

// nothingBody is a valid CreateInvalidation answer, so the SDK deserializes
// the ceiling's responses exactly as it does openfront's.
const nothingBody = `<?xml version="1.0"?>
<Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>I2J0I21PCUYOIK</Id><Status>InProgress</Status><CreateTime>2024-01-01T00:00:00.000Z</CreateTime><InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/images/ceiling.png</Path></Items></Paths><CallerReference>ceiling</CallerReference></InvalidationBatch></Invalidation>`

// serveNothing answers every request 201 after reading its body.
func serveNothing() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("%v", err)
	}
	base := "http://" + ln.Addr().String()
	length := strconv.Itoa(len(nothingBody))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		hd := w.Header()
		hd.Set("x-amz-request-id", "00000000-0000-4000-8000-000000000000")
		hd.Set("Location", base+"/2020-05-31/distribution/"+distID+"/invalidation/I2J0I21PCUYOIK")
		hd.Set("Content-Type", "text/xml")
		hd.Set("Content-Length", length)
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, nothingBody)
	})
	serveUntilSignal(ln, h, ceilingBanner+base)
}

// serveNothingFastHTTP answers every request as serveNothing does, with
// fasthttp (the HTTP stack of openfront's listeners).
func serveNothingFastHTTP() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("%v", err)
	}
	base := "http://" + ln.Addr().String()
	location := base + "/2020-05-31/distribution/" + distID + "/invalidation/I2J0I21PCUYOIK"
	srv := &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			h := &ctx.Response.Header
			h.Set("x-amz-request-id", "00000000-0000-4000-8000-000000000000")
			h.Set("Location", location)
			h.SetContentType("text/xml")
			ctx.SetStatusCode(http.StatusCreated)
			ctx.SetBodyString(nothingBody)
		},
		ReadTimeout:           10 * time.Second,
		IdleTimeout:           2 * time.Minute,
		NoDefaultServerHeader: true,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Println(ceilingBanner + base)
	select {
	case err := <-errc:
		if err != nil {
			fatalf("%v", err)
		}
	case <-ctx.Done():
	}
	srv.ShutdownWithContext(context.Background())
}

func serveUntilSignal(ln net.Listener, h http.Handler, banner string) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Println(banner)
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			fatalf("%v", err)
		}
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
}

// perfRecording is a running `perf record` of one process.
type perfRecording struct {
	dir, data string
	cmd       *exec.Cmd
}

// startPerf records pid with call graphs for d (perf stops by itself).
func startPerf(dir string, pid int, d time.Duration) *perfRecording {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fatalf("%v", err)
	}
	data := filepath.Join(dir, "openfront.perf.data")
	cmd := exec.Command("perf", "record", "-F", "499", "-g", "-p", strconv.Itoa(pid), "-o", data,
		"--", "sleep", strconv.FormatFloat(d.Seconds(), 'f', 1, 64))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "perf: %v (is perf installed?)\n", err)
		return nil
	}
	return &perfRecording{dir: dir, data: data, cmd: cmd}
}

// finish waits for perf and writes two reports next to the data: where
// the CPU went by function (self) and by caller (children).
func (p *perfRecording) finish(bin string) {
	if err := p.cmd.Wait(); err != nil {
		fmt.Fprintf(os.Stderr, "perf record: %v\n", err)
		return
	}
	for _, rep := range []struct {
		file string
		args []string
	}{
		{"self.txt", []string{"--no-children", "--sort", "symbol", "-g", "none", "--percent-limit", "0.3"}},
		{"children.txt", []string{"--children", "--sort", "symbol", "-g", "none", "--percent-limit", "1"}},
	} {
		out, err := exec.Command("perf", append([]string{"report", "-i", p.data, "--stdio"}, rep.args...)...).Output()
		if err != nil {
			fmt.Fprintf(os.Stderr, "perf report: %v\n", err)
			return
		}
		os.WriteFile(filepath.Join(p.dir, rep.file), out, 0o644)
	}
	fmt.Fprintf(os.Stderr, "  perf: %s, reports %s and %s\n", p.data,
		filepath.Join(p.dir, "self.txt"), filepath.Join(p.dir, "children.txt"))
}
