package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudfront"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudfront/types"

	"github.com/openfront/openfront/internal/store/boltmigrate"
	"github.com/openfront/openfront/internal/store/logstore"
	"github.com/openfront/openfront/internal/testutil"
)

// TestCrashUnderLoad kills the server with SIGKILL while 16 clients create
// invalidations, restarts it on the same data, and checks that every
// invalidation acknowledged with a 201 is there, replays to the same Id,
// and still goes on to complete. It runs on a new data directory and on
// one holding the bbolt file of an earlier openfront, which is migrated to
// the log store at the first start.
func TestCrashUnderLoad(t *testing.T) {
	t.Run("log", func(t *testing.T) {
		s := crashUnderLoad(t, t.TempDir())
		if !s.logged("kind=log") {
			t.Errorf("the default store is not the log store:\n%s", s.stderr)
		}
		if _, err := os.Stat(filepath.Join(s.DataDir, logstore.FileName)); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(filepath.Join(s.DataDir, boltmigrate.FileName)); !os.IsNotExist(err) {
			t.Errorf("the log store left a bbolt file: %v", err)
		}
	})
	t.Run("bbolt", func(t *testing.T) {
		// A data directory of an earlier openfront: its bbolt file, as
		// internal/store/bolt wrote it, with two InProgress invalidations
		// of distID.
		dir := t.TempDir()
		fixture, err := os.ReadFile("../internal/store/boltmigrate/testdata/current.db")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, boltmigrate.FileName), fixture, 0o600); err != nil {
			t.Fatal(err)
		}
		s := crashUnderLoad(t, dir)
		if !s.logged("kind=log") {
			t.Errorf("the bbolt file was not migrated to the log store:\n%s", s.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, boltmigrate.FileName)); !os.IsNotExist(err) {
			t.Errorf("the bbolt file is still in use: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, boltmigrate.BackupName, boltmigrate.FileName)); err != nil {
			t.Errorf("the bbolt file was not kept aside: %v", err)
		}
		// The earlier openfront's invalidations, through the API: their
		// Ids and references, replays, and completion once resumed.
		c := s.client("", "")
		w := cloudfront.NewInvalidationCompletedWaiter(c, func(o *cloudfront.InvalidationCompletedWaiterOptions) {
			o.MinDelay, o.MaxDelay = 200*time.Millisecond, 500*time.Millisecond
		})
		for id, ref := range map[string]string{"IHCXJOB7T46JWL": "file-2", "IBZRPOX4CCQ67X": "file-1"} {
			g, err := c.GetInvalidation(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(distID), Id: aws.String(id)})
			if err != nil {
				t.Fatalf("migrated invalidation %s: %v", id, err)
			}
			if got := *g.Invalidation.InvalidationBatch.CallerReference; got != ref {
				t.Errorf("migrated invalidation %s has CallerReference %q, want %q", id, got, ref)
			}
			out, err := c.CreateInvalidation(ctx(t), &cloudfront.CreateInvalidationInput{DistributionId: aws.String(distID),
				InvalidationBatch: &cftypes.InvalidationBatch{CallerReference: aws.String(ref), Paths: g.Invalidation.InvalidationBatch.Paths}})
			if err != nil || *out.Invalidation.Id != id {
				t.Errorf("replay of migrated %s: %v %v", ref, err, out)
			}
			if err := w.Wait(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(distID), Id: aws.String(id)}, time.Minute); err != nil {
				t.Errorf("migrated %s never completed: %v", id, err)
			}
		}
	})
}

func crashUnderLoad(t *testing.T, dataDir string) *server {
	s := startServer(t, options{
		config:  defaultConfig + "limits:\n  max_in_progress_file_paths: 1000000\n",
		args:    []string{"--invalidation-delay", "3s"},
		dataDir: dataDir,
	})
	c := s.client("", "")
	type acked struct{ ref, id, path string }
	var (
		mu   sync.Mutex
		acks []acked
		seq  atomic.Int64
		wg   sync.WaitGroup
	)
	loadCtx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for loadCtx.Err() == nil {
				n := seq.Add(1)
				ref, path := fmt.Sprintf("crash-%d", n), fmt.Sprintf("/crash/%d.html", n)
				out, err := c.CreateInvalidation(loadCtx, &cloudfront.CreateInvalidationInput{DistributionId: aws.String(distID), InvalidationBatch: batch(ref, path)})
				if err != nil {
					continue // not acknowledged: may or may not exist
				}
				mu.Lock()
				acks = append(acks, acked{ref, *out.Invalidation.Id, path})
				mu.Unlock()
			}
		}()
	}
	// Let load build up, then kill in the middle of it.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(acks)
		mu.Unlock()
		if n >= 300 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.kill()
	stopLoad()
	wg.Wait()
	if len(acks) < 50 {
		t.Fatalf("only %d creates acknowledged before the kill", len(acks))
	}
	t.Logf("%d creates acknowledged, %d attempted, before SIGKILL", len(acks), seq.Load())

	s.restart()
	c = s.client("", "")
	inProgress := 0
	for _, a := range acks {
		g, err := c.GetInvalidation(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(distID), Id: aws.String(a.id)})
		if err != nil {
			t.Fatalf("acknowledged invalidation %s (%s) lost: %v", a.id, a.ref, err)
		}
		b := g.Invalidation.InvalidationBatch
		if *b.CallerReference != a.ref || !slices.Equal(b.Paths.Items, []string{a.path}) {
			t.Fatalf("invalidation %s came back as %+v", a.id, b)
		}
		if *g.Invalidation.Status == "InProgress" {
			inProgress++
		}
		out, err := c.CreateInvalidation(ctx(t), &cloudfront.CreateInvalidationInput{DistributionId: aws.String(distID), InvalidationBatch: batch(a.ref, a.path)})
		if err != nil || *out.Invalidation.Id != a.id {
			t.Fatalf("replay of %s: %v %v", a.ref, err, out)
		}
	}
	t.Logf("after restart: all %d present, %d still InProgress", len(acks), inProgress)
	// Those left InProgress go on to complete.
	w := cloudfront.NewInvalidationCompletedWaiter(c, func(o *cloudfront.InvalidationCompletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, 500*time.Millisecond
	})
	for _, a := range []acked{acks[0], acks[len(acks)/2], acks[len(acks)-1]} {
		if err := w.Wait(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(distID), Id: aws.String(a.id)}, time.Minute); err != nil {
			t.Errorf("%s never completed after restart: %v", a.id, err)
		}
	}
	return s
}

