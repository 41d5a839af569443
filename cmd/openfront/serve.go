package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/openfront/openfront/internal/cloudfront"
	"github.com/openfront/openfront/internal/cloudfront/fastapi"
	"github.com/openfront/openfront/internal/config"
	"github.com/openfront/openfront/internal/console"
	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/edge"
	"github.com/openfront/openfront/internal/fastserve"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/metrics"
	"github.com/openfront/openfront/internal/store/boltmigrate"
	"github.com/openfront/openfront/internal/store/logstore"
	"github.com/openfront/openfront/internal/store/memory"
)

// serveFlags are the settings `openfront serve` runs with, from the one
// configuration model (internal/config: flag, environment, file, default).
type serveFlags struct {
	apiAddr           string
	edgeAddr          string
	dataDir           string
	memory            bool
	invalidationDelay time.Duration
	accountID         string
	domainSuffix      string
	deployDelay       time.Duration
	cacheSize         int64
	maxObjectSize     int64
	popName           string
	noEdge            bool
	edgeName          string
	edgeTimeout       time.Duration
	maxStaleness      time.Duration
	metricsAddr       string
	shutdownTimeout   time.Duration
	accessLogDir      string
	listeners         listenerFlags
}

// serveSettings returns what serve takes from s.
func serveSettings(s config.Settings) serveFlags {
	name := s.EdgeName
	if name == "" {
		name = "local"
	}
	return serveFlags{
		apiAddr: s.APIAddr, edgeAddr: s.EdgeAddr, dataDir: s.DataDir, memory: s.Memory,
		invalidationDelay: s.InvalidationDelay, accountID: s.AccountID, domainSuffix: s.DomainSuffix,
		deployDelay: s.DeployDelay, cacheSize: int64(s.CacheSize), maxObjectSize: int64(s.MaxObjectSize),
		popName: s.Pop, noEdge: s.NoEdge, edgeName: name, edgeTimeout: s.EdgeTimeout, maxStaleness: s.MaxStaleness,
		metricsAddr: s.MetricsAddr, shutdownTimeout: s.ShutdownTimeout, accessLogDir: s.AccessLogDir,
		listeners: listenerSettings(s),
	}
}

func runServe(args []string) int {
	cfg, log, code := loadSettings("openfront serve", config.Serve, args)
	if cfg == nil {
		return code
	}
	if err := serve(serveSettings(cfg.Settings), cfg, log); err != nil {
		fmt.Fprintf(os.Stderr, "openfront: %v\n", err)
		return 1
	}
	return 0
}

// loadSettings reads cmd's settings from the flags in args, the
// environment and the file --config names, checks them, and makes the
// logger they ask for. It returns a nil Config and the exit code when the
// command must not run: 0 for --help, 2 for a bad setting.
func loadSettings(name string, cmd config.Command, args []string) (*config.Config, *slog.Logger, int) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	configPath := fs.String("config", "", "YAML file of settings (docs/configuration.md) and, for serve, the distributions, credentials and limits")
	apply := config.Flags(fs, cmd)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, 0
		}
		return nil, nil, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "%s: unexpected argument %q (settings are flags: see %s -h)\n", name, fs.Arg(0), name)
		return nil, nil, 2
	}
	cfg, err := config.Parse(nil)
	if *configPath != "" {
		cfg, err = config.Load(*configPath)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: config: %v\n", name, err)
		return nil, nil, 2
	}
	if err := apply(&cfg.Settings, config.LookupEnv, cfg.Sources); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return nil, nil, 2
	}
	if err := cfg.Settings.Check(cmd, cfg.Sources); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return nil, nil, 2
	}
	log, err := newLogger(os.Stderr, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		return nil, nil, 2
	}
	return cfg, log, 0
}

