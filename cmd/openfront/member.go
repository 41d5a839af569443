package main

import (
	"fmt"
	"log/slog"
	"net/url"

	"github.com/openfront/openfront/internal/config"
	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/edge"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/metrics"
	"github.com/openfront/openfront/internal/sigv4"
)

// originAccess is how an edge reaches S3 bucket origins: the
// S3-compatible server their domains map to, and the credentials origin
// access controls sign with.
type originAccess struct {
	s3Endpoint *url.URL          // nil: fetched where their domain says
	creds      sigv4.Credentials // never logged (its String hides the secret)
}

// originAccessSettings returns what an edge takes from s (checked:
// s3_endpoint parses).
func originAccessSettings(s config.Settings) originAccess {
	o := originAccess{creds: sigv4.Credentials{AccessKeyID: s.OriginAccessKeyID, SecretAccessKey: s.OriginSecretAccessKey, SessionToken: s.OriginSessionToken}}
	if s.S3Endpoint != "" {
		o.s3Endpoint, _ = url.Parse(s.S3Endpoint)
	}
	return o
}

// edgeMember is one edge of the fleet: its cache, the follower that keeps
// the cache's distributions and purges in step with the control plane,
// and the viewer listener's access log. `serve` runs one in process (its
// follower calls the hub), `edge` runs one alone (over HTTP).
type edgeMember struct {
	cache     *edge.Edge
	follower  *fleet.Follower
	accessLog *accessLog
}

// memberConfig is what an edge member is made of.
type memberConfig struct {
	// follow says whom the follower follows and as which edge (Hub or
	// ControlPlane, Name, Addr, MaxStaleness, Logger); its Registry and
	// Cache are the member's own.
	follow        fleet.FollowerConfig
	cacheSize     int64
	maxObjectSize int64
	pop           string
	accessLogDir  string // "": no access log
	origins       originAccess
	reg           *metrics.Registry // nil: nothing is counted
	log           *slog.Logger      // the cache's and the access log's
}

// newEdgeMember opens the access log and makes the cache and its
// follower; nothing runs yet.
func newEdgeMember(c memberConfig) (*edgeMember, error) {
	accessLog, err := openAccessLog(c.accessLogDir, c.log)
	if err != nil {
		return nil, fmt.Errorf("--access-log-dir: %w", err)
	}
	registry := distribution.NewRegistry()
	var cache *edge.Edge
	var edgeMetrics edge.Metrics
	if c.reg != nil {
		edgeMetrics = c.reg.Edge(func() uint64 { return cache.Stats().Bytes })
	}
	cache = edge.New(edge.Config{
		Distributions: registry,
		CacheSize:     c.cacheSize,
		MaxObjectSize: c.maxObjectSize,
		PopName:       c.pop,
		Logger:        c.log,
		Metrics:       edgeMetrics,

		S3Endpoint:        c.origins.s3Endpoint,
		OriginCredentials: c.origins.creds,
	})
	c.follow.Registry, c.follow.Cache = registry, cache
	return &edgeMember{cache: cache, follower: fleet.NewFollower(c.follow), accessLog: accessLog}, nil
}

// server returns the viewer listener's server (fasthttp): plain hits
// answered directly while the follower is fresh, the rest through its
// Guard and the edge's handler.
func (m *edgeMember) server(l *listenerFlags, log *slog.Logger) *edge.Server {
	return m.cache.NewServer(l.viewer(edge.ServerConfig{Handler: m.follower.Guard(m.cache), Fresh: m.follower.Fresh, Logger: log,
		Observers: m.accessLog.observers()}))
}

// close writes out the access log and stops the cache; after the viewer
// listener has stopped.
func (m *edgeMember) close() {
	m.accessLog.close()
	m.cache.Close()
}
