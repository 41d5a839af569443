package edge

import (
	"encoding/base64"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"
)

// The fast path of a cache hit.
//
// Most requests an edge answers are a GET or HEAD of a cached 200 object
// with no Range and no conditional header. For those, what the general
// path (serveEntry through http.ServeContent) does is known in advance: it
// copies the origin's headers, stamps Via and X-Amz-Cf-Pop, sets
// Last-Modified, Accept-Ranges and Content-Length, and copies the body
// into the ResponseWriter through a 32 KiB buffer, flushing the headers
// and the first 512 bytes separately (2 write system calls for a 1 KiB
// hit, 5 for 100 KiB). The fast path builds those headers once per cached
// object (hitHeader, at fill time) and per request adds only X-Cache, Age,
// Date and X-Amz-Cf-Id, then writes the body with one Write: net/http
// sends a small hit in one write system call and a large one in two (its
// 4 KiB buffer, then the rest).
//
// Everything else, Range, If-Range, If-Match, If-None-Match,
// If-Modified-Since, If-Unmodified-Since, other statuses, cached OPTIONS,
// still goes through serveEntry's general path, so 206, 304, 412 and 416
// answers are http.ServeContent's.

// hitField is one header of a hitHeader. vals has len == cap, so that an
// Add by a later handler reallocates instead of writing into it.
type hitField struct {
	key  string
	vals []string
}

// hitHeader is the header set, but for X-Cache, Age, Date and X-Amz-Cf-Id,
// that serveEntry's general path gives a full 200 answer to a GET or HEAD
// of the object. Keys are canonical; it is immutable once built.
type hitHeader struct {
	fields []hitField
	size   int // bytes it takes, for the entry's weight
}

// buildHitHeader computes ent's hitHeader exactly as serveEntry and
// http.ServeContent build the header of a full 200 answer, minus the
// per-request headers. It returns nil when ent is not a 200.
func (e *Edge) buildHitHeader(ent *entry) *hitHeader {
	if ent.status != http.StatusOK {
		return nil
	}
	h := make(http.Header, len(ent.header)+6)
	for k, v := range ent.header {
		h[k] = v
	}
	e.stamp(h, "", "")
	delete(h, "X-Cache")
	delete(h, "X-Amz-Cf-Id")
	if _, ok := ent.header["Content-Type"]; !ok {
		h["Content-Type"] = nil // as serveEntry: the origin sent none, do not sniff
	}
	// What http.ServeContent sets for a full answer (setLastModified,
	// then Accept-Ranges and, without Content-Encoding, Content-Length).
	if !ent.modTime.IsZero() && !ent.modTime.Equal(time.Unix(0, 0)) {
		h.Set("Last-Modified", ent.modTime.UTC().Format(http.TimeFormat))
	}
	h.Set("Accept-Ranges", "bytes")
	if h.Get("Content-Encoding") == "" {
		h.Set("Content-Length", strconv.Itoa(len(ent.body)))
	}
	hh := &hitHeader{fields: make([]hitField, 0, len(h))}
	for k, v := range h {
		hh.fields = append(hh.fields, hitField{key: k, vals: v[:len(v):len(v)]})
		hh.size += len(k) + 32
		for _, s := range v {
			hh.size += len(s) + 16
		}
	}
	return hh
}

// prepare finishes an entry built by a fill before it is cached or
// served: its fast-path header, counted in its weight.
func (e *Edge) prepare(ent *entry) {
	if ent.hit = e.buildHitHeader(ent); ent.hit != nil {
		ent.weight = uint32(min(uint64(ent.weight)+uint64(ent.hit.size), uint64(^uint32(0))))
	}
}

