package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/openfront/openfront/internal/cloudfront"
	"github.com/openfront/openfront/internal/config"
	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/logstore"
	"github.com/openfront/openfront/internal/store/memory"
)

// serveControlPlane runs the control plane as cmd/openfront/serve.go builds
// it with --no-edge, open mode and its default durable store, the log
// store (or the memory
// store with -memory), so that it can be profiled: the CPU profile is
// written on SIGTERM, and the latencies of the store's writes printed.
func serveControlPlane(cfgPath, dataDir, cpuProfile string) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cfg, err := config.Load(cfgPath)
	if err != nil {
		fatalf("config: %v", err)
	}
	var inner backend
	if *memoryStore {
		inner = memory.New()
	} else if inner, err = logstore.Open(dataDir, logstore.WithInvalidationEvent(fleet.InvalidationEvent)); err != nil {
		fatalf("store: %v", err)
	}
	store := &timedStore{backend: inner}
	stalls := watchStalls()
	var dists *distribution.Service
	hub, err := fleet.NewHub(context.Background(), fleet.HubConfig{
		Store:         store,
		Distributions: func() []*distribution.Distribution { return dists.Registry().All() },
		Logger:        log,
	})
	if err != nil {
		fatalf("fleet: %v", err)
	}
	var fromFile []*distribution.Distribution
	for _, d := range cfg.Distributions {
		fromFile = append(fromFile, distribution.FromFile(d.ID, d.OriginURL, d.Aliases, "cloudfront.localhost", time.Now()))
	}
	dists, err = distribution.NewService(context.Background(), distribution.ServiceConfig{
		Store: store, Deployer: hub, FromFile: fromFile, Logger: log,
	})
	if err != nil {
		fatalf("distributions: %v", err)
	}
	if _, err := hub.PublishConfigFile(context.Background(), fromFile); err != nil {
		fatalf("fleet: %v", err)
	}
	limits := invalidation.DefaultLimits
	limits.MaxInProgressFilePaths = cfg.Limits.MaxInProgressFilePaths
	limits.MaxInProgressWildcardPaths = cfg.Limits.MaxInProgressWildcardPaths
	svc := invalidation.NewService(invalidation.Config{
		Store: store, Distributions: dists.Registry(), Limits: limits, Applier: hub, Logger: log,
	})
	api := cloudfront.NewHandler(cloudfront.Config{Invalidations: svc, Distributions: dists, Fleet: hub.Handler(), Logger: log})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatalf("%v", err)
	}
	var f *os.File
	if cpuProfile != "" {
		if f, err = os.Create(cpuProfile); err != nil {
			fatalf("%v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatalf("%v", err)
		}
	}
	dists.Resume()
	if err := svc.Resume(context.Background()); err != nil {
		fatalf("%v", err)
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	srv.RegisterOnShutdown(hub.StopStreams)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Println("openfront API listening on http://" + ln.Addr().String())
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			fatalf("%v", err)
		}
	case <-ctx.Done():
	}
	if f != nil {
		pprof.StopCPUProfile()
		f.Close()
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	svc.Close()
	dists.Close()
	hub.Close()
	store.Close()
	store.report()
	fmt.Fprintf(os.Stderr, "  control plane process (whole run): %s\n", stalls.read())
}

// backend is what the control plane needs of a store.
type backend interface {
	invalidation.Store
	distribution.Store
	fleet.Store
	Close() error
}

// timedStore times the three writes on an invalidation's way: Create
// (before the 201), AppendEvent or InvalidationEvents (before any edge
// hears of it) and Complete or CompleteAll (before GetInvalidation says
// Completed).
type timedStore struct {
	backend
	mu                        sync.Mutex
	create, appendE, complete []time.Duration
}

func (t *timedStore) note(to *[]time.Duration, since time.Time) {
	d := time.Since(since)
	t.mu.Lock()
	*to = append(*to, d)
	t.mu.Unlock()
}

func (t *timedStore) Create(ctx context.Context, inv invalidation.Invalidation, admit func(invalidation.Usage) error) (invalidation.Invalidation, bool, error) {
	defer t.note(&t.create, time.Now())
	return t.backend.Create(ctx, inv, admit)
}

func (t *timedStore) AppendEvent(ctx context.Context, key string, data []byte) (uint64, error) {
	defer t.note(&t.appendE, time.Now())
	return t.backend.AppendEvent(ctx, key, data)
}

func (t *timedStore) Complete(ctx context.Context, distributionID, id string, at time.Time) error {
	defer t.note(&t.complete, time.Now())
	return t.backend.Complete(ctx, distributionID, id, at)
}

// CompleteAll notes the call's time once per item: each waited that long.
func (t *timedStore) CompleteAll(ctx context.Context, items []invalidation.CompleteItem) []error {
	start := time.Now()
	errs := t.backend.CompleteAll(ctx, items)
	d := time.Since(start)
	t.mu.Lock()
	for range items {
		t.complete = append(t.complete, d)
	}
	t.mu.Unlock()
	return errs
}

// InvalidationEvents passes the hub the events a log store wrote with the
// creates, as serve's hub gets them (a store without leaves evs zero, and
// the hub appends); timed with AppendEvent, the step it replaces.
func (t *timedStore) InvalidationEvents(ctx context.Context, invs []invalidation.Invalidation, evs []fleet.StoredEvent) error {
	l, ok := t.backend.(fleet.InvalidationLog)
	if !ok {
		return nil
	}
	start := time.Now()
	err := l.InvalidationEvents(ctx, invs, evs)
	d := time.Since(start)
	t.mu.Lock()
	for _, ev := range evs {
		if ev.Pos != 0 {
			t.appendE = append(t.appendE, d)
		}
	}
	t.mu.Unlock()
	return err
}

// report prints the writes' latencies (every one since the start).
func (t *timedStore) report() {
	t.mu.Lock()
	defer t.mu.Unlock()
	line := "  control plane store writes (whole run):"
	for _, w := range []struct {
		name string
		d    []time.Duration
	}{{"Create", t.create}, {"AppendEvent", t.appendE}, {"Complete", t.complete}} {
		s := sorted(w.d)
		line += fmt.Sprintf("  %s n=%d p50 %s p99 %s max %s;", w.name, len(s), fmtDur(pct(s, 50)), fmtDur(pct(s, 99)), fmtDur(pct(s, 100)))
	}
	fmt.Fprintln(os.Stderr, line)
}
