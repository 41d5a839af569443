// Package bolt is the embedded, durable Store: one bbolt file under the data
// directory. Writes from concurrent requests are gathered by a single
// committer goroutine into one transaction, so many creates share one fsync
// (group commit) and none is acknowledged before its fsync returns.
//
// The layout is chosen so that a commit writes few pages: bbolt rewrites
// every page a transaction touches, so keys that land on the right-most leaf
// of their B+tree (sequence numbers) cost one page per commit whatever the
// batch size, where random keys cost one page per write. Only the
// CallerReference index is random. See docs/architecture.md.
package bolt

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
)

// Bucket layout:
//
//	meta                        "idkey" -> 16 random bytes, the key of the Id permutation;
//	                            the bucket's sequence is the last invalidation sequence number
//	dist/<distributionID>/inv   seq (8 bytes, big endian) -> JSON Invalidation, as created
//	dist/<distributionID>/done  seq -> CompleteTime (8 bytes, Unix nanoseconds), once Completed
//	dist/<distributionID>/ref   SHA-256(CallerReference) -> seq (any length fits a key)
//	dist/<distributionID>/id    Id -> seq, only for Ids not derived from seq (files of
//	                            older versions, callers that pass their own Id)
//	inprogress                  seq <distributionID> -> usage, for InProgress ones (inProgressValue)
//	invevents                   seq -> position (8 bytes) <distributionID>: the fleet event
//	                            logged with the create of invalidation seq
//	distributions               <distributionID> -> JSON distribution.Distribution (API-created ones)
//	events                      position (8 bytes) -> event (the fleet's log)
//	eventkeys                   key -> position, so appends are idempotent
//	edges                       name -> edge record (the fleet's registry)
//
// Invalidation sequence numbers are global to the file and never reused
// (not even after a distribution is deleted), and an invalidation's Id is
// the keyed permutation of its sequence number (invalidation.IDCodec): the
// Id needs no index, and the records of a distribution, its completions, the
// in-progress set and the fleet's log all grow at their right-most leaf.
//
// Files written before this layout (random Ids in dist/*/id, per-distribution
// sequence numbers, an "active" bucket keyed by distribution and Id, the
// status rewritten in the JSON record) are upgraded in place at Open: the
// global sequence starts above every existing record, "active" becomes
// "inprogress", and old Ids stay readable through dist/*/id. The upgrade is
// one-way: older binaries must not open an upgraded file.
var (
	bucketMeta          = []byte("meta")
	bucketEvents        = []byte("events")
	bucketEventKeys     = []byte("eventkeys")
	bucketInvEvents     = []byte("invevents")
	bucketEdges         = []byte("edges")
	bucketDists         = []byte("dist")
	bucketInProgress    = []byte("inprogress")
	bucketOldActive     = []byte("active") // before the upgrade; see above
	bucketDistributions = []byte("distributions")
	subInv              = []byte("inv")
	subDone             = []byte("done")
	subID               = []byte("id")
	subRef              = []byte("ref")
	keyIDKey            = []byte("idkey")
)

// maxBatch bounds how many writes share one transaction.
const maxBatch = 512

// ErrClosed is returned for writes after Close.
var ErrClosed = errors.New("store closed")

// Store is a bbolt-backed invalidation.Store.
type Store struct {
	db      *bbolt.DB
	writes  chan *write
	ids     invalidation.IDCodec // set at Open, read-only after
	eventOf EventFunc            // set at Open, read-only after

	closeOnce sync.Once
	closing   chan struct{}
	done      chan struct{} // closed when the committer has exited

	// synced is the id of the last transaction known to be on disk (its
	// commit, fsyncs included, has returned). A read transaction may see a
	// newer one whose fsync is still under way; see loggedEvent.
	synced atomic.Uint64

	mu     sync.Mutex
	active map[string]invalidation.Usage // in-progress usage per distribution; guarded by mu, written by the committer only
}

