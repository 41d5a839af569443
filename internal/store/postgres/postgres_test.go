package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/openfront/openfront/internal/distribution"
	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/testutil/pgtest"
)

var bg = context.Background()

// Two replicas starting together on an empty database both open it, and
// the schema is applied once.
func TestOpenRace(t *testing.T) {
	url := pgtest.NewDatabase(t)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	stores := make([]*Store, n)
	for i := range n {
		wg.Go(func() {
			stores[i], errs[i] = Open(bg, url, WithLogger(quiet))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	files, _ := fs.Glob(migrations, "migrations/*.sql")
	var rows, versions int
	if err := stores[0].pool.QueryRow(bg, `SELECT count(*), count(DISTINCT version) FROM schema_version`).Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if rows != len(files) || versions != len(files) {
		t.Errorf("schema_version holds %d rows, %d versions; want %d of each", rows, versions, len(files))
	}
	// Every replica has the same Id key.
	for _, s := range stores[1:] {
		if s.ids != stores[0].ids {
			t.Error("replicas disagree on the Id key")
		}
	}
}

// The rules hold across replicas: two Stores on one database race on a
// CallerReference, an alias and the in-progress limit.
func TestReplicas(t *testing.T) {
	url := pgtest.NewDatabase(t)
	a, b := openURL(t, url), openURL(t, url)
	defer a.Close()
	defer b.Close()
	replica := func(i int) *Store {
		if i%2 == 0 {
			return a
		}
		return b
	}
	const racers = 20

	t.Run("CallerReference", func(t *testing.T) {
		var wg sync.WaitGroup
		ids := make([]string, racers)
		created := make([]bool, racers)
		for i := range racers {
			wg.Go(func() {
				inv := invalidation.Invalidation{DistributionID: "E1", Status: invalidation.InProgress,
					CreateTime: time.Now(), Batch: invalidation.Batch{CallerReference: "same", Paths: []string{"/a"}}}
				got, c, err := replica(i).Create(bg, inv, func(invalidation.Usage) error { return nil })
				if err != nil {
					t.Error(err)
				}
				ids[i], created[i] = got.ID, c
			})
		}
		wg.Wait()
		n := 0
		for i := range racers {
			if created[i] {
				n++
			}
			if ids[i] != ids[0] {
				t.Errorf("racer %d got %s, racer 0 %s", i, ids[i], ids[0])
			}
		}
		if n != 1 {
			t.Errorf("%d creates of one CallerReference, want 1", n)
		}
	})

	t.Run("InProgressLimit", func(t *testing.T) {
		const limit = 5
		admit := func(u invalidation.Usage) error {
			if u.FilePaths >= limit {
				return &invalidation.Error{Code: invalidation.CodeTooManyInvalidationsInProgress, Message: "limit"}
			}
			return nil
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		n := 0
		for i := range racers {
			wg.Go(func() {
				inv := invalidation.Invalidation{DistributionID: "E2", Status: invalidation.InProgress,
					CreateTime: time.Now(), Batch: invalidation.Batch{CallerReference: fmt.Sprint("r", i), Paths: []string{"/a"}}}
				_, c, err := replica(i).Create(bg, inv, admit)
				var ie *invalidation.Error
				if err != nil && !errors.As(err, &ie) {
					t.Error(err)
				}
				if c {
					mu.Lock()
					n++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if n != limit {
			t.Errorf("%d invalidations admitted, want the limit, %d", n, limit)
		}
	})

	t.Run("Alias", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, racers)
		for i := range racers {
			wg.Go(func() {
				d := distribution.Distribution{ID: fmt.Sprintf("EALIAS%07d", i), CallerReference: fmt.Sprint("ref", i)}
				d.Config.Aliases = []string{"www.example.com"}
				errs[i] = replica(i).CreateDistribution(bg, d)
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, distribution.ErrAliasTaken):
				t.Errorf("create: %v, want nil or ErrAliasTaken", err)
			}
		}
		if won != 1 {
			t.Errorf("%d distributions hold the alias, want 1", won)
		}
	})
}

// A reader never sees an event appear at or below a position it has
// already read past: every read from the start is gap-free, while two
// replicas append concurrently.
func TestEventPositionsGapFree(t *testing.T) {
	url := pgtest.NewDatabase(t)
	a, b := openURL(t, url), openURL(t, url)
	defer a.Close()
	defer b.Close()
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for i := range each {
				if _, err := s.AppendEvent(bg, fmt.Sprintf("w%d-%d", w, i), []byte("x")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	reads := 0
	for finished := false; !finished; reads++ {
		select {
		case <-done:
			finished = true
		default:
		}
		evs, err := a.EventsAfter(bg, 0, writers*each+1)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range evs {
			if e.Pos != uint64(i+1) {
				t.Fatalf("read %d: event %d is at position %d: a gap a later commit would fill", reads, i, e.Pos)
			}
		}
		if finished && len(evs) != writers*each {
			t.Fatalf("%d events, want %d", len(evs), writers*each)
		}
	}
	t.Logf("%d reads", reads)
}

// Killing the server mid-write fails the write with ErrUnavailable within
// the operation timeout, and the store works again once the server is
// back, without being reopened.
func TestServerKilled(t *testing.T) {
	srv := pgtest.Get(t)
	if !srv.Own() {
		t.Skip("the server is not this test's to kill (" + pgtest.EnvURL + ")")
	}
	const timeout = 3 * time.Second
	s := openURL(t, pgtest.NewDatabase(t), WithTimeout(timeout))
	defer s.Close()
	create := func(ref string) error {
		inv := invalidation.Invalidation{DistributionID: "E1", Status: invalidation.InProgress,
			CreateTime: time.Now(), Batch: invalidation.Batch{CallerReference: ref, Paths: []string{"/a"}}}
		_, _, err := s.Create(bg, inv, func(invalidation.Usage) error { return nil })
		return err
	}
	if err := create("before"); err != nil {
		t.Fatal(err)
	}
	// Writers busy when the server dies.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				if err := create(fmt.Sprintf("w%d-%d", w, i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	start := time.Now()
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	t.Logf("writers failed within %v of the kill (the kill waits for the backends to exit)", time.Since(start))
	close(errs)
	for err := range errs {
		if !errors.Is(err, invalidation.ErrUnavailable) {
			t.Errorf("write while the server died: %v, want ErrUnavailable", err)
		}
	}
	if err := create("down"); !errors.Is(err, invalidation.ErrUnavailable) {
		t.Errorf("write while the server is down: %v, want ErrUnavailable", err)
	}
	if _, err := s.Get(bg, "E1", "I0000000000000"); !errors.Is(err, invalidation.ErrUnavailable) {
		t.Errorf("read while the server is down: %v, want ErrUnavailable", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := create("after")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("write 30s after the server came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	page, _, err := s.List(bg, "E1", "", 1000)
	if err != nil || len(page) < 2 {
		t.Fatalf("List after the restart: %d, %v", len(page), err)
	}
}

func TestRedact(t *testing.T) {
	for _, u := range []string{
		"postgres://user:s3cret@db:5432/openfront?sslmode=require",
		"postgres://user@db/openfront?password=s3cret",
		"host=db user=u password=s3cret dbname=openfront",
	} {
		if r := Redact(u); strings.Contains(r, "s3cret") {
			t.Errorf("Redact(%q) = %q", u, r)
		}
	}
	_, err := Open(bg, "postgres://user:s3cret@[bad", WithLogger(quiet))
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open of a bad URL: %v", err)
	}
	_ = pgx.ErrNoRows
}
