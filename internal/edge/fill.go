package edge

import (
	"io"
	"math"
	"net/http"
	"sync/atomic"
	"time"
)

// entry is an object: a cached origin response, or one fetched for the
// viewers waiting on a fill but not cacheable. It is immutable once built.
type entry struct {
	ds        *distState
	name      string      // object name (key.go)
	seq       uint64      // the clock when the origin request that made it started
	status    int         //
	header    http.Header // origin's, without hop-by-hop, Content-Length, Age, Set-Cookie
	body      []byte      //
	stored    time.Time   // when the origin answered (last validation)
	expires   time.Time   // fresh until then
	modTime   time.Time   // Last-Modified, for conditional and If-Range requests
	etag      string      // validators for revalidation
	lastMod   string      //
	originAge int64       // the origin's Age header, seconds
	weight    uint32      // what it counts against CacheSize
	hit       *hitHeader  // the fast path's headers of a 200 (hit.go); nil: none
	// policyHit is hit under the last response headers policy it was
	// served with (hit.go: hitFields); set on a hit, not part of weight.
	policyHit atomic.Pointer[policyHit]
	gzipped   bool // the edge gzipped body (compress.go)
}

// entryOverhead approximates the memory of an entry and its cache node
// beyond its body, headers and key.
const entryOverhead = 320

// newEntry builds an object from an origin response. Set-Cookie is kept
// only when the behavior forwards cookies (the cache key then has them);
// otherwise one viewer's cookie would be handed to every other.
func newEntry(q *request, seq uint64, status int, h http.Header, body []byte, now time.Time, ttl time.Duration) *entry {
	ds, key, name := q.ds, q.key, q.name
	h = cleanHeader(h)
	originAge := int64(seconds(h.Get("Age")) / time.Second)
	h.Del("Content-Length")
	h.Del("Age")
	if !q.b.setCookie {
		h.Del("Set-Cookie")
	}
	ent := &entry{
		ds: ds, name: name, seq: seq, status: status, header: h, body: body,
		stored: now, expires: now.Add(ttl),
		etag: h.Get("ETag"), lastMod: h.Get("Last-Modified"), originAge: originAge,
	}
	if t, err := http.ParseTime(ent.lastMod); err == nil {
		ent.modTime = t
	}
	size := entryOverhead + 2*len(key) + len(body)
	for k, vs := range h {
		for _, v := range vs {
			size += len(k) + len(v) + 32
		}
	}
	ent.weight = uint32(min(size, math.MaxUint32))
	return ent
}

// fillResult is what a fill hands every viewer waiting on it.
type fillResult struct {
	ent      *entry // the object to serve; nil when the fill failed or tooLarge
	xcache   string // X-Cache for ent
	tooLarge bool   // the body is over MaxObjectSize: fetch it uncached
	status   int    // with neither: the error page's status and message
	msg      string
	fbl      time.Duration // the origin's first-byte latency; 0 when not asked
}

// largeResponse is an origin response too large to cache, for the leader
// of the fill to stream.
type largeResponse struct {
	resp   *http.Response
	prefix []byte        // the part of the body already read; nil if none was
	fbl    time.Duration // the origin's first-byte latency
}

// fill fetches the object from the origin and caches it when it may be.
// stale, when not nil, is the expired object the lookup found: it is
// revalidated (with If-None-Match / If-Modified-Since) and served instead
// of an origin failure or 5xx.
func (e *Edge) fill(q *request, stale *entry) (fillResult, *largeResponse) {
	ds := q.ds
	seq := ds.pin(&e.clock)
	kept := false // the pin passed to a cached object
	defer func() {
		if !kept {
			ds.unpin(seq)
		}
	}()
	if stale != nil && ds.dead(q.name, stale.seq) {
		stale = nil
	}
	conditional := stale != nil && (stale.etag != "" || stale.lastMod != "")
	resp, fbl, err := e.fetch(q, stale, conditional)
	if err != nil {
		return e.originFailed(q, stale, err), nil
	}
	now := e.now()
	switch {
	case resp.StatusCode == http.StatusNotModified && conditional:
		var ent *entry
		ent, kept = e.revalidate(q, seq, stale, resp, now)
		return fillResult{ent: ent, xcache: xRefreshHit, fbl: fbl}, nil
	case resp.StatusCode >= 500 && stale != nil:
		drain(resp.Body)
		e.log.Warn("origin error; serving the stale object", "distribution", q.d.ID, "target", q.target, "status", resp.StatusCode)
		return fillResult{ent: stale, xcache: xHit}, nil
	}
	body, large, err := e.readBody(resp)
	if err != nil {
		return e.originFailed(q, stale, err), nil
	}
	if large != nil {
		large.fbl = fbl
		return fillResult{tooLarge: true}, large
	}
	var ent *entry
	ent, kept = e.store(q, seq, resp, body, now)
	return fillResult{ent: ent, xcache: xMiss, fbl: fbl}, nil
}