// EventFunc returns the fleet event to log, in the same transaction, for a
// newly created invalidation: its key and data exactly as the fleet's hub
// would append them when it applies the invalidation (fleet.InvalidationEvent).
// The hub then finds the key logged and writes nothing. An empty key logs
// nothing.
type EventFunc func(invalidation.Invalidation) (key string, data []byte)

// Option configures Open.
type Option func(*Store)

// WithInvalidationEvent makes Create log fn's event with every new
// invalidation, so that creating and logging it for the fleet is one
// durable write instead of two.
func WithInvalidationEvent(fn EventFunc) Option {
	return func(s *Store) { s.eventOf = fn }
}

// write is one request to the committer.
type write struct {
	apply func(tx *bbolt.Tx, pending map[string]invalidation.Usage) error
	err   chan error
}

// FileName is the name of the bbolt file in the data directory.
const FileName = "openfront.db"

// Open opens (creating if needed) the store in dir, upgrading a file of an
// older layout in place.
func Open(dir string, opts ...Option) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	db, err := bbolt.Open(filepath.Join(dir, FileName), 0o600, &bbolt.Options{
		Timeout:      2 * time.Second, // another openfront holds the file
		FreelistType: bbolt.FreelistMapType,
		// The freelist is rebuilt by scanning the file at open instead of
		// being written by every commit.
		NoFreelistSync: true,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Join(dir, FileName), err)
	}
	s := &Store{
		db:      db,
		writes:  make(chan *write, maxBatch),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		active:  make(map[string]invalidation.Usage),
	}
	for _, o := range opts {
		o(s)
	}
	if err := s.load(); err != nil {
		db.Close()
		return nil, err
	}
	go s.commitLoop()
	return s, nil
}

// load creates the top buckets, upgrades an older layout, and derives
// in-progress usage.
func (s *Store) load() error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketDists, bucketDistributions, bucketEvents, bucketEventKeys, bucketInvEvents, bucketEdges, bucketInProgress} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if err := s.loadMeta(tx); err != nil {
			return err
		}
		if err := upgradeActive(tx); err != nil {
			return err
		}
		err := tx.Bucket(bucketInProgress).ForEach(func(k, v []byte) error {
			seq, distID, ok := splitInProgressKey(k)
			if !ok {
				return fmt.Errorf("corrupt in-progress key %q", k)
			}
			if u, _, ok := parseInProgressValue(v); ok {
				s.active[distID] = s.active[distID].Add(u)
				return nil
			}
			d, err := distBucket(tx, distID, false)
			if err != nil {
				return fmt.Errorf("in-progress invalidation %d of %s: %w", seq, distID, err)
			}
			inv, err := decode(d.Bucket(subInv).Get(seqKey(seq)))
			if err != nil {
				return fmt.Errorf("in-progress invalidation %d of %s: %w", seq, distID, err)
			}
			s.active[distID] = s.active[distID].Add(inv.Batch.Usage())
			return nil
		})
		if err != nil {
			return err
		}
		tx.OnCommit(func() { s.synced.Store(uint64(tx.ID())) })
		return nil
	})
}