func serve(f serveFlags, cfg *config.Config, log *slog.Logger) error {
	keys := map[string]cloudfront.Key{}
	for _, c := range cfg.Credentials {
		keys[c.AccessKeyID] = cloudfront.Key{Secret: c.SecretAccessKey, Distributions: c.Distributions}
	}
	if id, secret := os.Getenv("OPENFRONT_ACCESS_KEY_ID"), os.Getenv("OPENFRONT_SECRET_ACCESS_KEY"); id != "" || secret != "" {
		if id == "" || secret == "" {
			return errors.New("set both OPENFRONT_ACCESS_KEY_ID and OPENFRONT_SECRET_ACCESS_KEY, or neither")
		}
		keys[id] = cloudfront.Key{Secret: secret}
	}
	openMode := len(keys) == 0

	// The metrics' registry when --metrics-addr is set; nil: nothing is
	// counted (every hook below is left unset).
	var reg *metrics.Registry
	if f.metricsAddr != "" {
		reg = metrics.New()
	}

	var store durableStore
	storeKind := "memory"
	if f.memory {
		store = memory.New()
		log.Warn("memory mode: nothing is written to disk; every invalidation is lost on exit")
	} else {
		s, kind, err := openStore(f.dataDir, log, reg)
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		store, storeKind = s, kind
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing store", "err", err)
		}
	}()

	// The hub needs the distributions for snapshots, the distributions the
	// hub to deploy: tie the knot with a func.
	var dists *distribution.Service
	localEdge := f.edgeName // the previous run's in-process edge leaves the registry unless it is this one
	if f.noEdge {
		localEdge = ""
	}
	hub, err := fleet.NewHub(context.Background(), fleet.HubConfig{
		LocalEdge:     localEdge,
		Store:         store,
		Distributions: func() []*distribution.Distribution { return dists.Registry().All() },
		EdgeTimeout:   f.edgeTimeout,
		Logger:        log,
	})
	if err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	defer hub.Close()
	if reg != nil {
		reg.Fleet(hub.Status)
	}

	var fromFile []*distribution.Distribution
	for _, d := range cfg.Distributions {
		fromFile = append(fromFile, distribution.FromFile(d.ID, d.OriginURL, d.Aliases, f.domainSuffix, time.Now()))
	}
	dists, err = distribution.NewService(context.Background(), distribution.ServiceConfig{
		Store:        store,
		Deployer:     deployThenDelay{hub, distribution.DelayDeployer{Delay: f.deployDelay}},
		FromFile:     fromFile,
		DomainSuffix: f.domainSuffix,
		AccountID:    f.accountID,
		Logger:       log,
	})
	if err != nil {
		return fmt.Errorf("loading distributions: %w", err)
	}
	defer dists.Close()
	registry := dists.Registry()
	// A resumed edge gets no snapshot: it learns the configuration file's
	// distributions from the log, where they go whenever the file changed.
	if _, err := hub.PublishConfigFile(context.Background(), fromFile); err != nil {
		return fmt.Errorf("fleet: logging the configuration file's distributions: %w", err)
	}

	limits := invalidation.DefaultLimits
	if cfg.Limits.MaxBatchPaths > 0 {
		limits.MaxBatchPaths = cfg.Limits.MaxBatchPaths
	}
	if cfg.Limits.MaxInProgressFilePaths > 0 {
		limits.MaxInProgressFilePaths = cfg.Limits.MaxInProgressFilePaths
	}
	if cfg.Limits.MaxInProgressWildcardPaths > 0 {
		limits.MaxInProgressWildcardPaths = cfg.Limits.MaxInProgressWildcardPaths
	}
	var completed func(invalidation.Invalidation, time.Time)
	var apiMetrics cloudfront.Metrics
	if reg != nil {
		completed = reg.Invalidations()
		apiMetrics = reg.API()
	}
	svc := invalidation.NewService(invalidation.Config{
		Store:         store,
		Distributions: registry,
		Limits:        limits,
		// Completed once every edge of the fleet has applied it, then
		// --invalidation-delay (to rehearse CloudFront's timing).
		Applier:   applyThenDelay{hub, invalidation.DelayApplier{Delay: f.invalidationDelay}},
		Logger:    log,
		Completed: completed,
	})
	defer svc.Close()

	api := cloudfront.NewHandler(cloudfront.Config{Invalidations: svc, Distributions: dists, Fleet: hub.Handler(),
		Keys: keys, AccountID: f.accountID, Logger: log, Metrics: apiMetrics})
	consoleKeys := map[string]console.Key{}
	for id, k := range keys {
		consoleKeys[id] = console.Key{Secret: k.Secret, Distributions: k.Distributions}
	}
	// The web console, beside the API on its listener, over the same
	// services and keys. It reads hit ratios and origin latency from the
	// metrics' registry (--metrics-addr); without one its pages say
	// "metrics not enabled".
	var gatherer console.Gatherer
	if reg != nil {
		gatherer = reg.Gatherer()
	}
	web := console.New(console.Config{Distributions: dists, Invalidations: svc, Fleet: hub,
		Keys: consoleKeys, EdgeTimeout: f.edgeTimeout, Logger: log, Metrics: gatherer})
	ln, err := net.Listen("tcp", f.apiAddr)
	if err != nil {
		return fmt.Errorf("--api-addr: %w", err)
	}
	endpoint := "http://" + ln.Addr().String()
	apiServer := newServer(api, console.Mount(web, api), log, &f.listeners)
	apiServer.RegisterOnShutdown(hub.StopStreams)
	servers := []interface {
		Serve(net.Listener) error
		Shutdown(context.Context) error
	}{apiServer}
	listeners := []net.Listener{ln}

	// The in-process edge is a member of the fleet like any other: it
	// follows the control plane with the same code as `openfront edge`
	// (stream, apply, acknowledgements), by calls instead of HTTP.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	followCtx, stopFollowing := context.WithCancel(context.Background())
	defer stopFollowing()
	edgeURL := ""
	followed := make(chan error, 1)
	if !f.noEdge {
		edgeLn, err := net.Listen("tcp", f.edgeAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--edge-addr: %w", err)
		}
		edgeURL = "http://" + edgeLn.Addr().String()
		edgeRegistry := distribution.NewRegistry()
		var cache *edge.Edge
		var edgeMetrics edge.Metrics
		if reg != nil {
			edgeMetrics = reg.Edge(func() uint64 { return cache.Stats().Bytes })
		}
		cache = edge.New(edge.Config{
			Distributions: edgeRegistry,
			CacheSize:     f.cacheSize,
			MaxObjectSize: f.maxObjectSize,
			PopName:       f.popName,
			Logger:        log,
			Metrics:       edgeMetrics,
		})
		defer cache.Close()
		accessLog, err := openAccessLog(f.accessLogDir, log)
		if err != nil {
			ln.Close()
			edgeLn.Close()
			return fmt.Errorf("--access-log-dir: %w", err)
		}
		// Deferred before the servers stop: runs after they have.
		defer accessLog.close()
		follower := fleet.NewFollower(fleet.FollowerConfig{
			Hub: hub, Name: f.edgeName, Addr: edgeURL,
			Registry: edgeRegistry, Cache: cache, MaxStaleness: f.maxStaleness, Logger: log.With("edge", f.edgeName),
		})
		// Work logged before it connects waits for it.
		hub.Expect(f.edgeName, edgeURL)
		go func() {
			if err := follower.Run(followCtx); err != nil {
				followed <- fmt.Errorf("in-process edge: %w", err)
			}
		}()
		// The viewer listener (fasthttp; plain hits answered without the
		// Guard's handler when follower.Fresh, the rest through it).
		servers = append(servers, cache.NewServer(f.listeners.viewer(edge.ServerConfig{Handler: follower.Guard(cache), Fresh: follower.Fresh, Logger: log,
			Observers: accessLog.observers()})))
		listeners = append(listeners, edgeLn)
	}

	// Deploys and completions interrupted by a restart go on, now that
	// the fleet is known.
	dists.Resume()
	if err := svc.Resume(context.Background()); err != nil {
		return fmt.Errorf("resuming in-progress invalidations: %w", err)
	}

	if openMode {
		log.Warn("OPEN MODE: no credentials configured, so requests are NOT authenticated; any client with any (dummy) keys is accepted. Configure credentials in the config file or OPENFRONT_ACCESS_KEY_ID/OPENFRONT_SECRET_ACCESS_KEY.")
	} else {
		log.Info("authentication on: requests must be signed with AWS Signature Version 4", "keys", len(keys))
	}
	if f.memory {
		log.Info("store", "kind", storeKind)
	} else {
		log.Info("store", "kind", storeKind, "dir", f.dataDir)
	}
	example := "EDFDVBD6EXAMPLE"
	for _, d := range registry.All() {
		origin := "" // none: the edge answers 502 for it
		if d.Origin != nil {
			origin = d.Origin.String()
		}
		log.Info("distribution", "id", d.ID, "domain", d.Domain, "origin", origin, "aliases", d.Aliases, "from_file", d.FromFile)
		if example == "EDFDVBD6EXAMPLE" {
			example = d.ID
		}
	}
	metricsURL := ""
	if reg != nil {
		mln, err := net.Listen("tcp", f.metricsAddr)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		servers = append(servers, reg.NewServer(log))
		listeners = append(listeners, mln)
		metricsURL = "http://" + mln.Addr().String() + "/metrics"
	}
	fmt.Printf("openfront API listening on %s\n", endpoint)
	fmt.Printf("openfront console on %s%s\n", endpoint, console.Prefix)
	if edgeURL != "" {
		fmt.Printf("openfront edge listening on %s\n", edgeURL)
	} else {
		log.Info("no in-process edge (--no-edge): control plane only; run edges with `openfront edge --control-plane " + endpoint + "`")
	}
	if metricsURL != "" {
		fmt.Printf("openfront metrics listening on %s\n", metricsURL)
	}
	fmt.Printf("try: aws cloudfront create-invalidation --endpoint-url %s --distribution-id %s --paths '/*'\n", endpoint, example)

	errc := make(chan error, len(servers))
	for i, s := range servers {
		go func() { errc <- s.Serve(listeners[i]) }()
	}
	var runErr error
	select {
	case err := <-errc:
		return err
	case runErr = <-followed:
		log.Error("stopping", "err", runErr)
	case <-ctx.Done():
	}
	stop()
	log.Info("shutting down: no new connections; waiting for in-flight requests")
	stopFollowing()
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Shutdown(sctx); err != nil {
				log.Error("shutdown", "err", err)
			}
		}()
	}
	wg.Wait()
	log.Info("stopped")
	return runErr
}

