// Package accesslog writes CloudFront's standard (legacy) access logs: one
// line per viewer request in the W3C-style format CloudFront delivers to
// S3, tab-separated under a "#Version: 1.0" and a "#Fields:" line, in
// gzip files named <prefix><distribution id>.<YYYY-MM-DD-HH>.<unique>.gz
// under a directory.
//
// A request's line is formatted by the caller's goroutine into one of a
// few buffers (no goroutine, no allocation per request); one writer
// goroutine compresses full buffers into the files, rotates them hourly
// and closes a gzip member at every flush, so a file is readable whole
// after each. A slow or failing disk never blocks a request: past a
// bounded backlog lines are dropped and counted (logger.go).
package accesslog

import (
	"net/netip"
	"strconv"
	"time"
)

// Version is the first line of every log file.
const Version = "#Version: 1.0"

// Fields is the second line of every log file: the 33 fields of
// CloudFront's standard log, in order.
const Fields = "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end"

// Entry is one viewer request as the log records it. Byte-slice fields
// may point into a server's buffers: they are read only during the call
// they are passed to. Empty fields are written as "-".
type Entry struct {
	// Time is when the answer was finished; written in UTC.
	Time     time.Time
	Location string // x-edge-location: the edge's PoP name
	// SentBytes is what the server sent the viewer, header included.
	SentBytes int64
	ClientIP  netip.Addr
	// ClientPort is the viewer's port; 0 writes "-".
	ClientPort int
	Method     []byte
	// Host is the distribution's domain name (cs(Host)); HostHeader the
	// Host header the viewer sent (x-host-header).
	Host       string
	URIStem    []byte // the request target's path, as received
	Status     int    // 0 writes "000": no answer was sent
	Referer    []byte
	UserAgent  []byte
	Query      []byte // without the '?'
	Cookie     []byte // written only when the distribution includes cookies
	Result     string // x-edge-result-type: Hit, RefreshHit, Miss, Error...
	RequestID  []byte // X-Amz-Cf-Id
	HostHeader []byte
	Protocol   string // cs-protocol: http or https
	// ReceivedBytes is what the viewer sent, header and body.
	ReceivedBytes   int64
	TimeTaken       time.Duration
	ForwardedFor    []byte
	SSLProtocol     string
	SSLCipher       string
	ResponseResult  string // x-edge-response-result-type
	ProtocolVersion []byte // HTTP/1.1...
	TimeToFirstByte time.Duration
	DetailedResult  string // x-edge-detailed-result-type
	ContentType     []byte
	// ContentLength is the answer's Content-Length; negative writes "-".
	ContentLength int64
	// RangeStart and RangeEnd are the answer's Content-Range; negative
	// writes "-".
	RangeStart, RangeEnd int64
}

// escaped holds the bytes CloudFront writes URL-encoded in a field (1):
// ASCII 0 to 32, 127 and higher, and < > " # % { } | \ ^ ~ [ ] ` ' (the
// developer guide's "Standard log file format").
var escaped = func() (t [256]uint8) {
	for c := 0; c <= 32; c++ {
		t[c] = 1
	}
	for c := 127; c < 256; c++ {
		t[c] = 1
	}
	for _, c := range []byte("<>\"#%{}|\\^~[]`'") {
		t[c] = 1
	}
	return t
}()

const hexDigits = "0123456789ABCDEF"

// appendField appends v URL-encoded as CloudFront encodes field values,
// "-" when empty.
func appendField[T string | []byte](dst []byte, v T) []byte {
	if len(v) == 0 {
		return append(dst, '-')
	}
	// Runs of bytes that need no escape are copied whole; eight bytes at
	// a time are checked with one branch.
	start, i := 0, 0
	for i < len(v) {
		if i+8 <= len(v) {
			w := v[i : i+8]
			if escaped[w[0]]|escaped[w[1]]|escaped[w[2]]|escaped[w[3]]|escaped[w[4]]|escaped[w[5]]|escaped[w[6]]|escaped[w[7]] == 0 {
				i += 8
				continue
			}
		}
		if c := v[i]; escaped[c] != 0 {
			dst = append(dst, v[start:i]...)
			dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
			start = i + 1
		}
		i++
	}
	return append(dst, v[start:]...)
}

// appendInt appends n, or "-" when it is negative.
func appendInt(dst []byte, n int64) []byte {
	if n < 0 {
		return append(dst, '-')
	}
	return strconv.AppendInt(dst, n, 10)
}