// loadMeta reads the Id key, creating it (and starting the global sequence
// above every existing record) for a new or older file.
func (s *Store) loadMeta(tx *bbolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	key := meta.Get(keyIDKey)
	if key == nil {
		var last uint64
		err := tx.Bucket(bucketDists).ForEachBucket(func(name []byte) error {
			if inv := tx.Bucket(bucketDists).Bucket(name).Bucket(subInv); inv != nil {
				last = max(last, inv.Sequence())
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := meta.SetSequence(last); err != nil {
			return err
		}
		key = make([]byte, 16)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		if err := meta.Put(keyIDKey, key); err != nil {
			return err
		}
	}
	s.ids = invalidation.NewIDCodec(key)
	return nil
}

// upgradeActive moves the "active" bucket of older files (distributionID
// 0x00 Id -> nil) into "inprogress".
func upgradeActive(tx *bbolt.Tx) error {
	old := tx.Bucket(bucketOldActive)
	if old == nil {
		return nil
	}
	inProgress := tx.Bucket(bucketInProgress)
	err := old.ForEach(func(k, _ []byte) error {
		distID, id, ok := bytes.Cut(k, []byte{0})
		if !ok {
			return fmt.Errorf("corrupt active key %q", k)
		}
		d, err := distBucket(tx, string(distID), false)
		if err != nil {
			return fmt.Errorf("active invalidation %s of %s: %w", id, distID, err)
		}
		seq := d.Bucket(subID).Get(id)
		if seq == nil {
			return fmt.Errorf("active invalidation %s of %s: no record", id, distID)
		}
		return inProgress.Put(inProgressKey(binary.BigEndian.Uint64(seq), string(distID)), nil)
	})
	if err != nil {
		return err
	}
	return tx.DeleteBucket(bucketOldActive)
}

// commitLoop runs every write, gathering those that queue up while the
// previous transaction commits into the next one.
func (s *Store) commitLoop() {
	defer close(s.done)
	batch := make([]*write, 0, maxBatch)
	for {
		select {
		case w := <-s.writes:
			batch = append(batch[:0], w)
		case <-s.closing:
			// Drain what was queued before Close, then stop.
			for {
				select {
				case w := <-s.writes:
					s.commit([]*write{w})
				default:
					return
				}
			}
		}
	gather:
		for len(batch) < maxBatch {
			select {
			case w := <-s.writes:
				batch = append(batch, w)
			default:
				break gather
			}
		}
		s.commit(batch)
	}
}

// commit applies a batch of writes in one transaction. Each apply makes all
// its checks before its first write, so a write refused by a rule (an
// *invalidation.Error, ErrNotFound) leaves nothing behind and the others
// still commit. Any other error rolls back the whole transaction and fails
// every write in it: better than a half-written record.
func (s *Store) commit(batch []*write) {
	results := make([]error, len(batch))
	pending := make(map[string]invalidation.Usage) // usage deltas of this transaction
	var txid uint64
	err := s.db.Update(func(tx *bbolt.Tx) error {
		txid = uint64(tx.ID())
		for i, w := range batch {
			results[i] = w.apply(tx, pending)
			if results[i] != nil && !isRuleError(results[i]) {
				return results[i]
			}
		}
		return nil
	})
	if err == nil {
		s.synced.Store(txid)
		s.mu.Lock()
		for d, u := range pending {
			s.active[d] = s.active[d].Add(u)
		}
		s.mu.Unlock()
	}
	for i, w := range batch {
		if err != nil {
			w.err <- err
		} else {
			w.err <- results[i]
		}
	}
}

func isRuleError(err error) bool {
	var r refused
	return errors.As(err, &r) || invalidation.CodeOf(err) != "" || errors.Is(err, invalidation.ErrNotFound)
}

// do hands apply to the committer and waits until its transaction is on disk.
func (s *Store) do(ctx context.Context, apply func(tx *bbolt.Tx, pending map[string]invalidation.Usage) error) error {
	select {
	case <-s.closing:
		return ErrClosed // select below would pick at random once closed
	default:
	}
	w := &write{apply: apply, err: make(chan error, 1)}
	select {
	case s.writes <- w:
	case <-s.closing:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the write is committed or failed; wait for the outcome
	// even if ctx ends, so the caller never reports a write that then lands.
	select {
	case err := <-w.err:
		return err
	case <-s.done:
		// The committer has exited: it answered w before, or never saw it.
		select {
		case err := <-w.err:
			return err
		default:
			return ErrClosed
		}
	}
}

// refused carries an error from admit through commit as a rule outcome:
// it refuses that one write, not the transaction.
type refused struct{ err error }

func (r refused) Error() string { return r.err.Error() }

func (s *Store) usage(distID string, pending map[string]invalidation.Usage) invalidation.Usage {
	s.mu.Lock()
	u := s.active[distID]
	s.mu.Unlock()
	return u.Add(pending[distID])
}

// Create implements invalidation.Store. An empty inv.ID gets the Id of the
// invalidation's sequence number.
func (s *Store) Create(ctx context.Context, inv invalidation.Invalidation, admit func(invalidation.Usage) error) (invalidation.Invalidation, bool, error) {
	var got invalidation.Invalidation
	var created bool
	err := s.do(ctx, func(tx *bbolt.Tx, pending map[string]invalidation.Usage) error {
		created = false
		d, err := distBucket(tx, inv.DistributionID, true)
		if err != nil {
			return err
		}
		if seq := d.Bucket(subRef).Get(refKey(inv.Batch.CallerReference)); seq != nil {
			got, err = readInv(d, seq)
			return err
		}
		if inv.ID != "" {
			if _, _, err := s.lookup(d, inv.ID); err == nil {
				return fmt.Errorf("invalidation id %s already used", inv.ID)
			} else if !errors.Is(err, invalidation.ErrNotFound) {
				return err
			}
		}
		if err := admit(s.usage(inv.DistributionID, pending)); err != nil {
			return refused{err}
		}
		rec := inv
		var n uint64
		for {
			if n, err = tx.Bucket(bucketMeta).NextSequence(); err != nil {
				return err
			}
			if inv.ID != "" {
				break
			}
			rec.ID = s.ids.Encode(n)
			// An older file's random Ids live in the id index: never hand
			// one out again (odds of 1 in 36^13 per Id; skip the number).
			if d.Bucket(subID).Get([]byte(rec.ID)) == nil {
				break
			}
		}
		data, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		seq := seqKey(n)
		invs := d.Bucket(subInv)
		invs.FillPercent = 1.0 // appended in sequence order
		if err := invs.Put(seq, data); err != nil {
			return err
		}
		if inv.ID != "" {
			if err := d.Bucket(subID).Put([]byte(rec.ID), seq); err != nil {
				return err
			}
		}
		if err := d.Bucket(subRef).Put(refKey(rec.Batch.CallerReference), seq); err != nil {
			return err
		}
		derived := inv.ID == "" // rec.ID is s.ids.Encode(n)
		if rec.Status == invalidation.InProgress {
			v := inProgressValue(rec.Batch.Usage(), derived)
			if err := tx.Bucket(bucketInProgress).Put(inProgressKey(n, rec.DistributionID), v); err != nil {
				return err
			}
			pending[rec.DistributionID] = pending[rec.DistributionID].Add(rec.Batch.Usage())
		}
		if err := s.logInvalidationEvent(tx, n, rec, derived); err != nil {
			return err
		}
		got, created = rec, true
		return nil
	})
	var r refused
	if errors.As(err, &r) {
		err = r.err
	}
	if err != nil {
		return invalidation.Invalidation{}, false, err
	}
	return got, created, nil
}

// logInvalidationEvent appends the fleet event of a new invalidation, when
// the store was opened WithInvalidationEvent. derived says inv.ID was
// derived from its sequence number n.
func (s *Store) logInvalidationEvent(tx *bbolt.Tx, n uint64, inv invalidation.Invalidation, derived bool) error {
	if s.eventOf == nil {
		return nil
	}
	key, data := s.eventOf(inv)
	if key == "" {
		return nil
	}
	if _, ok := lookupEvent(tx, s.ids, key); ok {
		return nil // cannot happen for a new Id, but appends stay idempotent
	}
	pos, err := appendEvent(tx, data)
	if err != nil {
		return err
	}
	if derived && key == invEventKey(inv.DistributionID, inv.ID) {
		// Found again through the Id, without a random key in eventkeys.
		ie := tx.Bucket(bucketInvEvents)
		ie.FillPercent = 1.0
		return ie.Put(seqKey(n), append(seqKey(pos), inv.DistributionID...))
	}
	return tx.Bucket(bucketEventKeys).Put([]byte(key), seqKey(pos))
}

// invEventKey is the key under which the fleet logs an invalidation.
func invEventKey(distID, id string) string { return fleet.InvalidationKey(distID, id) }

// Complete implements invalidation.Store. The record stays as created; a
// small entry in the distribution's done bucket, appended in sequence
// order, says when it completed.
func (s *Store) Complete(ctx context.Context, distributionID, id string, at time.Time) error {
	return s.do(ctx, func(tx *bbolt.Tx, pending map[string]invalidation.Usage) error {
		return s.complete(tx, pending, distributionID, id, at)
	})
}

// CompleteAll implements invalidation.Store: every item in one write of
// the committer (one transaction). An item refused by a rule
// (ErrNotFound) leaves nothing behind and fails no other; any other
// error fails them all, as it rolls back the transaction.
func (s *Store) CompleteAll(ctx context.Context, items []invalidation.CompleteItem) []error {
	errs := make([]error, len(items))
	err := s.do(ctx, func(tx *bbolt.Tx, pending map[string]invalidation.Usage) error {
		for i, it := range items {
			errs[i] = s.complete(tx, pending, it.DistributionID, it.ID, it.At)
			if errs[i] != nil && !isRuleError(errs[i]) {
				return errs[i]
			}
		}
		return nil
	})
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// complete marks an invalidation completed within tx; it makes all its
// checks before its first write.
func (s *Store) complete(tx *bbolt.Tx, pending map[string]invalidation.Usage, distributionID, id string, at time.Time) error {
	d, err := distBucket(tx, distributionID, false)
	if err != nil {
		return err
	}
	var n uint64
	var use invalidation.Usage
	fast := false
	if m, ok := s.ids.Decode(id); ok {
		// An Id derived from its number needs no record decoded: the
		// in-progress entry says so and carries the usage.
		if u, derived, ok := parseInProgressValue(tx.Bucket(bucketInProgress).Get(inProgressKey(m, distributionID))); ok && derived {
			n, use, fast = m, u, true
		}
	}
	if !fast {
		m, inv, err := s.lookup(d, id)
		if err != nil {
			return err
		}
		if inv.Status == invalidation.Completed {
			return nil
		}
		n, use = m, inv.Batch.Usage()
	}
	done, err := d.CreateBucketIfNotExists(subDone)
	if err != nil {
		return err
	}
	done.FillPercent = 1.0 // completions come nearly in sequence order
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(at.UnixNano()))
	if err := done.Put(seqKey(n), t[:]); err != nil {
		return err
	}
	if err := tx.Bucket(bucketInProgress).Delete(inProgressKey(n, distributionID)); err != nil {
		return err
	}
	pending[distributionID] = pending[distributionID].Sub(use)
	return nil
}

// lookup finds a distribution's invalidation by Id: through the Id
// permutation, else through the id index of Ids not derived from a sequence
// number.
func (s *Store) lookup(d *bbolt.Bucket, id string) (uint64, invalidation.Invalidation, error) {
	if n, ok := s.ids.Decode(id); ok {
		if data := d.Bucket(subInv).Get(seqKey(n)); data != nil {
			inv, err := decode(data)
			if err != nil {
				return 0, inv, err
			}
			// The number may hold another invalidation, one whose Id was
			// not derived from it (older files, Ids given by the caller).
			if inv.ID == id {
				return n, withCompletion(d, seqKey(n), inv), nil
			}
		}
	}
	if seq := d.Bucket(subID).Get([]byte(id)); seq != nil {
		inv, err := readInv(d, seq)
		return binary.BigEndian.Uint64(seq), inv, err
	}
	return 0, invalidation.Invalidation{}, invalidation.ErrNotFound
}

// readInv returns the invalidation stored under seq with its true status.
func readInv(d *bbolt.Bucket, seq []byte) (invalidation.Invalidation, error) {
	inv, err := decode(d.Bucket(subInv).Get(seq))
	if err != nil {
		return inv, err
	}
	return withCompletion(d, seq, inv), nil
}

// withCompletion applies the done entry of seq, if any, to inv.
func withCompletion(d *bbolt.Bucket, seq []byte, inv invalidation.Invalidation) invalidation.Invalidation {
	done := d.Bucket(subDone)
	if done == nil || inv.Status == invalidation.Completed {
		return inv
	}
	if t := done.Get(seq); len(t) == 8 {
		inv.Status = invalidation.Completed
		inv.CompleteTime = time.Unix(0, int64(binary.BigEndian.Uint64(t))).UTC()
	}
	return inv
}

// Get implements invalidation.Store.
func (s *Store) Get(ctx context.Context, distributionID, id string) (invalidation.Invalidation, error) {
	var inv invalidation.Invalidation
	err := s.db.View(func(tx *bbolt.Tx) error {
		d, err := distBucket(tx, distributionID, false)
		if err != nil {
			return err
		}
		_, inv, err = s.lookup(d, id)
		return err
	})
	return inv, err
}

// List implements invalidation.Store.
func (s *Store) List(ctx context.Context, distributionID, marker string, limit int) ([]invalidation.Invalidation, bool, error) {
	var page []invalidation.Invalidation
	more := false
	err := s.db.View(func(tx *bbolt.Tx) error {
		d, err := distBucket(tx, distributionID, false)
		if errors.Is(err, invalidation.ErrNotFound) {
			if marker != "" {
				return invalidation.ErrMarkerNotFound
			}
			return nil
		}
		if err != nil {
			return err
		}
		c := d.Bucket(subInv).Cursor()
		var k, v []byte
		if marker == "" {
			k, v = c.Last()
		} else {
			n, _, err := s.lookup(d, marker)
			if errors.Is(err, invalidation.ErrNotFound) {
				return invalidation.ErrMarkerNotFound
			}
			if err != nil {
				return err
			}
			c.Seek(seqKey(n))
			k, v = c.Prev()
		}
		for ; k != nil; k, v = c.Prev() {
			if len(page) == limit {
				more = true
				return nil
			}
			inv, err := decode(v)
			if err != nil {
				return err
			}
			page = append(page, withCompletion(d, k, inv))
		}
		return nil
	})
	return page, more, err
}

// CountInProgress implements invalidation.Store. It walks every in-progress
// invalidation (the set is keyed by sequence number, not distribution).
func (s *Store) CountInProgress(ctx context.Context, distributionID string) (int, error) {
	n := 0
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketInProgress).ForEach(func(k, _ []byte) error {
			if _, d, ok := splitInProgressKey(k); ok && d == distributionID {
				n++
			}
			return nil
		})
	})
	return n, err
}

// PutDistribution implements distribution.Store.
func (s *Store) PutDistribution(ctx context.Context, d distribution.Distribution) error {
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return s.do(ctx, func(tx *bbolt.Tx, _ map[string]invalidation.Usage) error {
		return tx.Bucket(bucketDistributions).Put([]byte(d.ID), data)
	})
}

// DeleteDistribution implements distribution.Store: the distribution and
// all its invalidations go in one transaction. Sequence numbers are not
// reused, so a distribution created again under the same Id never gets an
// Id (or fleet event key) of the deleted one's invalidations.
func (s *Store) DeleteDistribution(ctx context.Context, id string) error {
	return s.do(ctx, func(tx *bbolt.Tx, pending map[string]invalidation.Usage) error {
		if err := tx.Bucket(bucketDistributions).Delete([]byte(id)); err != nil {
			return err
		}
		if tx.Bucket(bucketDists).Bucket([]byte(id)) != nil {
			if err := tx.Bucket(bucketDists).DeleteBucket([]byte(id)); err != nil {
				return err
			}
		}
		act := tx.Bucket(bucketInProgress)
		var keys [][]byte
		err := act.ForEach(func(k, _ []byte) error {
			if _, d, ok := splitInProgressKey(k); ok && d == id {
				keys = append(keys, slices.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := act.Delete(k); err != nil {
				return err
			}
		}
		// Whatever usage it had is gone with it.
		s.mu.Lock()
		pending[id] = invalidation.Usage{}.Sub(s.active[id])
		s.mu.Unlock()
		return nil
	})
}

// Distributions implements distribution.Store.
func (s *Store) Distributions(ctx context.Context) ([]distribution.Distribution, error) {
	var out []distribution.Distribution
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketDistributions).ForEach(func(k, v []byte) error {
			var d distribution.Distribution
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("distribution %s: %w", k, err)
			}
			out = append(out, d)
			return nil
		})
	})
	return out, err
}

