// Package edge is openfront's edge: a caching reverse proxy that answers
// viewers for every distribution, picked by the Host header, and whose
// cache CreateInvalidation really purges.
//
// It behaves as a CloudFront edge running a distribution's cache behaviors
// with legacy cache settings (behavior.go). A request is served by the
// first CacheBehaviors item whose PathPattern matches its normalized path
// (path.go), else by the default behavior; each behavior has its own target origin (origin
// path, custom headers, ports and protocol policy, connection attempts and
// timeouts), AllowedMethods (others get CloudFront's 403) and
// CachedMethods, TTLs, query strings, forwarded headers and cookies. GET
// and HEAD are served from the cache, OPTIONS too when CachedMethods has
// it; concurrent misses of one object make one origin request, stale
// objects are revalidated with a conditional request, Range and
// conditional requests are answered from cached bodies, and responses
// carry X-Cache, Age, Via, X-Amz-Cf-Pop and X-Amz-Cf-Id. CustomErrorResponses
// replace an origin's error (or the edge's 502 and 504) with the
// ResponsePagePath object and ResponseCode, and give errors their
// ErrorCachingMinTTL (errorpage.go, ttl.go); DefaultRootObject answers "/".
// Objects live in one memory-bounded cache shared by all distributions and
// keyed by distribution Id and object name (see key.go).
//
// Edge implements invalidation.Applier: Apply makes an invalidation take
// effect on this edge before it returns, without scanning the cache (see
// markers.go). It also implements distribution.Deployer: it reads the
// registry on every request, so a configuration is in service as soon as
// the registry holds it (a new version is compiled once, on its first
// request).
//
// Cache, origin request and response headers policies are resources the
// fleet hands the edge (resources.go, policies.go): a behavior acts on
// those it names as soon as the edge holds them, and on an update from
// the next request. A behavior naming a policy the edge does not hold (a
// managed one) keeps the TTLs and query string setting the distribution
// package derived for it.
//
// Not yet: viewer protocol policies (the listener is plain HTTP:
// redirect-to-https and https-only are not enforced), compressing with
// Brotli and compressing answers that are not cached (Compress gzips
// cached objects, compress.go), origin groups (failover), caching of the
// edge's own 502 and 504, and signed URLs.
package edge

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/fastserve"
	fnrt "github.com/openfront/openfront/internal/function/runtime"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/originaccess"
	"github.com/openfront/openfront/internal/signing"
	"github.com/openfront/openfront/internal/sigv4"
)

// Distributions finds the distributions the edge serves.
// *distribution.Registry implements it.
type Distributions interface {
	// ByHost returns the distribution a viewer's Host header names.
	ByHost(host string) (*distribution.Distribution, bool)
	// Get returns the distribution with the Id.
	Get(id string) (*distribution.Distribution, bool)
}

