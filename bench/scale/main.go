// Command scale measures what `openfront serve` costs with many
// invalidations stored (`make bench-scale`): on each backend it stores -n
// Completed invalidations (default 1,000,000, spread over -dists
// distributions) through a bulk path, not the API, then starts `openfront
// serve` on them and reports
//
//   - the start-up time: process start until the API answers (a
//     GetInvalidation of an unknown Id, 404);
//   - VmRSS and VmHWM (/proc/PID/status) once started, after a
//     ListInvalidations page (100 items) and after a GetInvalidation of an
//     old invalidation.
//
// The log store (--data-dir) is filled with logstore.Create from 128
// goroutines, as serve opens it (each create logs its fleet event; the
// events are then trimmed to the newest 100,000, as the hub keeps them),
// and reopened once so that the log is compacted as a running server's
// would be. It is measured with the default retention (every invalidation
// kept), then with -count-retention per distribution (the first start
// forgets the rest and compacts, the second starts on the compacted log).
// PostgreSQL (a server of its own, internal/testutil/pgtest, fsync on)
// is filled with one INSERT … SELECT FROM generate_series.
//
// Everything is in one temporary directory, removed at the end. Figures
// only, no pass/fail; docs/benchmarks.md records them.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/logstore"
	"github.com/openfront/openfront/internal/store/postgres"
	"github.com/openfront/openfront/internal/testutil/pgtest"
)

func main() {
	var (
		bin      = flag.String("bin", "bin/openfront", "openfront binary")
		n        = flag.Int("n", 1_000_000, "invalidations stored")
		dists    = flag.Int("dists", 10, "distributions they are spread over")
		count    = flag.Int("count-retention", 1000, "invalidation_retention_count of the bounded log-store run")
		skipLog  = flag.Bool("skip-log", false, "skip the log store")
		skipPG   = flag.Bool("skip-postgres", false, "skip PostgreSQL")
		keepTemp = flag.Bool("keep", false, "keep the temporary directory (its path is printed)")
	)
	flag.Parse()
	tmp, err := os.MkdirTemp("", "openfront-scale-")
	if err != nil {
		fatalf("%v", err)
	}
	if *keepTemp {
		fmt.Println("temporary directory:", tmp)
	} else {
		cleanup = func() { os.RemoveAll(tmp) }
		defer os.RemoveAll(tmp)
	}
	ids := make([]string, *dists)
	var cfg strings.Builder
	cfg.WriteString("distributions:\n")
	for i := range ids {
		ids[i] = fmt.Sprintf("EBENCHSCALE%03d", i)
		fmt.Fprintf(&cfg, "  - id: %s\n    origin: http://127.0.0.1:9\n", ids[i])
	}
	cfgPath := filepath.Join(tmp, "openfront.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		fatalf("%v", err)
	}
	fmt.Printf("%d invalidations, Completed, one path each, over %d distributions\n\n", *n, *dists)
	fmt.Printf("%-34s %10s %11s %11s %11s %11s %11s\n", "backend, run", "start-up", "RSS start", "HWM start", "RSS list", "RSS get", "HWM end")

	if !*skipLog {
		empty := filepath.Join(tmp, "log-empty")
		measure(*bin, cfgPath, ids[0], "", "log store, empty", []string{"--data-dir", empty}, nil)
		dir := filepath.Join(tmp, "log")
		start := time.Now()
		old, young := fillLog(dir, ids, *n)
		size := fileSize(filepath.Join(dir, logstore.FileName))
		fmt.Printf("  (filled in %v; log %.0f MiB)\n", time.Since(start).Round(time.Second), float64(size)/(1<<20))
		args := []string{"--data-dir", dir}
		measure(*bin, cfgPath, ids[0], old, "log store, all kept (defaults)", args, nil)
		bounded := append(args, "--invalidation-retention-count", strconv.Itoa(*count))
		measure(*bin, cfgPath, ids[0], young, fmt.Sprintf("log store, count %d, 1st start", *count), bounded, nil)
		measure(*bin, cfgPath, ids[0], young, fmt.Sprintf("log store, count %d, 2nd start", *count), bounded, nil)
		fmt.Printf("  (log after compaction %.1f MiB)\n", float64(fileSize(filepath.Join(dir, logstore.FileName)))/(1<<20))
		os.RemoveAll(dir)
		os.RemoveAll(empty)
	}
	if !*skipPG {
		srv, err := pgtest.StartServer(true)
		if err != nil {
			fatalf("starting PostgreSQL: %v", err)
		}
		defer srv.Stop()
		prev := cleanup
		cleanup = func() { srv.Stop(); prev() }
		ctx := context.Background()
		empty, err := srv.CreateDatabase(ctx, "scale_empty")
		if err != nil {
			fatalf("%v", err)
		}
		full, err := srv.CreateDatabase(ctx, "scale_full")
		if err != nil {
			fatalf("%v", err)
		}
		for _, u := range []string{empty, full} {
			s, err := postgres.Open(ctx, u, postgres.WithLogger(slog.New(slog.DiscardHandler))) // the schema
			if err != nil {
				fatalf("%v", err)
			}
			s.Close()
		}
		noData := []string{"--data-dir", filepath.Join(tmp, "unused")}
		measure(*bin, cfgPath, ids[0], "", "PostgreSQL, empty", noData, []string{"OPENFRONT_POSTGRES_URL=" + empty})
		start := time.Now()
		old, err := fillPG(ctx, full, ids, *n)
		if err != nil {
			fatalf("bulk insert: %v", err)
		}
		fmt.Printf("  (filled in %v)\n", time.Since(start).Round(time.Second))
		measure(*bin, cfgPath, ids[0], old, "PostgreSQL, all kept", noData, []string{"OPENFRONT_POSTGRES_URL=" + full})
	}
}

