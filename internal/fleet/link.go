package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfront/openfront/internal/sigv4"
)

// A link is how a follower reaches its control plane: over HTTP for an
// edge in another process, by calls for the in-process edge. Both carry
// the same stream (Server-Sent Events, parsed and applied by the same
// code) and the same acknowledgements.
type link interface {
	// open starts a stream for req and returns its events.
	open(ctx context.Context, req streamRequest) (io.ReadCloser, error)
	// ack reports pos applied by the edge called name (the process
	// instance), and returns the hub's head, or errNotRegistered.
	ack(ctx context.Context, name, instance string, pos uint64) (head uint64, err error)
	// leave takes the edge called name (the process instance) out of the
	// registry.
	leave(ctx context.Context, name, instance string) error
	// next moves to the next control-plane replica, if there are several,
	// after a stream ended; it returns its URL ("" for none).
	next() string
}

// httpLink follows a control plane over its HTTP endpoints, signing each
// request when the follower has keys. With several replicas' URLs, it
// talks to one at a time (cur) and moves to the next when the follower's
// stream ends (next): acknowledgements and leave go where the stream is.
type httpLink struct {
	c    FollowerConfig
	urls []string
	cur  atomic.Uint64 // index in urls, modulo len(urls)
}

func newHTTPLink(c FollowerConfig) *httpLink {
	l := &httpLink{c: c}
	for u := range strings.SplitSeq(c.ControlPlane, ",") {
		if u = strings.TrimSpace(u); u != "" {
			l.urls = append(l.urls, strings.TrimSuffix(u, "/"))
		}
	}
	if len(l.urls) == 0 {
		l.urls = []string{""}
	}
	l.cur.Store(uint64(mrand.IntN(len(l.urls))))
	return l
}

// next moves to the next replica's URL, and returns it ("" when there is
// one URL only).
func (l *httpLink) next() string {
	if len(l.urls) < 2 {
		return ""
	}
	return l.urls[l.cur.Add(1)%uint64(len(l.urls))]
}

// base is the URL of the replica the link talks to.
func (l *httpLink) base() string {
	return l.urls[l.cur.Load()%uint64(len(l.urls))]
}

func (l *httpLink) sign(r *http.Request) {
	if l.c.AccessKeyID != "" {
		sigv4.Sign(r, nil, l.c.AccessKeyID, l.c.SecretAccessKey, "us-east-1", "cloudfront", time.Now())
	}
}

func (l *httpLink) url(path string) string {
	return l.base() + path
}

func (l *httpLink) open(ctx context.Context, sr streamRequest) (io.ReadCloser, error) {
	q := url.Values{"name": {sr.name}, "addr": {sr.addr}, "instance": {sr.instance}}
	if sr.resume {
		q.Set("applied", strconv.FormatUint(sr.applied, 10))
	}
	req, err := http.NewRequestWithContext(ctx, "GET", l.url(PathStream)+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	l.sign(req)
	resp, err := l.c.Client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode == http.StatusConflict {
			var e struct {
				Error string `json:"error"`
			}
			if json.Unmarshal(b, &e) == nil && e.Error != "" {
				return nil, &NameConflictError{e.Error}
			}
		}
		return nil, fmt.Errorf("stream: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return resp.Body, nil
}

func (l *httpLink) leave(ctx context.Context, name, instance string) error {
	u := l.url(PathLeave) + "?" + url.Values{"name": {name}, "instance": {instance}}.Encode()
	req, err := http.NewRequestWithContext(ctx, "POST", u, nil)
	if err != nil {
		return err
	}
	l.sign(req)
	resp, err := l.c.Client.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("leave: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return nil
}

func (l *httpLink) ack(ctx context.Context, name, instance string, pos uint64) (uint64, error) {
	u := l.url(PathAck) + "?" + url.Values{"name": {name}, "instance": {instance}, "pos": {strconv.FormatUint(pos, 10)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, "POST", u, nil)
	if err != nil {
		return 0, err
	}
	l.sign(req)
	resp, err := l.c.Client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNoContent:
	case http.StatusConflict:
		return 0, errNotRegistered
	default:
		return 0, fmt.Errorf("ack: %s", resp.Status)
	}
	head, err := strconv.ParseUint(resp.Header.Get(HeaderHead), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("ack: no valid %s header in the control plane's answer", HeaderHead)
	}
	return head, nil
}

// localLink follows a hub of the same process. The stream runs the hub's
// stream code into a pipe (no socket, no HTTP framing, no signature), and
// an acknowledgement is a call: what an in-process edge saves is two
// HTTP exchanges per batch of events, not any step of the protocol.
type localLink struct{ hub *Hub }

// errStalled ends an in-process stream whose follower stopped reading for
// the hub's edge timeout, as a write deadline ends an HTTP one.
var errStalled = errors.New("fleet: the in-process edge stopped reading its stream")

func (l localLink) open(ctx context.Context, req streamRequest) (io.ReadCloser, error) {
	if err := req.check(); err != nil {
		return nil, err
	}
	req.local = true
	pr, pw := io.Pipe()
	sink := &pipeSink{pw: pw}
	go func() {
		err := l.hub.stream(ctx, req, sink)
		sink.stop()
		if err != nil {
			pw.CloseWithError(fmt.Errorf("stream: %w", err))
			return
		}
		pw.Close() // the follower reads EOF: "stream closed by the control plane"
	}()
	return pr, nil
}

func (localLink) next() string { return "" }

func (l localLink) leave(_ context.Context, name, instance string) error {
	l.hub.leave(name, instance)
	return nil
}

func (l localLink) ack(_ context.Context, name, instance string, pos uint64) (uint64, error) {
	head, ok := l.hub.ack(name, instance, pos)
	if !ok {
		return 0, errNotRegistered
	}
	return head, nil
}

// pipeSink is an in-process stream's sink. Writes block until the
// follower has read them (io.Pipe); a write deadline closes the pipe.
type pipeSink struct {
	pw *io.PipeWriter

	mu      sync.Mutex
	timer   *time.Timer // the write deadline; guarded by mu
	stopped bool        // guarded by mu
}

func (s *pipeSink) start() io.Writer { return s.pw }

func (s *pipeSink) flush() error { return nil } // every write reached the follower already

func (s *pipeSink) setWriteDeadline(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	d := time.Until(t)
	if s.timer == nil {
		s.timer = time.AfterFunc(d, func() { s.pw.CloseWithError(errStalled) })
		return
	}
	s.timer.Reset(d)
}

func (s *pipeSink) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	if s.timer != nil {
		s.timer.Stop()
	}
}
