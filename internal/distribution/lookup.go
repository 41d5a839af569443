package distribution

import (
	"net"
	"strings"
)

// ByHost returns the distribution a viewer's Host header names: one with
// an alias (alternate domain name) equal to host, else one whose Domain
// equals host, else one with a wildcard alias "*.example.com" for any
// single label in front of example.com, as CloudFront matches them. The
// comparison ignores case, a port and a trailing dot. The value must not be
// modified.
func (r *Registry) ByHost(host string) (*Distribution, bool) {
	host = normalizeHost(host)
	if host == "" {
		return nil, false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if id, ok := r.byAlias[host]; ok {
		if d, ok := r.byID[id]; ok {
			return d, true
		}
	}
	for _, d := range r.byID {
		if strings.EqualFold(d.Domain, host) {
			return d, true
		}
	}
	if _, parent, ok := strings.Cut(host, "."); ok && parent != "" {
		if id, ok := r.byAlias["*."+parent]; ok {
			if d, ok := r.byID[id]; ok {
				return d, true
			}
		}
	}
	return nil, false
}

// normalizeHost lower-cases host and strips a port and a trailing dot.
func normalizeHost(host string) string {
	// Only a host with a ':' can have a port: SplitHostPort allocates an
	// error for every other, which is every viewer request on port 80.
	if strings.IndexByte(host, ':') >= 0 {
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	}
	host = strings.TrimSuffix(host, ".")
	return strings.ToLower(host)
}