// durableStore is what serve needs of a store.
type durableStore interface {
	invalidation.Store
	distribution.Store
	fleet.Store
}

// openStore opens the durable store in dir: the append-only log
// (internal/store/logstore), after moving a bbolt file of an earlier
// openfront (openfront.db) into it if dir holds one. An invalidation's
// fleet event is logged with it: one durable write per create, and the
// hub's Apply finds it logged. With reg, its group commits are timed.
func openStore(dir string, log *slog.Logger, reg *metrics.Registry) (durableStore, string, error) {
	openLog := func(d string) (boltmigrate.Log, error) { return logstore.Open(d, logstore.WithLogger(log)) }
	if _, err := boltmigrate.Migrate(context.Background(), dir, logstore.FileName, openLog, log); err != nil {
		return nil, "", err
	}
	opts := []logstore.Option{logstore.WithInvalidationEvent(fleet.InvalidationEvent), logstore.WithLogger(log)}
	if reg != nil {
		opts = append(opts, logstore.WithCommitObserver(reg.StoreCommits()))
	}
	s, err := logstore.Open(dir, opts...)
	return s, "log", err
}

// newServer returns the API listener: fasthttp (internal/fastserve), with
// CreateInvalidation answered without building an *http.Request and
// everything else through the bridge to h (the API's http.Handler with
// the console beside it); the timeouts and body budget of l, bodies up to
// cloudfront.MaxBodyBytes (docs/architecture.md, "The API listener").
func newServer(api *cloudfront.Handler, h http.Handler, log *slog.Logger, l *listenerFlags) *fastserve.Server {
	return fastapi.New(l.api(fastapi.Config{API: api, Handler: h, Logger: log}))
}

