package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/openfront/openfront/internal/cloudfront"
	"github.com/openfront/openfront/internal/cloudfront/fastapi"
	"github.com/openfront/openfront/internal/config"
	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/edge"
	"github.com/openfront/openfront/internal/fastserve"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/bolt"
	"github.com/openfront/openfront/internal/store/logstore"
	"github.com/openfront/openfront/internal/store/memory"
)

// serveFlags are the command-line settings of `openfront serve`.
type serveFlags struct {
	configPath        string
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
	logLevel          string
	shutdownTimeout   time.Duration
	listeners         listenerFlags
}

func runServe(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var f serveFlags
	fs.StringVar(&f.configPath, "config", "", "YAML file declaring distributions, credentials and limits")
	fs.StringVar(&f.apiAddr, "api-addr", "127.0.0.1:4747", "address of the CloudFront API listener")
	fs.StringVar(&f.edgeAddr, "edge-addr", "127.0.0.1:4748", "address of the viewer (edge) listener")
	fs.StringVar(&f.dataDir, "data-dir", "./openfront-data", "directory of the durable store")
	fs.BoolVar(&f.memory, "memory", false, "keep everything in memory (nothing survives a restart)")
	fs.DurationVar(&f.invalidationDelay, "invalidation-delay", 0, "time an invalidation stays InProgress (rehearse real CloudFront timing with minutes)")
	fs.StringVar(&f.accountID, "account-id", "000000000000", "AWS account id used in ARNs")
	fs.StringVar(&f.domainSuffix, "domain-suffix", "cloudfront.localhost", "suffix of distributions' domain names (d1234567890abc.<suffix>)")
	fs.DurationVar(&f.deployDelay, "deploy-delay", 0, "time a created or updated distribution stays InProgress before Deployed")
	fs.Int64Var(&f.cacheSize, "cache-size", 256<<20, "bytes of memory the edge cache may hold")
	fs.Int64Var(&f.maxObjectSize, "max-object-size", 32<<20, "largest object the edge caches; larger ones stream through uncached")
	fs.StringVar(&f.popName, "pop", "LOCAL1-C1", "X-Amz-Cf-Pop the edge reports")
	fs.BoolVar(&f.noEdge, "no-edge", false, "run the control plane alone, without the in-process edge")
	fs.StringVar(&f.edgeName, "edge-name", "local", "name of the in-process edge in the fleet registry")
	fs.DurationVar(&f.edgeTimeout, "edge-timeout", 30*time.Second, "how long an edge may go without acknowledging (stopped, cut off, dead) before it leaves the registry; edges keep their --max-staleness at half of it at most")
	fs.DurationVar(&f.maxStaleness, "max-staleness", 10*time.Second, "how long the in-process edge may go without an acknowledgement accepted by the control plane before it stops serving from its cache (at most half --edge-timeout)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long in-flight requests may take to finish on SIGINT/SIGTERM")
	f.listeners.register(fs, true)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := f.listeners.check(true); err != nil {
		fmt.Fprintf(os.Stderr, "openfront: %v\n", err)
		return 2
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })

	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "openfront: --log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	cfg := &config.Config{}
	if f.configPath != "" {
		var err error
		if cfg, err = config.Load(f.configPath); err != nil {
			fmt.Fprintf(os.Stderr, "openfront: config: %v\n", err)
			return 1
		}
	}
	// The file gives defaults; flags given on the command line win.
	if cfg.APIAddr != "" && !set["api-addr"] {
		f.apiAddr = cfg.APIAddr
	}
	if cfg.EdgeAddr != "" && !set["edge-addr"] {
		f.edgeAddr = cfg.EdgeAddr
	}
	if cfg.DataDir != "" && !set["data-dir"] {
		f.dataDir = cfg.DataDir
	}
	if cfg.InvalidationDelay != 0 && !set["invalidation-delay"] {
		f.invalidationDelay = cfg.InvalidationDelay
	}
	if err := serve(f, cfg, log); err != nil {
		fmt.Fprintf(os.Stderr, "openfront: %v\n", err)
		return 1
	}
	return 0
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

	var store durableStore
	storeKind := "memory"
	if f.memory {
		store = memory.New()
		log.Warn("memory mode: nothing is written to disk; every invalidation is lost on exit")
	} else {
		s, kind, err := openStore(f.dataDir, log)
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
	hub, err := fleet.NewHub(context.Background(), fleet.HubConfig{
		Store:         store,
		Distributions: func() []*distribution.Distribution { return dists.Registry().All() },
		EdgeTimeout:   f.edgeTimeout,
		Logger:        log,
	})
	if err != nil {
		return fmt.Errorf("fleet: %w", err)
	}
	defer hub.Close()

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
	svc := invalidation.NewService(invalidation.Config{
		Store:         store,
		Distributions: registry,
		Limits:        limits,
		// Completed once every edge of the fleet has applied it, then
		// --invalidation-delay (to rehearse CloudFront's timing).
		Applier: applyThenDelay{hub, invalidation.DelayApplier{Delay: f.invalidationDelay}},
		Logger:  log,
	})
	defer svc.Close()

	api := cloudfront.NewHandler(cloudfront.Config{Invalidations: svc, Distributions: dists, Fleet: hub.Handler(),
		Keys: keys, AccountID: f.accountID, Logger: log})
	ln, err := net.Listen("tcp", f.apiAddr)
	if err != nil {
		return fmt.Errorf("--api-addr: %w", err)
	}
	endpoint := "http://" + ln.Addr().String()
	apiServer := newServer(api, log, &f.listeners)
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
	if !f.noEdge {
		edgeLn, err := net.Listen("tcp", f.edgeAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--edge-addr: %w", err)
		}
		edgeURL = "http://" + edgeLn.Addr().String()
		edgeRegistry := distribution.NewRegistry()
		cache := edge.New(edge.Config{
			Distributions: edgeRegistry,
			CacheSize:     f.cacheSize,
			MaxObjectSize: f.maxObjectSize,
			PopName:       f.popName,
			Logger:        log,
		})
		defer cache.Close()
		follower := fleet.NewFollower(fleet.FollowerConfig{
			Hub: hub, Name: f.edgeName, Addr: edgeURL,
			Registry: edgeRegistry, Cache: cache, MaxStaleness: f.maxStaleness, Logger: log.With("edge", f.edgeName),
		})
		// Work logged before it connects waits for it.
		hub.Expect(f.edgeName, edgeURL)
		go follower.Run(followCtx)
		// The viewer listener (fasthttp; plain hits answered without the
		// Guard's handler when follower.Fresh, the rest through it).
		servers = append(servers, cache.NewServer(f.listeners.viewer(edge.ServerConfig{Handler: follower.Guard(cache), Fresh: follower.Fresh, Logger: log})))
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
		log.Info("distribution", "id", d.ID, "domain", d.Domain, "origin", d.Origin.String(), "aliases", d.Aliases, "from_file", d.FromFile)
		if example == "EDFDVBD6EXAMPLE" {
			example = d.ID
		}
	}
	fmt.Printf("openfront API listening on %s\n", endpoint)
	if edgeURL != "" {
		fmt.Printf("openfront edge listening on %s\n", edgeURL)
	} else {
		log.Info("no in-process edge (--no-edge): control plane only; run edges with `openfront edge --control-plane " + endpoint + "`")
	}
	fmt.Printf("try: aws cloudfront create-invalidation --endpoint-url %s --distribution-id %s --paths '/*'\n", endpoint, example)

	errc := make(chan error, len(servers))
	for i, s := range servers {
		go func() { errc <- s.Serve(listeners[i]) }()
	}
	select {
	case err := <-errc:
		return err
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
	return nil
}

// durableStore is what serve needs of a store.
type durableStore interface {
	invalidation.Store
	distribution.Store
	fleet.Store
}

// openStore opens the durable store in dir: the append-only log
// (internal/store/logstore), unless dir holds a bbolt file of an earlier
// openfront (openfront.db), which then stays in use so that no data is
// left behind on upgrade. Either way an invalidation's fleet event is
// logged with it: one durable write per create, and the hub's Apply finds
// it logged.
func openStore(dir string, log *slog.Logger) (durableStore, string, error) {
	boltFile := filepath.Join(dir, bolt.FileName)
	if _, err := os.Stat(boltFile); err == nil {
		if _, err := os.Stat(filepath.Join(dir, logstore.FileName)); err == nil {
			log.Warn("data directory holds both a bbolt file and a log; using the bbolt file", "bbolt", boltFile)
		}
		log.Info("data directory holds a bbolt store from an earlier openfront: keeping it (remove openfront.db to start a log store, losing its data)", "file", boltFile)
		s, err := bolt.Open(dir, bolt.WithInvalidationEvent(fleet.InvalidationEvent))
		return s, "bbolt", err
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, "", err
	}
	s, err := logstore.Open(dir, logstore.WithInvalidationEvent(fleet.InvalidationEvent), logstore.WithLogger(log))
	return s, "log", err
}

// newServer returns the API listener: fasthttp (internal/fastserve), with
// CreateInvalidation answered without building an *http.Request and
// everything else through the bridge to the API's http.Handler; the
// timeouts and body budget of l, bodies up to cloudfront.MaxBodyBytes
// (docs/architecture.md, "The API listener").
func newServer(api *cloudfront.Handler, log *slog.Logger, l *listenerFlags) *fastserve.Server {
	return fastapi.New(l.api(fastapi.Config{API: api, Logger: log}))
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