// AppendEvent implements fleet.Store. A key already logged (the event of
// an invalidation, logged by its Create) is found by a read transaction,
// without a write.
func (s *Store) AppendEvent(ctx context.Context, key string, data []byte) (uint64, error) {
	if pos, ok := s.loggedEvent(key); ok {
		return pos, nil
	}
	var pos uint64
	err := s.do(ctx, func(tx *bbolt.Tx, _ map[string]invalidation.Usage) error {
		if p, ok := lookupEvent(tx, s.ids, key); ok {
			pos = p
			return nil
		}
		n, err := appendEvent(tx, data)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketEventKeys).Put([]byte(key), seqKey(n)); err != nil {
			return err
		}
		pos = n
		return nil
	})
	return pos, err
}

// loggedEvent looks key up in a read transaction. It answers only from a
// transaction known to be on disk: a read transaction can see a commit
// whose fsync has not returned yet, and an event must not be reported
// logged before it is durable.
func (s *Store) loggedEvent(key string) (pos uint64, ok bool) {
	s.db.View(func(tx *bbolt.Tx) error {
		if uint64(tx.ID()) <= s.synced.Load() {
			pos, ok = lookupEvent(tx, s.ids, key)
		}
		return nil
	})
	return pos, ok
}

// lookupEvent returns the position of the event logged under key.
func lookupEvent(tx *bbolt.Tx, ids invalidation.IDCodec, key string) (uint64, bool) {
	if distID, id, ok := fleet.ParseInvalidationKey(key); ok {
		if n, ok := ids.Decode(id); ok {
			if v := tx.Bucket(bucketInvEvents).Get(seqKey(n)); len(v) > 8 && string(v[8:]) == distID {
				return binary.BigEndian.Uint64(v[:8]), true
			}
		}
	}
	if p := tx.Bucket(bucketEventKeys).Get([]byte(key)); p != nil {
		return binary.BigEndian.Uint64(p), true
	}
	return 0, false
}

