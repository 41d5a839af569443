// Package bolt is the embedded, durable Store: one bbolt file under the data
// directory. Writes from concurrent requests are gathered by a single
// committer goroutine into one transaction, so many creates share one fsync
// (group commit) and none is acknowledged before its fsync returns.
package bolt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
)

// Bucket layout:
//
//	dist/<distributionID>/inv   seq (8 bytes, big endian) -> JSON Invalidation
//	dist/<distributionID>/id    Id -> seq
//	dist/<distributionID>/ref   SHA-256(CallerReference) -> seq (any length fits a key)
//	active                      <distributionID> 0x00 <Id> -> nil, for InProgress ones
//	distributions               <distributionID> -> JSON distribution.Distribution (API-created ones)
//	events                      position (8 bytes) -> event (the fleet's log)
//	eventkeys                   key -> position, so appends are idempotent
//	edges                       name -> edge record (the fleet's registry)
var (
	bucketEvents        = []byte("events")
	bucketEventKeys     = []byte("eventkeys")
	bucketEdges         = []byte("edges")
	bucketDists         = []byte("dist")
	bucketActive        = []byte("active")
	bucketDistributions = []byte("distributions")
	subInv              = []byte("inv")
	subID               = []byte("id")
	subRef              = []byte("ref")
)

// maxBatch bounds how many writes share one transaction.
const maxBatch = 512

// ErrClosed is returned for writes after Close.
var ErrClosed = errors.New("store closed")

// Store is a bbolt-backed invalidation.Store.
type Store struct {
	db     *bbolt.DB
	writes chan *write

	closeOnce sync.Once
	closing   chan struct{}
	done      chan struct{} // closed when the committer has exited

	mu     sync.Mutex
	active map[string]invalidation.Usage // in-progress usage per distribution; guarded by mu, written by the committer only
}

// write is one request to the committer.
type write struct {
	apply func(tx *bbolt.Tx, pending map[string]invalidation.Usage) error
	err   chan error
}

// Open opens (creating if needed) the store in dir.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	db, err := bbolt.Open(filepath.Join(dir, "openfront.db"), 0o600, &bbolt.Options{
		Timeout:      2 * time.Second, // another openfront holds the file
		FreelistType: bbolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Join(dir, "openfront.db"), err)
	}
	s := &Store{
		db:      db,
		writes:  make(chan *write, maxBatch),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		active:  make(map[string]invalidation.Usage),
	}
	if err := s.load(); err != nil {
		db.Close()
		return nil, err
	}
	go s.commitLoop()
	return s, nil
}

// load creates the top buckets and derives in-progress usage.
func (s *Store) load() error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketDists); err != nil {
			return err
		}
		for _, b := range [][]byte{bucketDistributions, bucketEvents, bucketEventKeys, bucketEdges} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		act, err := tx.CreateBucketIfNotExists(bucketActive)
		if err != nil {
			return err
		}
		return act.ForEach(func(k, _ []byte) error {
			distID, id, ok := splitActiveKey(k)
			if !ok {
				return fmt.Errorf("corrupt active key %q", k)
			}
			inv, err := getInv(tx, distID, id)
			if err != nil {
				return err
			}
			s.active[distID] = s.active[distID].Add(inv.Batch.Usage())
			return nil
		})
	})
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
	err := s.db.Update(func(tx *bbolt.Tx) error {
		for i, w := range batch {
			results[i] = w.apply(tx, pending)
			if results[i] != nil && !isRuleError(results[i]) {
				return results[i]
			}
		}
		return nil
	})
	if err == nil {
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

// Create implements invalidation.Store.
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
			got, err = decode(d.Bucket(subInv).Get(seq))
			return err
		}
		if d.Bucket(subID).Get([]byte(inv.ID)) != nil {
			return fmt.Errorf("invalidation id %s already used", inv.ID)
		}
		if err := admit(s.usage(inv.DistributionID, pending)); err != nil {
			return refused{err}
		}
		data, err := json.Marshal(inv)
		if err != nil {
			return err
		}
		n, err := d.Bucket(subInv).NextSequence()
		if err != nil {
			return err
		}
		seq := seqKey(n)
		if err := d.Bucket(subInv).Put(seq, data); err != nil {
			return err
		}
		if err := d.Bucket(subID).Put([]byte(inv.ID), seq); err != nil {
			return err
		}
		if err := d.Bucket(subRef).Put(refKey(inv.Batch.CallerReference), seq); err != nil {
			return err
		}
		if inv.Status == invalidation.InProgress {
			if err := tx.Bucket(bucketActive).Put(activeKey(inv.DistributionID, inv.ID), nil); err != nil {
				return err
			}
			pending[inv.DistributionID] = pending[inv.DistributionID].Add(inv.Batch.Usage())
		}
		got, created = inv, true
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