// fillLog stores n Completed invalidations in a log store in dir, as serve
// would have, and returns the Ids of the oldest and the newest of ids[0].
func fillLog(dir string, ids []string, n int) (oldest, newest string) {
	s, err := logstore.Open(dir, logstore.WithInvalidationEvent(fleet.InvalidationEvent),
		logstore.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		fatalf("%v", err)
	}
	ctx := context.Background()
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Millisecond)
	var next atomic.Int64
	lastOf0 := int64((n - 1) / len(ids) * len(ids))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 128 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				at := base.Add(time.Duration(i) * time.Microsecond)
				inv := invalidation.Invalidation{DistributionID: ids[int(i)%len(ids)], Status: invalidation.Completed,
					CreateTime: at, CompleteTime: at.Add(time.Second),
					Batch: invalidation.Batch{CallerReference: "bulk-" + strconv.FormatInt(i, 10), Paths: []string{"/bulk/" + strconv.FormatInt(i, 10)}}}
				got, _, err := s.Create(ctx, inv, func(invalidation.Usage) error { return nil })
				if err != nil {
					fatalf("create: %v", err)
				}
				if i == 0 || i == lastOf0 {
					mu.Lock()
					if i == 0 {
						oldest = got.ID
					} else {
						newest = got.ID
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	// The hub keeps the newest 100,000 events.
	if _, last, err := s.LogBounds(ctx); err == nil && last > 100_000 {
		if err := s.TrimEvents(ctx, last-100_000+1); err != nil {
			fatalf("trim: %v", err)
		}
	}
	s.Close()
	s, err = logstore.Open(dir, logstore.WithLogger(slog.New(slog.DiscardHandler))) // compacts
	if err != nil {
		fatalf("%v", err)
	}
	s.Close()
	return oldest, newest
}

// fillPG stores n Completed invalidations over ids with one statement and
// returns the Id of the oldest one of ids[0].
func fillPG(ctx context.Context, url string, ids []string, n int) (string, error) {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	now := time.Now().Add(-2 * time.Hour).UnixNano()
	_, err = c.Exec(ctx, `INSERT INTO invalidations (distribution_id, id, seq, caller_reference, ref_hash, in_progress,
			create_time, complete_time, paths, file_paths, wildcard_paths)
		SELECT ($1::text[])[1 + (g % cardinality($1::text[]))], 'I' || lpad(upper(to_hex(g)), 13, '0'), g,
			convert_to('bulk-' || g, 'UTF8'), sha256(convert_to('bulk-' || g, 'UTF8')), false,
			$2::bigint + g * 1000, $2::bigint + g * 1000 + 1000000000,
			set_byte('\x00'::bytea, 0, length('/bulk/' || g)) || convert_to('/bulk/' || g, 'UTF8'), 1, 0
		FROM generate_series(0::bigint, $3::bigint - 1) AS g`, ids, now, n)
	if err != nil {
		return "", err
	}
	if _, err = c.Exec(ctx, `SELECT setval('invalidation_seq', $1)`, n); err != nil {
		return "", err
	}
	if _, err = c.Exec(ctx, `ANALYZE invalidations`); err != nil {
		return "", err
	}
	return "I" + fmt.Sprintf("%013X", 0), nil
}

// measure starts openfront serve with args and env, and prints its
// start-up time and memory at start, after a list and after a get of
// getID (none when empty) of dist.
func measure(bin, cfg, dist, getID, name string, args, env []string) {
	cmd := exec.Command(bin, append([]string{"serve", "--config", cfg, "--api-addr", "127.0.0.1:0",
		"--edge-addr", "127.0.0.1:0", "--log-level", "error"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		fatalf("%v", err)
	}
	cmd.Stderr = os.Stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		fatalf("%v", err)
	}
	child.Store(cmd.Process)
	defer func() {
		child.Store(nil)
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	sc := bufio.NewScanner(out)
	var api string
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "openfront API listening on "); ok {
			api = u
			break
		}
	}
	if api == "" {
		fatalf("openfront did not start (%s)", name)
	}
	go io.Copy(io.Discard, out)
	base := api + "/2020-05-31/distribution/" + dist + "/invalidation"
	get(base+"/INOSUCHINVALID", 404)
	up := time.Since(t0)
	pid := cmd.Process.Pid
	rssStart, hwmStart := mem(pid)
	get(base+"?MaxItems=100", 200)
	rssList, _ := mem(pid)
	rssGet := rssList
	if getID != "" {
		get(base+"/"+getID, 200)
		rssGet, _ = mem(pid)
	}
	_, hwm := mem(pid)
	mib := func(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
	fmt.Printf("%-34s %10v %11s %11s %11s %11s %11s\n", name, up.Round(time.Millisecond),
		mib(rssStart), mib(hwmStart), mib(rssList), mib(rssGet), mib(hwm))
}

// get asks url and fails unless it answers want.
func get(url string, want int) {
	resp, err := http.Get(url)
	if err != nil {
		fatalf("GET %s: %v", url, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		fatalf("GET %s: %d %s, want %d", url, resp.StatusCode, body, want)
	}
}

// mem reads a process's VmRSS and VmHWM in bytes.
func mem(pid int) (rss, hwm int64) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0
	}
	for l := range strings.SplitSeq(string(data), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			hwm = kb << 10
		}
	}
	return rss, hwm
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// child is the openfront running, stopped by fatalf.
var child atomic.Pointer[os.Process]

// cleanup, set by main, removes the temporary directory and stops
// PostgreSQL.
var cleanup = func() {}

func fatalf(format string, args ...any) {
	if p := child.Load(); p != nil {
		p.Kill()
		p.Wait()
	}
	cleanup()
	fmt.Fprintf(os.Stderr, "scale: "+format+"\n", args...)
	os.Exit(1)
}
