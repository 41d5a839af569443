// Package postgres is the PostgreSQL Store of `openfront serve
// --postgres-url`: invalidations, distributions, the resources beside them,
// the fleet's event log and its registry of edges, kept in one database
// that several control planes (replicas) may share. Every rule that spans
// records is the database's: unique and primary keys, foreign keys, and
// transactions that lock the rows they decide on (SELECT ... FOR UPDATE),
// never a mutex of this process, so that the rules hold whichever replica
// serves a request (docs/architecture.md, "Storage: PostgreSQL").
//
// The schema is created and migrated by Open (migrations/*.sql, recorded
// in schema_version) under a session advisory lock, so that replicas
// starting together apply each migration once.
//
// Concurrent Creates are grouped: one goroutine at a time runs the waiting
// ones in one transaction and one commit (see create.go). A write is
// acknowledged once its transaction has committed, with the durability of
// the server's synchronous_commit. An error that says the database cannot
// be reached (a lost connection, a server shutting down or starting, no
// answer within the operation timeout) wraps invalidation.ErrUnavailable,
// which the API answers 503 ServiceUnavailable; the pool reconnects by
// itself once the server is back.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openfront/openfront/internal/eventlog"
	"github.com/openfront/openfront/internal/invalidation"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the key of the session advisory lock Open holds while
// it migrates the schema ("openfron" in ASCII).
const migrationLock = 0x6f70656e66726f6e

// DefaultTimeout bounds each operation (a transaction and its retries):
// past it, the operation fails with ErrUnavailable rather than hang on a
// server that does not answer.
const DefaultTimeout = 10 * time.Second

// DefaultConnectTimeout bounds each new connection.
const DefaultConnectTimeout = 5 * time.Second

// pingAfterFailure is how long after a failure connections are pinged
// before each use.
const pingAfterFailure = 10 * time.Second

// maxCompleteItems bounds the completions a group takes (it takes whole
// CompleteAll calls, at least one).
const maxCompleteItems = 4096

// maxGroup is the most Creates one transaction takes.
const maxGroup = 256

// ErrClosed is returned for operations after Close.
var ErrClosed = fmt.Errorf("postgres store closed: %w", invalidation.ErrUnavailable)

// Option configures Open.
type Option func(*Store)

// WithInvalidationEvent makes Create log fn's event in the transaction
// that creates the invalidation (see eventlog.EventFunc), so that the
// fleet's hub finds it logged (InvalidationEvents).
func WithInvalidationEvent(fn eventlog.EventFunc) Option {
	return func(s *Store) { s.eventOf = fn }
}

// WithLogger sets where the store reports migrations (slog.Default()
// otherwise).
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// WithTimeout sets the operation timeout (DefaultTimeout otherwise).
func WithTimeout(d time.Duration) Option { return func(s *Store) { s.timeout = d } }

// WithMaxConns sets the pool's size (pgxpool's default, the larger of 4
// and the number of CPUs, otherwise; a URL's pool_max_conns wins).
func WithMaxConns(n int32) Option { return func(s *Store) { s.maxConns = n } }

