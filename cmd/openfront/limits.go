package main

import (
	"time"

	"github.com/openfront/openfront/internal/cloudfront/fastapi"
	"github.com/openfront/openfront/internal/config"
	"github.com/openfront/openfront/internal/edge"
)

// listenerFlags are the timeouts and body limits of the listeners (the
// viewer listener of serve and edge, the API listener of serve), from the
// settings (docs/configuration.md): docs/architecture.md, "Limits and
// hostile input".
type listenerFlags struct {
	readHeaderTimeout time.Duration
	idleTimeout       time.Duration
	writeTimeout      time.Duration
	bodyTimeout       time.Duration
	minBodyRate       int
	apiBodyBudget     int64 // serve only
}

// listenerSettings returns the listeners' limits of s.
func listenerSettings(s config.Settings) listenerFlags {
	return listenerFlags{
		readHeaderTimeout: s.ReadHeaderTimeout, idleTimeout: s.IdleTimeout, writeTimeout: s.WriteTimeout,
		bodyTimeout: s.BodyTimeout, minBodyRate: s.MinBodyRate, apiBodyBudget: int64(s.APIBodyBudget),
	}
}

// rate is the fastserve MinBodyRate of --min-body-rate (0: none).
func (l *listenerFlags) rate() int {
	if l.minBodyRate == 0 {
		return -1
	}
	return l.minBodyRate
}

// viewer sets the viewer listener's limits on c.
func (l *listenerFlags) viewer(c edge.ServerConfig) edge.ServerConfig {
	c.ReadHeaderTimeout, c.IdleTimeout, c.WriteTimeout, c.BodyTimeout = l.readHeaderTimeout, l.idleTimeout, l.writeTimeout, l.bodyTimeout
	c.MinBodyRate = l.rate()
	return c
}

// api sets the API listener's limits on c.
func (l *listenerFlags) api(c fastapi.Config) fastapi.Config {
	c.ReadHeaderTimeout, c.IdleTimeout, c.WriteTimeout, c.BodyTimeout = l.readHeaderTimeout, l.idleTimeout, l.writeTimeout, l.bodyTimeout
	c.MinBodyRate = l.rate()
	c.BodyBudget = l.apiBodyBudget
	return c
}