// originFailed is a fill's result when its origin request failed: the
// stale object if there is one, else the edge's error for err.
func (e *Edge) originFailed(q *request, stale *entry, err error) fillResult {
	e.log.Warn("origin request failed", "distribution", q.d.ID, "target", q.target, "err", err)
	if stale != nil {
		return fillResult{ent: stale, xcache: xHit}
	}
	status, msg := originStatus(err)
	return fillResult{status: status, msg: msg}
}

// fetch makes q's origin request, conditional on stale's validators when
// conditional, and counts the origin's latency, which it returns.
func (e *Edge) fetch(q *request, stale *entry, conditional bool) (*http.Response, time.Duration, error) {
	b := q.b
	req, err := http.NewRequestWithContext(b.withTimeouts(e.ctx), q.method, originURL(b, q.target), nil)
	if err != nil {
		return nil, 0, err
	}
	b.forwardViewerHeaders(req, q.viewer)
	setOriginAcceptEncoding(b, req.Header, q.ae)
	e.setOriginHeaders(req.Header, q.viewer, q.id)
	if conditional && stale.etag != "" {
		req.Header.Set("If-None-Match", stale.etag)
	}
	if conditional && stale.lastMod != "" {
		req.Header.Set("If-Modified-Since", stale.lastMod)
	}
	e.signOrigin(req, b, q.viewer) // last: it signs the headers as sent
	start := time.Now()
	resp, err := e.transport.RoundTrip(req) // tries ConnectionAttempts times
	if err != nil {
		return nil, 0, err
	}
	fbl := time.Since(start)
	q.ds.metrics.OriginLatency(fbl)
	return resp, max(fbl, time.Nanosecond), nil
}

// revalidate makes the object of the origin's 304 to a conditional
// request: stale's body under stale's headers updated by resp's, pinned
// at seq. It caches it when it may be; kept says whether it did (the pin
// passed to the cache).
func (e *Edge) revalidate(q *request, seq uint64, stale *entry, resp *http.Response, now time.Time) (ent *entry, kept bool) {
	drain(resp.Body)
	h := stale.header.Clone()
	for k, v := range cleanHeader(resp.Header) {
		if k != "Content-Length" && k != "Content-Encoding" {
			h[k] = v
		}
	}
	if stale.gzipped {
		markCompressed(h) // the origin's ETag is the uncompressed body's
	}
	ttl, ok := freshness(stale.status, h, q.b, e.errorTTL, now)
	ent = newEntry(q, seq, stale.status, h, stale.body, now, ttl)
	ent.gzipped = stale.gzipped
	e.prepare(ent)
	if ok {
		kept = e.insert(q.key, ent)
	}
	return ent, kept
}

// readBody reads resp's body whole and closes it. A body larger than an
// object may be comes back as a largeResponse instead, with what was read
// of it, for the fill's leader to stream.
func (e *Edge) readBody(resp *http.Response) ([]byte, *largeResponse, error) {
	if resp.ContentLength > e.maxObject {
		return nil, &largeResponse{resp: resp}, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, e.maxObject+1))
	if err != nil {
		resp.Body.Close()
		return nil, nil, err
	}
	if int64(len(body)) > e.maxObject {
		return nil, &largeResponse{resp: resp, prefix: body}, nil
	}
	resp.Body.Close()
	return body, nil, nil
}

// store makes the object of the origin's response resp with body, pinned
// at seq (gzipped when the viewer asked for it and it is compressible),
// and caches it when it may be and can be revalidated or is fresh a
// while; kept says whether it did (the pin passed to the cache).
func (e *Edge) store(q *request, seq uint64, resp *http.Response, body []byte, now time.Time) (ent *entry, kept bool) {
	status := resp.StatusCode
	if q.method == http.MethodOptions && status == http.StatusNoContent {
		status = http.StatusOK // a preflight's usual answer: cached as a 200 would be
	}
	h := resp.Header
	gzipped := q.gzip && compressible(resp.StatusCode, h, len(body), resp.ContentLength)
	if gzipped {
		body = gzipBody(body)
		h = h.Clone()
		markCompressed(h)
	}
	ttl, ok := freshness(status, h, q.b, e.errorTTL, now)
	ent = newEntry(q, seq, resp.StatusCode, h, body, now, ttl)
	ent.gzipped = gzipped
	e.prepare(ent)
	if ok && (ttl > 0 || ent.etag != "" || ent.lastMod != "") {
		kept = e.insert(q.key, ent)
	}
	return ent, kept
}

// insert caches ent under key unless an invalidation has already made it
// dead or it could not fit, and reports whether it did. The pin of ent.seq
// passes to the cache, which drops it when ent leaves (New's
// OnAtomicDeletion).
func (e *Edge) insert(key string, ent *entry) bool {
	if uint64(ent.weight) > e.cache.GetMaximum() || ent.ds.dead(ent.name, ent.seq) {
		return false
	}
	e.cache.Set(key, ent)
	return true
}

// drain reads a little of body, so the connection can be reused, and
// closes it.
func drain(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, 64<<10)
	body.Close()
}
