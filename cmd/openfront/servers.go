package main

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"
)

// server serves one listener until it is shut down: the API's, an edge's
// viewer listener, the metrics'.
type server interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

// servers are the servers a command runs, each on its listener.
type servers struct {
	srvs []server
	lns  []net.Listener
}

// add serves s on ln when the servers run.
func (ss *servers) add(s server, ln net.Listener) {
	ss.srvs = append(ss.srvs, s)
	ss.lns = append(ss.lns, ln)
}

// closeListeners closes the listeners of servers that will not run: a
// later step of the start failed.
func (ss *servers) closeListeners() {
	for _, l := range ss.lns {
		l.Close()
	}
}

// shutdown says how a command stops once its servers run.
type shutdown struct {
	// followed reports the error that ended the edge member's follower;
	// it is logged with followedMsg, and the command stops and returns it.
	followed    chan error
	followedMsg string
	notice      string // logged when the shutdown begins, if not ""
	// stopFollowing ends the follower; called before the servers stop.
	stopFollowing func()
	// leave, if set, runs beside the servers' shutdown with its deadline
	// (the edge leaving the control plane's registry).
	leave   func(context.Context)
	timeout time.Duration
	log     *slog.Logger
}

// run serves every server on its listener until one fails (its error is
// returned at once), the follower ends with an error, or ctx is done
// (SIGINT, SIGTERM). Then it calls stop (a second signal kills),
// stopFollowing, and shuts the servers down gracefully within the
// shutdown timeout: no new connections, in-flight requests finish.
func (ss *servers) run(ctx context.Context, stop context.CancelFunc, sd shutdown) error {
	errc := make(chan error, len(ss.srvs))
	for i, s := range ss.srvs {
		go func() { errc <- s.Serve(ss.lns[i]) }()
	}
	var runErr error
	select {
	case err := <-errc:
		return err
	case runErr = <-sd.followed:
		sd.log.Error(sd.followedMsg, "err", runErr)
		// Back for leave, which waits for the follower to have ended.
		sd.followed <- runErr
	case <-ctx.Done():
	}
	stop()
	if sd.notice != "" {
		sd.log.Info(sd.notice)
	}
	sd.stopFollowing()
	sctx, cancel := context.WithTimeout(context.Background(), sd.timeout)
	defer cancel()
	var wg sync.WaitGroup
	if sd.leave != nil {
		wg.Go(func() { sd.leave(sctx) })
	}
	for _, s := range ss.srvs {
		wg.Go(func() {
			if err := s.Shutdown(sctx); err != nil {
				sd.log.Error("shutdown", "err", err)
			}
		})
	}
	wg.Wait()
	sd.log.Info("stopped")
	return runErr
}