// fastHit reports whether r may be answered from ent by serveFast under
// behavior b: a GET or HEAD of a 200 object without a header that makes
// http.ServeContent answer anything but the full object, on a behavior
// whose response headers policy, if any, adds nothing that depends on
// the request (CORS for a request with Origin, a sampled Server-Timing).
func fastHit(r *http.Request, ent *entry, b *behavior) bool {
	return ent.hit != nil && fastRequest(r) && (b.headersPolicy == nil || !b.headersPolicy.perRequest(r))
}

// policyHit is an object's fast-path header under one response headers
// policy: its hitHeader with the policy's removals, security and custom
// headers applied.
type policyHit struct {
	p   *headersPolicy
	hit *hitHeader
}

// hitFields returns the fast-path header of ent under behavior b: ent's
// own, or with b's response headers policy applied, built on the first
// hit under that policy (a new version of the policy is another pointer)
// and kept with the object.
func hitFields(ent *entry, b *behavior) *hitHeader {
	p := b.headersPolicy
	if p == nil {
		return ent.hit
	}
	if ph := ent.policyHit.Load(); ph != nil && ph.p == p {
		return ph.hit
	}
	h := make(http.Header, len(ent.hit.fields)+len(p.set))
	for _, f := range ent.hit.fields {
		h[f.key] = f.vals
	}
	p.applyStatic(h)
	hh := &hitHeader{fields: make([]hitField, 0, len(h))}
	for k, v := range h {
		hh.fields = append(hh.fields, hitField{key: k, vals: v[:len(v):len(v)]})
	}
	ent.policyHit.Store(&policyHit{p: p, hit: hh})
	return hh
}

// fastRequest reports whether r is a GET or HEAD that http.ServeContent
// would answer with the full object. Header values are read from the map
// directly: the server stores them under canonical keys, and Header.Get
// would treat an empty value as absent too.
func fastRequest(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	h := r.Header
	return absent(h["Range"]) && absent(h["If-None-Match"]) && absent(h["If-Modified-Since"]) &&
		absent(h["If-Match"]) && absent(h["If-Unmodified-Since"])
}

// absent reports whether a header with values v counts as not sent, as
// Header.Get == "" does.
func absent(v []string) bool { return len(v) == 0 || v[0] == "" }

// serveFresh answers a GET or HEAD for rawPath under behavior b by
// serveFast when the object is cached, fresh and fastHit, and reports
// whether it did. It builds no request (newRequest): on a plain hit the
// key is all there is to compute. Anything else is left to serveCached,
// which looks the object up again.
func (e *Edge) serveFresh(w http.ResponseWriter, r *http.Request, s *site, b *behavior, rawPath string, rid *requestID) bool {
	ent, now := e.freshEntry(r, s, b, rawPath)
	if ent == nil {
		return false
	}
	e.writeFast(w, r, hitFields(ent, b), ent, xHit, true, rid, now)
	return true
}

// freshEntry returns the entry serveFresh answers r with, and the time it
// read; nil when r is not one to answer that way.
func (e *Edge) freshEntry(r *http.Request, s *site, b *behavior, rawPath string) (*entry, time.Time) {
	if !fastRequest(r) {
		return nil, time.Time{}
	}
	if b.headersPolicy != nil && b.headersPolicy.perRequest(r) {
		return nil, time.Time{}
	}
	var key, name string
	if ae := b.acceptEncoding(r, http.MethodGet); b.keyVaries() || ae != "" {
		name = objectName(b, rawPath, r.URL.RawQuery)
		key = cacheKey(s, b, r, http.MethodGet, name, ae)
	} else {
		key, name = keyedName(s.d.ID, "", b, rawPath, r.URL.RawQuery) // as cacheKey, in one allocation
	}
	ent := e.lookup(s.ds, key, name)
	if ent == nil || ent.hit == nil {
		return nil, time.Time{}
	}
	// One reading of the clock for freshness, Age and (with the real
	// clock) Date: under a hypervisor clock_gettime is not free.
	now := e.now()
	if !now.Before(ent.expires) {
		return nil, time.Time{}
	}
	return ent, now
}