// Config is what an Edge is built from. Only Distributions is required.
type Config struct {
	Distributions Distributions

	// CacheSize bounds the memory the cached objects take, in bytes
	// (bodies, headers, keys and a per-object overhead). 256 MiB when 0.
	CacheSize int64
	// MaxObjectSize is the largest body cached; larger ones stream from
	// the origin to the viewer uncached. 32 MiB when 0; never more than
	// CacheSize or 1 GiB.
	MaxObjectSize int64

	// PopName is the X-Amz-Cf-Pop this edge reports; "LOCAL1-C1" when empty.
	PopName string
	// Logger receives origin failures and maintenance; slog.Default when nil.
	Logger *slog.Logger

	// OriginConnectTimeout bounds connecting (and the TLS handshake) to an
	// origin whose configuration sets no ConnectionTimeout; 10s when 0,
	// CloudFront's default.
	OriginConnectTimeout time.Duration
	// OriginResponseTimeout bounds the wait for an origin's response
	// headers and then for each further part of its body, for an origin
	// whose configuration sets no ReadTimeout; 30s when 0, CloudFront's
	// default.
	OriginResponseTimeout time.Duration
	// OriginTLS configures TLS to https origins; system roots when nil.
	OriginTLS *tls.Config
	// Transport, when not nil, replaces the edge's own connection pool to
	// origins (OriginConnectTimeout and OriginTLS then do not apply).
	Transport http.RoundTripper

	// ErrorCachingMinTTL is how long 400, 403, 404, 405 and 414 responses
	// without their own max-age are cached: CloudFront's error caching
	// minimum TTL. 10s when 0; negative disables it.
	ErrorCachingMinTTL time.Duration
	// StaleRetention is how long an object is kept after it goes stale, to
	// be revalidated or served while the origin fails. 24h when 0.
	StaleRetention time.Duration
	// ReclaimInterval is how often markers of applied invalidations are
	// reclaimed; 1 minute when 0.
	ReclaimInterval time.Duration
	// SweepInterval is how often, at most, the cache is swept in the
	// background for dead objects that keep markers alive; 10 minutes when
	// 0. The sweep walks the cache, so it never runs when no markers wait.
	SweepInterval time.Duration

	// Now is the edge's clock for freshness; time.Now when nil.
	Now func() time.Time

	// Metrics receives the edge's counts (requests by result, origin
	// latency) per distribution; nothing is counted when nil.
	Metrics Metrics

	// S3Endpoint, when not nil, is an S3-compatible server (scheme and
	// host) that requests to origins whose domain name is an S3 bucket's
	// (s3origin.go) go to instead, path-style: the bucket as the first
	// segment of the path, then the origin path and the object's; the
	// origin's own protocol policy and ports then do not apply.
	S3Endpoint *url.URL
	// OriginAccessControl returns the origin access control whose Id an
	// origin names (distribution.Origin.OriginAccessControlID). It is
	// asked on every origin request to such an origin, so a changed
	// control applies at once. Nil: the edge's own table, which the
	// fleet's resource events fill (OriginAccessControl method).
	OriginAccessControl func(id string) (originaccess.Control, bool)
	// OriginCredentials sign the requests an origin access control has
	// signed (SigV4, service s3). Without them such requests go unsigned,
	// and a warning is logged once.
	OriginCredentials sigv4.Credentials
	// SignedCacheBytes bounds the cache of verified signed URL and cookie
	// signatures (signed.go); signing.DefaultCacheBytes when 0, none when
	// negative.
	SignedCacheBytes int

	// KeyValues is what CloudFront Functions' cf.kvs() reads; nil: the
	// KeyValueStores this edge learnt through the fleet (Edge.KeyValues).
	KeyValues fnrt.KeyValues
	// FunctionBudget is the time a function run may take before it is
	// interrupted (and the viewer gets a 503); fnrt.DefaultBudget when 0.
	FunctionBudget time.Duration
}