// applyThenDelay completes an invalidation once the fleet has applied it,
// then after --invalidation-delay.
type applyThenDelay struct {
	fleet invalidation.BatchApplier
	delay invalidation.DelayApplier
}

func (a applyThenDelay) Apply(ctx context.Context, inv invalidation.Invalidation) error {
	if err := a.fleet.Apply(ctx, inv); err != nil {
		return err
	}
	return a.delay.Apply(ctx, inv)
}

// ApplyAll applies invs to the fleet together; then each waits out the
// delay from its own CreateTime (at once when it is due already).
func (a applyThenDelay) ApplyAll(ctx context.Context, invs []invalidation.Invalidation, done func(i int, err error)) {
	a.fleet.ApplyAll(ctx, invs, func(i int, err error) {
		if err != nil {
			done(i, err)
			return
		}
		a.delay.ApplyAll(ctx, invs[i:i+1], func(_ int, err error) { done(i, err) })
	})
}

// deployThenDelay deploys a distribution to the fleet, then waits out
// --deploy-delay.
type deployThenDelay struct {
	hub   *fleet.Hub
	delay distribution.DelayDeployer
}

func (d deployThenDelay) Deploy(ctx context.Context, dist distribution.Distribution) error {
	if err := d.hub.Deploy(ctx, dist); err != nil {
		return err
	}
	return d.delay.Deploy(ctx, dist)
}

func (d deployThenDelay) Remove(ctx context.Context, id string) error { return d.hub.Remove(ctx, id) }