// X-Cache values as header values, shared by every fast-path answer.
var (
	xHitVals        = []string{xHit}
	xMissVals       = []string{xMiss}
	xRefreshHitVals = []string{xRefreshHit}
)

// serveFast answers r with ent's full 200 body under behavior b (fastHit
// is true).
func (e *Edge) serveFast(w http.ResponseWriter, r *http.Request, b *behavior, ent *entry, xcache string, cached bool, id *requestID) {
	var now time.Time
	if cached || ent.originAge > 0 {
		now = e.now()
	}
	e.writeFast(w, r, hitFields(ent, b), ent, xcache, cached, id, now)
}

// writeFast is serveFast with the object's fast-path header hit and the
// edge's clock read: now, needed only when cached or ent has an origin
// Age.
func (e *Edge) writeFast(w http.ResponseWriter, r *http.Request, hit *hitHeader, ent *entry, xcache string, cached bool, id *requestID, now time.Time) {
	h := w.Header()
	for _, f := range hit.fields {
		h[f.key] = f.vals
	}
	switch xcache {
	case xHit:
		h["X-Cache"] = xHitVals
	case xMiss:
		h["X-Cache"] = xMissVals
	case xRefreshHit:
		h["X-Cache"] = xRefreshHitVals
	default:
		h["X-Cache"] = []string{xcache}
	}
	h["X-Amz-Cf-Id"] = id.vals[:]
	if age := ent.originAge; cached || age > 0 {
		if cached {
			age += int64(now.Sub(ent.stored) / time.Second)
		}
		h["Age"] = ageValue(max(age, 0))
	}
	if !e.realClock || now.IsZero() {
		now = time.Now() // Date is the real time, whatever the edge's clock
	}
	h["Date"] = httpDate(now)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(ent.body)
	}
}

// ageTable holds the Age values of the first hour, so that most hits
// allocate none.
var ageTable = func() []string {
	t := make([]string, 3600)
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

// ageValue returns the header value of an Age of n seconds.
func ageValue(n int64) []string {
	if n < int64(len(ageTable)) {
		return ageTable[n : n+1 : n+1]
	}
	return []string{strconv.FormatInt(n, 10)}
}

// dateValue is the Date header of one second.
type dateValue struct {
	unix int64
	vals []string
}

var currentDate atomic.Pointer[dateValue]

// httpDate returns the Date header value of now, formatted once per
// second (net/http would format it on every response).
func httpDate(now time.Time) []string {
	sec := now.Unix()
	if d := currentDate.Load(); d != nil && d.unix == sec {
		return d.vals
	}
	d := &dateValue{unix: sec, vals: []string{now.UTC().Format(http.TimeFormat)}}
	currentDate.Store(d)
	return d.vals
}

// requestIDLen is the length of an X-Amz-Cf-Id: 40 bytes in base64.
const requestIDLen = 56

// requestID is a request's X-Amz-Cf-Id, its bytes and its header value in
// one allocation.
type requestID struct {
	b    [requestIDLen]byte
	vals [1]string // the id; a string over b, which never changes after
}

// newRequestID returns an X-Amz-Cf-Id shaped like CloudFront's: 56
// characters of URL-safe base64 (40 random bytes). The id identifies a
// request in logs and need not be secret, so it comes from math/rand/v2's
// per-thread ChaCha8 generator rather than a crypto/rand system call.
func newRequestID() *requestID {
	var raw [40]byte
	for i := 0; i < len(raw); i += 8 {
		u := rand.Uint64()
		for j := range 8 {
			raw[i+j] = byte(u >> (8 * j))
		}
	}
	id := new(requestID)
	base64.URLEncoding.Encode(id.b[:], raw[:])
	id.vals[0] = unsafe.String(&id.b[0], requestIDLen)
	return id
}

// String returns the id.
func (id *requestID) String() string { return id.vals[0] }
