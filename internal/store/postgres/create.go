package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openfront/openfront/internal/invalidation"
)

// Creates are grouped: a Create queues its request, and whoever finds no
// group loop running starts one, which takes everything queued (up to
// maxGroup) into one transaction, commits it, answers its requests and
// takes the next group, until the queue is empty. No request waits for a
// timer: a group is whatever queued while the previous one committed.
//
// A group's transaction locks, in the order of their Ids (no deadlock
// with another replica's group), the invalidation_added rows of its
// distributions (SELECT ... FOR UPDATE), reading with them their
// in-progress usage (added minus freed: see the schema): a Create on one
// of them in any replica waits for the commit, so that each admit sees
// every invalidation committed before it and the in-progress limits hold
// across replicas. The requests are then decided in queue order against
// what the transaction has seen and written so far (a replay of a
// CallerReference created earlier in the group finds it). Two round
// trips a group, each one pipeline: BEGIN, the planner settings
// (groupSettingsSQL), the locks and the usage, the CallerReferences'
// lookups and the sequence numbers; then the writes (the invalidations
// in one INSERT, the usage, the fleet log's events, the completions that
// joined the group) and COMMIT.

type createReq struct {
	inv   invalidation.Invalidation
	admit func(invalidation.Usage) error
	done  chan createResult // buffered 1
}

// completeReq is a CompleteAll waiting for a group.
type completeReq struct {
	items []invalidation.CompleteItem
	errs  []error      // the group's results for items (see mergeCompletes)
	done  chan []error // buffered 1
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
	if !s.enqueue(r, nil) {
		return invalidation.Invalidation{}, false, ErrClosed
	}
	select {
	case res := <-r.done:
		return res.inv, res.created, res.err
	case <-ctx.Done():
		// The group may still commit it; a retry with the same
		// CallerReference finds it.
		return invalidation.Invalidation{}, false, ctx.Err()
	}
}

// enqueue queues a Create or a CompleteAll for the group loop, starting
// it if none runs; false if the store is closed.
func (s *Store) enqueue(c *createReq, d *completeReq) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if c != nil {
		s.queue = append(s.queue, c)
	}
	if d != nil {
		s.completes = append(s.completes, d)
	}
	if !s.running {
		s.running = true
		s.wg.Add(1)
		go s.groupLoop()
	}
	return true
}

func (s *Store) groupLoop() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		n := min(len(s.queue), maxGroup)
		m, items := 0, 0
		for m < len(s.completes) && items < maxCompleteItems {
			items += len(s.completes[m].items)
			m++
		}
		if n == 0 && m == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		group := slices.Clone(s.queue[:n])
		s.queue = slices.Delete(s.queue, 0, n)
		completes := slices.Clone(s.completes[:m])
		s.completes = slices.Delete(s.completes, 0, m)
		s.mu.Unlock()
		res := s.createGroup(group, completes)
		for i, r := range group {
			r.done <- res[i]
		}
		for _, r := range completes {
			r.done <- r.errs
		}
	}
}

// createGroup runs the requests of group in one transaction and returns
// their results.
func (s *Store) createGroup(group []*createReq, completes []*completeReq) []createResult {
	res := make([]createResult, len(group))
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	var err error
	if len(group) == 0 {
		if err = s.completeAlone(ctx, completes); err != nil {
			err = s.fail("complete", err)
			for _, r := range completes {
				for i := range r.errs {
					r.errs[i] = err
				}
			}
		}
		return res
	}
	items, errs := mergeCompletes(completes)
	for attempt := 0; attempt < 5; attempt++ {
		clear(res)
		clear(errs)
		err = s.pool.AcquireFunc(ctx, func(c *pgxpool.Conn) error { return s.createTx(ctx, c.Conn(), group, res, items, errs) })
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
		for i := range errs {
			errs[i] = err
		}
		return res
	}
	s.mu.Lock()
	s.groups++
	s.mu.Unlock()
	return res
}