// Edge is a caching reverse proxy in front of every distribution's origin.
// It is an http.Handler for viewers and an invalidation.Applier. Build it
// with New and stop it with Close.
type Edge struct {
	dists          Distributions
	maxObject      int64
	pop            string
	via            string // the Via value this edge adds
	log            *slog.Logger
	now            func() time.Time
	realClock      bool // now is time.Now: its reading also serves as the Date
	errorTTL       time.Duration
	staleRetention time.Duration
	reclaimEvery   time.Duration
	sweepEvery     time.Duration
	transport      http.RoundTripper // with the origin response timeout
	proxy          *httputil.ReverseProxy
	metrics        Metrics             // never nil (nopMetrics)
	noDist         DistributionMetrics // requests naming no distribution
	s3Endpoint     *url.URL            // nil: S3 origins are fetched where their domain says
	oacs           func(id string) (originaccess.Control, bool)
	creds          sigv4.Credentials // signs for origin access controls
	noCredsOnce    sync.Once         // warns of missing credentials once
	signed         *signing.Verifier // checks signed URLs and cookies
	kv             fnrt.KeyValues    // cf.kvs()
	fnBudget       time.Duration     // a function run's budget

	cache   *otter.Cache[string, *entry]
	clock   atomic.Uint64 // advanced by each Apply; see markers.go
	flights flightGroup

	// states maps distribution Id -> state. The map is replaced (never
	// changed) under statesMu when a state is added: states are never
	// removed, so readers need no lock.
	statesMu sync.Mutex
	states   atomic.Pointer[map[string]*distState]

	// res is the edge's resources (resources.go), replaced as a whole
	// under resMu; nil until the first is put.
	resMu sync.Mutex
	res   atomic.Pointer[resources]

	sweptMu   sync.Mutex
	lastSweep time.Time // guarded by sweptMu

	ctx    context.Context // ends at Close; origin fills run under it
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ invalidation.Applier = (*Edge)(nil)

// New builds an Edge and starts its background reclaiming of markers.
func New(c Config) *Edge {
	if c.CacheSize <= 0 {
		c.CacheSize = 256 << 20
	}
	if c.MaxObjectSize <= 0 {
		c.MaxObjectSize = 32 << 20
	}
	c.MaxObjectSize = min(c.MaxObjectSize, c.CacheSize, 1<<30)
	if c.PopName == "" {
		c.PopName = "LOCAL1-C1"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.OriginConnectTimeout <= 0 {
		c.OriginConnectTimeout = 10 * time.Second
	}
	if c.OriginResponseTimeout <= 0 {
		c.OriginResponseTimeout = 30 * time.Second
	}
	if c.ErrorCachingMinTTL == 0 {
		c.ErrorCachingMinTTL = 10 * time.Second
	}
	if c.StaleRetention <= 0 {
		c.StaleRetention = 24 * time.Hour
	}
	if c.ReclaimInterval <= 0 {
		c.ReclaimInterval = time.Minute
	}
	if c.SweepInterval <= 0 {
		c.SweepInterval = 10 * time.Minute
	}
	realClock := c.Now == nil
	if realClock {
		c.Now = time.Now
	}
	rt := c.Transport
	if rt == nil {
		rt = newTransport(c.OriginConnectTimeout, c.OriginTLS)
	}
	if c.Metrics == nil {
		c.Metrics = nopMetrics{}
	}
	var viaID [16]byte
	_, _ = rand.Read(viaID[:])

	e := &Edge{
		dists:          c.Distributions,
		maxObject:      c.MaxObjectSize,
		pop:            c.PopName,
		via:            "1.1 " + hex.EncodeToString(viaID[:]) + ".cloudfront.net (CloudFront)",
		log:            c.Logger,
		now:            c.Now,
		realClock:      realClock,
		errorTTL:       max(c.ErrorCachingMinTTL, 0),
		staleRetention: c.StaleRetention,
		reclaimEvery:   c.ReclaimInterval,
		sweepEvery:     c.SweepInterval,
		transport:      originTransport{rt: rt, timeout: c.OriginResponseTimeout, connect: c.OriginConnectTimeout},
		metrics:        c.Metrics,
		noDist:         c.Metrics.Distribution(NoDistribution),
		oacs:           c.OriginAccessControl,
		creds:          c.OriginCredentials,
		signed:         signing.NewVerifier(c.SignedCacheBytes, c.Now),
		kv:             c.KeyValues,
		fnBudget:       c.FunctionBudget,
	}
	if e.oacs == nil {
		e.oacs = e.OriginAccessControl
	}
	if e.kv == nil {
		e.kv = e.KeyValues()
	}
	if ep := c.S3Endpoint; ep != nil && ep.Host != "" {
		e.s3Endpoint = &url.URL{Scheme: ep.Scheme, Host: ep.Host}
	}
	e.states.Store(&map[string]*distState{})
	e.proxy = &httputil.ReverseProxy{
		Rewrite:        e.rewritePassthrough,
		Transport:      e.transport,
		ModifyResponse: e.stampPassthrough,
		ErrorHandler:   e.passthroughError,
		ErrorLog:       slog.NewLogLogger(e.log.Handler(), slog.LevelWarn),
	}
	// otter rather than ristretto: a Set is visible to the next Get and is
	// never dropped (ristretto buffers Sets and may discard them, so a
	// miss may not be followed by a hit), the weigher bounds the cache in
	// bytes, expiry is per entry, and OnAtomicDeletion tells exactly when
	// an object leaves, which the reclaiming of markers counts on.
	e.cache = otter.Must(&otter.Options[string, *entry]{
		MaximumWeight: uint64(c.CacheSize),
		Weigher:       func(_ string, ent *entry) uint32 { return ent.weight },
		ExpiryCalculator: otter.ExpiryWritingFunc(func(en otter.Entry[string, *entry]) time.Duration {
			return max(en.Value.expires.Add(e.staleRetention).Sub(e.now()), time.Millisecond)
		}),
		OnAtomicDeletion: func(ev otter.DeletionEvent[string, *entry]) {
			ev.Value.ds.unpin(ev.Value.seq)
		},
	})
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.wg.Add(1)
	go e.maintain()
	return e
}

// Close stops the background work and the origin requests in flight.
func (e *Edge) Close() {
	e.cancel()
	e.wg.Wait()
	e.cache.StopAllGoroutines()
}

// Stats is a snapshot of the edge's cache.
type Stats struct {
	Objects int    // objects cached (approximately)
	Bytes   uint64 // their weight: what CacheSize bounds
	Markers int64  // invalidation markers not yet reclaimed
}

// Stats returns a snapshot of the edge's cache.
func (e *Edge) Stats() Stats {
	s := Stats{Objects: e.cache.EstimatedSize(), Bytes: e.cache.WeightedSize()}
	for _, d := range *e.states.Load() {
		s.Markers += d.markers.Load()
	}
	return s
}

// state returns the distribution's cache state, creating it. Every
// request asks, so the common case reads states without a lock: an
// RWMutex's read lock is a write to one shared cache line, which the
// cores of a busy edge would pass back and forth.
func (e *Edge) state(id string) *distState {
	if d := (*e.states.Load())[id]; d != nil {
		return d
	}
	e.statesMu.Lock()
	defer e.statesMu.Unlock()
	d := (*e.states.Load())[id]
	if d == nil {
		d = newDistState(id)
		d.metrics = e.metrics.Distribution(id)
		states := maps.Clone(*e.states.Load())
		states[id] = d
		e.states.Store(&states)
	}
	return d
}

// Apply makes inv take effect on this edge: when it returns, no object of
// the distribution that a path of the batch matches, cached or being
// fetched before, is served again. It costs O(total length of the paths),
// not O(cache size). Apply never fails except when ctx has ended.
func (e *Edge) Apply(ctx context.Context, inv invalidation.Invalidation) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, ok := e.dists.Get(inv.DistributionID)
	if !ok {
		return nil // deleted: nothing of it is served any more
	}
	s := e.site(d)
	pats := make([]pattern, len(inv.Batch.Paths))
	for i, p := range inv.Batch.Paths {
		pats[i] = invalidationPattern(s, p)
	}
	ds := s.ds
	ds.mu.Lock()
	seq := e.clock.Add(1)
	ds.mark(pats, seq)
	ds.mu.Unlock()
	// Exact paths also free their object now. The marker stays for a
	// fetch that started before and ends after.
	for _, p := range pats {
		if !p.wildcard {
			e.cache.Invalidate(inv.DistributionID + "\x00" + p.name)
		}
	}
	e.log.Debug("invalidation applied", "distribution", inv.DistributionID, "id", inv.ID, "paths", len(pats), "seq", seq)
	return nil
}

// Deploy puts d's configuration into service on this edge, which reads
// the registry on every request: it is in service already. Edge thus
// implements distribution.Deployer.
func (e *Edge) Deploy(ctx context.Context, d distribution.Distribution) error {
	return ctx.Err()
}

// X-Cache values.
const (
	xHit        = "Hit from cloudfront"
	xMiss       = "Miss from cloudfront"
	xRefreshHit = "RefreshHit from cloudfront"
	xError      = "Error from cloudfront"
)

// stamp sets the headers every response of the edge carries.
func (e *Edge) stamp(h http.Header, xcache, requestID string) {
	h.Set("X-Cache", xcache)
	h.Set("Via", e.via)
	h.Set("X-Amz-Cf-Pop", e.pop)
	h.Set("X-Amz-Cf-Id", requestID)
}

// ServeHTTP answers a viewer. The distribution is the one the Host header
// names (distribution.Registry.ByHost); none, or a disabled one, gets
// CloudFront's 403 "The request could not be satisfied" page. The request
// is then served by the first cache behavior whose PathPattern matches its
// normalized path (path.go), else by the default behavior; a path that
// climbs above the root through escaped separators gets a 400. A method outside the behavior's
// AllowedMethods gets CloudFront's 403. GET and HEAD go through the cache,
// and OPTIONS too when the behavior's CachedMethods has it; other allowed
// methods go to the behavior's origin uncached.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rid := newRequestID()
	carried, _ := fastserve.Carried(r).(*fnCarry)
	if carried != nil {
		rid = carried.rid // the id the function saw
	}
	id := rid.String()
	d, ok := e.dists.ByHost(r.Host)
	if !ok || !d.Enabled {
		reason := "no distribution for the Host header"
		if ok {
			reason = "distribution disabled"
		}
		e.refuse(w, r, http.StatusForbidden, msgBadRequest, id, reason)
		return
	}
	s := e.site(d)
	// Everything below sees the normalized path (path.go); normalizing it
	// again, as match and objectName do, finds nothing to do.
	rawPath := normalizePath(r.URL.EscapedPath())
	if climbsOut(rawPath) {
		e.errorPage(w, r, http.StatusBadRequest, msgBadRequest, id)
		return
	}
	b := s.match(rawPath)
	switch {
	case b.origin == nil: // the API refuses such a configuration
		e.refuse(w, r, http.StatusForbidden, msgBadRequest, id, "behavior without an origin")
		return
	case !b.allows(r.Method):
		e.refuse(w, r, http.StatusForbidden, msgMethod, id, "method not allowed by the cache behavior")
		return
	case b.trust != nil && !e.admitSigned(w, r, s, b, id):
		return // refused: a signed behavior and no valid signature (signed.go)
	}
	if b.fnRequest != nil {
		c := carried
		if c != nil && c.f != b.fnRequest {
			c = nil // the configuration changed since: run the one in force
		}
		r2, uri := e.runViewerRequest(w, r, s, b, rawPath, id, c)
		if r2 == nil {
			return // answered by the function, or its failure
		}
		r, rawPath = r2, normalizePath(uri)
		if climbsOut(rawPath) {
			e.errorPage(w, r, http.StatusBadRequest, msgBadRequest, id)
			return
		}
	}
	if b.fnResponse != nil {
		w = &responseWriter{ResponseWriter: w, e: e, r: r, rawPath: rawPath, s: s, f: b.fnResponse, id: id}
	}
	switch {
	case r.Method == http.MethodOptions && b.answersPreflight(r):
		e.preflight(w, r, b, id)
	case b.noCache:
		e.passthrough(w, r, s, b, id)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		if e.serveFresh(w, r, s, b, rawPath, rid) {
			return
		}
		e.serveCached(w, r, e.newRequest(r, s, b, http.MethodGet, rawPath, r.URL.RawQuery, id), rid)
	case r.Method == http.MethodOptions && b.cachedOptions:
		e.serveCached(w, r, e.newRequest(r, s, b, http.MethodOptions, rawPath, r.URL.RawQuery, id), rid)
	default:
		e.passthrough(w, r, s, b, id)
	}
}

