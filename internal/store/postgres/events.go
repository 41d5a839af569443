package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/openfront/openfront/internal/eventlog"
	"github.com/openfront/openfront/internal/invalidation"
)

// The fleet's event log. Positions come from event_counter's one row: an
// append locks it (SELECT ... FOR UPDATE) before it looks for its keys
// and holds it until it commits, so appends are serialized across
// replicas and a position is handed out only after every lower one has
// committed. A reader that has seen position N thus never later sees an
// event at N or below appear (a sequence, bigserial, would hand out
// positions in start order and let them commit in another). Keys stay in
// event_keys after their events are trimmed.

// appendSQL, run after the counter is locked (a statement of its own, so
// that its snapshot sees every append committed before the lock), logs
// the keys of $1 not logged yet with the data of $2, at the next
// positions in order, and returns every key's position, and whether this
// statement logged it.
const appendSQL = `WITH input AS (
		SELECT k, d, ord FROM unnest($1::bytea[], $2::bytea[]) WITH ORDINALITY AS t(k, d, ord)),
	new AS (
		SELECT k, d, row_number() OVER (ORDER BY ord) AS n FROM input
		WHERE NOT EXISTS (SELECT 1 FROM event_keys WHERE key = input.k)),
	c AS (
		UPDATE event_counter SET last_pos = last_pos + (SELECT count(*) FROM new)
		RETURNING last_pos - (SELECT count(*) FROM new) AS base),
	ev AS (
		INSERT INTO events (pos, data) SELECT c.base + new.n, new.d FROM new, c),
	keys AS (
		INSERT INTO event_keys (key, pos) SELECT new.k, c.base + new.n FROM new, c RETURNING key, pos)
	SELECT key, pos, true FROM keys
	UNION ALL
	SELECT key, pos, false FROM event_keys WHERE key = ANY($1)`

// lockCounterSQL locks the counter and notifies the log's change
// (delivered at commit: every replica's hub then reads the new head).
const lockCounterSQL = `SELECT last_pos, pg_notify('` + logChannel + `', '') FROM event_counter FOR UPDATE`

// queueAppend queues on b the append of keys (distinct) with data, and
// the notification of the log's change: two statements.
func queueAppend(b *pgx.Batch, keys []string, data [][]byte) {
	for i := range data {
		data[i] = nonNil(data[i])
	}
	b.Queue(lockCounterSQL)
	b.Queue(appendSQL, bytesOf(keys), data)
}

// AppendEvent implements eventlog.Store.
func (s *Store) AppendEvent(ctx context.Context, key string, data []byte) (uint64, error) {
	var pos int64
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		b := &pgx.Batch{}
		queueAppend(b, []string{key}, [][]byte{data})
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return err
		}
		var k []byte
		var logged bool
		if err := br.QueryRow().Scan(&k, &pos, &logged); err != nil {
			return err
		}
		return br.Close()
	})
	return uint64(pos), err
}

// EventsAfter implements eventlog.Store.
func (s *Store) EventsAfter(ctx context.Context, after uint64, limit int) ([]eventlog.StoredEvent, error) {
	var out []eventlog.StoredEvent
	err := s.query(ctx, func(ctx context.Context) error {
		out = nil
		rows, _ := s.pool.Query(ctx, `SELECT pos, data FROM events WHERE pos > $1 ORDER BY pos LIMIT $2`, int64(after), limit)
		for rows.Next() {
			var e eventlog.StoredEvent
			var pos int64
			if err := rows.Scan(&pos, &e.Data); err != nil {
				rows.Close()
				return err
			}
			e.Pos = uint64(pos)
			out = append(out, e)
		}
		return rows.Err()
	})
	return out, err
}

// LogBounds implements eventlog.Store.
func (s *Store) LogBounds(ctx context.Context) (first, last uint64, err error) {
	err = s.query(ctx, func(ctx context.Context) error {
		var f *int64
		var l int64
		if err := s.pool.QueryRow(ctx, `SELECT (SELECT min(pos) FROM events), last_pos FROM event_counter`).Scan(&f, &l); err != nil {
			return err
		}
		last, first = uint64(l), uint64(l)+1
		if f != nil {
			first = uint64(*f)
		}
		return nil
	})
	return first, last, err
}