// createTx runs a group's transaction in two round trips: BEGIN and the
// reads, then the writes and COMMIT (pipelines: the statements of each are
// sent at once). A failed statement fails the rest of its pipeline; the
// transaction is then rolled back.
func (s *Store) createTx(ctx context.Context, conn *pgx.Conn, group []*createReq, res []createResult,
	completes []invalidation.CompleteItem, completeErrs []error) (err error) {
	open := false
	defer func() {
		if err != nil && open && !conn.IsClosed() {
			conn.Exec(ctx, "ROLLBACK")
		}
	}()
	var dists []string
	for _, r := range group {
		dists = append(dists, r.inv.DistributionID)
	}
	slices.Sort(dists)
	dists = slices.Compact(dists)

	// Round trip 1: the group's planner settings, the usage rows (locked
	// and read; created if need be), the invalidations with the group's
	// CallerReferences, the sequence numbers.
	var refDists []string
	var refs [][]byte
	for _, r := range group {
		refDists = append(refDists, r.inv.DistributionID)
		refs = append(refs, hash(r.inv.Batch.CallerReference))
	}
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	b.Queue(groupSettingsSQL)
	b.Queue(lockUsageSQL, dists)
	// A statement of its own after the lock: its snapshot sees every
	// invalidation committed by the groups that held the lock before.
	b.Queue(lookupRefsSQL, refDists, refs)
	b.Queue(`SELECT nextval('invalidation_seq') FROM generate_series(1, $1)`, len(group))
	open = true
	rd := groupReads{usage: map[string]invalidation.Usage{}, existing: map[refKey]invalidation.Invalidation{}}
	if err = rd.read(conn.SendBatch(ctx, b), 2, true); err != nil {
		return err
	}
	if len(rd.usage) < len(dists) {
		// A distribution's first invalidation: lockUsageSQL made its row
		// (or waited for another transaction that did), which the
		// statement's own snapshot did not see. Lock and read again, all
		// of them, and the lookups after the locks.
		b = &pgx.Batch{}
		b.Queue(relockUsageSQL, dists)
		b.Queue(lookupRefsSQL, refDists, refs)
		seqs := rd.seqs
		rd = groupReads{usage: map[string]invalidation.Usage{}, existing: map[refKey]invalidation.Invalidation{}, seqs: seqs}
		if err = rd.read(conn.SendBatch(ctx, b), 0, false); err != nil {
			return err
		}
		if len(rd.usage) < len(dists) {
			return fmt.Errorf("the usage rows of %v were not found", dists)
		}
	}
	usage, existing, seqs, missingFreed := rd.usage, rd.existing, rd.seqs, rd.missingFreed

	// Decide each request in order; round trip 2 writes what is created,
	// the invalidations with one INSERT, and commits.
	var (
		cols struct {
			dist, id             []string
			seq, created         []int64
			done                 []*int64
			ref, refHash, paths  [][]byte
			inProgress           []bool
			filePaths, wildPaths []int32
		}
		evKeys []string
		evData [][]byte
		added  = map[string]invalidation.Usage{}
	)
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
			added[d] = added[d].Add(u)
		}
		var done *int64
		if !inv.CompleteTime.IsZero() {
			n := inv.CompleteTime.UnixNano()
			done = &n
		}
		cols.dist = append(cols.dist, d)
		cols.id = append(cols.id, inv.ID)
		cols.seq = append(cols.seq, seqs[i])
		cols.ref = append(cols.ref, []byte(inv.Batch.CallerReference))
		cols.refHash = append(cols.refHash, refs[i])
		cols.inProgress = append(cols.inProgress, inProgress)
		cols.created = append(cols.created, inv.CreateTime.UnixNano())
		cols.done = append(cols.done, done)
		cols.paths = append(cols.paths, encodePaths(inv.Batch.Paths))
		cols.filePaths = append(cols.filePaths, int32(u.FilePaths))
		cols.wildPaths = append(cols.wildPaths, int32(u.WildcardPaths))
		if s.eventOf != nil {
			if key, data := s.eventOf(inv); key != "" {
				evKeys = append(evKeys, key)
				evData = append(evData, data)
			}
		}
		existing[k] = inv
		res[i] = createResult{inv: cloneInv(inv), created: true}
	}
	w := &pgx.Batch{}
	if len(cols.id) > 0 || len(missingFreed) > 0 || len(added) > 0 {
		var ds []string
		var fs, ws []int64
		for d, u := range added {
			ds = append(ds, d)
			fs = append(fs, int64(u.FilePaths))
			ws = append(ws, int64(u.WildcardPaths))
		}
		w.Queue(writeSQL, cols.dist, cols.id, cols.seq, cols.ref, cols.refHash, cols.inProgress,
			cols.created, cols.done, cols.paths, cols.filePaths, cols.wildPaths, missingFreed, ds, fs, ws)
	}
	ai := -1
	if len(evKeys) > 0 {
		ai = w.Len() + 1 // queueAppend queues the counter's lock, then the append
		queueAppend(w, evKeys, evData)
	}
	ci := -1
	if len(completes) > 0 {
		ci = w.Len()
		w.Queue(completeSQL, completeArgs(completes)...)
	}
	w.Queue(`COMMIT`)
	br := conn.SendBatch(ctx, w)
	var tag pgconn.CommandTag
	newPos := map[string]int64{}
	for i := range w.Len() {
		if i == ci {
			rows, _ := br.Query()
			if err = notFound(rows, completeErrs); err != nil {
				break
			}
			continue
		}
		if i == ai {
			rows, _ := br.Query()
			if err = appendedNew(rows, newPos); err != nil {
				break
			}
			continue
		}
		if tag, err = br.Exec(); err != nil {
			break
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	open = false
	if tag.String() != "COMMIT" {
		return fmt.Errorf("the transaction did not commit: %s", tag)
	}
	s.handOff(evKeys, evData, newPos)
	return nil
}

type refKey struct{ dist, ref string }

// groupReads is what round trip 1 of a group reads.
type groupReads struct {
	usage        map[string]invalidation.Usage        // by distribution Id
	missingFreed []string                             // distributions with no invalidation_freed row
	existing     map[refKey]invalidation.Invalidation // the invalidations with the group's CallerReferences
	seqs         []int64                              // one sequence number per request
}

// read reads the results of a batch of skip statements with no rows, then
// lockUsageSQL's (or relockUsageSQL's) rows, lookupRefsSQL's, and when
// withSeqs the sequence numbers'; and closes the batch.
func (g *groupReads) read(br pgx.BatchResults, skip int, withSeqs bool) (err error) {
	defer func() {
		if cerr := br.Close(); err == nil {
			err = cerr
		}
	}()
	for range skip {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	rows, _ := br.Query()
	for rows.Next() {
		var d string
		var added invalidation.Usage
		var freedFiles, freedWild *int64
		if err := rows.Scan(&d, &added.FilePaths, &added.WildcardPaths, &freedFiles, &freedWild); err != nil {
			rows.Close()
			return err
		}
		u := added
		if freedFiles == nil {
			g.missingFreed = append(g.missingFreed, d)
		} else {
			u.FilePaths -= int(*freedFiles)
			u.WildcardPaths -= int(*freedWild)
		}
		g.usage[d] = u
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows, _ = br.Query()
	for rows.Next() {
		inv, _, err := scanInv(rows)
		if err != nil {
			rows.Close()
			return err
		}
		g.existing[refKey{inv.DistributionID, inv.Batch.CallerReference}] = inv
	}
	if err := rows.Err(); err != nil || !withSeqs {
		return err
	}
	rows, _ = br.Query()
	for rows.Next() {
		var q int64
		if err := rows.Scan(&q); err != nil {
			rows.Close()
			return err
		}
		g.seqs = append(g.seqs, q)
	}
	return rows.Err()
}

// groupSettingsSQL sets, for the group's transaction only, how its
// statements are planned. Each is planned once per connection (a generic
// plan, kept with the prepared statement) rather than at every execution;
// and since a plan kept is made for the tables as they were then (empty,
// perhaps, and the plan a sequential scan that would then stay while they
// grow until the next ANALYZE), the plans that only win on small tables
// are ruled out: every statement of the group reaches its rows by their
// keys, through the indexes (TestGroupPlans checks each one's plan, made
// on empty tables and on filled ones). JIT is off: the cost a disabled plan kind is given (the
// one-row event_counter has no other) would have each execution compile
// the statement.
const groupSettingsSQL = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true),
	set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true),
	set_config('enable_mergejoin', 'off', true), set_config('jit', 'off', true)`

// relockUsageSQL locks the invalidation_added rows of the distributions
// of $1 in the order of their Ids and returns them with their
// invalidation_freed rows (NULL when there is none). A row another
// transaction updated meanwhile is read as it committed (READ COMMITTED
// re-reads the row it waited for); invalidation_freed is read as of the
// statement's start: a completion committing meanwhile only lowers the
// usage, so admits see more, never less. (A distribution's
// invalidation_freed row is made by its first create's writes: inserting
// it here would wait for a completion updating it.)
const relockUsageSQL = `SELECT a.distribution_id, a.file_paths, a.wildcard_paths, f.file_paths, f.wildcard_paths
	FROM invalidation_added a LEFT JOIN invalidation_freed f USING (distribution_id)
	WHERE a.distribution_id = ANY($1) ORDER BY a.distribution_id FOR UPDATE OF a`

// lockUsageSQL is relockUsageSQL that also makes the invalidation_added
// rows that do not exist yet, after the SELECT (an unreferenced
// data-modifying WITH runs after the main statement): the rows it makes
// are not in what it returns.
const lockUsageSQL = `WITH made AS (
		INSERT INTO invalidation_added (distribution_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING)
	` + relockUsageSQL

// writeSQL writes a group's decisions in one statement: the new
// invalidations (columns $1 to $11), the invalidation_freed rows of the
// distributions of $12, and the paths of $14 and $15 added to what the
// distributions of $13 added.
const writeSQL = `WITH made AS (
		INSERT INTO invalidations (distribution_id, id, seq, caller_reference, ref_hash, in_progress,
			create_time, complete_time, paths, file_paths, wildcard_paths)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[], $5::bytea[], $6::boolean[],
			$7::bigint[], $8::bigint[], $9::bytea[], $10::integer[], $11::integer[])),
	freed AS (
		INSERT INTO invalidation_freed (distribution_id) SELECT unnest($12::text[]) ON CONFLICT DO NOTHING)
	UPDATE invalidation_added a SET file_paths = a.file_paths + t.f, wildcard_paths = a.wildcard_paths + t.w
	FROM unnest($13::text[], $14::bigint[], $15::bigint[]) AS t(d, f, w) WHERE a.distribution_id = t.d`

// lookupRefsSQL returns the invalidations of the pairs of distribution
// Ids ($1) and CallerReference hashes ($2), each found by the unique
// (distribution_id, ref_hash) index.
const lookupRefsSQL = `SELECT ` + invColumns + ` FROM unnest($1::text[], $2::bytea[]) AS t(d, h)
	JOIN invalidations i ON i.distribution_id = t.d AND i.ref_hash = t.h`

// encodePaths encodes paths for the paths column: each one's length
// (uvarint), then its bytes.
func encodePaths(paths []string) []byte {
	n := 0
	for _, p := range paths {
		n += binary.MaxVarintLen64 + len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range paths {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return b
}

// decodePaths decodes what encodePaths encoded.
func decodePaths(b []byte) ([]string, error) {
	var out []string
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, fmt.Errorf("postgres: corrupt paths")
		}
		out = append(out, string(b[k:k+int(n)]))
		b = b[k+int(n):]
	}
	return out, nil
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
