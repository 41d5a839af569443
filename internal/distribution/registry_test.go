package distribution

import (
	"net/url"
	"testing"
	"time"
)

func TestAcquire(t *testing.T) {
	origin, _ := url.Parse("http://127.0.0.1:9")
	r := NewRegistry(FromFile("E1", origin, nil, "", time.Now()))

	if _, ok := r.Acquire("NOPE"); ok {
		t.Fatal("Acquire of an unknown Id succeeded")
	}
	if _, ok := r.leases.Load("NOPE"); ok {
		t.Error("Acquire of an unknown Id left a lease behind")
	}

	release, ok := r.Acquire("E1")
	if !ok {
		t.Fatal("Acquire(E1) failed")
	}
	// A deletion (write lock) waits for the invalidation being written.
	locked := make(chan struct{})
	go func() {
		l := r.lease("E1")
		l.Lock()
		r.remove("E1")
		l.Unlock()
		close(locked)
	}()
	select {
	case <-locked:
		t.Fatal("the lease was taken while held")
	case <-time.After(20 * time.Millisecond):
	}
	release()
	<-locked
	if _, ok := r.Acquire("E1"); ok {
		t.Error("Acquire of a removed distribution succeeded")
	}
}

// The CreateInvalidation path acquires a lease per request: it must not
// allocate.
func TestAcquireAllocs(t *testing.T) {
	origin, _ := url.Parse("http://127.0.0.1:9")
	r := NewRegistry(FromFile("E1", origin, nil, "", time.Now()))
	if n := testing.AllocsPerRun(100, func() {
		release, _ := r.Acquire("E1")
		release()
	}); n != 0 {
		t.Errorf("Acquire+release: %v allocations, want 0", n)
	}
}

// BenchmarkAcquire is the lease every CreateInvalidation takes, from
// concurrent requests.
func BenchmarkAcquire(b *testing.B) {
	origin, _ := url.Parse("http://127.0.0.1:9")
	r := NewRegistry(FromFile("E1", origin, nil, "", time.Now()))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			release, _ := r.Acquire("E1")
			release()
		}
	})
}
