package edge

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// cacheControl is what the edge reads of an origin's Cache-Control.
type cacheControl struct {
	maxAge, sMaxAge time.Duration // -1 when absent
	noCache         bool
	noStore         bool
	private         bool
}

func parseCacheControl(h http.Header) cacheControl {
	cc := cacheControl{maxAge: -1, sMaxAge: -1}
	for _, line := range h.Values("Cache-Control") {
		for _, d := range strings.Split(line, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(strings.TrimSpace(name)) {
			case "max-age":
				cc.maxAge = seconds(val)
			case "s-maxage":
				cc.sMaxAge = seconds(val)
			case "no-cache":
				cc.noCache = true
			case "no-store":
				cc.noStore = true
			case "private":
				cc.private = true
			}
		}
	}
	return cc
}

// seconds parses a delta-seconds value; a malformed one counts as 0, which
// RFC 9111 asks caches to treat as stale.
func seconds(v string) time.Duration {
	n, err := strconv.ParseInt(strings.Trim(strings.TrimSpace(v), `"`), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	if n > int64(100*365*24*time.Hour/time.Second) {
		n = int64(100 * 365 * 24 * time.Hour / time.Second)
	}
	return time.Duration(n) * time.Second
}

// cacheableStatus are the statuses cached under the behavior's TTLs.
var cacheableStatus = map[int]bool{
	http.StatusOK:                   true,
	http.StatusNonAuthoritativeInfo: true,
	http.StatusMultipleChoices:      true,
	http.StatusMovedPermanently:     true,
	http.StatusPermanentRedirect:    true,
	http.StatusGone:                 true,
}

// errorStatus are the 4xx statuses cached for the error caching minimum TTL
// when the distribution configures none for them (CloudFront caches these
// and the 5xx for 10 seconds by default; openfront does not cache a 5xx
// unless a CustomErrorResponse gives it an ErrorCachingMinTTL).
var errorStatus = map[int]bool{
	http.StatusBadRequest:        true,
	http.StatusForbidden:         true,
	http.StatusNotFound:          true,
	http.StatusMethodNotAllowed:  true,
	http.StatusRequestURITooLong: true,
}

// noStoreErrors are the error statuses whose no-store, no-cache or private
// keeps them out of the cache; CloudFront ignores those directives on
// other errors it caches.
var noStoreErrors = map[int]bool{
	http.StatusNotFound:          true,
	http.StatusGone:              true,
	http.StatusRequestURITooLong: true,
	http.StatusNotImplemented:    true,
}

// freshness returns how long a response stays fresh in the cache and
// whether it may be cached at all, following CloudFront's documented table
// ("Manage how long content stays in the cache"):
//
//   - no-store, no-cache or private: not cached when MinTTL is 0, else
//     cached for MinTTL;
//   - s-maxage, else max-age: that value, raised to MinTTL, capped at MaxTTL;
//   - Expires (and no max-age): until then, raised to MinTTL, capped at
//     MaxTTL; a malformed Expires is in the past;
//   - none of these: DefaultTTL (kept between MinTTL and MaxTTL);
//   - MaxTTL 0: never cached (compileBehavior serves such a behavior
//     uncached, as CachingDisabled).
//
// 302 and 307 are cached only with an explicit lifetime. Other statuses
// below 400 are never cached.
//
// Errors follow "Control how long CloudFront caches errors": an error is
// cached for the greater of its error caching minimum TTL and its own
// s-maxage, max-age or Expires (capped at MaxTTL). The minimum TTL is the
// distribution's ErrorCachingMinTTL for the code (CustomErrorResponses),
// else errorTTL (CloudFront's 10 seconds) for the errorStatus codes and
// for a 4xx with an explicit lifetime; other errors, and every 5xx the
// distribution gives no ErrorCachingMinTTL, are not cached. no-store,
// no-cache or private keep a 404, 410, 414 or 501, and any error the
// distribution configures nothing for, out of the cache; on the others
// they are ignored.
func freshness(status int, h http.Header, b *behavior, errorTTL time.Duration, now time.Time) (time.Duration, bool) {
	cc := parseCacheControl(h)
	if status >= 400 {
		ttl, configured := b.errorCachingTTL(status)
		explicit, ok := lifetime(cc, h, now)
		if cc.noStore || cc.noCache || cc.private {
			if !configured || noStoreErrors[status] {
				return 0, false
			}
			return ttl, ttl > 0
		}
		switch {
		case configured:
		case status >= 500:
			return 0, false
		case errorStatus[status] || ok:
			ttl = errorTTL
		default:
			return 0, false
		}
		if ok {
			ttl = max(ttl, min(explicit, b.maxTTL))
		}
		return ttl, ttl > 0
	}
	if b.maxTTL <= 0 {
		return 0, false // MaxTTL 0 caches nothing, even with max-age
	}
	if cc.noStore || cc.noCache || cc.private {
		if b.minTTL <= 0 || !cacheableStatus[status] {
			return 0, false
		}
		return b.minTTL, true
	}
	ttl, explicit := lifetime(cc, h, now)
	if !explicit {
		ttl = b.defaultTTL
	}
	switch {
	case cacheableStatus[status]:
	case (status == http.StatusFound || status == http.StatusTemporaryRedirect) && explicit:
	default:
		return 0, false
	}
	return min(max(ttl, b.minTTL), b.maxTTL), true
}

// lifetime returns the lifetime a response gives itself: s-maxage, else
// max-age, else Expires; ok is false when it gives none.
func lifetime(cc cacheControl, h http.Header, now time.Time) (ttl time.Duration, ok bool) {
	switch {
	case cc.sMaxAge >= 0:
		return cc.sMaxAge, true
	case cc.maxAge >= 0:
		return cc.maxAge, true
	case h.Get("Expires") != "":
		if t, err := http.ParseTime(h.Get("Expires")); err == nil {
			return max(t.Sub(now), 0), true
		}
		return 0, true
	}
	return 0, false
}
