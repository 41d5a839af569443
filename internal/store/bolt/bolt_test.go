package bolt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/openfront/openfront/internal/invalidation"
	"github.com/openfront/openfront/internal/store/storetest"
)

var _ invalidation.Store = (*Store)(nil)

func open(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

// knownBugs are conformance subtests this store fails today, by subtest
// name. Remove an entry once its bug is fixed.
var knownBugs = map[string]string{}

func skipKnownBugs(t *testing.T) {
	t.Helper()
	_, name, _ := strings.Cut(t.Name(), "/")
	if why, ok := knownBugs[name]; ok {
		t.Skip(why)
	}
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) invalidation.Store {
		skipKnownBugs(t)
		return open(t, t.TempDir())
	})
}

func TestDurable(t *testing.T) {
	storetest.RunDurable(t, func(t *testing.T, dir string) invalidation.Store {
		skipKnownBugs(t)
		return open(t, dir)
	})
}

// TestOpenCreatesDir: the data directory need not exist yet.
func TestOpenCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	s := open(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "openfront.db")); err != nil {
		t.Fatal(err)
	}
}

// TestOpenLocked: a second openfront on the same directory gets an error
// naming the file, after the open timeout, instead of sharing the file.
func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	start := time.Now()
	s2, err := Open(dir)
	if err == nil {
		s2.Close()
		t.Fatal("second Open of a directory in use succeeded")
	}
	if want := filepath.Join(dir, "openfront.db"); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %s", err, want)
	}
	t.Logf("refused after %v: %v", time.Since(start).Round(time.Millisecond), err)
}

// commits returns how many write transactions s has committed: the Id of
// the last one, as a read transaction sees it.
func commits(tb testing.TB, s *Store) int {
	var id int
	if err := s.db.View(func(tx *bbolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		tb.Fatal(err)
	}
	return id
}