// refuse answers a viewer request the edge will not serve with its error
// page, and says why in a debug line (the access log has no distribution
// to put a request for an unknown Host in).
func (e *Edge) refuse(w http.ResponseWriter, r *http.Request, status int, msg, id, reason string) {
	if e.log.Enabled(r.Context(), slog.LevelDebug) {
		e.log.Debug("viewer request refused", "reason", reason, "status", status, "host", r.Host,
			"method", r.Method, "path", r.URL.EscapedPath(), "remote", r.RemoteAddr, "request_id", id)
	}
	e.errorPage(w, r, status, msg, id)
}

// site returns d's compiled configuration, compiling it when d is a
// version of the distribution, or the resources are a version, this edge
// has not compiled it against yet.
func (e *Edge) site(d *distribution.Distribution) *site {
	ds := e.state(d.ID)
	res := e.res.Load()
	if s := ds.site.Load(); s != nil && s.d == d && s.res == res {
		return s
	}
	s := newSite(d, res)
	s.ds = ds
	if e.s3Endpoint != nil {
		for _, b := range s.all() {
			if b.s3ok && b.origin != nil {
				b.origin = s3EndpointURL(e.s3Endpoint, b.s3.bucket, b.origin.Path)
			}
		}
	}
	ds.site.Store(s)
	return s
}

