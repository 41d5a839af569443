package runtime

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/function"
)

// TestBudgetCountsOnlyTheRun runs ordinary functions beside goroutines
// that keep every core busy: a run that waits for a core must not be
// charged for what ran meanwhile.
func TestBudgetCountsOnlyTheRun(t *testing.T) {
	p, err := CompileWith(function.RuntimeJS2, []byte(rewriteCode), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var spin sync.WaitGroup
	for range 4 {
		spin.Add(1)
		go func() {
			defer spin.Done()
			for n := 0; !stop.Load(); n++ {
				if n%1_000_000 == 0 {
					time.Sleep(time.Microsecond) // yield now and then, as servers do
				}
			}
		}()
	}
	defer func() { stop.Store(true); spin.Wait() }()
	ev := testEvent("/a/")
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				// A run that waited over MinMaxWall for a core (a loaded
				// machine, -race) is not what this test is about.
				if _, err := p.Handle(context.Background(), ev, nil); err != nil && !strings.Contains(err.Error(), "wall time") {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of 8000 ordinary runs failed their budget", n)
	}
}
