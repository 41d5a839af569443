package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/resource"
	"github.com/openfront/openfront/internal/store/catalog"
)

// Distributions and resources: each write is one transaction that locks
// the row it changes (SELECT ... FOR UPDATE) before its change or check
// function runs, and lets the constraints refuse what spans rows (see
// migrations/0001_schema.sql and docs/architecture.md's table).

// distHolder is refs.holder_kind for a distribution.
const distHolder = ""

// constraint returns the constraint a unique or foreign-key violation
// names, "" for other errors.
func constraint(err error, code string) (string, bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == code {
		return pe.ConstraintName, true
	}
	return "", false
}

const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// putRefs replaces the references of holder with refs, after checking
// that each exists (locking it against deletion, FOR KEY SHARE, as the
// foreign key would): the first missing one, in refs' order, is the
// *resource.MissingRefError.
func putRefs(ctx context.Context, tx pgx.Tx, holderKind resource.Kind, holderID string, refs []resource.Ref) error {
	if _, err := tx.Exec(ctx, `DELETE FROM refs WHERE holder_kind = $1 AND holder_id = $2`, string(holderKind), holderID); err != nil {
		return err
	}
	if len(refs) == 0 {
		return nil
	}
	kinds, ids := make([]string, len(refs)), make([]string, len(refs))
	for i, r := range refs {
		kinds[i], ids[i] = string(r.Kind), r.ID
	}
	rows, _ := tx.Query(ctx, `SELECT kind, id FROM resources
		WHERE (kind, id) IN (SELECT * FROM unnest($1::text[], $2::text[])) FOR KEY SHARE`, kinds, ids)
	have := map[resource.Ref]bool{}
	for rows.Next() {
		var r resource.Ref
		var k string
		if err := rows.Scan(&k, &r.ID); err != nil {
			rows.Close()
			return err
		}
		r.Kind = resource.Kind(k)
		have[r] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range refs {
		if !have[r] {
			return domainError{&resource.MissingRefError{Ref: r}}
		}
	}
	_, err := tx.Exec(ctx, `INSERT INTO refs (holder_kind, holder_id, kind, id)
		SELECT $1, $2, k, i FROM unnest($3::text[], $4::text[]) AS t(k, i) ON CONFLICT DO NOTHING`,
		string(holderKind), holderID, kinds, ids)
	return err
}

// putAliases replaces the aliases of distribution id.
func putAliases(ctx context.Context, tx pgx.Tx, id string, aliases []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM aliases WHERE distribution_id = $1`, id); err != nil {
		return err
	}
	var keys []string
	for _, a := range aliases {
		keys = append(keys, distribution.AliasKey(a))
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	if len(keys) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO aliases (alias_key, distribution_id) SELECT unnest($1::bytea[]), $2`, bytesOf(keys), id)
	if _, ok := constraint(err, uniqueViolation); ok {
		return domainError{distribution.ErrAliasTaken}
	}
	return err
}

