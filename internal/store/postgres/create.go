package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/openfront/openfront/internal/invalidation"
)

// Creates are grouped: a Create queues its request, and whoever finds no
// group loop running starts one, which takes everything queued (up to
// maxGroup) into one transaction, commits it, answers its requests and
// takes the next group, until the queue is empty. No request waits for a
// timer: a group is whatever queued while the previous one committed.
//
// A group's transaction locks, in the order of their Ids (no deadlock
// with another replica's group), the invalidation_usage rows of its
// distributions (SELECT ... FOR UPDATE): a Create on one of them in any
// replica waits for the commit, so that each admit sees every
// invalidation committed before it and the in-progress limits hold
// across replicas. The requests are then decided in queue order against
// what the transaction has seen and written so far (a replay of a
// CallerReference created earlier in the group finds it). Three round
// trips a group: the locks, the lookups and the sequence numbers (one
// pipeline); the writes (one pipeline); the commit.

type createReq struct {
	inv   invalidation.Invalidation
	admit func(invalidation.Usage) error
	done  chan createResult // buffered 1
}

type createResult struct {
	inv     invalidation.Invalidation
	created bool
	err     error
}

// Create implements invalidation.Store.
func (s *Store) Create(ctx context.Context, inv invalidation.Invalidation, admit func(invalidation.Usage) error) (invalidation.Invalidation, bool, error) {
	inv.Batch.Paths = slices.Clone(inv.Batch.Paths)
	r := &createReq{inv: inv, admit: admit, done: make(chan createResult, 1)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return invalidation.Invalidation{}, false, ErrClosed
	}
	s.queue = append(s.queue, r)
	if !s.running {
		s.running = true
		s.wg.Add(1)
		go s.groupLoop()
	}
	s.mu.Unlock()
	select {
	case res := <-r.done:
		return res.inv, res.created, res.err
	case <-ctx.Done():
		// The group may still commit it; a retry with the same
		// CallerReference finds it.
		return invalidation.Invalidation{}, false, ctx.Err()
	}
}

func (s *Store) groupLoop() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		n := min(len(s.queue), maxGroup)
		if n == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		group := slices.Clone(s.queue[:n])
		s.queue = slices.Delete(s.queue, 0, n)
		s.mu.Unlock()
		res := s.createGroup(group)
		for i, r := range group {
			r.done <- res[i]
		}
	}
}

// createGroup runs the requests of group in one transaction and returns
// their results.
func (s *Store) createGroup(group []*createReq) []createResult {
	res := make([]createResult, len(group))
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		clear(res)
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return s.createTx(ctx, tx, group, res) })
		if !retryable(err) {
			break
		}
	}
	if err != nil {
		err = s.fail("create", err)
		for i := range res {
			if res[i].err == nil {
				res[i] = createResult{err: err}
			}
		}
		return res
	}
	s.mu.Lock()
	s.groups++
	s.mu.Unlock()
	return res
}

