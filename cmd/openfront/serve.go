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
	"syscall"
	"time"

	"github.com/openfront/openfront/internal/cloudfront"
	"github.com/openfront/openfront/internal/cloudfront/fastapi"
	"github.com/openfront/openfront/internal/config"
	"github.com/openfront/openfront/internal/console"
	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/eventlog"
	"github.com/openfront/openfront/internal/fastserve"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/metrics"
	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/store/boltmigrate"
	"github.com/openfront/openfront/internal/store/logstore"
	"github.com/openfront/openfront/internal/store/memory"
	"github.com/openfront/openfront/internal/store/postgres"
)

// serveFlags are the settings `openfront serve` runs with, from the one
// configuration model (internal/config: flag, environment, file, default).
type serveFlags struct {
	apiAddr           string
	edgeAddr          string
	dataDir           string
	memory            bool
	postgresURL       string
	invalidationDelay time.Duration
	retention         logstore.Retention
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
	origins           originAccess
}

// serveSettings returns what serve takes from s.
func serveSettings(s config.Settings) serveFlags {
	name := s.EdgeName
	if name == "" {
		name = "local"
	}
	return serveFlags{
		apiAddr: s.APIAddr, edgeAddr: s.EdgeAddr, dataDir: s.DataDir, memory: s.Memory, postgresURL: s.PostgresURL,
		invalidationDelay: s.InvalidationDelay, accountID: s.AccountID, domainSuffix: s.DomainSuffix,
		deployDelay: s.DeployDelay, cacheSize: int64(s.CacheSize), maxObjectSize: int64(s.MaxObjectSize),
		popName: s.Pop, noEdge: s.NoEdge, edgeName: name, edgeTimeout: s.EdgeTimeout, maxStaleness: s.MaxStaleness,
		metricsAddr: s.MetricsAddr, shutdownTimeout: s.ShutdownTimeout, accessLogDir: s.AccessLogDir,
		listeners: listenerSettings(s), origins: originAccessSettings(s),
		retention: logstore.Retention{MaxAge: s.InvalidationRetention, MaxPerDistribution: s.InvalidationRetentionCount},
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

// serve runs `openfront serve`: the control plane, the in-process edge
// member unless --no-edge, and their servers until a signal stops them.
func serve(f serveFlags, cfg *config.Config, log *slog.Logger) error {
	keys, err := serveKeys(cfg)
	if err != nil {
		return err
	}
	// The metrics' registry when --metrics-addr is set; nil: nothing is
	// counted (every hook is left unset).
	var reg *metrics.Registry
	if f.metricsAddr != "" {
		reg = metrics.New()
	}
	cp, err := openControlPlane(&f, cfg, keys, reg, log)
	if err != nil {
		return err
	}
	defer cp.close()

	ln, err := net.Listen("tcp", f.apiAddr)
	if err != nil {
		return fmt.Errorf("--api-addr: %w", err)
	}
	endpoint := "http://" + ln.Addr().String()
	var ss servers
	ss.add(cp.apiServer(&f, reg, log), ln)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	followCtx, stopFollowing := context.WithCancel(context.Background())
	defer stopFollowing()
	edgeURL := ""
	var local *edgeMember
	followed := make(chan error, 1)
	if !f.noEdge {
		m, url, err := startLocalEdge(followCtx, &f, cp.hub, reg, log, &ss, followed)
		if err != nil {
			ss.closeListeners()
			return err
		}
		// Deferred before the servers stop: runs after they have.
		defer m.close()
		edgeURL, local = url, m
	}

	// Deploys and completions interrupted by a restart go on, now that
	// the fleet is known.
	cp.dists.Resume()
	if err := cp.svc.Resume(context.Background()); err != nil {
		return fmt.Errorf("resuming in-progress invalidations: %w", err)
	}
	if _, shared := cp.store.(eventlog.Notifier); shared {
		// Other replicas share the store: one of them may die with
		// invalidations in progress, which this one then completes (the
		// service's own ones are waited for only twice: both idempotent).
		adoptCtx, stopAdopting := context.WithCancel(context.Background())
		defer stopAdopting()
		go cp.svc.AdoptEvery(adoptCtx, f.edgeTimeout/2, 2*f.edgeTimeout)
		go syncDistributions(adoptCtx, cp.dists, cp.store.(eventlog.Notifier), log)
	}
	example := cp.announce(&f, log)
	metricsURL := ""
	if reg != nil {
		mln, err := net.Listen("tcp", f.metricsAddr)
		if err != nil {
			ss.closeListeners()
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		ss.add(reg.NewServer(log), mln)
		metricsURL = "http://" + mln.Addr().String() + "/metrics"
	}
	if local != nil {
		// Announce the edge once it serves: until it has caught up with
		// the log (the managed policies, the file's distributions) it
		// answers 503.
		waitCaughtUp(ctx, local.follower, 10*time.Second, log)
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

	return ss.run(ctx, stop, shutdown{
		followed:      followed,
		followedMsg:   "stopping",
		notice:        "shutting down: no new connections; waiting for in-flight requests",
		stopFollowing: stopFollowing,
		timeout:       f.shutdownTimeout,
		log:           log,
	})
}

// serveKeys returns the credentials requests must be signed with: the
// configuration file's and OPENFRONT_ACCESS_KEY_ID/SECRET_ACCESS_KEY's.
// None: open mode.
func serveKeys(cfg *config.Config) (map[string]cloudfront.Key, error) {
	keys := map[string]cloudfront.Key{}
	for _, c := range cfg.Credentials {
		keys[c.AccessKeyID] = cloudfront.Key{Secret: c.SecretAccessKey, Distributions: c.Distributions}
	}
	if id, secret := os.Getenv("OPENFRONT_ACCESS_KEY_ID"), os.Getenv("OPENFRONT_SECRET_ACCESS_KEY"); id != "" || secret != "" {
		if id == "" || secret == "" {
			return nil, errors.New("set both OPENFRONT_ACCESS_KEY_ID and OPENFRONT_SECRET_ACCESS_KEY, or neither")
		}
		keys[id] = cloudfront.Key{Secret: secret}
	}
	return keys, nil
}

// controlPlane is serve's control plane: the store, the fleet's hub, the
// distributions and the invalidations, and the keys of the API.
type controlPlane struct {
	store     durableStore
	storeKind string
	hub       *fleet.Hub
	dists     *distribution.Service
	svc       *invalidation.Service
	keys      map[string]cloudfront.Key
	// resources are the services of policies, origin access controls and
	// identities, one per kind.
	resources []*resource.Service
	closers   []func() // in the order they were opened
}

// close closes what the control plane opened, the last first.
func (cp *controlPlane) close() {
	for i := len(cp.closers) - 1; i >= 0; i-- {
		cp.closers[i]()
	}
}

// openControlPlane opens the store and starts the hub and the services
// over it; on an error it closes what it opened.
func openControlPlane(f *serveFlags, cfg *config.Config, keys map[string]cloudfront.Key, reg *metrics.Registry, log *slog.Logger) (_ *controlPlane, err error) {
	cp := &controlPlane{keys: keys, storeKind: "memory"}
	defer func() {
		if err != nil {
			cp.close()
		}
	}()
	switch {
	case f.memory:
		cp.store = memory.New()
		log.Warn("memory mode: nothing is written to disk; every invalidation is lost on exit")
	case f.postgresURL != "":
		s, err := postgres.Open(context.Background(), f.postgresURL,
			postgres.WithInvalidationEvent(fleet.InvalidationEvent), postgres.WithLogger(log))
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		cp.store, cp.storeKind = s, "postgres"
	default:
		s, kind, err := openStore(f.dataDir, f.retention, log, reg)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		cp.store, cp.storeKind = s, kind
	}
	cp.closers = append(cp.closers, func() {
		if err := cp.store.Close(); err != nil {
			log.Error("closing store", "err", err)
		}
	})

	// The hub needs the distributions for snapshots, the distributions the
	// hub to deploy: tie the knot with a func.
	localEdge := f.edgeName // the previous run's in-process edge leaves the registry unless it is this one
	if f.noEdge {
		localEdge = ""
	}
	cp.hub, err = fleet.NewHub(context.Background(), fleet.HubConfig{
		LocalEdge:     localEdge,
		Store:         cp.store,
		Distributions: func() []*distribution.Distribution { return cp.dists.Registry().All() },
		Resources:     func() []resource.Resource { return cp.allResources(log) },
		EdgeTimeout:   f.edgeTimeout,
		Logger:        log,
	})
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	cp.closers = append(cp.closers, cp.hub.Close)
	if reg != nil {
		reg.Fleet(cp.hub.Status)
	}

	// Before the distributions: the managed policies they may name are
	// stored resources.
	if err := cp.openResources(context.Background(), log); err != nil {
		return nil, err
	}
	var fromFile []*distribution.Distribution
	for _, d := range cfg.Distributions {
		fromFile = append(fromFile, distribution.FromFile(d.ID, d.OriginURL, d.Aliases, f.domainSuffix, time.Now()))
	}
	_, shared := cp.store.(eventlog.Notifier)
	cp.dists, err = distribution.NewService(context.Background(), distribution.ServiceConfig{
		Store:        cp.store,
		Deployer:     deployThenDelay{cp.hub, distribution.DelayDeployer{Delay: f.deployDelay}},
		Refs:         distribution.RefsOf,
		Check:        distribution.FunctionsLive(cp.store),
		FromFile:     fromFile,
		DomainSuffix: f.domainSuffix,
		AccountID:    f.accountID,
		Logger:       log,
		Shared:       shared,
		AdoptAfter:   2 * f.edgeTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("loading distributions: %w", err)
	}
	cp.closers = append(cp.closers, cp.dists.Close)
	// A resumed edge gets no snapshot: it learns the configuration file's
	// distributions from the log, where they go whenever the file changed.
	if _, err := cp.hub.PublishConfigFile(context.Background(), fromFile); err != nil {
		return nil, fmt.Errorf("fleet: logging the configuration file's distributions: %w", err)
	}

	var completed func(invalidation.Invalidation, time.Time)
	if reg != nil {
		completed = reg.Invalidations()
	}
	cp.svc = invalidation.NewService(invalidation.Config{
		Store:         cp.store,
		Distributions: readThrough{cp.dists},
		Limits:        invalidationLimits(cfg.Limits),
		// Completed once every edge of the fleet has applied it, then
		// --invalidation-delay (to rehearse CloudFront's timing).
		Applier:   applyThenDelay{cp.hub, invalidation.DelayApplier{Delay: f.invalidationDelay}},
		Logger:    log,
		Completed: completed,
	})
	cp.closers = append(cp.closers, cp.svc.Close)
	return cp, nil
}

// invalidationLimits returns the invalidation limits: the defaults, with
// those the configuration file sets.
func invalidationLimits(l config.Limits) invalidation.Limits {
	limits := invalidation.DefaultLimits
	if l.MaxBatchPaths > 0 {
		limits.MaxBatchPaths = l.MaxBatchPaths
	}
	if l.MaxInProgressFilePaths > 0 {
		limits.MaxInProgressFilePaths = l.MaxInProgressFilePaths
	}
	if l.MaxInProgressWildcardPaths > 0 {
		limits.MaxInProgressWildcardPaths = l.MaxInProgressWildcardPaths
	}
	return limits
}

// apiServer returns the API listener's server: the API, and the web
// console beside it over the same services and keys. The console reads
// hit ratios and origin latency from reg (--metrics-addr); without one
// its pages say "metrics not enabled".
func (cp *controlPlane) apiServer(f *serveFlags, reg *metrics.Registry, log *slog.Logger) *fastserve.Server {
	var apiMetrics cloudfront.Metrics
	var gatherer console.Gatherer
	if reg != nil {
		apiMetrics = reg.API()
		gatherer = reg.Gatherer()
	}
	api := cloudfront.NewHandler(cloudfront.Config{Invalidations: cp.svc, Distributions: cp.dists, Fleet: cp.hub.Handler(),
		Resources: cp.store, ResourceServices: cp.resources, Keys: cp.keys, AccountID: f.accountID, Logger: log, Metrics: apiMetrics,
		FunctionRuntime: cloudfront.Engine{KeyValues: cloudfront.StoredKeyValues{Resources: cp.store}}})
	consoleKeys := map[string]console.Key{}
	for id, k := range cp.keys {
		consoleKeys[id] = console.Key{Secret: k.Secret, Distributions: k.Distributions}
	}
	web := console.New(console.Config{Distributions: cp.dists, Invalidations: cp.svc, Fleet: cp.hub,
		Keys: consoleKeys, EdgeTimeout: f.edgeTimeout, Logger: log, Metrics: gatherer})
	s := newServer(api, console.Mount(web, api), log, &f.listeners)
	s.RegisterOnShutdown(cp.hub.StopStreams)
	return s
}

// announce logs how the control plane runs (authentication, store,
// distributions) and returns a distribution ID for the example command.
func (cp *controlPlane) announce(f *serveFlags, log *slog.Logger) string {
	if len(cp.keys) == 0 {
		log.Warn("OPEN MODE: no credentials configured, so requests are NOT authenticated; any client with any (dummy) keys is accepted. Configure credentials in the config file or OPENFRONT_ACCESS_KEY_ID/OPENFRONT_SECRET_ACCESS_KEY.")
	} else {
		log.Info("authentication on: requests must be signed with AWS Signature Version 4", "keys", len(cp.keys))
	}
	switch {
	case f.memory:
		log.Info("store", "kind", cp.storeKind)
	case f.postgresURL != "":
		log.Info("store", "kind", cp.storeKind, "database", postgres.Redact(f.postgresURL))
	default:
		log.Info("store", "kind", cp.storeKind, "dir", f.dataDir)
	}
	example := "EDFDVBD6EXAMPLE"
	for _, d := range cp.dists.Registry().All() {
		origin := "" // none: the edge answers 502 for it
		if d.Origin != nil {
			origin = d.Origin.String()
		}
		log.Info("distribution", "id", d.ID, "domain", d.Domain, "origin", origin, "aliases", d.Aliases, "from_file", d.FromFile)
		if example == "EDFDVBD6EXAMPLE" {
			example = d.ID
		}
	}
	return example
}

// startLocalEdge starts the in-process edge, a member of the fleet like
// any other: it follows the control plane with the same code as
// `openfront edge` (stream, apply, acknowledgements), by calls to hub
// instead of HTTP. Its viewer listener joins ss; its follower runs until
// ctx ends, and reports an error on followed. It returns the member, to
// close once the servers have stopped, and the viewer listener's URL.
func startLocalEdge(ctx context.Context, f *serveFlags, hub *fleet.Hub, reg *metrics.Registry, log *slog.Logger, ss *servers, followed chan<- error) (*edgeMember, string, error) {
	edgeLn, err := net.Listen("tcp", f.edgeAddr)
	if err != nil {
		return nil, "", fmt.Errorf("--edge-addr: %w", err)
	}
	edgeURL := "http://" + edgeLn.Addr().String()
	m, err := newEdgeMember(memberConfig{
		follow: fleet.FollowerConfig{
			Hub: hub, Name: f.edgeName, Addr: edgeURL,
			MaxStaleness: f.maxStaleness, Logger: log.With("edge", f.edgeName),
		},
		cacheSize: f.cacheSize, maxObjectSize: f.maxObjectSize, pop: f.popName,
		accessLogDir: f.accessLogDir, origins: f.origins, reg: reg, log: log,
	})
	if err != nil {
		edgeLn.Close()
		return nil, "", err
	}
	// Work logged before it connects waits for it.
	hub.Expect(f.edgeName, edgeURL)
	go func() {
		if err := m.follower.Run(ctx); err != nil {
			followed <- fmt.Errorf("in-process edge: %w", err)
		}
	}()
	ss.add(m.server(&f.listeners, log), edgeLn)
	return m, edgeURL, nil
}

// durableStore is what serve needs of a store.
type durableStore interface {
	invalidation.Store
	distribution.Store
	resource.Store
	fleet.Store
}

// openStore opens the durable store in dir: the append-only log
// (internal/store/logstore), after moving a bbolt file of an earlier
// openfront (openfront.db) into it if dir holds one. An invalidation's
// fleet event is logged with it: one durable write per create, and the
// hub's Apply finds it logged. It forgets the Completed invalidations
// that ret says. With reg, its group commits are timed.
func openStore(dir string, ret logstore.Retention, log *slog.Logger, reg *metrics.Registry) (durableStore, string, error) {
	openLog := func(d string) (boltmigrate.Log, error) { return logstore.Open(d, logstore.WithLogger(log)) }
	if _, err := boltmigrate.Migrate(context.Background(), dir, logstore.FileName, openLog, log); err != nil {
		return nil, "", err
	}
	opts := []logstore.Option{logstore.WithInvalidationEvent(fleet.InvalidationEvent), logstore.WithLogger(log), logstore.WithRetention(ret)}
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

// syncDistributions keeps a replica's view of the distributions in step
// with the shared store: at once when another replica logs a change, and
// every second for what logs nothing (a distribution another replica
// marked Deployed).
func syncDistributions(ctx context.Context, dists *distribution.Service, n eventlog.Notifier, log *slog.Logger) {
	wake, _, cancel := n.Subscribe()
	defer cancel()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-tick.C:
		}
		if err := dists.Sync(ctx); err != nil && ctx.Err() == nil {
			log.Warn("reading the shared store's distributions failed", "err", err)
		}
	}
}

// readThrough is the registry of distributions as the invalidation
// service asks it, reading the store on a miss: on a shared store,
// another replica may have created the distribution since this one's
// last sync. On a store of its own the registry has every distribution,
// and a miss costs one more registry lookup.
type readThrough struct{ dists *distribution.Service }

func (r readThrough) Exists(id string) bool {
	if r.dists.Registry().Exists(id) {
		return true
	}
	_, err := r.dists.Get(id)
	return err == nil
}

func (r readThrough) Acquire(id string) (func(), bool) {
	if release, ok := r.dists.Registry().Acquire(id); ok {
		return release, true
	}
	if _, err := r.dists.Get(id); err != nil {
		return nil, false
	}
	return r.dists.Registry().Acquire(id)
}

// waitCaughtUp returns once the follower has caught up with the control
// plane, ctx ends or within has passed (then the edge answers 503 until
// it catches up, as any edge does).
func waitCaughtUp(ctx context.Context, f *fleet.Follower, within time.Duration, log *slog.Logger) {
	deadline := time.Now().Add(within)
	for !f.Fresh() {
		if ctx.Err() != nil {
			return
		}
		if time.Now().After(deadline) {
			log.Warn("the in-process edge has not caught up with the control plane yet; it answers 503 until it has", "waited", within)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
