package edge

import (
	"bytes"
	"net"
	"net/netip"
	"sync"
	"unsafe"

	"github.com/openfront/openfront/internal/accesslog"
	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/fastserve"
)

// Outcome is a viewer request as the edge answered it: built once per
// request by the viewer listener when it has observers
// (ServerConfig.Observers), for the access log and any other consumer
// (metrics). Byte slices in Entry point into the listener's buffers: an
// observer reads them during its call only, and keeps nothing.
type Outcome struct {
	// Distribution is the one the Host header named; nil when none did
	// (the request was refused).
	Distribution *distribution.Distribution
	// ConnID identifies the viewer's connection, unique per listener.
	ConnID uint64
	// Entry is the request as CloudFront's standard log records it; its
	// Result is the X-Cache's kind (Hit, RefreshHit, Miss, Error).
	Entry accesslog.Entry
}

// Observer is told of every viewer request once answered, on the request's
// goroutine: it must be quick and must not block.
type Observer func(*Outcome)

// AccessLog returns the Observer that writes each distribution's requests
// to l: every distribution is logged; one whose Logging is Enabled is
// logged under its Prefix, with its viewers' cookies if IncludeCookies.
// Requests that named no distribution are in no distribution's log.
func AccessLog(l *accesslog.Logger) Observer {
	return func(o *Outcome) {
		d := o.Distribution
		if d == nil {
			return
		}
		lg := &d.Config.Logging
		if lg.Enabled {
			l.Log(o.ConnID, d.ID, lg.Prefix, lg.IncludeCookies, &o.Entry)
		} else {
			l.Log(o.ConnID, d.ID, "", false, &o.Entry)
		}
	}
}

var outcomePool = sync.Pool{New: func() any { return new(Outcome) }}

// logResult is resultOf (metrics.go) over the answer's X-Cache as the
// listener holds it: its Result, the x-edge-result-type.
func logResult(xcache []byte) Result {
	switch string(xcache) {
	case xHit:
		return ResultHit
	case xMiss:
		return ResultMiss
	case xRefreshHit:
		return ResultRefreshHit
	}
	return ResultError
}

var (
	hdrXCache       = []byte("X-Cache")
	hdrCfID         = []byte("X-Amz-Cf-Id")
	hdrContentRange = []byte("Content-Range")
	hdrXFF          = []byte("X-Forwarded-For")
	hdrCookie       = []byte("Cookie")
)

// observe builds a's Outcome and hands it to every observer.
func (e *Edge) observe(observers []Observer, a *fastserve.Answer) {
	o := outcomePool.Get().(*Outcome)
	defer func() {
		*o = Outcome{}
		outcomePool.Put(o)
	}()
	rh, resp := a.Request, a.Response
	host := rh.Host()
	// ByHost keeps nothing of the string: no copy of the header's bytes.
	if d, ok := e.dists.ByHost(unsafe.String(unsafe.SliceData(host), len(host))); ok {
		o.Distribution = d
	}
	o.ConnID = a.ConnID
	en := &o.Entry
	en.Time = a.End
	en.Location = e.pop
	en.SentBytes = int64(a.HeaderBytes) + a.BodyBytes
	if ta, ok := a.Remote.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			en.ClientIP = ip.Unmap()
		}
		en.ClientPort = ta.Port
	}
	en.Method = rh.Method()
	if o.Distribution != nil {
		en.Host = o.Distribution.Domain
	}
	uri := rh.RequestURI()
	if len(uri) > 0 && uri[0] != '/' {
		// Absolute form: the path is after the authority.
		if i := bytes.Index(uri, []byte("://")); i >= 0 {
			uri = uri[i+3:]
			if j := bytes.IndexByte(uri, '/'); j >= 0 {
				uri = uri[j:]
			} else {
				uri = uri[len(uri):]
			}
		}
	}
	if i := bytes.IndexByte(uri, '?'); i >= 0 {
		en.URIStem, en.Query = uri[:i], uri[i+1:]
	} else {
		en.URIStem = uri
	}
	en.Status = a.Status
	en.Referer = rh.Referer()
	en.UserAgent = rh.UserAgent()
	if d := o.Distribution; d != nil && d.Config.Logging.Enabled && d.Config.Logging.IncludeCookies {
		en.Cookie = rawHeader(rh.RawHeaders(), hdrCookie)
	}
	xcache := resp.PeekBytes(hdrXCache)
	result := logResult(xcache).String()
	if a.Status == 0 {
		result = ResultError.String()
	}
	en.ResponseResult = result
	en.Result = result
	en.DetailedResult = result
	if !a.Complete && a.Status != 0 {
		// Cut short after it started: CloudFront's "Error" with the
		// response's own result type, a client communication error.
		en.Result, en.DetailedResult = "Error", "ClientCommError"
	}
	en.RequestID = resp.PeekBytes(hdrCfID)
	en.HostHeader = host
	en.Protocol = "http"
	en.ReceivedBytes = a.RequestBytes
	en.TimeTaken = a.End.Sub(a.Start)
	en.ForwardedFor = rh.PeekBytes(hdrXFF)
	en.ProtocolVersion = rh.Protocol()
	en.TimeToFirstByte = a.FirstByte.Sub(a.Start)
	if a.Status != 0 {
		en.ContentType = resp.ContentType()
	}
	en.ContentLength = -1
	if n := resp.ContentLength(); n >= 0 && a.Status != 0 {
		en.ContentLength = int64(n)
	}
	en.RangeStart, en.RangeEnd = contentRange(resp.PeekBytes(hdrContentRange))
	for _, obs := range observers {
		obs(o)
	}
}

// rawHeader returns the first value of the header name among raw header
// lines as received, without its surrounding white space.
func rawHeader(raw, name []byte) []byte {
	for len(raw) > 0 {
		var line []byte
		line, raw, _ = bytes.Cut(raw, []byte("\n"))
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(k, name) {
			return bytes.TrimSpace(v)
		}
	}
	return nil
}

// contentRange returns the first and last byte of a "bytes a-b/n"
// Content-Range; -1, -1 when there is none.
func contentRange(v []byte) (start, end int64) {
	v, ok := bytes.CutPrefix(v, []byte("bytes "))
	if !ok {
		return -1, -1
	}
	r, _, _ := bytes.Cut(v, []byte("/"))
	a, b, ok := bytes.Cut(r, []byte("-"))
	if !ok {
		return -1, -1
	}
	start, ok1 := parseUint(a)
	end, ok2 := parseUint(b)
	if !ok1 || !ok2 {
		return -1, -1
	}
	return start, end
}

func parseUint(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
