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
	"syscall"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/edge"
	"github.com/openfront/openfront/internal/fleet"
)

// runEdge runs `openfront edge`: an edge alone, following a control plane.
func runEdge(args []string) int {
	fs := flag.NewFlagSet("edge", flag.ContinueOnError)
	controlPlane := fs.String("control-plane", "", "URL of the control plane's API (openfront serve), e.g. http://127.0.0.1:4747")
	addr := fs.String("edge-addr", "127.0.0.1:4748", "address of the viewer listener")
	name := fs.String("name", "", "name of this edge in the fleet registry (default: the host name and edge port)")
	cacheSize := fs.Int64("cache-size", 256<<20, "bytes of memory the cache may hold")
	maxObjectSize := fs.Int64("max-object-size", 32<<20, "largest object cached; larger ones stream through uncached")
	maxStaleness := fs.Duration("max-staleness", 10*time.Second, "how long this edge may go without an acknowledgement accepted by the control plane before it stops serving from its cache (it answers 503 until caught up); capped at half the control plane's --edge-timeout")
	pop := fs.String("pop", "LOCAL1-C1", "X-Amz-Cf-Pop this edge reports")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	shutdownTimeout := fs.Duration("shutdown-timeout", 30*time.Second, "how long in-flight requests may finish after SIGINT/SIGTERM")
	var lim listenerFlags
	lim.register(fs, false)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := lim.check(false); err != nil {
		fmt.Fprintf(os.Stderr, "openfront edge: %v\n", err)
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "openfront edge: --log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := edgeMain(*controlPlane, *addr, *name, *cacheSize, *maxObjectSize, *maxStaleness, *pop, *shutdownTimeout, &lim, log); err != nil {
		fmt.Fprintf(os.Stderr, "openfront edge: %v\n", err)
		return 1
	}
	return 0
}

func edgeMain(controlPlane, addr, name string, cacheSize, maxObjectSize int64, maxStaleness time.Duration, pop string, shutdownTimeout time.Duration, lim *listenerFlags, log *slog.Logger) error {
	if controlPlane == "" {
		return errors.New("--control-plane is required")
	}
	keyID, secret := os.Getenv("OPENFRONT_ACCESS_KEY_ID"), os.Getenv("OPENFRONT_SECRET_ACCESS_KEY")
	if (keyID == "") != (secret == "") {
		return errors.New("set both OPENFRONT_ACCESS_KEY_ID and OPENFRONT_SECRET_ACCESS_KEY, or neither")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--edge-addr: %w", err)
	}
	url := "http://" + ln.Addr().String()
	if name == "" {
		host, _ := os.Hostname()
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		name = host + "-" + port
	}
	log = log.With("edge", name)
	registry := distribution.NewRegistry()
	cache := edge.New(edge.Config{Distributions: registry, CacheSize: cacheSize, MaxObjectSize: maxObjectSize, PopName: pop, Logger: log})
	defer cache.Close()
	follower := fleet.NewFollower(fleet.FollowerConfig{
		ControlPlane: controlPlane, Name: name, Addr: url,
		AccessKeyID: keyID, SecretAccessKey: secret,
		Registry: registry, Cache: cache, MaxStaleness: maxStaleness, Logger: log,
	})
	followCtx, stopFollowing := context.WithCancel(context.Background())
	defer stopFollowing()
	go follower.Run(followCtx)

	// The viewer listener (fasthttp): plain hits answered directly while
	// follower.Fresh, the rest through the Guard and the edge's handler.
	srv := cache.NewServer(lim.viewer(edge.ServerConfig{Handler: follower.Guard(cache), Fresh: follower.Fresh, Logger: log}))
	fmt.Printf("openfront edge listening on %s\n", url)
	log.Info("following the control plane", "control_plane", controlPlane, "max_staleness", maxStaleness)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop()
	stopFollowing()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("shutdown", "err", err)
	}
	log.Info("stopped")
	return nil
}
