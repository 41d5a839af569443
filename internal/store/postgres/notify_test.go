package postgres

import (
	"testing"
	"time"

	"github.com/openfront/openfront/internal/eventlog"
	"github.com/openfront/openfront/internal/store/storetest"
	"github.com/openfront/openfront/internal/testutil/pgtest"
)

var _ eventlog.Notifier = (*Store)(nil)

// Two Opens of one database are two replicas: one's commits wake the
// other's subscriptions.
func TestNotifierConformance(t *testing.T) {
	storetest.RunNotifier(t, func(t *testing.T) storetest.Replicas {
		url := pgtest.NewDatabase(t)
		w, r := openURL(t, url), openURL(t, url)
		t.Cleanup(func() { r.Close() })
		return storetest.Replicas{Writer: w, Watcher: r}
	})
}

// After the server is killed and started again, the listener reconnects
// and wakes every subscription on both channels (changes made while it
// was cut off were not notified), and notifications flow again.
func TestNotifierReconnects(t *testing.T) {
	srv := pgtest.Get(t)
	if !srv.Own() {
		t.Skip("the server is not this test's to kill (" + pgtest.EnvURL + ")")
	}
	url := pgtest.NewDatabase(t)
	w, r := openURL(t, url), openURL(t, url)
	defer w.Close()
	defer r.Close()
	if ok, n := r.Listening(); !ok || n != 1 {
		t.Fatalf("after Open: listening %v, connects %d; want true, 1", ok, n)
	}
	logCh, regCh, cancel := r.Subscribe()
	defer cancel()
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the listener to notice the kill", func() bool { ok, _ := r.Listening(); return !ok })
	// Drain what came before the kill: from here on, a wake-up can only
	// be the reconnection's.
	drainCh(logCh)
	drainCh(regCh)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ch   <-chan struct{}
		what string
	}{{logCh, "log"}, {regCh, "registry"}} {
		select {
		case <-c.ch:
		case <-time.After(30 * time.Second):
			t.Fatalf("no wake-up on the %s channel after the server came back", c.what)
		}
	}
	if ok, n := r.Listening(); !ok || n != 2 {
		t.Fatalf("after the restart: listening %v, connects %d; want true, 2", ok, n)
	}
	// And the notifications of commits flow again (the writer's pool
	// reconnects by itself; its first tries may fail).
	waitFor(t, "an append after the restart", func() bool {
		_, err := w.AppendEvent(bg, "after", []byte("x"))
		return err == nil
	})
	select {
	case <-logCh:
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up for an append after the reconnection")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func drainCh(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
