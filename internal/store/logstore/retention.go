package logstore

import (
	"time"
)

// Retention says which Completed invalidations the store forgets, so that
// its memory (every invalidation it keeps is in memory) does not grow with
// the invalidations ever made. A forgotten invalidation is gone from Get,
// List and CallerReference replays (a replay creates a new one); the next
// compaction leaves it out of the log. InProgress invalidations, and
// completions not yet on disk, are never forgotten.
//
// A distribution's invalidations are looked at oldest first, and the look
// stops at the first one created within MaxAge once the count is met: one
// completed late behind younger ones waits for them.
type Retention struct {
	// MaxAge forgets the invalidations completed longer ago than this;
	// 0: none by age.
	MaxAge time.Duration
	// MaxPerDistribution forgets a distribution's oldest Completed
	// invalidations past this many; 0: none by count.
	MaxPerDistribution int
}

// expireInterval is how often the store looks for invalidations to forget.
const expireInterval = time.Minute

// WithRetention sets which Completed invalidations the store forgets (at
// Open, after a failed write's recovery, and every expireInterval). The
// zero Retention keeps every invalidation.
func WithRetention(r Retention) Option {
	return func(s *Store) { s.retention = r }
}

// WithClock sets the clock retention is judged by (time.Now otherwise).
func WithClock(now func() time.Time) Option {
	return func(s *Store) { s.now = now }
}

// expireLoop forgets what the retention says, every expireInterval, until
// Close.
func (s *Store) expireLoop() {
	t := time.NewTicker(expireInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopExpire:
			return
		case <-t.C:
			s.expire()
		}
	}
}

// expire forgets what the retention says now and returns how many
// invalidations it forgot.
func (s *Store) expire() int {
	if s.retention == (Retention{}) {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.expireLocked()
}

// expireLocked is expire with s.mu held (or in Open).
func (s *Store) expireLocked() int {
	if s.retention == (Retention{}) {
		return 0
	}
	var cutoff time.Time
	if s.retention.MaxAge > 0 {
		cutoff = s.now().Add(-s.retention.MaxAge)
	}
	n := 0
	for _, d := range s.dists {
		n += s.expireDist(d, cutoff)
	}
	if n > 0 {
		s.forgotten += uint64(n)
	}
	return n
}

// expireDist forgets d's invalidations completed before cutoff (if not
// zero) and its oldest Completed past the count, oldest first.
func (s *Store) expireDist(d *dist, cutoff time.Time) int {
	excess := 0
	if m := s.retention.MaxPerDistribution; m > 0 {
		excess = len(d.invs) - m
	}
	drop, i := 0, 0
	var kept []*rec // of d.invs[:i]
	for ; i < len(d.invs); i++ {
		r := d.invs[i]
		old := !cutoff.IsZero() && r.created.Before(cutoff)
		if !old && drop >= excess {
			break
		}
		// Only what is on disk as Completed: a completion in flight may
		// still fail, and a create in flight is not shown yet.
		settled := r.done && r.completeEpoch <= s.durable && r.createEpoch <= s.durable
		if settled && (drop < excess || (old && r.completed.Before(cutoff))) {
			drop++
			if d.byRef[r.ref] == r {
				delete(d.byRef, r.ref)
			}
			if r.id != "" {
				delete(d.byID, r.id)
			}
			continue
		}
		kept = append(kept, r)
	}
	if drop == 0 {
		return 0
	}
	// A new array: a compaction's snapshot may share the old one.
	invs := make([]*rec, 0, len(kept)+len(d.invs)-i)
	invs = append(invs, kept...)
	d.invs = append(invs, d.invs[i:]...)
	if drop > len(d.invs) {
		// Maps do not shrink: after forgetting most of them, build
		// the indexes again at their new size.
		d.byRef = make(map[string]*rec, len(d.invs))
		var byID map[string]*rec
		for _, r := range d.invs {
			d.byRef[r.ref] = r
			if r.id != "" {
				if byID == nil {
					byID = map[string]*rec{}
				}
				byID[r.id] = r
			}
		}
		d.byID = byID
	}
	return drop
}

// Retained returns how many invalidations the store holds (in memory), and
// how many it forgot since Open under its retention.
func (s *Store) Retained() (held int, forgotten uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.dists {
		held += len(d.invs)
	}
	return held, s.forgotten
}