// Store is a PostgreSQL invalidation.Store, distribution.Store,
// resource.Store, eventlog.Store, eventlog.InvalidationLog and
// eventlog.Notifier (LISTEN/NOTIFY; see notify.go).
type Store struct {
	pool     *pgxpool.Pool
	ids      invalidation.IDCodec // set at Open, read-only after
	eventOf  eventlog.EventFunc   // set at Open, read-only after
	log      *slog.Logger
	timeout  time.Duration
	maxConns int32

	// lastFail is when an operation last failed for want of the
	// database (Unix nanoseconds).
	lastFail atomic.Int64

	mu        sync.Mutex
	closed    bool           // guarded by mu
	queue     []*createReq   // Creates waiting for a group; guarded by mu
	completes []*completeReq // CompleteAlls waiting for a group; guarded by mu
	running   bool           // a group loop runs; guarded by mu
	idle      chan struct{}  // closed when no group loop runs; guarded by mu
	groups    uint64         // transactions of Creates committed; guarded by mu
	// logged holds events groups logged, by key, until InvalidationEvents
	// takes them (see handOff); guarded by mu.
	logged map[string]eventlog.StoredEvent
	wg     sync.WaitGroup

	listener *listener // set at Open; see notify.go
}

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string, as libpq takes), creates or migrates the schema, and
// returns the Store.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	s := &Store{log: slog.Default(), timeout: DefaultTimeout}
	for _, o := range opts {
		o(s)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors may quote the URL, password included.
		return nil, fmt.Errorf("postgres: the URL (%s) cannot be parsed", Redact(url))
	}
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > DefaultConnectTimeout {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	// After a failure, connections are pinged before use (the pool is
	// emptied then too, but a connection may have been in use), so that
	// the first request after the server returns does not fail on one
	// the server's death left behind.
	cfg.ShouldPing = func(_ context.Context, p pgxpool.ShouldPingParams) bool {
		return p.IdleDuration > time.Second || time.Since(time.Unix(0, s.lastFail.Load())) < pingAfterFailure
	}
	// Plan each statement for its arguments and the tables as they are:
	// a generic plan made while the tables were empty (seq scans, hash
	// joins) would stay in the connection's cache as they grow.
	if _, ok := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !ok {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	if s.maxConns > 0 && !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = s.maxConns
	}
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, scrub(fmt.Errorf("postgres: %w", err), cfg.ConnConfig.Password)
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, scrub(err, cfg.ConnConfig.Password)
	}
	var key []byte
	if err := s.pool.QueryRow(ctx, `SELECT value FROM meta WHERE name = 'id_key'`).Scan(&key); err != nil {
		s.pool.Close()
		return nil, scrub(s.fail("reading the Id key", err), cfg.ConnConfig.Password)
	}
	s.ids = invalidation.NewIDCodec(key)
	connCfg := cfg.ConnConfig
	s.listener = startListener(func(ctx context.Context) (*pgx.Conn, error) {
		c, err := pgx.ConnectConfig(ctx, connCfg.Copy())
		if err != nil {
			err = scrub(err, connCfg.Password)
		}
		return c, err
	}, s.log)
	// Wait (boundedly) for the first LISTEN, so that a Subscribe right
	// after Open misses nothing committed later; if it is late, the
	// wake-up it owes once it LISTENs covers what was missed.
	select {
	case <-s.listener.ready:
	case <-time.After(DefaultConnectTimeout):
	case <-ctx.Done():
	}
	return s, nil
}

// scrub returns err, or when its message holds password an error
// without it that still wraps ErrUnavailable if err did.
func scrub(err error, password string) error {
	if password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	msg := strings.ReplaceAll(err.Error(), password, "xxxxx")
	if errors.Is(err, invalidation.ErrUnavailable) {
		return fmt.Errorf("%w: %s", invalidation.ErrUnavailable, msg)
	}
	return errors.New(msg)
}

// Redact returns url with its password, if any, replaced by "xxxxx", for
// logs and errors.
func Redact(u string) string {
	if p, err := url.Parse(u); err == nil && p.User != nil {
		if _, ok := p.User.Password(); ok {
			p.User = url.UserPassword(p.User.Username(), "xxxxx")
		}
		q := p.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			p.RawQuery = q.Encode()
		}
		return p.String()
	}
	if i := strings.Index(u, "://"); i >= 0 {
		// A URL url.Parse refuses: hide what follows the user's name.
		rest := u[i+3:]
		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			user, _, _ := strings.Cut(rest[:at], ":")
			rest = user + ":xxxxx" + rest[at:]
		}
		if q := strings.Index(rest, "password="); q >= 0 {
			rest = rest[:q] + "password=xxxxx"
		}
		return u[:i+3] + rest
	}
	// A key=value string: hide password=... whatever it is.
	var out []string
	for _, f := range strings.Fields(u) {
		if strings.HasPrefix(strings.ToLower(f), "password=") {
			f = "password=xxxxx"
		}
		out = append(out, f)
	}
	return strings.Join(out, " ")
}

