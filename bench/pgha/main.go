// Command pgha measures openfront on PostgreSQL (`make bench-ha`): it
// starts a PostgreSQL server of its own (the machine's initdb and
// postgres, fsync on, in a temporary directory; internal/testutil/pgtest),
// then
//
//  1. runs bench/createinv with -postgres-url: CreateInvalidation through
//     `openfront serve --postgres-url` (one replica, and two replicas on
//     another database sharing the load) beside the same binary on the
//     log store and the do-nothing ceilings, in the same run;
//  2. stores -rows invalidations in another database with one bulk
//     INSERT (not through the API), and reports openfront's start-up time
//     and resident memory (RSS) on it beside the same on an empty
//     database: whether the control plane's memory grows with the number
//     of invalidations stored.
//
// Figures only, no pass/fail; docs/benchmarks.md records them.
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
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openfront/openfront/internal/store/postgres"
	"github.com/openfront/openfront/internal/testutil/pgtest"
)

const distID = "EBENCHDIST0001"

func main() {
	var (
		bin       = flag.String("bin", "bin/openfront", "openfront binary")
		createinv = flag.String("createinv", "bin/createinv", "bench/createinv binary")
		args      = flag.String("createinv-args", "-conc 16 -duration 10s -rounds 3", "flags for createinv (space-separated)")
		rows      = flag.Int("rows", 1_000_000, "invalidations stored for the start-up and memory figures")
		skipTput  = flag.Bool("skip-throughput", false, "only the start-up and memory figures")
	)
	flag.Parse()
	srv, err := pgtest.StartServer(true)
	if err != nil {
		fatalf("starting PostgreSQL: %v", err)
	}
	defer srv.Stop()
	ctx := context.Background()
	var version string
	if out, err := exec.Command("postgres", "--version").Output(); err == nil {
		version = strings.TrimSpace(string(out))
	}
	fmt.Printf("PostgreSQL: %s, own server (fsync on, synchronous_commit on, shared_buffers 128MB), unix socket\n\n", version)

	if !*skipTput {
		url, err := srv.CreateDatabase(ctx, "bench_throughput")
		if err != nil {
			fatalf("%v", err)
		}
		pairURL, err := srv.CreateDatabase(ctx, "bench_pair")
		if err != nil {
			fatalf("%v", err)
		}
		cmd := exec.Command(*createinv, append([]string{"-bin", *bin, "-postgres-url", url, "-postgres-pair-url", pairURL}, strings.Fields(*args)...)...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			fatalf("createinv: %v", err)
		}
		fmt.Println()
	}

	tmp, err := os.MkdirTemp("", "openfront-pgha-")
	if err != nil {
		fatalf("%v", err)
	}
	defer os.RemoveAll(tmp)
	cfg := filepath.Join(tmp, "openfront.yaml")
	if err := os.WriteFile(cfg, []byte("distributions:\n  - id: "+distID+"\n    origin: http://127.0.0.1:9\n"), 0o600); err != nil {
		fatalf("%v", err)
	}
	empty, err := srv.CreateDatabase(ctx, "bench_empty")
	if err != nil {
		fatalf("%v", err)
	}
	full, err := srv.CreateDatabase(ctx, "bench_full")
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
	start := time.Now()
	if err := fill(ctx, full, *rows); err != nil {
		fatalf("bulk insert: %v", err)
	}
	fmt.Printf("stored %d invalidations (Completed, one path each; paths encoded as the store does) with one INSERT in %v\n", *rows, time.Since(start).Round(time.Millisecond))
	fmt.Printf("%-24s %12s %14s %14s %16s\n", "database", "start-up", "RSS at start", "RSS after list", "first list page")
	for _, c := range []struct{ name, url string }{{"empty", empty}, {fmt.Sprintf("%d invalidations", *rows), full}} {
		measure(*bin, cfg, tmp, c.name, c.url)
	}
}

// fill stores n Completed invalidations of distID: Ids shaped like
// CloudFront's, distinct CallerReferences, one path each.
func fill(ctx context.Context, url string, n int) error {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	now := time.Now().Add(-24 * time.Hour).UnixNano()
	_, err = c.Exec(ctx, `INSERT INTO invalidations (distribution_id, id, seq, caller_reference, ref_hash, in_progress,
			create_time, complete_time, paths, file_paths, wildcard_paths)
		SELECT $1, 'I' || lpad(upper(to_hex(g)), 13, '0'), g, convert_to('bulk-' || g, 'UTF8'),
			sha256(convert_to('bulk-' || g, 'UTF8')), false, $2::bigint + g * 1000, $2::bigint + g * 1000 + 1000000,
			set_byte('\x00'::bytea, 0, length('/bulk/' || g)) || convert_to('/bulk/' || g, 'UTF8'), 1, 0
		FROM generate_series(1::bigint, $3::bigint) AS g`, distID, now, n)
	if err != nil {
		return err
	}
	_, err = c.Exec(ctx, `SELECT setval('invalidation_seq', $1); ANALYZE invalidations`, n)
	if err != nil && strings.Contains(err.Error(), "multiple") {
		if _, err = c.Exec(ctx, `SELECT setval('invalidation_seq', $1)`, n); err == nil {
			_, err = c.Exec(ctx, `ANALYZE invalidations`)
		}
	}
	return err
}

// measure starts openfront on url, reports how long it took to listen and
// its RSS, lists the newest page of invalidations, reports the RSS again
// and stops it.
func measure(bin, cfg, dir, name, url string) {
	cmd := exec.Command(bin, "serve", "--config", cfg, "--data-dir", filepath.Join(dir, "unused"),
		"--api-addr", "127.0.0.1:0", "--edge-addr", "127.0.0.1:0", "--log-level", "error")
	cmd.Env = append(os.Environ(), "OPENFRONT_POSTGRES_URL="+url)
	out, err := cmd.StdoutPipe()
	if err != nil {
		fatalf("%v", err)
	}
	cmd.Stderr = os.Stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		fatalf("%v", err)
	}
	defer func() {
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
		fatalf("openfront did not start on %s", name)
	}
	up := time.Since(t0)
	go io.Copy(io.Discard, out)
	rssStart := rss(cmd.Process.Pid)
	t1 := time.Now()
	resp, err := http.Get(api + "/2020-05-31/distribution/" + distID + "/invalidation?MaxItems=100")
	if err != nil {
		fatalf("list: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	list := time.Since(t1)
	if resp.StatusCode != 200 {
		fatalf("list: %d %s", resp.StatusCode, body)
	}
	fmt.Printf("%-24s %12v %11.1f MiB %11.1f MiB %16v\n", name, up.Round(time.Millisecond),
		float64(rssStart)/(1<<20), float64(rss(cmd.Process.Pid))/(1<<20), list.Round(time.Microsecond))
}

// rss reads a process's resident set size in bytes.
func rss(pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pgha: "+format+"\n", args...)
	os.Exit(1)
}
