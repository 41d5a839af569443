package logstore

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openfront/openfront/internal/fleet"
	"github.com/openfront/openfront/internal/invalidation"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestRetentionByAge: Completed invalidations older than MaxAge are
// forgotten (Get, List, the CallerReference), InProgress ones never; and
// a reopened store forgets them too.
func TestRetentionByAge(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	dir := t.TempDir()
	opts := []Option{WithRetention(Retention{MaxAge: 24 * time.Hour}), WithClock(clock.Now), WithInvalidationEvent(fleet.InvalidationEvent)}
	s := open(t, dir, opts...)
	var ids []string
	for i := range 10 {
		inv := newInv("E1", fmt.Sprint("ref-", i), "/a")
		inv.CreateTime = clock.Now()
		got := create(t, s, inv)
		ids = append(ids, got.ID)
		if i < 8 { // the last two stay InProgress
			if err := s.Complete(bg, "E1", got.ID, clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	clock.Add(23 * time.Hour)
	if n := s.expire(); n != 0 {
		t.Fatalf("forgot %d before MaxAge passed", n)
	}
	// A younger one, completed later, stays after the others go.
	young := newInv("E1", "young", "/y")
	young.CreateTime = clock.Now()
	yid := create(t, s, young).ID
	if err := s.Complete(bg, "E1", yid, clock.Now()); err != nil {
		t.Fatal(err)
	}
	clock.Add(2 * time.Hour)
	if n := s.expire(); n != 8 {
		t.Fatalf("expire forgot %d, want 8", n)
	}
	check := func(s *Store) {
		t.Helper()
		if held, _ := s.Retained(); held != 3 {
			t.Errorf("held %d invalidations, want 3 (2 InProgress, 1 young)", held)
		}
		for i, id := range ids {
			_, err := s.Get(bg, "E1", id)
			if i < 8 && !errors.Is(err, invalidation.ErrNotFound) {
				t.Errorf("Get(%s) of a forgotten invalidation: %v, want ErrNotFound", id, err)
			}
			if i >= 8 && err != nil {
				t.Errorf("Get(%s) of an InProgress one: %v", id, err)
			}
		}
		page, more, err := s.List(bg, "E1", "", 100)
		if err != nil || more || len(page) != 3 {
			t.Errorf("List: %d, %v, %v; want 3", len(page), more, err)
		}
	}
	check(s)
	// The CallerReference of a forgotten one makes a new invalidation.
	inv := newInv("E1", "ref-0", "/a")
	inv.CreateTime = clock.Now()
	again, created, err := s.Create(bg, inv, allowAll)
	if err != nil || !created || again.ID == ids[0] {
		t.Fatalf("Create with a forgotten CallerReference: %s created %v, %v; want a new one", again.ID, created, err)
	}
	if err := s.Complete(bg, "E1", again.ID, clock.Now()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// The log still holds them (no compaction): Open forgets them again.
	s = open(t, dir, opts...)
	if held, _ := s.Retained(); held != 4 {
		t.Errorf("after reopen: held %d, want 4", held)
	}
	s.Close()
}

// TestRetentionByCount: past MaxPerDistribution, a distribution's oldest
// Completed invalidations go, its InProgress ones stay; others'
// distributions are not touched.
func TestRetentionByCount(t *testing.T) {
	s := open(t, t.TempDir(), WithRetention(Retention{MaxPerDistribution: 3}))
	defer s.Close()
	var ids []string
	for i := range 6 {
		got := create(t, s, newInv("E1", fmt.Sprint("ref-", i), "/a"))
		ids = append(ids, got.ID)
		if i != 0 { // the oldest stays InProgress
			if err := s.Complete(bg, "E1", got.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	create(t, s, newInv("E2", "other", "/b"))
	if n := s.expire(); n != 3 {
		t.Fatalf("expire forgot %d, want 3", n)
	}
	page, _, err := s.List(bg, "E1", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, inv := range page {
		got = append(got, inv.ID)
	}
	if want := []string{ids[5], ids[4], ids[0]}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("List after expire = %v, want %v (the newest two and the InProgress one)", got, want)
	}
	if page, _, _ := s.List(bg, "E2", "", 100); len(page) != 1 {
		t.Errorf("E2 lost invalidations: %d", len(page))
	}
}

// The child of TestRetentionCompactionKill: creates and completes
// invalidations in its store until killed, printing each one completed
// (on disk) and each compaction.
func init() {
	dir := os.Getenv("LOGSTORE_RETENTION_CHILD")
	if dir == "" {
		return
	}
	s, err := Open(dir, quiet, WithInvalidationEvent(fleet.InvalidationEvent),
		WithRetention(Retention{MaxPerDistribution: 50}), func(s *Store) { s.compactMin = 1 << 10 })
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	var snap int64
	for i := 0; ; i++ {
		inv := newInv("E1", fmt.Sprint("ref-", i), "/p/"+strconv.Itoa(i))
		got, _, err := s.Create(bg, inv, func(invalidation.Usage) error { return nil })
		if err == nil {
			err = s.Complete(bg, "E1", got.ID, time.Now())
		}
		if err != nil {
			fmt.Fprintln(w, "error", err)
			w.Flush()
			os.Exit(1)
		}
		fmt.Fprintln(w, "done", got.ID)
		if i%20 == 0 {
			s.expire()
			// As the hub does, keep the last 100 events: more than the
			// invalidations retained.
			if _, last, err := s.LogBounds(bg); err == nil && last > 100 {
				s.TrimEvents(bg, last-100)
			}
		}
		s.mu.Lock()
		compacted := s.snapSize != snap
		snap = s.snapSize
		s.mu.Unlock()
		if compacted {
			fmt.Fprintln(w, "compacted", snap)
		}
		w.Flush()
	}
}

// TestRetentionCompactionKill: a process forgetting invalidations under a
// count retention, with online compactions, is killed -9; the log it
// leaves opens with every invalidation still retained and completed, few
// of the forgotten ones (compacted out of the log), and every retained fleet
// event (those of forgotten invalidations included).
func TestRetentionCompactionKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LOGSTORE_RETENTION_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var done []string
	compactions := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch f[0] {
		case "done":
			done = append(done, f[1])
		case "compacted":
			compactions++
		default:
			t.Fatalf("child: %s", sc.Text())
		}
		if compactions >= 4 && len(done) >= 2000 {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	t.Logf("killed after %d completed invalidations, %d compactions", len(done), compactions)

	// Opened without retention, it shows what the log holds.
	s := open(t, dir)
	held, _ := s.Retained()
	if held > 400 {
		t.Errorf("the log holds %d invalidations of %d: the forgotten ones were not compacted out", held, len(done))
	}
	// The newest ones completed before the kill are there, Completed.
	for _, id := range done[len(done)-49:] {
		inv, err := s.Get(bg, "E1", id)
		if err != nil || inv.Status != invalidation.Completed {
			t.Errorf("Get(%s) after kill -9: %s, %v", id, inv.Status, err)
		}
	}
	// Every fleet event is there, without a gap.
	first, last, err := s.LogBounds(bg)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := s.EventsAfter(bg, first-1, int(last-first+1)+10)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(evs)) != last-first+1 || last < uint64(len(done)) || last-first < 60 {
		t.Errorf("events after kill -9: first %d, last %d, %d read; want the last 100 or so up to %d at least, none missing", first, last, len(evs), len(done))
	}
	s.Close()
	s = open(t, dir, WithRetention(Retention{MaxPerDistribution: 50}))
	defer s.Close()
	if held, _ := s.Retained(); held > 51 {
		t.Errorf("reopened with the retention: %d held, want at most 51", held)
	}
}

// TestRetentionKeepsEvents: the fleet events of forgotten invalidations
// stay in a compacted image until the hub trims them (an edge resuming
// from before them must still get them).
func TestRetentionKeepsEvents(t *testing.T) {
	opts := []Option{WithInvalidationEvent(fleet.InvalidationEvent), WithRetention(Retention{MaxPerDistribution: 2})}
	s := open(t, t.TempDir(), opts...)
	for i := range 5 {
		got := create(t, s, newInv("E1", fmt.Sprint("ref-", i), "/a"))
		if err := s.Complete(bg, "E1", got.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.expire(); n != 3 {
		t.Fatalf("forgot %d, want 3", n)
	}
	s.mu.Lock()
	img := append(encodeHeader(s.idKey), s.snapshot().image(s)...)
	s.mu.Unlock()
	s.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), img, 0o600); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir, opts...)
	defer s.Close()
	first, last, err := s.LogBounds(bg)
	if err != nil || first != 1 || last != 5 {
		t.Errorf("LogBounds of the compacted image = %d, %d, %v; want 1, 5", first, last, err)
	}
	if held, _ := s.Retained(); held != 2 {
		t.Errorf("held %d, want 2", held)
	}
	// A key is not taken for them: the next event is new.
	if pos, err := s.AppendEvent(bg, "dist/E9/1", []byte("x")); err != nil || pos != 6 {
		t.Errorf("AppendEvent after = %d, %v; want 6", pos, err)
	}
}

// TestRetentionCompactsAtOpen: a log that is mostly forgotten
// invalidations is compacted at Open, however little it grew, and the
// forgotten ones are out of it.
func TestRetentionCompactsAtOpen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	for i := range 200 {
		got := create(t, s, newInv("E1", fmt.Sprint("ref-", i), "/a"))
		if err := s.Complete(bg, "E1", got.ID, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = open(t, dir, WithRetention(Retention{MaxPerDistribution: 2}))
	held, forgotten := s.Retained()
	s.Close()
	if held != 2 || forgotten != 198 {
		t.Errorf("held %d, forgot %d; want 2, 198", held, forgotten)
	}
	s = open(t, dir) // without retention: what the log holds
	defer s.Close()
	if held, _ := s.Retained(); held != 2 {
		t.Errorf("the log holds %d invalidations, want 2", held)
	}
}

// TestRetentionUnderLoad: forgetting while writers create and complete
// and compactions run loses none of the newest invalidations and keeps
// the count, also after reopening.
func TestRetentionUnderLoad(t *testing.T) {
	dir := t.TempDir()
	opts := []Option{WithInvalidationEvent(fleet.InvalidationEvent), WithRetention(Retention{MaxPerDistribution: 20}),
		func(s *Store) { s.compactMin = 1 << 10 }}
	s := open(t, dir, opts...)
	stop := make(chan struct{})
	var expiring sync.WaitGroup
	expiring.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				s.expire()
			}
		}
	})
	var wg sync.WaitGroup
	last := make([][]string, 2)
	for w := range 2 {
		wg.Go(func() {
			dist := fmt.Sprint("E", w)
			for i := range 600 {
				got := create(t, s, newInv(dist, fmt.Sprint("w", w, "-", i), "/p"))
				if err := s.Complete(bg, dist, got.ID, time.Now()); err != nil {
					t.Error(err)
					return
				}
				if i >= 580 {
					last[w] = append(last[w], got.ID)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	expiring.Wait()
	s.expire()
	check := func(s *Store) {
		t.Helper()
		if held, _ := s.Retained(); held != 40 {
			t.Errorf("held %d, want 40 (20 per distribution)", held)
		}
		// Each distribution's newest 20 (one writer each) are there.
		for w, ids := range last {
			for _, id := range ids {
				if inv, err := s.Get(bg, fmt.Sprint("E", w), id); err != nil || inv.Status != invalidation.Completed {
					t.Errorf("Get(%s): %s, %v", id, inv.Status, err)
				}
			}
		}
	}
	check(s)
	s.Close()
	s = open(t, dir, opts...)
	defer s.Close()
	check(s)
}