// migrate applies the migrations the database lacks, each in its own
// transaction, under the migration lock.
func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.fail("connecting", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return s.fail("taking the migration lock", err)
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())`); err != nil {
		return s.fail("creating schema_version", err)
	}
	var have int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&have); err != nil {
		return s.fail("reading schema_version", err)
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(files)
	for _, f := range files {
		name := strings.TrimPrefix(f, "migrations/")
		v, err := strconv.Atoi(name[:strings.IndexByte(name, '_')])
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", name, err)
		}
		if v <= have {
			continue
		}
		sql, err := migrations.ReadFile(f)
		if err != nil {
			return err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES ($1)`, v)
			return err
		})
		if err != nil {
			return s.fail("applying migration "+name, err)
		}
		s.log.Info("postgres: schema migrated", "version", v)
	}
	return nil
}

// Groups returns how many transactions of Creates were committed since
// Open (each may hold several Creates).
func (s *Store) Groups() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.groups
}

// Close waits for the Creates under way, then closes the pool.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
	s.listener.stop()
	s.pool.Close()
	return nil
}

// begin checks that the store is open and registers an operation Close
// waits for; end must be called after it.
func (s *Store) begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, ErrClosed
	}
	s.wg.Add(1)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	return ctx, func() { cancel(); s.wg.Done() }, nil
}

// tx runs fn in a transaction, again (up to 5 times) when the database
// reports a deadlock or a serialization failure. Errors fn returns that
// are not the database's pass through unchanged.
func (s *Store) tx(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error) error {
	ctx, end, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	for attempt := 0; ; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(ctx, tx) })
		if attempt < 5 && retryable(err) {
			continue
		}
		return s.wrap(ctx, err)
	}
}

// query runs fn outside a transaction (reads, and writes of one
// statement), with the operation timeout, again (up to 5 times) when the
// database reports a deadlock or a serialization failure.
func (s *Store) query(ctx context.Context, fn func(ctx context.Context) error) error {
	ctx, end, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	for attempt := 0; ; attempt++ {
		err = fn(ctx)
		if attempt < 5 && retryable(err) {
			continue
		}
		return s.wrap(ctx, err)
	}
}

// domainError marks an error that is the caller's or the contract's (a
// refusal), not the database's: wrap passes it through.
type domainError struct{ err error }

func (e domainError) Error() string { return e.err.Error() }
func (e domainError) Unwrap() error { return e.err }

// wrap turns the database's errors into the store's: those that say the
// database cannot be reached wrap ErrUnavailable; the rest stay internal
// errors. Domain errors pass through as they are.
func (s *Store) wrap(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var de domainError
	if errors.As(err, &de) {
		return de.err
	}
	return s.fail("", err)
}

// fail is wrap for errors with no domain meaning.
func (s *Store) fail(what string, err error) error {
	if what != "" {
		what += ": "
	}
	if unavailable(err) {
		s.lastFail.Store(time.Now().UnixNano())
		if s.pool != nil {
			// Drop the connections: those the failure broke would each
			// fail a request more.
			s.pool.Reset()
		}
		return fmt.Errorf("postgres: %s%w: %w", what, invalidation.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %s%w", what, err)
}

// unavailable says whether err means the database cannot serve now (as
// opposed to a statement it refused).
func unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"),  // insufficient resources (disk full, too many connections)
			strings.HasPrefix(pe.Code, "57P"), // shutting down, starting up
			strings.HasPrefix(pe.Code, "58"),  // system error (I/O)
			pe.Code == "25006":                // read-only transaction (a standby)
			return true
		}
		return false
	}
	// The rest: what says the server was not reached or stopped
	// answering (refused, reset, closed, the operation's timeout).
	var ne net.Error
	var ce *pgconn.ConnectError
	switch {
	case pgconn.Timeout(err), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne), errors.As(err, &ce), pgconn.SafeToRetry(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ENOENT):
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "closed pool")
}
