package memory

import "sync"

// notifier wakes the subscriptions of a Store after each change of its
// log or registry: in-process replicas sharing one Store learn of each
// other's writes as replicas sharing a database do by LISTEN/NOTIFY.
type notifier struct {
	mu   sync.Mutex
	subs map[*subscription]struct{} // guarded by mu
}

type subscription struct{ log, registry chan struct{} }

// Shared is a Store as several in-process control-plane replicas share
// it: the same Store, which also implements eventlog.Notifier, so that a
// hub given it coordinates with the other replicas (a hub given the
// Store itself is the only replica). Tests of replicas use it.
type Shared struct{ *Store }

// Shared returns s as several replicas share it.
func (s *Store) Shared() Shared { return Shared{s} }

// Subscribe implements eventlog.Notifier.
func (sh Shared) Subscribe() (<-chan struct{}, <-chan struct{}, func()) {
	s := sh.Store
	sub := &subscription{make(chan struct{}, 1), make(chan struct{}, 1)}
	n := &s.notify
	n.mu.Lock()
	if n.subs == nil {
		n.subs = map[*subscription]struct{}{}
	}
	n.subs[sub] = struct{}{}
	n.mu.Unlock()
	return sub.log, sub.registry, func() {
		n.mu.Lock()
		delete(n.subs, sub)
		n.mu.Unlock()
	}
}

// changed wakes every subscription's log (registry false) or registry
// channel; called after a change, with s.mu not held.
func (s *Store) changed(registry bool) {
	n := &s.notify
	n.mu.Lock()
	defer n.mu.Unlock()
	for sub := range n.subs {
		ch := sub.log
		if registry {
			ch = sub.registry
		}
		select {
		case ch <- struct{}{}:
		default: // one wake-up pending already: coalesced
		}
	}
}