// appendEvent adds data at the end of the log and returns its position.
func appendEvent(tx *bbolt.Tx, data []byte) (uint64, error) {
	ev := tx.Bucket(bucketEvents)
	ev.FillPercent = 1.0 // appended in order, trimmed from the front
	n, err := ev.NextSequence()
	if err != nil {
		return 0, err
	}
	return n, ev.Put(seqKey(n), data)
}

// EventsAfter implements fleet.Store.
func (s *Store) EventsAfter(ctx context.Context, after uint64, limit int) ([]fleet.StoredEvent, error) {
	var out []fleet.StoredEvent
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			out = append(out, fleet.StoredEvent{Pos: binary.BigEndian.Uint64(k), Data: slices.Clone(v)})
		}
		return nil
	})
	return out, err
}

// LogBounds implements fleet.Store.
func (s *Store) LogBounds(ctx context.Context) (first, last uint64, err error) {
	err = s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		if k, _ := c.First(); k != nil {
			first = binary.BigEndian.Uint64(k)
		}
		if k, _ := c.Last(); k != nil {
			last = binary.BigEndian.Uint64(k)
		}
		if last == 0 {
			// Everything was trimmed: the next position still follows the sequence.
			last = tx.Bucket(bucketEvents).Sequence()
			first = last + 1
		}
		return nil
	})
	return first, last, err
}

