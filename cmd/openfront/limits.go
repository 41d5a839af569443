package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/openfront/openfront/internal/cloudfront/fastapi"
	"github.com/openfront/openfront/internal/edge"
	"github.com/openfront/openfront/internal/fastserve"
)

// listenerFlags are the timeouts and body limits of the listeners (the
// viewer listener of serve and edge, the API listener of serve):
// docs/architecture.md, "Limits and hostile input".
type listenerFlags struct {
	readHeaderTimeout time.Duration
	idleTimeout       time.Duration
	writeTimeout      time.Duration
	bodyTimeout       time.Duration
	minBodyRate       int
	apiBodyBudget     int64 // serve only
}

// register defines the flags on fs; api adds the API listener's.
func (l *listenerFlags) register(fs *flag.FlagSet, api bool) {
	fs.DurationVar(&l.readHeaderTimeout, "read-header-timeout", 10*time.Second, "how long a client may take to send a request's header")
	fs.DurationVar(&l.idleTimeout, "idle-timeout", 2*time.Minute, "how long a kept-alive connection may wait for its next request")
	fs.DurationVar(&l.writeTimeout, "write-timeout", fastserve.DefaultWriteTimeout, "how long one write of an answer may wait for the client to read (a large answer is written in pieces, each with this long)")
	fs.DurationVar(&l.bodyTimeout, "body-timeout", 10*time.Minute, "how long a client may take to send a whole request body")
	fs.IntVar(&l.minBodyRate, "min-body-rate", fastserve.DefaultMinBodyRate, fmt.Sprintf("bytes per second a request body must average once its first %s has passed (0: no minimum)", fastserve.BodyRateGrace))
	if api {
		fs.Int64Var(&l.apiBodyBudget, "api-body-budget", fastserve.DefaultBufferBudget, "bytes of API request bodies held at once across connections (bodies are read whole to check their hash); past it, 503 ServiceUnavailable")
	}
}

// check refuses values the listeners cannot work with.
func (l *listenerFlags) check(api bool) error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"read-header-timeout", l.readHeaderTimeout}, {"idle-timeout", l.idleTimeout}, {"write-timeout", l.writeTimeout}, {"body-timeout", l.bodyTimeout}} {
		if d.v <= 0 {
			return fmt.Errorf("--%s must be positive, not %s", d.name, d.v)
		}
	}
	if l.minBodyRate < 0 {
		return fmt.Errorf("--min-body-rate must be 0 or more, not %d", l.minBodyRate)
	}
	if api && l.apiBodyBudget < 1<<20 {
		return fmt.Errorf("--api-body-budget must be at least 1 MiB (1048576), not %d", l.apiBodyBudget)
	}
	return nil
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
