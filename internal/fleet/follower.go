package fleet

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
)

// Cache is what a follower applies invalidations to: the edge.
type Cache interface {
	Apply(ctx context.Context, inv invalidation.Invalidation) error
}

// FollowerConfig is what a Follower is built from.
type FollowerConfig struct {
	// ControlPlane is the control plane's API URL.
	ControlPlane string
	// Name identifies the edge in the registry; Addr is where it serves
	// viewers (shown by the admin endpoint).
	Name, Addr string
	// AccessKeyID and SecretAccessKey sign requests, when set.
	AccessKeyID, SecretAccessKey string
	Registry                     *distribution.Registry
	Cache                        Cache
	// MaxStaleness is how long the edge may go without an acknowledgement
	// accepted by the control plane before it stops answering from its
	// cache. It is capped at half the control plane's edge timeout.
	MaxStaleness time.Duration
	Logger       *slog.Logger
	Client       *http.Client
	// Hub, when set, is the control plane of this process: the follower
	// follows it directly, with the same stream and acknowledgements but
	// no HTTP, signing or socket in between (ControlPlane, the keys and
	// Client are then unused). serve's in-process edge does.
	Hub *Hub
}

// Follower is the edge's side of the fleet: it follows the control
// plane's stream, applies each event to the edge, and acknowledges it.
//
// Freshness rests on acknowledgements, not on bytes received: a stream's
// bytes may have sat in a socket buffer while the edge was stopped, but an
// acknowledgement the hub accepted proves the edge was in its registry
// when the acknowledgement was sent. The edge counts from the time it
// sent the last accepted one (its own clock; no clock is compared with
// the hub's). The hub drops an edge silent for its edge timeout, counted
// from when it received that acknowledgement, and the edge stops serving
// from its cache MaxStaleness (at most half that timeout) after sending
// it: it always stops before it could have been dropped, so an
// invalidation never completes without an edge that still serves from
// its cache. An edge that went longer than MaxStaleness without an
// accepted acknowledgement (or that loads a snapshot) is caught up again
// once it has applied the head returned by the first acknowledgement it
// sent afterwards.
type Follower struct {
	c        FollowerConfig
	log      *slog.Logger
	link     link
	ackWake  chan struct{}
	instance string // this process's token: see Instance

	mu      sync.Mutex
	applied uint64 // last position applied; guarded by mu
	// left: Leave was called; the edge is never Fresh again. Guarded by mu.
	left bool
	// loaded says applied stands for a state: a snapshot was loaded (the
	// stream asks to resume only then). Guarded by mu.
	loaded bool
	// confirmedAt is when the last acknowledgement the hub accepted was
	// sent. Guarded by mu.
	confirmedAt time.Time
	// caughtUp: applied reached target, with no lapse since. Guarded by mu.
	caughtUp bool
	// target is the head to reach (set when targetSet) after a lapse that
	// began at staleSince; guarded by mu.
	target     uint64
	targetSet  bool
	staleSince time.Time
	// snapshotPending: the stream announced a snapshot not yet loaded.
	// Guarded by mu.
	snapshotPending bool
	// maxStaleness is MaxStaleness capped at half the hub's edge timeout
	// (edgeTimeout, from the stream's hello; 0 before). Guarded by mu.
	maxStaleness time.Duration
	edgeTimeout  time.Duration
	// stream ends the current stream; helloAt is when it said hello.
	// Guarded by mu.
	stream  context.CancelFunc
	helloAt time.Time

	// freshUntil lets Fresh answer without the mutex (it runs on every
	// viewer request): while caught up, the time, as an offset from
	// epoch on the monotonic clock, at which the last accepted
	// acknowledgement gets older than the max staleness; 0 otherwise.
	// Written under mu.
	freshUntil atomic.Int64
	epoch      time.Time
}