// TrimEvents implements fleet.Store. Keys of trimmed events stay, so a
// trimmed event is never appended again.
func (s *Store) TrimEvents(ctx context.Context, before uint64) error {
	return s.do(ctx, func(tx *bbolt.Tx, _ map[string]invalidation.Usage) error {
		b := tx.Bucket(bucketEvents)
		c := b.Cursor()
		for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) < before; k, _ = c.First() {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// SaveEdges implements fleet.Store.
func (s *Store) SaveEdges(ctx context.Context, edges map[string][]byte) error {
	return s.do(ctx, func(tx *bbolt.Tx, _ map[string]invalidation.Usage) error {
		if err := tx.DeleteBucket(bucketEdges); err != nil {
			return err
		}
		b, err := tx.CreateBucket(bucketEdges)
		if err != nil {
			return err
		}
		for name, data := range edges {
			if err := b.Put([]byte(name), data); err != nil {
				return err
			}
		}
		return nil
	})
}

// Edges implements fleet.Store.
func (s *Store) Edges(ctx context.Context) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketEdges).ForEach(func(k, v []byte) error {
			out[string(k)] = slices.Clone(v)
			return nil
		})
	})
	return out, err
}

// InProgress implements invalidation.Store.
func (s *Store) InProgress(ctx context.Context) ([]invalidation.Invalidation, error) {
	var out []invalidation.Invalidation
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketInProgress).ForEach(func(k, _ []byte) error {
			n, distID, ok := splitInProgressKey(k)
			if !ok {
				return fmt.Errorf("corrupt in-progress key %q", k)
			}
			d, err := distBucket(tx, distID, false)
			if err != nil {
				return err
			}
			inv, err := readInv(d, seqKey(n))
			if err != nil {
				return err
			}
			out = append(out, inv)
			return nil
		})
	})
	slices.SortFunc(out, func(a, b invalidation.Invalidation) int { return a.CreateTime.Compare(b.CreateTime) })
	return out, err
}

