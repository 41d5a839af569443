package logstore

import (
	"bytes"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/testutil"
)

// TestCatalogRefusalWaitsForFrame: a write refused because of another
// still in flight (the CallerReference it takes) is answered only once
// that one is on disk; when that one fails instead, the refusal was
// never true, and the second writer hears of the failure, not of a
// taken CallerReference.
func TestCatalogRefusalWaitsForFrame(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	release := make(chan struct{})
	f := func(op string) error {
		switch op {
		case "sync":
			<-release
			return syscall.EIO
		case "probe":
			return syscall.EIO // writes stay refused for the rest of the test
		}
		return nil
	}
	s.fault.Store(&f)
	released := false
	defer func() { // before Close, which waits for the frame
		if !released {
			close(release)
		}
	}()
	first := make(chan error, 1)
	go func() {
		first <- s.CreateDistribution(bg, distribution.Distribution{ID: "EFIRST", CallerReference: "shared"})
	}()
	// Wait for the first create's frame to be in flight.
	testutil.Eventually(t, 10*time.Second, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.flushing != nil && bytes.Contains(s.flushing.buf, []byte("EFIRST"))
	}, "the first create's frame to be written")
	second := make(chan error, 1)
	go func() {
		second <- s.CreateDistribution(bg, distribution.Distribution{ID: "ESECOND", CallerReference: "shared"})
	}()
	// The second is answered at once, or waits for the first's frame.
	var early error
	testutil.Eventually(t, 10*time.Second, func() bool {
		select {
		case early = <-second:
			return true
		default:
			return s.catalogWaits.Load() == 1
		}
	}, "the second create to be answered or to wait")
	if early != nil {
		t.Fatalf("the second create was answered (%v) while the first was in flight", early)
	}
	close(release)
	released = true
	if err := <-first; !errors.Is(err, syscall.EIO) {
		t.Errorf("first create: %v, want EIO", err)
	}
	err := <-second
	if errors.Is(err, distribution.ErrCallerReferenceTaken) || !errors.Is(err, invalidation.ErrUnavailable) {
		t.Errorf("second create: %v, want ErrUnavailable (the first failed)", err)
	}
	if ds, err := s.Distributions(bg); err != nil || len(ds) != 0 {
		t.Errorf("after the failure: %v, %v; want none", ds, err)
	}
}
