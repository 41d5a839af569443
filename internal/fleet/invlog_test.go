package fleet_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/logstore"
	"github.com/openfront/openfront/internal/store/memory"
)

// countingStore counts AppendEvent calls: with a store that logged the
// events with the invalidations (fleet.InvalidationLog), the hub needs none.
type countingStore struct {
	*logstore.Store
	appends atomic.Int64
}

func (s *countingStore) AppendEvent(ctx context.Context, key string, data []byte) (uint64, error) {
	s.appends.Add(1)
	return s.Store.AppendEvent(ctx, key, data)
}

// rawFrames opens the stream of hub h as edge name (applied=0) and returns
// a function that reads the next n invalidation frames, byte for byte.
func rawFrames(t *testing.T, h *fleet.Hub, name string) func(n int) []string {
	t.Helper()
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(h.StopStreams)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+fleet.PathStream+"?name="+name+"&instance=test-"+name+"&applied=0", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	frames := make(chan string, 64)
	go func() {
		defer close(frames)
		r := bufio.NewReader(resp.Body)
		var cur strings.Builder
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			cur.WriteString(line)
			if line == "\n" {
				if f := cur.String(); strings.Contains(f, "\nevent: "+fleet.KindInvalidation+"\n") {
					frames <- f
				}
				cur.Reset()
			}
		}
	}()
	return func(n int) []string {
		t.Helper()
		var out []string
		for len(out) < n {
			select {
			case f, ok := <-frames:
				if !ok {
					t.Fatal("stream ended")
				}
				out = append(out, f)
			case <-time.After(15 * time.Second):
				t.Fatalf("%d invalidation frames after 15 s, want %d", len(out), n)
			}
		}
		return out
	}
}

// A hub on a store that logged the invalidations' events with their
// creates takes those events from it (no encoding, no AppendEvent) and
// streams a remote edge the same bytes as a hub that encodes and appends
// them itself (today's path, a memory store), and as encoding/json would
// write them; an invalidation the store did not log is appended as before.
func TestHubStreamsTheEventsTheStoreLogged(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ls, err := logstore.Open(t.TempDir(), logstore.WithInvalidationEvent(fleet.InvalidationEvent), logstore.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ls.Close() })
	store := &countingStore{Store: ls}
	logged := newHub(t, store, fleet.HubConfig{})
	plain := newHub(t, memory.New(), fleet.HubConfig{})
	fromLogged := rawFrames(t, logged, "remote")
	fromPlain := rawFrames(t, plain, "remote")

	// Plain strings, and ones encoding/json escapes (the codec's fallback).
	at := time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.UTC)
	var invs []invalidation.Invalidation
	for i, paths := range [][]string{{"/a"}, {"/b&c", "/d<e>"}, {"/f*", "/ü"}, {"/g"}} {
		got, created, err := store.Create(ctx, invalidation.Invalidation{DistributionID: distID, Status: invalidation.InProgress,
			CreateTime: at.Add(time.Duration(i) * time.Second), Batch: invalidation.Batch{CallerReference: fmt.Sprint("ref", i), Paths: paths}}, func(invalidation.Usage) error { return nil })
		if err != nil || !created {
			t.Fatalf("Create: %v %v", created, err)
		}
		invs = append(invs, got)
	}
	// Not in the store (another distribution's, say): the hub appends it.
	extra := inv("IEXTRA", "/x")
	batch := append(invs[:3:3], extra)
	noop := func(int, error) {}
	logged.ApplyAll(ctx, batch, noop)
	plain.ApplyAll(ctx, batch, noop)
	go logged.Apply(ctx, invs[3])
	go plain.Apply(ctx, invs[3])

	// The store logged the four it created at 1-4, with their creates;
	// the hub appended the other.
	want := make([]string, 0, 5)
	for i, inv := range append(invs, extra) {
		data, err := json.Marshal(fleet.Event{Kind: fleet.KindInvalidation, Invalidation: &inv})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", i+1, fleet.KindInvalidation, data))
	}
	got := fromLogged(5)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("the hub on the log store streamed\n%q\nwant\n%q", got, want)
	}
	// The plain hub logs in call order, at other positions: the same
	// frames but for their id lines.
	body := func(frames []string) []string {
		var out []string
		for _, f := range frames {
			out = append(out, strings.SplitN(f, "\n", 2)[1])
		}
		slices.Sort(out)
		return out
	}
	if gotPlain := fromPlain(5); !slices.Equal(body(got), body(gotPlain)) {
		t.Errorf("the hub on the log store streamed\n%q\nthe plain hub\n%q", got, gotPlain)
	}
	if n := store.appends.Load(); n != 1 {
		t.Errorf("%d AppendEvent calls, want 1 (the invalidation the store did not log)", n)
	}
}
