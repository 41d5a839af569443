// Package console is openfront's web console, served under /console/ on
// the API listener: the distributions, their invalidations with live
// per-edge progress, a form that creates an invalidation through the same
// invalidation.Service as the API, the fleet's edge registry, and cache
// statistics computed from the Prometheus metrics. It is server-rendered
// HTML (html/template) with a little vanilla JavaScript that polls JSON
// endpoints under /console/api/, everything embedded in the binary.
//
// It is authenticated like the API: a sign-in with an access key id and
// secret key checked against the same keys SigV4 verifies, then a
// server-side session named by a random HttpOnly, SameSite=Strict cookie;
// every form carries the session's CSRF token. A key limited to some
// distributions sees only those (and not the edge registry, as the API's
// fleet endpoints refuse it). With no keys (open mode) there is no sign-in.
package console

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
)

// Prefix is the path under which the console is served.
const Prefix = "/console/"

// Defaults of Config's limits.
const (
	// DefaultSessionTTL is how long a session lasts after sign-in.
	DefaultSessionTTL = 8 * time.Hour
	// DefaultMaxSessions bounds the session table; signing in past it
	// ends the session closest to expiry.
	DefaultMaxSessions = 10000
	// MaxFormBytes bounds a form's body. Larger batches go through the
	// API, which takes up to 16 MiB.
	MaxFormBytes = 1 << 20
	// pageSize is how many invalidations a distribution's page lists.
	pageSize = 25
)

// Distributions is what the console reads of distributions
// (distribution.Service).
type Distributions interface {
	// Get returns the distribution id, or an error.
	Get(id string) (distribution.Distribution, error)
	// List returns up to max distributions ordered by Id, after marker,
	// and the next page's marker ("" when none).
	List(marker string, max int) ([]distribution.Distribution, string)
}

// Invalidations is the invalidation service the API uses
// (invalidation.Service): the console creates through it, so its rules
// and errors are the API's.
type Invalidations interface {
	// Create accepts a batch (a replay returns the earlier invalidation);
	// a rule's violation is an *invalidation.Error.
	Create(ctx context.Context, distributionID string, b invalidation.Batch) (invalidation.Invalidation, bool, error)
	// Get returns one invalidation of a distribution.
	Get(ctx context.Context, distributionID, id string) (invalidation.Invalidation, error)
	// List returns up to maxItems invalidations after marker, newest first.
	List(ctx context.Context, distributionID, marker string, maxItems int) (invalidation.Page, error)
}

// Fleet is the control plane's view of the edges (fleet.Hub).
type Fleet interface {
	// Status returns the registry.
	Status() fleet.Status
	// EventStatus says which edges applied the event logged under key
	// (fleet.InvalidationKey for an invalidation), if it is recent.
	EventStatus(key string) (fleet.EventStatus, bool)
}

// Gatherer gathers metric families; a prometheus.Gatherer (a
// *prometheus.Registry) is one.
type Gatherer interface {
	Gather() ([]*dto.MetricFamily, error)
}

// Key is an access key that may sign in: the API's keys.
type Key struct {
	Secret string
	// Distributions, when not empty, limits the key to these Ids.
	Distributions []string
}

// Config is what a Console is built from.
type Config struct {
	Distributions Distributions
	Invalidations Invalidations
	// Fleet may be nil: no edge registry and no per-edge progress.
	Fleet Fleet
	// Metrics may be nil: the pages say "metrics not enabled".
	Metrics Gatherer
	// Keys are the credentials that may sign in; empty means open mode
	// (no sign-in).
	Keys map[string]Key
	// EdgeTimeout is the hub's --edge-timeout: an edge silent for half
	// of it has stopped serving from its cache.
	EdgeTimeout time.Duration
	// SessionTTL (DefaultSessionTTL when 0) and MaxSessions
	// (DefaultMaxSessions when 0) bound sessions.
	SessionTTL  time.Duration
	MaxSessions int
	Logger      *slog.Logger
	Now         func() time.Time // time.Now when nil
}