func (s *Store) createTx(ctx context.Context, tx pgx.Tx, group []*createReq, res []createResult) error {
	var dists []string
	for _, r := range group {
		dists = append(dists, r.inv.DistributionID)
	}
	slices.Sort(dists)
	dists = slices.Compact(dists)

	// Round trip 1: the usage rows (created if need be, then locked), the
	// invalidations with the group's CallerReferences, the sequence
	// numbers.
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO invalidation_usage (distribution_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING`, dists)
	b.Queue(`SELECT distribution_id, file_paths, wildcard_paths FROM invalidation_usage
		WHERE distribution_id = ANY($1) ORDER BY distribution_id FOR UPDATE`, dists)
	var refDists []string
	var refs [][]byte
	for _, r := range group {
		refDists = append(refDists, r.inv.DistributionID)
		refs = append(refs, hash(r.inv.Batch.CallerReference))
	}
	b.Queue(`SELECT `+invColumns+` FROM invalidations
		WHERE (distribution_id, ref_hash) IN (SELECT * FROM unnest($1::text[], $2::bytea[]))`, refDists, refs)
	b.Queue(`SELECT nextval('invalidation_seq') FROM generate_series(1, $1)`, len(group))
	br := tx.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return err
	}
	usage := map[string]invalidation.Usage{}
	rows, _ := br.Query()
	for rows.Next() {
		var d string
		var u invalidation.Usage
		if err := rows.Scan(&d, &u.FilePaths, &u.WildcardPaths); err != nil {
			br.Close()
			return err
		}
		usage[d] = u
	}
	if err := rows.Err(); err != nil {
		br.Close()
		return err
	}
	type refKey struct{ dist, ref string }
	existing := map[refKey]invalidation.Invalidation{}
	rows, _ = br.Query()
	for rows.Next() {
		inv, _, err := scanInv(rows)
		if err != nil {
			br.Close()
			return err
		}
		existing[refKey{inv.DistributionID, inv.Batch.CallerReference}] = inv
	}
	if err := rows.Err(); err != nil {
		br.Close()
		return err
	}
	var seqs []int64
	rows, _ = br.Query()
	for rows.Next() {
		var q int64
		if err := rows.Scan(&q); err != nil {
			br.Close()
			return err
		}
		seqs = append(seqs, q)
	}
	if err := rows.Err(); err != nil {
		br.Close()
		return err
	}
	if err := br.Close(); err != nil {
		return err
	}

	// Decide each request in order; round trip 2 writes what is created.
	w := &pgx.Batch{}
	var evKeys []string
	var evData [][]byte
	changed := map[string]bool{}
	for i, r := range group {
		k := refKey{r.inv.DistributionID, r.inv.Batch.CallerReference}
		if old, ok := existing[k]; ok {
			res[i] = createResult{inv: cloneInv(old)}
			continue
		}
		d := r.inv.DistributionID
		if err := r.admit(usage[d]); err != nil {
			res[i] = createResult{err: err}
			continue
		}
		inv := r.inv
		if inv.ID == "" {
			inv.ID = s.ids.Encode(uint64(seqs[i]))
		}
		u := inv.Batch.Usage()
		inProgress := inv.Status == invalidation.InProgress
		if inProgress {
			usage[d] = usage[d].Add(u)
			changed[d] = true
		}
		var done *int64
		if !inv.CompleteTime.IsZero() {
			n := inv.CompleteTime.UnixNano()
			done = &n
		}
		w.Queue(`INSERT INTO invalidations (distribution_id, id, seq, caller_reference, ref_hash, in_progress,
			create_time, complete_time, paths, file_paths, wildcard_paths)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			d, inv.ID, seqs[i], []byte(inv.Batch.CallerReference), refs[i], inProgress,
			inv.CreateTime.UnixNano(), done, bytesOf(inv.Batch.Paths), u.FilePaths, u.WildcardPaths)
		if s.eventOf != nil {
			if key, data := s.eventOf(inv); key != "" {
				evKeys = append(evKeys, key)
				evData = append(evData, data)
			}
		}
		existing[k] = inv
		res[i] = createResult{inv: cloneInv(inv), created: true}
	}
	for d := range changed {
		u := usage[d]
		w.Queue(`UPDATE invalidation_usage SET file_paths = $2, wildcard_paths = $3 WHERE distribution_id = $1`,
			d, u.FilePaths, u.WildcardPaths)
	}
	if len(evKeys) > 0 {
		queueAppend(w, evKeys, evData)
	}
	if w.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, w).Close()
}

// hash is the SHA-256 under which a unique string a client chose is
// indexed.
func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// bytesOf converts strings for a bytea[] column.
func bytesOf(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = append([]byte{}, s...)
	}
	return out
}

func retryable(err error) bool {
	code := pgCode(err)
	return code == "40001" || code == "40P01"
}

func pgCode(err error) string {
	var pe interface{ SQLState() string }
	if errors.As(err, &pe) {
		return pe.SQLState()
	}
	return ""
}

func cloneInv(inv invalidation.Invalidation) invalidation.Invalidation {
	inv.Batch.Paths = slices.Clone(inv.Batch.Paths)
	return inv
}