// Complete implements invalidation.Store.
func (s *Store) Complete(ctx context.Context, distributionID, id string, at time.Time) error {
	return s.do(ctx, func(tx *bbolt.Tx, pending map[string]invalidation.Usage) error {
		d, err := distBucket(tx, distributionID, false)
		if err != nil {
			return err
		}
		seq := d.Bucket(subID).Get([]byte(id))
		if seq == nil {
			return invalidation.ErrNotFound
		}
		seq = slices.Clone(seq)
		inv, err := decode(d.Bucket(subInv).Get(seq))
		if err != nil {
			return err
		}
		if inv.Status == invalidation.Completed {
			return nil
		}
		inv.Status = invalidation.Completed
		inv.CompleteTime = at.UTC()
		data, err := json.Marshal(inv)
		if err != nil {
			return err
		}
		if err := d.Bucket(subInv).Put(seq, data); err != nil {
			return err
		}
		if err := tx.Bucket(bucketActive).Delete(activeKey(distributionID, id)); err != nil {
			return err
		}
		pending[distributionID] = pending[distributionID].Sub(inv.Batch.Usage())
		return nil
	})
}

// Get implements invalidation.Store.
func (s *Store) Get(ctx context.Context, distributionID, id string) (invalidation.Invalidation, error) {
	var inv invalidation.Invalidation
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		inv, err = getInv(tx, distributionID, id)
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
			seq := d.Bucket(subID).Get([]byte(marker))
			if seq == nil {
				return invalidation.ErrMarkerNotFound
			}
			c.Seek(seq)
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
			page = append(page, inv)
		}
		return nil
	})
	return page, more, err
}

// CountInProgress implements invalidation.Store.
func (s *Store) CountInProgress(ctx context.Context, distributionID string) (int, error) {
	n := 0
	err := s.db.View(func(tx *bbolt.Tx) error {
		prefix := activeKey(distributionID, "")
		c := tx.Bucket(bucketActive).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			n++
		}
		return nil
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
// all its invalidations go in one transaction.
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
		prefix := activeKey(id, "")
		act := tx.Bucket(bucketActive)
		var keys [][]byte
		c := act.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, slices.Clone(k))
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

// AppendEvent implements fleet.Store.
func (s *Store) AppendEvent(ctx context.Context, key string, data []byte) (uint64, error) {
	var pos uint64
	err := s.do(ctx, func(tx *bbolt.Tx, _ map[string]invalidation.Usage) error {
		keys := tx.Bucket(bucketEventKeys)
		if p := keys.Get([]byte(key)); p != nil {
			pos = binary.BigEndian.Uint64(p)
			return nil
		}
		ev := tx.Bucket(bucketEvents)
		n, err := ev.NextSequence()
		if err != nil {
			return err
		}
		if err := ev.Put(seqKey(n), data); err != nil {
			return err
		}
		if err := keys.Put([]byte(key), seqKey(n)); err != nil {
			return err
		}
		pos = n
		return nil
	})
	return pos, err
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
		return tx.Bucket(bucketActive).ForEach(func(k, _ []byte) error {
			distID, id, ok := splitActiveKey(k)
			if !ok {
				return fmt.Errorf("corrupt active key %q", k)
			}
			inv, err := getInv(tx, distID, id)
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
	for _, name := range [][]byte{subInv, subID, subRef} {
		if _, err := d.CreateBucketIfNotExists(name); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func getInv(tx *bbolt.Tx, distID, id string) (invalidation.Invalidation, error) {
	d, err := distBucket(tx, distID, false)
	if err != nil {
		return invalidation.Invalidation{}, err
	}
	seq := d.Bucket(subID).Get([]byte(id))
	if seq == nil {
		return invalidation.Invalidation{}, invalidation.ErrNotFound
	}
	return decode(d.Bucket(subInv).Get(seq))
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

func activeKey(distID, id string) []byte {
	return append(append([]byte(distID), 0), id...)
}

func splitActiveKey(k []byte) (distID, id string, ok bool) {
	for i, c := range k {
		if c == 0 {
			return string(k[:i]), string(k[i+1:]), true
		}
	}
	return "", "", false
}
