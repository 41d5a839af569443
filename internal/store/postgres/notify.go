package postgres

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Wake-ups across replicas (eventlog.Notifier) travel by LISTEN/NOTIFY:
// every transaction that changes the log (an append, a trim) runs
// pg_notify on logChannel, every one that changes the registry (PutEdge,
// DeleteEdge) on registryChannel. PostgreSQL delivers a notification at
// commit, to the sessions listening on the same database, and never one
// of a transaction that rolled back. Each Store holds one connection of
// its own, outside the pool, that LISTENs on both and fans each
// notification out to the Store's subscriptions; when it drops, the
// listener reconnects (at once, then with a backoff from minListenBackoff
// doubling to maxListenBackoff while attempts fail) and, once
// LISTENing again, wakes every subscription on both channels, since
// changes committed while it was cut off were not notified.
const (
	logChannel      = "openfront_log"
	registryChannel = "openfront_registry"
)

// Backoff between the listener's attempts to reconnect.
const (
	minListenBackoff = 50 * time.Millisecond
	maxListenBackoff = 2 * time.Second
)

const (
	notifyLogSQL      = `SELECT pg_notify('` + logChannel + `', '')`
	notifyRegistrySQL = `SELECT pg_notify('` + registryChannel + `', '')`
)

// subscription is one Subscribe's channels, each holding at most one
// pending wake-up.
type subscription struct {
	log, registry chan struct{}
}

// listener is the Store's LISTEN connection and its subscriptions.
type listener struct {
	connect func(ctx context.Context) (*pgx.Conn, error)
	log     *slog.Logger

	mu        sync.Mutex
	subs      map[*subscription]struct{} // guarded by mu
	listening bool                       // LISTEN is in place; guarded by mu
	ready     chan struct{}              // closed on the first LISTEN; read-only after start
	connects  int                        // successful (re)connections; guarded by mu

	cancel context.CancelFunc
	done   chan struct{}
}

// startListener starts the listener's loop; stop ends it.
func startListener(connect func(ctx context.Context) (*pgx.Conn, error), log *slog.Logger) *listener {
	ctx, cancel := context.WithCancel(context.Background())
	l := &listener{
		connect: connect,
		log:     log,
		subs:    map[*subscription]struct{}{},
		ready:   make(chan struct{}),
		cancel:  cancel,
		done:    make(chan struct{}),
	}
	go l.run(ctx)
	return l
}

func (l *listener) stop() {
	l.cancel()
	<-l.done
}

// run connects, LISTENs and dispatches until ctx ends, reconnecting after
// each failure: at once after a session that was LISTENing, then with a
// backoff doubling from minListenBackoff to maxListenBackoff.
func (l *listener) run(ctx context.Context) {
	defer close(l.done)
	backoff := minListenBackoff
	first := true
	for ctx.Err() == nil {
		listened, err := l.session(ctx, &first)
		if ctx.Err() != nil {
			return
		}
		l.mu.Lock()
		l.listening = false
		l.mu.Unlock()
		if listened {
			l.log.Warn("postgres: the LISTEN connection dropped; reconnecting", "err", err)
			backoff = minListenBackoff
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxListenBackoff)
	}
}

// session is one connection's life: LISTEN, the wake-up every
// (re)connection owes, then the notifications until the connection fails;
// listened says it got as far as LISTEN.
func (l *listener) session(ctx context.Context, first *bool) (listened bool, err error) {
	conn, err := l.connect(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, `LISTEN `+logChannel+`; LISTEN `+registryChannel); err != nil {
		return false, err
	}
	l.mu.Lock()
	l.listening = true
	l.connects++
	n := l.connects
	l.mu.Unlock()
	if *first {
		*first = false
		close(l.ready)
	}
	if n > 1 {
		l.log.Info("postgres: LISTENing again; waking every subscription")
	}
	l.wake(true, true)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		l.wake(n.Channel == logChannel, n.Channel == registryChannel)
	}
}

// wake sends a wake-up, without blocking, on the chosen channels of
// every subscription.
func (l *listener) wake(log, registry bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for s := range l.subs {
		if log {
			select {
			case s.log <- struct{}{}:
			default:
			}
		}
		if registry {
			select {
			case s.registry <- struct{}{}:
			default:
			}
		}
	}
}

// Subscribe implements eventlog.Notifier: a wake-up follows each change of
// the log or of the registry committed by any Store on the same database
// (this one included), and each reconnection of the listener.
func (s *Store) Subscribe() (log, registry <-chan struct{}, cancel func()) {
	sub := &subscription{log: make(chan struct{}, 1), registry: make(chan struct{}, 1)}
	l := s.listener
	l.mu.Lock()
	l.subs[sub] = struct{}{}
	l.mu.Unlock()
	var once sync.Once
	return sub.log, sub.registry, func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.subs, sub)
			l.mu.Unlock()
		})
	}
}

// Listening says whether the listener's connection is LISTENing now, and
// how many times it has connected since Open.
func (s *Store) Listening() (listening bool, connects int) {
	s.listener.mu.Lock()
	defer s.listener.mu.Unlock()
	return s.listener.listening, s.listener.connects
}