// TrimEvents implements eventlog.Store.
func (s *Store) TrimEvents(ctx context.Context, before uint64) error {
	// Events handed off below before are trimmed too: InvalidationEvents
	// does not hold them any more.
	s.mu.Lock()
	for k, e := range s.logged {
		if e.Pos < before {
			delete(s.logged, k)
		}
	}
	s.mu.Unlock()
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM events WHERE pos < $1`, int64(min(before, 1<<63-1)))
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		_, err = tx.Exec(ctx, notifyLogSQL)
		return err
	})
}

// maxHandOff bounds the events the group loop keeps for
// InvalidationEvents (see handOff).
const maxHandOff = 4096

// appendedNew reads appendSQL's rows into pos: the positions of the keys
// the statement logged.
func appendedNew(rows pgx.Rows, pos map[string]int64) error {
	for rows.Next() {
		var k []byte
		var p int64
		var logged bool
		if err := rows.Scan(&k, &p, &logged); err != nil {
			rows.Close()
			return err
		}
		if logged {
			pos[string(k)] = p
		}
	}
	return rows.Err()
}

// handOff keeps the events a committed group logged (keys, data, and the
// positions of those it logged) for InvalidationEvents, which the hub
// calls right after the Creates return: their events are then known
// without a query. At most maxHandOff are kept (past it, those kept are
// dropped; InvalidationEvents reads what it misses from the database).
func (s *Store) handOff(keys []string, data [][]byte, pos map[string]int64) {
	if len(pos) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logged == nil || len(s.logged)+len(pos) > maxHandOff {
		s.logged = make(map[string]eventlog.StoredEvent, len(pos))
	}
	for i, k := range keys {
		if p, ok := pos[k]; ok {
			s.logged[k] = eventlog.StoredEvent{Pos: uint64(p), Data: data[i]}
		}
	}
}

// InvalidationEvents implements eventlog.InvalidationLog: the events
// Create logged (WithInvalidationEvent), looked up by their keys: those
// this Store's groups logged and kept (handOff) are taken from memory,
// once; the rest are read from the database.
func (s *Store) InvalidationEvents(ctx context.Context, invs []invalidation.Invalidation, evs []eventlog.StoredEvent) error {
	clear(evs)
	var keys []string
	var at []int
	s.mu.Lock()
	for i, inv := range invs {
		k := eventlog.InvalidationKey(inv.DistributionID, inv.ID)
		if e, ok := s.logged[k]; ok {
			evs[i] = e
			delete(s.logged, k)
			continue
		}
		keys = append(keys, k)
		at = append(at, i)
	}
	s.mu.Unlock()
	if len(keys) == 0 {
		return nil
	}
	return s.query(ctx, func(ctx context.Context) error {
		for _, i := range at {
			evs[i] = eventlog.StoredEvent{}
		}
		rows, _ := s.pool.Query(ctx, `SELECT k.key, e.pos, e.data FROM event_keys k JOIN events e ON e.pos = k.pos
			WHERE k.key = ANY($1)`, bytesOf(keys))
		found := map[string]eventlog.StoredEvent{}
		for rows.Next() {
			var k []byte
			var pos int64
			var data []byte
			if err := rows.Scan(&k, &pos, &data); err != nil {
				rows.Close()
				return err
			}
			found[string(k)] = eventlog.StoredEvent{Pos: uint64(pos), Data: data}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for j, k := range keys {
			evs[at[j]] = found[k]
		}
		return nil
	})
}

// PutEdge implements eventlog.Store.
func (s *Store) PutEdge(ctx context.Context, name string, data []byte) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO edges (name, data) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET data = excluded.data`, []byte(name), nonNil(data)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, notifyRegistrySQL)
		return err
	})
}

// DeleteEdge implements eventlog.Store.
func (s *Store) DeleteEdge(ctx context.Context, name string) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM edges WHERE name = $1`, []byte(name))
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		_, err = tx.Exec(ctx, notifyRegistrySQL)
		return err
	})
}

// Edges implements eventlog.Store.
func (s *Store) Edges(ctx context.Context) (map[string][]byte, error) {
	var out map[string][]byte
	err := s.query(ctx, func(ctx context.Context) error {
		out = map[string][]byte{}
		rows, _ := s.pool.Query(ctx, `SELECT name, data FROM edges`)
		for rows.Next() {
			var name, data []byte
			if err := rows.Scan(&name, &data); err != nil {
				rows.Close()
				return err
			}
			out[string(name)] = data
		}
		return rows.Err()
	})
	return out, err
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
