package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/eventlog"
)

// Replicas is two handles of one shared store, as two control-plane
// replicas hold them (two connections to one database): Writer's
// committed changes must wake Watcher's subscriptions.
type Replicas struct {
	Writer  EventStore
	Watcher eventlog.Notifier
}

// RunNotifier checks eventlog.Notifier's contract: a change of the log
// committed through one handle (an AppendEvent that adds an event, a
// TrimEvents) wakes the other's log channel, a change of the registry
// (PutEdge, DeleteEdge) its registry channel, after the commit (what the
// subscriber reads then includes the change); wake-ups coalesce (a
// subscriber that does not read holds one, and writers do not block); a
// cancelled subscription gets nothing more. open must return a new,
// empty shared store; RunNotifier closes the writer.
func RunNotifier(t *testing.T, open func(t *testing.T) Replicas) {
	t.Helper()
	ctx := context.Background()
	wait := func(t *testing.T, ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("no wake-up after %s", what)
		}
	}
	drain := func(ch <-chan struct{}) {
		for {
			select {
			case <-ch:
			default:
				return
			}
		}
	}
	t.Run("WakesAfterCommit", func(t *testing.T) {
		r := open(t)
		t.Cleanup(func() { r.Writer.Close() })
		logCh, regCh, cancel := r.Watcher.Subscribe()
		defer cancel()
		pos, err := r.Writer.AppendEvent(ctx, "k1", []byte("one"))
		if err != nil {
			t.Fatal(err)
		}
		wait(t, logCh, "AppendEvent")
		if _, last, err := r.Writer.LogBounds(ctx); err != nil || last < pos {
			t.Fatalf("LogBounds after the wake-up: last %d (%v), want %d", last, err, pos)
		}
		if err := r.Writer.PutEdge(ctx, "e1", []byte(`{"a":1}`)); err != nil {
			t.Fatal(err)
		}
		wait(t, regCh, "PutEdge")
		if m, err := r.Writer.Edges(ctx); err != nil || string(m["e1"]) != `{"a":1}` {
			t.Fatalf("Edges after the wake-up: %q (%v)", m, err)
		}
		if err := r.Writer.DeleteEdge(ctx, "e1"); err != nil {
			t.Fatal(err)
		}
		wait(t, regCh, "DeleteEdge")
		if _, err := r.Writer.AppendEvent(ctx, "k2", []byte("two")); err != nil {
			t.Fatal(err)
		}
		wait(t, logCh, "a second AppendEvent")
		if err := r.Writer.TrimEvents(ctx, pos+1); err != nil {
			t.Fatal(err)
		}
		wait(t, logCh, "TrimEvents")
	})
	t.Run("CoalescesWithoutBlocking", func(t *testing.T) {
		r := open(t)
		t.Cleanup(func() { r.Writer.Close() })
		logCh, _, cancel := r.Watcher.Subscribe()
		defer cancel()
		done := make(chan error, 1)
		go func() {
			for i := range 100 {
				if _, err := r.Writer.AppendEvent(ctx, "k"+string(rune('a'+i%26))+string(rune('a'+i/26)), []byte("x")); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("appends blocked by a subscriber that does not read")
		}
		wait(t, logCh, "100 appends")
	})
	t.Run("Cancel", func(t *testing.T) {
		r := open(t)
		t.Cleanup(func() { r.Writer.Close() })
		logCh, regCh, cancel := r.Watcher.Subscribe()
		cancel()
		drain(logCh)
		drain(regCh)
		if _, err := r.Writer.AppendEvent(ctx, "k", []byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := r.Writer.PutEdge(ctx, "e", []byte("{}")); err != nil {
			t.Fatal(err)
		}
		select {
		case <-logCh:
			t.Fatal("a wake-up after the subscription was cancelled")
		case <-regCh:
			t.Fatal("a wake-up after the subscription was cancelled")
		case <-time.After(200 * time.Millisecond):
		}
	})
}
