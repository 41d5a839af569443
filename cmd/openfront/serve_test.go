package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openfront/openfront/internal/config"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/memory"
)

// fakeFleet records when each invalidation reached the fleet; those whose
// CallerReference is "fail" fail.
type fakeFleet struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (f *fakeFleet) Apply(ctx context.Context, inv invalidation.Invalidation) error {
	var err error
	f.ApplyAll(ctx, []invalidation.Invalidation{inv}, func(_ int, e error) { err = e })
	return err
}

func (f *fakeFleet) ApplyAll(ctx context.Context, invs []invalidation.Invalidation, done func(int, error)) {
	f.mu.Lock()
	for _, inv := range invs {
		f.at[inv.Batch.CallerReference] = time.Now()
	}
	f.mu.Unlock()
	for i, inv := range invs {
		if inv.Batch.CallerReference == "fail" {
			done(i, errors.New("fleet down"))
		} else {
			done(i, nil)
		}
	}
}

type oneDist struct{}

func (oneDist) Exists(id string) bool            { return id == "E1" }
func (oneDist) Acquire(id string) (func(), bool) { return func() {}, id == "E1" }

// applyThenDelay sends each invalidation to the fleet when it is created,
// and completes it --invalidation-delay after its CreateTime: a later one
// neither reaches the fleet nor completes behind an earlier one's delay.
func TestApplyThenDelayPerInvalidation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fleet := &fakeFleet{at: map[string]time.Time{}}
		svc := invalidation.NewService(invalidation.Config{Store: memory.New(), Distributions: oneDist{},
			Applier: applyThenDelay{fleet, invalidation.DelayApplier{Delay: time.Minute}}, Logger: slog.New(slog.DiscardHandler)})
		defer svc.Close()
		start := time.Now()
		create := func(ref string) string {
			inv, _, err := svc.Create(context.Background(), "E1", invalidation.Batch{CallerReference: ref, Paths: []string{"/" + ref}})
			if err != nil {
				t.Fatal(err)
			}
			return inv.ID
		}
		status := func(id string) (invalidation.Status, time.Time) {
			inv, err := svc.Get(context.Background(), "E1", id)
			if err != nil {
				t.Fatal(err)
			}
			return inv.Status, inv.CompleteTime
		}
		a := create("a")
		time.Sleep(20 * time.Second)
		b := create("b")
		synctest.Wait()
		fleet.mu.Lock()
		if !fleet.at["a"].Equal(start) || !fleet.at["b"].Equal(start.Add(20*time.Second)) {
			t.Errorf("reached the fleet at %v, want a at +0s, b at +20s", fleet.at)
		}
		fleet.mu.Unlock()
		time.Sleep(40 * time.Second)
		synctest.Wait()
		if s, at := status(a); s != invalidation.Completed || !at.Equal(start.Add(time.Minute)) {
			t.Errorf("a: %s at %v, want Completed at +1m", s, at)
		}
		if s, _ := status(b); s != invalidation.InProgress {
			t.Errorf("b: %s, want InProgress", s)
		}
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if s, at := status(b); s != invalidation.Completed || !at.Equal(start.Add(80*time.Second)) {
			t.Errorf("b: %s at %v, want Completed at +80s", s, at)
		}
		// A fleet failure leaves it InProgress, retried.
		f := create("fail")
		time.Sleep(time.Hour)
		synctest.Wait()
		if s, _ := status(f); s != invalidation.InProgress {
			t.Errorf("failing: %s, want InProgress", s)
		}
	})
}

// TestSettingsReachServe: every setting serve uses comes from the one
// model: a value from the file, one from the environment and one from a
// flag each reach serveFlags.
func TestSettingsReachServe(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/c.yaml"
	if err := os.WriteFile(path, []byte("api_addr: 127.0.0.1:1001\nwrite_timeout: 7s\napi_body_budget: 2MiB\ns3_endpoint: http://127.0.0.1:9000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OPENFRONT_CACHE_SIZE", "64MiB")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDORIGIN")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "origin-secret")
	cfg, _, code := loadSettings("openfront serve", config.Serve, []string{"--config", path, "--edge-name", "e1", "--min-body-rate", "0"})
	if cfg == nil {
		t.Fatalf("loadSettings refused (code %d)", code)
	}
	f := serveSettings(cfg.Settings)
	if f.apiAddr != "127.0.0.1:1001" || f.cacheSize != 64<<20 || f.edgeName != "e1" || f.listeners.writeTimeout != 7*time.Second ||
		f.listeners.apiBodyBudget != 2<<20 || f.listeners.minBodyRate != 0 || f.edgeAddr != "127.0.0.1:4748" ||
		f.origins.s3Endpoint == nil || f.origins.s3Endpoint.String() != "http://127.0.0.1:9000" || f.origins.creds.AccessKeyID != "AKIDORIGIN" || f.origins.creds.SecretAccessKey != "origin-secret" {
		t.Errorf("serve settings = %+v", f)
	}
	if _, _, code := loadSettings("openfront serve", config.Serve, []string{"-h"}); code != 0 {
		t.Errorf("serve -h exits %d, want 0", code)
	}
	if _, _, code := loadSettings("openfront serve", config.Serve, []string{"--write-timeout", "0s"}); code != 2 {
		t.Errorf("a zero write timeout exits %d, want 2", code)
	}
	if cfg, _, _ := loadSettings("openfront serve", config.Serve, nil); serveSettings(cfg.Settings).edgeName != "local" {
		t.Error("the in-process edge's default name is not local")
	}
}
