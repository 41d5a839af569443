package main

import (
	"log/slog"

	"github.com/openfront/openfront/internal/accesslog"
	"github.com/openfront/openfront/internal/edge"
)

// accessLog is the viewer listener's access log (--access-log-dir): none
// when dir is "".
type accessLog struct {
	l   *accesslog.Logger
	log *slog.Logger
}

// openAccessLog starts the access log under dir, if any.
func openAccessLog(dir string, log *slog.Logger) (*accessLog, error) {
	if dir == "" {
		return &accessLog{}, nil
	}
	l, err := accesslog.New(accesslog.Config{Dir: dir, Logger: log})
	if err != nil {
		return nil, err
	}
	log.Info("access logs", "dir", dir)
	return &accessLog{l: l, log: log}, nil
}

// observers returns the viewer listener's observers.
func (a *accessLog) observers() []edge.Observer {
	if a.l == nil {
		return nil
	}
	return []edge.Observer{edge.AccessLog(a.l)}
}

// close writes out the last lines; after the viewer listener has stopped.
func (a *accessLog) close() {
	if a.l == nil {
		return
	}
	if err := a.l.Close(); err != nil {
		a.log.Error("access log", "err", err)
	}
	if n := a.l.Dropped(); n > 0 {
		a.log.Warn("access log: lines dropped in all", "dropped", n)
	}
}