// request is one request for a cacheable object: a viewer's, or the
// edge's own for a custom error page.
type request struct {
	d      *distribution.Distribution
	s      *site
	b      *behavior
	ds     *distState
	method string // what the origin is asked with: GET, or a cached OPTIONS
	name   string // object name (key.go)
	target string // what the origin is asked for
	key    string // cache key: Id, name and the variant of forwarded headers
	viewer *http.Request
	id     string // X-Amz-Cf-Id
	ae     string // the normalized Accept-Encoding of the key and the origin request; "" for none
	gzip   bool   // for the gzipped copy: compress what the origin sends
}

// newRequest builds the request for rawPath?rawQuery under behavior b.
func (e *Edge) newRequest(r *http.Request, s *site, b *behavior, method, rawPath, rawQuery, id string) *request {
	q := &request{d: s.d, s: s, b: b, ds: s.ds, method: method, viewer: r, id: id,
		name:   objectName(b, rawPath, rawQuery),
		target: originTarget(b, rawPath, rawQuery),
	}
	q.ae = b.acceptEncoding(r, method)
	q.key = cacheKey(s, b, r, method, q.name, q.ae)
	q.gzip = b.compress && hasGzip(q.ae)
	return q
}

// cacheKey returns the key the object name is cached under for viewer
// request r asking with method (GET, or a cached OPTIONS): the
// distribution's Id, the name and the variant of forwarded headers and
// cookies and of the normalized Accept-Encoding ae.
func cacheKey(s *site, b *behavior, r *http.Request, method, name, ae string) string {
	v := b.variant(r)
	if method == http.MethodOptions {
		v = "OPTIONS\n" + v // a header line always has '='
	}
	if ae != "" {
		v += aeVariant(ae)
	}
	if v == "" {
		return s.d.ID + "\x00" + name
	}
	return s.d.ID + "\x00" + name + "\x00" + v
}

