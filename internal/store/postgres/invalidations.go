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
	var paths []byte
	if err := row.Scan(&inv.DistributionID, &inv.ID, &ref, &inProgress,
		&created, &done, &paths, &seq); err != nil {
		return inv, 0, err
	}
	inv.Batch.CallerReference = string(ref)
	var err error
	if inv.Batch.Paths, err = decodePaths(paths); err != nil {
		return inv, 0, err
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

// completeSQL marks the items ($1 distribution Ids, $2 Ids, $3 times)
// that are InProgress Completed (the first of duplicates deciding), adds
// their paths to what their distributions freed, and returns the
// (1-based) positions of the items that do not exist. in_progress (NOT
// NULL) is tested as IS NOT FALSE, which does not imply the predicate of
// the partial index invalidations_in_progress: a plan that read that
// index whole (every invalidation in progress) for each item, which the
// planner takes when the statistics say few are, stays out of reach.
const completeSQL = `WITH items AS (
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS t(d, id, at, ord)),
	done AS (
		UPDATE invalidations i SET in_progress = false, complete_time = f.at
		FROM (SELECT DISTINCT ON (d, id) d, id, at FROM items ORDER BY d, id, ord) f
		WHERE i.distribution_id = f.d AND i.id = f.id AND i.in_progress IS NOT FALSE
		RETURNING i.distribution_id, i.file_paths, i.wildcard_paths),
	sums AS (
		SELECT distribution_id, sum(file_paths) AS f, sum(wildcard_paths) AS w FROM done GROUP BY distribution_id),
	freed AS (
		UPDATE invalidation_freed x SET file_paths = x.file_paths + sums.f, wildcard_paths = x.wildcard_paths + sums.w
		FROM sums WHERE x.distribution_id = sums.distribution_id)
	SELECT ord FROM items
	WHERE NOT EXISTS (SELECT 1 FROM invalidations i WHERE i.distribution_id = items.d AND i.id = items.id)`

// completeArgs are completeSQL's arguments for items.
func completeArgs(items []invalidation.CompleteItem) []any {
	dist, id, at := make([]string, len(items)), make([]string, len(items)), make([]int64, len(items))
	for i, it := range items {
		dist[i], id[i], at[i] = it.DistributionID, it.ID, it.At.UTC().UnixNano()
	}
	return []any{dist, id, at}
}

// notFound reads completeSQL's rows into errs.
func notFound(rows pgx.Rows, errs []error) error {
	for rows.Next() {
		var ord int64
		if err := rows.Scan(&ord); err != nil {
			rows.Close()
			return err
		}
		errs[ord-1] = invalidation.ErrNotFound
	}
	return rows.Err()
}

// CompleteAll implements invalidation.Store. Completions join the group
// of Creates under way (create.go): their statement goes in the group's
// transaction, so that they cost no commit of their own; with no Create
// waiting, they are one statement (one transaction) of their own.
func (s *Store) CompleteAll(ctx context.Context, items []invalidation.CompleteItem) []error {
	if len(items) == 0 {
		return []error{}
	}
	r := &completeReq{items: slices.Clone(items), done: make(chan []error, 1)}
	if !s.enqueue(nil, r) {
		return fill(len(items), ErrClosed)
	}
	select {
	case errs := <-r.done:
		return errs
	case <-ctx.Done():
		return fill(len(items), ctx.Err())
	}
}

func fill(n int, err error) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// completeAlone runs the completions of reqs in one statement.
func (s *Store) completeAlone(ctx context.Context, reqs []*completeReq) error {
	items, errs := mergeCompletes(reqs)
	for attempt := 0; ; attempt++ {
		clear(errs)
		rows, _ := s.pool.Query(ctx, completeSQL, completeArgs(items)...)
		err := notFound(rows, errs)
		if attempt < 5 && retryable(err) {
			continue
		}
		return err
	}
}

// mergeCompletes returns the items of reqs end to end and one slice of
// errors over them, whose parts are each request's.
func mergeCompletes(reqs []*completeReq) ([]invalidation.CompleteItem, []error) {
	var items []invalidation.CompleteItem
	for _, r := range reqs {
		items = append(items, r.items...)
	}
	errs := make([]error, len(items))
	at := 0
	for _, r := range reqs {
		r.errs = errs[at : at+len(r.items) : at+len(r.items)]
		at += len(r.items)
	}
	return items, errs
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