// appendSeconds appends d in seconds to the thousandth, as 0.082.
func appendSeconds(dst []byte, d time.Duration) []byte {
	ms := max(d.Milliseconds(), 0)
	dst = strconv.AppendInt(dst, ms/1000, 10)
	f := ms % 1000
	return append(dst, '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
}

// appendDateTime appends t's UTC date and time as "2019-12-04\t21:02:31".
func appendDateTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	dst = append(dst, byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-')
	dst = append2(dst, int(mo))
	dst = append(dst, '-')
	dst = append2(dst, d)
	dst = append(dst, '\t')
	dst = append2(dst, h)
	dst = append(dst, ':')
	dst = append2(dst, mi)
	dst = append(dst, ':')
	return append2(dst, s)
}

func append2(dst []byte, n int) []byte { return append(dst, byte('0'+n/10), byte('0'+n%10)) }

// AppendLine appends e's log line, with its newline. The cookie is
// written only when cookies is true (the distribution's
// Logging.IncludeCookies).
func AppendLine(dst []byte, e *Entry, cookies bool) []byte {
	return appendLine(appendDateTime(dst, e.Time), e, cookies)
}

// dateTimeLen is the length of appendDateTime's text.
const dateTimeLen = len("2006-01-02\t15:04:05")

// appendLine is AppendLine after the date and time.
func appendLine(dst []byte, e *Entry, cookies bool) []byte {
	dst = append(dst, '\t')
	dst = appendField(dst, e.Location)
	dst = append(dst, '\t')
	dst = appendInt(dst, e.SentBytes)
	dst = append(dst, '\t')
	if e.ClientIP.IsValid() {
		dst = e.ClientIP.Unmap().AppendTo(dst)
	} else {
		dst = append(dst, '-')
	}
	dst = append(dst, '\t')
	dst = appendField(dst, e.Method)
	dst = append(dst, '\t')
	dst = appendField(dst, e.Host)
	dst = append(dst, '\t')
	dst = appendField(dst, e.URIStem)
	dst = append(dst, '\t')
	if e.Status <= 0 {
		dst = append(dst, "000"...)
	} else {
		dst = strconv.AppendInt(dst, int64(e.Status), 10)
	}
	dst = append(dst, '\t')
	dst = appendField(dst, e.Referer)
	dst = append(dst, '\t')
	dst = appendField(dst, e.UserAgent)
	dst = append(dst, '\t')
	dst = appendField(dst, e.Query)
	dst = append(dst, '\t')
	if cookies {
		dst = appendField(dst, e.Cookie)
	} else {
		dst = append(dst, '-')
	}
	dst = append(dst, '\t')
	dst = appendField(dst, e.Result)
	dst = append(dst, '\t')
	dst = appendField(dst, e.RequestID)
	dst = append(dst, '\t')
	dst = appendField(dst, e.HostHeader)
	dst = append(dst, '\t')
	dst = appendField(dst, e.Protocol)
	dst = append(dst, '\t')
	dst = appendInt(dst, e.ReceivedBytes)
	dst = append(dst, '\t')
	dst = appendSeconds(dst, e.TimeTaken)
	dst = append(dst, '\t')
	dst = appendField(dst, e.ForwardedFor)
	dst = append(dst, '\t')
	dst = appendField(dst, e.SSLProtocol)
	dst = append(dst, '\t')
	dst = appendField(dst, e.SSLCipher)
	dst = append(dst, '\t')
	dst = appendField(dst, e.ResponseResult)
	dst = append(dst, '\t')
	dst = appendField(dst, e.ProtocolVersion)
	dst = append(dst, "\t-\t-\t"...) // fle-status, fle-encrypted-fields: no field-level encryption
	if e.ClientPort > 0 {
		dst = strconv.AppendInt(dst, int64(e.ClientPort), 10)
	} else {
		dst = append(dst, '-')
	}
	dst = append(dst, '\t')
	dst = appendSeconds(dst, e.TimeToFirstByte)
	dst = append(dst, '\t')
	dst = appendField(dst, e.DetailedResult)
	dst = append(dst, '\t')
	dst = appendField(dst, e.ContentType)
	dst = append(dst, '\t')
	dst = appendInt(dst, e.ContentLength)
	dst = append(dst, '\t')
	dst = appendInt(dst, e.RangeStart)
	dst = append(dst, '\t')
	dst = appendInt(dst, e.RangeEnd)
	return append(dst, '\n')
}