// Console serves the web console. It is an http.Handler for paths under
// Prefix.
type Console struct {
	c        Config
	sessions *sessions
	// openCSRF is the form token of open mode, where there is no
	// session: it still keeps other sites from posting forms.
	openCSRF string
	mux      *http.ServeMux
	pages    map[string]*template.Template
	log      *slog.Logger
	now      func() time.Time
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New returns the console for c.
func New(c Config) *Console {
	if c.SessionTTL <= 0 {
		c.SessionTTL = DefaultSessionTTL
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.EdgeTimeout <= 0 {
		c.EdgeTimeout = 30 * time.Second
	}
	cs := &Console{c: c, log: c.Logger, now: c.Now, openCSRF: randomToken()}
	if cs.log == nil {
		cs.log = slog.Default()
	}
	if cs.now == nil {
		cs.now = time.Now
	}
	cs.sessions = newSessions(c.SessionTTL, c.MaxSessions, cs.now)
	cs.pages = parsePages()

	m := http.NewServeMux()
	m.HandleFunc("GET /console/{$}", cs.authed(cs.serveDistributions))
	m.HandleFunc("GET /console/signin", cs.serveSignInForm)
	m.HandleFunc("POST /console/signin", cs.serveSignIn)
	m.HandleFunc("POST /console/signout", cs.authed(cs.serveSignOut))
	m.HandleFunc("GET /console/edges", cs.authed(cs.serveEdges))
	m.HandleFunc("GET /console/distributions/{id}", cs.authed(cs.serveDistribution))
	m.HandleFunc("POST /console/distributions/{id}/invalidations", cs.authed(cs.serveCreateInvalidation))
	m.HandleFunc("GET /console/distributions/{id}/invalidations/{inv}", cs.authed(cs.serveInvalidation))
	m.HandleFunc("GET /console/api/distributions/{id}/invalidations", cs.authedAPI(cs.serveInvalidationsJSON))
	m.HandleFunc("GET /console/api/distributions/{id}/invalidations/{inv}", cs.authedAPI(cs.serveInvalidationJSON))
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	m.HandleFunc("/console/", cs.authed(func(w http.ResponseWriter, r *http.Request, s *session) {
		cs.errorPage(w, r, s, http.StatusNotFound, "Not found", "The console has no page "+r.Method+" "+r.URL.Path+".")
	}))
	cs.mux = m
	return cs
}

// OpenMode reports whether the console goes without sign-in.
func (cs *Console) OpenMode() bool { return len(cs.c.Keys) == 0 }

// ServeHTTP implements http.Handler for paths under Prefix (and
// "/console", redirected to Prefix).
func (cs *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	if r.URL.Path == "/console" {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	cs.mux.ServeHTTP(w, r)
}

// Mount returns a handler that serves the console's paths with cs and
// everything else with next.
func Mount(cs *Console, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == "/console" || strings.HasPrefix(p, Prefix) {
			cs.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// maysee reports whether the session's key may see distribution id.
func (cs *Console) maysee(s *session, id string) bool {
	if s.keyID == "" {
		return true
	}
	k := cs.c.Keys[s.keyID]
	return len(k.Distributions) == 0 || slices.Contains(k.Distributions, id)
}

// unrestricted reports whether the session's key may see the whole fleet.
func (cs *Console) unrestricted(s *session) bool {
	return s.keyID == "" || len(cs.c.Keys[s.keyID].Distributions) == 0
}

// distribution returns the distribution id if the session may see it;
// otherwise it answers the request and returns false.
func (cs *Console) distribution(w http.ResponseWriter, r *http.Request, s *session, id string) (distribution.Distribution, bool) {
	if !cs.maysee(s, id) {
		cs.errorPage(w, r, s, http.StatusForbidden, "Access denied", "Access key "+s.keyID+" is not allowed to see distribution "+id+".")
		return distribution.Distribution{}, false
	}
	d, err := cs.c.Distributions.Get(id)
	if err != nil {
		cs.errorPage(w, r, s, http.StatusNotFound, "No such distribution", "The specified distribution does not exist: "+id+".")
		return distribution.Distribution{}, false
	}
	return d, true
}

// statusOf maps an invalidation error to the HTTP status the API answers
// it with (internal/cloudfront's table of statuses).
func statusOf(err error) int {
	switch invalidation.CodeOf(err) {
	case "":
		return http.StatusInternalServerError
	case invalidation.CodeNoSuchDistribution, invalidation.CodeNoSuchInvalidation:
		return http.StatusNotFound
	case invalidation.CodeBatchTooLarge:
		return http.StatusRequestEntityTooLarge
	case invalidation.CodeInvalidationBatchAlreadyExists:
		return http.StatusConflict
	default:
		return http.StatusBadRequest
	}
}

var errTooLarge = errors.New("form too large")
