package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openfront/openfront/internal/invalidation"
)

const invColumns = `distribution_id, id, caller_reference, in_progress, create_time, complete_time, paths, seq`

func scanInv(row pgx.Row) (invalidation.Invalidation, int64, error) {
	var inv invalidation.Invalidation
	var inProgress bool
	var created int64
	var done *int64
	var seq int64
	var ref []byte
	var paths [][]byte
	if err := row.Scan(&inv.DistributionID, &inv.ID, &ref, &inProgress,
		&created, &done, &paths, &seq); err != nil {
		return inv, 0, err
	}
	inv.Batch.CallerReference = string(ref)
	inv.Batch.Paths = make([]string, len(paths))
	for i, p := range paths {
		inv.Batch.Paths[i] = string(p)
	}
	inv.Status = invalidation.Completed
	if inProgress {
		inv.Status = invalidation.InProgress
	}
	inv.CreateTime = time.Unix(0, created).UTC()
	if done != nil {
		inv.CompleteTime = time.Unix(0, *done).UTC()
	}
	return inv, seq, nil
}

// Get implements invalidation.Store.
func (s *Store) Get(ctx context.Context, distributionID, id string) (invalidation.Invalidation, error) {
	var inv invalidation.Invalidation
	err := s.query(ctx, func(ctx context.Context) error {
		var err error
		inv, _, err = scanInv(s.pool.QueryRow(ctx, `SELECT `+invColumns+` FROM invalidations
			WHERE distribution_id = $1 AND id = $2`, distributionID, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return domainError{invalidation.ErrNotFound}
		}
		return err
	})
	return inv, err
}

// List implements invalidation.Store: one statement, so a page is one
// snapshot, and pages follow seq, which every replica shares.
func (s *Store) List(ctx context.Context, distributionID, marker string, limit int) ([]invalidation.Invalidation, bool, error) {
	var page []invalidation.Invalidation
	more := false
	err := s.query(ctx, func(ctx context.Context) error {
		page, more = nil, false
		var rows pgx.Rows
		if marker == "" {
			rows, _ = s.pool.Query(ctx, `SELECT `+invColumns+` FROM invalidations
				WHERE distribution_id = $1 ORDER BY seq DESC LIMIT $2`, distributionID, limit+1)
		} else {
			// The marker's row comes first (flagged), so that an unknown
			// marker is told apart from an empty page in one statement.
			rows, _ = s.pool.Query(ctx, `WITH m AS (SELECT seq FROM invalidations WHERE distribution_id = $1 AND id = $2)
				(SELECT `+invColumns+` FROM invalidations WHERE distribution_id = $1 AND id = $2)
				UNION ALL
				(SELECT `+invColumns+` FROM invalidations WHERE distribution_id = $1 AND seq < (SELECT seq FROM m)
				ORDER BY seq DESC LIMIT $3)`, distributionID, marker, limit+1)
		}
		first := marker != ""
		for rows.Next() {
			inv, _, err := scanInv(rows)
			if err != nil {
				rows.Close()
				return err
			}
			if first {
				first = false
				if inv.ID == marker {
					continue
				}
			}
			page = append(page, inv)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if first {
			return domainError{invalidation.ErrMarkerNotFound}
		}
		if len(page) > limit {
			page, more = page[:limit], true
		}
		return nil
	})
	return page, more, err
}

// Complete implements invalidation.Store.
func (s *Store) Complete(ctx context.Context, distributionID, id string, at time.Time) error {
	return s.CompleteAll(ctx, []invalidation.CompleteItem{{DistributionID: distributionID, ID: id, At: at}})[0]
}

// CompleteAll implements invalidation.Store: one transaction, which
// locks the usage rows of the items' distributions in the order of their
// Ids (as Create does), marks the items and takes their paths off the
// usage.
func (s *Store) CompleteAll(ctx context.Context, items []invalidation.CompleteItem) []error {
	errs := make([]error, len(items))
	if len(items) == 0 {
		return errs
	}
	var dists []string
	for _, it := range items {
		dists = append(dists, it.DistributionID)
	}
	slices.Sort(dists)
	dists = slices.Compact(dists)
	err := s.tx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		clear(errs)
		b := &pgx.Batch{}
		b.Queue(`SELECT 1 FROM invalidation_usage WHERE distribution_id = ANY($1) ORDER BY distribution_id FOR UPDATE`, dists)
		for _, it := range items {
			b.Queue(`WITH u AS (UPDATE invalidations SET in_progress = false, complete_time = $3
					WHERE distribution_id = $1 AND id = $2 AND in_progress RETURNING file_paths, wildcard_paths),
				d AS (UPDATE invalidation_usage SET file_paths = invalidation_usage.file_paths - u.file_paths,
					wildcard_paths = invalidation_usage.wildcard_paths - u.wildcard_paths
					FROM u WHERE distribution_id = $1 RETURNING 1)
				SELECT EXISTS (SELECT 1 FROM invalidations WHERE distribution_id = $1 AND id = $2), (SELECT count(*) FROM d)`,
				it.DistributionID, it.ID, it.At.UTC().UnixNano())
		}
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return err
		}
		for i := range items {
			var exists bool
			var n int
			if err := br.QueryRow().Scan(&exists, &n); err != nil {
				return err
			}
			if !exists {
				errs[i] = invalidation.ErrNotFound
			}
		}
		return br.Close()
	})
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// CountInProgress implements invalidation.Store.
func (s *Store) CountInProgress(ctx context.Context, distributionID string) (int, error) {
	var n int
	err := s.query(ctx, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, `SELECT count(*) FROM invalidations WHERE distribution_id = $1 AND in_progress`,
			distributionID).Scan(&n)
	})
	return n, err
}

// InProgress implements invalidation.Store: oldest first by CreateTime,
// then by creation order.
func (s *Store) InProgress(ctx context.Context) ([]invalidation.Invalidation, error) {
	var out []invalidation.Invalidation
	err := s.query(ctx, func(ctx context.Context) error {
		out = nil
		rows, _ := s.pool.Query(ctx, `SELECT `+invColumns+` FROM invalidations WHERE in_progress ORDER BY create_time, seq`)
		for rows.Next() {
			inv, _, err := scanInv(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, inv)
		}
		return rows.Err()
	})
	return out, err
}
