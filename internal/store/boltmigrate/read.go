// Package boltmigrate moves the data directory of an earlier openfront,
// whose store was one bbolt file (openfront.db), to the log store. The log
// store is the only durable backend now; bbolt is read here and nowhere
// else, read-only, once.
//
// What moves: every distribution created through the API, and every
// invalidation of every distribution (config-file ones included) with its
// Id, CallerReference, paths, CreateTime, status and CompleteTime, in the
// order List gave them. What does not: the fleet's event log and its edge
// registry. The log store starts a new fleet log; an edge that reconnects
// with a position beyond it is sent a snapshot that purges its cache
// (internal/fleet), and InProgress invalidations are published again when
// the control plane resumes them, so no edge keeps serving what was
// invalidated.
package boltmigrate

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
)

// FileName is the name of the bbolt file in a data directory of an earlier
// openfront.
const FileName = "openfront.db"

// Target receives what is copied: the log store, opened on a new file.
type Target interface {
	// CreateDistribution stores d as given (distribution.Store's).
	CreateDistribution(ctx context.Context, d distribution.Distribution) error
	// Create stores inv as given: its Id, times and status.
	Create(ctx context.Context, inv invalidation.Invalidation, admit func(invalidation.Usage) error) (invalidation.Invalidation, bool, error)
}

// Stats counts what Copy copied.
type Stats struct {
	Distributions int // created through the API
	Invalidations int // of every distribution
	InProgress    int // of those, not yet Completed
}

// The bbolt layout, as far as it is read here (internal/store/bolt, in git
// history, wrote it):
//
//	distributions               <distributionID> -> JSON distribution.Distribution (API-created)
//	dist/<distributionID>/inv   sequence number (8 bytes, big endian) -> JSON Invalidation
//	dist/<distributionID>/done  sequence number -> CompleteTime (8 bytes, Unix nanoseconds)
//
// A deleted distribution's dist/<id> bucket was deleted with it.
var (
	bucketDists         = []byte("dist")
	bucketDistributions = []byte("distributions")
	subInv              = []byte("inv")
	subDone             = []byte("done")
)

// Copy reads the bbolt file at path without changing it and writes its
// distributions and invalidations to dst, each distribution's
// invalidations oldest first (bbolt keyed them by a sequence number in
// creation order). Files of both bbolt layouts are read: the one whose
// Ids derive from a file-wide sequence, with completions in dist/*/done,
// and the older one with the status in the record. A file another process
// holds open is not waited for longer than lockWait.
func Copy(ctx context.Context, path string, dst Target) (Stats, error) {
	var st Stats
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: lockWait})
	if err != nil {
		return st, fmt.Errorf("open %s read-only: %w", path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketDistributions); b != nil {
			err := b.ForEach(func(k, v []byte) error {
				var d distribution.Distribution
				if err := json.Unmarshal(v, &d); err != nil {
					return fmt.Errorf("distribution %s: %w", k, err)
				}
				// The bbolt versions kept CallerReferences and aliases
				// unique but for a final dot on an alias: the log store,
				// which compares aliases without it, refuses such a pair
				// (the migration stops, naming it, for the operator).
				if err := dst.CreateDistribution(ctx, d); err != nil {
					return fmt.Errorf("distribution %s: %w", k, err)
				}
				st.Distributions++
				return nil
			})
			if err != nil {
				return err
			}
		}
		root := tx.Bucket(bucketDists)
		if root == nil {
			return nil
		}
		return root.ForEachBucket(func(distID []byte) error {
			d := root.Bucket(distID)
			invs := d.Bucket(subInv)
			if invs == nil {
				return nil
			}
			done := d.Bucket(subDone)
			return invs.ForEach(func(seq, v []byte) error {
				inv, err := record(v, done, seq)
				if err != nil {
					return fmt.Errorf("distribution %s, record %x: %w", distID, seq, err)
				}
				if inv.DistributionID == "" {
					inv.DistributionID = string(distID)
				}
				if _, _, err := dst.Create(ctx, inv, admitAll); err != nil {
					return fmt.Errorf("invalidation %s of %s: %w", inv.ID, distID, err)
				}
				st.Invalidations++
				if inv.Status != invalidation.Completed {
					st.InProgress++
				}
				return ctx.Err()
			})
		})
	})
	return st, err
}

// lockWait bounds the wait for a bbolt file another process holds.
const lockWait = 2 * time.Second

// record decodes one invalidation record and applies its completion: files
// of the current layout keep the record as created and note completion in
// done (seq -> CompleteTime in Unix nanoseconds); older files rewrote the
// status in the record itself.
func record(data []byte, done *bbolt.Bucket, seq []byte) (invalidation.Invalidation, error) {
	var inv invalidation.Invalidation
	if err := json.Unmarshal(data, &inv); err != nil {
		return inv, err
	}
	if inv.ID == "" {
		return inv, fmt.Errorf("record without an Id")
	}
	if inv.Status == "" {
		inv.Status = invalidation.InProgress
	}
	if done != nil && inv.Status != invalidation.Completed {
		if t := done.Get(seq); len(t) == 8 {
			inv.Status = invalidation.Completed
			inv.CompleteTime = time.Unix(0, int64(binary.BigEndian.Uint64(t))).UTC()
		}
	}
	return inv, nil
}

func admitAll(invalidation.Usage) error { return nil }