// get returns the object q names: from the cache when it is fresh there,
// else from the origin through a fill that concurrent requests for the
// same key share. ok is false when the viewer went away. large, when not
// nil, is the origin's response that was too large to cache, which the
// caller must serve or close; a request that waited on such a fill gets
// res.tooLarge and must ask the origin itself.
func (e *Edge) get(q *request) (res fillResult, large *largeResponse, ok bool) {
	for attempt := 0; ; attempt++ {
		ent := e.lookup(q.ds, q.key, q.name)
		if ent != nil && e.now().Before(ent.expires) {
			return fillResult{ent: ent, xcache: xHit}, nil, true
		}
		var l *largeResponse // the leader's response too large to cache
		res, ok := e.flights.do(q.viewer.Context(), q.key, func() fillResult {
			res, lr := e.fill(q, ent)
			l = lr
			return res
		})
		switch {
		case !ok:
			return res, nil, false
		case l != nil:
			return res, l, true
		case res.ent != nil && q.ds.dead(q.name, res.ent.seq) && attempt < 2:
			// An invalidation came while the origin request was under
			// way; this viewer may have come after it: ask again.
			continue
		}
		return res, nil, true
	}
}

// serveCached answers a GET, HEAD or cached OPTIONS from the cache,
// filling it from the origin on a miss or when the object is stale. An
// error the distribution has a custom error page for is answered with it.
// rid is q.id's X-Amz-Cf-Id, for the fast path of a plain hit (hit.go).
func (e *Edge) serveCached(w http.ResponseWriter, r *http.Request, q *request, rid *requestID) {
	res, large, ok := e.get(q)
	switch {
	case !ok: // the viewer went away
	case large != nil:
		e.serveLarge(w, r, q, large)
	case res.tooLarge:
		e.passthrough(w, r, q.s, q.b, q.id)
	case res.ent == nil:
		e.failure(w, r, q.s, res.status, res.msg, q.id)
	case res.ent.status >= 400 && e.custom(w, r, q.s, res.ent.status, q.id):
	case fastHit(r, res.ent, q.b):
		e.serveFast(w, r, q.b, res.ent, res.xcache, res.xcache != xMiss, rid)
	default:
		e.serveEntry(w, r, q.b, res.ent, res.xcache, res.xcache != xMiss, q.id, res.fbl)
	}
}