// Close waits for queued writes, then closes the file.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closing)
		<-s.done
		err = s.db.Close()
	})
	return err
}

func distBucket(tx *bbolt.Tx, distID string, create bool) (*bbolt.Bucket, error) {
	root := tx.Bucket(bucketDists)
	if !create {
		d := root.Bucket([]byte(distID))
		if d == nil {
			return nil, invalidation.ErrNotFound
		}
		return d, nil
	}
	d, err := root.CreateBucketIfNotExists([]byte(distID))
	if err != nil {
		return nil, err
	}
	for _, name := range [][]byte{subInv, subID, subRef, subDone} {
		if _, err := d.CreateBucketIfNotExists(name); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func decode(data []byte) (invalidation.Invalidation, error) {
	var inv invalidation.Invalidation
	if data == nil {
		return inv, errors.New("dangling index entry")
	}
	err := json.Unmarshal(data, &inv)
	return inv, err
}

func refKey(ref string) []byte {
	sum := sha256.Sum256([]byte(ref))
	return sum[:]
}

func seqKey(n uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, n)
	return k
}

// inProgressKey is the key of invalidation n of distID in "inprogress":
// the sequence number first, so that new entries land on the last leaf.
func inProgressKey(n uint64, distID string) []byte {
	return append(seqKey(n), distID...)
}

func splitInProgressKey(k []byte) (n uint64, distID string, ok bool) {
	if len(k) <= 8 {
		return 0, "", false
	}
	return binary.BigEndian.Uint64(k[:8]), string(k[8:]), true
}

// inProgressValue is the value of an "inprogress" entry: a version byte
// (1: the Id is derived from the sequence number, 2: it is not), then the
// usage as two uvarints. Entries upgraded from older files are empty: their
// usage is read from the record.
func inProgressValue(u invalidation.Usage, derived bool) []byte {
	v := []byte{2}
	if derived {
		v[0] = 1
	}
	v = binary.AppendUvarint(v, uint64(u.FilePaths))
	return binary.AppendUvarint(v, uint64(u.WildcardPaths))
}

func parseInProgressValue(v []byte) (u invalidation.Usage, derived, ok bool) {
	if len(v) < 3 || (v[0] != 1 && v[0] != 2) {
		return u, false, false
	}
	files, n := binary.Uvarint(v[1:])
	if n <= 0 {
		return u, false, false
	}
	wild, m := binary.Uvarint(v[1+n:])
	if m <= 0 || 1+n+m != len(v) {
		return u, false, false
	}
	return invalidation.Usage{FilePaths: int(files), WildcardPaths: int(wild)}, v[0] == 1, true
}