// NewFollower returns a follower; call Run.
func NewFollower(c FollowerConfig) *Follower {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Client == nil {
		c.Client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	}
	if c.MaxStaleness <= 0 {
		c.MaxStaleness = 10 * time.Second
	}
	var l link = &httpLink{c: c}
	if c.Hub != nil {
		l = localLink{c.Hub}
	}
	var token [16]byte
	rand.Read(token[:])
	return &Follower{c: c, log: c.Logger, link: l, ackWake: make(chan struct{}, 1), instance: hex.EncodeToString(token[:]),
		maxStaleness: c.MaxStaleness, epoch: time.Now()}
}

// Instance returns the follower's instance token, drawn at random when it
// was created: it tells the control plane this process from another one
// with the same name, so that the same process reconnects to its entry
// after a network blip while another is refused as long as it is live.
func (f *Follower) Instance() string { return f.instance }

// Applied returns the last log position the edge applied.
func (f *Follower) Applied() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied
}

// MaxStaleness returns the max staleness in force: the configured one,
// capped at half the control plane's edge timeout.
func (f *Follower) MaxStaleness() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxStaleness
}

// Fresh reports whether the edge may answer from its cache: the control
// plane accepted an acknowledgement sent within MaxStaleness, and the edge
// has caught up since it last went longer than that without one.
func (f *Follower) Fresh() bool {
	if int64(time.Since(f.epoch)) < f.freshUntil.Load() {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.caughtUp && time.Since(f.confirmedAt) > f.maxStaleness {
		f.lapseLocked("no acknowledgement accepted within the max staleness")
	}
	return f.caughtUp
}

// lapseLocked makes the edge stale: it must catch up with a head learnt
// afterwards.
func (f *Follower) lapseLocked(why string) {
	f.staleSince = f.confirmedAt.Add(f.maxStaleness)
	if f.caughtUp {
		f.log.Warn("not serving from the cache until caught up with the control plane: "+why, "max_staleness", f.maxStaleness,
			"last_acknowledged", f.confirmedAt.Format(time.RFC3339Nano), "position", f.applied)
	}
	f.caughtUp, f.targetSet = false, false
	f.setFreshUntilLocked()
}

// setFreshUntilLocked updates freshUntil after a change of caughtUp,
// confirmedAt or maxStaleness.
func (f *Follower) setFreshUntilLocked() {
	if !f.caughtUp || f.left {
		f.freshUntil.Store(0)
		return
	}
	f.freshUntil.Store(int64(f.confirmedAt.Add(f.maxStaleness).Sub(f.epoch)))
}

// confirmed records an acknowledgement sent at sent and accepted with
// the hub's head.
func (f *Follower) confirmed(sent time.Time, head uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.caughtUp && sent.Sub(f.confirmedAt) > f.maxStaleness {
		f.lapseLocked("no acknowledgement accepted within the max staleness")
	}
	if sent.After(f.confirmedAt) {
		f.confirmedAt = sent
		f.setFreshUntilLocked()
	}
	if !f.caughtUp && !f.targetSet && !sent.Before(f.staleSince) {
		f.target, f.targetSet = head, true
	}
	f.checkCaughtUpLocked()
}

// checkCaughtUpLocked notes when the edge has caught up.
func (f *Follower) checkCaughtUpLocked() {
	if f.caughtUp || f.left || !f.targetSet || !f.loaded || f.snapshotPending || f.applied < f.target ||
		time.Since(f.confirmedAt) > f.maxStaleness {
		return
	}
	f.caughtUp = true
	f.setFreshUntilLocked()
	f.log.Info("caught up with the control plane", "position", f.applied)
}

// Guard answers 503 in place of next while the edge is not Fresh: an edge
// cut off from the control plane must not serve what may have been
// invalidated meanwhile.
func (f *Follower) Guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !f.Fresh() {
			if f.log.Enabled(r.Context(), slog.LevelDebug) {
				f.log.Debug("viewer request refused", "reason", "edge not caught up with the control plane", "status", http.StatusServiceUnavailable,
					"host", r.Host, "method", r.Method, "path", r.URL.EscapedPath(), "remote", r.RemoteAddr)
			}
			unavailable(w)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func unavailable(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("X-Cache", "Error from cloudfront")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">
<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=iso-8859-1">
<TITLE>ERROR: The request could not be satisfied</TITLE>
</HEAD><BODY>
<H1>503 ERROR</H1>
<H2>The request could not be satisfied.</H2>
<HR noshade size="1px">
This edge has lost contact with its control plane and is catching up; it cannot serve cached content until it has.
<BR clear="all">
<HR noshade size="1px">
<PRE>
Generated by cloudfront (CloudFront)
</PRE>
</BODY></HTML>
`)
}

// conflictPatience is how long a follower retries while its name belongs
// to another live process before Run gives up: longer than the hub's
// liveWindow, so that an edge restarted after its previous process was
// killed gets in once the control plane stops counting that one live.
const conflictPatience = liveWindow + heartbeat

// Run follows the control plane until ctx ends, reconnecting with backoff.
// It returns nil when ctx ends, and a *NameConflictError when the control
// plane kept refusing the edge's name for conflictPatience: another live
// process holds it.
func (f *Follower) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go f.ackLoop(ctx)
	backoff := 50 * time.Millisecond
	var conflictSince time.Time
	for ctx.Err() == nil {
		start := time.Now()
		err := f.follow(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if _, ok := errors.AsType[*NameConflictError](err); ok {
			if conflictSince.IsZero() {
				conflictSince = start
			}
			if time.Since(conflictSince) >= conflictPatience {
				return err
			}
		} else {
			conflictSince = time.Time{}
		}
		if time.Since(start) > 5*time.Second {
			backoff = 50 * time.Millisecond
		}
		f.log.Warn("control plane stream ended; reconnecting", "err", err, "in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil
		}
		backoff = min(2*backoff, 2*time.Second)
	}
	return nil
}

// Leave takes the edge out of the control plane's registry at once, so
// that no work waits for it any more: an edge stopping calls it once Run
// has returned. From the call on the edge is never Fresh (it must not
// answer from a cache that invalidations no longer reach). Its error is
// the control plane's (or the network's): the edge then leaves the
// registry after the edge timeout, as a silent one.
func (f *Follower) Leave(ctx context.Context) error {
	f.mu.Lock()
	f.left, f.caughtUp = true, false
	f.setFreshUntilLocked()
	f.mu.Unlock()
	return f.link.leave(ctx, f.c.Name, f.instance)
}

// follow runs one stream until it fails.
func (f *Follower) follow(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f.mu.Lock()
	// Without a state, the edge asks for a snapshot by saying nothing:
	// applied=0 means "applied nothing yet of a log that was empty".
	req := streamRequest{name: f.c.Name, addr: f.c.Addr, instance: f.instance, applied: f.applied, resume: f.loaded}
	f.mu.Unlock()
	events, err := f.link.open(ctx, req)
	if err != nil {
		return err
	}
	defer events.Close()
	// A silent stream is a dead one: the control plane pings every second.
	alive := make(chan struct{}, 1)
	go func() {
		t := time.NewTimer(3 * heartbeat)
		defer t.Stop()
		for {
			select {
			case <-alive:
				t.Reset(3 * heartbeat)
			case <-t.C:
				cancel()
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	sc := bufio.NewScanner(events)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	var id uint64
	var kind string
	var data []byte
	for sc.Scan() {
		select {
		case alive <- struct{}{}:
		default:
		}
		line := sc.Bytes()
		switch {
		case len(line) == 0: // end of an event
			if kind == "" {
				continue
			}
			if kind == "hello" {
				if err := f.hello(data, cancel); err != nil {
					return err
				}
			} else if err := f.apply(ctx, id, kind, data); err != nil {
				return err
			}
			kind, data = "", data[:0]
		case bytes.HasPrefix(line, []byte("id: ")):
			id, _ = strconv.ParseUint(string(line[4:]), 10, 64)
		case bytes.HasPrefix(line, []byte("event: ")):
			kind = string(line[7:])
		case bytes.HasPrefix(line, []byte("data: ")):
			data = append(data, line[6:]...)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errors.New("stream closed by the control plane")
}

// hello takes in a stream's hello; cancel ends that stream.
func (f *Follower) hello(data []byte, cancel context.CancelFunc) error {
	var hi hello
	if err := json.Unmarshal(data, &hi); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stream, f.helloAt = cancel, time.Now()
	if hi.EdgeTimeoutMS > 0 {
		timeout := time.Duration(hi.EdgeTimeoutMS) * time.Millisecond
		eff := min(f.c.MaxStaleness, timeout/2)
		if eff != f.maxStaleness || timeout != f.edgeTimeout {
			if eff < f.c.MaxStaleness {
				f.log.Warn("max staleness capped at half the control plane's edge timeout, so that this edge stops serving from its cache before the control plane may drop it",
					"max_staleness", f.c.MaxStaleness, "edge_timeout", timeout, "capped_to", eff)
			}
			f.maxStaleness, f.edgeTimeout = eff, timeout
			f.setFreshUntilLocked()
		}
	}
	f.snapshotPending = hi.Snapshot
	if hi.Snapshot {
		// Not caught up before the snapshot is loaded, and then with a
		// head learnt from this control plane afterwards.
		f.lapseLocked("loading a snapshot")
		f.staleSince = f.helloAt
	}
	return nil
}

// ackInterval is the longest the edge goes between acknowledgements: well
// within its max staleness and the hub's edge timeout.
func (f *Follower) ackInterval() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := min(heartbeat, f.maxStaleness/4)
	if f.edgeTimeout > 0 {
		d = min(d, f.edgeTimeout/4)
	}
	return max(d, time.Millisecond)
}

// apply applies one event and moves the position.
func (f *Follower) apply(ctx context.Context, pos uint64, kind string, data []byte) error {
	switch kind {
	case KindSnapshot:
		var s Snapshot
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		var ds []*distribution.Distribution
		for i := range s.Distributions {
			ds = append(ds, &s.Distributions[i])
		}
		if s.Purge {
			// Missed events are gone: drop everything cached.
			for _, d := range append(f.c.Registry.All(), ds...) {
				if err := f.c.Cache.Apply(ctx, purgeAll(d.ID)); err != nil {
					return err
				}
			}
		}
		// Resources first: the distributions that refer to them are then
		// compiled against them.
		if rs, ok := f.c.Cache.(Resources); ok {
			rs.ReplaceResources(s.Resources)
		}
		f.c.Registry.Replace(ds)
		f.log.Info("loaded the control plane's snapshot", "distributions", len(ds), "resources", len(s.Resources), "position", s.Head, "purged", s.Purge)
	default:
		var ev Event
		if !decodeInvalidationEvent(data, &ev) {
			if err := json.Unmarshal(data, &ev); err != nil {
				return fmt.Errorf("event %d: %w", pos, err)
			}
		}
		switch ev.Kind {
		case KindInvalidation:
			if ev.Invalidation == nil {
				return fmt.Errorf("event %d: invalidation missing", pos)
			}
			if err := f.c.Cache.Apply(ctx, *ev.Invalidation); err != nil {
				return err
			}
		case KindDistribution:
			if ev.Distribution == nil {
				return fmt.Errorf("event %d: distribution missing", pos)
			}
			f.c.Registry.Put(ev.Distribution)
		case KindDelete:
			f.c.Registry.Remove(ev.DistributionID)
			if err := f.c.Cache.Apply(ctx, purgeAll(ev.DistributionID)); err != nil {
				return err
			}
		case KindConfigFile:
			if err := f.applyConfigFile(ctx, ev.Distributions); err != nil {
				return err
			}
		case KindResource:
			if ev.Resource == nil {
				return fmt.Errorf("event %d: resource missing", pos)
			}
			if rs, ok := f.c.Cache.(Resources); ok {
				// A configuration the edge cannot read is not retried: the
				// next version replaces it.
				if err := rs.PutResource(*ev.Resource); err != nil {
					f.log.Error("ignoring a resource the edge cannot read", "kind", ev.Resource.Kind, "id", ev.Resource.ID,
						"etag", ev.Resource.ETag, "position", pos, "err", err)
				}
			}
		case KindResourceRemove:
			if rs, ok := f.c.Cache.(Resources); ok {
				rs.ForgetResource(ev.ResourceKind, ev.ResourceID)
			}
		default:
			f.log.Warn("ignoring an event of unknown kind", "kind", ev.Kind, "position", pos)
		}
	}
	f.mu.Lock()
	if pos > f.applied || kind == KindSnapshot {
		f.applied = pos
	}
	if kind == KindSnapshot {
		f.loaded, f.snapshotPending = true, false
	}
	f.checkCaughtUpLocked()
	f.mu.Unlock()
	select {
	case f.ackWake <- struct{}{}:
	default:
	}
	return nil
}

// applyConfigFile makes ds the distributions of the configuration file:
// file distributions it no longer declares are forgotten and purged.
func (f *Follower) applyConfigFile(ctx context.Context, ds []distribution.Distribution) error {
	keep := map[string]bool{}
	for i := range ds {
		keep[ds[i].ID] = true
	}
	for _, d := range f.c.Registry.All() {
		if d.FromFile && !keep[d.ID] {
			f.c.Registry.Remove(d.ID)
			if err := f.c.Cache.Apply(ctx, purgeAll(d.ID)); err != nil {
				return err
			}
		}
	}
	for i := range ds {
		d := ds[i]
		d.FromFile = true
		f.c.Registry.Put(&d)
	}
	f.log.Info("applied the control plane's configuration file", "distributions", len(ds))
	return nil
}

func purgeAll(distID string) invalidation.Invalidation {
	return invalidation.Invalidation{DistributionID: distID, ID: "purge", Status: invalidation.InProgress,
		CreateTime: time.Now(), Batch: invalidation.Batch{CallerReference: "purge", Paths: []string{"/*"}}}
}

// errNotRegistered is an acknowledgement refused because the edge is not
// in the registry.
var errNotRegistered = errors.New("ack: not in the control plane's registry")

// ackLoop reports the applied position whenever it moves (coalescing:
// one acknowledgement in flight at a time, carrying the latest position),
// and at least every ackInterval even when it does not: acknowledgements
// are what keeps the edge in the registry and fresh.
func (f *Follower) ackLoop(ctx context.Context) {
	t := time.NewTimer(f.ackInterval())
	defer t.Stop()
	for {
		select {
		case <-f.ackWake:
			// Let the stream apply the events it already received first,
			// so that one acknowledgement covers them (no timer).
			runtime.Gosched()
		case <-t.C:
		case <-ctx.Done():
			return
		}
		pos := f.Applied()
		sent := time.Now()
		head, err := f.link.ack(ctx, f.c.Name, f.instance, pos)
		switch {
		case err == nil:
			f.confirmed(sent, head)
		case errors.Is(err, errNotRegistered):
			// Dropped from the registry, taken over by another process of
			// the same name, or the control plane restarted on another
			// log: work no longer waits for this edge, so it stops
			// answering from its cache at once, and a new stream registers
			// it again (if its name is free).
			f.mu.Lock()
			if f.caughtUp && f.helloAt.Before(sent) {
				f.lapseLocked("the control plane no longer has this edge in its registry")
				f.staleSince = sent // caught up again with a head learnt after this
			}
			if f.stream != nil && f.helloAt.Before(sent) {
				f.log.Warn("the control plane no longer has this edge in its registry; reconnecting")
				f.stream()
				f.stream = nil
			}
			f.mu.Unlock()
		case ctx.Err() == nil:
			f.log.Debug("acknowledging failed; will retry", "position", pos, "err", err)
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(f.ackInterval())
	}
}