// lookup returns the object cached under key, or nil when there is none or
// it is dead (then it is deleted).
func (e *Edge) lookup(ds *distState, key, name string) *entry {
	ent, ok := e.cache.GetIfPresent(key)
	if !ok {
		return nil
	}
	if ds.dead(name, ent.seq) {
		e.remove(key, ent)
		return nil
	}
	return ent
}

// remove deletes the object under key if it is still ent.
func (e *Edge) remove(key string, ent *entry) {
	e.cache.ComputeIfPresent(key, func(old *entry) (*entry, otter.ComputeOp) {
		if old == ent {
			return nil, otter.InvalidateOp
		}
		return old, otter.CancelOp
	})
}

// serveEntry answers from a cached (or once-fetched) object, with the
// response headers policy of b (nil: none). Objects with status 200 are
// served to GET and HEAD as http.ServeContent does, so Range, If-Range,
// If-None-Match and If-Modified-Since are answered from the cache. fbl is
// the origin's first-byte latency when the origin was asked.
func (e *Edge) serveEntry(w http.ResponseWriter, r *http.Request, b *behavior, ent *entry, xcache string, cached bool, id string, fbl time.Duration) {
	h := w.Header()
	for k, v := range ent.header {
		h[k] = v[:len(v):len(v)] // an Add must not write into the cached slice
	}
	if ent.status >= 400 {
		xcache = xError
	}
	e.stamp(h, xcache, id)
	if age := ent.originAge; cached || age > 0 {
		if cached {
			age += int64(e.now().Sub(ent.stored) / time.Second)
		}
		h.Set("Age", strconv.FormatInt(max(age, 0), 10))
	}
	e.applyHeadersPolicy(h, r, b, xcache, fbl, id)
	if ent.status == http.StatusOK && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		if _, ok := ent.header["Content-Type"]; !ok {
			h["Content-Type"] = nil // do not sniff: the origin sent none
		}
		http.ServeContent(w, r, "", ent.modTime, bytes.NewReader(ent.body))
		return
	}
	writeBody(w, r, ent.status, ent.body)
}

// writeBody writes status and body, with its Content-Length when the
// status may have a body.
func writeBody(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	if status == http.StatusNoContent || status == http.StatusNotModified || status < 200 {
		w.Header().Del("Content-Length")
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// serveLarge streams to the leader of a fill the response that turned out
// too large to cache. A Range request for an object whose size was known
// up front is sent to the origin again with its Range instead.
func (e *Edge) serveLarge(w http.ResponseWriter, r *http.Request, q *request, l *largeResponse) {
	resp := l.resp
	if _, ok := q.s.page(resp.StatusCode); ok {
		resp.Body.Close()
		e.custom(w, r, q.s, resp.StatusCode, q.id)
		return
	}
	if r.Method == http.MethodGet && r.Header.Get("Range") != "" && l.prefix == nil {
		resp.Body.Close()
		e.passthrough(w, r, q.s, q.b, q.id)
		return
	}
	defer resp.Body.Close()
	h := w.Header()
	for k, v := range cleanHeader(resp.Header) {
		if k != "Set-Cookie" || q.b.setCookie {
			h[k] = v
		}
	}
	xcache := xMiss
	if resp.StatusCode >= 400 {
		xcache = xError
	}
	e.stamp(h, xcache, q.id)
	e.applyHeadersPolicy(h, r, q.b, xcache, l.fbl, q.id)
	w.WriteHeader(resp.StatusCode)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := w.Write(l.prefix); err != nil {
		return
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		if r.Context().Err() != nil {
			return // the viewer went away
		}
		// The viewer must see a truncated response, not a short one that
		// looks complete: abort the connection as httputil.ReverseProxy does.
		e.log.Warn("origin body ended early", "distribution", q.d.ID, "object", q.name, "err", err)
		panic(http.ErrAbortHandler)
	}
}
