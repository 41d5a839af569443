package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/openfront/openfront/internal/config"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/metrics"
)

// runEdge runs `openfront edge`: an edge alone, following a control plane.
func runEdge(args []string) int {
	cfg, log, code := loadSettings("openfront edge", config.Edge, args)
	if cfg == nil {
		return code
	}
	st := cfg.Settings
	lim := listenerSettings(st)
	if err := edgeMain(st.ControlPlane, st.EdgeAddr, st.EdgeName, int64(st.CacheSize), int64(st.MaxObjectSize), st.MaxStaleness, st.Pop,
		st.MetricsAddr, st.ShutdownTimeout, st.AccessLogDir, &lim, originAccessSettings(st), log); err != nil {
		fmt.Fprintf(os.Stderr, "openfront edge: %v\n", err)
		return 1
	}
	return 0
}

func edgeMain(controlPlane, addr, name string, cacheSize, maxObjectSize int64, maxStaleness time.Duration, pop, metricsAddr string, shutdownTimeout time.Duration, accessLogDir string, lim *listenerFlags, origins originAccess, log *slog.Logger) error {
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
	var reg *metrics.Registry
	var mln net.Listener
	if metricsAddr != "" {
		if mln, err = net.Listen("tcp", metricsAddr); err != nil {
			ln.Close()
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		reg = metrics.New()
	}
	m, err := newEdgeMember(memberConfig{
		follow: fleet.FollowerConfig{
			ControlPlane: controlPlane, Name: name, Addr: url,
			AccessKeyID: keyID, SecretAccessKey: secret,
			MaxStaleness: maxStaleness, Logger: log,
		},
		cacheSize: cacheSize, maxObjectSize: maxObjectSize, pop: pop,
		accessLogDir: accessLogDir, origins: origins, reg: reg, log: log,
	})
	if err != nil {
		ln.Close()
		if mln != nil {
			mln.Close()
		}
		return err
	}
	defer m.close() // after the listener has stopped
	followCtx, stopFollowing := context.WithCancel(context.Background())
	defer stopFollowing()
	followed := make(chan error, 1)
	go func() { followed <- m.follower.Run(followCtx) }()

	var ss servers
	ss.add(m.server(lim, log), ln)
	fmt.Printf("openfront edge listening on %s\n", url)
	if reg != nil {
		ss.add(reg.NewServer(log), mln)
		fmt.Printf("openfront metrics listening on http://%s/metrics\n", mln.Addr())
	}
	log.Info("following the control plane", "control_plane", controlPlane, "max_staleness", maxStaleness)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return ss.run(ctx, stop, shutdown{
		followed: followed,
		// Refused: another live process holds this edge's name.
		followedMsg:   "the control plane refused this edge",
		stopFollowing: stopFollowing,
		leave: func(sctx context.Context) {
			// Leave once the stream has ended (so that it cannot register
			// the edge again), and before the in-flight requests are done:
			// from here the edge is not fresh, and invalidations stop
			// waiting for it. An unreachable control plane costs at most
			// the shutdown timeout; the edge then leaves its registry
			// after --edge-timeout.
			select {
			case <-followed:
			case <-sctx.Done():
				log.Warn("could not leave the control plane's registry: the stream did not end within the shutdown timeout; the control plane drops this edge after its edge timeout")
				return
			}
			// Refused, it may still be in the registry as replaced:
			// leaving ends that too.
			if err := m.follower.Leave(sctx); err != nil {
				log.Warn("could not leave the control plane's registry; it drops this edge after its edge timeout", "err", err)
				return
			}
			log.Info("left the control plane's registry")
		},
		timeout: shutdownTimeout,
		log:     log,
	})
}
