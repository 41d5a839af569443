package fleet_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/store/memory"
)

// rowStore counts the registry writes of each edge.
type rowStore struct {
	fleet.Store
	mu   sync.Mutex
	puts map[string]int // guarded by mu
	dels map[string]int // guarded by mu
}

func (s *rowStore) PutEdge(ctx context.Context, name string, data []byte) error {
	s.mu.Lock()
	s.puts[name]++
	s.mu.Unlock()
	return s.Store.PutEdge(ctx, name, data)
}

func (s *rowStore) DeleteEdge(ctx context.Context, name string) error {
	s.mu.Lock()
	s.dels[name]++
	s.mu.Unlock()
	return s.Store.DeleteEdge(ctx, name)
}

func (s *rowStore) counts(name string) (puts, dels int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts[name], s.dels[name]
}

// failingEdgeStore fails every PutEdge while fail is set.
type failingEdgeStore struct {
	fleet.Store
	fail     atomic.Bool
	failures atomic.Int64
}

func (s *failingEdgeStore) PutEdge(ctx context.Context, name string, data []byte) error {
	if s.fail.Load() {
		s.failures.Add(1)
		return errors.New("disk full")
	}
	return s.Store.PutEdge(ctx, name, data)
}

// storedApplied returns the positions of the store's registry entries.
func storedApplied(t *testing.T, s fleet.Store) map[string]uint64 {
	t.Helper()
	edges, err := s.Edges(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for name, data := range edges {
		var e struct {
			Applied uint64 `json:"applied"`
		}
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatalf("entry %s: %v", name, err)
		}
		out[name] = e.Applied
	}
	return out
}

func sameApplied(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Two hubs sharing one store (two control-plane replicas on one
// database) keep each other's edges: each writes the entries of the edges
// that changed in its registry, one by one, and never the others'.
func TestRegistryWritesOnlyChangedEdges(t *testing.T) {
	store := &rowStore{Store: memory.New(), puts: map[string]int{}, dels: map[string]int{}}
	h1 := newHub(t, store, fleet.HubConfig{EdgeTimeout: time.Hour})
	h2 := newHub(t, store, fleet.HubConfig{EdgeTimeout: time.Hour})
	h1.Expect("a", "http://a.test")
	h1.Expect("c", "http://c.test")
	h2.Expect("b", "http://b.test")
	eventually(t, "both hubs' edges stored", func() bool {
		return sameApplied(storedApplied(t, store), map[string]uint64{"a": 0, "b": 0, "c": 0})
	})

	pos := publish(t, h1, "I1")
	if code := ack(t, h1, "a", fmt.Sprint(pos)); code != http.StatusNoContent {
		t.Fatalf("ack: %d", code)
	}
	eventually(t, "a's new position stored", func() bool {
		return sameApplied(storedApplied(t, store), map[string]uint64{"a": pos, "b": 0, "c": 0})
	})
	eventually(t, "the admin view shows a's saved position", func() bool {
		e, ok := edgeOf(h1.Status(), "a")
		return ok && e.Saved == pos
	})
	if puts, _ := store.counts("c"); puts != 1 {
		t.Errorf("c, unchanged since it joined, was written %d times, want once", puts)
	}

	// a leaves: its entry goes, and only its.
	w := httptest.NewRecorder()
	h1.Handler().ServeHTTP(w, httptest.NewRequest("POST", fleet.PathLeave+"?"+url.Values{"name": {"a"}, "instance": {"test-a"}}.Encode(), nil))
	if w.Code != http.StatusNoContent {
		t.Fatalf("leave: %d %s", w.Code, w.Body)
	}
	if got := storedApplied(t, store); !sameApplied(got, map[string]uint64{"b": 0, "c": 0}) {
		t.Errorf("registry after a left = %v, want b and c", got)
	}
	h1.Close()
	h2.Close()
	if got := storedApplied(t, store); !sameApplied(got, map[string]uint64{"b": 0, "c": 0}) {
		t.Errorf("registry after both hubs closed = %v, want b and c", got)
	}
	for _, name := range []string{"b", "c"} {
		if puts, dels := store.counts(name); puts != 1 || dels != 0 {
			t.Errorf("%s was put %d and deleted %d times; want put once", name, puts, dels)
		}
	}
	if _, dels := store.counts("a"); dels != 1 {
		t.Errorf("a was deleted %d times, want once", dels)
	}

	// A hub started on the store has both replicas' edges.
	h3 := newHub(t, store, fleet.HubConfig{EdgeTimeout: time.Hour})
	for _, name := range []string{"b", "c"} {
		if _, ok := edgeOf(h3.Status(), name); !ok {
			t.Errorf("restarted hub lacks %s: %+v", name, h3.Status())
		}
	}
}

// A registry write that fails is made again by a later save.
func TestRegistryWriteRetried(t *testing.T) {
	store := &failingEdgeStore{Store: memory.New()}
	store.fail.Store(true)
	h := newHub(t, store, fleet.HubConfig{EdgeTimeout: time.Hour})
	h.Expect("a", "http://a.test")
	eventually(t, "a failed write of a", func() bool { return store.failures.Load() > 0 })
	store.fail.Store(false)
	eventually(t, "a stored after the store recovered", func() bool {
		return sameApplied(storedApplied(t, store), map[string]uint64{"a": 0})
	})
}