// CreateDistribution implements distribution.Store.
func (s *Store) CreateDistribution(ctx context.Context, d distribution.Distribution) error {
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO distributions (id, ref_hash, data) VALUES ($1, $2, $3)`,
			d.ID, hash(d.CallerReference), data)
		if c, ok := constraint(err, uniqueViolation); ok {
			if c == "distributions_caller_reference" {
				return domainError{distribution.ErrCallerReferenceTaken}
			}
			return domainError{distribution.ErrIDTaken}
		}
		if err != nil {
			return err
		}
		if err := putAliases(ctx, tx, d.ID, d.Config.Aliases); err != nil {
			return err
		}
		return putRefs(ctx, tx, distHolder, d.ID, d.Refs)
	})
}

func decodeDist(data []byte) (distribution.Distribution, error) {
	var d distribution.Distribution
	err := json.Unmarshal(data, &d)
	return d, err
}

// UpdateDistribution implements distribution.Store.
func (s *Store) UpdateDistribution(ctx context.Context, id string, change func(d *distribution.Distribution) error) (distribution.Distribution, error) {
	var out distribution.Distribution
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var data []byte
		err := tx.QueryRow(ctx, `SELECT data FROM distributions WHERE id = $1 FOR UPDATE`, id).Scan(&data)
		if errors.Is(err, pgx.ErrNoRows) {
			return domainError{distribution.ErrNotFound}
		}
		if err != nil {
			return err
		}
		d, err := decodeDist(data)
		if err != nil {
			return domainError{err}
		}
		ref := d.CallerReference
		if change != nil {
			if err := change(&d); err != nil {
				return domainError{err}
			}
		}
		if d.ID != id || d.CallerReference != ref {
			return domainError{catalog.ErrImmutable}
		}
		data, err = json.Marshal(d)
		if err != nil {
			return domainError{err}
		}
		if out, err = decodeDist(data); err != nil {
			return domainError{err}
		}
		if _, err := tx.Exec(ctx, `UPDATE distributions SET data = $2 WHERE id = $1`, id, data); err != nil {
			return err
		}
		if err := putAliases(ctx, tx, id, d.Config.Aliases); err != nil {
			return err
		}
		return putRefs(ctx, tx, distHolder, id, d.Refs)
	})
	if err != nil {
		return distribution.Distribution{}, err
	}
	return out, nil
}

// DeleteDistribution implements distribution.Store: the distribution,
// its aliases, references and invalidations go in one transaction.
func (s *Store) DeleteDistribution(ctx context.Context, id string, check func(d distribution.Distribution) error) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var data []byte
		err := tx.QueryRow(ctx, `SELECT data FROM distributions WHERE id = $1 FOR UPDATE`, id).Scan(&data)
		if errors.Is(err, pgx.ErrNoRows) {
			return domainError{distribution.ErrNotFound}
		}
		if err != nil {
			return err
		}
		if check != nil {
			d, err := decodeDist(data)
			if err != nil {
				return domainError{err}
			}
			if err := check(d); err != nil {
				return domainError{err}
			}
		}
		b := &pgx.Batch{}
		b.Queue(`SELECT 1 FROM invalidation_added WHERE distribution_id = $1 FOR UPDATE`, id)
		b.Queue(`DELETE FROM invalidations WHERE distribution_id = $1`, id)
		b.Queue(`DELETE FROM invalidation_added WHERE distribution_id = $1`, id)
		b.Queue(`DELETE FROM invalidation_freed WHERE distribution_id = $1`, id)
		b.Queue(`DELETE FROM refs WHERE holder_kind = $1 AND holder_id = $2`, distHolder, id)
		b.Queue(`DELETE FROM distributions WHERE id = $1`, id)
		return tx.SendBatch(ctx, b).Close()
	})
}

// GetDistribution implements distribution.Store.
func (s *Store) GetDistribution(ctx context.Context, id string) (distribution.Distribution, error) {
	var d distribution.Distribution
	err := s.query(ctx, func(ctx context.Context) error {
		var data []byte
		err := s.pool.QueryRow(ctx, `SELECT data FROM distributions WHERE id = $1`, id).Scan(&data)
		if errors.Is(err, pgx.ErrNoRows) {
			return domainError{distribution.ErrNotFound}
		}
		if err != nil {
			return err
		}
		d, err = decodeDist(data)
		if err != nil {
			return domainError{err}
		}
		return nil
	})
	return d, err
}

// Distributions implements distribution.Store.
func (s *Store) Distributions(ctx context.Context) ([]distribution.Distribution, error) {
	var out []distribution.Distribution
	err := s.query(ctx, func(ctx context.Context) error {
		out = nil
		rows, _ := s.pool.Query(ctx, `SELECT data FROM distributions ORDER BY id COLLATE "C"`)
		for rows.Next() {
			var data []byte
			if err := rows.Scan(&data); err != nil {
				rows.Close()
				return err
			}
			d, err := decodeDist(data)
			if err != nil {
				rows.Close()
				return domainError{err}
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	return out, err
}

func decodeRes(data []byte) (resource.Resource, error) {
	var r resource.Resource
	err := json.Unmarshal(data, &r)
	return r, err
}

// getRes reads one resource in tx ("FOR UPDATE" or "" as lock).
func getRes(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, kind resource.Kind, id, lock string) (resource.Resource, error) {
	var data []byte
	err := q.QueryRow(ctx, `SELECT data FROM resources WHERE kind = $1 AND id = $2 `+lock, string(kind), id).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return resource.Resource{}, domainError{resource.ErrNotFound}
	}
	if err != nil {
		return resource.Resource{}, err
	}
	r, err := decodeRes(data)
	if err != nil {
		return r, domainError{err}
	}
	return r, nil
}

// resLock is the key space of the transaction advisory locks that
// serialize the creates of one kind (the quota counts them).
const resLock = 0x7265730000000000 // "res"

// CreateResource implements resource.Store. Creates of one kind take a
// transaction advisory lock on the kind, so that admit's count is exact
// across replicas.
func (s *Store) CreateResource(ctx context.Context, r resource.Resource, admit func(count int) error) (resource.Resource, error) {
	r = r.Clone()
	data, err := json.Marshal(r)
	if err != nil {
		return resource.Resource{}, err
	}
	var existing resource.Resource
	err = s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		existing = resource.Resource{}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, $2))`, string(r.Kind), int64(resLock)); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT data, name_hash = $3 FROM resources WHERE kind = $1 AND (id = $2 OR name_hash = $3)`,
			string(r.Kind), r.ID, hash(r.Name))
		var byName, byID []byte
		for rows.Next() {
			var d []byte
			var isName bool
			if err := rows.Scan(&d, &isName); err != nil {
				rows.Close()
				return err
			}
			if isName {
				byName = d
			} else {
				byID = d
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, c := range []struct {
			d   []byte
			err error
		}{{byName, resource.ErrNameTaken}, {byID, resource.ErrIDTaken}} {
			if c.d != nil {
				var err error
				if existing, err = decodeRes(c.d); err != nil {
					return domainError{err}
				}
				return domainError{c.err}
			}
		}
		if err := putRefs(ctx, tx, r.Kind, r.ID, r.Refs); err != nil {
			return err
		}
		if admit != nil {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM resources WHERE kind = $1 AND NOT managed`, string(r.Kind)).Scan(&n); err != nil {
				return err
			}
			if err := admit(n); err != nil {
				return domainError{err}
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO resources (kind, id, name_hash, managed, data) VALUES ($1, $2, $3, $4, $5)`,
			string(r.Kind), r.ID, hash(r.Name), r.Managed, data)
		return err
	})
	if err != nil {
		if errors.Is(err, resource.ErrNameTaken) || errors.Is(err, resource.ErrIDTaken) {
			return existing, err
		}
		return resource.Resource{}, err
	}
	return resource.Resource{}, nil
}

// UpdateResource implements resource.Store.
func (s *Store) UpdateResource(ctx context.Context, kind resource.Kind, id string, change func(r *resource.Resource) error) (resource.Resource, error) {
	var out resource.Resource
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		r, err := getRes(ctx, tx, kind, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		if change != nil {
			if err := change(&r); err != nil {
				return domainError{err}
			}
		}
		if r.Kind != kind || r.ID != id {
			return domainError{catalog.ErrImmutable}
		}
		out = r.Clone()
		data, err := json.Marshal(out)
		if err != nil {
			return domainError{err}
		}
		_, err = tx.Exec(ctx, `UPDATE resources SET name_hash = $3, managed = $4, data = $5 WHERE kind = $1 AND id = $2`,
			string(kind), id, hash(out.Name), out.Managed, data)
		if _, ok := constraint(err, uniqueViolation); ok {
			return domainError{resource.ErrNameTaken}
		}
		if err != nil {
			return err
		}
		return putRefs(ctx, tx, kind, id, out.Refs)
	})
	if err != nil {
		return resource.Resource{}, err
	}
	return out.Clone(), nil
}

// DeleteResource implements resource.Store: the foreign key from refs
// refuses the deletion of what something other than itself refers to.
func (s *Store) DeleteResource(ctx context.Context, kind resource.Kind, id string, check func(r resource.Resource) error) error {
	return s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		r, err := getRes(ctx, tx, kind, id, "FOR UPDATE")
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(r); err != nil {
				return domainError{err}
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM refs WHERE holder_kind = $1 AND holder_id = $2`, string(kind), id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM resources WHERE kind = $1 AND id = $2`, string(kind), id)
		if _, ok := constraint(err, foreignKeyViolation); ok {
			return domainError{resource.ErrInUse}
		}
		return err
	})
}

// GetResource implements resource.Store.
func (s *Store) GetResource(ctx context.Context, kind resource.Kind, id string) (resource.Resource, error) {
	var r resource.Resource
	err := s.query(ctx, func(ctx context.Context) error {
		var err error
		r, err = getRes(ctx, s.pool, kind, id, "")
		return err
	})
	return r, err
}

// Resources implements resource.Store.
func (s *Store) Resources(ctx context.Context, kind resource.Kind) ([]resource.Resource, error) {
	var out []resource.Resource
	err := s.query(ctx, func(ctx context.Context) error {
		out = nil
		rows, _ := s.pool.Query(ctx, `SELECT data FROM resources WHERE kind = $1 ORDER BY id COLLATE "C"`, string(kind))
		for rows.Next() {
			var data []byte
			if err := rows.Scan(&data); err != nil {
				rows.Close()
				return err
			}
			r, err := decodeRes(data)
			if err != nil {
				rows.Close()
				return domainError{err}
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, err
}