// TestGracefulShutdown sends SIGTERM while requests are in flight: they
// finish, the process exits 0, and the store opens cleanly again.
func TestGracefulShutdown(t *testing.T) {
	s := startServer(t, options{args: []string{"--invalidation-delay", "1h"}})
	c := s.client("", "")
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[string]bool{} // Ids of the acknowledged invalidations; guarded by mu
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 200 {
				out, err := create(t, c, distID, batch(fmt.Sprintf("g-%d-%d", i, j), fmt.Sprintf("/g/%d/%d", i, j)))
				if err != nil {
					return // the listener is closed: stop
				}
				mu.Lock()
				acked[*out.Invalidation.Id] = true
				mu.Unlock()
			}
		}()
	}
	// SIGTERM in the middle of the load: once creates are being acknowledged.
	testutil.Eventually(t, 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 20
	}, "creates to be acknowledged before SIGTERM")
	if err := s.stop(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, s.stderr)
	}
	wg.Wait()
	if !s.logged("stopped") {
		t.Errorf("no clean stop logged:\n%s", s.stderr)
	}
	s.restart()
	// Every page: how many get acknowledged in the 300 ms depends on the
	// machine, and may be over ListInvalidations' 1,000 per page.
	found := map[string]bool{}
	p := cloudfront.NewListInvalidationsPaginator(s.client("", ""), &cloudfront.ListInvalidationsInput{DistributionId: aws.String(distID), MaxItems: aws.Int32(1000)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.InvalidationList.Items {
			found[*it.Id] = true
		}
	}
	missing := 0
	for id := range acked {
		if !found[id] {
			missing++
		}
	}
	if len(acked) == 0 || missing > 0 {
		t.Errorf("%d acknowledged before SIGTERM, %d of them missing after restart (%d listed)", len(acked), missing, len(found))
	}
}

func TestBadConfigStopsStartup(t *testing.T) {
	cases := map[string]string{
		"syntax":       "distributions:\n  - id: E1\n    origin: \"unclosed\n",
		"duplicate id": "distributions:\n  - id: EAAA\n    origin: http://a\n  - id: EAAA\n    origin: http://b\n",
		"bad url":      "distributions:\n  - id: EAAA\n    origin: ftp://x\n",
		"unknown key":  "distributions:\n  - id: EAAA\n    origin: http://a\n    orign: http://b\n",
	}
	wantLine := map[string]string{"syntax": "line 3", "duplicate id": "line 4", "bad url": "line 2", "unknown key": "line 4"}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.yaml")
			os.WriteFile(path, []byte(cfg), 0o600)
			out, err := exec.Command(binary, "serve", "--config", path, "--api-addr", "127.0.0.1:0", "--edge-addr", "127.0.0.1:0", "--data-dir", t.TempDir()).CombinedOutput()
			if err == nil {
				t.Fatalf("started with a bad config:\n%s", out)
			}
			if !strings.Contains(string(out), wantLine[name]) || !strings.Contains(string(out), path) {
				t.Errorf("message does not name %s of %s:\n%s", wantLine[name], path, out)
			}
		})
	}
}

func TestMemoryMode(t *testing.T) {
	s := startServer(t, options{args: []string{"--memory"}})
	c := s.client("", "")
	out, err := create(t, c, distID, batch("m", "/m"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{boltmigrate.FileName, logstore.FileName} {
		if _, err := os.Stat(filepath.Join(s.DataDir, name)); !os.IsNotExist(err) {
			t.Errorf("memory mode wrote a store file: %v", err)
		}
	}
	s.kill()
	s.restart()
	_, err = s.client("", "").GetInvalidation(ctx(t), &cloudfront.GetInvalidationInput{DistributionId: aws.String(distID), Id: out.Invalidation.Id})
	expectErr(t, err, "NoSuchInvalidation", 404)
}
